"""Request ids, as plain ASGI middleware: the client's `X-Request-ID` when it is sane, else a
new one; bound to every log event of the request and returned in the response header. Each
request is also counted by route template and logged once (`http.request`)."""

from __future__ import annotations

import logging
import re
import time
import uuid

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from leadq.observability.logs import log_event, request_id
from leadq.observability.metrics import count_http

HEADER = "X-Request-ID"
# Ids from load balancers and tracing (uuids, hex, base64-ish); nothing that could forge a
# log line or smuggle a header.
SANE_ID = re.compile(r"[A-Za-z0-9._:+/=-]{1,128}")


def pick_request_id(given: str | None) -> str:
    """The client's id if it is sane, else a fresh one."""
    if given is not None and SANE_ID.fullmatch(given):
        return given
    return uuid.uuid4().hex


class RequestContext:
    """Binds a request id to the request's context and counts and logs the request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw = dict(scope["headers"]).get(HEADER.lower().encode())
        rid = pick_request_id(raw.decode("latin-1") if raw is not None else None)
        token = request_id.set(rid)
        status, t0 = 500, time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)[HEADER] = rid
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            count_http(scope["method"], route, status)
            log_event(
                "http.request",
                logging.INFO if status < 500 else logging.ERROR,
                method=scope["method"],
                route=route,
                status=status,
                latency_ms=round((time.perf_counter() - t0) * 1000, 2),
            )
            request_id.reset(token)
