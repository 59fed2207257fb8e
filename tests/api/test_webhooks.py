"""Webhooks over the real service: a qualification made over HTTP reaches the receiver,
signed, even when the first attempt fails and `leadq serve` is restarted before the retry;
the delivery log at /api/webhooks/deliveries."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from standardwebhooks import Webhook

from tests.api.conftest import LiveApp
from tests.support.receiver import WebhookReceiver
from tests.support.serve import free_port, serving

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
LEAD = {
    "lead_id": "HS-501",
    "lead_name": "Ann Lee",
    "email": "ann@acme.example",
    "company_name": "Acme",
    "industry": "SaaS",
    "job_title": "VP Sales",
    "company_size": "200",
}


@contextmanager
def _serving(env: dict[str, str], log: Path) -> Iterator[str]:
    """`leadq serve` in a subprocess, its log to `log`, until the block ends; then SIGTERM."""
    with serving(env, log) as (_, url):
        yield url


def _until(check: Callable[[], bool], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "not within the time given"
        time.sleep(0.1)


def _logged(
    url: str, until: Callable[[dict[str, Any]], bool], seconds: float = 60
) -> dict[str, Any]:
    """The one message of the delivery log, once `until` holds for it."""
    deadline = time.monotonic() + seconds
    while True:
        (row,) = httpx.get(f"{url}/api/webhooks/deliveries").json()["data"]
        if until(row):
            return row  # type: ignore[no-any-return]
        assert time.monotonic() < deadline, row
        time.sleep(0.1)


def test_a_failed_delivery_is_sent_again_after_a_restart(tmp_path: Path) -> None:
    with WebhookReceiver([500]) as receiver:
        env = {
            **os.environ,
            "LEADQ_PROVIDER": "rules",
            "LEADQ_PORT": str(free_port()),
            "LEADQ_DATA_DIR": str(tmp_path / "data"),  # SQLite, kept across the restart
            "LEADQ_WEBHOOK_URL": receiver.url,
            "LEADQ_WEBHOOK_SECRET": SECRET,
            "LEADQ_WEBHOOK_RETRY_BASE": "8",
        }
        log = tmp_path / "serve.log"
        with _serving(env, log) as url:
            result = httpx.post(f"{url}/api/leads/qualify", json=LEAD).json()["data"]
            (first,) = receiver.wait_for(1)
            failed = _logged(url, lambda row: row["attempts"] == 1)
            assert failed["status"] == "pending"
            assert failed["last_error"] == "HTTP 500 Internal Server Error"
            _until(lambda: "leadq_webhooks_pending 1.0" in httpx.get(f"{url}/metrics").text)
        assert len(receiver.received) == 1  # stopped before its retry was due
        with _serving(env, log) as url:
            second = receiver.wait_for(2)[1]
            delivered = _logged(url, lambda row: row["status"] == "delivered")
    assert delivered["attempts"] == 2
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == delivered["id"]
    for got in (first, second):
        payload = Webhook(SECRET).verify(got.body, got.headers)
        assert payload["type"] == "lead.qualified"
        data = payload["data"]
        assert data["lead_id"] == "HS-501"
        assert data["qualification_id"] == result["qualification_id"]
        assert data["lead_ref"] == result["lead_ref"]
        assert data["overall_score"] == result["overall_score"]
        assert data["recommended_action"] == result["recommended_action"]
    logged = log.read_text()
    assert logged.count('"event": "webhook.attempt"') == 2
    assert SECRET.removeprefix("whsec_") not in str(delivered) + logged


def test_the_delivery_log_needs_a_key_and_filters_by_status(
    live_app: Callable[..., LiveApp],
) -> None:
    with WebhookReceiver([404]) as receiver:
        app = live_app(
            api_keys="k-1", webhook_url=receiver.url, webhook_secret=SECRET, webhook_retry_base=1
        )
        with app.client(headers={"X-API-Key": "k-1"}) as api:
            api.post("/api/leads/qualify", json=LEAD)
            api.post("/api/leads/qualify", json={**LEAD, "lead_id": "HS-502"})
            receiver.wait_for(2)
            deadline = time.monotonic() + 30
            while (page := api.get("/api/webhooks/deliveries").json())["counts"]["pending"]:
                assert time.monotonic() < deadline, page
                time.sleep(0.05)
            assert page["counts"] == {"pending": 0, "delivered": 1, "failed": 1}
            (refused,) = api.get("/api/webhooks/deliveries", params={"status": "failed"}).json()[
                "data"
            ]
            assert (refused["attempts"], refused["last_error"]) == (1, "HTTP 404 Not Found")
            assert refused["next_attempt_at"] is None
            one = api.get("/api/webhooks/deliveries", params={"limit": 1}).json()["data"]
            assert len(one) == 1
            assert api.get("/api/webhooks/deliveries", params={"status": "sent"}).status_code == 422
            assert api.get("/api/webhooks/deliveries", params={"limit": 0}).status_code == 422
            metrics = api.get("/metrics").text
        assert httpx.get(f"{app.url}/api/webhooks/deliveries").status_code == 401
    assert 'leadq_webhook_deliveries_total{result="failed"}' in metrics


def test_nothing_is_queued_without_webhooks(live_app: Callable[..., LiveApp]) -> None:
    with live_app().client() as api:
        assert api.post("/api/leads/qualify", json=LEAD).status_code == 200
        page = api.get("/api/webhooks/deliveries").json()
    assert page == {
        "status": "success",
        "counts": {"pending": 0, "delivered": 0, "failed": 0},
        "data": [],
    }
