"""The strict JSON schema of `ModelAnswer`, sent with every request, and the request fields
each structured-output method needs. Built once at import and reused."""

from __future__ import annotations

import json
from typing import Any

from leadq.core.answer import ModelAnswer

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
