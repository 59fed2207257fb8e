"""The result cache: qualifying an identical lead again (same normalised input, provider,
model, prompt version and seller profile version) within `LEADQ_CACHE_TTL` returns the
stored result with `cached: true` and makes no provider call.

The cache is the stored qualifications themselves (looked up by input hash, indexed), so it
costs no extra writes and an erased lead leaves nothing behind in it. With `REDIS_URL` set,
hits are also shared through Redis, so instances with separate databases share them; Redis
keys expire with the TTL and a lead's keys are tracked so that erasure removes them too.

Redis is a failure domain of its own: every command waits at most `LEADQ_REDIS_TIMEOUT`,
and after a failure Redis is left alone for `LEADQ_REDIS_RETRY` seconds (the database
still answers hits). An erasure records, in the transaction that erases, that the lead's
Redis entries are to go; that record is removed once Redis confirms it, and while any such
record remains no Redis hit is served, so an erased lead never comes back from Redis."""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, select

from leadq.config import Settings
from leadq.core.identity import CacheScope, input_hash, lead_key
from leadq.core.lead import LeadInput
from leadq.core.profile import default_profile
from leadq.core.result import QualificationResult, Usage
from leadq.storage.models import CacheErasure, Lead, Qualification
from leadq.storage.store import Store

log = logging.getLogger("leadq.cache")


def cache_key(lead: LeadInput, scope: CacheScope) -> str:
    """Same input, same record (`lead_key`: the caller's `lead_id` first), same scope: two
    CRM records with identical fields never share a result."""
    parts = (input_hash(lead), lead_key(lead), *scope)
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()


