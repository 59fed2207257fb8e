"""`LeadQualifier` on the rules engine: batches in order across chunks, and the collector
pause that qualifies each chunk."""

from __future__ import annotations

import gc

import pytest

from leadq.config import Settings
from leadq.core.result import LeadError, QualificationResult
from leadq.qualifier import LOCAL_CHUNK, LeadQualifier, collector_paused


def test_a_local_batch_longer_than_a_chunk_keeps_input_order() -> None:
    q = LeadQualifier(Settings(provider="rules"))
    n, k = 2 * LOCAL_CHUNK + 3, LOCAL_CHUNK + 2  # k: a valid lead in the second chunk
    leads = [
        {"lead_id": f"L-{i}", "lead_name": f"Ann {i}", "company_name": "Acme"}
        if i % 7
        else {"lead_id": f"L-{i}", "company_name": "Acme"}  # no name: this lead's error
        for i in range(n)
    ]
    try:
        outcomes = q.qualify_leads_batch(leads)
        single = q.qualify_lead(leads[k])
    finally:
        q.close()
    assert [o.lead_id for o in outcomes] == [f"L-{i}" for i in range(n)]
    assert all(isinstance(o, LeadError) == (i % 7 == 0) for i, o in enumerate(outcomes))
    same = outcomes[k]
    assert isinstance(same, QualificationResult)
    assert same.model_dump(exclude={"latency_ms"}) == single.model_dump(exclude={"latency_ms"})


@pytest.fixture
def collector_on():
    was = gc.isenabled()
    gc.enable()
    yield
    (gc.enable if was else gc.disable)()


def test_collector_paused_inside_and_back_on_after(collector_on: None) -> None:
    with collector_paused():
        assert not gc.isenabled()
        with collector_paused():  # nested
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(ValueError, match="from the block"), collector_paused():
        raise ValueError("from the block")
    assert gc.isenabled()


def test_collector_left_off_when_it_was_off(collector_on: None) -> None:
    gc.disable()
    with collector_paused():
        assert not gc.isenabled()
    assert not gc.isenabled()
