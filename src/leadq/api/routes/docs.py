"""The API documents without a CDN: Swagger UI at /docs and ReDoc at /redoc, their scripts,
styles and icon served by this server at /docs-assets from the `fastapi-offline` package.
No third-party script runs on the origin where the page keeps the API key, and each page's
Content-Security-Policy lets it load nothing from elsewhere (ReDoc's bundle would fetch its
footer logo from Redocly's CDN)."""

from __future__ import annotations

import base64
import hashlib
import re
from importlib.resources import files

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS = "/docs-assets"
_INLINE_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.DOTALL)


def _own_origin_only(page: HTMLResponse) -> HTMLResponse:
    """The page may run its own inline start-up script (by hash) and load from this server
    only; the styles the UIs set inline are allowed."""
    hashes = " ".join(
        f"'sha256-{base64.b64encode(hashlib.sha256(script).digest()).decode()}'"
        for script in _INLINE_SCRIPT.findall(bytes(page.body))
    )
    page.headers["Content-Security-Policy"] = (
        f"default-src 'self'; script-src 'self' {hashes}; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; worker-src 'self' blob:; object-src 'none'; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'"
    )
    page.headers["Referrer-Policy"] = "no-referrer"
    return page


def add_docs(app: FastAPI) -> None:
    """Mount the assets and add /docs and /redoc; only when the documents are open (the
    app's `openapi_url` is set)."""
    openapi_url = app.openapi_url
    if openapi_url is None:
        return
    static = files("fastapi_offline") / "static"  # swagger-ui-bundle.js, redoc.standalone.js
    app.mount(ASSETS, StaticFiles(directory=str(static)), name="docs-assets")

    def root(request: Request) -> str:
        return str(request.scope.get("root_path", "")).rstrip("/")

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        base = root(request)
        return _own_origin_only(
            get_swagger_ui_html(
                openapi_url=f"{base}{openapi_url}",
                title=f"{app.title} - Swagger UI",
                swagger_js_url=f"{base}{ASSETS}/swagger-ui-bundle.js",
                swagger_css_url=f"{base}{ASSETS}/swagger-ui.css",
                swagger_favicon_url=f"{base}{ASSETS}/favicon.png",
                swagger_ui_parameters={"validatorUrl": None},  # no badge from validator.swagger.io
            )
        )

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        base = root(request)
        return _own_origin_only(
            get_redoc_html(
                openapi_url=f"{base}{openapi_url}",
                title=f"{app.title} - ReDoc",
                redoc_js_url=f"{base}{ASSETS}/redoc.standalone.js",
                redoc_favicon_url=f"{base}{ASSETS}/favicon.png",
                with_google_fonts=False,
            )
        )
