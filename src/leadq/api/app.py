"""`create_app`: the FastAPI application, its state, middleware and routes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress

from fastapi import FastAPI
from starlette.middleware.trustedhost import TrustedHostMiddleware

from leadq import __version__
from leadq.api.batches import BatchSlots
from leadq.api.errors import Unexpected, install_error_handlers
from leadq.api.headers import SafeHeaders
from leadq.api.limits import BodyLimit, BodyTimeout
from leadq.api.routes import (
    columns,
    experiments,
    health,
    jobs,
    leads,
    metrics,
    models,
    outcomes,
    profile,
    records,
    stats,
    web,
    webhooks,
)
from leadq.api.routes.docs import add_docs
from leadq.config import Settings
from leadq.core.errors import LeadqError
from leadq.observability.logs import configure_logging
from leadq.observability.metrics import retire_process
from leadq.observability.requests import RequestContext
from leadq.qualifier import LeadQualifier
from leadq.service.job_runner import JobQueue, JobRunner
from leadq.service.leads import CallRecorder, seed_budget
from leadq.service.webhooks import WebhookDeliverer
from leadq.storage.cache import ResultCache
from leadq.storage.retention import run_purges
from leadq.storage.store import Store

DESCRIPTION = """Qualify B2B sales leads with an LLM (Cerebras or any OpenAI-compatible
server) or the built-in rules engine. Scores are always in [0, 1]; `overall_score` is the
weighted mean of the four component scores; every lead in a batch gets a result or an error."""


def create_app(
    settings: Settings | None = None,
    qualifier: LeadQualifier | None = None,
    store: Store | None = None,
) -> FastAPI:
    """Build the app. A misconfigured provider does not stop it: health reports it and the
    qualify routes answer 503 with what to set."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        purges, recorder, deliveries = None, None, None
        if app.state.qualifier is not None:  # provider calls to the call log as they complete
            recorder = CallRecorder(app.state.qualifier, app.state.store)
        if settings.retention_days is not None:  # at start, then every LEADQ_PURGE_EVERY_HOURS
            purges = asyncio.create_task(
                run_purges(app.state.store, settings.retention_days, settings.purge_every_hours)
            )
        if settings.webhooks_on:  # the webhook outbox, sent as it fills (and what was left)
            deliveries = asyncio.create_task(WebhookDeliverer(app.state.store, settings).run())
        app.state.jobs_start()  # submitted jobs: run here, or sent to a broker's workers
        yield
        await asyncio.to_thread(app.state.jobs.close)  # chunks in hand: handed back
        for task in (purges, deliveries):
            if task is not None:
                task.cancel()
                with suppress(asyncio.CancelledError):
                    await task
        if recorder is not None:
            await recorder.aclose()
        if app.state.qualifier is not None:
            await app.state.qualifier.backend.aclose()
        app.state.store.close()
        retire_process()  # one of several workers: its breaker states leave /metrics with it

    docs = settings.docs_open
    app = FastAPI(
        title="leadq",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # /docs and /redoc are add_docs' own, on assets served from here
        redoc_url=None,
        openapi_url="/openapi.json" if docs else None,
    )
    if docs:
        add_docs(app)
    app.state.settings = settings
    app.state.store = store or Store.open(settings)  # migrates to the latest schema
    app.state.cache = ResultCache.from_settings(app.state.store, settings)
    app.state.batch_slots = BatchSlots(settings.max_batches)
    app.state.jobs, app.state.jobs_start = _job_queue(settings, app.state.store)
    app.state.qualifier, app.state.qualifier_error = None, None
    try:
        app.state.qualifier = qualifier or LeadQualifier(settings)
    except LeadqError as exc:
        app.state.qualifier_error = exc
    if app.state.qualifier is not None:
        seed_budget(app.state.qualifier, app.state.store)
    app.add_middleware(Unexpected)  # innermost, inside the request's context
    app.add_middleware(
        BodyLimit,
        max_bytes=settings.max_body_bytes,
        larger={
            "/api/jobs": settings.max_file_bytes,  # a file of leads as a job
            "/api/models/train": settings.max_file_bytes,  # a file of past leads to train on
        },
    )
    app.add_middleware(BodyTimeout, seconds=settings.body_timeout)  # times BodyLimit's reads
    app.add_middleware(SafeHeaders)
    hosts = settings.host_list
    if "*" not in hosts:  # a Host header not in the list: 400, before anything else runs
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=hosts)
    app.add_middleware(RequestContext)  # outermost: a 413 carries the request id too
    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(leads.router)
    app.include_router(records.router)
    app.include_router(columns.router)
    app.include_router(profile.router)
    app.include_router(webhooks.router)
    app.include_router(web.router)  # the UI at /, outside the OpenAPI schema
    app.include_router(models.router)
    app.include_router(jobs.router)
    for observing in (outcomes, stats, experiments, metrics):
        app.include_router(observing.router)
    return app


def _job_queue(settings: Settings, store: Store) -> tuple[JobQueue, Callable[[], object]]:
    """Where submitted jobs' chunks go, and what starts it: the broker's workers when
    LEADQ_BROKER_URL is set (Dramatiq, imported only then), else this process's runner."""
    if settings.broker_url:
        try:
            from leadq.service.broker import BrokerQueue
        except ImportError as exc:
            raise RuntimeError(
                f"LEADQ_BROKER_URL needs the jobs extra ({exc.name} is not installed): "
                "pip install 'leadq[jobs]'"
            ) from None
        queue = BrokerQueue(settings)
        return queue, lambda: queue.start(store)  # chunks left unsent by a stopped server
    runner = JobRunner(settings, store)
    return runner, runner.start


def create_app_from_env() -> FastAPI:
    """The app of one worker process of `leadq serve --workers N` (uvicorn starts each one
    afresh and imports this by name, `leadq.api.app:create_app_from_env`): the settings from
    the environment, and logging set up as `leadq serve` does in a single process."""
    settings = Settings()
    configure_logging(settings, default_level="INFO")  # uvicorn's records too, one format
    return create_app(settings)
