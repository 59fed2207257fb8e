"""Trained conversion models as versions: list, show (with drift), activate, deactivate (as
`leadq model` does), and train a new one on the stored leads with outcomes or on an uploaded
file of past leads (as `leadq train` does), in the background, each training a row that any
server process answers for."""

from __future__ import annotations

import importlib.util
from pathlib import PurePath
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi import Path as PathParam

from leadq.api.deps import SettingsDep, StoreDep, require_api_key
from leadq.api.models import (
    ERROR_RESPONSES,
    ErrorResponse,
    ModelActivated,
    ModelDeactivated,
    ModelList,
    ModelResponse,
    TrainingResponse,
    TrainRequest,
)
from leadq.config import Settings
from leadq.core.errors import NotFound, NotInstalled
from leadq.service import models as service
from leadq.storage.store import Store

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
    return {"status": "success", "data": await store.call(service.list_models, store)}


@router.get("/{model_id}", response_model=ModelResponse, responses=_404)
async def get_model(model_id: ModelId, store: StoreDep, settings: SettingsDep) -> dict[str, Any]:
    """A model with its full evaluation report (`leadq model show`), never its weights; and
    its drift: its predictions beside the won/lost outcomes of the leads it scored since."""
    found = await store.call(service.get_model, store, model_id, settings.model_max_age_days)
    if found is None:
        raise NotFound(f"no model {model_id}")
    return {"status": "success", "data": found}


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
    activated = await store.call(service.activate, store, model_id, force, "add ?force=true")
    return {"status": "success", "data": activated}


@router.post("/deactivate", response_model=ModelDeactivated)
async def deactivate_model(store: StoreDep) -> dict[str, Any]:
    """Score with no model (`leadq model deactivate`): results carry no conversion
    probability."""
    return {"status": "success", "deactivated": await store.call(service.deactivate, store)}


# ---- training ------------------------------------------------------------------------------


def _learn_installed() -> bool:
    """Whether scikit-learn is there, found without importing it."""
    return importlib.util.find_spec("sklearn") is not None


def _train_on(store: Store, settings: Settings, body: TrainRequest) -> service.Stored:
    """`leadq train` (with FILE: the uploaded file's text): trained and stored, inactive."""
    if body.source == "file":
        ts = service.text_set(
            settings,
            _shown_name(body),
            body.content or "",
            body.label or "",
            body.positive or [],
            body.date_column,
        )
    else:
        ts = service.stored_set(store, settings)
    return service.train_and_store(store, ts)


def _shown_name(body: TrainRequest) -> str:
    """What a training says it learned from: the uploaded file's name, without any folder."""
    if body.source != "file":
        return service.STORED
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
        service.Trainings(store).start,
        _shown_name(body),
        lambda: _train_on(store, settings, body),
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
    training = await store.call(service.Trainings(store).get, training_id)
    if training is None:
        raise NotFound(f"no training {training_id}")
    return {"status": "success", "data": training}
