"""The result cache's configuration: pure logic (hits and misses: tests/api/test_cache.py)."""

from leadq.config import Settings
from leadq.storage.cache import ResultCache


class _NoStore:
    pass


def test_the_ttl_never_outlives_the_retention_period() -> None:
    def ttl(**settings) -> float:
        made = ResultCache.from_settings(_NoStore(), Settings(_env_file=None, **settings))
        return made.ttl

    assert ttl(cache_ttl=3600) == 3600
    assert ttl(cache_ttl=10 * 86400, retention_days=1) == 86400
    assert ttl(cache_ttl=3600, retention_days=30) == 3600
    assert ttl(cache_ttl=0, retention_days=30) == 0
