"""Request-body limits as plain ASGI middleware: 413 before a large body is parsed, 408 for
a body that stops arriving."""

from __future__ import annotations

import asyncio

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from leadq.api.models import error_body


class BodyLimit:
    """Rejects bodies over `max_bytes` (by Content-Length, or while reading) with 413; the
    paths of `larger` (a file of leads submitted as a job) have limits of their own."""

    def __init__(self, app: ASGIApp, max_bytes: int, larger: dict[str, int] | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.larger = larger or {}

    async def _too_large(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        setting = "LEADQ_MAX_BODY_BYTES" if limit == self.max_bytes else "LEADQ_MAX_FILE_BYTES"
        body = error_body(
            "payload_too_large", f"request body is larger than {limit} bytes ({setting})"
        )
        await JSONResponse(body, status_code=413)(scope, receive, send)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        limit = self.larger.get(scope["path"], self.max_bytes)
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            await self._too_large(scope, receive, send, limit)
            return
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await self._too_large(scope, receive, send, limit)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()  # later reads see the client's disconnect

        await self.app(scope, replay, send)


class BodyTimeout:
    """Answers 408 and closes the connection when the request body stalls: no chunk within
    `seconds` of the first read, or of the chunk before. A client that sent the headers and
    half a body then holds nothing for long. Reads after the body is complete (an app
    waiting for the client to leave, as a stream does) are not timed."""

    def __init__(self, app: ASGIApp, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def _timed_out(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = error_body(
            "body_timeout",
            f"request body did not arrive within {self.seconds:g} s (LEADQ_BODY_TIMEOUT)",
        )
        headers = {"Connection": "close"}  # the server closes the connection after it
        await JSONResponse(body, status_code=408, headers=headers)(scope, receive, send)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        complete, started, answered = False, False, False

        async def timed_receive() -> Message:
            nonlocal complete, answered
            if answered:
                return {"type": "http.disconnect"}
            if complete:
                return await receive()
            try:
                async with asyncio.timeout(self.seconds):
                    message = await receive()
            except TimeoutError:
                complete = True  # the app is told the client left: it answers no more
                if not started:  # else half an answer is out: the server ends it
                    answered = True
                    await self._timed_out(scope, receive, send)
                return {"type": "http.disconnect"}
            complete = message["type"] != "http.request" or not message.get("more_body", False)
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            if answered:  # the 408 went instead; an answer to the "disconnect" is dropped
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        await self.app(scope, timed_receive, watched_send)
