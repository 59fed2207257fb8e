"""The backend contract, run against every implementation: the rules engine, the LLM over the
scripted server, and each policy wrapped around them. A new backend subclasses
`BackendContract` and provides the `backend` fixture."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, ClassVar

import pytest

from leadq.backends.base import Backend
from leadq.backends.breaker import BreakerBackend, CircuitBreaker
from leadq.backends.budget import BudgetBackend, BudgetGuard
from leadq.backends.escalation import EscalatingBackend
from leadq.backends.fallback import FallbackBackend
from leadq.backends.llm import LLMBackend
from leadq.backends.routing import RoutingBackend
from leadq.backends.rules_engine import RulesBackend
from leadq.config import Settings
from leadq.core.calls import CallAttempt
from leadq.core.lead import LeadInput
from leadq.core.result import Action, Flag, PartialResult, QualificationResult
from leadq.providers.catalog import providers
from tests.support.anthropic_server import ScriptedServer as MessagesServer
from tests.support.llm import (
    answer,
    claude_answer,
    scripted_anthropic_settings,
    scripted_llm_settings,
)
from tests.support.openai_server import ScriptedServer


def _llm(server: ScriptedServer, **overrides: Any) -> LLMBackend:
    settings = Settings(**{**scripted_llm_settings(server.url), **overrides})
    return LLMBackend(settings, providers()["openai"])


class BackendContract:
    """What every `Backend` promises, whatever answers."""

    #: Whether the backend (under its policies) calls a provider for each lead.
    calls_provider: ClassVar[bool] = True

    @pytest.fixture
    def lead(self, strong_lead: dict[str, str]) -> LeadInput:
        return LeadInput.parse(strong_lead)

    async def test_qualify_gives_a_bounded_result_saying_who_answered(
        self, backend: Backend, lead: LeadInput
    ) -> None:
        result = await backend.qualify(lead)
        for name in QualificationResult.SCORE_FIELDS:
            assert 0.0 <= getattr(result, name) <= 1.0, name
        assert isinstance(result.recommended_action, Action)
        assert result.reasoning
        assert (result.provider, result.model) == (backend.provider, backend.model)
        assert result.lead_id == "L-1"

    async def test_stream_ends_with_the_result_and_only_partials_before_it(
        self, backend: Backend, lead: LeadInput
    ) -> None:
        items = [item async for item in backend.stream(lead)]
        assert isinstance(items[-1], QualificationResult)
        assert all(isinstance(item, PartialResult) for item in items[:-1])
        assert items[-1].overall_score == (await backend.qualify(lead)).overall_score

    def test_describe_names_provider_model_and_configured(self, backend: Backend) -> None:
        described = backend.describe()
        assert described["provider"] == backend.provider
        assert described["model"] == backend.model
        assert described["configured"] is True

    def test_qualify_now_only_where_local(self, backend: Backend, lead: LeadInput) -> None:
        if backend.is_local:
            assert backend.qualify_now(lead).provider == backend.provider
        else:
            with pytest.raises(TypeError, match="not local"):
                backend.qualify_now(lead)

    def test_cache_scope_names_provider_model_and_prompt(
        self, backend: Backend, lead: LeadInput
    ) -> None:
        scope = backend.cache_scope(lead)
        if self.calls_provider:
            assert scope is not None
            assert scope[:2] == (backend.unwrap().provider, backend.unwrap().model)
        else:
            assert scope is None

    async def test_every_provider_call_is_reported(self, backend: Backend, lead: LeadInput) -> None:
        seen: list[CallAttempt] = []
        backend.report_calls_to(seen.append)
        await backend.qualify(lead)
        if self.calls_provider:
            assert seen
            assert seen[-1].status == "ok"
            assert seen[-1].lead is lead
        else:
            assert seen == []

    def test_seed_spend_is_accepted(self, backend: Backend) -> None:
        backend.seed_spend(0.0)  # a backend without a budget ignores it; one with it counts

    def test_unwrap_reaches_a_backend_that_is_not_a_policy(self, backend: Backend) -> None:
        inner = backend.unwrap()
        assert isinstance(inner, LLMBackend | RulesBackend)
        assert inner.unwrap() is inner

    async def test_aclose_twice_is_harmless(self, backend: Backend, lead: LeadInput) -> None:
        await backend.qualify(lead)
        await backend.aclose()
        await backend.aclose()


class TestRulesBackend(BackendContract):
    calls_provider = False

    @pytest.fixture
    def backend(self) -> Backend:
        return RulesBackend(Settings())


class TestLLMBackend(BackendContract):
    @pytest.fixture
    async def backend(self, openai_server: ScriptedServer) -> AsyncIterator[Backend]:
        openai_server.handler = lambda body: answer(body)
        backend = _llm(openai_server)
        yield backend
        await backend.aclose()

    async def test_the_scripted_provider_was_really_called(
        self, backend: Backend, lead: LeadInput, openai_server: ScriptedServer
    ) -> None:
        await backend.qualify(lead)
        assert openai_server.completed >= 1


class TestAnthropicBackend(BackendContract):
    """The LLM backend on the Messages API (its own wire format)."""

    @pytest.fixture
    async def backend(self, anthropic_server: MessagesServer) -> AsyncIterator[Backend]:
        anthropic_server.handler = lambda body: claude_answer(body)
        settings = Settings(**scripted_anthropic_settings(anthropic_server.url))
        backend = LLMBackend(settings, providers()["anthropic"])
        yield backend
        await backend.aclose()

    async def test_the_scripted_provider_was_really_called(
        self,
        backend: Backend,
        lead: LeadInput,
        anthropic_server: MessagesServer,
    ) -> None:
        await backend.qualify(lead)
        assert anthropic_server.completed >= 1
        assert anthropic_server.requests[-1]["model"] == "claude-haiku-4-5"


class TestBreakerBackend(BackendContract):
    @pytest.fixture
    async def backend(self, openai_server: ScriptedServer) -> AsyncIterator[Backend]:
        openai_server.handler = lambda body: answer(body)
        backend = BreakerBackend(_llm(openai_server), CircuitBreaker("openai"))
        yield backend
        await backend.aclose()


class TestFallbackBackend(BackendContract):
    @pytest.fixture
    async def backend(self, openai_server: ScriptedServer) -> AsyncIterator[Backend]:
        openai_server.handler = lambda body: answer(body)
        backend = FallbackBackend([_llm(openai_server), RulesBackend(Settings())])
        yield backend
        await backend.aclose()


class TestFallbackToTheRulesEngine(BackendContract):
    """The first route's breaker is open: the rules engine answers every lead."""

    calls_provider = False

    @pytest.fixture
    async def backend(self, openai_server: ScriptedServer) -> AsyncIterator[Backend]:
        breaker = CircuitBreaker("openai", threshold=1, cooldown=3600)
        breaker.failed()
        backend = FallbackBackend(
            [BreakerBackend(_llm(openai_server), breaker), RulesBackend(Settings())]
        )
        yield backend
        await backend.aclose()
        assert openai_server.completed == 0  # the open breaker kept every call away

    async def test_qualify_gives_a_bounded_result_saying_who_answered(
        self, backend: Backend, lead: LeadInput
    ) -> None:
        result = await backend.qualify(lead)
        assert (result.provider, result.model) == ("rules", RulesBackend.model)
        assert Flag.FALLBACK_USED in result.flags
        assert 0.0 <= result.overall_score <= 1.0

    def test_cache_scope_names_provider_model_and_prompt(
        self, backend: Backend, lead: LeadInput
    ) -> None:
        scope = backend.cache_scope(lead)  # the first route's, though another answers
        assert scope is not None
        assert scope[0] == "openai"

    def test_unwrap_reaches_a_backend_that_is_not_a_policy(self, backend: Backend) -> None:
        assert isinstance(backend.unwrap(), LLMBackend)


