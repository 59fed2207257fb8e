"""A locked-down origin, over real HTTP: a Host that is not loopback or allowed is refused
(DNS rebinding), API answers say `nosniff` and `no-store`, and the API documents close when
keys are set."""

from __future__ import annotations

from typing import Any

import httpx
import pytest


def test_a_rebound_host_is_refused_and_loopback_answers(live_app: Any) -> None:
    app = live_app(provider="rules")
    with app.client() as api:
        rebound = api.get("/api/leads", headers={"Host": f"attacker.example:{app.port}"})
        local = api.get("/api/leads", headers={"Host": f"localhost:{app.port}"})
    assert rebound.status_code == 400
    assert "Lead" not in rebound.text
    assert local.status_code == 200


def test_allowed_hosts_are_answered(live_app: Any) -> None:
    app = live_app(provider="rules", allowed_hosts="leads.example.com, *.corp.example")
    with app.client() as api:
        named = api.get("/api/leads", headers={"Host": "leads.example.com"})
        wildcard = api.get("/api/leads", headers={"Host": "crm.corp.example"})
        other = api.get("/api/leads", headers={"Host": "example.net"})
    assert (named.status_code, wildcard.status_code, other.status_code) == (200, 200, 400)


def test_api_answers_are_not_sniffed_or_stored(live_app: Any) -> None:
    app = live_app(provider="rules")
    with app.client() as api:
        listed = api.get("/api/leads")
        page = api.get("/")
    assert listed.headers["x-content-type-options"] == "nosniff"
    assert listed.headers["cache-control"] == "no-store"
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["cache-control"] == "no-cache"  # the page keeps its own ETag policy


@pytest.mark.parametrize(
    ("settings", "served"),
    [({}, True), ({"api_keys": "k-1"}, False), ({"api_keys": "k-1", "docs": True}, True)],
)
def test_the_api_documents_close_when_keys_are_set(
    live_app: Any, settings: dict[str, Any], served: bool
) -> None:
    app = live_app(provider="rules", **settings)
    with httpx.Client(base_url=app.url) as api:
        paths = ("/docs", "/redoc", "/openapi.json", "/docs-assets/swagger-ui-bundle.js")
        codes = {path: api.get(path).status_code for path in paths}
    assert codes == dict.fromkeys(codes, 200 if served else 404)
