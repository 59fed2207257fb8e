"""What the model must answer, as a Pydantic model and as the strict JSON schema sent with
every request. The schema is built once at import and reused (FINDINGS 13)."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from leadq.schemas.result import Action

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


ANSWER_NAME = "lead_qualification"


def _strict(node: Any, defs: dict[str, Any]) -> Any:
    """Inline `$ref`s, drop titles and defaults, and close every object (strict mode)."""
    if isinstance(node, list):
        return [_strict(n, defs) for n in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        return _strict(defs[node["$ref"].rsplit("/", 1)[-1]], defs)
    out = {k: _strict(v, defs) for k, v in node.items() if k not in ("title", "default", "$defs")}
    if out.get("type") == "object":
        out["additionalProperties"] = False
        out["required"] = list(out.get("properties", {}))
    return out


def _build_schema() -> dict[str, Any]:
    raw = ModelAnswer.model_json_schema()
    return _strict(raw, raw.get("$defs", {}))


ANSWER_SCHEMA: dict[str, Any] = _build_schema()
ANSWER_SCHEMA_TEXT = json.dumps(ANSWER_SCHEMA, separators=(",", ":"))

RESPONSE_FORMAT_JSON_SCHEMA: dict[str, Any] = {
    "type": "json_schema",
    "json_schema": {"name": ANSWER_NAME, "strict": True, "schema": ANSWER_SCHEMA},
}
RESPONSE_FORMAT_JSON_OBJECT: dict[str, Any] = {"type": "json_object"}
ANSWER_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": ANSWER_NAME,
        "description": "Record the qualification of the lead.",
        "parameters": ANSWER_SCHEMA,
    },
}
ANSWER_TOOL_CHOICE: dict[str, Any] = {"type": "function", "function": {"name": ANSWER_NAME}}


def request_extras(method: str) -> dict[str, Any]:
    """Body fields that make the provider answer in structure, for each structured-output
    method: prebuilt once and serialized once into the model step's request head
    (`providers.chat_api.ChatCompletions`), never re-derived or re-walked per request."""
    if method == "json_schema":
        return {"response_format": RESPONSE_FORMAT_JSON_SCHEMA}
    if method == "json_mode":
        return {"response_format": RESPONSE_FORMAT_JSON_OBJECT}
    if method == "function_calling":
        return {"tools": [ANSWER_TOOL], "tool_choice": ANSWER_TOOL_CHOICE}
    raise ValueError(f"unknown structured output method {method!r}")
