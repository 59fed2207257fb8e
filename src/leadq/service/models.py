"""Conversion models as the API and the CLI manage them: list and show (with drift), activate
(a no-signal model only when forced) and deactivate, and train a new one on the stored leads
with outcomes or on a file of past leads. Every training, from the page or from `leadq train`,
is a row (`storage/trainings.py`) that any process answers for, and one runs at a time across
all of them. scikit-learn is imported only when a training runs."""

from __future__ import annotations

import logging
import tempfile
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import SQLAlchemyError

from leadq.config import Settings
from leadq.core.errors import Conflict, LeadqError, NotEnoughData, NotFound
from leadq.core.rules.engine import RulesEngine
from leadq.core.rules.icp import load_icp
from leadq.leadfiles import LeadFileError, read_lead_file
from leadq.learning.drift import model_drift
from leadq.learning.report import NO_SIGNAL_RULE
from leadq.storage import conversion_models as registry
from leadq.storage import trainings
from leadq.storage.store import Store

if TYPE_CHECKING:
    from leadq.learning.train import TrainingSet

log = logging.getLogger("leadq.models")

STORED = "stored leads with outcomes"  # what a training on the stored leads says it read


def list_models(store: Store) -> list[dict[str, Any]]:
    with store.session() as s:
        return registry.list_models(s)


def get_model(store: Store, model_id: int, max_age_days: int) -> dict[str, Any] | None:
    """A model with its report and its drift since it was trained, or None."""
    with store.session() as s:
        found = registry.get_model(s, model_id)
        if found is not None:
            found["drift"] = model_drift(s, model_id, max_age_days)
        return found


def activate(store: Store, model_id: int, force: bool, how_to_force: str) -> dict[str, Any]:
    """Make `model_id` the active model; `NotFound`, or `Conflict` for a no-signal model
    without `force` (the message tells the caller `how_to_force`)."""
    with store.writing(), store.session.begin() as s:
        found = registry.get_model(s, model_id)
        if found is None:
            raise NotFound(f"no model {model_id}")
        if found["verdict"] == "no signal":
            if not force:
                raise Conflict(
                    f"not activated: model {model_id}'s report says no signal "
                    f"({NO_SIGNAL_RULE}); {how_to_force} to activate it anyway"
                )
            log.warning("conversion model %d activated despite no signal (forced)", model_id)
        registry.activate(s, model_id)
    with store.session() as s:
        return registry.get_model(s, model_id) or found


def deactivate(store: Store) -> int | None:
    """No model active; the one that was, if any."""
    with store.writing(), store.session.begin() as s:
        return registry.deactivate(s)


# ---- training ------------------------------------------------------------------------------


@dataclass
class Stored:
    """A trained model as stored: its id, report and verdict."""

    model_id: int
    report: dict[str, Any]

    @property
    def verdict(self) -> str:
        return str(self.report.get("verdict"))


def rules_engine(settings: Settings) -> RulesEngine:
    return RulesEngine(load_icp(settings.icp_file), settings.score_weights)


def stored_set(store: Store, settings: Settings) -> TrainingSet:
    """The stored leads with a won/lost outcome, as a training set."""
    from leadq.learning.dataset import from_stored

    return from_stored(store.latest_with_outcomes(), rules_engine(settings))


def file_set(
    settings: Settings,
    path: Path,
    label: str,
    positive: Sequence[str],
    date_column: str | None = None,
    *,
    fmt: str | None = None,
    name: str | None = None,
    source: str | None = None,
) -> TrainingSet:
    """A file of past leads with their outcome in `label`, read as `leadq qualify` reads
    files; errors name the file as `name` (default: the path) and the row or byte. The
    training says it learned from `source` (default: `name`)."""
    from leadq.learning.dataset import from_lead_file

    shown = name or str(path)
    try:
        read = read_lead_file(
            path, fmt, max_bytes=settings.max_file_bytes, max_rows=settings.max_rows
        )
    except LeadFileError as exc:
        raise LeadFileError(str(exc).replace(str(path), shown)) from None
    ts = from_lead_file(
        read, rules_engine(settings), label, positive, date_column or None, source=source or shown
    )
    if not ts.labels:
        raise LeadFileError(f"{shown}: no row has a value in the label column {label!r}")
    return ts


