"""A configured key never comes back in an answer, whatever its format: a key with no vendor
prefix (a self-hosted gateway's), quoted back by the provider in a refusal, or in a 200
answer that is not JSON, over real HTTP on every qualify route."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import sse_events
from tests.api.test_leads_llm import LEAD
from tests.support.openai_server import Reply, ScriptedServer

GATEWAY_KEY = "Gw7Qz3Lp9Xk2Vb8Nm4Rt"  # 20 characters, no prefix: not key-shaped


def _quoting(status: int) -> Any:
    def handler(body: dict[str, Any]) -> Reply:
        if status == 200:  # a 200 whose body is not JSON, quoting the key
            return Reply(body=f"<html>gateway error for {GATEWAY_KEY}</html>")
        text = f"Incorrect API key provided: {GATEWAY_KEY}. You can find your API key at ..."
        return Reply(status=status, body={"error": {"message": text, "type": "invalid"}})

    return handler


@pytest.mark.parametrize("status", [200, 400, 401, 403, 404, 429])
def test_no_route_repeats_a_key_the_provider_quoted(
    live_app: Any, openai_server: ScriptedServer, status: int
) -> None:
    openai_server.handler = _quoting(status)
    app = live_app(
        provider="openai",
        openai_base_url=openai_server.url,
        openai_api_key=GATEWAY_KEY,
        model="test-model",
        max_retries=0,
        queue_timeout=1,
    )
    with app.client() as api:
        single = api.post("/api/leads/qualify", json=LEAD)
        batch = api.post("/api/leads/qualify-batch", json=[LEAD, {**LEAD, "lead_id": "K-2"}])
        with api.stream("POST", "/api/leads/qualify-stream", json=LEAD) as response:
            events = list(sse_events(response))
        with api.stream("POST", "/api/leads/qualify-as-completed", json=[LEAD]) as response:
            items = list(sse_events(response))
    answers = [single.text, batch.text, str(events), str(items)]
    assert single.status_code >= 400  # the provider refused: the answer says so...
    for text in answers:
        assert GATEWAY_KEY not in text  # ...without the key
