"""Trainings as rows, on SQLite and PostgreSQL alike: one running at a time, a heartbeat, done
or failed; a running one whose heartbeat stopped reads as failed and blocks nothing."""

from __future__ import annotations

import pytest

from leadq.core.errors import Conflict
from leadq.storage import trainings
from leadq.storage.store import Store


def _get(store: Store, training_id: str) -> dict[str, object] | None:
    with store.session() as s:
        return trainings.get(s, training_id)


def test_one_runs_at_a_time_then_done_or_failed(store: Store) -> None:
    started = trainings.start(store, "aa01", "past.csv")
    with pytest.raises(Conflict, match="training aa01 is still running"):
        trainings.start(store, "aa02", "stored leads with outcomes")
    trainings.beat(store, "aa01")
    running = _get(store, "aa01")
    trainings.finish(store, "aa01", model_id=None, verdict="signal")
    done = _get(store, "aa01")
    trainings.start(store, "aa03", "stored leads with outcomes")
    trainings.finish(store, "aa03", error="not enough data to train: 50 more converted lead(s)")
    failed = _get(store, "aa03")

    assert started["state"] == "running"
    assert started["source"] == "past.csv"
    assert running is not None
    assert running["state"] == "running"
    assert done is not None
    assert (done["state"], done["verdict"], done["error"]) == ("done", "signal", None)
    assert done["finished_at"] is not None
    assert failed is not None
    assert failed["state"] == "failed"
    assert failed["error"] == "not enough data to train: 50 more converted lead(s)"
    assert _get(store, "ffff") is None


def test_a_training_without_heartbeat_is_failed_and_blocks_nothing(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    trainings.start(store, "bb01", "stored leads with outcomes")
    monkeypatch.setattr(trainings, "STALE_AFTER", 0.0)  # any earlier heartbeat is too old
    shown = _get(store, "bb01")
    again = trainings.start(store, "bb02", "stored leads with outcomes")
    monkeypatch.setattr(trainings, "STALE_AFTER", 30.0)
    stored = _get(store, "bb01")

    assert shown is not None
    assert (shown["state"], shown["error"]) == ("failed", trainings.STOPPED)
    assert again["state"] == "running"
    assert stored is not None
    assert stored["state"] == "failed"  # written so when the next one started


def test_only_the_newest_are_kept(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(trainings, "KEEP", 3)
    for i in range(5):
        trainings.start(store, f"cc0{i}", "stored leads with outcomes")
        trainings.finish(store, f"cc0{i}", verdict="signal")
    kept = [i for i in range(5) if _get(store, f"cc0{i}") is not None]
    assert kept == [2, 3, 4]
