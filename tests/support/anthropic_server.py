"""A scripted Anthropic Messages API server on 127.0.0.1, for tests.

It answers `POST /v1/messages` the way Anthropic does (a message as JSON, or an SSE stream
of `message_start`, `content_block_start`, `ping`, `content_block_delta`,
`content_block_stop`, `message_delta` and `message_stop` events; `error` bodies and events;
`anthropic-ratelimit-*` headers with RFC 3339 resets) closely enough that the official
`anthropic` SDK works against it over real HTTP. Like the API, it refuses (400
`invalid_request_error`) a request without `anthropic-version` or `max_tokens`, a system
message among the turns, and a structured-output schema with keywords the API does not
take; with `api_key` set, a request without that key gets 401 (in `x-api-key`, or as
`Authorization: Bearer`, which the SDK sends since its 2.x releases).

A test scripts it with `server.queue(Reply(...), ...)` (used in order, first) or
`server.handler = fn(body) -> Reply` (used when the queue is empty), then inspects
`server.requests` / `server.request_headers` and the counters `in_flight`, `completed`,
`cancelled` (the client went away while the reply was delayed or streaming) and `cut`
(streams aborted on purpose by `Reply.cut_after`).

`server.rate_limit = RateLimit(...)` makes it enforce a fixed window of requests (and input
and output tokens), announced as Anthropic announces its per-minute limits, and answer 429
`rate_limit_error` with `retry-after` beyond it; `rejected` counts those 429s and
`admitted_times` records when each admitted request was let in.

A raw ASGI app served by `uvicorn.Server` in a daemon thread, so handlers run in that
thread's event loop: keep them quick (they may also be `async def`).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import inspect
import json
import logging
import math
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import uvicorn

__all__ = ["RateLimit", "Reply", "ScriptedServer", "message_json", "rfc3339"]


@dataclass
class Reply:
    """One scripted answer. See the module docstring and `ScriptedServer`."""

    status: int = 200
    text: str | None = None  # the answer as a text block (e.g. a JSON document as text)
    tool_input: str | None = None  # the answer as a tool call's input (JSON text)
    tool_name: str = "lead_qualification"
    stop_reason: str | None = None  # default: "tool_use" with tool_input, else "end_turn"
    usage: dict[str, Any] | None = None  # default: counted from the request and the text
    headers: dict[str, str] = field(default_factory=dict)  # extra / overriding headers
    body: Any = None  # sent verbatim (dict/list -> JSON, str/bytes -> raw), ignoring text
    delay: float = 0.0  # seconds before anything (headers included) is sent
    chunk_delay: float = 0.0  # streaming: seconds between deltas
    chunk_chars: int = 12  # streaming: characters of text / tool input per delta
    cut_after: int | None = None  # abort the connection after this many deltas
    error_after: int | None = None  # streaming: an `error` event after this many deltas
    error_type: str = "overloaded_error"  # ... of this type
    limit_headers: dict[str, str] | None = None  # set by the server's `rate_limit`


@dataclass(frozen=True)
class RateLimit:
    """At most `requests` requests (and `input_tokens` / `output_tokens`, counted as the API
    counts them: the prompt's, and `max_tokens` at admission) in a fixed window of `window`
    seconds, starting with the first request after the previous window ended. The headers
    say what Anthropic says of its per-minute limits: the limit, what remains, and the
    window's end as an RFC 3339 time; a short `window` compresses time for a test (the same
    limit, resets that come sooner). Beyond it: 429 `rate_limit_error`, `retry-after` in
    whole seconds (rounded up) and the refusing limit's `remaining` at 0."""

    requests: int
    window: float = 60.0
    input_tokens: int | None = None
    output_tokens: int | None = None

    def __post_init__(self) -> None:
        if not self.window > 0:
            raise ValueError("window must be positive")
        if self.requests < 0:
            raise ValueError("requests must not be negative")


def rfc3339(unix: float) -> str:
    """A time as Anthropic writes its resets: UTC, `Z`, whole milliseconds rounded up (so a
    client that waits until then is never early)."""
    ms = math.ceil(unix * 1000 - 1e-6)
    at = dt.datetime.fromtimestamp(ms / 1000, dt.UTC)
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def message_json(data: dict[str, Any], **kw: Any) -> Reply:
    """A reply whose text is `data` as JSON."""
    return Reply(text=json.dumps(data), **kw)


def default_handler(body: dict[str, Any]) -> Reply:
    return Reply(text='{"ok": true}')


