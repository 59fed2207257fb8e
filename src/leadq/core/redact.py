"""Keys out of every message that leaves the process (a provider's error body can quote the
key it was sent: OpenAI answers "Incorrect API key provided: ..."): every configured key,
whatever its format, and anything else that looks like one. Error bodies, stream events,
stored errors and the CLI's output pass `redact`; the log formatter does the same."""

from __future__ import annotations

import re
import threading

# Vendor key prefixes (sk-, sk-proj-, csk-, ...) followed by a key body, and any long token
# of key characters: provider messages have no other reason to carry one.
_KEYLIKE = re.compile(
    r"\b(?:sk|csk|pk|rk|gsk|key|token)[-_][A-Za-z0-9_\-]{6,}|(?<![\w-])[A-Za-z0-9_\-]{32,}"
)
REDACTED = "[redacted]"
MIN_SECRET = 6  # shorter values would redact ordinary words

_secrets: frozenset[str] = frozenset()
_lock = threading.Lock()


def register_secret(value: str | None) -> None:
    """Redact `value` from every message from now on (the settings register each key)."""
    global _secrets
    value = (value or "").strip()
    if len(value) >= MIN_SECRET and value not in _secrets:
        with _lock:
            _secrets = _secrets | {value}


def redact_known(text: str) -> str:
    """`text` with every configured key replaced (and nothing else: for logs, whose hashes
    and ids look like keys)."""
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


def redact(text: str) -> str:
    """`text` with every configured key, and anything that looks like a key, replaced by
    `[redacted]`."""
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return _KEYLIKE.sub(REDACTED, text)
