"""`bench/anthropic_sdk.py` at its smoke size: both clients answer through a real provider
process and the numbers are real numbers (how large they are is the bench's business)."""

from __future__ import annotations

import math

import pytest

from bench import anthropic_sdk

pytest.importorskip("anthropic")


def test_smoke_measures_both_clients_whole_and_streamed(capsys: pytest.CaptureFixture[str]) -> None:
    results = anthropic_sdk.main(["--smoke", "--concurrency", "4"])
    assert results is not None
    assert set(results) == {"whole", "stream"}
    for sides in results.values():
        assert set(sides) == {"leadq", "sdk"}
        assert all(math.isfinite(v) and v > 0 for values in sides.values() for v in values)
    assert "leadq / SDK" in capsys.readouterr().out
