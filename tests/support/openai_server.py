"""A scripted OpenAI-compatible chat-completions server on 127.0.0.1, for tests.

It answers `POST /v1/chat/completions` the way OpenAI / Cerebras do (JSON, or an SSE stream
with optional usage chunk; `time_info`; `x-ratelimit-*` headers; Cerebras-style error bodies)
closely enough that the real `openai` SDK and `langchain_openai.ChatOpenAI` work against it
over real HTTP. `GET /v1/models` lists `server.models`.

A test scripts it with `server.queue(Reply(...), ...)` (used in order, first) or
`server.handler = fn(body) -> Reply` (used when the queue is empty), then inspects
`server.requests` / `server.request_headers` and the counters `in_flight`, `completed`,
`cancelled` (the client went away while the reply was delayed or streaming) and `cut`
(streams aborted on purpose by `Reply.cut_after`).

`server.rate_limit = RateLimit(...)` makes it enforce a provider-side limit (a fixed window,
a sliding window or a token bucket) and answer 429 beyond it; `rejected` counts those 429s and
`admitted_times` records when each admitted request was let in.

It is a raw ASGI app served by `uvicorn.Server` in a daemon thread, so handlers run in that
thread's event loop: keep them quick (they may also be `async def`).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import inspect
import json
import logging
import math
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import uvicorn

__all__ = [
    "RateLimit",
    "Reply",
    "ScriptedServer",
    "chat_reply_json",
    "default_handler",
    "openai_duration",
]


@dataclass
class Reply:
    """One scripted answer. See the module docstring and `ScriptedServer`."""

    status: int = 200
    content: str | None = None  # assistant message text (e.g. a JSON document as text)
    tool_call: tuple[str, str] | None = None  # (function name, arguments JSON text)
    finish_reason: str = "stop"  # with a tool_call, "stop" is answered as "tool_calls"
    usage: dict[str, Any] | None = None  # default: computed from the request and the text
    headers: dict[str, str] = field(default_factory=dict)  # extra / overriding headers
    body: Any = None  # sent verbatim (dict/list -> JSON, str/bytes -> raw), ignoring content
    delay: float = 0.0  # seconds before anything (headers included) is sent
    chunk_delay: float = 0.0  # streaming: seconds between chunks
    chunk_chars: int = 12  # streaming: characters of content / tool arguments per chunk
    cut_after: int | None = None  # abort the connection after this many content chunks
    limit_headers: dict[str, str] | None = None  # set by the server's `rate_limit`


RATE_LIMIT_MODES = ("fixed", "sliding", "bucket")
HEADER_STYLES = ("cerebras", "openai")


@dataclass(frozen=True)
class RateLimit:
    """A provider-side limit of `requests` (and `tokens`, counted as the provider does: prompt
    tokens + `max_completion_tokens`) per `window` seconds. Beyond it: 429, with `retry-after`
    (whole seconds, rounded up) in the "sliding" and "bucket" modes.

    `mode`:
    - "fixed": a fixed window that starts with the first request after the previous window
      ended. `remaining` is what is left in it, `reset` the seconds until it ends. A 429 has
      no `retry-after`, and its `remaining` is the true count (0 for requests only when the
      requests ran out).
    - "sliding": at most `requests` admitted (and `tokens` spent) in ANY interval of `window`
      seconds. `remaining` is what is left in the window ending now; `reset` the seconds until
      the oldest admitted request leaves it (0 if none).
    - "bucket": a token bucket (Cerebras: "capacity replenishes continuously rather than
      resetting at fixed intervals"): `requests` (and `tokens`) of capacity, starting full,
      refilled at capacity / `window` per second; a request takes 1 request and its token
      cost when they are there. `remaining` is the floor of what is left; `reset` the seconds
      until the bucket is full again.
    In "sliding" and "bucket", a 429 gives `remaining` 0 for the limit (requests or tokens)
    that refused it, and `retry-after` is when this request would be admitted.

    `header_style`: "cerebras" sends `x-ratelimit-{limit,remaining,reset}-{requests,tokens}-
    {unit}` with `reset` in seconds ("7.250"); "openai" sends them without the unit suffix and
    `reset` as a duration ("6m0s", "1s", "20ms"). `clock` (monotonic seconds) lets a test
    drive time; the server's `admitted_times` are read from it.

    The server keeps the sliding / bucket state for one `RateLimit` object: assigning another
    one to `server.rate_limit` (or `reset()`) starts afresh (a full bucket, an empty window).
    """

    requests: int
    window: float = 60.0
    unit: str = "minute"  # the header suffix, e.g. x-ratelimit-limit-requests-minute
    tokens: int | None = None
    mode: str = "fixed"  # "fixed", "sliding" or "bucket"
    header_style: str = "cerebras"  # or "openai"
    clock: Callable[[], float] = field(default=time.monotonic, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.mode not in RATE_LIMIT_MODES:
            raise ValueError(f"mode must be one of {RATE_LIMIT_MODES}, not {self.mode!r}")
        if self.header_style not in HEADER_STYLES:
            raise ValueError(
                f"header_style must be one of {HEADER_STYLES}, not {self.header_style!r}"
            )
        if not self.window > 0:
            raise ValueError("window must be positive")
        if self.requests < 0 or (self.tokens is not None and self.tokens < 0):
            raise ValueError("requests and tokens must not be negative")


@dataclass(frozen=True)
class _Verdict:
    """What `_admit` decided for one request, before it is spelled as headers."""

    admitted: bool
    remaining_requests: int
    remaining_tokens: int | None
    reset_requests: float
    reset_tokens: float
    retry_after: float | None = None  # seconds; None: no `retry-after` header


_EPS = 1e-9  # float slack when comparing bucket levels and times


def openai_duration(seconds: float) -> str:
    """A reset time as OpenAI writes it: "6m0s", "1.5s", "20ms", "1h0m0s" (whole
    milliseconds, rounded up)."""
    ms = max(0, math.ceil(seconds * 1000 - 1e-6))
    if ms == 0:
        return "0s"
    if ms < 1000:
        return f"{ms}ms"
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs = str(rest // 1000) + (f".{rest % 1000:03d}".rstrip("0") if rest % 1000 else "")
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    return f"{minutes}m{secs}s" if minutes else f"{secs}s"


def _limit_headers(limit: RateLimit, verdict: _Verdict) -> dict[str, str]:
    suffix = f"-{limit.unit}" if limit.header_style == "cerebras" else ""

    def when(seconds: float) -> str:
        if limit.header_style == "cerebras":
            return f"{max(0.0, seconds):.3f}"
        return openai_duration(seconds)

    headers = {
        f"x-ratelimit-limit-requests{suffix}": str(limit.requests),
        f"x-ratelimit-remaining-requests{suffix}": str(verdict.remaining_requests),
        f"x-ratelimit-reset-requests{suffix}": when(verdict.reset_requests),
    }
    if limit.tokens is not None:
        headers[f"x-ratelimit-limit-tokens{suffix}"] = str(limit.tokens)
        headers[f"x-ratelimit-remaining-tokens{suffix}"] = str(verdict.remaining_tokens or 0)
        headers[f"x-ratelimit-reset-tokens{suffix}"] = when(verdict.reset_tokens)
    if not verdict.admitted and verdict.retry_after is not None:
        headers["retry-after"] = str(max(1, math.ceil(verdict.retry_after - 1e-6)))
    return headers


def chat_reply_json(data: dict[str, Any], **kw: Any) -> Reply:
    """A reply whose assistant content is `data` as JSON text."""
    return Reply(content=json.dumps(data), **kw)


def default_handler(body: dict[str, Any]) -> Reply:
    return Reply(content='{"ok": true}')


# Limits so large they never bite, though leadq's limiter paces by what it reads here (10M
# tokens a minute would: about 80 requests a second). A short reset, so that a client that
# honours it on a scripted 429 without headers of its own does not stall the test suite.
RATE_LIMITS = {"requests-minute": 10_000_000, "tokens-minute": 100_000_000_000}
RATE_LIMIT_RESET = "0.2"

ERROR_BODIES: dict[int, dict[str, Any]] = {
    400: {
        "message": "Bad request.",
        "type": "invalid_request_error",
        "param": None,
        "code": "bad_request",
    },
    401: {
        "message": "Wrong API Key",
        "type": "invalid_request_error",
        "param": "api_key",
        "code": "wrong_api_key",
    },
    403: {
        "message": "Forbidden.",
        "type": "permission_denied_error",
        "param": None,
        "code": "forbidden",
    },
    404: {"message": "Not found.", "type": "not_found_error", "param": None, "code": "not_found"},
    408: {
        "message": "Request timed out.",
        "type": "timeout_error",
        "param": None,
        "code": "request_timeout",
    },
    422: {
        "message": "Unprocessable entity.",
        "type": "invalid_request_error",
        "param": None,
        "code": "unprocessable_entity",
    },
    429: {
        "message": "Requests per minute limit exceeded - too many requests sent.",
        "type": "too_many_requests_error",
        "param": "quota",
        "code": "request_quota_exceeded",
    },
    500: {
        "message": "Internal server error.",
        "type": "server_error",
        "param": None,
        "code": "internal_server_error",
    },
    502: {"message": "Bad gateway.", "type": "server_error", "param": None, "code": "bad_gateway"},
    503: {
        "message": "Service unavailable.",
        "type": "server_error",
        "param": None,
        "code": "service_unavailable",
    },
}


def error_body(status: int) -> dict[str, Any]:
    return dict(
        ERROR_BODIES.get(
            status,
            {
                "message": f"Error {status}.",
                "type": "server_error" if status >= 500 else "invalid_request_error",
                "param": None,
                "code": f"http_{status}",
            },
        )
    )


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
    """OpenAI-compatible test server. `start()` it, point a client at `url`, script it with
    `queue()` / `handler`, `reset()` between tests, `stop()` at the end."""

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
        self.models = ["test-model"]
        self.requests = []
        self.request_headers = []
        self.errors: list[BaseException] = []  # exceptions raised by handlers (answered 500)
        self.handler = default_handler
        self._queue: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._generation = 0  # bumped by reset(): late finishers of old requests don't count
        self._tokens = 0
        self.in_flight = self.completed = self.cancelled = self.cut = 0
        self.rate_limit: RateLimit | None = None  # None: the large default limits
        self.rejected = 0  # requests answered 429 by `rate_limit`
        self._window = (0.0, 0, 0)  # (start, requests, tokens) of the current window
        self.admitted_times: list[float] = []  # `rate_limit.clock()` of each admitted request
        self._limit_owner: RateLimit | None = None  # the limit _sliding / _bucket belong to
        self._sliding: deque[tuple[float, int]] = deque()  # (admitted at, token cost)
        self._bucket: tuple[float, float, float] | None = None  # (requests, tokens, as of)
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
            self._tokens = 0
            self.in_flight = self.completed = self.cancelled = self.cut = 0
            self.rate_limit, self.rejected, self._window = None, 0, (0.0, 0, 0)
            self.admitted_times.clear()
            self._limit_owner, self._bucket = None, None
            self._sliding.clear()

    # ---- lifecycle -------------------------------------------------------------------------

    def start(self) -> ScriptedServer:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # asyncio turns Nagle off only for sockets it created with IPPROTO_TCP; without this,
        # an answer's headers and body go out as two segments and the second waits for the
        # client's delayed ACK: 44 ms more per request on a kept-alive connection. Linux
        # passes the option on to accepted connections.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((self.host, 0))
        self.port = sock.getsockname()[1]
        self.url = f"http://{self.host}:{self.port}/v1"
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
            name="scripted-openai-server",
            daemon=True,
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("scripted OpenAI server did not start")
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

    def _admit(self, body: dict[str, Any]) -> dict[str, str] | None:
        """Count a request against `rate_limit`: its rate-limit headers, or None when there
        is no limit. When it must be refused they hold the marker `x-scripted-over-limit`."""
        limit = self.rate_limit
        if limit is None:
            return None
        cost = len(json.dumps(body.get("messages", []))) // 4 + int(
            body.get("max_completion_tokens") or body.get("max_tokens") or 0
        )
        with self._lock:
            now = limit.clock()
            if limit is not self._limit_owner:
                self._limit_owner, self._bucket = limit, None
                self._sliding.clear()
            if limit.mode == "sliding":
                verdict = self._admit_sliding(limit, now, cost)
            elif limit.mode == "bucket":
                verdict = self._admit_bucket(limit, now, cost)
            else:
                verdict = self._admit_fixed(limit, now, cost)
            if verdict.admitted:
                self.admitted_times.append(now)
            else:
                self.rejected += 1
        headers = _limit_headers(limit, verdict)
        return headers if verdict.admitted else {**headers, "x-scripted-over-limit": "1"}

    def _admit_fixed(self, limit: RateLimit, now: float, cost: int) -> _Verdict:
        start, used, tokens = self._window
        if now - start >= limit.window:
            start, used, tokens = now, 0, 0
        over = used >= limit.requests or (limit.tokens is not None and tokens + cost > limit.tokens)
        if not over:
            used, tokens = used + 1, tokens + cost
        self._window = (start, used, tokens)
        reset = max(0.0, start + limit.window - now)
        return _Verdict(
            admitted=not over,
            remaining_requests=max(0, limit.requests - used),
            remaining_tokens=None if limit.tokens is None else max(0, limit.tokens - tokens),
            reset_requests=reset,
            reset_tokens=reset,
        )

    def _admit_sliding(self, limit: RateLimit, now: float, cost: int) -> _Verdict:
        entries = self._sliding
        while entries and now - entries[0][0] >= limit.window:
            entries.popleft()
        used, spent = len(entries), sum(c for _, c in entries)
        requests_out = used >= limit.requests
        tokens_out = limit.tokens is not None and spent + cost > limit.tokens
        admitted = not (requests_out or tokens_out)
        waits: list[float] = []
        if admitted:
            entries.append((now, cost))
            used, spent = used + 1, spent + cost
        if requests_out:  # until enough entries leave that one more fits
            waits.append(
                entries[used - limit.requests][0] + limit.window - now
                if limit.requests > 0
                else limit.window
            )
        if tokens_out and limit.tokens is not None:
            if cost > limit.tokens:
                waits.append(limit.window)  # never fits; say a window
            else:
                left = spent
                for at, c in entries:
                    left -= c
                    if left + cost <= limit.tokens:
                        waits.append(at + limit.window - now)
                        break
        reset = entries[0][0] + limit.window - now if entries else 0.0
        return _Verdict(
            admitted=admitted,
            remaining_requests=0 if requests_out else max(0, limit.requests - used),
            remaining_tokens=(
                None if limit.tokens is None else 0 if tokens_out else max(0, limit.tokens - spent)
            ),
            reset_requests=reset,
            reset_tokens=reset,
            retry_after=max(waits) if waits else None,
        )

    def _admit_bucket(self, limit: RateLimit, now: float, cost: int) -> _Verdict:
        cap_r, cap_t = float(limit.requests), float(limit.tokens or 0)
        if self._bucket is None:
            level_r, level_t = cap_r, cap_t
        else:
            level_r, level_t, then = self._bucket
            elapsed = max(0.0, now - then)
            level_r = min(cap_r, level_r + elapsed * cap_r / limit.window)
            level_t = min(cap_t, level_t + elapsed * cap_t / limit.window)
        requests_out = level_r < 1 - _EPS
        tokens_out = limit.tokens is not None and level_t < cost - _EPS
        admitted = not (requests_out or tokens_out)
        if admitted:
            level_r = max(0.0, level_r - 1)
            level_t = max(0.0, level_t - cost) if limit.tokens is not None else 0.0
        self._bucket = (level_r, level_t, now)

        def until(level: float, need: float, cap: float) -> float:
            """Seconds until the bucket of capacity `cap` holds `need`."""
            if need > cap + _EPS:
                return limit.window  # never fits; say a window
            return max(0.0, need - level) * limit.window / cap

        waits: list[float] = []
        if requests_out:
            waits.append(until(level_r, 1, cap_r))
        if tokens_out:
            waits.append(until(level_t, cost, cap_t))
        return _Verdict(
            admitted=admitted,
            remaining_requests=0 if requests_out else math.floor(level_r + _EPS),
            remaining_tokens=(
                None if limit.tokens is None else 0 if tokens_out else math.floor(level_t + _EPS)
            ),
            reset_requests=until(level_r, cap_r, cap_r) if cap_r else 0.0,
            reset_tokens=until(level_t, cap_t, cap_t) if cap_t else 0.0,
            retry_after=max(waits) if waits else None,
        )

    def _headers(self, reply: Reply, content_type: str) -> list[tuple[bytes, bytes]]:
        with self._lock:
            used = {"requests-minute": len(self.requests), "tokens-minute": self._tokens}
        headers = {"content-type": content_type, "x-request-id": uuid.uuid4().hex}
        if reply.limit_headers is not None:
            headers.update(reply.limit_headers)
        else:
            for window, limit in RATE_LIMITS.items():
                headers[f"x-ratelimit-limit-{window}"] = str(limit)
                headers[f"x-ratelimit-remaining-{window}"] = str(max(0, limit - used[window]))
                headers[f"x-ratelimit-reset-{window}"] = RATE_LIMIT_RESET
        headers.update({k.lower(): str(v) for k, v in reply.headers.items()})
        return [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]

    # ---- ASGI ------------------------------------------------------------------------------

    async def _app(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        path, method = scope["path"].rstrip("/"), scope["method"]
        if path == "/v1/chat/completions" and method == "POST":
            await self._chat(scope, receive, send)
        elif path == "/v1/models" and method == "GET":
            data = [
                {"id": m, "object": "model", "created": 0, "owned_by": "scripted"}
                for m in self.models
            ]
            await self._send_json(send, 200, {"object": "list", "data": data})
        else:
            await self._send_json(send, 404, error_body(404))

    @staticmethod
    async def _send_json(
        send: Send, status: int, payload: Any, headers: list[tuple[bytes, bytes]] | None = None
    ) -> None:
        data = json.dumps(payload).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": headers
                or [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(data)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": data, "more_body": False})

    async def _chat(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        started = time.monotonic()
        raw = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            raw += message.get("body", b"")
            if not message.get("more_body"):
                break
        try:
            body = json.loads(raw)
            if not isinstance(body, dict):
                raise ValueError("not an object")
        except ValueError:
            await self._send_json(
                send, 400, {**error_body(400), "message": "Request body is not a JSON object."}
            )
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        limit_headers = self._admit(body)
        over_limit = bool(limit_headers and limit_headers.pop("x-scripted-over-limit", None))
        with self._lock:
            generation = self._generation
            self.requests.append(body)
            self.request_headers.append(headers)
            self.in_flight += 1
            reply = self._queue.popleft() if self._queue and not over_limit else None
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
            # Count `completed` before the last byte goes out, so a client that has the whole
            # answer always finds it counted. uvicorn silently drops sends after a disconnect.
            if message["type"] == "http.response.body" and not message.get("more_body"):
                if gone.is_set():
                    raise _ClientGone
                settle("completed")
            await send(message)

        try:
            if over_limit:
                reply = Reply(status=429, limit_headers=limit_headers)
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
                    reply = Reply(
                        status=500,
                        body={**error_body(500), "message": f"scripted handler failed: {exc!r}"},
                    )
            if limit_headers is not None and reply.limit_headers is None:
                reply = dataclasses.replace(reply, limit_headers=limit_headers)
            await pause(reply.delay)
            if reply.status != 200 or reply.body is not None:
                await self._send_body(tracked_send, reply)
            elif body.get("stream"):
                await self._send_stream(tracked_send, body, reply, started, pause)
            else:
                await self._send_completion(tracked_send, body, reply, started)
        except _ClientGone:
            settle("cancelled")
        except _Cut:
            settle("cut")  # before uvicorn closes the connection, so before the client sees it
            raise
        finally:
            watcher.cancel()
            settle(None)

    # ---- answer shapes ---------------------------------------------------------------------

    async def _send_body(self, send: Send, reply: Reply) -> None:
        # Always labelled application/json (like an API or gateway that got it wrong), unless
        # the reply's headers say otherwise: with `content-type: text/html` the openai SDK
        # does not raise but returns the body as a `str` from `create()`.
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

    def _usage(self, body: dict[str, Any], reply: Reply) -> dict[str, Any]:
        if reply.usage is not None:
            usage = reply.usage
        else:
            prompt = len(json.dumps(body.get("messages", []))) // 4
            completion = len(_text(reply)) // 4
            usage = {
                "prompt_tokens": prompt,
                "completion_tokens": completion,
                "total_tokens": prompt + completion,
                "prompt_tokens_details": {"cached_tokens": 0},
            }
        with self._lock:
            self._tokens += int(usage.get("total_tokens") or 0)
        return usage

    @staticmethod
    def _time_info(started: float) -> dict[str, float]:
        total = round(time.monotonic() - started, 6)
        return {
            "queue_time": 0.000_1,
            "prompt_time": 0.001,
            "completion_time": total,
            "total_time": round(total + 0.001_1, 6),
        }

    @staticmethod
    def _base(body: dict[str, Any], obj: str) -> dict[str, Any]:
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
            "object": obj,
            "created": int(time.time()),
            "model": body.get("model") or "test-model",
            "system_fingerprint": "fp_scripted",
        }

    async def _send_completion(
        self, send: Send, body: dict[str, Any], reply: Reply, started: float
    ) -> None:
        message: dict[str, Any] = {"role": "assistant", "content": reply.content}
        if reply.tool_call:
            name, arguments = reply.tool_call
            message["content"] = None
            message["tool_calls"] = [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": name, "arguments": arguments},
                }
            ]
        data = json.dumps(
            {
                **self._base(body, "chat.completion"),
                "choices": [
                    {
                        "index": 0,
                        "message": message,
                        "finish_reason": _finish(reply),
                        "logprobs": None,
                    }
                ],
                "usage": self._usage(body, reply),
                "time_info": self._time_info(started),
            }
        ).encode()
        headers = self._headers(reply, "application/json")
        headers.append((b"content-length", str(len(data)).encode()))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        if reply.cut_after is not None:  # non-streaming cut: half the promised body, then drop
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
        started: float,
        pause: Callable[[float], Awaitable[None]],
    ) -> None:
        base = self._base(body, "chat.completion.chunk")

        async def event(payload: dict[str, Any] | str, more: bool = True) -> None:
            text = payload if isinstance(payload, str) else json.dumps(payload)
            await send(
                {
                    "type": "http.response.body",
                    "body": f"data: {text}\n\n".encode(),
                    "more_body": more,
                }
            )

        def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
            return {
                **base,
                "choices": [
                    {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
                ],
            }

        headers = self._headers(reply, "text/event-stream; charset=utf-8")
        headers.append((b"cache-control", b"no-cache"))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        text, step = _text(reply), max(1, reply.chunk_chars)
        if reply.tool_call:
            first: dict[str, Any] = {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "index": 0,
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": reply.tool_call[0], "arguments": ""},
                    }
                ],
            }
        else:
            first = {"role": "assistant", "content": ""}
        await event(chunk(first))
        for n, start in enumerate(range(0, len(text), step)):
            if reply.cut_after is not None and n >= reply.cut_after:
                raise _Cut
            await pause(reply.chunk_delay)
            piece = text[start : start + step]
            if reply.tool_call:
                delta: dict[str, Any] = {
                    "tool_calls": [{"index": 0, "function": {"arguments": piece}}]
                }
            else:
                delta = {"content": piece}
            await event(chunk(delta))
        if reply.cut_after is not None:
            raise _Cut  # fewer chunks than cut_after: still no clean end
        await pause(reply.chunk_delay)
        await event(chunk({}, _finish(reply)))
        if (body.get("stream_options") or {}).get("include_usage"):
            await event(
                {
                    **base,
                    "choices": [],
                    "usage": self._usage(body, reply),
                    "time_info": self._time_info(started),
                }
            )
        await pause(0)
        await event("[DONE]", more=False)


def _text(reply: Reply) -> str:
    return reply.tool_call[1] if reply.tool_call else (reply.content or "")


def _finish(reply: Reply) -> str:
    return (
        "tool_calls" if reply.tool_call and reply.finish_reason == "stop" else reply.finish_reason
    )
