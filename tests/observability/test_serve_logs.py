"""`leadq serve` in a real subprocess logs JSON lines (uvicorn's own records too), with the
request id the client sent, and no lead names."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import httpx

from tests.observability.test_requests import LEAD, PII
from tests.support.serve import free_port, wait_until_serving


def test_serve_logs_json_lines_with_request_ids() -> None:
    port = free_port()
    env = {**os.environ, "LEADQ_PROVIDER": "rules", "LEADQ_PORT": str(port)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "leadq", "serve"],
        env=env,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_serving(proc, url)
        reply = httpx.post(
            f"{url}/api/leads/qualify", json=LEAD, headers={"X-Request-ID": "serve-1"}
        )
        assert reply.headers["X-Request-ID"] == "serve-1"
    finally:
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=30)
    lines = [json.loads(x) for x in stderr.splitlines() if x.startswith("{")]
    assert any(x["logger"].startswith("uvicorn") for x in lines)  # one format for all
    mine = [x for x in lines if x.get("request_id") == "serve-1"]
    assert [x["event"] for x in mine] == ["lead.qualified", "http.request"]
    assert not any(p in stderr for p in PII)
    assert '"GET /api/leads/health' not in stderr  # uvicorn's access log is off
