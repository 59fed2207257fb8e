"""The webhook deliverer against a real receiver on 127.0.0.1: signed per Standard Webhooks,
retried with backoff, refused messages and exhausted ones marked failed, the secret never
shown; on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from leadq.config import Settings
from leadq.observability.metrics import REGISTRY
from leadq.service.webhooks import MAX_DELAY, WebhookDeliverer, retry_delay
from leadq.storage.db import make_engine, upgrade
from leadq.storage.store import Store
from leadq.storage.webhooks import deliveries
from tests.storage.test_store import lead, qualify
from tests.support.receiver import WebhookReceiver
from tests.support.serve import free_port

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


@pytest.fixture(params=["sqlite", "postgresql"])
def outbox(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A migrated store that writes webhook events."""
    url = (
        f"sqlite:///{tmp_path / 'leadq.db'}"
        if request.param == "sqlite"
        else str(request.getfixturevalue("pg_fresh"))
    )
    engine = make_engine(url)
    upgrade(engine)
    store = Store(engine, events=True)
    yield store
    store.close()


def _settings(url: str, **kw: Any) -> Settings:
    return Settings(webhook_url=url, webhook_secret=SECRET, **kw)


def _store_one(store: Store, lead_id: str = "CRM-9") -> None:
    item = lead(lead_id=lead_id, email="ann@acme.example")
    store.save([(item, qualify(item))])


async def _until_settled(deliverer: WebhookDeliverer, store: Store, rounds: int = 200) -> None:
    """Deliver round after round (retries are a few hundredths of a second apart here) until
    nothing is pending."""
    for _ in range(rounds):
        await deliverer.deliver_once()
        if not deliveries(store, "pending"):
            return
        await asyncio.sleep(0.02)
    raise AssertionError("messages still pending")


def _delivered_total(result: str) -> float:
    return REGISTRY.get_sample_value("leadq_webhook_deliveries_total", {"result": result}) or 0.0


async def test_a_stored_result_is_delivered_signed(outbox: Store) -> None:
    _store_one(outbox)
    before = _delivered_total("delivered")
    with WebhookReceiver() as receiver:
        deliverer = WebhookDeliverer(outbox, _settings(receiver.url))
        done = await deliverer.deliver_due()
        await deliverer.aclose()
    assert done == Counter(delivered=1)
    (got,) = receiver.received
    payload = Webhook(SECRET).verify(got.body, got.headers)
    assert payload["type"] == "lead.qualified"
    assert payload["data"]["lead_id"] == "CRM-9"
    assert 0 <= payload["data"]["overall_score"] <= 1
    assert got.headers["content-type"] == "application/json"
    with pytest.raises(WebhookVerificationError):  # another secret does not verify it
        Webhook("whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldY").verify(got.body, got.headers)
    (row,) = deliveries(outbox)
    assert got.headers["webhook-id"] == row["id"]
    assert (row["status"], row["attempts"], row["last_error"]) == ("delivered", 1, None)
    assert _delivered_total("delivered") == before + 1


async def test_failures_are_retried_with_the_same_id_then_marked_failed(outbox: Store) -> None:
    _store_one(outbox)
    before = _delivered_total("retry"), _delivered_total("failed")
    with WebhookReceiver([500, 503, 502]) as receiver:
        deliverer = WebhookDeliverer(
            outbox, _settings(receiver.url, webhook_retry_base=0.01, webhook_max_attempts=3)
        )
        await _until_settled(deliverer, outbox)
        await deliverer.aclose()
    assert len(receiver.received) == 3
    assert len({r.headers["webhook-id"] for r in receiver.received}) == 1
    for r in receiver.received:  # each attempt signed afresh, each valid
        Webhook(SECRET).verify(r.body, r.headers)
    (row,) = deliveries(outbox)
    assert (row["status"], row["attempts"]) == ("failed", 3)
    assert row["last_error"] == "HTTP 502 Bad Gateway"
    assert (_delivered_total("retry"), _delivered_total("failed")) == (
        before[0] + 2,
        before[1] + 1,
    )


@pytest.mark.parametrize(
    ("answers", "attempts", "status"),
    [([404], 1, "failed"), ([400], 1, "failed"), ([429, 408, 200], 3, "delivered")],
)
async def test_a_refusal_is_final_but_a_rate_limit_or_timeout_is_retried(
    outbox: Store, answers: list[int], attempts: int, status: str
) -> None:
    _store_one(outbox)
    with WebhookReceiver(answers) as receiver:
        deliverer = WebhookDeliverer(outbox, _settings(receiver.url, webhook_retry_base=0.01))
        await _until_settled(deliverer, outbox)
        await deliverer.aclose()
    (row,) = deliveries(outbox)
    assert (row["status"], row["attempts"]) == (status, attempts)
    assert len(receiver.received) == attempts


def test_retries_back_off_four_times_longer_up_to_eight_hours() -> None:
    delays = [retry_delay(n, 30) for n in range(1, 8)]
    for delay, plain in zip(delays, [30, 120, 480, 1920, 7680, MAX_DELAY, MAX_DELAY], strict=True):
        assert plain <= delay <= plain * 1.1
    assert 12 * 3600 < sum(delays) < 36 * 3600  # 8 attempts: about a day


async def test_the_secret_and_the_url_are_in_no_error_or_log(
    outbox: Store, caplog: pytest.LogCaptureFixture
) -> None:
    _store_one(outbox)
    url = f"http://127.0.0.1:{free_port()}/hooks/catch/tok-4711"  # nothing listens there
    settings = _settings(url, webhook_retry_base=60)
    deliverer = WebhookDeliverer(outbox, settings)
    with caplog.at_level(logging.DEBUG):
        assert await deliverer.deliver_once() == Counter(retry=1)
    await deliverer.aclose()
    (row,) = deliveries(outbox)
    assert row["status"] == "pending"
    assert row["last_error"]
    (event,) = [r for r in caplog.records if r.getMessage() == "webhook.attempt"]
    assert event.fields["result"] == "retry"  # type: ignore[attr-defined]
    logged = str([vars(r) for r in caplog.records])
    body = SECRET.removeprefix("whsec_")
    for text in (row["last_error"], logged, repr(settings), str(settings)):
        assert body not in text
    for text in (row["last_error"], logged):  # a catch-hook URL is as good as a key
        assert "tok-4711" not in text


def test_webhook_settings_name_what_is_missing_without_quoting_the_secret() -> None:
    with pytest.raises(ValidationError, match="LEADQ_WEBHOOK_SECRET"):
        Settings(webhook_url="https://crm.example/hook")
    weak = "whsec_c2hvcnQtc2VjcmV0LTk5"  # base64 of 15 bytes: too short to sign with
    with pytest.raises(ValidationError) as short:
        Settings(webhook_url="https://crm.example/hook", webhook_secret=weak)
    assert "24 to 64 random bytes" in str(short.value)
    assert "c2hvcnQtc2VjcmV0LTk5" not in str(short.value)
    with pytest.raises(ValidationError, match="http"):
        Settings(webhook_url="ftp://crm.example/hook", webhook_secret=SECRET)
    assert not Settings(webhook_url=" ", webhook_secret="").webhooks_on
