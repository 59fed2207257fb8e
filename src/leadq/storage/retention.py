"""Retention (`LEADQ_RETENTION_DAYS`): qualifications and provider-call rows older than the
cutoff are deleted, with what hangs on them.

- A lead that keeps some qualifications gets its denormalised `latest_*` columns and count
  recomputed from what is left.
- A lead with nothing left (no qualification, no call, no recorded outcome) and no update
  since the cutoff is deleted: its name and email are personal data too.
- Batch-job rows whose result was purged are marked `purged` (the row stays, so a resumed
  job still has one outcome per row); jobs that finished before the cutoff are deleted
  with their rows.
- Webhook messages made before the cutoff are deleted, sent or not (they carry the lead's
  name and email, and one that old has long run out of attempts).

`purge` runs from `leadq db purge` and on a schedule inside `leadq serve` (`run_purges`)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, exists, func, select, update
from sqlalchemy.orm import Session, aliased

from leadq.storage.models import (
    Job,
    JobItem,
    Lead,
    LeadOutcome,
    OutboxMessage,
    ProviderCall,
    Qualification,
)
from leadq.storage.store import Store, _chunks

log = logging.getLogger("leadq.retention")


@dataclass(frozen=True)
class Purged:
    """How many rows one purge removed (or, for job rows, unlinked)."""

    cutoff: str
    qualifications: int = 0
    provider_calls: int = 0
    leads: int = 0
    jobs: int = 0
    job_rows_unlinked: int = 0
    webhook_messages: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def cutoff_for(days: float, now: datetime | None = None) -> datetime:
    """The moment `days` days before `now` (default: now, UTC)."""
    return (now or datetime.now(UTC)) - timedelta(days=days)


def purge(store: Store, older_than: datetime) -> Purged:
    """Delete qualifications and provider calls created before `older_than`, and what they
    leave behind (see the module docstring), in one transaction."""
    with store.session.begin() as s:
        old = select(Qualification.id).where(Qualification.created_at < older_than)
        touched = set(
            s.scalars(
                select(Qualification.lead_ref)
                .where(Qualification.created_at < older_than)
                .distinct()
            )
        )
        touched.update(
            ref
            for ref in s.scalars(
                select(ProviderCall.lead_ref).where(ProviderCall.created_at < older_than).distinct()
            )
            if ref is not None
        )
        unlinked = _count(
            s.execute(
                update(JobItem)
                .where(JobItem.qualification_id.in_(old))
                .values(status="purged", qualification_id=None, error=None)
                .execution_options(synchronize_session=False)
            )
        )
        s.execute(
            update(LeadOutcome)
            .where(LeadOutcome.qualification_id.in_(old))
            .values(qualification_id=None)
            .execution_options(synchronize_session=False)
        )
        calls = _count(s.execute(delete(ProviderCall).where(ProviderCall.created_at < older_than)))
        quals = _count(s.execute(delete(Qualification).where(Qualification.id.in_(old))))
        refs = sorted(touched)
        _recompute_latest(s, refs)
        leads = _delete_empty_leads(s, refs, older_than)
        finished = select(Job.id).where(Job.finished_at < older_than)
        s.execute(delete(JobItem).where(JobItem.job_id.in_(finished)))
        jobs = _count(s.execute(delete(Job).where(Job.finished_at < older_than)))
        messages = _count(
            s.execute(delete(OutboxMessage).where(OutboxMessage.created_at < older_than))
        )
    return Purged(older_than.isoformat(), quals, calls, leads, jobs, unlinked, messages)


def _count(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


def _recompute_latest(s: Session, refs: Sequence[int]) -> None:
    """Each lead's latest score, action, qualification and count, from what is stored."""
    q, newest = Qualification, aliased(Qualification)
    latest = (
        select(newest.id)
        .where(newest.lead_ref == Lead.id)
        .order_by(newest.created_at.desc(), newest.id.desc())
        .limit(1)
        .correlate(Lead)
        .scalar_subquery()
    )

    def of_latest(column: Any) -> Any:
        return select(column).where(q.id == latest).correlate(Lead).scalar_subquery()

    for part in _chunks(list(refs)):
        s.execute(
            update(Lead)
            .where(Lead.id.in_(part))
            .values(
                latest_qualification_id=latest,
                latest_score=of_latest(q.overall_score),
                latest_action=of_latest(q.recommended_action),
                qualification_count=select(func.count(q.id))
                .where(q.lead_ref == Lead.id)
                .correlate(Lead)
                .scalar_subquery(),
            )
            .execution_options(synchronize_session=False)
        )


def _delete_empty_leads(s: Session, refs: Sequence[int], older_than: datetime) -> int:
    """Delete the leads among `refs` with nothing left and no update since the cutoff (a
    lead a concurrent save just touched has a newer `updated_at` and stays)."""
    deleted = 0
    for part in _chunks(list(refs)):
        deleted += _count(
            s.execute(
                delete(Lead)
                .where(
                    Lead.id.in_(part),
                    Lead.updated_at < older_than,
                    ~exists().where(Qualification.lead_ref == Lead.id),
                    ~exists().where(ProviderCall.lead_ref == Lead.id),
                    ~exists().where(LeadOutcome.lead_ref == Lead.id),
                )
                .execution_options(synchronize_session=False)
            )
        )
    return deleted


async def run_purges(store: Store, days: float, every_hours: float) -> None:
    """Purge now and every `every_hours` hours until cancelled (the schedule in `serve`).
    A failed purge is logged and tried again at the next turn."""
    while True:
        try:
            purged = await asyncio.to_thread(purge, store, cutoff_for(days))
            log.info("retention.purge", extra={"fields": purged.as_dict()})
        except Exception:
            log.exception("retention.purge_failed")
        await asyncio.sleep(every_hours * 3600)


def describe(purged: Purged) -> Iterable[str]:
    """Lines for a person: what one purge removed."""
    yield f"purged everything created before {purged.cutoff}:"
    yield f"  {purged.qualifications} qualifications, {purged.provider_calls} provider calls"
    yield f"  {purged.leads} leads with nothing left, {purged.jobs} finished jobs"
    yield f"  {purged.job_rows_unlinked} job rows marked purged"
    yield f"  {purged.webhook_messages} webhook messages"
