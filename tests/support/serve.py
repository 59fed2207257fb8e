"""`leadq serve` in a real subprocess: a free port to give it, and waiting until it answers."""

from __future__ import annotations

import socket
import subprocess
import time
from typing import Any

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_serving(proc: subprocess.Popen[Any], url: str, seconds: float = 60) -> None:
    """Return once `url` answers its health route; fail if the process exits first, or if it
    has not answered within `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            httpx.get(f"{url}/api/leads/health", timeout=2)
            return
        except httpx.TransportError:
            assert proc.poll() is None, "serve exited before it answered"
            assert time.monotonic() < deadline, "serve did not start"
            time.sleep(0.1)
