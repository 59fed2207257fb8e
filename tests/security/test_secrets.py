"""Keys (provider keys and the service's own API keys) never show: not in logs, error
messages, `repr()`, the OpenAPI document or the output of `leadq serve` and `leadq qualify`,
even when the provider echoes the key back in an error body."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from leadq.backends.llm import LLMBackend
from leadq.config import Settings
from leadq.core.redact import redact
from leadq.core.result import LeadError
from leadq.providers.catalog import providers
from leadq.qualifier import LeadQualifier
from tests.cli.test_app import leadq
from tests.support.anthropic_server import Reply as ClaudeReply
from tests.support.anthropic_server import error_body
from tests.support.llm import answer
from tests.support.openai_server import Reply
from tests.support.serve import free_port, wait_until_serving

CEREBRAS = "csk-SECRETcerebras7f3a9c01b7de44aa"
OPENAI = "sk-SECRETopenai58e2d6c90f1b3377"
ANTHROPIC = "sk-ant-SECRETanthropic3c1f0e9a7d25"
SERVICE = "leadq-SECRETservice6d0e8b4c2a91"
KEYS = (CEREBRAS, OPENAI, ANTHROPIC, SERVICE)
LEAD = {"lead_name": "Ana Lima", "company_name": "Lima Corp", "industry": "SaaS"}


def assert_no_key(text: str) -> None:
    for key in KEYS:
        assert key not in text, f"{key[:12]}... leaked"
        assert key[-16:] not in text, f"the tail of {key[:12]}... leaked"


def llm_backends(qualifier) -> list[LLMBackend]:
    """The LLM backend behind a qualifier's policies (breaker, fallbacks)."""
    return [b for b in [qualifier.backend.unwrap()] if isinstance(b, LLMBackend)]


def test_repr_of_settings_qualifier_backend_and_chat_model(llm) -> None:
    settings = Settings(
        cerebras_api_key=CEREBRAS,
        openai_api_key=OPENAI,
        anthropic_api_key=ANTHROPIC,
        api_keys=SERVICE,
    )
    assert_no_key(repr(settings) + str(settings) + settings.model_dump_json())
    assert_no_key(repr(settings.model_dump()))
    qualifier = llm(openai_api_key=OPENAI)
    backends = llm_backends(qualifier)
    assert backends
    assert_no_key(repr(qualifier) + repr(qualifier.backend) + str(qualifier.describe()))
    for backend in backends:
        assert_no_key(repr(backend) + repr(backend._model(None)) + str(backend.describe()))


def test_repr_of_the_anthropic_backend_and_its_messages_step(anthropic_server) -> None:
    settings = Settings(
        provider="anthropic",
        anthropic_base_url=anthropic_server.url,
        anthropic_api_key=ANTHROPIC,
    )
    backend = LLMBackend(settings, providers()["anthropic"])
    step = backend._model(None)
    assert step.headers["x-api-key"] == ANTHROPIC  # the key is there, so the test can fail
    assert_no_key(repr(backend) + repr(step) + str(backend.describe()) + repr(settings))


@pytest.mark.parametrize("status", [400, 401, 403, 429, 529])
def test_anthropic_errors_echoing_the_key_do_not_repeat_it(
    anthropic_server, caplog, status: int
) -> None:
    echo = error_body(status, f"invalid x-api-key: {ANTHROPIC}")
    anthropic_server.handler = lambda body: ClaudeReply(status=status, body=echo)
    caplog.set_level(logging.DEBUG)
    settings = Settings(
        provider="anthropic",
        anthropic_base_url=anthropic_server.url,
        anthropic_api_key=ANTHROPIC,
        max_retries=0,
        queue_timeout=0.5,  # a 429 is waited out within the queue's bound, then reported
    )
    qualifier = LeadQualifier(settings)
    try:
        [outcome] = qualifier.qualify_leads_batch([LEAD])
    finally:
        qualifier.close()
    assert isinstance(outcome, LeadError)
    assert anthropic_server.request_headers[-1]["x-api-key"] == ANTHROPIC
    assert_no_key(outcome.model_dump_json())
    assert_no_key("\n".join(f"{r.getMessage()} {r.exc_text or ''}" for r in caplog.records))


@pytest.mark.parametrize("status", [400, 401, 403, 404, 429, 500])
def test_provider_errors_echoing_the_key_do_not_repeat_it(
    llm, openai_server, caplog, status: int
) -> None:
    """Some providers quote the key they were sent in their error body (OpenAI: "Incorrect
    API key provided: sk-..."); leadq's error message and logs must not pass it on."""
    echo = {"error": {"message": f"Incorrect API key provided: {OPENAI}", "code": "bad_key"}}
    openai_server.handler = lambda body: Reply(status=status, body=echo)
    caplog.set_level(logging.DEBUG)
    qualifier = llm(openai_api_key=OPENAI, max_retries=0, fallbacks="")
    [outcome] = qualifier.qualify_leads_batch([LEAD])
    assert isinstance(outcome, LeadError)
    assert_no_key(outcome.model_dump_json())
    assert_no_key("\n".join(f"{r.getMessage()} {r.exc_text or ''}" for r in caplog.records))


