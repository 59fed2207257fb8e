"""`Backend`: what the qualifier needs from whatever answers (an LLM, the rules engine, or a
router over several of them)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Protocol

from leadq.core.lead import LeadInput
from leadq.core.result import PartialResult, QualificationResult


class Backend(Protocol):
    provider: str
    model: str
    is_local: bool

    async def qualify(self, lead: LeadInput) -> QualificationResult: ...
    def stream(self, lead: LeadInput) -> AsyncIterator[PartialResult | QualificationResult]: ...
    def describe(self) -> dict[str, Any]: ...
    async def aclose(self) -> None: ...
