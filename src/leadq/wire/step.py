"""What every wire format's model step shares: one POST over the backend's aiohttp session
(to the proxy read once from the environment), the rate limiter's hooks around it, the
answer's status checked, and server-sent event lines read with a bound. Each wire format
(`openai_chat.ChatCompletions`, `anthropic_messages.AnthropicMessages`) adds its URL,
headers, request body and the reading of its answers, whole (`read_whole`) and streamed
(`read_stream`)."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import urlsplit

import aiohttp
from langchain_core.prompt_values import PromptValue
from langchain_core.runnables import Runnable, RunnableConfig

from leadq.chain.parse import Reply
from leadq.core.errors import BadProviderAnswer
from leadq.providers.catalog import ProviderInfo

# Called with the request body's size in bytes before each send; what it returns is handed
# back to `OnAnswer` with that request's answer (the rate limiter's reservation).
BeforeSend = Callable[[int], Awaitable[object]]
# Headers, status and reservation of every answer; status 0 when none came (no connection).
OnAnswer = Callable[[Mapping[str, str], int, object], None]


class ProviderHTTPError(Exception):
    """The provider answered with a status other than 200 (`failures.classify` types it)."""

    def __init__(self, status: int, headers: Mapping[str, str], body: str) -> None:
        super().__init__(f"HTTP {status}")
        self.status_code = status
        self.headers = headers
        self.body = body

    def message(self) -> str:
        """The provider's own error message when the body has one, else the body."""
        try:
            data = json.loads(self.body)
        except ValueError:
            return self.body
        if isinstance(data, dict):
            error = data.get("error")
            text = data.get("message") or (
                error.get("message") if isinstance(error, dict) else error
            )
            if text:
                return str(text)
        return self.body


def env_proxy(url: str) -> str | None:
    """The proxy that HTTP(S)_PROXY and NO_PROXY give for `url`, read once: aiohttp's own
    `trust_env` looks them (and ~/.netrc) up again on a worker thread for every request."""
    parts = urlsplit(url)
    if parts.hostname and urllib.request.proxy_bypass(parts.hostname):
        return None
    return urllib.request.getproxies().get(parts.scheme)


async def next_line(content: aiohttp.StreamReader) -> bytes:
    """The stream's next line, b"" at its end."""
    try:
        return await content.readline()
    except ValueError:  # aiohttp's line buffer (128 KiB) overflowed
        raise BadProviderAnswer("the provider's stream sent an over-long line") from None


MAX_LINE = 1 << 20  # bytes: a longer server-sent event line is not an answer


async def data_lines(content: aiohttp.StreamReader) -> AsyncIterator[bytes]:
    """The payloads of a server-sent event stream's `data:` lines, read a chunk at a time:
    reading it a line at a time costs aiohttp more than the rest of the step, three times an
    event (its `event:`, `data:` and blank lines)."""
    rest = b""
    async for chunk in content.iter_any():
        *lines, rest = (rest + chunk).split(b"\n") if rest else chunk.split(b"\n")
        if len(rest) > MAX_LINE:
            raise BadProviderAnswer("the provider's stream sent an over-long line")
        for line in lines:
            if line.startswith(b"data:"):
                yield line[5:].strip()
    if rest.startswith(b"data:"):
        yield rest[5:].strip()


@dataclass(frozen=True)
class CallShape:
    """What every request of one backend asks for besides the messages, in no wire format's
    words: each model step class spells it in its own (`ModelStep.request_fields`)."""

    info: ProviderInfo
    model: str
    max_tokens: int  # the answer's budget (LEADQ_MAX_COMPLETION_TOKENS)
    temperature: float | None  # None: the model takes none
    reasoning_effort: str | None
    method: str  # the structured-output method


