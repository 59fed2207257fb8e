"""The rules engine, in one process and through the CLI into SQLite (measurements 6 and 7 in
bench/README.md). The original design has neither, so these rows have no baseline: they are
held to their targets."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench.leads import rules_leads, write_csv
from bench.rows import Row
from bench.served import clean_env
from leadq.config import Settings
from leadq.core.result import QualificationResult
from leadq.qualifier import LeadQualifier


@dataclass(frozen=True)
class Sizes:
    rules_leads: int = 10_000
    csv_rows: int = 100_000
    repeat: int = 3


SMOKE = Sizes(rules_leads=200, csv_rows=300, repeat=1)


def rules_engine(sizes: Sizes) -> Row:
    """6. Leads a second through `LeadQualifier.qualify_leads_batch` on the rules engine."""
    row = Row("6", "Rules engine, one process", "leads/s", True, ">= 10,000/s")
    q = LeadQualifier(Settings(_env_file=None, provider="rules"))  # type: ignore[call-arg]
    try:
        leads = rules_leads(sizes.rules_leads)
        q.qualify_leads_batch(leads[:200])  # first-use costs (regexes, the ICP file)
        cpu = []
        for _ in range(sizes.repeat):
            start, start_cpu = time.perf_counter(), time.process_time()
            outcomes = q.qualify_leads_batch(leads)
            wall = time.perf_counter() - start
            cpu.append((time.process_time() - start_cpu) / len(leads) * 1e6)
            row.leadq.append(len(leads) / wall)
        ok = sum(isinstance(o, QualificationResult) for o in outcomes)
    finally:
        q.close()
    row.note = f"{len(leads)} leads ({ok} valid); CPU {min(cpu):.0f} µs a lead at best"
    row.met = (row.median() or 0) >= 10_000
    return row


def csv_to_sqlite(sizes: Sizes) -> Row:
    """7. `leadq qualify big.csv -q` on the rules engine into a fresh SQLite file, end to
    end: process start, reading, qualifying, storing, writing JSONL (to /dev/null)."""
    n = sizes.csv_rows
    row = Row("7", f"{n:,}-row CSV into SQLite (CLI)", "leads/s", True, ">= 5,000/s")
    with tempfile.TemporaryDirectory(prefix="leadq-bench-") as tmp:
        work = Path(tmp)
        path = write_csv(work / "big.csv", n)
        env = {**clean_env(), "LEADQ_PROVIDER": "rules", "LEADQ_DATA_DIR": str(work)}
        cmd = [sys.executable, "-m", "leadq", "qualify", str(path), "-q"]
        start = time.perf_counter()
        proc = subprocess.Popen(
            cmd, cwd=work, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
        if proc.returncode not in (0, 1):  # 1: some example rows are invalid on purpose
            raise RuntimeError(f"leadq qualify exited {proc.returncode}:\n{err[-2000:]}")
    row.leadq.append(n / wall)
    row.note = f"{wall:.1f}s wall, peak RSS {usage.ru_maxrss / 1024:.0f} MB"
    row.met = (row.median() or 0) >= 5_000
    return row
