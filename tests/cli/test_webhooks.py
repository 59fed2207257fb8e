"""`leadq qualify` queues a webhook per stored result (through its writer process), and
`leadq webhooks deliver` sends what is due and exits."""

from __future__ import annotations

from standardwebhooks import Webhook

from tests.cli.test_app import leadq
from tests.conftest import EXAMPLES
from tests.support.receiver import WebhookReceiver

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def test_a_jobs_results_are_delivered_by_the_deliver_command() -> None:
    with WebhookReceiver() as receiver:
        env = {"LEADQ_WEBHOOK_URL": receiver.url, "LEADQ_WEBHOOK_SECRET": SECRET}
        qualified = leadq("qualify", str(EXAMPLES), "-q", env=env)
        assert qualified.returncode == 1  # row 13 is invalid; the other 20 are stored
        assert receiver.received == []  # nothing is sent by `qualify` itself
        sent = leadq("webhooks", "deliver", env=env)
        again = leadq("webhooks", "deliver", env=env)
    assert sent.returncode == 0, sent.stderr
    assert "20 delivered, 0 to retry, 0 failed; 0 pending" in sent.stderr
    assert "0 delivered" in again.stderr
    payloads = [Webhook(SECRET).verify(r.body, r.headers) for r in receiver.received]
    assert len({r.headers["webhook-id"] for r in receiver.received}) == 20
    assert {p["data"]["lead_id"] for p in payloads} >= {"L-0001", "L-0010"}
    assert all(p["data"]["provider"] == "rules" for p in payloads)


def test_deliver_without_webhooks_says_what_to_set() -> None:
    proc = leadq("webhooks", "deliver")
    assert proc.returncode == 2
    assert "LEADQ_WEBHOOK_URL" in proc.stderr