class TestEscalatingBackend(BackendContract):
    @pytest.fixture
    async def backend(self, openai_server: ScriptedServer) -> AsyncIterator[Backend]:
        openai_server.handler = lambda body: answer(body)
        backend = EscalatingBackend(_llm(openai_server), RulesBackend(Settings()), below=0.5)
        yield backend
        await backend.aclose()


class TestBudgetBackend(BackendContract):
    @pytest.fixture
    async def backend(self, openai_server: ScriptedServer) -> AsyncIterator[Backend]:
        openai_server.handler = lambda body: answer(body)
        backend = BudgetBackend(_llm(openai_server), BudgetGuard(100.0), RulesBackend(Settings()))
        yield backend
        await backend.aclose()


class TestRoutingBackend(BackendContract):
    """The lead is rated below the threshold: the default lane answers."""

    @pytest.fixture
    async def backend(self, openai_server: ScriptedServer) -> AsyncIterator[Backend]:
        openai_server.handler = lambda body: answer(body)
        routed = _llm(openai_server, model="big-model")
        backend = RoutingBackend(_llm(openai_server), routed, 0.99, lambda lead: 0.5)
        yield backend
        await backend.aclose()
        assert all(body["model"] == "test-model" for body in openai_server.requests)


class TestRoutedLead(BackendContract):
    """The lead is rated at or above the threshold: the routed lane answers, flagged."""

    @pytest.fixture
    async def backend(self, openai_server: ScriptedServer) -> AsyncIterator[Backend]:
        openai_server.handler = lambda body: answer(body)
        routed = _llm(openai_server, model="big-model")
        backend = RoutingBackend(RulesBackend(Settings()), routed, 0.6, lambda lead: 0.6)
        yield backend
        await backend.aclose()

    async def test_qualify_gives_a_bounded_result_saying_who_answered(
        self, backend: Backend, lead: LeadInput
    ) -> None:
        result = await backend.qualify(lead)
        assert (result.provider, result.model) == ("openai", "big-model")
        assert Flag.ROUTED in result.flags
        assert 0.0 <= result.overall_score <= 1.0

    def test_cache_scope_names_provider_model_and_prompt(
        self, backend: Backend, lead: LeadInput
    ) -> None:
        scope = backend.cache_scope(lead)  # the routed lane's: its model answers the lead
        assert scope is not None
        assert scope[:2] == ("openai", "big-model")
