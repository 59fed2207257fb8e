"""Streaming and memory (measurements 4 and 5 in bench/README.md): a real `leadq serve`
process beside the baseline's HTTP API (the original design's endpoints under uvicorn), both
against the bench provider, over real HTTP."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench.leads import llm_leads
from bench.provider import ROOT, ProviderProcess, wait_http
from bench.rows import Row

STREAM_SECONDS = 0.6  # the provider streams its answer over this long (streaming)
MEMORY_LIMIT_MB = 200


@dataclass(frozen=True)
class Sizes:
    streams: int = 5
    in_flight: int = 500
    hold: float = 5.0  # the provider's delay while the requests are in flight


SMOKE = Sizes(streams=1, in_flight=20, hold=1.0)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def clean_env() -> dict[str, str]:
    """This environment without anything that configures leadq or a provider."""
    prefixes = ("LEADQ_", "CEREBRAS_", "OPENAI_")
    names = {"DATABASE_URL", "REDIS_URL"}
    return {k: v for k, v in os.environ.items() if not k.startswith(prefixes) and k not in names}


class App:
    """`leadq serve` or the baseline's app in a subprocess, on a free port."""

    def __init__(self, side: str, provider_url: str, workdir: Path) -> None:
        self.side = side
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.workdir = workdir
        if side == "leadq":
            cmd = [sys.executable, "-m", "leadq", "serve", "--host", "127.0.0.1"]
            cmd += ["--port", str(self.port)]
            extra = {
                "LEADQ_PROVIDER": "openai",
                "OPENAI_BASE_URL": provider_url,
                "OPENAI_API_KEY": "sk-bench",
                "LEADQ_MODEL": "test-model",
                "LEADQ_DATA_DIR": str(workdir),
            }
        else:
            cmd = [sys.executable, "-m", "bench.baseline", "serve", "--port", str(self.port)]
            cmd += ["--base-url", provider_url]
            extra = {"PYTHONPATH": str(ROOT)}
        self.cmd = cmd
        self.env = {**clean_env(), **extra}
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> App:
        log = (self.workdir / f"{self.side}.log").open("wb")
        cwd = self.workdir if self.side == "leadq" else ROOT  # leadq reads .env from its cwd
        self.proc = subprocess.Popen(self.cmd, cwd=cwd, env=self.env, stdout=log, stderr=log)
        try:
            wait_http(f"{self.url}/api/leads/health", 60)
        except RuntimeError:
            self.__exit__()
            tail = (self.workdir / f"{self.side}.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"{self.side} app did not start:\n{tail}") from None
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None

    def status(self, field: str) -> float:
        """`VmRSS` or `VmHWM` of the process, in MB."""
        if self.proc is None:
            raise RuntimeError(f"{self.side} app is not running")
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
        raise RuntimeError(f"no {field} for pid {self.proc.pid}")


async def _stream_times(url: str, lead: dict[str, Any], side: str) -> tuple[float, float]:
    """Seconds from the request to the first partial event and to the final result."""
    first = final = None
    seen: list[str] = []
    kind = ""  # the `event:` name of the data line that follows (leadq names its events)
    async with httpx.AsyncClient(timeout=60) as client:
        start = time.perf_counter()
        async with client.stream("POST", f"{url}/api/leads/qualify-stream", json=lead) as resp:
            async for line in resp.aiter_lines():
                if line.startswith("event:"):
                    kind = line[6:].strip()
                if not line.startswith("data:"):
                    continue
                now = time.perf_counter() - start
                seen.append(line[:300])
                payload = json.loads(line[5:])
                if side == "leadq":
                    if kind == "partial" and first is None:
                        first = now
                    elif kind == "result":
                        final = now
                elif "error" not in payload:  # the baseline's stream: one event, the result
                    first = now if first is None else first
                    final = now
    if first is None or final is None:
        raise RuntimeError(f"{side}: no partial or no result in the stream: {seen}")
    return first, final


def _streams(app: App, sizes: Sizes, row: Row, times: list[tuple[float, float]]) -> None:
    leads = llm_leads(sizes.streams + 1, f"s{app.side}")
    asyncio.run(_stream_times(app.url, leads[0], app.side))  # warm up
    for lead in leads[1:]:
        first, final = asyncio.run(_stream_times(app.url, lead, app.side))
        times.append((first, final))
        getattr(row, app.side).append(first / final * 100)


async def _hold(app: App, n: int, tag: str) -> tuple[float, int]:
    """`n` concurrent `/qualify` requests; the highest RSS seen while they are in flight (MB)
    and how many were answered 200."""
    peak = 0.0
    done = asyncio.Event()

    async def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, app.status("VmRSS"))
            await asyncio.sleep(0.02)

    limits = httpx.Limits(max_connections=n + 10, max_keepalive_connections=n + 10)
    async with httpx.AsyncClient(timeout=120, limits=limits) as client:
        sampler = asyncio.create_task(sample())
        replies = await asyncio.gather(
            *(client.post(f"{app.url}/api/leads/qualify", json=lead) for lead in llm_leads(n, tag)),
            return_exceptions=True,
        )
        done.set()
        await sampler
    ok = sum(isinstance(r, httpx.Response) and r.status_code == 200 for r in replies)
    return peak, ok


