"""Engines: JSON columns take `JSONText` as it is, and everything else through `json.dumps`.
Migrations: an erased row's id is never given to a new row, on SQLite and PostgreSQL, and the
upgrade that made it so keeps every row."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import Engine, func, inspect, select, table, text

from leadq.backends.rules_engine import RulesBackend
from leadq.config import Settings
from leadq.core.calls import CallAttempt
from leadq.core.lead import LeadInput
from leadq.storage.db import JSONText, _to_json, alembic_config, make_engine, upgrade
from leadq.storage.models import JobItem, LeadOutcome, ProviderCall, Qualification
from leadq.storage.outcomes import record_outcomes
from leadq.storage.store import Store
from tests.storage.test_store import lead, qualify, saved_ids


def test_json_text_is_not_encoded_again() -> None:
    assert _to_json(JSONText('{"a":1}')) == '{"a":1}'
    assert _to_json('{"a":1}') == json.dumps('{"a":1}')  # a plain string is a JSON string
    assert _to_json({"ü": [1, None]}) == json.dumps({"ü": [1, None]})


def test_stored_json_text_reads_back_as_the_model_dump(store: Store) -> None:
    lead = LeadInput.parse(
        {"lead_name": "Zoë Müller", "company_name": 'Krönert "KG"', "job_title": "社長"}
    )
    result = RulesBackend(Settings()).qualify_now(lead)
    ((_, qid),) = store.save([(lead, result)])
    with store.session() as s:
        stored_input, stored_result = s.execute(
            select(Qualification.input, Qualification.result).where(Qualification.id == qid)
        ).one()
    assert stored_input == lead.model_dump(mode="json", exclude_none=True)
    assert stored_result == result.model_dump(mode="json", exclude={"qualification_id", "lead_ref"})


# ---- ids are never given out twice (migration 0006) -----------------------------------------

TABLES = ("leads", "qualifications", "provider_calls", "outcomes", "jobs", "job_items")


def _rows(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, as stored, in id order."""
    every = select(text("*")).order_by(text("1"))
    with engine.connect() as conn:
        return {t: [tuple(r) for r in conn.execute(every.select_from(table(t)))] for t in TABLES}


def _schema(engine: Engine) -> dict[str, Any]:
    found = inspect(engine)
    return {
        t: (
            [(c["name"], str(c["type"]), c["nullable"]) for c in found.get_columns(t)],
            sorted((i["name"], i["column_names"], i["unique"]) for i in found.get_indexes(t)),
            sorted(
                (f["constrained_columns"], f["referred_table"], f["options"])
                for f in found.get_foreign_keys(t)
            ),
            sorted(tuple(u["column_names"]) for u in found.get_unique_constraints(t)),
        )
        for t in TABLES
    }


def _last_call_id(store: Store) -> int:
    with store.session() as s:
        return s.scalar(select(func.max(ProviderCall.id))) or 0


def _save_with_call(store: Store, item: LeadInput) -> tuple[int, int, int]:
    """Qualify `item` with one provider call logged: its lead id, result id and call id."""
    ((ref, qid),) = saved_ids(
        store.save([(item, qualify(item))], [CallAttempt(item, "openai", "m", "ok", 1.0)])
    )
    return ref, qid, _last_call_id(store)


def test_an_erased_leads_ids_are_not_given_to_the_next_lead(store: Store) -> None:
    _save_with_call(store, lead(lead_id="kept"))
    gone = _save_with_call(store, lead(lead_id="erased"))  # the newest: the highest ids
    assert store.erase_lead(gone[0])
    after = _save_with_call(store, lead(lead_id="new"))
    assert all(new > old for new, old in zip(after, gone, strict=True)), (after, gone)
    assert store.get_lead(gone[0]) is None
    assert store.get_qualification(gone[1]) is None


def _linked_rows(store: Store, tmp_path: Path) -> list[tuple[int, int, int]]:
    """Three leads, each with a result, a call, an outcome and a job item."""
    items = [lead(lead_id=f"M-{i}") for i in (1, 2, 3)]
    saved = [_save_with_call(store, item) for item in items]
    # The job as the schema of the revision under test has it (the ORM models are the head's).
    with store.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO jobs (id, source, source_hash, created_at, total) "
                "VALUES ('job1', :source, 'hash', :now, 3)"
            ),
            {"source": str(tmp_path / "leads.csv"), "now": datetime.now(UTC)},
        )
        for row, (_, qid, _) in enumerate(saved, 1):
            conn.execute(
                text(
                    "INSERT INTO job_items (job_id, row, status, qualification_id) "
                    "VALUES ('job1', :row, 'done', :qid)"
                ),
                {"row": row, "qid": qid},
            )
    assert all(record_outcomes(store, [(ref, "won", date(2026, 11, 20)) for ref, _, _ in saved]))
    return saved


@pytest.fixture
def store_at(db_url: str) -> Iterator[Callable[[str], Store]]:
    """A store on a database migrated only up to the given revision."""
    made: list[Store] = []

    def at(revision: str) -> Store:
        engine = make_engine(db_url)
        command.upgrade(alembic_config(engine), revision)
        made.append(Store(engine))
        return made[-1]

    yield at
    for store in made:
        store.close()


def _upgrade_keeps_every_row(store: Store) -> None:
    """Upgrade through 0006: every row, column, index and foreign key is as it was; then on
    to the head (later migrations add columns), every row still there."""
    rows, schema = _rows(store.engine), _schema(store.engine)
    command.upgrade(alembic_config(store.engine), "0006")
    assert _rows(store.engine) == rows
    assert _schema(store.engine) == schema
    upgrade(store.engine)
    assert {t: len(r) for t, r in _rows(store.engine).items()} == {
        t: len(r) for t, r in rows.items()
    }
    if store.engine.dialect.name == "sqlite":
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA foreign_key_check").all() == []
            assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
            # The migration's connection went back to the pool: its foreign keys are on again.
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_upgrade_keeps_every_row_and_ids_are_not_given_out_again(
    store_at: Callable[[str], Store], tmp_path: Path
) -> None:
    store = store_at("0005")
    saved = _linked_rows(store, tmp_path)
    # Erased before the upgrade while Redis was away: its id is still in `cache_erasures`.
    early = _save_with_call(store, lead(lead_id="erased-early"))
    assert store.erase_lead(early[0], cache_outbox=True)

    _upgrade_keeps_every_row(store)

    gone = saved[-1]  # the newest lead left, with rows in every table
    assert store.erase_lead(gone[0])
    with store.session() as s:
        assert s.scalar(select(func.count()).where(JobItem.status == "erased")) == 1
        assert s.scalar(select(func.count()).select_from(LeadOutcome)) == 2
    after = _save_with_call(store, lead(lead_id="new"))
    assert all(new > old for new, old in zip(after, gone, strict=True)), (after, gone)
    assert after[0] > early[0]  # nor the id of a lead still to be removed from Redis


def test_an_upgrade_of_several_migrations_keeps_every_row(
    store_at: Callable[[str], Store], tmp_path: Path
) -> None:
    """From 0004, 0005 runs first, in the same transaction as 0006."""
    store = store_at("0004")
    saved = _linked_rows(store, tmp_path)
    _upgrade_keeps_every_row(store)
    assert store.erase_lead(saved[-1][0])
    assert _save_with_call(store, lead(lead_id="new"))[0] > saved[-1][0]
