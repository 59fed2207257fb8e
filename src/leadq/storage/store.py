"""`Store`: saving outcomes (bulk, so a 100,000-row file is not 100,000 transactions),
reading leads with their history, and erasing a lead from every table."""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from datetime import UTC, date, datetime
from typing import Any, TypeVar, cast

from sqlalchemy import Engine, Table, bindparam, delete, func, insert, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from leadq.config import Settings
from leadq.core.calls import CallAttempt
from leadq.core.errors import StorageUnavailable
from leadq.core.identity import input_hash, lead_key
from leadq.core.lead import LeadInput
from leadq.core.result import QualificationResult, ResultOrError
from leadq.storage.db import (
    POOL_OVERFLOW,
    POOL_SIZE,
    JSONText,
    is_outage,
    make_engine,
    upgrade,
)
from leadq.storage.models import (
    CacheErasure,
    JobItem,
    Lead,
    LeadOutcome,
    ProviderCall,
    Qualification,
)
from leadq.storage.outcomes import latest_outcome_id, latest_outcome_is, lead_outcomes
from leadq.storage.webhooks import add_events, lead_qualified

CHUNK = 500  # rows per IN (...) lookup
_NOT_IN_RESULT = {"qualification_id", "lead_ref"}  # the row's own ids, not the result's
log = logging.getLogger("leadq.store")
T = TypeVar("T")
EXPORT_PAGE = 1000  # leads read at a time by `latest_with_outcomes`
SORTS = {"score": Lead.latest_score, "updated": Lead.updated_at, "name": Lead.lead_name}

_leads = cast(Table, Lead.__table__)
_quals = cast(Table, Qualification.__table__)
_bump_latest = (
    update(_leads)
    .where(_leads.c.id == bindparam("b_id"))
    .values(
        latest_qualification_id=bindparam("b_qid"),
        latest_score=bindparam("b_score"),
        latest_action=bindparam("b_action"),
        updated_at=bindparam("b_at"),
        qualification_count=_leads.c.qualification_count + bindparam("b_n"),
    )
)


def _now() -> datetime:
    return datetime.now(UTC)


def _chunks(items: Sequence[Any], size: int = CHUNK) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _uids(n: int) -> Iterator[str]:
    """`n` random 128-bit ids as 32 hex digits, from one read of the OS's random source
    (a `uuid4()` for each row costs an OS call per row, on the path that stores every row
    of a job)."""
    pool = os.urandom(16 * n).hex()
    return (pool[i : i + 32] for i in range(0, 32 * n, 32))


