"""Prometheus multiprocess mode, in real processes: each one imports leadq's metrics with
PROMETHEUS_MULTIPROC_DIR set (as `leadq serve --workers N` sets it for its workers), counts,
and any one of them scrapes the sum of all. The breaker gauge is the worst state among the
processes still alive. This test process itself stays in single-process mode."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from leadq.observability import metrics as m

# A stand-in worker: counts, moves the breaker, says so, and waits for its stdin to close;
# then it ends as a worker shutting down cleanly does (`retire`), or as a killed one.
WORKER = """
import sys
from leadq.observability import metrics as m
requests, state, retire = int(sys.argv[1]), sys.argv[2], sys.argv[3] == "retire"
for _ in range(requests):
    m.count_http("POST", "/api/leads/qualify", 200)
m.set_breaker("p1", state)
print("ready", flush=True)
sys.stdin.read()
if retire:
    m.retire_process()
"""
SCRAPE = """
import sys
from leadq.observability.metrics import MULTIPROCESS, exposition
assert MULTIPROCESS
sys.stdout.buffer.write(exposition())
"""
NAMES = """
from leadq.observability.metrics import metric_names
print("\\n".join(sorted(metric_names())))
"""


@pytest.fixture
def multiproc_env(tmp_path: Path) -> dict[str, str]:
    directory = tmp_path / "multiproc"
    directory.mkdir()
    return {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(directory)}


def python(code: str, env: dict[str, str]) -> str:
    proc = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def scrape(env: dict[str, str]) -> dict[tuple[str, frozenset], float]:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(python(SCRAPE, env))
        for s in family.samples
    }


QUALIFY_200 = (
    "leadq_http_requests_total",
    frozenset({"method": "POST", "route": "/api/leads/qualify", "status": "200"}.items()),
)
BREAKER_P1 = ("leadq_breaker_state", frozenset({"provider": "p1"}.items()))


class Worker:
    def __init__(self, env: dict[str, str], requests: int, state: str, end: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", WORKER, str(requests), state, end],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        assert self.proc.stdout.readline().strip() == "ready"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.communicate(timeout=30)  # closes stdin: the worker ends
        assert self.proc.returncode == 0


@pytest.fixture
def workers() -> Iterator[list[Worker]]:
    started: list[Worker] = []
    yield started
    for worker in started:
        if worker.proc.poll() is None:
            worker.proc.kill()
            worker.proc.wait(30)


def test_counts_add_up_and_the_breaker_is_the_worst_live_state(
    multiproc_env: dict[str, str], workers: list[Worker]
) -> None:
    directory = Path(multiproc_env["PROMETHEUS_MULTIPROC_DIR"])
    killed = Worker(multiproc_env, 2, "open", "killed")  # ends without retire_process
    clean = Worker(multiproc_env, 3, "closed", "retire")
    workers += [killed, clean]

    samples = scrape(multiproc_env)
    assert samples[QUALIFY_200] == 5
    assert samples[BREAKER_P1] == 2  # one live worker's breaker is open
    assert not [name for name, _ in samples if not name.startswith("leadq_")]  # no process_*
    assert not [labels for _, labels in samples if "pid" in dict(labels)]

    killed.stop()
    samples = scrape(multiproc_env)
    assert samples[QUALIFY_200] == 5  # a dead worker's counts stay in the totals
    assert samples[BREAKER_P1] == 0  # but not its breaker state
    assert not list(directory.glob(f"gauge_live*_{killed.proc.pid}.db"))

    clean.stop()
    assert not list(directory.glob(f"gauge_live*_{clean.proc.pid}.db"))  # retire_process
    samples = scrape(multiproc_env)
    assert samples[QUALIFY_200] == 5
    assert BREAKER_P1 not in samples


def test_same_leadq_metric_names_in_both_modes(multiproc_env: dict[str, str]) -> None:
    assert not m.MULTIPROCESS
    single = m.metric_names()
    multi = set(python(NAMES, multiproc_env).split())
    assert multi == {name for name in single if name.startswith("leadq_")}
    assert "process_resident_memory_bytes" in single  # the collectors single-process mode has
