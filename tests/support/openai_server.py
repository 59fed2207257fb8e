"""A scripted OpenAI-compatible chat-completions server on 127.0.0.1, for tests.

It answers like OpenAI/Cerebras do (JSON or SSE streams, usage, `time_info`, rate-limit
headers) so that the real OpenAI SDK and LangChain talk to it over real HTTP. Each test
scripts it: `queue(Reply(...))` for the next requests, or `handler = fn(body) -> Reply`."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route


@dataclass
class Reply:
    status: int = 200
    content: str | None = None
    tool_call: tuple[str, str] | None = None
    finish_reason: str = "stop"
    usage: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    delay: float = 0.0
    chunk_delay: float = 0.0
    chunk_chars: int = 12
    cut_after: int | None = None


def chat_reply_json(data: dict[str, Any], **kw: Any) -> Reply:
    return Reply(content=json.dumps(data), **kw)


DEFAULT_HEADERS = {
    "x-ratelimit-limit-requests-minute": "100000",
    "x-ratelimit-remaining-requests-minute": "99999",
    "x-ratelimit-reset-requests-minute": "59.0",
    "x-ratelimit-limit-tokens-minute": "100000000",
    "x-ratelimit-remaining-tokens-minute": "99999999",
    "x-ratelimit-reset-tokens-minute": "59.0",
}
ERROR_BODIES = {
    429: {
        "message": "Requests per minute limit exceeded - too many requests sent.",
        "type": "too_many_requests_error",
        "param": "quota",
        "code": "request_quota_exceeded",
    },
}


class _ClientGone(Exception):
    pass


class ScriptedServer:
    """See the module docstring. Counters: `in_flight`, `completed`, `cancelled`."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.request_headers: list[dict[str, str]] = []
        self.handler: Callable[[dict[str, Any]], Reply] = self._default
        self._queue: deque[Reply] = deque()
        self._lock = threading.Lock()
        self.in_flight = self.completed = self.cancelled = 0
        self.app = Starlette(
            routes=[
                Route("/v1/chat/completions", self._chat, methods=["POST"]),
                Route("/v1/models", self._models, methods=["GET"]),
            ]
        )
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.url = ""

    @staticmethod
    def _default(body: dict[str, Any]) -> Reply:
        return Reply(content='{"ok": true}')

    def queue(self, *replies: Reply) -> None:
        with self._lock:
            self._queue.extend(replies)

    def reset(self) -> None:
        with self._lock:
            self._queue.clear()
            self.requests.clear()
            self.request_headers.clear()
            self.handler = self._default
            self.in_flight = self.completed = self.cancelled = 0

    # ---- lifecycle ------------------------------------------------------------------------

    def start(self) -> ScriptedServer:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}/v1"
        config = uvicorn.Config(
            self.app, log_level="critical", lifespan="off", timeout_keep_alive=30
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, daemon=True, name="scripted-openai"
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("scripted server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(10)

    # ---- endpoints ------------------------------------------------------------------------

    async def _models(self, request: Request) -> Response:
        return JSONResponse({"object": "list", "data": [{"id": "test-model", "object": "model"}]})

    def _count(self, name: str, delta: int) -> None:
        with self._lock:
            setattr(self, name, getattr(self, name) + delta)

    async def _wait(self, request: Request, seconds: float) -> None:
        """Sleep, but notice a client that goes away meanwhile."""
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            await asyncio.sleep(min(left, 0.02))
            if await request.is_disconnected():
                raise _ClientGone

    async def _chat(self, request: Request) -> Response:
        raw = await request.body()
        try:
            body = json.loads(raw)
        except ValueError:
            return JSONResponse(
                {"message": "invalid JSON body", "type": "invalid_request_error"}, status_code=400
            )
        with self._lock:
            self.requests.append(body)
            self.request_headers.append(dict(request.headers))
            reply = self._queue.popleft() if self._queue else None
        if reply is None:
            reply = self.handler(body)
        self._count("in_flight", 1)
        try:
            if reply.delay:
                await self._wait(request, reply.delay)
        except _ClientGone:
            self._count("in_flight", -1)
            self._count("cancelled", 1)
            return Response(status_code=499)
        headers = {**DEFAULT_HEADERS, **reply.headers}
        if reply.status != 200 or reply.body is not None:
            self._count("in_flight", -1)
            self._count("completed", 1)
            payload = (
                reply.body
                if reply.body is not None
                else ERROR_BODIES.get(
                    reply.status, {"message": f"error {reply.status}", "type": "server_error"}
                )
            )
            if isinstance(payload, (dict, list)):
                return JSONResponse(payload, status_code=reply.status, headers=headers)
            return Response(
                payload, status_code=reply.status, headers=headers, media_type="text/html"
            )
        if body.get("stream"):
            return StreamingResponse(
                self._stream(body, reply), headers=headers, media_type="text/event-stream"
            )
        self._count("in_flight", -1)
        self._count("completed", 1)
        return JSONResponse(self._completion(body, reply), headers=headers)

    # ---- answer shapes --------------------------------------------------------------------

    @staticmethod
    def _usage(body: dict[str, Any], reply: Reply) -> dict[str, Any]:
        if reply.usage is not None:
            return reply.usage
        prompt = len(json.dumps(body.get("messages", []))) // 4
        text = reply.content or (reply.tool_call[1] if reply.tool_call else "")
        completion = len(text) // 4
        return {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
            "prompt_tokens_details": {"cached_tokens": 0},
        }

    def _completion(self, body: dict[str, Any], reply: Reply) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": reply.content}
        finish = reply.finish_reason
        if reply.tool_call:
            message["content"] = None
            message["tool_calls"] = [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": reply.tool_call[0], "arguments": reply.tool_call[1]},
                }
            ]
            finish = "tool_calls" if finish == "stop" else finish
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex[:12]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "test-model"),
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": self._usage(body, reply),
            "time_info": {
                "queue_time": 0.0001,
                "prompt_time": 0.001,
                "completion_time": 0.01,
                "total_time": 0.012,
            },
        }

    async def _stream(self, body: dict[str, Any], reply: Reply) -> AsyncIterator[bytes]:
        base = {
            "id": f"chatcmpl-{uuid.uuid4().hex[:12]}",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": body.get("model", "test-model"),
        }

        def frame(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> bytes:
            choice = {"index": 0, "delta": delta, "finish_reason": finish}
            data = {**base, "choices": [choice], **extra}
            return f"data: {json.dumps(data)}\n\n".encode()

        finished = False
        try:
            yield frame({"role": "assistant", "content": "" if not reply.tool_call else None})
            text = reply.tool_call[1] if reply.tool_call else (reply.content or "")
            step = max(1, reply.chunk_chars)
            for n, start in enumerate(range(0, len(text), step)):
                if reply.cut_after is not None and n >= reply.cut_after:
                    raise ConnectionAbortedError("scripted cut")  # uvicorn drops the connection
                if reply.chunk_delay:
                    await asyncio.sleep(reply.chunk_delay)
                piece = text[start : start + step]
                if reply.tool_call:
                    call: dict[str, Any] = {"index": 0, "function": {"arguments": piece}}
                    if n == 0:
                        call.update(id="call_1", type="function")
                        call["function"]["name"] = reply.tool_call[0]
                    yield frame({"tool_calls": [call]})
                else:
                    yield frame({"content": piece})
            finish = reply.finish_reason
            if reply.tool_call and finish == "stop":
                finish = "tool_calls"
            yield frame({}, finish)
            if (body.get("stream_options") or {}).get("include_usage"):
                usage = {**base, "choices": [], "usage": self._usage(body, reply)}
                yield f"data: {json.dumps(usage)}\n\n".encode()
            yield b"data: [DONE]\n\n"
            finished = True
        finally:
            self._count("in_flight", -1)
            self._count("completed" if finished else "cancelled", 1)
