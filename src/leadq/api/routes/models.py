"""Trained conversion models as versions: list, show (with drift), activate, deactivate (as
`leadq model` does), and train a new one on the stored leads with outcomes or on an uploaded
file of past leads (as `leadq train` does), in the background, each training a row that any
server process answers for."""

from __future__ import annotations

import importlib.util
import logging
import tempfile
import threading
import uuid
from collections.abc import Callable
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi import Path as PathParam
from sqlalchemy.exc import SQLAlchemyError

from leadq.api.deps import SettingsDep, StoreDep, require_api_key
from leadq.api.models import (
    ERROR_RESPONSES,
    ErrorResponse,
    ModelActivated,
    ModelDeactivated,
    ModelList,
    ModelResponse,
    TrainingResponse,
    TrainingStatus,
    TrainRequest,
)
from leadq.config import Settings
from leadq.core.errors import Conflict, LeadqError, NotEnoughData, NotFound, NotInstalled
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

router = APIRouter(
    prefix="/api/models",
    tags=["models"],
    dependencies=[Depends(require_api_key)],
    responses={k: v for k, v in ERROR_RESPONSES.items() if k in (401, 422)},
)
ModelId = Annotated[int, PathParam(ge=1, le=2**63 - 1)]


def _error(description: str) -> dict[str, Any]:
    return {"model": ErrorResponse, "description": description}


_404: dict[int | str, dict[str, Any]] = {404: _error("No such model.")}


@router.get("", response_model=ModelList)
async def list_models(store: StoreDep) -> dict[str, Any]:
    """Every stored model, the newest first (`leadq model list`)."""
    return {"status": "success", "data": await store.call(_list, store)}


def _list(store: Store) -> list[dict[str, Any]]:
    with store.session() as s:
        return registry.list_models(s)


@router.get("/{model_id}", response_model=ModelResponse, responses=_404)
async def get_model(model_id: ModelId, store: StoreDep, settings: SettingsDep) -> dict[str, Any]:
    """A model with its full evaluation report (`leadq model show`), never its weights; and
    its drift: its predictions beside the won/lost outcomes of the leads it scored since."""
    found = await store.call(_get, store, model_id, settings.model_max_age_days)
    if found is None:
        raise NotFound(f"no model {model_id}")
    return {"status": "success", "data": found}


def _get(store: Store, model_id: int, max_age_days: int) -> dict[str, Any] | None:
    with store.session() as s:
        found = registry.get_model(s, model_id)
        if found is not None:
            found["drift"] = model_drift(s, model_id, max_age_days)
        return found


@router.post(
    "/{model_id}/activate",
    response_model=ModelActivated,
    responses={**_404, 409: _error("The report says no signal; `?force=true` overrides.")},
)
async def activate_model(
    model_id: ModelId,
    store: StoreDep,
    force: Annotated[
        bool, Query(description="Activate even when the model's report says no signal.")
    ] = False,
) -> dict[str, Any]:
    """Score new leads with this model (`leadq model activate`); the one active before is
    deactivated: to roll back, activate that one again. Serving processes pick it up within
    a few seconds."""
    return {"status": "success", "data": await store.call(_activate, store, model_id, force)}


def _activate(store: Store, model_id: int, force: bool) -> dict[str, Any]:
    with store.writing(), store.session.begin() as s:
        found = registry.get_model(s, model_id)
        if found is None:
            raise NotFound(f"no model {model_id}")
        if found["verdict"] == "no signal":
            if not force:
                raise Conflict(
                    f"not activated: model {model_id}'s report says no signal "
                    f"({NO_SIGNAL_RULE}); add ?force=true to activate it anyway"
                )
            log.warning("conversion model %d activated despite no signal (forced)", model_id)
        registry.activate(s, model_id)
    with store.session() as s:
        return registry.get_model(s, model_id) or found


@router.post("/deactivate", response_model=ModelDeactivated)
async def deactivate_model(store: StoreDep) -> dict[str, Any]:
    """Score with no model (`leadq model deactivate`): results carry no conversion
    probability."""
    return {"status": "success", "deactivated": await store.call(_deactivate, store)}


def _deactivate(store: Store) -> int | None:
    with store.writing(), store.session.begin() as s:
        return registry.deactivate(s)


# ---- training ------------------------------------------------------------------------------


