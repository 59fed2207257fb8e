"""`/` and `/web/*` over real HTTP: the page and its assets come from the package, with
revalidation headers and a policy that blocks external requests; none of it is in the
OpenAPI schema, and none of it needs an API key."""

from __future__ import annotations

import re

from leadq.api.routes.web import assets


def test_page_and_assets_are_served_with_cache_and_security_headers(web_app) -> None:
    with web_app(api_keys="k1").client() as http:
        page = http.get("/")
        script = http.get("/web/app.js")
        again = http.get("/web/app.js", headers={"If-None-Match": script.headers["etag"]})
        missing = http.get("/web/nope.js")
        escape = http.get("/web/..%2Fapi%2Froutes%2Fweb.py")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["cache-control"] == "no-cache"
    assert page.headers["etag"]
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("text/javascript")
    assert again.status_code == 304
    assert again.content == b""
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
    assert escape.status_code == 404


def test_every_file_the_page_references_is_served(web_app) -> None:
    """index.html's links and each module's imports resolve to packaged files."""
    files = assets()
    html = files["index.html"].body.decode()
    wanted = set(re.findall(r'(?:href|src)="web/([^"]+)"', html))
    for name, asset in files.items():
        if name.endswith(".js"):
            wanted |= set(re.findall(r'from "\./([^"]+)"', asset.body.decode()))
    assert {"app.js", "app.css", "api.js", "card.js"} <= wanted
    with web_app().client() as http:
        for name in sorted(wanted):
            assert http.get(f"/web/{name}").status_code == 200, name


def test_ui_routes_are_not_in_the_openapi_schema(web_app) -> None:
    with web_app().client() as http:
        paths = http.get("/openapi.json").json()["paths"]
    assert "/" not in paths
    assert not any(p.startswith("/web") for p in paths)
    assert "/api/leads/qualify-stream" in paths
