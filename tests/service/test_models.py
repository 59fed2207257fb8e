"""Trainings as rows, from a foreground run (the CLI) or a background one (the server): a
failure is recorded with why and raised to the caller in the foreground; a no-signal model is
activated only when forced, and the message says how."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from leadq.config import Settings
from leadq.core.errors import Conflict, NotEnoughData, NotFound
from leadq.service import models as service
from leadq.storage.store import Store
from tests.learning.synthetic import training_set


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store.open(Settings(_env_file=None, data_dir=tmp_path))
    yield opened
    opened.close()


def test_a_foreground_training_records_its_failure_and_raises_it(store: Store) -> None:
    def short() -> service.Stored:
        raise NotEnoughData("not enough data to train: 3 more converted lead(s)")

    with pytest.raises(NotEnoughData):
        service.Trainings(store).run("stored leads with outcomes", short)
    stored = service.Trainings(store).run(
        "past.csv", lambda: service.train_and_store(store, training_set(300))
    )
    assert stored.verdict == "signal"
    listed = service.list_models(store)
    assert [(m["id"], m["active"]) for m in listed] == [(stored.model_id, False)]


def test_a_background_training_finishes_its_row(store: Store) -> None:
    trainings = service.Trainings(store)
    started = trainings.start("past.csv", lambda: service.train_and_store(store, training_set(300)))
    with pytest.raises(Conflict, match="still running"):
        trainings.start("other.csv", lambda: service.train_and_store(store, training_set(300)))
    end = time.monotonic() + 30
    while (found := trainings.get(started["training_id"])) and found["state"] == "running":
        assert time.monotonic() < end, found
        time.sleep(0.05)
    assert found is not None
    assert (found["state"], found["verdict"], found["error"]) == ("done", "signal", None)


def test_a_no_signal_model_is_activated_only_when_forced(store: Store) -> None:
    stored = service.train_and_store(store, training_set(600, shuffled=True))
    assert stored.verdict == "no signal"
    with pytest.raises(Conflict, match=r"no signal .*; add --force to activate it anyway"):
        service.activate(store, stored.model_id, False, "add --force")
    with pytest.raises(NotFound):
        service.activate(store, stored.model_id + 1, True, "add --force")
    assert service.activate(store, stored.model_id, True, "add --force")["active"] is True
    assert service.deactivate(store) == stored.model_id
