"""Batch requests as a bounded resource: at most `LEADQ_MAX_BATCHES` run at once in a
server process (one more answers 429 with Retry-After, so memory stays bounded by
`LEADQ_MAX_BATCHES` x `LEADQ_MAX_BATCH` leads), and a batch whose client has gone stops
calling the provider."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

from starlette.requests import ClientDisconnect, Request

from leadq.core.errors import Busy

T = TypeVar("T")
RETRY_AFTER = 5.0  # seconds a client is asked to wait when every batch slot is taken


class Slot:
    """One batch's place; `release` may be called more than once."""

    def __init__(self, slots: BatchSlots) -> None:
        self._slots: BatchSlots | None = slots

    def release(self) -> None:
        if self._slots is not None:
            self._slots.running -= 1
            self._slots = None


class BatchSlots:
    """The batches running in this process (all on its event loop: no lock needed)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.running = 0

    def take(self) -> Slot:
        if self.running >= self.limit:
            raise Busy(
                f"{self.running} batches are running on this server, its limit "
                f"(LEADQ_MAX_BATCHES); try again in a few seconds",
                retry_after=RETRY_AFTER,
            )
        self.running += 1
        return Slot(self)


async def _client_gone(request: Request) -> None:
    """Returns when the client disconnects (its body has been read already)."""
    while (await request.receive())["type"] != "http.disconnect":
        pass


async def unless_client_leaves(request: Request, work: Awaitable[T]) -> T:
    """`await work`, cancelled (and `ClientDisconnect` raised) if the client disconnects
    first: nobody would read the answer, and its provider calls cost money."""
    task = asyncio.ensure_future(work)
    watcher = asyncio.ensure_future(_client_gone(request))
    try:
        await asyncio.wait((task, watcher), return_when=asyncio.FIRST_COMPLETED)
    finally:
        watcher.cancel()
        if not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    if task.cancelled():
        raise ClientDisconnect
    return task.result()
