"""Model versions in storage, on SQLite and PostgreSQL alike: what a model's drift is measured
on, read from the stored results' JSON."""

from __future__ import annotations

from datetime import UTC, date, datetime

from leadq.storage import conversion_models as registry
from leadq.storage.outcomes import record_outcomes
from leadq.storage.store import Store
from tests.storage.test_store import lead, qualify


def _model(store: Store) -> int:
    with store.writing(), store.session.begin() as s:
        return registry.save_model(
            s,
            report={"rows": 100, "converted": 50, "not_converted": 50, "verdict": "signal"},
            scorer={},
            model=b"",
            fingerprint="0" * 64,
        )


def _scored(store: Store, name: str, probability: float | None, version: int | None) -> int:
    """A stored result of a lead, scored by model `version` (None: by none)."""
    result = qualify(lead(lead_name=name))
    result.conversion_probability, result.model_version = probability, version
    ((ref, _),) = store.save([(lead(lead_name=name), result)])
    assert ref is not None
    return ref


def test_scored_outcomes_are_the_won_and_lost_leads_that_model_scored(store: Store) -> None:
    model, other = _model(store), _model(store)
    ann = _scored(store, "Ann", 0.8, model)
    bo = _scored(store, "Bo", 0.3, model)
    cy = _scored(store, "Cy", 0.6, model)
    di = _scored(store, "Di", 0.5, other)  # another model's
    ed = _scored(store, "Ed", None, None)  # scored by none
    fay = _scored(store, "Fay", 0.4, model)  # no outcome yet
    on = date(2026, 12, 1)
    record_outcomes(
        store,
        [
            (ann, "lost", on),
            (ann, "won", on),  # the latest outcome counts
            (bo, "lost", on),
            (cy, "no_response", on),  # neither won nor lost
            (di, "won", on),
            (ed, "won", on),
        ],
    )
    with store.session() as s:
        pairs = sorted(registry.scored_outcomes(s, model))
        theirs = registry.scored_outcomes(s, other)
        active_before = registry.active_model(s)
        trained = registry.trained_at(s, model)
    assert pairs == [(0.3, False), (0.8, True)]
    assert theirs == [(0.5, True)]
    assert fay  # stored, without an outcome: not among them
    assert active_before is None
    assert trained is not None
    assert trained.tzinfo is not None
    assert abs((datetime.now(UTC) - trained).total_seconds()) < 3600
    with store.writing(), store.session.begin() as s:
        registry.activate(s, other)
    with store.session() as s:
        active = registry.active_model(s)
        assert registry.trained_at(s, 10**9) is None
    assert active is not None
    assert active["id"] == other