def test_debug_logs_of_a_call_hold_no_key(llm, openai_server, caplog) -> None:
    openai_server.handler = lambda body: answer(body)
    caplog.set_level(logging.DEBUG)
    result = llm(openai_api_key=OPENAI).qualify_lead(LEAD)
    assert result.provider == "openai"
    auth = openai_server.request_headers[-1].get("authorization", "")
    assert auth == f"Bearer {OPENAI}"  # the key was really sent (so the test can fail)
    assert_no_key("\n".join(r.getMessage() for r in caplog.records))


def test_openapi_document_and_health_hold_no_key(live_app, openai_server, tmp_path) -> None:
    app = live_app(
        provider="openai",
        openai_base_url=openai_server.url,
        openai_api_key=OPENAI,
        cerebras_api_key=CEREBRAS,
        api_keys=SERVICE,
        docs=True,  # with keys the documents are closed unless opened
        database_url=f"sqlite:///{tmp_path / 'keys.db'}",
    )
    with app.client() as client:
        document = client.get("/openapi.json")
        health = client.get("/api/leads/health")
        denied = client.post("/api/leads/qualify", json=LEAD, headers={"X-API-Key": "wrong"})
    assert document.status_code == health.status_code == 200
    assert denied.status_code == 401
    assert_no_key(document.text + health.text + denied.text)


def test_serve_output_holds_no_key(openai_server, tmp_path: Path) -> None:
    """`leadq serve` at DEBUG, with every key set, through calls that log the most: a
    qualification, a wrong X-API-Key, and the provider refusing the key."""
    openai_server.handler = lambda body: answer(body)
    port = free_port()
    env = {
        **os.environ,
        "LEADQ_PROVIDER": "openai",
        "OPENAI_BASE_URL": openai_server.url,
        "OPENAI_API_KEY": OPENAI,
        "CEREBRAS_API_KEY": CEREBRAS,
        "LEADQ_API_KEYS": SERVICE,
        "LEADQ_LOG_LEVEL": "DEBUG",
        "LEADQ_MAX_RETRIES": "0",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "leadq", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until_serving(proc, base)
        with httpx.Client(base_url=base, timeout=30) as client:
            ok = client.post("/api/leads/qualify", json=LEAD, headers={"X-API-Key": SERVICE})
            assert ok.status_code == 200, ok.text
            assert client.post("/api/leads/qualify", json=LEAD).status_code == 401
            echo = {"error": {"message": f"Incorrect API key provided: {OPENAI}"}}
            openai_server.handler = lambda body: Reply(status=401, body=echo)
            refused = client.post(
                "/api/leads/qualify",
                json={**LEAD, "lead_name": "Bo"},
                headers={"X-API-Key": SERVICE},
            )
            assert refused.status_code == 502, refused.text
            assert_no_key(ok.text + refused.text)
    finally:
        proc.terminate()
        output, _ = proc.communicate(timeout=30)
    assert "POST" in output or "http.request" in output, output[-2000:]  # it did log requests
    assert_no_key(output)


def test_cli_output_holds_no_key(openai_server, tmp_path: Path) -> None:
    echo = {"error": {"message": f"Incorrect API key provided: {OPENAI}"}}
    openai_server.handler = lambda body: Reply(status=401, body=echo)
    leads = tmp_path / "leads.jsonl"
    leads.write_text('{"lead_name": "Ana", "company_name": "Lima Corp"}\n')
    proc = leadq(
        "qualify",
        str(leads),
        "-q",
        env={
            "LEADQ_PROVIDER": "openai",
            "OPENAI_BASE_URL": openai_server.url,
            "OPENAI_API_KEY": OPENAI,
            "LEADQ_MAX_RETRIES": "0",
            "LEADQ_LOG_LEVEL": "DEBUG",
        },
    )
    assert proc.returncode == 1
    assert "provider_rejected" in proc.stdout
    assert_no_key(proc.stdout + proc.stderr)


def test_redact_hides_key_shaped_text_and_keeps_the_rest() -> None:
    text = f"Incorrect API key provided: {OPENAI}. Model gpt-4o-mini not found (req 12ab)."
    assert redact(text) == (
        "Incorrect API key provided: [redacted]. Model gpt-4o-mini not found (req 12ab)."
    )
    assert redact(f"key {CEREBRAS[:10]}") == "key [redacted]"


def test_a_password_in_a_database_or_redis_url_is_redacted(tmp_path: Path) -> None:
    """A driver's error can quote its connection string; the password in it never leaves."""
    Settings(
        _env_file=None,
        database_url="postgresql+psycopg://leadq:pg-pass-4711@db.example:5432/leadq",
        redis_url="redis://:redis-pass-9931@cache.example:6379/0",
    )
    quoted = "connection to postgresql://leadq:pg-pass-4711@db.example failed; redis-pass-9931"
    cleaned = redact(quoted)
    assert "pg-pass-4711" not in cleaned
    assert "redis-pass-9931" not in cleaned
    assert "db.example" in cleaned
