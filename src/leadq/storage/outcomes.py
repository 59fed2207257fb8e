"""Lead outcomes (won, lost, no_response, disqualified): recorded against the lead's latest
qualification, so an experiment can tell which prompt variant and action led there."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any, Literal, get_args

from sqlalchemy import func, select

from leadq.storage.models import Lead, LeadOutcome, Qualification
from leadq.storage.store import Store

OutcomeName = Literal["won", "lost", "no_response", "disqualified"]
OUTCOMES: tuple[str, ...] = get_args(OutcomeName)


def _as_dict(o: LeadOutcome, prompt_version: str | None, action: str | None) -> dict[str, Any]:
    return {
        "id": o.id,
        "lead_ref": o.lead_ref,
        "outcome": o.outcome,
        "date": o.outcome_date.isoformat(),
        "recorded_at": o.recorded_at.isoformat(),
        "qualification_id": o.qualification_id,
        "prompt_version": prompt_version,
        "recommended_action": action,
    }


def record_outcomes(
    store: Store, items: Sequence[tuple[int, str, date]]
) -> list[dict[str, Any] | None]:
    """Record `(lead_ref, outcome, date)` items in one transaction; None for a lead that is
    not stored. Raises ValueError for an outcome that is not one of `OUTCOMES`."""
    for _, outcome, _ in items:
        if outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {', '.join(OUTCOMES)}, not {outcome!r}")
    out: list[dict[str, Any] | None] = []
    now = datetime.now(UTC)
    with store.session.begin() as s:
        for ref, outcome, on in items:
            lead = s.get(Lead, ref)
            if lead is None:
                out.append(None)
                continue
            row = LeadOutcome(
                lead_ref=ref,
                qualification_id=lead.latest_qualification_id,
                outcome=outcome,
                outcome_date=on,
                recorded_at=now,
            )
            s.add(row)
            s.flush()
            q = s.get(Qualification, row.qualification_id) if row.qualification_id else None
            out.append(
                _as_dict(row, q.prompt_version if q else None, q.recommended_action if q else None)
            )
    return out


def find_lead_ref(
    store: Store,
    *,
    lead_ref: str | None = None,
    lead_id: str | None = None,
    email: str | None = None,
) -> int | None:
    """The stored lead named by its id, else the caller's `lead_id`, else its email."""
    with store.session() as s:
        if lead_ref:
            ref = int(lead_ref) if lead_ref.strip().isdigit() else None
            return ref if ref is not None and s.get(Lead, ref) is not None else None
        if lead_id:
            cond = Lead.lead_id == lead_id.strip()
        elif email:
            cond = func.lower(Lead.email) == email.strip().lower()
        else:
            return None
        return s.scalar(select(Lead.id).where(cond).order_by(Lead.id).limit(1))
