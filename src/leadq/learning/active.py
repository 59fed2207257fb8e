"""The active conversion model, as a serving process scores with it: loaded once per process
and per version, and looked up again at most every REFRESH_SECONDS, so that `leadq model
activate` in another process takes effect without a restart and a lead costs no query."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from leadq.core.lead import LeadInput
from leadq.core.policy import follow_probability
from leadq.core.result import QualificationResult
from leadq.core.rules.engine import RulesEngine
from leadq.learning.features import (
    RULE_SCORES,
    RULES_PROVIDER,
    lead_record,
    llm_scores,
    rules_scores,
)
from leadq.learning.scorer import Scorer
from leadq.storage.conversion_models import active_id, scorer_of
from leadq.storage.db import make_engine

log = logging.getLogger("leadq.models")

REFRESH_SECONDS = 2.0


class ActiveModel:
    """Scores results with the active model of the database at `url` (none: unchanged)."""

    def __init__(
        self,
        url: str,
        engine: RulesEngine,
        refresh: float = REFRESH_SECONDS,
        timeout: float | None = None,
        basis: str = "score",
    ) -> None:
        self.url = url
        self.basis = basis  # LEADQ_ACTION_BASIS: "probability" moves the action to its bands
        self.timeout = timeout  # for the lookup's database connection and statement
        self.rules = engine
        self.refresh = refresh
        self._engine: Engine | None = None
        self._checked = -float("inf")
        self._lock = threading.Lock()
        self._refreshing = threading.Lock()  # held by the lookup thread of refresh_soon
        self.active: tuple[int, Scorer] | None = None  # the version and its scorer

    def _database(self) -> Engine | None:
        """The engine, or None while there is no database to read (an SQLite file that does
        not exist yet is not created for a lookup)."""
        if self._engine is None:
            parsed = make_url(self.url)
            if parsed.get_backend_name() == "sqlite":
                name = parsed.database
                if not name or name == ":memory:" or not Path(name).exists():
                    return None
            self._engine = make_engine(self.url, self.timeout)
        return self._engine

    def invalidate(self) -> None:
        """Look the active model up again at the next lead (after an activation here)."""
        self._checked = -float("inf")

    @property
    def version(self) -> int | None:
        return self.active[0] if self.active else None

    def due(self) -> bool:
        """Whether the next `current()` will ask the database."""
        return time.monotonic() - self._checked >= self.refresh

    def current(self) -> tuple[int, Scorer] | None:
        """The active model's version and scorer, or None."""
        now = time.monotonic()
        if now - self._checked < self.refresh:
            return self.active
        with self._lock:
            if now - self._checked < self.refresh:
                return self.active
            self._checked = now
            try:
                engine = self._database()
                wanted = active_id(engine) if engine is not None else None
                if wanted != self.version:
                    data = scorer_of(engine, wanted) if engine and wanted is not None else None
                    self.active = (wanted, Scorer(data)) if data and wanted is not None else None
                    log.info("conversion model in use: %s", self.version)
            except SQLAlchemyError as exc:  # not migrated yet, or away: keep what we have
                log.debug("conversion model lookup failed: %s", exc)
        return self.active

    def refresh_soon(self) -> None:
        """When a lookup is due, do it in a thread of its own and go on with the model in
        hand (a caller on an event loop must not wait for the database); the very first
        lookup is done at once, so the first lead is scored with the active model."""
        if self._checked == -float("inf"):
            self.current()
            return
        if not self.due() or self._refreshing.locked():
            return
        threading.Thread(target=self._refresh, name="leadq-model-lookup", daemon=True).start()

    def _refresh(self) -> None:
        with self._refreshing:
            self.current()

    def score(self, lead: LeadInput, result: QualificationResult) -> QualificationResult:
        """`result` with the active model's probability, version and factors (in place), read
        from the lead and the result's own scores when an LLM gave them, by the model in hand:
        `current()` or `refresh_soon()` look it up. With basis "probability", the action then
        follows the model's probability bands."""
        active = self.active
        if active is None:
            return result
        version, scorer = active
        answer = {k: getattr(result, k) for k in ("provider", *RULE_SCORES)}
        if result.provider == RULES_PROVIDER:  # the rules engine's own: no need to redo them
            scores = {k: answer[k] for k in RULE_SCORES}
        else:
            scores = rules_scores(self.rules, lead)
        # An LLM's scores are features as they were in training (stored results qualified by
        # an LLM); a model trained without them reads none of these keys.
        scored = scorer.score(lead_record(lead, scores, llm_scores(answer)))
        result.conversion_probability = round(scored.probability, 4)
        result.model_version = version
        result.factors = scored.factors
        if self.basis == "probability":
            follow_probability(result, scorer.bands, version)
        return result

    @property
    def follows_probability(self) -> bool:
        """Whether the action of a result scored now follows the probability (basis
        "probability", and the model in hand has bands)."""
        active = self.active
        return self.basis == "probability" and active is not None and bool(active[1].bands)

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None
