"""The result cache's configuration: pure logic (hits and misses: tests/api/test_cache.py)."""

import uuid
from typing import cast

import redis

from leadq.config import Settings
from leadq.core.identity import CacheScope
from leadq.storage.cache import ResultCache
from leadq.storage.store import Store
from tests.storage.test_store import lead, qualify


class _NoStore:
    """Stands in for the `Store`, which computing the TTL never touches (it would fail)."""


def test_the_ttl_never_outlives_the_retention_period() -> None:
    def ttl(**settings) -> float:
        made = ResultCache.from_settings(
            cast(Store, _NoStore()), Settings(_env_file=None, **settings)
        )
        return made.ttl

    assert ttl(cache_ttl=3600) == 3600
    assert ttl(cache_ttl=10 * 86400, retention_days=1) == 86400
    assert ttl(cache_ttl=3600, retention_days=30) == 3600
    assert ttl(cache_ttl=0, retention_days=30) == 0


def test_a_result_shared_after_its_lead_was_erased_does_not_stay_in_redis(store: Store) -> None:
    """The save, then an erasure, then the (late) write to Redis: the erased lead's entries
    must not outlive the erasure, on the machine's real Redis under a prefix of its own."""
    prefix = f"leadq-test-{uuid.uuid4().hex[:8]}:"
    cache = ResultCache(store, 3600, "redis://127.0.0.1:6379/0", prefix)
    item = lead(lead_id="GONE-1")
    result = qualify(item)
    ((ref, qid),) = store.save([(item, result)])
    assert ref is not None
    result.lead_ref, result.qualification_id = ref, qid
    assert cache.erase(ref) == (True, True)  # erased while the write was on its way
    cache.remember([(item, CacheScope("openai", "m", "v3", "p1"), result)])
    client = redis.Redis(port=6379)
    try:
        assert list(client.scan_iter(f"{prefix}*")) == []
    finally:
        for key in client.scan_iter(f"{prefix}*"):
            client.delete(key)