# Limits so large they never bite (leadq paces by what it reads here), each window reset
# a moment ahead.
NEVER_BITES = {
    "requests": 10_000_000,
    "tokens": 2 * 10**11,
    "input-tokens": 10**11,
    "output-tokens": 10**11,
}
DEFAULT_RESET = 0.2
ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}
# Schema keywords the API's structured output refuses (400).
UNSUPPORTED_SCHEMA_KEYWORDS = frozenset(
    {
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "multipleOf",
        "minLength",
        "maxLength",
        "maxItems",
        "uniqueItems",
    }
)


def error_body(status: int, message: str | None = None, kind: str | None = None) -> dict[str, Any]:
    default = "api_error" if status >= 500 else "invalid_request_error"
    kind = kind or ERROR_TYPES.get(status, default)
    return {
        "type": "error",
        "error": {"type": kind, "message": message or f"Scripted {kind} ({status})."},
        "request_id": f"req_{uuid.uuid4().hex[:24]}",
    }


def _schema_keywords(node: Any) -> Iterator[str]:
    """Every keyword used anywhere in a JSON schema (property names are not keywords)."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield key
            if key in ("properties", "$defs") and isinstance(value, dict):
                for sub in value.values():
                    yield from _schema_keywords(sub)
            else:
                yield from _schema_keywords(value)
    elif isinstance(node, list):
        for item in node:
            yield from _schema_keywords(item)


def request_problem(body: dict[str, Any], headers: dict[str, str]) -> str | None:
    """What the API would refuse in this request (a 400's message), or None."""
    if "anthropic-version" not in headers:
        return "anthropic-version: header is required"
    if not isinstance(body.get("max_tokens"), int):
        return "max_tokens: Field required"
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return "messages: Field required"
    roles = [m.get("role") if isinstance(m, dict) else None for m in messages]
    if any(r not in ("user", "assistant") for r in roles):
        return "messages: Unexpected role; use the top-level `system` parameter for a system prompt"
    if roles[0] != "user":
        return "messages: first message must use the user role"
    schemas = [("output_config.format", (body.get("output_config") or {}).get("format"))]
    schemas += [(f"tools.{i}", tool) for i, tool in enumerate(body.get("tools") or ())]
    for path, holder in schemas:
        schema = (holder or {}).get("schema") or (holder or {}).get("input_schema")
        bad = sorted(UNSUPPORTED_SCHEMA_KEYWORDS & set(_schema_keywords(schema)))
        if bad:
            return f"{path}: {', '.join(bad)} not supported in structured outputs"
    return None


class _ClientGone(Exception):
    """The client disconnected before the reply was fully sent."""


class _Cut(Exception):
    """Raised out of the ASGI app after the response started: uvicorn then closes the
    connection mid-body (no terminating chunk), which the client sees as a broken stream."""


class _HideCuts(logging.Filter):
    """Keep uvicorn from logging a traceback for every deliberate `_Cut`."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, _Cut)


_uvicorn_error_log = logging.getLogger("uvicorn.error")
if not any(isinstance(f, _HideCuts) for f in _uvicorn_error_log.filters):
    _uvicorn_error_log.addFilter(_HideCuts())

Send = Callable[[dict[str, Any]], Awaitable[None]]
Receive = Callable[[], Awaitable[dict[str, Any]]]


class ScriptedServer:
    """Anthropic Messages API test server. `start()` it, point a client at `url` (the base
    URL: requests go to `{url}/v1/messages`), script it with `queue()` / `handler`, `reset()`
    between tests, `stop()` at the end."""

    url: str
    requests: list[dict[str, Any]]
    request_headers: list[dict[str, str]]
    handler: Callable[[dict[str, Any]], Reply | Awaitable[Reply]]
    in_flight: int
    completed: int
    cancelled: int
    cut: int

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = 0
        self.url = ""
        self.requests = []
        self.request_headers = []
        self.errors: list[BaseException] = []  # exceptions raised by handlers (answered 500)
        self.handler = default_handler
        self.api_key: str | None = None  # when set, any other key gets 401
        self._queue: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._generation = 0  # bumped by reset(): late finishers of old requests don't count
        self.in_flight = self.completed = self.cancelled = self.cut = 0
        self.rate_limit: RateLimit | None = None  # None: limits that never bite
        self.rejected = 0  # requests answered 429 by `rate_limit`
        self._window = (0.0, 0, 0, 0)  # (start, requests, input, output) of the window
        self._limit_owner: RateLimit | None = None
        self.admitted_times: list[float] = []  # time.monotonic() of each admitted request
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    # ---- scripting -------------------------------------------------------------------------

    def queue(self, *replies: Reply) -> None:
        """Answer the next requests with these replies, in order, before using `handler`."""
        with self._lock:
            self._queue.extend(replies)

    def reset(self) -> None:
        """Clear the queue, the recorded requests and the counters; restore the handler."""
        with self._lock:
            self._generation += 1
            self._queue.clear()
            self.requests.clear()
            self.request_headers.clear()
            self.errors.clear()
            self.handler = default_handler
            self.api_key = None
            self.in_flight = self.completed = self.cancelled = self.cut = 0
            self.rate_limit, self.rejected, self._window = None, 0, (0.0, 0, 0, 0)
            self._limit_owner = None
            self.admitted_times.clear()

    # ---- lifecycle -------------------------------------------------------------------------

    def start(self) -> ScriptedServer:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Nagle off, as asyncio does for sockets of its own (see openai_server.py).
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((self.host, 0))
        self.port = sock.getsockname()[1]
        self.url = f"http://{self.host}:{self.port}"
        config = uvicorn.Config(
            self._app,
            host=self.host,
            port=self.port,
            interface="asgi3",
            lifespan="off",
            http="h11",
            loop="asyncio",
            log_config=None,
            log_level="warning",
            access_log=False,
            timeout_keep_alive=75,
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [sock]},
            name="scripted-anthropic-server",
            daemon=True,
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("scripted Anthropic server did not start")
            time.sleep(0.005)
        return self

    def stop(self) -> None:
        if self._server is None or self._thread is None:
            return
        self._server.should_exit = True
        self._thread.join(5)
        if self._thread.is_alive():
            self._server.force_exit = True
            self._thread.join(5)
        self._server = self._thread = None

    def __enter__(self) -> ScriptedServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- bookkeeping -----------------------------------------------------------------------

    def _count(self, generation: int, **deltas: int) -> None:
        with self._lock:
            if generation == self._generation:
                for name, delta in deltas.items():
                    setattr(self, name, getattr(self, name) + delta)

    def _admit(self, body: dict[str, Any]) -> tuple[bool, dict[str, str]]:
        """Count a request against `rate_limit`: whether it is admitted, and the rate-limit
        headers of its answer."""
        limit = self.rate_limit
        prompt = _prompt_tokens(body)
        budget = int(body.get("max_tokens") or 0)
        if limit is None:
            reset = rfc3339(time.time() + DEFAULT_RESET)
            headers = {}
            for kind, value in NEVER_BITES.items():
                headers[f"anthropic-ratelimit-{kind}-limit"] = str(value)
                headers[f"anthropic-ratelimit-{kind}-remaining"] = str(value)
                headers[f"anthropic-ratelimit-{kind}-reset"] = reset
            return True, headers
        with self._lock:
            now = time.monotonic()
            if limit is not self._limit_owner:
                self._limit_owner, self._window = limit, (0.0, 0, 0, 0)
            start, used, spent_in, spent_out = self._window
            if now - start >= limit.window:
                start, used, spent_in, spent_out = now, 0, 0, 0
            over = {
                "requests": used + 1 > limit.requests,
                "input-tokens": limit.input_tokens is not None
                and spent_in + prompt > limit.input_tokens,
                "output-tokens": limit.output_tokens is not None
                and spent_out + budget > limit.output_tokens,
            }
            admitted = not any(over.values())
            if admitted:
                used, spent_in, spent_out = used + 1, spent_in + prompt, spent_out + budget
                self.admitted_times.append(now)
            else:
                self.rejected += 1
            self._window = (start, used, spent_in, spent_out)
            left = max(0.0, start + limit.window - now)
        reset = rfc3339(time.time() + left)
        headers = {}
        for kind, cap, spent in (
            ("requests", limit.requests, used),
            ("input-tokens", limit.input_tokens, spent_in),
            ("output-tokens", limit.output_tokens, spent_out),
        ):
            if cap is None:
                continue
            headers[f"anthropic-ratelimit-{kind}-limit"] = str(cap)
            headers[f"anthropic-ratelimit-{kind}-remaining"] = str(
                0 if over[kind] else max(0, cap - spent)
            )
            headers[f"anthropic-ratelimit-{kind}-reset"] = reset
        if not admitted:
            headers["retry-after"] = str(max(1, math.ceil(left - 1e-6)))
        return admitted, headers

    # ---- ASGI ------------------------------------------------------------------------------

    async def _app(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        path, method = scope["path"].rstrip("/"), scope["method"]
        if path == "/v1/messages" and method == "POST":
            await self._messages(scope, receive, send)
        else:
            await _send_json(send, 404, error_body(404, f"{method} {path}: not found"))

    async def _messages(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        raw = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            raw += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        try:
            body = json.loads(raw)
            if not isinstance(body, dict):
                raise ValueError("not an object")
        except ValueError:
            await _send_json(send, 400, error_body(400, "The request body is not valid JSON."))
            return
        keys = {headers.get("x-api-key"), headers.get("authorization", "").removeprefix("Bearer ")}
        if self.api_key is not None and self.api_key not in keys:
            await _send_json(send, 401, error_body(401, "invalid x-api-key"))
            return
        if (problem := request_problem(body, headers)) is not None:
            await _send_json(send, 400, error_body(400, problem))
            return
        admitted, limit_headers = self._admit(body)
        with self._lock:
            generation = self._generation
            self.requests.append(body)
            self.request_headers.append(headers)
            self.in_flight += 1
            reply = self._queue.popleft() if self._queue and admitted else None
            handler = self.handler

        gone = asyncio.Event()

        async def watch_disconnect() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            gone.set()

        watcher = asyncio.create_task(watch_disconnect())

        async def pause(seconds: float) -> None:
            if seconds > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(gone.wait(), seconds)
            else:
                await asyncio.sleep(0)
            if gone.is_set():
                raise _ClientGone

        settled = False

        def settle(outcome: str | None) -> None:
            nonlocal settled
            if not settled:
                settled = True
                self._count(generation, in_flight=-1, **({outcome: 1} if outcome else {}))

        async def tracked_send(message: dict[str, Any]) -> None:
            # `completed` counts before the last byte goes out: a client holding the whole
            # answer always finds it counted.
            if message["type"] == "http.response.body" and not message.get("more_body"):
                if gone.is_set():
                    raise _ClientGone
                settle("completed")
            await send(message)

        try:
            if not admitted:
                reply = Reply(
                    status=429,
                    body=error_body(429, "Number of request tokens has exceeded your rate limit."),
                )
            elif reply is None:
                try:
                    result = handler(body)
                    reply = await result if inspect.isawaitable(result) else result
                    if not isinstance(reply, Reply):
                        raise TypeError(f"handler returned {type(reply).__name__}, not Reply")
                # A broken handler, whatever it raised: answer 500, keep it for the test.
                except Exception as exc:  # noqa: BLE001 - kept in self.errors, not swallowed
                    with self._lock:
                        self.errors.append(exc)
                    reply = Reply(status=500, body=error_body(500, f"handler failed: {exc!r}"))
            if reply.limit_headers is None:
                reply = dataclasses.replace(reply, limit_headers=limit_headers)
            await pause(reply.delay)
            if reply.status != 200 or reply.body is not None:
                await self._send_body(tracked_send, reply)
            elif body.get("stream"):
                await self._send_stream(tracked_send, body, reply, pause)
            else:
                await self._send_message(tracked_send, body, reply)
        except _ClientGone:
            settle("cancelled")
        except _Cut:
            settle("cut")  # before uvicorn closes the connection, so before the client sees it
            raise
        finally:
            watcher.cancel()
            settle(None)

    # ---- answer shapes ---------------------------------------------------------------------

    @staticmethod
    def _headers(reply: Reply, content_type: str) -> list[tuple[bytes, bytes]]:
        headers = {"content-type": content_type, "request-id": f"req_{uuid.uuid4().hex[:24]}"}
        headers.update(reply.limit_headers or {})
        headers.update({k.lower(): str(v) for k, v in reply.headers.items()})
        return [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]

    async def _send_body(self, send: Send, reply: Reply) -> None:
        payload = reply.body if reply.body is not None else error_body(reply.status)
        if isinstance(payload, (bytes, bytearray)):
            data = bytes(payload)
        elif isinstance(payload, str):
            data = payload.encode()
        else:
            data = json.dumps(payload).encode()
        headers = self._headers(reply, "application/json")
        headers.append((b"content-length", str(len(data)).encode()))
        await send({"type": "http.response.start", "status": reply.status, "headers": headers})
        await send({"type": "http.response.body", "body": data, "more_body": False})

    @staticmethod
    def _usage(body: dict[str, Any], reply: Reply) -> dict[str, Any]:
        if reply.usage is not None:
            return reply.usage
        return {
            "input_tokens": _prompt_tokens(body),
            "output_tokens": len(_answer(reply)) // 4,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
        }

    @staticmethod
    def _base(body: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": f"msg_{uuid.uuid4().hex[:24]}",
            "type": "message",
            "role": "assistant",
            "model": body.get("model") or "claude-test",
        }

    async def _send_message(self, send: Send, body: dict[str, Any], reply: Reply) -> None:
        if reply.tool_input is not None:
            block: dict[str, Any] = {
                "type": "tool_use",
                "id": "toolu_01",
                "name": reply.tool_name,
                "input": json.loads(reply.tool_input),
            }
        else:
            block = {"type": "text", "text": reply.text or ""}
        data = json.dumps(
            {
                **self._base(body),
                "content": [block],
                "stop_reason": _stop_reason(reply),
                "stop_sequence": None,
                "usage": self._usage(body, reply),
            }
        ).encode()
        headers = self._headers(reply, "application/json")
        headers.append((b"content-length", str(len(data)).encode()))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        if reply.cut_after is not None:  # a whole answer cut: half the promised body, then drop
            await send(
                {"type": "http.response.body", "body": data[: len(data) // 2], "more_body": True}
            )
            raise _Cut
        await send({"type": "http.response.body", "body": data, "more_body": False})

    async def _send_stream(
        self,
        send: Send,
        body: dict[str, Any],
        reply: Reply,
        pause: Callable[[float], Awaitable[None]],
    ) -> None:
        async def event(name: str, payload: dict[str, Any], more: bool = True) -> None:
            data = f"event: {name}\ndata: {json.dumps(payload)}\n\n".encode()
            await send({"type": "http.response.body", "body": data, "more_body": more})

        headers = self._headers(reply, "text/event-stream; charset=utf-8")
        headers.append((b"cache-control", b"no-cache"))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        usage = self._usage(body, reply)
        start = {**self._base(body), "content": [], "stop_reason": None, "stop_sequence": None}
        start["usage"] = {**usage, "output_tokens": 1}
        await event("message_start", {"type": "message_start", "message": start})
        if reply.tool_input is not None:
            block = {"type": "tool_use", "id": "toolu_01", "name": reply.tool_name, "input": {}}
        else:
            block = {"type": "text", "text": ""}
        opening = {"type": "content_block_start", "index": 0, "content_block": block}
        await event("content_block_start", opening)
        await event("ping", {"type": "ping"})
        text, step = _answer(reply), max(1, reply.chunk_chars)
        for n, at in enumerate(range(0, len(text), step)):
            if reply.cut_after is not None and n >= reply.cut_after:
                raise _Cut
            if reply.error_after is not None and n >= reply.error_after:
                await self._stream_error(event, reply)
                return
            await pause(reply.chunk_delay)
            piece = text[at : at + step]
            if reply.tool_input is not None:
                delta = {"type": "input_json_delta", "partial_json": piece}
            else:
                delta = {"type": "text_delta", "text": piece}
            await event(
                "content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta}
            )
        if reply.cut_after is not None:
            raise _Cut  # fewer deltas than cut_after: still no clean end
        if reply.error_after is not None:
            await self._stream_error(event, reply)
            return
        await pause(reply.chunk_delay)
        await event("content_block_stop", {"type": "content_block_stop", "index": 0})
        await event(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": _stop_reason(reply), "stop_sequence": None},
                "usage": {"output_tokens": usage["output_tokens"]},
            },
        )
        await pause(0)
        await event("message_stop", {"type": "message_stop"}, more=False)

    @staticmethod
    async def _stream_error(event: Callable[..., Awaitable[None]], reply: Reply) -> None:
        error = error_body(529, "Overloaded", reply.error_type)
        await event("error", {"type": "error", "error": error["error"]}, more=False)


async def _send_json(send: Send, status: int, payload: Any) -> None:
    data = json.dumps(payload).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": data, "more_body": False})


def _prompt_tokens(body: dict[str, Any]) -> int:
    """Input tokens, counted without a tokenizer: the system text and turns as JSON, / 4."""
    return len(json.dumps([body.get("system"), body.get("messages", [])])) // 4


def _answer(reply: Reply) -> str:
    return reply.tool_input if reply.tool_input is not None else (reply.text or "")


def _stop_reason(reply: Reply) -> str:
    if reply.stop_reason is not None:
        return reply.stop_reason
    return "tool_use" if reply.tool_input is not None else "end_turn"
