"""`LeadService` on the rules engine and a real SQLite file: the pipeline yields each lead
once, invalid leads first; a batch answers in input order and stores in input order."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from sqlalchemy import select

from leadq.config import Settings
from leadq.core.lead import LeadInput
from leadq.core.result import LeadError, QualificationResult
from leadq.qualifier import LeadQualifier
from leadq.service.leads import LeadService, parse_each
from leadq.storage.models import Qualification
from leadq.storage.store import Store


def _leads(strong_lead: dict[str, str]) -> list[Any]:
    return [
        {**strong_lead, "lead_id": "S-0"},
        {**strong_lead, "lead_id": "S-1", "company_name": ""},
        "not an object",
        {**strong_lead, "lead_id": "S-3", "lead_name": "Other Person"},
    ]


def test_parse_each_passes_parsed_leads_and_errors_through(strong_lead: dict[str, str]) -> None:
    lead = LeadInput.parse(strong_lead)
    error = LeadError(error="invalid_input", message="unreadable row", retryable=False)
    parsed = parse_each([lead, error, {"lead_id": " X-9 "}])
    assert parsed[0] is lead
    assert parsed[1] is error
    third = parsed[2]
    assert isinstance(third, LeadError)
    assert third.lead_id == "X-9"
    assert third.field in ("lead_name", "company_name")


def test_pipeline_yields_every_lead_once_invalid_first(
    strong_lead: dict[str, str], tmp_path: Path
) -> None:
    settings = Settings(data_dir=tmp_path)
    service = LeadService(LeadQualifier(settings), Store.open(settings))

    async def steps() -> list[tuple[int, bool, bool]]:
        return [
            (i, lead is None, isinstance(outcome, QualificationResult))
            async for i, lead, outcome, _ in service.pipeline(parse_each(_leads(strong_lead)))
        ]

    got = asyncio.run(steps())
    assert got[:2] == [(1, True, False), (2, True, False)]
    assert sorted(got[2:]) == [(0, False, True), (3, False, True)]


def test_batch_answers_and_stores_in_input_order(
    strong_lead: dict[str, str], tmp_path: Path
) -> None:
    settings = Settings(data_dir=tmp_path)
    store = Store.open(settings)
    service = LeadService(LeadQualifier(settings), store)
    out = asyncio.run(service.batch(_leads(strong_lead)))
    assert [type(o).__name__ for o in out] == [
        "QualificationResult",
        "LeadError",
        "LeadError",
        "QualificationResult",
    ]
    first, last = out[0], out[3]
    assert isinstance(first, QualificationResult)
    assert isinstance(last, QualificationResult)
    assert first.qualification_id is not None
    assert last.qualification_id is not None
    assert first.qualification_id < last.qualification_id
    with store.session() as s:
        ids = list(s.scalars(select(Qualification.id).order_by(Qualification.id)))
    assert ids == [first.qualification_id, last.qualification_id]
    store.close()