class ResultCache:
    """Stored results reused within `ttl` seconds; Redis in front when configured."""

    def __init__(
        self,
        store: Store,
        ttl: float,
        redis_url: str | None = None,
        prefix: str = "leadq:",
        *,
        timeout: float = 0.5,
        retry_after: float = 30.0,
    ) -> None:
        self.store = store
        self.ttl = ttl
        self.prefix = f"{prefix}cache:"  # LEADQ_REDIS_PREFIX, then what this is
        self.retry_after = retry_after
        self._down_until = 0.0  # Redis is not tried before this (monotonic) time
        self._last_error: str | None = None
        self._lock = threading.Lock()
        self.redis: Any = None
        if redis_url:
            import redis  # only needed when REDIS_URL is set

            self.redis = redis.Redis.from_url(
                redis_url, socket_timeout=timeout, socket_connect_timeout=timeout
            )

    @classmethod
    def from_settings(cls, store: Store, settings: Settings) -> ResultCache:
        """The cache as configured. Its TTL never exceeds LEADQ_RETENTION_DAYS: a purge
        deletes the stored rows, and a Redis copy must not outlive them."""
        ttl = settings.cache_ttl
        if settings.retention_days is not None:
            ttl = min(ttl, settings.retention_days * 86400)
        return cls(
            store,
            ttl,
            settings.redis_url,
            settings.redis_prefix,
            timeout=settings.redis_timeout,
            retry_after=settings.redis_retry,
        )

    # ---- Redis as a failure domain ----------------------------------------------------------

    def _redis_usable(self) -> bool:
        return self.redis is not None and time.monotonic() >= self._down_until

    def _redis_failed(self, exc: BaseException, doing: str) -> None:
        with self._lock:
            first = time.monotonic() >= self._down_until
            self._down_until = time.monotonic() + self.retry_after
            self._last_error = type(exc).__name__
        if first:  # one warning an outage, not one a request
            log.warning(
                "redis unavailable while %s (%s); cache served from the database for %gs",
                doing,
                type(exc).__name__,
                self.retry_after,
            )

    def status(self) -> dict[str, Any]:
        """For health: `off` (no Redis configured), `ok`, or `unavailable` with the error,
        and how many erased leads still have entries to remove from Redis."""
        if self.redis is None:
            return {"redis": "off"}
        if self._redis_usable():
            try:
                self.redis.ping()
            except Exception as exc:  # noqa: BLE001 - health reports it
                self._redis_failed(exc, "checking health")
        out: dict[str, Any] = {"redis": "ok" if self._redis_usable() else "unavailable"}
        if out["redis"] == "unavailable":
            out["error"] = self._last_error
        out["pending_erasures"] = len(self._pending_erasures())
        return out

    @property
    def enabled(self) -> bool:
        return self.ttl > 0

    def _since(self) -> datetime:
        since = datetime.now(UTC) - timedelta(seconds=self.ttl)
        if self.store.engine.dialect.name == "sqlite":  # stored as naive UTC
            return since.replace(tzinfo=None)
        return since

    def lookup(
        self, items: Sequence[tuple[LeadInput, CacheScope]]
    ) -> list[QualificationResult | None]:
        """For each (lead, scope), a fresh copy of its cached result marked `cached`, or None."""
        keys = [cache_key(lead, scope) for lead, scope in items]
        found: dict[str, dict[str, Any]] = {}
        if self.redis is not None:
            found.update(self._redis_get(keys))
        missing = [(k, item) for k, item in zip(keys, items, strict=True) if k not in found]
        if missing:
            found.update(self._db_get(missing))
        out: list[QualificationResult | None] = []
        for key in keys:
            data = found.get(key)
            out.append(None if data is None else _revive(data))
        return out

    def _db_get(self, wanted: Sequence[tuple[str, tuple[LeadInput, CacheScope]]]) -> dict[str, Any]:
        by_hash: dict[str, list[tuple[str, CacheScope, str]]] = {}
        for key, (lead, scope) in wanted:
            by_hash.setdefault(input_hash(lead), []).append((key, scope, lead_key(lead)))
        q = Qualification
        found: dict[str, dict[str, Any]] = {}
        with self.store.session() as s:
            rows = s.execute(
                select(
                    q.id,
                    q.lead_ref,
                    Lead.lead_key,
                    q.input_hash,
                    q.provider,
                    q.model,
                    q.prompt_version,
                    q.result,
                )
                .join(Lead, Lead.id == q.lead_ref)
                .where(q.input_hash.in_(list(by_hash)), q.created_at >= self._since())
                .order_by(q.created_at.desc(), q.id.desc())
            ).all()
        for qid, ref, stored_key, digest, provider, model, version, result in rows:
            answers = _scopes_answered(provider, model, version, result)
            for key, scope, wanted_key in by_hash.get(digest, []):
                if key not in found and scope in answers and stored_key == wanted_key:
                    found[key] = {**result, "qualification_id": qid, "lead_ref": ref}
        return found

    def _redis_get(self, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Hits from Redis, once no erasure is pending there (else none)."""
        if not self._redis_usable() or not self._finish_erasures():
            return {}
        try:
            values = self.redis.mget([self.prefix + k for k in keys])
        except Exception as exc:  # noqa: BLE001 - a cache outage must not fail a lead
            self._redis_failed(exc, "reading")
            return {}
        return {k: json.loads(v) for k, v in zip(keys, values, strict=True) if v is not None}

    def remember(self, items: Sequence[tuple[LeadInput, CacheScope, QualificationResult]]) -> None:
        """Share fresh results through Redis (the database already has them)."""
        if not self._redis_usable() or not items:
            return
        ttl = max(1, int(self.ttl))
        try:
            pipe = self.redis.pipeline()
            for lead, scope, result in items:
                if result.lead_ref is None:
                    continue
                key = self.prefix + cache_key(lead, scope)
                pipe.set(key, result.model_dump_json(exclude={"cached"}), ex=ttl)
                pipe.sadd(f"{self.prefix}lead:{result.lead_ref}", key)
                pipe.expire(f"{self.prefix}lead:{result.lead_ref}", ttl)
            pipe.execute()
            self._unless_erased_meanwhile({r.lead_ref for _, _, r in items if r.lead_ref})
        except Exception as exc:  # noqa: BLE001 - a cache outage must not fail a lead
            self._redis_failed(exc, "writing")

    def _unless_erased_meanwhile(self, refs: set[int]) -> None:
        """A lead erased between its save and this write would be back in Redis with no
        erasure left to remove it: its entries go again now."""
        with self.store.session() as s:
            kept = set(s.scalars(select(Lead.id).where(Lead.id.in_(list(refs)))))
        for ref in refs - kept:
            index = f"{self.prefix}lead:{ref}"
            self.redis.delete(index, *self.redis.smembers(index))

    def erase(self, lead_ref: int) -> tuple[bool, bool]:
        """Erase a stored lead and its cache entries: `(existed, cache_cleared)`. When Redis
        cannot confirm now, the erasure stays recorded and is finished as soon as it can
        (no Redis hit is served until then); `cache_cleared` is then False."""
        if not self.store.erase_lead(lead_ref, cache_outbox=self.redis is not None):
            return False, True
        return True, self.redis is None or (self._redis_usable() and self._finish_erasures())

    def _pending_erasures(self) -> list[int]:
        with self.store.session() as s:
            return list(s.scalars(select(CacheErasure.lead_ref).limit(500)))

    def _finish_erasures(self) -> bool:
        """Remove from Redis the entries of every erased lead still recorded; True when
        none remains."""
        pending = self._pending_erasures()
        while pending:
            try:
                pipe = self.redis.pipeline()
                for ref in pending:
                    pipe.smembers(f"{self.prefix}lead:{ref}")
                members = pipe.execute()
                for ref, keys in zip(pending, members, strict=True):
                    pipe.delete(f"{self.prefix}lead:{ref}", *keys)
                pipe.execute()
            except Exception as exc:  # noqa: BLE001 - finished later; no Redis hit until then
                self._redis_failed(exc, "erasing")
                return False
            with self.store.writing(), self.store.session.begin() as s:
                s.execute(delete(CacheErasure).where(CacheErasure.lead_ref.in_(pending)))
            log.info("redis: cache entries of %d erased lead(s) removed", len(pending))
            pending = self._pending_erasures()
        return True


def _scopes_answered(
    provider: str, model: str, version: str, result: dict[str, Any]
) -> set[CacheScope]:
    """The lookups a stored result answers: its own scope and, for an escalated result, the
    first model's, for which it was made (the stronger model answered in its place). The
    profile version is the result's own; a result stored before results had one was made
    under the packaged default profile's offer, so it answers for that profile only."""
    profile = result.get("profile_version") or default_profile().version
    scopes = {CacheScope(provider, model, version, profile)}
    first = result.get("escalated_from")
    if isinstance(first, dict) and first.get("provider") and first.get("model"):
        prompt = first.get("prompt_version") or version
        scopes.add(CacheScope(first["provider"], first["model"], prompt, profile))
    return scopes


def _revive(data: dict[str, Any]) -> QualificationResult:
    """The stored result as a hit: no call was made, so no time, tokens or cost now."""
    result = QualificationResult.model_validate({**data, "cached": True})
    result.latency_ms, result.usage, result.cost_usd = 0.0, Usage(), 0.0
    return result
