"""The API documents load nothing from another origin, over real HTTP: /docs (Swagger UI)
and /redoc take their scripts, styles and icon from this server, not from a CDN, on the
origin where the page keeps the API key (issue 20)."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

# Every URL a page loads: <script src>, <link href> (styles, icon), ReDoc's spec-url.
LOADED = re.compile(r'\b(?:src|href|spec-url)="([^"]*)"')


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_documents_load_only_what_this_server_serves(live_app: Any, page: str) -> None:
    app = live_app(provider="rules")
    with httpx.Client(base_url=app.url, timeout=30) as api:
        html = api.get(page)
        urls = LOADED.findall(html.text)
        loaded = {url: api.get(url) for url in urls}
    assert html.status_code == 200
    assert "cdn." not in html.text
    assert "https://" not in html.text
    assert "http://" not in html.text
    scripts = re.findall(r'<script src="([^"]*)"', html.text)
    assert scripts
    assert all(url.startswith("/docs-assets/") for url in scripts), scripts
    assert len(urls) >= 3  # the script, then the style sheet or the spec, and the icon
    for url, answer in loaded.items():
        assert answer.status_code == 200, url
        assert answer.content, url
    for url in scripts:
        assert "javascript" in loaded[url].headers["content-type"], url
    # The browser is told so too: anything the bundles would fetch from elsewhere is blocked.
    csp = html.headers["content-security-policy"]
    directives = [d.strip().partition(" ") for d in csp.split(";")]
    policy = {name: value for name, _, value in directives}
    assert policy["default-src"] == "'self'"
    assert policy["img-src"] == "'self' data:"
    assert "'unsafe-inline'" not in policy["script-src"]
    assert "http" not in policy["script-src"]
