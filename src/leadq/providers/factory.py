"""The one seam between settings and whatever answers: an LLM backend (Cerebras or any
OpenAI-compatible server, through the LCEL chain) or the embedded rules engine."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Protocol

from leadq.config import Settings
from leadq.providers.catalog import providers
from leadq.providers.llm import LLMBackend
from leadq.providers.rules import RulesBackend
from leadq.schemas.lead import LeadInput
from leadq.schemas.result import PartialResult, QualificationResult


class Backend(Protocol):
    """What the qualifier needs from whatever answers."""

    provider: str
    model: str
    is_local: bool

    async def qualify(self, lead: LeadInput) -> QualificationResult: ...
    def stream(self, lead: LeadInput) -> AsyncIterator[PartialResult | QualificationResult]: ...
    def describe(self) -> dict[str, Any]: ...
    async def aclose(self) -> None: ...


def make_backend(settings: Settings) -> Backend:
    """The backend `settings` ask for (`LEADQ_PROVIDER`, default cerebras-if-keyed-else-rules)."""
    name = settings.effective_provider
    if name == "rules":
        return RulesBackend(settings)
    return LLMBackend(settings, providers()[name])
