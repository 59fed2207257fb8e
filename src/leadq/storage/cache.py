"""The result cache: qualifying an identical lead again (same normalised input, provider,
model and prompt version) within `LEADQ_CACHE_TTL` returns the stored result with
`cached: true` and makes no provider call.

The cache is the stored qualifications themselves (looked up by input hash, indexed), so it
costs no extra writes and an erased lead leaves nothing behind in it. With `REDIS_URL` set,
hits are also shared through Redis, so instances with separate databases share them; Redis
keys expire with the TTL and a lead's keys are tracked so that erasure removes them too."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from leadq.config import Settings
from leadq.core.identity import CacheScope, input_hash
from leadq.core.lead import LeadInput
from leadq.core.result import QualificationResult, Usage
from leadq.storage.models import Qualification
from leadq.storage.store import Store

log = logging.getLogger("leadq.cache")


def cache_key(lead: LeadInput, scope: CacheScope) -> str:
    return hashlib.sha256("\x00".join((input_hash(lead), *scope)).encode()).hexdigest()


class ResultCache:
    """Stored results reused within `ttl` seconds; Redis in front when configured."""

    def __init__(
        self, store: Store, ttl: float, redis_url: str | None = None, prefix: str = "leadq:"
    ) -> None:
        self.store = store
        self.ttl = ttl
        self.prefix = f"{prefix}cache:"  # LEADQ_REDIS_PREFIX, then what this is
        self.redis: Any = None
        if redis_url:
            import redis  # only needed when REDIS_URL is set

            self.redis = redis.Redis.from_url(redis_url, socket_timeout=2)

    @classmethod
    def from_settings(cls, store: Store, settings: Settings) -> ResultCache:
        """The cache as configured. Its TTL never exceeds LEADQ_RETENTION_DAYS: a purge
        deletes the stored rows, and a Redis copy must not outlive them."""
        ttl = settings.cache_ttl
        if settings.retention_days is not None:
            ttl = min(ttl, settings.retention_days * 86400)
        return cls(store, ttl, settings.redis_url, settings.redis_prefix)

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
        by_hash: dict[str, list[tuple[str, CacheScope]]] = {}
        for key, (lead, scope) in wanted:
            by_hash.setdefault(input_hash(lead), []).append((key, scope))
        q = Qualification
        found: dict[str, dict[str, Any]] = {}
        with self.store.session() as s:
            rows = s.execute(
                select(
                    q.id, q.lead_ref, q.input_hash, q.provider, q.model, q.prompt_version, q.result
                )
                .where(q.input_hash.in_(list(by_hash)), q.created_at >= self._since())
                .order_by(q.created_at.desc(), q.id.desc())
            ).all()
        for qid, ref, digest, provider, model, version, result in rows:
            answers = _scopes_answered(provider, model, version, result)
            for key, scope in by_hash.get(digest, []):
                if key not in found and scope in answers:
                    found[key] = {**result, "qualification_id": qid, "lead_ref": ref}
        return found

    def _redis_get(self, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
        try:
            values = self.redis.mget([self.prefix + k for k in keys])
        except Exception as exc:  # noqa: BLE001 - a cache outage must not fail a lead
            log.warning("redis cache unavailable: %s", type(exc).__name__)
            return {}
        return {k: json.loads(v) for k, v in zip(keys, values, strict=True) if v is not None}

    def remember(self, items: Sequence[tuple[LeadInput, CacheScope, QualificationResult]]) -> None:
        """Share fresh results through Redis (the database already has them)."""
        if self.redis is None or not items:
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
        except Exception as exc:  # noqa: BLE001 - a cache outage must not fail a lead
            log.warning("redis cache unavailable: %s", type(exc).__name__)

    def forget_lead(self, lead_ref: int) -> None:
        """Erasure: drop the lead's Redis entries (its stored rows go with the lead)."""
        if self.redis is None:
            return
        index = f"{self.prefix}lead:{lead_ref}"
        try:
            keys = self.redis.smembers(index)
            self.redis.delete(index, *keys)
        except Exception as exc:  # noqa: BLE001 - the entries still expire with the TTL
            log.error("redis: could not erase lead %s's cache entries: %s", lead_ref, exc)


def _scopes_answered(
    provider: str, model: str, version: str, result: dict[str, Any]
) -> set[CacheScope]:
    """The lookups a stored result answers: its own scope and, for an escalated result, the
    first model's, for which it was made (the stronger model answered in its place)."""
    scopes = {(provider, model, version)}
    first = result.get("escalated_from")
    if isinstance(first, dict) and first.get("provider") and first.get("model"):
        scopes.add((first["provider"], first["model"], first.get("prompt_version") or version))
    return scopes


def _revive(data: dict[str, Any]) -> QualificationResult:
    """The stored result as a hit: no call was made, so no time, tokens or cost now."""
    result = QualificationResult.model_validate({**data, "cached": True})
    result.latency_ms, result.usage, result.cost_usd = 0.0, Usage(), 0.0
    return result
