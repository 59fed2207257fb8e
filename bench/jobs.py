"""Submitted jobs (measurements 7b and 11 in bench/README.md): a 100,000-row file as a job on
the rules engine beside `leadq qualify` on the same file (row 7), and the throughput of 1, 2
and 3 `leadq worker` processes on PostgreSQL and Redis against a provider with latency and a
generous limit. leadq only: the original design has no jobs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from tests.support.workers import REDIS_URL, pg_database, redis_prefix, start_worker, stop

from bench.leads import llm_leads, write_csv
from bench.provider import ProviderProcess
from bench.rows import Row
from bench.served import clean_env, free_port


@dataclass(frozen=True)
class Sizes:
    csv_rows: int = 100_000
    worker_leads: int = 480
    latency: float = 1.0  # seconds the provider waits before each answer
    chunks_per_worker: int = 2  # `leadq worker --concurrency`
    leads_per_chunk: int = 8  # LEADQ_MAX_CONCURRENCY: a chunk's leads in flight


SMOKE = Sizes(csv_rows=300, worker_leads=48, latency=0.1)


@contextmanager
def _serve(env: dict[str, str], log: Path) -> Iterator[str]:
    port = free_port()
    with log.open("a") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "leadq", "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=err,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                httpx.get(f"{url}/api/leads/health", timeout=2)
                break
            except httpx.TransportError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"leadq serve did not start: {log}") from None
                time.sleep(0.1)
        yield url
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _until_done(url: str, job_id: str, seconds: float = 1800) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    while True:
        job: dict[str, Any] = httpx.get(f"{url}/api/jobs/{job_id}", timeout=30).json()["data"]
        if job["status"] in ("done", "cancelled"):
            return job
        if time.monotonic() > deadline:
            raise RuntimeError(f"job {job_id} did not finish: {job}")
        time.sleep(0.5)  # as a page would poll: each look counts the job's rows


def file_job(sizes: Sizes) -> Row:
    """7b. The same kind of file as row 7, submitted to `leadq serve` (rules engine, a fresh
    SQLite file, no broker: the server runs it) as a job: leads a second from the POST to the
    job's end; the note adds the download of the results as JSONL."""
    n = sizes.csv_rows
    row = Row("7b", f"{n:,}-row CSV as a job (serve)", "leads/s", True, ">= row 7")
    with tempfile.TemporaryDirectory(prefix="leadq-bench-") as tmp:
        work = Path(tmp)
        path = write_csv(work / "big.csv", n)
        env = {
            **clean_env(),
            "LEADQ_PROVIDER": "rules",
            "LEADQ_DATA_DIR": str(work),
            "LEADQ_LOG_LEVEL": "WARNING",  # as `leadq qualify` logs: no event per lead
        }
        with _serve(env, work / "serve.log") as url:
            body = path.read_bytes()
            start = time.perf_counter()
            reply = httpx.post(
                f"{url}/api/jobs?name=big.csv",
                content=body,
                headers={"Content-Type": "text/csv"},
                timeout=600,
            )
            reply.raise_for_status()
            accepted = time.perf_counter() - start
            job = _until_done(url, reply.json()["data"]["id"])
            done = time.perf_counter() - start
            with httpx.stream("GET", f"{url}/api/jobs/{job['id']}/results", timeout=600) as results:
                lines = sum(1 for _ in results.iter_lines())
            downloaded = time.perf_counter() - start
    if job["done"] != n or lines != n:
        raise RuntimeError(f"job ended with {job['done']} rows done, {lines} downloaded, of {n}")
    row.leadq.append(n / done)
    row.note = (
        f"{done:.1f}s from the POST to done (accepted, file read and rows stored, at "
        f"{accepted:.1f}s); {downloaded:.1f}s with the JSONL download"
    )
    return row


def workers(sizes: Sizes) -> list[Row]:
    """11a-11c. `leadq serve` with a Redis broker on PostgreSQL, and 1, 2 then 3 `leadq
    worker --concurrency 2` processes (a chunk's leads 8 at a time): leads a second from
    the POST to the job's end, against a provider waiting `latency` before each answer and
    advertising limits that never bind. Ideal: workers x 2 chunks x 8 leads / latency."""
    rows = []
    per_worker = sizes.chunks_per_worker * sizes.leads_per_chunk / sizes.latency
    with (
        tempfile.TemporaryDirectory(prefix="leadq-bench-") as tmp,
        ProviderProcess(delay=sizes.latency) as provider,
        pg_database("leadq_bench_jobs") as db,
        redis_prefix() as prefix,
    ):
        work = Path(tmp)
        env = {
            **clean_env(),
            "LEADQ_PROVIDER": "openai",
            "OPENAI_BASE_URL": provider.url,
            "OPENAI_API_KEY": "sk-bench",
            "LEADQ_MODEL": "bench-model",
            "DATABASE_URL": db,
            "LEADQ_BROKER_URL": REDIS_URL,
            "REDIS_URL": REDIS_URL,
            "LEADQ_REDIS_PREFIX": prefix,
            "LEADQ_JOB_CHUNK_ROWS": str(sizes.leads_per_chunk * 2),
            "LEADQ_MAX_CONCURRENCY": str(sizes.leads_per_chunk),
            "LEADQ_LOG_LEVEL": "WARNING",
        }
        with _serve(env, work / "serve.log") as url:
            for count, key in ((1, "11a"), (2, "11b"), (3, "11c")):
                procs = [
                    start_worker(env, work / f"worker{i}.log", sizes.chunks_per_worker)
                    for i in range(count)
                ]
                try:
                    _wait_workers(url, count)
                    leads = llm_leads(sizes.worker_leads, f"W{count}")
                    start = time.perf_counter()
                    reply = httpx.post(f"{url}/api/jobs", json=leads, timeout=120)
                    reply.raise_for_status()
                    job = _until_done(url, reply.json()["data"]["id"])
                    wall = time.perf_counter() - start
                finally:
                    for proc in procs:
                        stop(proc)
                rate = job["done"] / wall
                ideal = count * per_worker
                row = Row(
                    key,
                    f"Job throughput, {count} worker{'s' if count > 1 else ''}",
                    "leads/s",
                    True,
                    "scales with workers",
                )
                row.leadq.append(rate)
                row.note = (
                    f"{job['done']} leads in {wall:.1f}s, {sizes.latency:g}s latency: "
                    f"{rate / ideal:.0%} of the {ideal:.0f}/s that {count} x 2 chunks x "
                    f"{sizes.leads_per_chunk} in flight allow"
                )
                rows.append(row)
    base = rows[0].median() or 0.0
    for r in rows[1:]:
        r.met = (r.median() or 0.0) > base * 1.5
    return rows


def _wait_workers(url: str, count: int, seconds: float = 120) -> None:
    """Until `count` workers say they are alive (the ones stopped before have left)."""
    deadline = time.monotonic() + seconds
    while True:
        text = httpx.get(f"{url}/metrics", timeout=30).text
        alive = next(
            (
                float(line.split()[-1])
                for line in text.splitlines()
                if line.startswith("leadq_job_workers ")
            ),
            0.0,
        )
        if alive == count:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"{alive:g} workers alive, not {count}")
        time.sleep(0.2)
