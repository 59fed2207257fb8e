"""What a backend must answer for one lead, before the result policy applies: the four
component scores, confidence, the proposed action and the texts."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from leadq.core.result import Action

_SCORE = "Number from 0.0 to 1.0."


class ModelAnswer(BaseModel):
    """The model's answer. `overall_score` is not asked for: code computes it from the four
    component scores. Bounds are checked after parsing (out-of-range values are clamped and
    flagged), so they are not in the schema."""

    model_config = ConfigDict(extra="ignore")

    fit_score: float = Field(description=f"Match with the ideal customer profile. {_SCORE}")
    budget_score: float = Field(description=f"Evidence of budget and approval. {_SCORE}")
    urgency_score: float = Field(description=f"How soon they will decide. {_SCORE}")
    authority_score: float = Field(description=f"Is this person a decision-maker. {_SCORE}")
    confidence: float = Field(description=f"Confidence in this assessment. {_SCORE}")
    recommended_action: Action
    reasoning: str = Field(description="Two or three sentences explaining the scores.")
    reasoning_for_action: str = Field(description="Why this action, given the scores.")
    key_insights: list[str] = Field(description="3-5 findings that drove the scores.")
    positive_indicators: list[str] = Field(description="Signals of buying intent.")
    risk_factors: list[str] = Field(description="Obstacles or red flags.")
    follow_up_questions: list[str] = Field(description="Questions to validate assumptions.")
    suggested_messaging: str = Field(description="A short opening message for outreach.")
