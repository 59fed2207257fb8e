"""The log formatters and `configure_logging`: one JSON object a line, request ids bound
through contextvars, secrets scrubbed."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator

import pytest

from leadq.config import Settings
from leadq.observability.logs import (
    EVENTS,
    JsonFormatter,
    TextFormatter,
    configure_logging,
    log_event,
    request_id,
)


def record(event: str = "lead.qualified", **fields) -> logging.LogRecord:
    rec = logging.makeLogRecord({"name": "leadq.events", "levelname": "INFO", "msg": event})
    rec.fields = fields  # type: ignore[attr-defined]
    return rec


def test_json_lines_carry_event_fields_and_request_id() -> None:
    token = request_id.set("req-123")
    try:
        line = JsonFormatter().format(record(provider="rules", overall_score=0.8))
    finally:
        request_id.reset(token)
    data = json.loads(line)
    assert data["event"] == "lead.qualified"
    assert data["level"] == "info"
    assert data["logger"] == "leadq.events"
    assert data["ts"].endswith("+00:00")
    assert (data["provider"], data["overall_score"], data["request_id"]) == (
        "rules",
        0.8,
        "req-123",
    )
    assert "\n" not in line


def test_exceptions_and_foreign_extras_are_kept() -> None:
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        rec = logging.getLogger("x").makeRecord(
            "x",
            logging.ERROR,
            __file__,
            1,
            "failed %s",
            ("here",),
            sys.exc_info(),
            extra={"job": "j1", "color_message": "\x1b[31m"},
        )
    data = json.loads(JsonFormatter().format(rec))
    assert data["event"] == "failed here"
    assert data["job"] == "j1"
    assert "RuntimeError: boom" in data["exc"]
    assert "color_message" not in data


def test_secrets_are_scrubbed_from_any_line() -> None:
    line = JsonFormatter(["csk-secret-1", "k2"]).format(record(note="key csk-secret-1 here"))
    assert "csk-secret-1" not in line
    assert "***" in line
    text = TextFormatter(["csk-secret-1"]).format(record(note="csk-secret-1"))
    assert "csk-secret-1" not in text
    assert 'note="***"' in text


@pytest.fixture
def root_logging() -> Iterator[logging.Logger]:
    """Put the root logger back as it was (pytest's capture handlers included)."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield root
    root.handlers[:] = handlers
    root.setLevel(level)


def test_configure_logging_installs_one_handler_at_the_level(root_logging, capsys) -> None:
    settings = Settings(
        log_level="warning", log_format="json", cerebras_api_key="csk-live-key", provider="rules"
    )
    configure_logging(settings)
    configure_logging(settings)  # again: replaces, does not add
    ours = [h for h in root_logging.handlers if getattr(h, "_leadq_handler", False)]
    assert len(ours) == 1
    assert root_logging.level == logging.WARNING
    log_event("lead.qualified", provider="rules")  # below the level
    log_event("lead.failed", logging.WARNING, error="x", note="csk-live-key")
    lines = [json.loads(x) for x in capsys.readouterr().err.splitlines() if x.startswith("{")]
    assert [x["event"] for x in lines] == ["lead.failed"]
    assert lines[0]["note"] == "***"
    configure_logging(Settings(log_format="text"), default_level="INFO")
    assert root_logging.level == logging.INFO
    EVENTS.info("provider.call", extra={"fields": {"status": "ok"}})
    err = capsys.readouterr().err
    assert "provider.call" in err
    assert 'status="ok"' in err
    assert not err.startswith("{")


def test_every_registered_secret_is_scrubbed_from_log_lines() -> None:
    """A webhook secret or a database password (registered by the settings) never reaches a
    log line, whichever formatter writes it."""
    Settings(_env_file=None, database_url="postgresql+psycopg://u:db-pass-5521@h/db")
    record = logging.makeLogRecord({"msg": "connect failed: u:db-pass-5521@h", "levelno": 40})
    for formatter in (JsonFormatter(), TextFormatter()):
        assert "db-pass-5521" not in formatter.format(record)
