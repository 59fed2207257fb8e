"""The OpenAI-compatible chat-completions API (Cerebras, OpenAI, Groq, a local server) as the
model step of the chain: one POST over aiohttp, answered whole or as a server-sent stream.

Why not `ChatOpenAI`: leadq prebuilds the request (`answer_schema.request_extras`), retries,
paces and parses on its own, so `ChatOpenAI` and the OpenAI SDK under it added work without
adding behaviour: the SDK's request building, httpx and `ChatOpenAI`'s thread-pool hop were
most of leadq's CPU a lead. It is the same link of the same LCEL chain (`prompt | model |
parser`), with streaming, and speaks the same wire format. The measurements behind this are
in docs/decisions.md.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from langchain_core.prompt_values import PromptValue
from langchain_core.runnables import Runnable, RunnableConfig

from leadq.chain.parse import Reply
from leadq.core.errors import BadProviderAnswer, ProviderUnavailable
from leadq.core.result import Usage

ROLES = {"system": "system", "human": "user", "ai": "assistant"}
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


def _usage(raw: Any) -> Usage | None:
    if not isinstance(raw, dict):
        return None
    details = raw.get("prompt_tokens_details") or {}
    return Usage(
        input_tokens=raw.get("prompt_tokens") or 0,
        output_tokens=raw.get("completion_tokens") or 0,
        total_tokens=raw.get("total_tokens") or 0,
        cached_tokens=(details.get("cached_tokens") or 0) if isinstance(details, dict) else 0,
    )


def _text(part: dict[str, Any], from_tool: bool) -> str:
    """The answer text of a message or a stream delta: the tool call's arguments when the
    answer was asked for as a tool call (content, if a provider put it there instead)."""
    if from_tool:
        for call in part.get("tool_calls") or ():
            args = (call.get("function") or {}).get("arguments")
            if args:
                return args if isinstance(args, str) else json.dumps(args)
    content = part.get("content")
    return content if isinstance(content, str) else ""


def read_completion(raw: bytes, from_tool: bool) -> Reply:
    """A whole (non-streamed) chat completion."""
    try:
        data = json.loads(raw)
        choice = data["choices"][0]
        message = choice["message"]
        return Reply(
            _text(message, from_tool), choice.get("finish_reason"), _usage(data.get("usage"))
        )
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        raise BadProviderAnswer(
            f"the provider's answer is not a chat completion: {raw[:120]!r}"
        ) from None


def read_event(payload: bytes, from_tool: bool) -> Reply:
    """One `data:` event of a streamed chat completion."""
    try:
        data = json.loads(payload)
    except ValueError:
        raise BadProviderAnswer(
            f"the provider's stream sent a non-JSON event: {payload[:120]!r}"
        ) from None
    if not isinstance(data, dict):
        raise BadProviderAnswer(
            f"the provider's stream sent an unexpected event: {payload[:120]!r}"
        )
    if data.get("error"):  # some providers report a failure mid-stream this way
        raise ProviderUnavailable(f"the provider failed mid-answer: {str(data['error'])[:200]}")
    reply = Reply(usage=_usage(data.get("usage")))
    choices = data.get("choices")
    if choices and isinstance(choices[0], dict):
        reply.text = _text(choices[0].get("delta") or {}, from_tool)
        reply.finish_reason = choices[0].get("finish_reason")
    return reply


async def _next_line(content: aiohttp.StreamReader) -> bytes:
    """The stream's next line, b"" at its end."""
    try:
        return await content.readline()
    except ValueError:  # aiohttp's line buffer (128 KiB) overflowed
        raise BadProviderAnswer("the provider's stream sent an over-long line") from None


class ChatCompletions(Runnable[PromptValue, Reply]):
    """`POST {base_url}/chat/completions` as a chain step: prompt in, `Reply` out, or a stream
    of `Reply` chunks. The request's constant part (model, settings, answer schema) is
    serialized once; per call only the messages are. Async only: leadq's sync API runs the
    chain on its own event loop (`portal.py`)."""

    name = "chat_completions"

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
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.headers = {"Content-Type": "application/json", "User-Agent": "leadq"}
        if api_key:
            self.headers["Authorization"] = f"Bearer {api_key}"
        self.proxy = env_proxy(self.url)
        self.from_tool = from_tool
        self.before_send = before_send
        self.on_answer = on_answer
        head = json.dumps(fields, separators=(",", ":"))[:-1]
        self._head = (head + ("," if fields else "") + '"messages":').encode()
        self._whole = b"}"
        self._stream = b',"stream":true,"stream_options":{"include_usage":true}}'

    def __repr__(self) -> str:  # never the headers: they hold the key
        return f"ChatCompletions(url={self.url!r})"

    def body(self, prompt: PromptValue, stream: bool = False) -> bytes:
        messages = [
            {"role": ROLES.get(m.type, m.type), "content": m.content} for m in prompt.to_messages()
        ]
        text = json.dumps(messages, ensure_ascii=False, separators=(",", ":")).encode()
        return self._head + text + (self._stream if stream else self._whole)

    def _session(self) -> aiohttp.ClientSession:
        if self.session is None:
            raise RuntimeError("ChatCompletions was built without an HTTP session")
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

    def invoke(self, input: PromptValue, config: RunnableConfig | None = None, **kw: Any) -> Reply:
        raise TypeError("ChatCompletions is async: use ainvoke or astream")

    async def ainvoke(
        self, input: PromptValue, config: RunnableConfig | None = None, **kw: Any
    ) -> Reply:
        resp = await self._post(self.body(input))
        try:
            raw = await resp.read()
        finally:
            resp.release()
        return read_completion(raw, self.from_tool)

    def stream(
        self, input: PromptValue, config: RunnableConfig | None = None, **kw: Any
    ) -> Iterator[Reply]:  # type: ignore[override]
        raise TypeError("ChatCompletions is async: use ainvoke or astream")

    async def astream(  # type: ignore[override]
        self, input: PromptValue, config: RunnableConfig | None = None, **kw: Any
    ) -> AsyncIterator[Reply]:
        resp = await self._post(self.body(input, stream=True))
        done = False  # read to its end: the connection goes back to the pool, else it closes
        try:
            if resp.content_type == "application/json":  # a provider that does not stream
                yield read_completion(await resp.read(), self.from_tool)
                done = True
                return
            finished = False
            while line := await _next_line(resp.content):
                if not line.startswith(b"data:"):
                    continue  # blank lines, comments, `event:` and `id:` fields
                payload = line[5:].strip()
                if payload == b"[DONE]":
                    done = True
                    return
                reply = read_event(payload, self.from_tool)
                finished = finished or reply.finish_reason is not None
                yield reply
            if not finished:
                raise ProviderUnavailable("the provider's stream ended before the answer did")
            done = True
        finally:
            if done:
                resp.release()
            else:  # cancelled or failed mid-stream: the provider stops sending
                resp.close()
