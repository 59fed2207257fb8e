"""The job pipeline over the scripted LLM server and a real SQLite file: every row finished
exactly once (an unreadable row and an invalid lead with their errors, a cached lead pointing
at its stored result, the rest qualified), and running the rows again qualifying nothing."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from leadq.config import Settings
from leadq.core.lead import LeadInput
from leadq.core.result import LeadError
from leadq.qualifier import LeadQualifier
from leadq.service.jobs import run_job
from leadq.service.leads import LeadService, parse_each
from leadq.storage.cache import ResultCache
from leadq.storage.jobs import JobLedger
from leadq.storage.models import Qualification
from leadq.storage.store import Store
from tests.support.llm import answer, scripted_llm_settings
from tests.support.openai_server import ScriptedServer


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
