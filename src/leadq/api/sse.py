"""Server-Sent Events framing. The `event:` field names the kind; each `data:` line is the
object itself, as the original design's streams sent it: a client that reads only `data:`
lines as JSON gets the objects, and the last one of a successful stream is the result."""

from __future__ import annotations

import json
from typing import Any

from sse_starlette import ServerSentEvent


def event(kind: str, data: dict[str, Any]) -> ServerSentEvent:
    return ServerSentEvent(
        data=json.dumps(data, ensure_ascii=False, separators=(",", ":")), event=kind
    )
