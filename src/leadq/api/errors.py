"""Errors keep their type to the edge: bad input -> 4xx naming the field, provider failure ->
502/503/504 saying what failed, database outage -> 503 retryable; never a stack trace or a
bare 500 with internals. An unexpected error is logged with the request's id and answered
500 without ending the client's keep-alive connection."""

from __future__ import annotations

import logging
import math

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from leadq.api.models import error_body
from leadq.core.errors import InvalidLeadError, LeadqError, StorageUnavailable
from leadq.storage.db import is_outage

log = logging.getLogger("leadq.api")

_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized"}


def _field(loc: tuple) -> str:
    parts = [str(p) for p in loc if p != "body"]
    return ".".join(parts) or "body"


async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
    fields = []
    for err in exc.errors():
        msg, loc = err.get("msg", "invalid"), tuple(err.get("loc", ()))
        if err.get("type") == "json_invalid":  # its loc holds the byte offset, not a field
            reason = (err.get("ctx") or {}).get("error")
            at = f" at byte {loc[-1]}" if loc and isinstance(loc[-1], int) else ""
            msg, loc = f"body is not valid JSON{f' ({reason})' if reason else ''}{at}", ()
        elif err.get("type") == "string_type" and err.get("input") is None:
            msg = "required, but missing or blank"
        fields.append({"field": _field(loc), "message": msg})
    summary = "; ".join(f"{f['field']}: {f['message']}" for f in fields[:5])
    return JSONResponse(
        error_body("invalid_input", f"invalid input: {summary}", fields=fields), status_code=422
    )


async def _leadq(request: Request, exc: LeadqError) -> JSONResponse:
    fields = exc.errors if isinstance(exc, InvalidLeadError) else None
    retry_after = getattr(exc, "retry_after", None)
    if isinstance(exc, StorageUnavailable):
        log.error("database unavailable on %s %s: %s", request.method, request.url.path, exc)
    return JSONResponse(
        error_body(exc.code, exc.message, retryable=exc.retryable, fields=fields),
        status_code=exc.http_status,
        headers={"Retry-After": str(math.ceil(retry_after))} if retry_after else None,
    )


async def _database(request: Request, exc: SQLAlchemyError) -> JSONResponse:
    """A database error a route met outside `Store.call`: an outage is 503 as there."""
    if is_outage(exc):
        return await _leadq(request, StorageUnavailable("the database is unavailable"))
    return _internal(request, exc)


async def _http(request: Request, exc: HTTPException) -> JSONResponse:
    code = _HTTP_CODES.get(exc.status_code, f"http_{exc.status_code}")
    return JSONResponse(
        error_body(code, str(exc.detail)),
        status_code=exc.status_code,
        headers=getattr(exc, "headers", None),
    )


def _internal(request: Request, exc: BaseException) -> JSONResponse:
    log.error(
        "unexpected error on %s %s", request.method, request.url.path, exc_info=exc
    )  # the log line carries the request id: this runs inside the request's context
    return JSONResponse(
        error_body("internal_error", "internal error; see the server log"), status_code=500
    )


class Unexpected:
    """Plain ASGI middleware, innermost: an exception no handler took becomes a logged 500.
    (Starlette's own last-resort handler re-raises after answering, and the server then
    drops the connection, so the client's next request on it failed.)"""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watch(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except ClientDisconnect:  # the client left (a batch it dropped): nobody to answer
            log.info("client disconnected on %s %s", scope["method"], scope["path"])
        except Exception as exc:
            if started:  # half an answer is out: only the server can end it
                raise
            await _internal(Request(scope), exc)(scope, receive, send)


def install_error_handlers(app: FastAPI) -> None:
    """The typed handlers; `Unexpected` is added with the middleware."""
    app.add_exception_handler(RequestValidationError, _validation)  # type: ignore[arg-type]
    app.add_exception_handler(LeadqError, _leadq)  # type: ignore[arg-type]
    app.add_exception_handler(HTTPException, _http)  # type: ignore[arg-type]
    app.add_exception_handler(SQLAlchemyError, _database)  # type: ignore[arg-type]
