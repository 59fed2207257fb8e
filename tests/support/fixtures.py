"""Pytest plugin: one scripted OpenAI-compatible server per session, reset for each test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.openai_server import ScriptedServer


@pytest.fixture(scope="session")
def _scripted_server_session() -> Iterator[ScriptedServer]:
    server = ScriptedServer().start()
    yield server
    server.stop()


@pytest.fixture
def openai_server(_scripted_server_session: ScriptedServer) -> Iterator[ScriptedServer]:
    _scripted_server_session.reset()
    yield _scripted_server_session
    _scripted_server_session.reset()
