"""The LLM-over-HTTP fixture, shared with the providers tests (`live_app` is global: see
tests/support/fixtures.py)."""

from tests.providers.conftest import llm  # noqa: F401
