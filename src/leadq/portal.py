"""A private event loop on a daemon thread, so the sync API runs the same async code and can
be called repeatedly, even from code that has its own (closed or running) loops. Every
portal loop still open when the interpreter exits is shut down as `asyncio.run` shuts
its loop down, so what lives on it (the LLM backend's HTTP session) is closed, not
reported as unclosed."""

from __future__ import annotations

import asyncio
import atexit
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")
SHUTDOWN_SECONDS = 5.0  # the most a portal's shutdown waits for its loop

_open: dict[asyncio.AbstractEventLoop, threading.Thread] = {}  # portal loops not yet shut down
_open_lock = threading.Lock()


class Portal:
    """Runs coroutines on one long-lived loop and waits for their results."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()

    def _ensure(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None or self._loop.is_closed():
                loop = asyncio.new_event_loop()
                thread = threading.Thread(target=loop.run_forever, name="leadq-portal", daemon=True)
                thread.start()
                with _open_lock:
                    _open[loop] = thread
                self._loop = loop
            return self._loop

    def call(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run `coro` on the portal loop and return its result (or raise its exception)."""
        return asyncio.run_coroutine_threadsafe(coro, self._ensure()).result()

    def close(self) -> None:
        """Shut the loop down (its async generators finalized, its thread ended); a later
        `call` starts a new one."""
        with self._lock:
            loop, self._loop = self._loop, None
        if loop is not None:
            _shutdown(loop)


def _shutdown(loop: asyncio.AbstractEventLoop) -> None:
    """Finalize the loop's async generators (the LLM backend closes each loop's HTTP session
    in one), stop the loop, wait for its thread and close it."""
    with _open_lock:
        thread = _open.pop(loop, None)
    if thread is None or loop.is_closed():
        return
    if thread is threading.current_thread():  # called from the loop itself: stop, no waiting
        loop.call_soon_threadsafe(loop.stop)
        return
    try:
        done = asyncio.run_coroutine_threadsafe(loop.shutdown_asyncgens(), loop)
        done.result(SHUTDOWN_SECONDS)
    except (TimeoutError, RuntimeError):  # a stuck call or a stopped loop: stop it anyway
        pass
    loop.call_soon_threadsafe(loop.stop)
    thread.join(SHUTDOWN_SECONDS)
    if not thread.is_alive():
        loop.close()


@atexit.register
def _shutdown_all() -> None:
    with _open_lock:
        loops = list(_open)
    for loop in loops:
        _shutdown(loop)
