"""Run the real app under uvicorn on 127.0.0.1 (a free port), so tests use real HTTP and
real SSE, including client disconnects."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any, NamedTuple

import httpx
import pytest
import uvicorn

from leadq.api.app import create_app
from leadq.config import Settings
from tests.support.llm import answer


class LiveApp:
    def __init__(self, settings: Settings) -> None:
        self.app = create_app(settings)
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        sock.close()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(
            uvicorn.Config(
                self.app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on"
            )
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> LiveApp:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("app did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)

    def client(self, **kw: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30, **kw)


class Event(NamedTuple):
    name: str
    data: Any


def sse_events(response: httpx.Response) -> Iterator[Event]:
    """Each event of an SSE response as it arrives: its `event:` name ("message" when it has
    none) and its `data:` parsed as JSON. An event without data lines is not one (as a
    browser's EventSource sees it)."""
    name, data = "", []
    for line in response.iter_lines():
        if line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))
        elif line.startswith("event:"):
            name = line[6:].strip()
        elif line == "":
            if data:
                yield Event(name or "message", json.loads("\n".join(data)))
            name, data = "", []


def data_lines(response: httpx.Response) -> list[Any]:
    """Every `data:` line of an SSE response parsed as JSON, ignoring `event:` lines: how the
    original design's stream clients read a stream."""
    return [json.loads(line[5:]) for line in response.iter_lines() if line.startswith("data:")]


@pytest.fixture
def llm_app(live_app, openai_server):
    """`llm_app(**settings)`: a live app on the Cerebras provider pointed at the scripted
    server, answering GOOD."""
    openai_server.handler = lambda body: answer(body)

    def start(**settings):
        return live_app(
            **{
                "provider": "cerebras",
                "cerebras_base_url": openai_server.url,
                "cerebras_api_key": "csk-test",
                "max_retries": 0,
                "retry_base_delay": 0.01,
                **settings,
            }
        )

    return start
