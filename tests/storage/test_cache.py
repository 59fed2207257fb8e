"""The result cache's configuration: pure logic (hits and misses: tests/api/test_cache.py)."""

from typing import cast

from leadq.config import Settings
from leadq.storage.cache import ResultCache
from leadq.storage.store import Store


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
