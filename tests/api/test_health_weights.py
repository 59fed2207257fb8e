"""Health tells clients how `overall_score` is weighted (the page explains the score with it)."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.mark.parametrize(
    ("given", "shares"),
    [
        (None, {"fit": 0.35, "budget": 0.25, "urgency": 0.2, "authority": 0.2}),
        (
            {"fit": 2, "budget": 1, "urgency": 1, "authority": 0},
            {"fit": 0.5, "budget": 0.25, "urgency": 0.25, "authority": 0.0},
        ),
    ],
)
def test_health_gives_the_normalised_score_weights(
    live_app: Any, given: dict[str, float] | None, shares: dict[str, float]
) -> None:
    settings: dict[str, Any] = {"provider": "rules", "api_keys": "k-1"}
    if given is not None:
        settings["score_weights"] = given
    with live_app(**settings).client() as api:
        health = api.get("/api/leads/health").json()
    assert health["score_weights"] == shares
