"""The job pipeline over the scripted LLM server and a real SQLite file: every row finished
exactly once (an unreadable row and an invalid lead with their errors, a cached lead pointing
at its stored result, the rest qualified), and running the rows again qualifying nothing."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text

from leadq.config import Settings
from leadq.core.lead import LeadInput
from leadq.core.result import LeadError
from leadq.qualifier import LeadQualifier
from leadq.service.job_runner import JobRunner
from leadq.service.jobs import run_chunk, run_job
from leadq.service.leads import LeadService, parse_each
from leadq.storage import chunks
from leadq.storage.cache import ResultCache
from leadq.storage.jobs import JobLedger
from leadq.storage.models import Qualification
from leadq.storage.store import Store
from leadq.storage.writer import JobWriter, WriterError
from tests.support.llm import answer, scripted_llm_settings
from tests.support.openai_server import ScriptedServer
from tests.support.workers import leads


def _stored(store: Store) -> int:
    with store.session() as s:
        return s.scalar(select(func.count()).select_from(Qualification)) or 0


def test_every_row_finished_once_with_cache_hits_and_errors(
    openai_server: ScriptedServer, strong_lead: dict[str, str], tmp_path: Path
) -> None:
    openai_server.handler = lambda body: answer(body)
    settings = Settings(**scripted_llm_settings(openai_server.url), data_dir=tmp_path)
    store = Store.open(settings)
    qualifier = LeadQualifier(settings)
    service = LeadService(qualifier, store, ResultCache.from_settings(store, settings))
    unreadable = LeadError(error="invalid_input", message="row 2: too long", retryable=False)
    rows: list[Any] = [
        {**strong_lead, "lead_id": "J-1"},
        unreadable,
        {**strong_lead, "lead_id": "J-3", "lead_name": " "},
        {**strong_lead, "lead_id": "J-4", "lead_name": "Other Person"},
    ]
    try:
        # J-1 was qualified before: its row is a cache hit, answered with no provider call.
        earlier = asyncio.run(service.qualify(LeadInput.parse(rows[0])))
        calls = openai_server.completed
        ledger = JobLedger(store)
        job, _ = ledger.open(tmp_path / "leads.csv", "hash", len(rows))
        advanced: list[None] = []
        run_job(
            service,
            ledger,
            job.id,
            [1, 2, 3, 4],
            parse_each(rows),
            4,
            lambda: advanced.append(None),
        )

        assert len(advanced) == 4
        assert openai_server.completed - calls == 1  # J-4 only
        out = {row: (status, payload) for row, status, payload in ledger.outcomes(job.id)}
        assert out[1][0] == "done"
        assert out[1][1] is not None
        assert out[1][1]["qualification_id"] == earlier.qualification_id
        assert out[2] == ("error", unreadable.model_dump(mode="json"))
        assert out[3][0] == "error"
        assert out[3][1] is not None
        assert out[3][1]["field"] == "lead_name"
        assert out[4][0] == "done"
        assert out[4][1] is not None
        assert out[4][1]["lead_id"] == "J-4"
        stored = _stored(store)
        assert stored == 2  # the earlier J-1 and the job's J-4

        # The same rows again (a second runner, a redelivered chunk): nothing is done twice.
        run_job(service, ledger, job.id, [1, 2, 3, 4], parse_each(rows), 4)
        assert _stored(store) == stored
        assert openai_server.completed - calls == 1
    finally:
        qualifier.close()
        store.close()


def test_chunks_of_two_jobs_through_one_writer_are_done_once_stored_and_a_dead_one_hands_back(
    tmp_path: Path,
) -> None:
    settings = Settings(provider="rules", data_dir=tmp_path)
    store = Store.open(settings)
    qualifier = LeadQualifier(settings)
    service = LeadService(qualifier, None, ResultCache.from_settings(store, settings))
    ledger = JobLedger(store)
    owner = chunks.make_owner("test")
    first, _ = chunks.submit(store, "a", leads(30, "A"), 30, {})
    second, _ = chunks.submit(store, "b", leads(60, "B"), 30, {})
    url = settings.effective_database_url
    writer = JobWriter(url, events=store.events, timeout=settings.db_timeout, patient=True)
    qualified: list[str] = []

    def run(chunk: chunks.Chunk, writer: JobWriter) -> str:
        return asyncio.run(
            run_chunk(
                service,
                ledger,
                chunk,
                owner,
                30,
                writer=writer,
                qualified=lambda: qualified.append(chunk.job_id),
            )
        )

    try:
        # One writer for chunks of two jobs; each chunk done (and its job closed) once its
        # rows are stored, not just handed over.
        for job_id in (first, second):
            chunk = chunks.claim_next(store, owner, 30)
            assert chunk is not None
            assert chunk.job_id == job_id
            assert run(chunk, writer) == "done"
            assert ledger.pending(job_id) == (
                [] if job_id == first else list(range(chunk.last_row + 1, 61))
            )
        assert qualified == [first, second]
        assert (chunks.describe_job(store, first) or {})["status"] == "done"

        # The writer killed: the next chunk fails, is handed back (queued), its rows pending.
        pid = writer.pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        chunk = chunks.claim_next(store, owner, 30)
        assert chunk is not None
        with pytest.raises(WriterError, match="ended without a report"):
            run(chunk, writer)
        assert not writer.usable
        state = chunks.chunk_state(store, second, chunk.first_row)
        assert state is not None
        assert state[0] == "queued"
        assert ledger.pending(second) == list(range(31, 61))

        # Taken up again with a new writer: every row finished once.
        again = chunks.claim_next(store, owner, 30)
        assert again is not None
        assert (again.first_row, again.attempts) == (31, 2)
        fresh = JobWriter(url, events=store.events, timeout=settings.db_timeout, patient=True)
        try:
            assert run(again, fresh) == "done"
        finally:
            fresh.close()
        described = chunks.describe_job(store, second) or {}
        assert (described["status"], described["succeeded"]) == ("done", 60)
        assert _stored(store) == 90
    finally:
        with suppress(WriterError):
            writer.close()
        qualifier.close()
        store.close()


def test_a_runner_stopped_mid_job_stops_its_writer_and_a_new_one_finishes_each_row_once(
    tmp_path: Path,
) -> None:
    settings = Settings(provider="rules", data_dir=tmp_path)
    store = Store.open(settings)
    job_id, _ = chunks.submit(store, "big", leads(20_000, "S"), 1000, {})

    def until(check: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        deadline = time.monotonic() + 120
        while True:
            job = chunks.describe_job(store, job_id) or {}
            if check(job):
                return job
            assert time.monotonic() < deadline, job
            time.sleep(0.05)

    try:
        runner = JobRunner(settings, store).start()
        until(lambda j: j["done"] >= 2000)
        writer = runner._writer
        runner.close()
        assert writer is not None
        assert writer.pid is not None
        assert not writer.usable
        assert not Path(f"/proc/{writer.pid}").exists()  # ended, and reaped
        with store.engine.connect() as conn:
            statuses = conn.execute(
                text("SELECT DISTINCT status FROM job_chunks WHERE job_id = :j"), {"j": job_id}
            )
            assert "running" not in set(statuses.scalars())  # handed back, or done
        stopped = chunks.describe_job(store, job_id) or {}
        assert stopped["status"] != "done"
        assert _stored(store) == stopped["done"]  # every row marked done is stored

        again = JobRunner(settings, store).start()
        try:
            job = until(lambda j: j["status"] == "done")
        finally:
            again.close()
        assert (job["succeeded"], job["failed"]) == (20_000, 0)
        assert _stored(store) == 20_000
    finally:
        store.close()
