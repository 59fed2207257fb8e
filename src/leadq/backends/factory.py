"""Settings in, a `Backend` out: an LLM backend (Cerebras or any OpenAI-compatible server,
through the LCEL chain) or the embedded rules engine, wrapped in the policies the settings
ask for, innermost first: a circuit breaker per route, fallbacks, escalation, the daily
budget, with the router (`RoutingBackend`) between escalation and the budget; outermost, the
active conversion model's probability (`ConversionBackend`). The rules engine alone gets no
policy but that one, as it has nothing to guard."""

from __future__ import annotations

from leadq.backends.base import Backend
from leadq.backends.breaker import BreakerBackend, CircuitBreaker
from leadq.backends.budget import BudgetBackend, BudgetGuard
from leadq.backends.conversion import ConversionBackend
from leadq.backends.escalation import EscalatingBackend
from leadq.backends.fallback import FallbackBackend
from leadq.backends.routing import RoutingBackend, rules_rating
from leadq.backends.rules_engine import RulesBackend
from leadq.config import Settings
from leadq.core.errors import ProviderNotConfigured
from leadq.core.rules.engine import RulesEngine
from leadq.core.rules.icp import load_icp
from leadq.observability.metrics import set_breaker
from leadq.providers.catalog import providers

__all__ = ["Backend", "make_backend", "parse_route"]


def parse_route(spec: str, setting: str) -> tuple[str, str | None]:
    """`provider` or `provider:model`, e.g. `openai:gpt-4o-mini`; the provider must exist."""
    name, _, model = spec.strip().partition(":")
    known = providers()
    if name not in known:
        raise ProviderNotConfigured(
            f"{setting}: unknown provider {name!r} in {spec!r}; known: {sorted(known)}"
        )
    return name, model.strip() or None


def _single(settings: Settings, name: str, model: str | None) -> Backend:
    if name == "rules":
        return RulesBackend(settings)
    # Imported here: the LLM stack (aiohttp, langchain-core, langsmith) is a large part of
    # the CLI's start-up time, and the rules engine needs none of it.
    from leadq.backends.llm import LLMBackend

    tuned = settings.model_copy(update={"provider": name, "model": model})
    return LLMBackend(tuned, providers()[name])


LOOKUP_TIMEOUT = 2.0  # seconds the active-model lookup may wait for the database


def make_backend(settings: Settings) -> Backend:
    """The backend `settings` ask for (`LEADQ_PROVIDER`, default cerebras-if-keyed-else-rules),
    with `LEADQ_FALLBACKS`, `LEADQ_ESCALATE_*`, `LEADQ_ROUTE_*` and `LEADQ_DAILY_BUDGET_USD`
    applied, and the active conversion model (if any) scoring its results."""
    from leadq.learning.active import ActiveModel  # reads the database: loaded on first use

    rules = RulesEngine(load_icp(settings.icp_file), settings.score_weights)
    models = ActiveModel(
        settings.effective_database_url,
        rules,
        timeout=LOOKUP_TIMEOUT,
        basis=settings.action_basis,  # LEADQ_ACTION_BASIS=probability: the model's bands
    )
    return ConversionBackend(_guarded(settings, rules), models)


def _route_to(settings: Settings) -> Backend | None:
    """The model for leads rated at or above `LEADQ_ROUTE_ABOVE`, if routing is on."""
    if settings.route_above is None:
        if settings.route_to:
            raise ProviderNotConfigured(
                "LEADQ_ROUTE_TO is set but LEADQ_ROUTE_ABOVE is not: set the overall score "
                "(0 to 1) at or above which the rules engine's rating sends a lead there, "
                "e.g. 0.6"
            )
        return None
    if not settings.route_to:
        raise ProviderNotConfigured(
            "LEADQ_ROUTE_ABOVE is set but LEADQ_ROUTE_TO is not: name the model for the "
            "leads rated at or above it as provider:model, e.g. openai:gpt-4o"
        )
    return _single(settings, *parse_route(settings.route_to, "LEADQ_ROUTE_TO"))


def _guarded(settings: Settings, rules: RulesEngine) -> Backend:
    primary = _single(settings, settings.effective_provider, settings.model)
    routes = [primary] + [
        _single(settings, *parse_route(spec, "LEADQ_FALLBACKS"))
        for spec in settings.fallbacks.split(",")
        if spec.strip()
    ]
    stronger = None
    if settings.escalate_below is not None:
        if not settings.escalate_to:
            raise ProviderNotConfigured(
                "LEADQ_ESCALATE_BELOW is set but LEADQ_ESCALATE_TO is not: name the stronger "
                "model as provider:model, e.g. cerebras:qwen-3-235b-a22b-instruct-2507"
            )
        stronger = _single(settings, *parse_route(settings.escalate_to, "LEADQ_ESCALATE_TO"))
    routed = _route_to(settings)
    if len(routes) == 1 and primary.is_local and stronger is None and routed is None:
        return primary  # nothing to guard: the rules engine answers alone, synchronously
    threshold, cooldown = settings.breaker_threshold, settings.breaker_cooldown

    def breaker(b: Backend) -> Backend:
        return BreakerBackend(
            b, CircuitBreaker(b.provider, threshold, cooldown, on_change=set_breaker)
        )

    guarded = [breaker(b) for b in routes]
    backend = guarded[0] if len(guarded) == 1 else FallbackBackend(guarded)
    guard = BudgetGuard(settings.daily_budget_usd) if settings.daily_budget_usd else None
    if stronger is not None and settings.escalate_below is not None:
        backend = EscalatingBackend(backend, stronger, settings.escalate_below, guard)
    if routed is not None and settings.route_above is not None:
        # The routed model, then the default lane's chain (see `backends/routing.py`).
        lane = FallbackBackend([breaker(routed), *guarded])
        backend = RoutingBackend(backend, lane, settings.route_above, rules_rating(rules), guard)
    if guard is not None:  # what answers once the budget is used up: a local route, or rules
        offline = next((b for b in routes if b.is_local), None) or RulesBackend(settings)
        backend = BudgetBackend(backend, guard, offline)
    return backend
