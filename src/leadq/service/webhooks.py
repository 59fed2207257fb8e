"""`WebhookDeliverer`: sends the webhook outbox's due messages (`storage/webhooks.py`) to
LEADQ_WEBHOOK_URL, signed per Standard Webhooks (`webhook-id`, `webhook-timestamp`,
`webhook-signature`), and records every attempt. `leadq serve` runs it in the background;
`leadq webhooks deliver` sends what is due once.

What an attempt's answer means:
- 2xx: delivered.
- 408, 429, 5xx, any other status, no answer within 10 s, no connection: tried again after
  LEADQ_WEBHOOK_RETRY_BASE seconds, 4 times longer after each failure (at most 8 hours),
  until LEADQ_WEBHOOK_MAX_ATTEMPTS attempts; then failed.
- Any other 4xx: failed at once; the receiver refuses this message, and sending it again
  would not change that.

Each attempt is signed afresh (receivers refuse old timestamps); the `webhook-id` stays the
same, so a receiver can tell a repeat from a new event."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Literal

import aiohttp
from standardwebhooks import Webhook

from leadq import __version__
from leadq.config import Settings
from leadq.core.errors import StorageUnavailable
from leadq.core.redact import redact
from leadq.observability.logs import log_event
from leadq.observability.metrics import count_webhook, set_webhooks_pending
from leadq.storage.store import Store
from leadq.storage.webhooks import (
    Claimed,
    claim,
    pending_count,
    record_delivered,
    record_failure,
)

log = logging.getLogger("leadq.webhooks")

TIMEOUT = 10.0  # seconds for one attempt, connecting included
BATCH = 20  # messages claimed, and sent at once, per round
POLL = 1.0  # seconds between looks at the outbox when nothing was due
COUNT_EVERY = 15.0  # seconds between counts of the pending messages (the gauge)
MAX_DELAY = 8 * 3600.0
REFUSED = range(400, 500)  # ... for good, except:
RETRYABLE_4XX = frozenset({408, 429})
Result = Literal["delivered", "retry", "failed"]


def retry_delay(failures: int, base: float) -> float:
    """Seconds before the next attempt after `failures` failed ones: `base`, then 4 times
    longer each time, at most 8 hours, plus up to 10% so that retries spread out."""
    jitter = 1 + random.random() / 10  # noqa: S311 - spreads retries, not a secret
    return min(base * 4 ** (failures - 1), MAX_DELAY) * jitter


class WebhookDeliverer:
    """Claims due messages, POSTs them and records the outcome. Several deliverers (worker
    processes, the CLI) may run on one outbox: a claimed message is theirs alone."""

    def __init__(self, store: Store, settings: Settings) -> None:
        if settings.webhook_url is None or settings.webhook_secret is None:
            raise ValueError("webhooks need LEADQ_WEBHOOK_URL and LEADQ_WEBHOOK_SECRET")
        self.store = store
        self.url = settings.webhook_url
        self.retry_base = settings.webhook_retry_base
        self.max_attempts = settings.webhook_max_attempts
        self._signer = Webhook(settings.webhook_secret.get_secret_value())
        self._http: aiohttp.ClientSession | None = None

    async def deliver_once(self, due_by: datetime | None = None) -> Counter[Result]:
        """Claim up to `BATCH` messages due by `due_by` (default: now), send them at once
        and record each; returns how many ended how."""
        claimed = await self.store.call(claim, self.store, BATCH, due_by)
        results = await asyncio.gather(*(self._deliver(msg) for msg in claimed))
        return Counter(results)

    async def deliver_due(self) -> Counter[Result]:
        """Everything due now, round after round (a message that fails now is not due again
        before its retry): for `leadq webhooks deliver`."""
        start, total = datetime.now(UTC), Counter[Result]()
        while done := await self.deliver_once(due_by=start):
            total += done
        return total

    async def run(self) -> None:
        """Deliver until cancelled (`leadq serve`'s background task). A database that is
        away is logged and looked at again shortly; the HTTP session closes at the end."""
        next_count = 0.0
        try:
            while True:
                done: Counter[Result] = Counter()
                try:
                    done = await self.deliver_once()
                    if done or time.monotonic() >= next_count:
                        set_webhooks_pending(await self.store.call(pending_count, self.store))
                        next_count = time.monotonic() + COUNT_EVERY
                except StorageUnavailable as exc:
                    log.warning("webhooks: the outbox cannot be read: %s", exc)
                except Exception:
                    log.exception("webhooks: a delivery round failed")
                if not done:
                    await asyncio.sleep(POLL)
        finally:
            await self.aclose()

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None

    # ---- one attempt ---------------------------------------------------------------------

    async def _deliver(self, msg: Claimed) -> Result:
        """Send `msg` once, record the outcome and count it."""
        failure = await self._post(msg)
        attempt, error = msg.attempts + 1, None
        if failure is None:
            result: Result = "delivered"
            await self.store.call(record_delivered, self.store, msg.id)
        else:
            error, retryable = failure
            retry = retryable and attempt < self.max_attempts
            result = "retry" if retry else "failed"
            retry_at = (
                datetime.now(UTC) + timedelta(seconds=retry_delay(attempt, self.retry_base))
                if retry
                else None
            )
            await self.store.call(record_failure, self.store, msg.id, error, retry_at)
        count_webhook(result)
        log_event(
            "webhook.attempt",
            logging.INFO if result != "failed" else logging.WARNING,
            webhook_id=msg.id,
            event_type=msg.event_type,
            attempt=attempt,
            result=result,
            error=error,
        )
        return result

    async def _post(self, msg: Claimed) -> tuple[str, bool] | None:
        """POST the signed message: None when the receiver took it, else what went wrong
        and whether to try again. Neither the secret nor the URL is part of the text."""
        now = datetime.now(UTC)
        headers = {
            "content-type": "application/json",
            "user-agent": f"leadq/{__version__}",
            "webhook-id": msg.id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": self._signer.sign(msg.id, now, msg.body),
        }
        if self._http is None:
            self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT))
        try:
            async with self._http.post(
                self.url, data=msg.body.encode(), headers=headers, allow_redirects=False
            ) as reply:
                status, reason = reply.status, reply.reason or ""
        except TimeoutError:
            return f"no answer within {TIMEOUT:g}s", True
        except aiohttp.ClientError as exc:
            text = f"{type(exc).__name__}: {exc}".replace(self.url, "LEADQ_WEBHOOK_URL")
            return redact(text), True
        if 200 <= status < 300:
            return None
        refused = status in REFUSED and status not in RETRYABLE_4XX
        return redact(f"HTTP {status} {reason}".strip()), not refused
