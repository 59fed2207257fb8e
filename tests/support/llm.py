"""Answers for the scripted OpenAI-compatible server, and settings that point leadq at it."""

from __future__ import annotations

import json
from typing import Any

from tests.support import anthropic_server
from tests.support.openai_server import Reply

GOOD = {
    "fit_score": 0.8,
    "budget_score": 0.7,
    "urgency_score": 0.6,
    "authority_score": 0.9,
    "confidence": 0.85,
    "recommended_action": "immediate_outreach",
    "reasoning": "Strong SaaS fit with a VP buyer and an active evaluation.",
    "reasoning_for_action": "High scores across the board.",
    "key_insights": ["VP-level buyer", "Series B funding"],
    "positive_indicators": ["Requested a demo"],
    "risk_factors": ["Competitive evaluation"],
    "follow_up_questions": ["Who signs off on budget?"],
    "suggested_messaging": "Hi John, congrats on the Series B.",
}


def lead_in(body: dict[str, Any]) -> dict[str, Any]:
    """The lead JSON the client put in the `<lead_data>` block of its user message (not the
    last message on a repair attempt)."""
    text = next(
        m["content"]
        for m in body["messages"]
        if m["role"] == "user" and "<lead_data>" in m["content"]
    )
    block = text.split("<lead_data>", 1)[1].split("</lead_data>", 1)[0]
    return json.loads(block)


def answer(body: dict[str, Any], data: dict[str, Any] | None = None, **kw: Any) -> Reply:
    """A well-formed reply carrying `data`, as content or as a tool call, as the request asks."""
    text = json.dumps(GOOD if data is None else data)
    if "tools" in body:
        return Reply(
            tool_call=(body["tools"][0]["function"]["name"], text), finish_reason="tool_calls", **kw
        )
    return Reply(content=text, **kw)


def scripted_llm_settings(url: str, timeout: float = 5) -> dict[str, Any]:
    """Settings for the `openai` provider pointed at the scripted server at `url`, with no
    retries (a test that wants them says so)."""
    return {
        "provider": "openai",
        "openai_base_url": url,
        "openai_api_key": "sk-test",
        "model": "test-model",
        "max_retries": 0,
        "retry_base_delay": 0.01,
        "timeout": timeout,
    }


def claude_answer(
    body: dict[str, Any], data: dict[str, Any] | None = None, **kw: Any
) -> anthropic_server.Reply:
    """A well-formed Messages API reply carrying `data`, as text or as the forced tool's
    input, as the request asks."""
    text = json.dumps(GOOD if data is None else data)
    if "tools" in body:
        return anthropic_server.Reply(tool_input=text, tool_name=body["tools"][0]["name"], **kw)
    return anthropic_server.Reply(text=text, **kw)


def scripted_anthropic_settings(url: str, timeout: float = 5) -> dict[str, Any]:
    """Settings for the `anthropic` provider pointed at the scripted Messages API server at
    `url`, with no retries (a test that wants them says so)."""
    return {
        "provider": "anthropic",
        "anthropic_base_url": url,
        "anthropic_api_key": "sk-ant-test",
        "max_retries": 0,
        "retry_base_delay": 0.01,
        "timeout": timeout,
    }