class ModelStep(Runnable[PromptValue, Reply]):
    """A provider's API as the chain's model step: prompt in, `Reply` out, or a stream of
    `Reply` chunks. Every subclass is built with the same arguments (the backend picks one by
    the provider's `api`); the request's constant part (`fields`: model, settings, answer
    schema) is serialized once, and per call only the messages are. Async only: leadq's sync
    API runs the chain on its own event loop (`portal.py`)."""

    name: str  # the `api` value in providers.toml
    path: ClassVar[str]  # the endpoint, after the base URL

    def __init__(
        self,
        *,
        session: aiohttp.ClientSession | None,
        base_url: str,
        api_key: str | None,
        fields: dict[str, Any],
        from_tool: bool,
        before_send: BeforeSend | None = None,
        on_answer: OnAnswer | None = None,
    ) -> None:
        self.session = session
        self.url = base_url.rstrip("/") + self.path
        self.headers = {  # they hold the key: never printed
            "Content-Type": "application/json",
            "User-Agent": "leadq",
            **self.api_headers(api_key),
        }
        self.proxy = env_proxy(self.url)
        self.from_tool = from_tool  # the answer is a forced tool call's input, not text
        self.before_send = before_send
        self.on_answer = on_answer
        head = json.dumps(fields, separators=(",", ":"))[:-1]
        self._head = (head + ("," if fields else "")).encode()  # `{...fields,` for `body`

    @classmethod
    def request_fields(cls, call: CallShape) -> dict[str, Any]:
        """The request body's fields besides the messages, in this API's words."""
        raise NotImplementedError

    @classmethod
    def api_headers(cls, api_key: str | None) -> dict[str, str]:
        """The headers this API wants on every request: the key, and any version."""
        raise NotImplementedError

    def body(self, prompt: PromptValue, stream: bool = False) -> bytes:
        """The request body for `prompt`, whole or asking for a stream."""
        raise NotImplementedError

    def read_whole(self, raw: bytes) -> Reply:
        """A whole (non-streamed) answer of this API."""
        raise NotImplementedError

    def read_stream(self, content: aiohttp.StreamReader) -> AsyncIterator[Reply]:
        """A streamed answer of this API, chunk by chunk; it ends when the answer has, and
        raises `ProviderUnavailable` when the stream ends before the answer does."""
        raise NotImplementedError

    def __repr__(self) -> str:  # never the headers: they hold the key
        return f"{type(self).__name__}(url={self.url!r})"

    def _session(self) -> aiohttp.ClientSession:
        if self.session is None:
            raise RuntimeError(f"{type(self).__name__} was built without an HTTP session")
        return self.session

    async def _post(self, body: bytes) -> aiohttp.ClientResponse:
        """Send, wait for the answer's head, and raise `ProviderHTTPError` unless it is 200."""
        reservation = await self.before_send(len(body)) if self.before_send is not None else None
        try:
            resp = await self._session().post(
                self.url, data=body, headers=self.headers, proxy=self.proxy
            )
        except BaseException:
            if self.on_answer is not None:
                self.on_answer({}, 0, reservation)
            raise
        if self.on_answer is not None:
            self.on_answer(resp.headers, resp.status, reservation)
        if resp.status != 200:
            try:
                text = (await resp.read()).decode("utf-8", "replace")
            finally:
                resp.release()
            raise ProviderHTTPError(resp.status, resp.headers, text)
        return resp

    async def ainvoke(
        self, input: PromptValue, config: RunnableConfig | None = None, **kw: Any
    ) -> Reply:
        resp = await self._post(self.body(input))
        try:
            raw = await resp.read()
        finally:
            resp.release()
        return self.read_whole(raw)

    async def astream(  # type: ignore[override]
        self, input: PromptValue, config: RunnableConfig | None = None, **kw: Any
    ) -> AsyncIterator[Reply]:
        resp = await self._post(self.body(input, stream=True))
        done = False  # read to its end: the connection goes back to the pool, else it closes
        try:
            if resp.content_type == "application/json":  # a server that does not stream
                yield self.read_whole(await resp.read())
            else:
                async for reply in self.read_stream(resp.content):
                    yield reply
            done = True
        finally:
            if done:
                resp.release()
            else:  # cancelled or failed mid-stream: the provider stops sending
                resp.close()

    def invoke(self, input: PromptValue, config: RunnableConfig | None = None, **kw: Any) -> Reply:
        raise TypeError(f"{type(self).__name__} is async: use ainvoke or astream")

    def stream(
        self, input: PromptValue, config: RunnableConfig | None = None, **kw: Any
    ) -> Iterator[Reply]:  # type: ignore[override]
        raise TypeError(f"{type(self).__name__} is async: use ainvoke or astream")