class Store:
    """Persistence for leads, qualifications, provider calls and jobs.

    The async callers (the HTTP routes, the service) go through `call`, which runs the
    work on the store's own threads and answers `StorageUnavailable` (503, retryable) when
    the database fails or does not answer within `timeout`. On SQLite, this process's
    writers take turns on a lock rather than in SQLite's busy loop, so concurrent batches
    queue instead of failing with "database is locked".

    With `events` (webhooks are configured), every stored qualification also gets its
    `lead.qualified` event in the webhook outbox, in the same transaction."""

    def __init__(
        self, engine: Engine, timeout: float | None = None, *, events: bool = False
    ) -> None:
        self.engine = engine
        self.timeout = timeout
        self.events = events
        # How long a save keeps retrying a locked or unreachable database: these are results
        # (often paid for) that exist nowhere else.
        self.save_patience = 3 * timeout if timeout else 60.0
        self.session = sessionmaker(engine, expire_on_commit=False)
        sqlite = engine.dialect.name == "sqlite"
        self._write_lock: threading.Lock | None = threading.Lock() if sqlite else None
        # Threads of its own, as many as the pool has connections: a database that hangs
        # holds these, never the event loop's default executor (the cache, the limiter).
        self._threads: ThreadPoolExecutor | None = None

    @classmethod
    def open(cls, settings: Settings, *, migrate: bool = True) -> Store:
        """Connect to `DATABASE_URL` (default SQLite in the data dir) and migrate."""
        engine = make_engine(settings.effective_database_url, settings.db_timeout)
        if migrate:
            upgrade(engine)
        return cls(engine, settings.db_timeout, events=settings.webhooks_on)

    def writing(self) -> AbstractContextManager[Any]:
        """Held around a write transaction: this process's writers in turn on SQLite."""
        return self._write_lock if self._write_lock is not None else nullcontext()

    async def call(
        self, fn: Callable[..., T], /, *args: Any, patience: float | None = None, **kwargs: Any
    ) -> T:
        """`fn(*args, **kwargs)` on the store's threads. A database failure, or no answer
        within `patience` (default: the store's timeout), raises `StorageUnavailable`. Work
        given a `patience` (a save) is never cancelled: still queued or running when the wait
        ends, it runs to its end (stored, just not confirmed)."""
        if self._threads is None:  # made on first use, again after `close` (like the engine)
            self._threads = ThreadPoolExecutor(POOL_SIZE + POOL_OVERFLOW, "leadq-db")
        loop = asyncio.get_running_loop()
        work = loop.run_in_executor(self._threads, functools.partial(fn, *args, **kwargs))
        wait = patience if patience is not None else self.timeout
        try:
            if not wait:
                return await work
            return await asyncio.wait_for(asyncio.shield(work) if patience else work, wait)
        except TimeoutError:
            log.warning("database: no answer within %gs", wait)
            raise StorageUnavailable(f"the database did not answer within {wait:g}s") from None
        except Exception as exc:
            if is_outage(exc):
                # The driver's reason names hosts and users: the log has it, the answer not.
                log.warning("database unavailable: %s", _reason(exc))
                raise StorageUnavailable("the database is unavailable") from exc
            raise

    def status(self) -> dict[str, Any]:
        """For health: the backend and whether a trivial query works."""
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            ok = True
        except Exception:  # noqa: BLE001 - health reports it, it does not raise
            ok = False
        return {"backend": self.engine.dialect.name, "ok": ok}

    def close(self) -> None:
        if self._threads is not None:
            self._threads.shutdown(wait=False)  # queued saves still run
            self._threads = None
        self.engine.dispose()

    # ---- writing ----------------------------------------------------------------------------

    def _lead_refs(self, s: Session, leads: dict[str, LeadInput]) -> dict[str, int]:
        """Ids of these leads, inserting the ones not stored yet."""
        keys = list(leads)
        refs: dict[str, int] = {}
        for part in _chunks(keys):
            found = s.execute(select(Lead.lead_key, Lead.id).where(Lead.lead_key.in_(part)))
            refs.update((key, ref) for key, ref in found)
        missing = [k for k in keys if k not in refs]
        if missing:
            now = _now()
            rows = [
                {
                    "lead_key": k,
                    "lead_id": leads[k].lead_id,
                    "lead_name": leads[k].lead_name,
                    "email": leads[k].email,
                    "company_name": leads[k].company_name,
                    "created_at": now,
                    "updated_at": now,
                    "qualification_count": 0,
                }
                for k in missing
            ]
            result = s.connection().execute(
                _leads.insert().returning(_leads.c.id, _leads.c.lead_key), rows
            )
            refs.update((key, ref) for ref, key in result)
        return refs

    def save(
        self,
        outcomes: Sequence[tuple[LeadInput | None, ResultOrError]],
        calls: Sequence[CallAttempt] = (),
    ) -> list[tuple[int | None, int | None]]:
        """Store results (and the call attempts made for them) in one transaction; return
        `(lead_ref, qualification_id)` per outcome (None where nothing was stored). A locked
        or unreachable database is tried again for up to `save_patience` seconds."""

        def once() -> list[tuple[int | None, int | None]]:
            with self.session.begin() as s:
                return self.save_in(s, outcomes, calls)

        return self.patiently(once)

    def patiently(self, write: Callable[[], T]) -> T:
        """`write()` (a whole transaction), holding `writing()`; tried again while the
        database is away (for up to `save_patience` seconds) or a concurrent writer added the
        same new lead at the same moment (up to 3 times: the repeat sees it). A write tried
        again must find what it stored already and store nothing twice."""
        give_up, delay, conflicts = time.monotonic() + self.save_patience, 0.05, 0
        while True:
            try:
                with self.writing():
                    return write()
            except IntegrityError:
                conflicts += 1
                if conflicts > 3:
                    raise
            except Exception as exc:
                if not is_outage(exc) or time.monotonic() + delay > give_up:
                    raise
                time.sleep(delay)
                delay = min(delay * 2, 2.0)

    def save_in(
        self,
        s: Session,
        outcomes: Sequence[tuple[LeadInput | None, ResultOrError]],
        calls: Sequence[CallAttempt],
    ) -> list[tuple[int | None, int | None]]:
        """`save` inside the caller's transaction."""
        involved: dict[str, LeadInput] = {}
        keyed: list[str | None] = []
        for lead, outcome in outcomes:
            key = lead_key(lead) if lead is not None else None
            keyed.append(key)
            if key is not None and lead is not None and isinstance(outcome, QualificationResult):
                involved.setdefault(key, lead)
        for call in calls:  # a lead whose calls all failed still gets a row for its call log
            involved.setdefault(lead_key(call.lead), call.lead)
        refs = self._lead_refs(s, involved) if involved else {}

        now = _now()
        uids = _uids(len(outcomes))
        rows, slots, stored = [], [], []
        for i, ((lead, outcome), key) in enumerate(zip(outcomes, keyed, strict=True)):
            if isinstance(outcome, QualificationResult) and lead is not None and key:
                rows.append(self._row(next(uids), refs[key], lead, outcome, now))
                slots.append(i)
                stored.append((lead, outcome))
        ids: list[int] = []
        if rows:
            inserted = s.connection().execute(
                _quals.insert().returning(_quals.c.id, _quals.c.uid), rows
            )
            by_uid = {uid: qid for qid, uid in inserted}
            ids = [by_uid[row["uid"]] for row in rows]
            latest: dict[int, dict[str, Any]] = {}
            for row, qid in zip(rows, ids, strict=True):
                entry = latest.setdefault(row["lead_ref"], {"b_n": 0})
                entry.update(
                    b_id=row["lead_ref"],
                    b_qid=qid,
                    b_score=row["overall_score"],
                    b_action=row["recommended_action"],
                    b_at=now,
                    b_n=entry["b_n"] + 1,
                )
            s.connection().execute(_bump_latest, list(latest.values()))
            if self.events:  # the webhook outbox: sent only if this transaction commits
                events = zip(rows, ids, stored, strict=True)
                add_events(s, [lead_qualified(r["lead_ref"], q, *lr, now) for r, q, lr in events])
        if calls:
            s.execute(
                insert(ProviderCall), [self._call_row(refs.get(lead_key(c.lead)), c) for c in calls]
            )
        out: list[tuple[int | None, int | None]] = [
            (refs.get(k) if k else None, None) for k in keyed
        ]
        for slot, qid in zip(slots, ids, strict=True):
            out[slot] = (out[slot][0], qid)
        return out

    @staticmethod
    def _row(
        uid: str, ref: int, lead: LeadInput, r: QualificationResult, now: datetime
    ) -> dict[str, Any]:
        return {
            "uid": uid,
            "lead_ref": ref,
            "created_at": now,
            "input_hash": input_hash(lead),
            "input": JSONText(lead.model_dump_json(exclude_none=True)),
            "result": JSONText(r.model_dump_json(exclude=_NOT_IN_RESULT)),
            **r.flat(),
        }

    @staticmethod
    def _call_row(ref: int | None, c: CallAttempt) -> dict[str, Any]:
        return {
            "lead_ref": ref,
            "created_at": c.at,
            "provider": c.provider,
            "model": c.model,
            "status": c.status,
            "http_status": c.http_status,
            "latency_ms": c.latency_ms,
            "input_tokens": c.input_tokens,
            "output_tokens": c.output_tokens,
            "cost_usd": c.cost_usd,
            "error_class": c.error_class,
            "queue_ms": c.queue_ms,
        }

    # ---- reading ----------------------------------------------------------------------------

    @staticmethod
    def _lead_summary(lead: Lead, latest: tuple[str, date] | None = None) -> dict[str, Any]:
        """The lead's row, with its latest outcome (`outcome`, `date`) when it has one."""
        return {
            "id": lead.id,
            "lead_id": lead.lead_id,
            "lead_name": lead.lead_name,
            "email": lead.email,
            "company_name": lead.company_name,
            "latest_score": lead.latest_score,
            "latest_action": lead.latest_action,
            "latest_qualification_id": lead.latest_qualification_id,
            "qualification_count": lead.qualification_count,
            "created_at": lead.created_at.isoformat(),
            "updated_at": lead.updated_at.isoformat(),
            "latest_outcome": (
                {"outcome": latest[0], "date": latest[1].isoformat()} if latest else None
            ),
        }

    def list_leads(
        self,
        *,
        action: str | None = None,
        min_score: float | None = None,
        search: str | None = None,
        sort: str = "-score",
        limit: int = 50,
        offset: int = 0,
        outcome: str | None = None,
    ) -> tuple[int, list[dict[str, Any]]]:
        """Leads with their latest score and outcome, filtered (`outcome`: an outcome, or
        `none` for leads without one), sorted (`score`, `updated`, `name`, with `-` for
        descending) and paginated; returns `(total, page)`."""
        query = select(Lead.id)
        if outcome:
            query = query.where(latest_outcome_is(Lead.id, outcome))
        if action:
            query = query.where(Lead.latest_action == action)
        if min_score is not None:
            query = query.where(Lead.latest_score >= min_score)
        if search:
            # `%`, `_` and the escape character are searched as themselves (LIKE ... ESCAPE
            # '/'), on SQLite and PostgreSQL alike, not as patterns that match every lead.
            needle = search.lower()
            query = query.where(
                func.lower(Lead.lead_name).contains(needle, autoescape=True)
                | func.lower(Lead.company_name).contains(needle, autoescape=True)
                | func.lower(func.coalesce(Lead.lead_id, "")).contains(needle, autoescape=True)
            )
        column = SORTS[sort.lstrip("-")]
        order = column.desc() if sort.startswith("-") else column.asc()
        ids = query.order_by(order.nulls_last(), Lead.id).limit(limit).offset(offset).subquery()
        # The page's latest outcomes are looked up for its rows only, not for every lead.
        page = (
            select(Lead, LeadOutcome.outcome, LeadOutcome.outcome_date)
            .join(ids, ids.c.id == Lead.id)
            .outerjoin(LeadOutcome, LeadOutcome.id == latest_outcome_id(Lead.id))
            .order_by(order.nulls_last(), Lead.id)
        )
        with self.session() as s:
            total = s.scalar(select(func.count()).select_from(query.subquery())) or 0
            rows = s.execute(page).all()
            return total, [self._lead_summary(lead, (o, on) if o else None) for lead, o, on in rows]

    @staticmethod
    def qualification_dict(q: Qualification) -> dict[str, Any]:
        return {
            **q.result,
            "qualification_id": q.id,
            "lead_ref": q.lead_ref,
            "created_at": q.created_at.isoformat(),
            "input": q.input,
            "input_hash": q.input_hash,
        }

    def get_lead(self, ref: int) -> dict[str, Any] | None:
        """The lead with every qualification, oldest first (its score history), and every
        outcome, the latest first."""
        with self.session() as s:
            lead = s.get(Lead, ref)
            if lead is None:
                return None
            quals = s.scalars(
                select(Qualification)
                .where(Qualification.lead_ref == ref)
                .order_by(Qualification.created_at, Qualification.id)
            ).all()
            outcomes = lead_outcomes(s, ref)
            last = outcomes[0] if outcomes else None
            latest = (last["outcome"], date.fromisoformat(last["date"])) if last else None
            return {
                **self._lead_summary(lead, latest),
                "outcomes": outcomes,
                "history": [
                    {
                        "qualification_id": q.id,
                        "at": q.created_at.isoformat(),
                        "overall_score": q.overall_score,
                        "recommended_action": q.recommended_action,
                        "provider": q.provider,
                        "model": q.model,
                    }
                    for q in quals
                ],
                "qualifications": [self.qualification_dict(q) for q in quals],
            }

    def get_qualification(self, qid: int) -> dict[str, Any] | None:
        with self.session() as s:
            q = s.get(Qualification, qid)
            return self.qualification_dict(q) if q is not None else None

    def latest_with_outcomes(self) -> Iterator[dict[str, Any]]:
        """Every lead with a result, in lead order and streamed (for export): who it is (as its
        latest input gives it, else as first stored), its latest result (`result`, as
        `qualification_dict` gives it) and its latest outcome with that outcome's date
        (`outcome`, `outcome_date`: None when it has none). Read a page of 1,000 leads at a
        time, each in a short session of its own: a slow reader (a download) never holds a
        connection or a long read transaction."""
        page = (
            select(
                Qualification,
                Lead.lead_id,
                Lead.lead_name,
                Lead.company_name,
                Lead.email,
                LeadOutcome.outcome,
                LeadOutcome.outcome_date,
            )
            .join(Lead, Lead.latest_qualification_id == Qualification.id)
            .outerjoin(LeadOutcome, LeadOutcome.id == latest_outcome_id(Lead.id))
            .order_by(Lead.id)
            .limit(EXPORT_PAGE)
        )
        after = 0
        while True:
            with self.session() as s:
                rows = s.execute(page.where(Lead.id > after)).all()
            if not rows:
                return
            after = rows[-1][0].lead_ref
            for q, lead_id, name, company, email, outcome, on in rows:
                latest = q.input or {}
                yield {
                    "lead_id": latest.get("lead_id") or lead_id,
                    "lead_name": latest.get("lead_name") or name,
                    "company_name": latest.get("company_name") or company,
                    "email": latest.get("email") or email,
                    "outcome": outcome,
                    "outcome_date": on.isoformat() if on else None,
                    "result": self.qualification_dict(q),
                }

    def find_lead(self, needle: str) -> int | None:
        """A stored lead's id from its id, caller id, email or name (first match)."""
        with self.session() as s:
            if needle.isdigit() and s.get(Lead, int(needle)) is not None:
                return int(needle)
            for cond in (
                Lead.lead_id == needle,
                Lead.email == needle.lower(),
                func.lower(Lead.lead_name) == needle.lower(),
            ):
                ref = s.scalar(select(Lead.id).where(cond).order_by(Lead.id).limit(1))
                if ref is not None:
                    return ref
        return None

    def spend_since(self, since: datetime) -> float:
        """USD spent on provider calls since `since` (the daily budget guard's reading)."""
        if since.tzinfo is not None:  # SQLite keeps UTC times without a zone: compare in UTC
            since = since.astimezone(UTC)
        with self.session() as s:
            total = s.scalar(
                select(func.coalesce(func.sum(ProviderCall.cost_usd), 0.0)).where(
                    ProviderCall.created_at >= since
                )
            )
        return float(total or 0.0)

    # ---- erasing ----------------------------------------------------------------------------

    def erase_lead(self, ref: int, *, cache_outbox: bool = False) -> bool:
        """Remove the lead, its qualifications, its call log rows, its outcomes and its job
        results (a GDPR erasure must leave nothing behind). Returns whether the lead existed.
        With `cache_outbox` (a Redis cache is configured), the same transaction records that
        its Redis entries are still to be removed (see `ResultCache.forget_lead`)."""
        with self.writing(), self.session.begin() as s:
            if s.get(Lead, ref) is None:
                return False
            if cache_outbox:
                s.execute(delete(CacheErasure).where(CacheErasure.lead_ref == ref))
                s.add(CacheErasure(lead_ref=ref, created_at=_now()))
            qids = select(Qualification.id).where(Qualification.lead_ref == ref)
            s.execute(
                update(JobItem)
                .where(JobItem.qualification_id.in_(qids))
                .values(status="erased", qualification_id=None, error=None)
            )
            s.execute(delete(ProviderCall).where(ProviderCall.lead_ref == ref))
            s.execute(delete(LeadOutcome).where(LeadOutcome.lead_ref == ref))
            s.execute(delete(Qualification).where(Qualification.lead_ref == ref))
            s.execute(delete(Lead).where(Lead.id == ref))
        return True


def _reason(exc: BaseException) -> str:
    """The driver's first line of an outage, without the SQL or its parameters."""
    orig = getattr(exc, "orig", None) or exc
    return (str(orig).strip().splitlines() or [type(orig).__name__])[0][:200]
