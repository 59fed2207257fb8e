"""`leadq serve --workers 2` in real processes: two workers answer on one port, /metrics adds
up what both counted whichever of them answers the scrape, and a signal stops the lot and
removes the metrics directory."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from tests.support.serve import free_port, wait_until_serving

LEADS = 20


def lead(i: int) -> dict[str, str]:
    return {"lead_name": f"Lead {i}", "company_name": f"Company {i}", "job_title": "VP Sales"}


def scraped_leads(url: str) -> tuple[float, float]:
    """Leads counted (all actions) and qualify requests answered, from one scrape."""
    reply = httpx.get(f"{url}/metrics", timeout=10)
    assert reply.status_code == 200
    samples = [s for f in text_string_to_metric_families(reply.text) for s in f.samples]
    assert not [s for s in samples if not s.name.startswith("leadq_")]  # no process_* there
    leads = sum(s.value for s in samples if s.name == "leadq_leads_total")
    qualify = sum(
        s.value
        for s in samples
        if s.name == "leadq_http_requests_total"
        and s.labels == {"method": "POST", "route": "/api/leads/qualify", "status": "200"}
    )
    return leads, qualify


def leads_by_process(directory: Path) -> dict[int, float]:
    """Each worker's own count of leads, read from its file in the multiprocess directory."""
    counts = {}
    for path in directory.glob("counter_*.db"):
        pid = int(path.stem.removeprefix("counter_"))
        counts[pid] = sum(
            s.value
            for metric in MultiProcessCollector.merge([str(path)])
            for s in metric.samples
            if s.name == "leadq_leads_total"
        )
    return counts


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_two_workers_one_port_and_metrics_across_them(tmp_path: Path, stop: int) -> None:
    port, tmp = free_port(), tmp_path / "tmp"
    tmp.mkdir()
    env = {
        **os.environ,
        "LEADQ_PROVIDER": "rules",
        "LEADQ_DATA_DIR": str(tmp_path / "data"),
        "TMPDIR": str(tmp),  # where serve makes its metrics directory
    }
    log = tmp_path / "serve.log"  # a file, not a pipe: nobody reads a pipe while it fills
    with log.open("w", encoding="utf-8") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-m", "leadq", "serve", "--workers", "2", "--port", str(port)],
            env=env,
            stderr=stderr,
            stdout=subprocess.DEVNULL,
            start_new_session=True,  # its own process group, to clean up after a failure
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(proc, url)
        (directory,) = tmp.glob("leadq-metrics-*")

        sent = 0
        # A new connection for each request, so the kernel hands them to either worker. Which
        # one gets how many is up to it: send more until both have answered.
        while sent < LEADS or (len([n for n in leads_by_process(directory).values() if n]) < 2):
            assert sent < 10 * LEADS, (
                f"one worker answered everything: {leads_by_process(directory)}"
            )
            reply = httpx.post(f"{url}/api/leads/qualify", json=lead(sent), timeout=10)
            assert reply.status_code == 200, reply.text
            sent += 1
        by_process = leads_by_process(directory)
        assert sum(by_process.values()) == sent

        for _ in range(2):  # whichever worker answers each scrape
            assert scraped_leads(url) == (sent, sent)
    finally:
        proc.send_signal(stop)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            raise
    logged = log.read_text(encoding="utf-8")
    assert proc.returncode == 0, logged
    assert "Traceback" not in logged
    lines = [json.loads(x) for x in logged.splitlines() if x.startswith("{")]
    # Each worker logs as a single `leadq serve` does: JSON lines, every lead and request.
    assert len([x for x in lines if x["event"].startswith("Started server process")]) == 2
    assert len([x for x in lines if x["event"] == "lead.qualified"]) == sent
    assert not list(tmp.glob("leadq-metrics-*"))  # removed once the workers have exited
    for pid in by_process:  # every worker process has ended
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
