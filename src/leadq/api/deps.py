"""Dependencies routes take through `Annotated` aliases."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Query, Request, Security
from fastapi.security import APIKeyHeader

from leadq.config import Settings
from leadq.core.errors import LeadqError
from leadq.qualifier import LeadQualifier
from leadq.service.leads import LeadService
from leadq.storage.store import Store

_api_key = APIKeyHeader(
    name="X-API-Key", auto_error=False, description="Required when the server sets LEADQ_API_KEYS."
)


class Unauthorized(LeadqError):
    code = "unauthorized"
    http_status = 401


def get_settings_dep(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]


def get_qualifier_dep(request: Request) -> LeadQualifier:
    """The app's qualifier; if the provider is misconfigured, the error that says how to fix it."""
    qualifier = request.app.state.qualifier
    if qualifier is None:
        raise request.app.state.qualifier_error
    return qualifier  # type: ignore[no-any-return]


QualifierDep = Annotated[LeadQualifier, Depends(get_qualifier_dep)]


def use_cache_dep(
    request: Request,
    cache: Annotated[
        bool,
        Query(description="false: qualify again even if an identical lead was cached"),
    ] = True,
) -> bool:
    """The result cache is used unless `?cache=false` or `Cache-Control: no-cache`."""
    return cache and "no-cache" not in request.headers.get("cache-control", "").lower()


def get_service_dep(
    request: Request, qualifier: QualifierDep, use_cache: Annotated[bool, Depends(use_cache_dep)]
) -> LeadService:
    cache = request.app.state.cache if use_cache else None
    return LeadService(qualifier, request.app.state.store, cache)


ServiceDep = Annotated[LeadService, Depends(get_service_dep)]


def get_store_dep(request: Request) -> Store:
    return request.app.state.store  # type: ignore[no-any-return]


StoreDep = Annotated[Store, Depends(get_store_dep)]


def require_api_key(settings: SettingsDep, key: str | None = Security(_api_key)) -> None:
    """With `LEADQ_API_KEYS` set, the request must carry one of them (constant-time check)."""
    keys = settings.api_key_list
    if not keys:
        return
    given = (key or "").encode()
    if not any(hmac.compare_digest(given, k.encode()) for k in keys):
        raise Unauthorized("missing or wrong X-API-Key header")
