"""The web UI: `/` and its static files, served from the package itself (no build step, no
network), outside the OpenAPI schema and without an API key (the page asks for one when the
API answers 401)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files

from fastapi import APIRouter, Request, Response

from leadq.core.errors import NotFound

router = APIRouter(include_in_schema=False)

_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}
# The page may load only what this server serves: any external request is blocked.
_CSP = (
    "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
# File names are not versioned, so browsers revalidate each time (a 304 while unchanged)
# rather than run a stale app.js after an upgrade.
_HEADERS = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}
_PAGE_HEADERS = {**_HEADERS, "Content-Security-Policy": _CSP, "Referrer-Policy": "no-referrer"}


@dataclass(frozen=True)
class Asset:
    body: bytes
    media_type: str
    etag: str


@lru_cache(maxsize=1)
def assets() -> dict[str, Asset]:
    """Every servable file of `leadq.web`, read once (the whole UI is under 100 kB)."""
    found = {}
    for item in files("leadq.web").iterdir():
        suffix = "." + item.name.rsplit(".", 1)[-1]
        if item.is_file() and suffix in _TYPES:
            body = item.read_bytes()
            etag = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'
            found[item.name] = Asset(body, _TYPES[suffix], etag)
    return found


def _serve(request: Request, name: str, headers: dict[str, str]) -> Response:
    asset = assets().get(name)
    if asset is None:
        raise NotFound(f"no web asset named {name!r}")
    headers = {**headers, "ETag": asset.etag}
    seen = {
        tag.strip().removeprefix("W/")
        for tag in request.headers.get("if-none-match", "").split(",")
    }
    if asset.etag in seen:
        return Response(status_code=304, headers=headers)
    return Response(asset.body, media_type=asset.media_type, headers=headers)


@router.get("/")
async def index(request: Request) -> Response:
    """The single-page app."""
    return _serve(request, "index.html", _PAGE_HEADERS)


@router.get("/web/{name}")
async def asset(name: str, request: Request) -> Response:
    """A script, stylesheet or icon of the app."""
    return _serve(request, name, _HEADERS)
