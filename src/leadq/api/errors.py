"""Errors keep their type to the edge: bad input -> 4xx naming the field, provider failure ->
502/503/504 saying what failed; never a stack trace or a bare 500 with internals."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from leadq.api.models import error_body
from leadq.core.errors import InvalidLeadError, LeadqError

log = logging.getLogger("leadq.api")

_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized"}


def _field(loc: tuple) -> str:
    parts = [str(p) for p in loc if p != "body"]
    return ".".join(parts) or "body"


async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
    fields = []
    for err in exc.errors():
        msg = err.get("msg", "invalid")
        if err.get("type") == "json_invalid":
            msg = "body is not valid JSON"
        elif err.get("type") == "string_type" and err.get("input") is None:
            msg = "required, but missing or blank"
        fields.append({"field": _field(tuple(err.get("loc", ()))), "message": msg})
    summary = "; ".join(f"{f['field']}: {f['message']}" for f in fields[:5])
    return JSONResponse(
        error_body("invalid_input", f"invalid input: {summary}", fields=fields), status_code=422
    )


async def _leadq(request: Request, exc: LeadqError) -> JSONResponse:
    fields = exc.errors if isinstance(exc, InvalidLeadError) else None
    return JSONResponse(
        error_body(exc.code, exc.message, retryable=exc.retryable, fields=fields),
        status_code=exc.http_status,
    )


async def _http(request: Request, exc: HTTPException) -> JSONResponse:
    code = _HTTP_CODES.get(exc.status_code, f"http_{exc.status_code}")
    return JSONResponse(
        error_body(code, str(exc.detail)),
        status_code=exc.status_code,
        headers=getattr(exc, "headers", None),
    )


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return JSONResponse(
        error_body("internal_error", "internal error; see the server log"), status_code=500
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation)  # type: ignore[arg-type]
    app.add_exception_handler(LeadqError, _leadq)  # type: ignore[arg-type]
    app.add_exception_handler(HTTPException, _http)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _unexpected)
