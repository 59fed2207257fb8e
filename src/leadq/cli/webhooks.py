"""`leadq webhooks deliver`: send the webhooks that are due and exit (for cron, or where no
`leadq serve` runs to send them as they come)."""

from __future__ import annotations

import asyncio
from collections import Counter

import typer

from leadq.cli.console import err, open_store
from leadq.config import Settings
from leadq.service.webhooks import WebhookDeliverer
from leadq.storage.store import Store
from leadq.storage.webhooks import counts

webhooks_app = typer.Typer(help="Webhooks out (LEADQ_WEBHOOK_URL).", no_args_is_help=True)


@webhooks_app.command("deliver")
def deliver() -> None:
    """Send every webhook due now (new ones, and retries whose time has come), record each
    attempt, and exit; a failed attempt waits for its retry time, as in `leadq serve`."""
    settings = Settings()
    if not settings.webhooks_on:
        err.print("[red]error:[/red] set LEADQ_WEBHOOK_URL and LEADQ_WEBHOOK_SECRET")
        raise typer.Exit(2)
    store = open_store(settings)
    try:
        done = asyncio.run(_deliver(store, settings))
        left = counts(store)
    finally:
        store.close()
    err.print(
        f"{done['delivered']} delivered, {done['retry']} to retry, {done['failed']} failed; "
        f"{left['pending']} pending, {left['failed']} failed in all"
    )


async def _deliver(store: Store, settings: Settings) -> Counter[str]:
    deliverer = WebhookDeliverer(store, settings)
    try:
        return Counter(await deliverer.deliver_due())
    finally:
        await deliverer.aclose()
