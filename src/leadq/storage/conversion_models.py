"""Trained conversion models as versions: saved with their report, listed, activated (one at a
time; each activation is logged) and deactivated. `active_scorer` is what a serving process
polls for the model to score with. `scored_outcomes` is what a model's drift is measured on."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from leadq.storage.models import ConversionModel, LeadOutcome, Qualification
from leadq.storage.outcomes import latest_outcome_ids

log = logging.getLogger("leadq.models")


def summary(m: ConversionModel) -> dict[str, Any]:
    """A model as listings show it: no report tables, no weights."""
    report = m.report
    return {
        "id": m.id,
        "created_at": m.created_at.isoformat(),
        "label": m.label,
        "source": m.source,
        "rows": m.rows,
        "converted": m.converted,
        "not_converted": m.not_converted,
        "fingerprint": m.fingerprint,
        "auc": report.get("model", {}).get("auc"),
        "auc_ci95": report.get("model", {}).get("auc_ci95"),
        "brier": report.get("model", {}).get("brier"),
        "verdict": report.get("verdict"),
        "active": m.active,
        "activated_at": m.activated_at.isoformat() if m.activated_at else None,
    }


def save_model(
    s: Session,
    *,
    report: dict[str, Any],
    scorer: dict[str, Any],
    model: bytes,
    fingerprint: str,
) -> int:
    """Store a trained model (inactive); its id."""
    row = ConversionModel(
        created_at=datetime.now(UTC),
        label=str(report.get("label", ""))[:500],
        source=str(report.get("source", ""))[:500],
        rows=int(report["rows"]),
        converted=int(report["converted"]),
        not_converted=int(report["not_converted"]),
        fingerprint=fingerprint,
        report=report,
        scorer=scorer,
        model=model,
        active=False,
    )
    s.add(row)
    s.flush()
    return row.id


def list_models(s: Session) -> list[dict[str, Any]]:
    """Every model, the newest first."""
    return [
        summary(m) for m in s.scalars(select(ConversionModel).order_by(ConversionModel.id.desc()))
    ]


def get_model(s: Session, model_id: int) -> dict[str, Any] | None:
    """A model with its full report, or None."""
    m = s.get(ConversionModel, model_id)
    return None if m is None else {**summary(m), "report": m.report}


def activate(s: Session, model_id: int) -> bool:
    """Make `model_id` the one active model (False: no such model)."""
    if s.get(ConversionModel, model_id) is None:
        return False
    s.execute(update(ConversionModel).where(ConversionModel.active).values(active=False))
    s.flush()
    s.execute(
        update(ConversionModel)
        .where(ConversionModel.id == model_id)
        .values(active=True, activated_at=datetime.now(UTC))
    )
    log.info("conversion model %d activated", model_id)
    return True


def deactivate(s: Session) -> int | None:
    """No model active any more; the id of the one that was, if any."""
    was = s.scalar(select(ConversionModel.id).where(ConversionModel.active))
    if was is not None:
        s.execute(update(ConversionModel).where(ConversionModel.active).values(active=False))
        log.info("conversion model %d deactivated", was)
    return was


def active_id(engine: Engine) -> int | None:
    """The active model's id, or None."""
    with engine.connect() as conn:
        return conn.scalar(select(ConversionModel.id).where(ConversionModel.active))


def scorer_of(engine: Engine, model_id: int) -> dict[str, Any] | None:
    """A model's scoring weights (see `leadq.learning.scorer`)."""
    with engine.connect() as conn:
        return conn.scalar(select(ConversionModel.scorer).where(ConversionModel.id == model_id))


def active_model(s: Session) -> dict[str, Any] | None:
    """The active model as listings show it, or None."""
    m = s.scalar(select(ConversionModel).where(ConversionModel.active))
    return None if m is None else summary(m)


def trained_at(s: Session, model_id: int) -> datetime | None:
    """When a model was trained (stored), or None: no such model."""
    found = s.scalar(select(ConversionModel.created_at).where(ConversionModel.id == model_id))
    if found is not None and found.tzinfo is None:  # SQLite gives its datetimes back naive
        found = found.replace(tzinfo=UTC)
    return found


def scored_outcomes(s: Session, model_id: int) -> list[tuple[float, bool]]:
    """(probability, won) for each lead whose latest outcome is won or lost and was recorded
    against a result that model `model_id` scored (the result's `model_version`)."""
    result = Qualification.result
    rows = s.execute(
        select(result["conversion_probability"].as_float(), LeadOutcome.outcome)
        .join(Qualification, Qualification.id == LeadOutcome.qualification_id)
        .where(
            LeadOutcome.id.in_(latest_outcome_ids()),
            LeadOutcome.outcome.in_(("won", "lost")),
            result["model_version"].as_integer() == model_id,
        )
    ).all()
    return [(float(p), outcome == "won") for p, outcome in rows if p is not None]
