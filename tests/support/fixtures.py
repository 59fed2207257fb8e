"""Pytest plugin: one scripted OpenAI-compatible server (and one Anthropic Messages API
server) per test session, reset around each test, and `live_app` (the real app under
uvicorn) for the API and web tests. Load it with `pytest_plugins = ["tests.support.fixtures"]`
in the root conftest.py (or `-p tests.support.fixtures`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pytest

from leadq.config import Settings
from leadq.qualifier import LeadQualifier
from tests.api.conftest import LiveApp
from tests.support.anthropic_server import ScriptedServer as MessagesServer
from tests.support.llm import answer, scripted_llm_settings
from tests.support.openai_server import ScriptedServer

Server = TypeVar("Server", ScriptedServer, MessagesServer)


def _running(server: Server) -> Iterator[Server]:
    """`server` started for the session, stopped at its end."""
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _reset(server: Server) -> Iterator[Server]:
    """The session's `server` for one test, reset before and after it."""
    server.reset()
    yield server
    server.reset()


@pytest.fixture(scope="session")
def _scripted_server_session() -> Iterator[ScriptedServer]:
    yield from _running(ScriptedServer())


@pytest.fixture
def openai_server(_scripted_server_session: ScriptedServer) -> Iterator[ScriptedServer]:
    """The session's scripted server, with an empty queue, no recorded requests, zeroed
    counters and the default handler (`{"ok": true}`)."""
    yield from _reset(_scripted_server_session)


@pytest.fixture(scope="session")
def _second_server_session() -> Iterator[ScriptedServer]:
    yield from _running(ScriptedServer())


@pytest.fixture
def other_server(_second_server_session: ScriptedServer) -> Iterator[ScriptedServer]:
    """A second scripted server, for a second provider beside `openai_server` (routing,
    fallbacks to another host), reset like it."""
    yield from _reset(_second_server_session)


@pytest.fixture(scope="session")
def _anthropic_server_session() -> Iterator[MessagesServer]:
    yield from _running(MessagesServer())


@pytest.fixture
def anthropic_server(_anthropic_server_session: MessagesServer) -> Iterator[MessagesServer]:
    """The session's scripted Anthropic Messages API server, reset like `openai_server`."""
    yield from _reset(_anthropic_server_session)


@pytest.fixture
def live_app() -> Iterator[Callable[..., LiveApp]]:
    """`live_app(**settings)` starts the app with those settings; stopped after the test."""
    started: list[LiveApp] = []

    def start(**settings: Any) -> LiveApp:
        app = LiveApp(Settings(**settings)).start()
        started.append(app)
        return app

    yield start
    for app in started:
        app.stop()


@pytest.fixture
def llm(openai_server: ScriptedServer) -> Iterator[Callable[..., LeadQualifier]]:
    """`llm(**settings)`: a qualifier on the `openai` provider pointed at the scripted server
    (`provider="cerebras"` points the Cerebras provider there instead)."""
    openai_server.handler = lambda body: answer(body)
    made: list[LeadQualifier] = []

    def make(**overrides: Any) -> LeadQualifier:
        base = scripted_llm_settings(openai_server.url)
        if overrides.get("provider") == "cerebras":
            base.update(cerebras_base_url=openai_server.url, cerebras_api_key="csk-test")
            base.pop("model")
        q = LeadQualifier(Settings(**{**base, **overrides}))
        made.append(q)
        return q

    yield make
    for q in made:
        q.close()
