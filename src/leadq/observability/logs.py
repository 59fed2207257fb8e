"""Structured logs with the standard library: one JSON object a line (or plain text), each
event carrying the id of the HTTP request it belongs to.

Plain `logging` with a small formatter rather than structlog or python-json-logger: leadq
emits a handful of event kinds, uvicorn and the libraries already log through `logging`,
and one formatter on the root handler renders all of them the same way with no second
pipeline to configure."""

from __future__ import annotations

import json
import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from leadq.config import Settings
from leadq.core.redact import redact_known

EVENTS = logging.getLogger("leadq.events")
request_id: ContextVar[str | None] = ContextVar("leadq_request_id", default=None)
_HANDLER_MARK = "_leadq_handler"
# Record attributes that are not event fields (uvicorn adds `color_message` to its own).
_STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "color_message"}


def log_event(event: str, level: int = logging.INFO, **fields: Any) -> None:
    """Log `event` with `fields` (None values left out) and the current request id."""
    if not EVENTS.isEnabledFor(level):
        return
    rid = request_id.get()
    if rid is not None:
        fields["request_id"] = rid
    EVENTS.log(level, event, extra={"fields": {k: v for k, v in fields.items() if v is not None}})


class _Scrub:
    """Replaces secret values (API keys) wherever they would appear in the output."""

    def __init__(self, secrets: list[str]) -> None:
        self.secrets = [s for s in secrets if len(s) >= 4]

    def __call__(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return redact_known(text)  # and every other key the settings registered


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    fields = dict(getattr(record, "fields", None) or {})
    for key, value in record.__dict__.items():  # `extra=` of other callers
        if key not in _STANDARD and key != "fields" and not key.startswith("_"):
            fields.setdefault(key, value)
    if "request_id" not in fields and (rid := request_id.get()) is not None:
        fields["request_id"] = rid
    return fields


class JsonFormatter(logging.Formatter):
    """`{"ts", "level", "logger", "event", ...fields}` on one line."""

    def __init__(self, secrets: list[str] | None = None) -> None:
        super().__init__()
        self.scrub = _Scrub(secrets or [])

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
            **_fields(record),
        }
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return self.scrub(json.dumps(out, ensure_ascii=False, default=str))


class TextFormatter(logging.Formatter):
    """`time level logger event key=value ...` for a person at a terminal."""

    def __init__(self, secrets: list[str] | None = None) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s %(message)s")
        self.scrub = _Scrub(secrets or [])

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extras = " ".join(f"{k}={json.dumps(v, default=str)}" for k, v in _fields(record).items())
        return self.scrub(f"{line} {extras}" if extras else line)


def _secrets(settings: Settings) -> list[str]:
    keys = [k.get_secret_value() for k in (settings.cerebras_api_key, settings.openai_api_key) if k]
    return keys + settings.api_key_list


def configure_logging(settings: Settings, default_level: str = "INFO") -> None:
    """Send every log record (leadq's, uvicorn's, the libraries') to stderr in
    `LEADQ_LOG_FORMAT` at `LEADQ_LOG_LEVEL` (else `default_level`). Calling it again
    replaces the handler it installed."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, _HANDLER_MARK, False)]:
        root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    setattr(handler, _HANDLER_MARK, True)
    formatter = JsonFormatter if settings.log_format == "json" else TextFormatter
    handler.setFormatter(formatter(_secrets(settings)))
    root.addHandler(handler)
    root.setLevel(settings.log_level or default_level)
