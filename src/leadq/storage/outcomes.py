"""Lead outcomes (won, lost, no_response, disqualified): recorded against the lead's latest
qualification, so an experiment can tell which prompt variant and action led there. A lead's
latest outcome is the last one recorded: a later record supersedes an earlier one."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import ColumnElement, ScalarSelect, Select, exists, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session, aliased

from leadq.core.outcomes import OUTCOMES, Outcome
from leadq.storage.models import Lead, LeadOutcome, Qualification

if TYPE_CHECKING:
    from leadq.storage.store import Store

OutcomeName = Outcome
__all__ = ["OUTCOMES", "OutcomeName"]
LookupKind = Literal["lead_ref", "lead_id", "email"]
LOOKUPS: tuple[LookupKind, ...] = ("lead_ref", "lead_id", "email")  # the order tried
CHUNK = 500  # values per IN (...) lookup


def latest_outcome_id(
    lead_ref: ColumnElement[int] | InstrumentedAttribute[int],
) -> ScalarSelect[int]:
    """The id of the latest outcome of the lead `lead_ref` (a correlated subquery, one seek
    in the `lead_ref` index per lead)."""
    o = aliased(LeadOutcome)
    return select(func.max(o.id)).where(o.lead_ref == lead_ref).scalar_subquery()


def latest_outcome_ids() -> Select[Any]:
    """The ids of every lead's latest outcome."""
    return select(func.max(LeadOutcome.id)).group_by(LeadOutcome.lead_ref)


def latest_outcome_is(
    lead_ref: ColumnElement[int] | InstrumentedAttribute[int], outcome: str
) -> ColumnElement[bool]:
    """Whether the lead's latest outcome is `outcome` (`none`: it has no outcome)."""
    if outcome == "none":
        return ~exists().where(LeadOutcome.lead_ref == lead_ref)
    latest = select(LeadOutcome.lead_ref).where(
        LeadOutcome.id.in_(latest_outcome_ids()), LeadOutcome.outcome == outcome
    )
    return lead_ref.in_(latest)


def outcome_dict(o: LeadOutcome, prompt_version: str | None, action: str | None) -> dict[str, Any]:
    """An outcome as the API shows it, with the variant and action it was recorded against."""
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


def lead_outcomes(s: Session, ref: int) -> list[dict[str, Any]]:
    """The lead's outcomes, the latest first."""
    rows = s.execute(
        select(LeadOutcome, Qualification.prompt_version, Qualification.recommended_action)
        .outerjoin(Qualification, Qualification.id == LeadOutcome.qualification_id)
        .where(LeadOutcome.lead_ref == ref)
        .order_by(LeadOutcome.id.desc())
    ).all()
    return [outcome_dict(o, version, action) for o, version, action in rows]


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
    with store.writing(), store.session.begin() as s:
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
                outcome_dict(
                    row, q.prompt_version if q else None, q.recommended_action if q else None
                )
            )
    return out


def find_lead_refs(store: Store, lookups: Sequence[tuple[LookupKind, str]]) -> list[int | None]:
    """The stored lead each `(kind, value)` names, None where none is: by its id
    (`lead_ref`), the caller's `lead_id` (exact) or its email (any case). Of two leads with
    one email, the first stored. A few queries for the lot, not one per lookup."""
    wanted: dict[LookupKind, set[str]] = {kind: set() for kind in LOOKUPS}
    for kind, value in lookups:
        wanted[kind].add(_norm(kind, value))
    found: dict[tuple[LookupKind, str], int] = {}
    refs = [int(v) for v in wanted["lead_ref"] if v.isdigit() and 0 < int(v) < 2**63]
    with store.session() as s:
        for part in _chunks(refs):
            found.update(
                (("lead_ref", str(r)), r)
                for r in s.scalars(select(Lead.id).where(Lead.id.in_(part)))
            )
        # A lead stored with the caller's id has `id:<lead_id>` as its unique key: one seek.
        for part in _chunks(sorted(wanted["lead_id"])):
            keys = [f"id:{v}" for v in part]
            for ref, key in s.execute(
                select(Lead.id, Lead.lead_key).where(Lead.lead_key.in_(keys))
            ):
                found[("lead_id", key.removeprefix("id:"))] = ref
        for part in _chunks(sorted(wanted["email"])):
            for ref, email in s.execute(
                select(Lead.id, func.lower(Lead.email))
                .where(func.lower(Lead.email).in_(part))
                .order_by(Lead.id.desc())  # the first stored is read last and kept
            ):
                found[("email", email)] = ref
    return [found.get((kind, _norm(kind, value))) for kind, value in lookups]


def find_lead_ref(
    store: Store,
    *,
    lead_ref: str | None = None,
    lead_id: str | None = None,
    email: str | None = None,
) -> int | None:
    """The stored lead named by its id, else the caller's `lead_id`, else its email."""
    given = {"lead_ref": lead_ref, "lead_id": lead_id, "email": email}
    for kind in LOOKUPS:
        value = given[kind]
        if value and value.strip():
            return find_lead_refs(store, [(kind, value)])[0]
    return None


def _norm(kind: LookupKind, value: str) -> str:
    value = value.strip()
    return value.lower() if kind == "email" else value


def _chunks(items: Sequence[Any]) -> list[Sequence[Any]]:
    return [items[i : i + CHUNK] for i in range(0, len(items), CHUNK)]
