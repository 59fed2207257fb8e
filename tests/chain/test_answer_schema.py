"""The schema sent to the model must satisfy Cerebras' strict-mode limits (FINDINGS 2).
`check_strict` is also applied to the schema captured on the wire in tests/providers."""

from __future__ import annotations

import json
from typing import Any

import pytest

from leadq.chain.answer_schema import (
    ANSWER_SCHEMA,
    RESPONSE_FORMAT_JSON_SCHEMA,
    ModelAnswer,
    request_extras,
)

FORBIDDEN_KEYS = {"minItems", "maxItems", "pattern", "format", "minLength", "maxLength"}


def _walk(node: Any, path: str = "$"):
    if isinstance(node, dict):
        yield path, node
        for k, v in node.items():
            yield from _walk(v, f"{path}.{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _walk(v, f"{path}[{i}]")


def check_strict(schema: dict[str, Any]) -> None:
    """Assert each Cerebras strict-mode limit; the message names the limit and the place."""
    assert len(json.dumps(schema)) <= 5000, "schema longer than 5,000 characters"
    for path, node in _walk(schema):
        if node.get("type") == "object":
            assert node.get("additionalProperties") is False, f"{path}: additionalProperties"
            assert set(node.get("required", [])) == set(node.get("properties", {})), (
                f"{path}: every property must be required"
            )
        assert not (FORBIDDEN_KEYS & set(node)), f"{path}: {FORBIDDEN_KEYS & set(node)}"
        assert not isinstance(node.get("type"), list), f"{path}: type lists are not allowed"
        assert len(node.get("anyOf", [])) <= 5, f"{path}: anyOf with more than 5 branches"
        ref = node.get("$ref")
        assert ref is None or ref.startswith("#/$defs/"), f"{path}: external $ref {ref}"


def test_schema_meets_strict_limits() -> None:
    check_strict(ANSWER_SCHEMA)


def test_check_strict_catches_violations() -> None:
    bad = {
        "type": "object",
        "properties": {"a": {"type": ["string", "null"]}},
        "required": ["a"],
        "additionalProperties": False,
    }
    with pytest.raises(AssertionError, match="type lists"):
        check_strict(bad)


def test_schema_asks_for_every_answer_field_but_not_overall() -> None:
    assert set(ANSWER_SCHEMA["properties"]) == set(ModelAnswer.model_fields)
    assert "overall_score" not in ANSWER_SCHEMA["properties"]
    assert ANSWER_SCHEMA["properties"]["recommended_action"]["enum"][0] == "immediate_outreach"


def test_response_format_is_strict_json_schema_built_once() -> None:
    assert RESPONSE_FORMAT_JSON_SCHEMA["json_schema"]["strict"] is True
    assert request_extras("json_schema")["response_format"] is RESPONSE_FORMAT_JSON_SCHEMA
    tools = request_extras("function_calling")
    assert tools["tool_choice"]["function"]["name"] == tools["tools"][0]["function"]["name"]
    assert request_extras("json_mode") == {"response_format": {"type": "json_object"}}


def test_json_object_schema_is_llama_cpps_json_object_with_every_text_and_list_bounded() -> None:
    fmt = request_extras("json_object_schema")["response_format"]
    assert fmt["type"] == "json_object"
    check_bounded(fmt["schema"])


def check_bounded(schema: dict[str, Any]) -> None:
    """The answer schema, with a length on every free text and list (so that decoding held
    to it cannot loop inside one until the token budget is spent)."""
    assert set(schema["properties"]) == set(ANSWER_SCHEMA["properties"])
    assert schema["required"] == ANSWER_SCHEMA["required"]
    for name, node in schema["properties"].items():
        if node["type"] == "array":
            assert 3 <= node["maxItems"] <= 8, name  # "3-5 findings"; the policy keeps 8
            assert 0 < node["items"]["maxLength"] <= 400, name
        elif node["type"] == "string" and "enum" not in node:
            assert 0 < node["maxLength"] <= 2000, name
        else:
            assert not {"maxLength", "maxItems"} & set(node), name
