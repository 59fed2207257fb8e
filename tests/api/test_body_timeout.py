"""A client that sends the headers and part of a body, then stalls, does not hold its
connection: `leadq serve` with LEADQ_BODY_TIMEOUT answers 408 and closes it (issue 20)."""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.serve import serving


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """`leadq serve` in a real process with LEADQ_BODY_TIMEOUT=1: its port and its log."""
    env = {
        **os.environ,
        "LEADQ_PROVIDER": "rules",
        "LEADQ_DATA_DIR": str(tmp_path / "data"),
        "LEADQ_BODY_TIMEOUT": "1",
    }
    log = tmp_path / "serve.log"
    with serving(env, log) as (_, url):
        yield int(url.rsplit(":", 1)[1]), log


def read_until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection; a socket timeout (the
    server kept the connection open) fails the test."""
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received


def test_a_stalled_body_gets_408_and_the_connection_is_closed(served: tuple[int, Path]) -> None:
    port, log = served
    head = (
        "POST /api/leads/qualify HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{port}\r\n"
        "Content-Type: application/json\r\n"
        "Content-Length: 1000\r\n"
        "\r\n"
    )
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        sock.sendall(head.encode() + b'{"lead_na"')  # 10 of the 1000 bytes announced
        answer = read_until_closed(sock)  # the server closes; no assertion on when
    status_line, _, rest = answer.partition(b"\r\n")
    headers, _, body = rest.partition(b"\r\n\r\n")
    assert status_line.startswith(b"HTTP/1.1 408"), answer
    assert b"connection: close" in headers.lower()
    error = json.loads(body)
    assert error["status"] == "error"
    assert error["error"]["code"] == "body_timeout"
    assert "LEADQ_BODY_TIMEOUT" in error["error"]["message"]

    # A body that arrives is answered as before, and the server logged no error.
    lead = {"lead_name": "Ann Lee", "company_name": "Acme", "job_title": "VP Sales"}
    reply = httpx.post(f"http://127.0.0.1:{port}/api/leads/qualify", json=lead, timeout=20)
    assert reply.status_code == 200
    assert "Traceback" not in log.read_text(encoding="utf-8")
