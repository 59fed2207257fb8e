"""`ConversionBackend` over a real LLM backend (the scripted server) and a model stored and
active in a SQLite file of the test's own: with LEADQ_ACTION_BASIS=probability a stream's
partial results carry no action (the score's band would be contradicted at the end) and the
result's action is the model's band; with the default basis both are the score's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from leadq.config import Settings
from leadq.core.result import Action, PartialResult, QualificationResult
from leadq.learning.train import Trained, train
from leadq.storage import conversion_models as registry
from leadq.storage.store import Store
from tests.learning.synthetic import training_set
from tests.support.llm import answer


@pytest.fixture(scope="module")
def trained() -> Trained:
    return train(training_set(300))


def _store_active(data_dir: Path, trained: Trained) -> int:
    """`trained`, its bands putting every lead in not_qualified, active in `data_dir`'s
    database."""
    store = Store.open(Settings(data_dir=data_dir))
    try:
        with store.writing(), store.session.begin() as s:
            model = registry.save_model(
                s,
                report=trained.report,
                scorer={**trained.scorer, "bands": [[0.0, "not_qualified"]]},
                model=trained.model,
                fingerprint="0" * 64,
            )
            registry.activate(s, model)
    finally:
        store.close()
    return model


async def test_partials_wait_for_the_probability_when_it_sets_the_action(
    llm: Any, openai_server: Any, strong_lead: dict[str, str], tmp_path: Path, trained: Trained
) -> None:
    model = _store_active(tmp_path, trained)
    openai_server.handler = lambda body: answer(body, chunk_chars=10)

    async def stream(**settings: Any) -> tuple[list[PartialResult], QualificationResult]:
        items = [
            i async for i in llm(data_dir=tmp_path, **settings).stream_qualification(strong_lead)
        ]
        final = items[-1]
        assert isinstance(final, QualificationResult)
        partials = [i for i in items[:-1] if isinstance(i, PartialResult)]
        assert len(partials) == len(items) - 1 >= 5
        return partials, final

    by_probability, moved = await stream(action_basis="probability")
    by_score, kept = await stream()

    assert not any("recommended_action" in p.fields for p in by_probability)
    assert any("overall_score" in p.fields for p in by_probability)  # the scores still stream
    assert (moved.recommended_action, moved.action_basis) == (Action.NOT_QUALIFIED, "probability")
    assert moved.model_version == model
    assert any(p.fields.get("recommended_action") == "immediate_outreach" for p in by_score)
    assert (kept.recommended_action, kept.action_basis) == (Action.IMMEDIATE_OUTREACH, "score")
    assert kept.conversion_probability == moved.conversion_probability
