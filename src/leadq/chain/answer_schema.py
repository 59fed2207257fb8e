"""The strict JSON schema of `ModelAnswer`, sent with every request, and the request fields
each structured-output method needs. Built once at import and reused."""

from __future__ import annotations

import json
from collections.abc import Collection
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
_SCHEMA_MAPS = ("properties", "$defs", "patternProperties")  # name -> schema
_SCHEMA_LISTS = ("anyOf", "allOf", "oneOf", "prefixItems")  # [schema, ...]


def schema_without(unsupported: Collection[str], node: Any = ANSWER_SCHEMA) -> Any:
    """The answer schema for a provider whose structured output refuses the keywords in
    `unsupported` (numeric bounds, string lengths): each one left out, and said in its
    node's description instead, so that the model still reads it. leadq checks the answer
    against its own rules after parsing, whatever the provider enforced."""
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    dropped: dict[str, Any] = {}
    for key, value in node.items():
        if key in unsupported:
            dropped[key] = value
        elif key in _SCHEMA_MAPS and isinstance(value, dict):
            out[key] = {name: schema_without(unsupported, sub) for name, sub in value.items()}
        elif key in _SCHEMA_LISTS and isinstance(value, list):
            out[key] = [schema_without(unsupported, sub) for sub in value]
        elif key in ("items", "additionalProperties", "not"):
            out[key] = schema_without(unsupported, value)
        else:
            out[key] = value
    if dropped:
        said = ", ".join(f"{k}: {json.dumps(v)}" for k, v in dropped.items())
        out["description"] = (out.get("description", "") + f" {{{said}}}").strip()
    return out


RESPONSE_FORMAT_JSON_SCHEMA: dict[str, Any] = {
    "type": "json_schema",
    "json_schema": {"name": ANSWER_NAME, "strict": True, "schema": ANSWER_SCHEMA},
}
RESPONSE_FORMAT_JSON_OBJECT: dict[str, Any] = {"type": "json_object"}
# Decoding held to a grammar can loop inside one string until the token budget is spent (a
# small model repeating a phrase): there, each text and list is bounded as well, a little
# above what its description asks for and within what the result policy keeps.
TEXT_MAX_CHARS, LIST_MAX_ITEMS, ITEM_MAX_CHARS = 600, 5, 200


def _bounded(schema: dict[str, Any]) -> dict[str, Any]:
    """The answer schema with a `maxLength` on each free text and a `maxItems` (and its
    items' `maxLength`) on each list."""
    properties = {}
    for name, node in schema["properties"].items():
        node = dict(node)
        if node.get("type") == "string" and "enum" not in node:
            node["maxLength"] = TEXT_MAX_CHARS
        elif node.get("type") == "array":
            node["maxItems"] = LIST_MAX_ITEMS
            node["items"] = {**node["items"], "maxLength": ITEM_MAX_CHARS}
        properties[name] = node
    return {**schema, "properties": properties}


BOUNDED_ANSWER_SCHEMA: dict[str, Any] = _bounded(ANSWER_SCHEMA)
# llama.cpp's server (and llama-cpp-python's) constrain decoding to a schema given this way.
RESPONSE_FORMAT_JSON_OBJECT_SCHEMA: dict[str, Any] = {
    "type": "json_object",
    "schema": BOUNDED_ANSWER_SCHEMA,
}
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
    if method == "json_object_schema":
        return {"response_format": RESPONSE_FORMAT_JSON_OBJECT_SCHEMA}
    if method == "json_mode":
        return {"response_format": RESPONSE_FORMAT_JSON_OBJECT}
    if method == "function_calling":
        return {"tools": [ANSWER_TOOL], "tool_choice": ANSWER_TOOL_CHOICE}
    raise ValueError(f"unknown structured output method {method!r}")
