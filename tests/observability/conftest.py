"""The LLM-over-HTTP and live-app fixtures, shared with the providers and API tests."""

from tests.api.conftest import live_app  # noqa: F401
from tests.providers.conftest import llm  # noqa: F401
