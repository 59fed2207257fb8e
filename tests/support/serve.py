"""`leadq serve` in a real subprocess: a free port to give it, waiting until it answers, and
`serving` to run one for the length of a block."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
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


@contextmanager
def serving(
    env: dict[str, str], log: Path | None = None
) -> Iterator[tuple[subprocess.Popen[Any], str]]:
    """`leadq serve` in a process group of its own, with `env` (LEADQ_PORT picks the port,
    else a free one) and its stderr appended to `log` (a file: nobody reads a pipe while it
    fills); yields the process and its URL once it answers. At the end: SIGTERM, as systemd
    or Docker stop it, and SIGKILL for the whole group if it has not exited in 30 s."""
    env = {**env, "LEADQ_PORT": env.get("LEADQ_PORT") or str(free_port())}
    with log.open("a") if log else open(os.devnull, "w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "leadq", "serve"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=err,
            start_new_session=True,
        )
    try:
        url = f"http://127.0.0.1:{env['LEADQ_PORT']}"
        wait_until_serving(proc, url)
        yield proc, url
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                raise
