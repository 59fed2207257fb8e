"""Key-shaped text out of messages that leadq repeats (a provider's error body can quote the
key it was sent: OpenAI answers "Incorrect API key provided: sk-...")."""

from __future__ import annotations

import re

# Vendor key prefixes (sk-, sk-proj-, csk-, ...) followed by a key body, and any long token
# of key characters: provider messages have no other reason to carry one.
_KEYLIKE = re.compile(
    r"\b(?:sk|csk|pk|rk|gsk|key|token)[-_][A-Za-z0-9_\-]{6,}|(?<![\w-])[A-Za-z0-9_\-]{32,}"
)
REDACTED = "[redacted]"


def redact(text: str) -> str:
    """`text` with anything that looks like an API key replaced by `[redacted]`."""
    return _KEYLIKE.sub(REDACTED, text)
