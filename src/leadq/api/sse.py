"""Server-Sent Events framing. Each event has a name and carries the same name as `type` in
its JSON data, for clients that read only `data:` lines."""

from __future__ import annotations

import json
from typing import Any

from sse_starlette import ServerSentEvent


def event(kind: str, payload: dict[str, Any]) -> ServerSentEvent:
    return ServerSentEvent(
        data=json.dumps({"type": kind, **payload}, ensure_ascii=False, separators=(",", ":")),
        event=kind,
    )