class Trainings:
    """Trainings started here, each run on a thread of its own and kept as a row
    (`storage/trainings.py`): any server process answers for any of them, and one runs at a
    time across all of them."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def get(self, training_id: str) -> TrainingStatus | None:
        with self.store.session() as s:
            found = trainings.get(s, training_id)
        return None if found is None else TrainingStatus(**found)

    def start(self, source: str, work: Callable[[], tuple[int, str]]) -> TrainingStatus:
        """Run `work` (giving the new model's id and verdict) on a thread of its own."""
        started = trainings.start(self.store, uuid.uuid4().hex, source)
        training_id = started["training_id"]
        threading.Thread(
            target=self._run, args=(training_id, work), name="leadq-train", daemon=True
        ).start()
        return TrainingStatus(**started)

    def _run(self, training_id: str, work: Callable[[], tuple[int, str]]) -> None:
        done = threading.Event()
        pulse = threading.Thread(
            target=self._beat, args=(training_id, done), name="leadq-train-beat", daemon=True
        )
        pulse.start()
        try:
            model_id, verdict = work()
        except Exception as exc:
            error = _why(exc)
            expected = isinstance(exc, LeadqError | ImportError | LeadFileError)
            log.warning("training %s failed: %s", training_id, error, exc_info=not expected)
            trainings.finish(self.store, training_id, error=error)
            return
        finally:
            done.set()
        log.info("training %s stored model %d (%s)", training_id, model_id, verdict)
        trainings.finish(self.store, training_id, model_id=model_id, verdict=verdict)

    def _beat(self, training_id: str, done: threading.Event) -> None:
        while not done.wait(trainings.HEARTBEAT_SECONDS):
            try:
                trainings.beat(self.store, training_id)
            except SQLAlchemyError as exc:  # the database away for a moment: the next one
                log.debug("training %s heartbeat failed: %s", training_id, exc)


def _why(exc: Exception) -> str:
    """What a failed training tells its caller: the data's problem as the trainer (or the
    file reader, naming the row or byte) says it; anything else by its kind only (the server
    log has the rest)."""
    if isinstance(exc, LeadqError):  # not enough data, or the database away
        return exc.message
    if isinstance(exc, LeadFileError):
        return str(exc)
    if isinstance(exc, ImportError):
        return f"training needs scikit-learn ({exc.name} is not installed)"
    return "training failed; see the server log"


def _learn_installed() -> bool:
    """Whether scikit-learn is there, found without importing it."""
    return importlib.util.find_spec("sklearn") is not None


def _train_on(store: Store, settings: Settings, body: TrainRequest) -> tuple[int, str]:
    """`leadq train` (with FILE for a file's text): the training set, trained and stored as a
    new (inactive) model."""
    # scikit-learn and numpy load here, never when the server starts
    from leadq.learning.dataset import from_stored
    from leadq.learning.train import TrainingError, train

    engine = RulesEngine(load_icp(settings.icp_file), settings.score_weights)
    if body.source == "file":
        ts = _from_text(body, settings, engine)
    else:
        ts = from_stored(store.latest_with_outcomes(), engine)
    try:
        trained = train(ts)
    except TrainingError as exc:
        raise NotEnoughData(str(exc)) from None
    return trained.save(store, ts), str(trained.report.get("verdict"))


def _from_text(body: TrainRequest, settings: Settings, engine: RulesEngine) -> TrainingSet:
    """The training set of an uploaded file, read as `leadq train FILE` reads its file."""
    from leadq.learning.dataset import from_lead_file

    name = _shown_name(body)
    fmt = "jsonl" if PurePath(name).suffix.lower() in (".jsonl", ".ndjson", ".json") else "csv"
    with tempfile.TemporaryDirectory(prefix="leadq-train-") as tmp:
        path = Path(tmp) / f"upload.{fmt}"  # the caller's name is never a path here
        path.write_text(body.content or "", encoding="utf-8")
        try:
            read = read_lead_file(
                path, fmt, max_bytes=settings.max_file_bytes, max_rows=settings.max_rows
            )
        except LeadFileError as exc:  # said of the file the caller knows, not our copy
            raise LeadFileError(str(exc).replace(str(path), name)) from None
    label, positive = body.label or "", body.positive or []
    ts = from_lead_file(read, engine, label, positive, body.date_column or None, source=name)
    if not ts.labels:
        raise LeadFileError(f"{name}: no row has a value in the label column {label!r}")
    return ts


def _shown_name(body: TrainRequest) -> str:
    """What a training says it learned from: the uploaded file's name, without any folder."""
    if body.source != "file":
        return "stored leads with outcomes"
    return PurePath(body.filename or "").name.strip() or "upload.csv"


@router.post(
    "/train",
    status_code=202,
    response_model=TrainingResponse,
    responses={
        409: _error("A training is running already."),
        501: _error("scikit-learn is not installed: pip install 'leadq[learn]'."),
    },
)
async def start_training(
    body: TrainRequest, store: StoreDep, settings: SettingsDep
) -> dict[str, Any]:
    """Train a model in the background: on the stored leads with a recorded won/lost outcome
    (`leadq train`), or on past leads in a CSV or JSONL file whose text is sent (`leadq train
    FILE --label ... --positive ...`). The new model is stored inactive: read its report,
    then activate it. Follow it at `GET /api/models/train/{training_id}` (any server process
    answers)."""
    if not _learn_installed():
        raise NotInstalled(
            "training needs scikit-learn, which is not installed: pip install 'leadq[learn]'"
        )
    training = await store.call(
        Trainings(store).start, _shown_name(body), lambda: _train_on(store, settings, body)
    )
    return {"status": "success", "data": training}


@router.get(
    "/train/{training_id}",
    response_model=TrainingResponse,
    responses={404: _error("No such training.")},
)
async def get_training(
    training_id: Annotated[str, PathParam(max_length=64, pattern=r"^[0-9a-f]+$")],
    store: StoreDep,
) -> dict[str, Any]:
    """A training's state: running; done, with the new model's id and verdict; or failed,
    with why (e.g. "needs 50 more converted lead(s)", or the row of the file at fault)."""
    training = await store.call(Trainings(store).get, training_id)
    if training is None:
        raise NotFound(f"no training {training_id}")
    return {"status": "success", "data": training}