def text_set(
    settings: Settings,
    name: str,
    content: str,
    label: str,
    positive: Sequence[str],
    date_column: str | None = None,
) -> TrainingSet:
    """`file_set` of an uploaded file's text, called `name` (never used as a path)."""
    fmt = "jsonl" if PurePath(name).suffix.lower() in (".jsonl", ".ndjson", ".json") else "csv"
    with tempfile.TemporaryDirectory(prefix="leadq-train-") as tmp:
        path = Path(tmp) / f"upload.{fmt}"
        path.write_text(content, encoding="utf-8")
        return file_set(settings, path, label, positive, date_column, fmt=fmt, name=name)


def train_and_store(store: Store, ts: TrainingSet) -> Stored:
    """Train on `ts` and store the model, inactive; `NotEnoughData` says why it cannot."""
    from leadq.learning.train import TrainingError, train

    try:
        trained = train(ts)
    except TrainingError as exc:
        raise NotEnoughData(str(exc)) from None
    return Stored(trained.save(store, ts), trained.report)


def why(exc: Exception) -> str:
    """What a failed training tells its caller: the data's problem as the trainer (or the
    file reader, naming the row or byte) says it; anything else by its kind only (the log has
    the rest)."""
    if isinstance(exc, LeadqError):  # not enough data, or the database away
        return exc.message
    if isinstance(exc, LeadFileError):
        return str(exc)
    if isinstance(exc, ImportError):
        return f"training needs scikit-learn ({exc.name} is not installed)"
    return "training failed; see the server log"


class Trainings:
    """Trainings as rows: `start` runs one on a thread of its own (the server), `run` in the
    caller's (the CLI); both keep the row's heartbeat while it runs and finish it with the
    model stored or why it failed."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def get(self, training_id: str) -> dict[str, Any] | None:
        with self.store.session() as s:
            return trainings.get(s, training_id)

    def start(self, source: str, work: Callable[[], Stored]) -> dict[str, Any]:
        """Record a running training and run `work` in the background; `Conflict` when one
        runs already."""
        started = trainings.start(self.store, uuid.uuid4().hex, source)
        threading.Thread(
            target=self._background,
            args=(started["training_id"], work),
            name="leadq-train",
            daemon=True,
        ).start()
        return started

    def run(self, source: str, work: Callable[[], Stored]) -> Stored:
        """Record a running training and run `work` here: its model, or its error raised
        (recorded as the training's failure)."""
        training_id = trainings.start(self.store, uuid.uuid4().hex, source)["training_id"]
        return self._run(training_id, work)

    def _background(self, training_id: str, work: Callable[[], Stored]) -> None:
        try:
            self._run(training_id, work)
        except Exception as exc:
            expected = isinstance(exc, LeadqError | ImportError | LeadFileError)
            log.warning("training %s failed: %s", training_id, why(exc), exc_info=not expected)

    def _run(self, training_id: str, work: Callable[[], Stored]) -> Stored:
        done = threading.Event()
        threading.Thread(
            target=self._beat, args=(training_id, done), name="leadq-train-beat", daemon=True
        ).start()
        try:
            stored = work()
        except BaseException as exc:
            trainings.finish(
                self.store,
                training_id,
                error=why(exc) if isinstance(exc, Exception) else "interrupted",
            )
            raise
        finally:
            done.set()
        log.info("training %s stored model %d (%s)", training_id, stored.model_id, stored.verdict)
        trainings.finish(self.store, training_id, model_id=stored.model_id, verdict=stored.verdict)
        return stored

    def _beat(self, training_id: str, done: threading.Event) -> None:
        while not done.wait(trainings.HEARTBEAT_SECONDS):
            try:
                trainings.beat(self.store, training_id)
            except SQLAlchemyError as exc:  # the database away for a moment: the next one
                log.debug("training %s heartbeat failed: %s", training_id, exc)
