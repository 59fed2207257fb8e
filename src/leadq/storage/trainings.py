"""Trainings started over HTTP, as rows: started (one running at a time, across every server
process), kept alive by a heartbeat, finished with the model they stored or failed with why.
A running row whose heartbeat is older than STALE_AFTER seconds belongs to a process that
ended: it reads as failed, and no longer blocks a new training."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from leadq.core.errors import Conflict
from leadq.storage.models import ModelTraining
from leadq.storage.store import Store

HEARTBEAT_SECONDS = 5.0
STALE_AFTER = 30.0  # seconds without a heartbeat: the process running it has ended
KEEP = 50  # trainings kept, the newest
STOPPED = "the server stopped before the training finished; start it again"


def _aware(when: datetime | None) -> datetime | None:
    """SQLite gives datetimes back without their zone; they were stored in UTC."""
    return when.replace(tzinfo=UTC) if when is not None and when.tzinfo is None else when


def _as_dict(row: ModelTraining, now: datetime) -> dict[str, Any]:
    beat = _aware(row.heartbeat_at)
    stale = row.state == "running" and beat is not None and now - beat > _stale()
    finished = _aware(row.finished_at)
    return {
        "training_id": row.id,
        "state": "failed" if stale else row.state,
        "source": row.source,
        "started_at": _aware(row.started_at).isoformat(),  # type: ignore[union-attr]
        "finished_at": finished.isoformat() if finished else None,
        "model_id": row.model_id,
        "verdict": row.verdict,
        "error": STOPPED if stale else row.error,
    }


def _stale() -> timedelta:
    return timedelta(seconds=STALE_AFTER)


def start(store: Store, training_id: str, source: str) -> dict[str, Any]:
    """Record a new running training; `Conflict` when another one runs (in any process)."""
    now = datetime.now(UTC)
    with store.writing(), store.session.begin() as s:
        s.execute(  # a running training whose process ended blocks nothing
            update(ModelTraining)
            .where(ModelTraining.state == "running", ModelTraining.heartbeat_at < now - _stale())
            .values(state="failed", error=STOPPED, finished_at=now)
        )
        running = s.scalar(select(ModelTraining.id).where(ModelTraining.state == "running"))
        if running is not None:
            raise Conflict(f"training {running} is still running: ask for it again later")
        row = ModelTraining(
            id=training_id, state="running", source=source[:500], started_at=now, heartbeat_at=now
        )
        s.add(row)
        try:
            s.flush()
        except IntegrityError:  # another process started one between our read and write
            raise Conflict("another training has just started: ask for it again later") from None
        old = select(ModelTraining.id).order_by(ModelTraining.started_at.desc()).offset(KEEP)
        s.execute(delete(ModelTraining).where(ModelTraining.id.in_(old.scalar_subquery())))
        return _as_dict(row, now)


def beat(store: Store, training_id: str) -> None:
    """The training is still running."""
    with store.writing(), store.session.begin() as s:
        s.execute(
            update(ModelTraining)
            .where(ModelTraining.id == training_id, ModelTraining.state == "running")
            .values(heartbeat_at=datetime.now(UTC))
        )


def finish(
    store: Store,
    training_id: str,
    *,
    model_id: int | None = None,
    verdict: str | None = None,
    error: str | None = None,
) -> None:
    """Done, with the model stored and its verdict; or failed, with why (`error`)."""
    now = datetime.now(UTC)
    with store.writing(), store.session.begin() as s:
        s.execute(
            update(ModelTraining)
            .where(ModelTraining.id == training_id)
            .values(
                state="failed" if error is not None else "done",
                model_id=model_id,
                verdict=verdict,
                error=None if error is None else error[:1000],
                finished_at=now,
                heartbeat_at=now,
            )
        )


def get(s: Session, training_id: str) -> dict[str, Any] | None:
    """A training as the API shows it, or None."""
    row = s.get(ModelTraining, training_id)
    return None if row is None else _as_dict(row, datetime.now(UTC))
