"""Trained conversion models as versions: list, show, activate, deactivate (as `leadq model`
does), and train a new one on the stored leads with outcomes (as `leadq train` does)."""

from __future__ import annotations

import importlib.util
import logging
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query

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
from leadq.learning.report import NO_SIGNAL_RULE
from leadq.storage import conversion_models as registry
from leadq.storage.store import Store

log = logging.getLogger("leadq.models")

router = APIRouter(
    prefix="/api/models",
    tags=["models"],
    dependencies=[Depends(require_api_key)],
    responses={k: v for k, v in ERROR_RESPONSES.items() if k in (401, 422)},
)
ModelId = Annotated[int, Path(ge=1, le=2**63 - 1)]


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
async def get_model(model_id: ModelId, store: StoreDep) -> dict[str, Any]:
    """A model with its full evaluation report (`leadq model show`); never its weights."""
    found = await store.call(_get, store, model_id)
    if found is None:
        raise NotFound(f"no model {model_id}")
    return {"status": "success", "data": found}


def _get(store: Store, model_id: int) -> dict[str, Any] | None:
    with store.session() as s:
        return registry.get_model(s, model_id)


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
    """The trainings this process started, newest last (the last KEEP of them), one running
    at a time. Kept in memory: a status is asked of the process that started it."""

    KEEP = 50

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._all: OrderedDict[str, TrainingStatus] = OrderedDict()

    def get(self, training_id: str) -> TrainingStatus | None:
        with self._lock:
            found = self._all.get(training_id)
            return found.model_copy() if found else None

    def start(self, work: Callable[[], tuple[int, str]]) -> TrainingStatus:
        """Run `work` (giving the new model's id and verdict) on a thread of its own."""
        with self._lock:
            running = [t.training_id for t in self._all.values() if t.state == "running"]
            if running:
                raise Conflict(f"training {running[0]} is still running: ask for it again later")
            training = TrainingStatus(
                training_id=uuid.uuid4().hex, state="running", started_at=_now()
            )
            self._all[training.training_id] = training
            while len(self._all) > self.KEEP:
                self._all.popitem(last=False)
        threading.Thread(
            target=self._run, args=(training, work), name="leadq-train", daemon=True
        ).start()
        return training.model_copy()

    def _run(self, training: TrainingStatus, work: Callable[[], tuple[int, str]]) -> None:
        try:
            model_id, verdict = work()
        except Exception as exc:
            error = _why(exc)
            expected = isinstance(exc, LeadqError | ImportError)  # else: the traceback too
            log.warning(
                "training %s failed: %s", training.training_id, error, exc_info=not expected
            )
            with self._lock:
                training.state, training.error = "failed", error
                training.finished_at = _now()
            return
        log.info("training %s stored model %d (%s)", training.training_id, model_id, verdict)
        with self._lock:
            training.state, training.model_id, training.verdict = "done", model_id, verdict
            training.finished_at = _now()


_trainings = Trainings()


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _why(exc: Exception) -> str:
    """What a failed training tells its caller: the data's problem as the trainer says it;
    anything else by its kind only (the server log has the rest)."""
    if isinstance(exc, LeadqError):  # not enough data, or the database away
        return exc.message
    if isinstance(exc, ImportError):
        return f"training needs scikit-learn ({exc.name} is not installed)"
    return "training failed; see the server log"


def _learn_installed() -> bool:
    """Whether scikit-learn is there, found without importing it."""
    return importlib.util.find_spec("sklearn") is not None


def _train_stored(store: Store, settings: Settings) -> tuple[int, str]:
    """`leadq train` without FILE: the stored leads with a recorded outcome, stored as a new
    (inactive) model."""
    # scikit-learn and numpy load here, never when the server starts
    from leadq.learning.dataset import from_stored
    from leadq.learning.train import TrainingError, train

    engine = RulesEngine(load_icp(settings.icp_file), settings.score_weights)
    ts = from_stored(store.latest_with_outcomes(), engine)
    try:
        trained = train(ts)
    except TrainingError as exc:
        raise NotEnoughData(str(exc)) from None
    return trained.save(store, ts), str(trained.report.get("verdict"))


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
    """Train a model on the stored leads with a recorded won/lost outcome (`leadq train`
    without FILE), in the background. The new model is stored inactive: read its report,
    then activate it. Follow it at `GET /api/models/train/{training_id}`."""
    if not _learn_installed():
        raise NotInstalled(
            "training needs scikit-learn, which is not installed: pip install 'leadq[learn]'"
        )
    training = _trainings.start(lambda: _train_stored(store, settings))
    return {"status": "success", "data": training}


@router.get(
    "/train/{training_id}",
    response_model=TrainingResponse,
    responses={404: _error("No such training in this process.")},
)
async def get_training(
    training_id: Annotated[str, Path(max_length=64, pattern=r"^[0-9a-f]+$")],
) -> dict[str, Any]:
    """A training's state: running; done, with the new model's id and verdict; or failed,
    with why (e.g. "needs 50 more converted lead(s)")."""
    training = _trainings.get(training_id)
    if training is None:
        raise NotFound(f"no training {training_id} in this process")
    return {"status": "success", "data": training}