def served(sizes: Sizes, want: set[str]) -> list[Row]:
    """4. Time to the first partial SSE event as a share of the time to the final result,
    with a provider that streams its answer over 600 ms.
    5. RSS of the server process idle (after one answered request), and its peak with
    `in_flight` requests held open by a slow provider.
    One provider and one server process per side serve both."""
    n = sizes.in_flight
    stream = Row("4", "Stream: first partial / final result", "% of final", False, "<= 25%")
    idle = Row("5", "Server RSS, idle", "MB", False, f"<= {MEMORY_LIMIT_MB} MB")
    busy = Row("5b", f"Server RSS, {n} requests in flight", "MB", False, f"<= {MEMORY_LIMIT_MB} MB")
    stream.baseline, idle.baseline, busy.baseline = [], [], []
    times: dict[str, list[tuple[float, float]]] = {"leadq": [], "baseline": []}
    answered = []
    with (
        ProviderProcess() as provider,
        tempfile.TemporaryDirectory(prefix="leadq-bench-") as tmp,
    ):
        for side in ("leadq", "baseline"):
            # Defaults on both sides: leadq's HTTP pool holds at least 512 connections.
            with App(side, provider.url, Path(tmp)) as app:
                provider.set(delay=0.0, stream_seconds=0.0)
                asyncio.run(_hold(app, 1, f"m{side}"))  # one answered lead: imports done
                time.sleep(0.5)
                getattr(idle, side).append(app.status("VmRSS"))
                if "4" in want:
                    provider.set(stream_seconds=STREAM_SECONDS)
                    _streams(app, sizes, stream, times[side])
                if "5" in want:
                    provider.set(delay=sizes.hold, stream_seconds=0.0)
                    peak, ok = asyncio.run(_hold(app, n, f"M{side}"))
                    getattr(busy, side).append(max(peak, app.status("VmHWM")))
                    answered.append(f"{side} {ok}/{n} answered")
    rows = []
    if "4" in want:
        ms = {
            side: (
                statistics.median(f for f, _ in pairs) * 1000,
                statistics.median(t for _, t in pairs) * 1000,
            )
            for side, pairs in times.items()
        }
        stream.note = "first / final, median ms: " + ", ".join(
            f"{side} {first:.0f} / {final:.0f}" for side, (first, final) in ms.items()
        )
        stream.met = (stream.median() or 100) <= 25
        rows.append(stream)
    if "5" in want:
        idle.note = "after one answered request"
        busy.note = "; ".join(answered) + f"; the provider holds each for {sizes.hold:g}s"
        busy.note += "; both with their defaults (leadq's HTTP pool: 512 connections)"
        idle.met = (idle.median() or 1e9) <= MEMORY_LIMIT_MB
        busy.met = (busy.median() or 1e9) <= MEMORY_LIMIT_MB
        rows += [idle, busy]
    return rows
