"""What happened to a lead, in leadq's words (won, lost, no_response, disqualified), and the
CRM's words for the same ("Closed Won", "Unqualified"): a stage table maps one onto the other.
Also the plausible dates of an outcome, and conversion by recommended action."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal, cast, get_args

Outcome = Literal["won", "lost", "no_response", "disqualified"]
OUTCOMES: tuple[Outcome, ...] = get_args(Outcome)
STAGES_SETTING = "LEADQ_OUTCOME_STAGES"
EARLIEST = date(1970, 1, 1)

_NOT_WORD = re.compile(r"[\W_]+")


def stage_key(name: str) -> str:
    """A stage name as it is compared: without case, spacing or punctuation, so that
    "Closed Won", "closed_won" and "CLOSED-WON" are all `closedwon`."""
    return _NOT_WORD.sub("", name.casefold())


_OWN = {stage_key(o): o for o in OUTCOMES}  # leadq's own names always match


def _outcome(value: str, where: str) -> Outcome:
    name = value.strip()
    if name not in OUTCOMES:
        raise ValueError(f"{where}: {value!r} is not an outcome ({', '.join(OUTCOMES)})")
    return cast(Outcome, name)


@dataclass(frozen=True)
class StageTable:
    """CRM stage name -> outcome. `names` are the stage names as written, for messages."""

    stages: Mapping[str, Outcome]  # stage_key -> outcome
    names: tuple[str, ...] = ()

    @classmethod
    def build(
        cls,
        defaults: Mapping[str, Sequence[str]],
        extra: str | None = None,
        source: str = "outcome_stages.toml",
    ) -> StageTable:
        """`defaults` (outcome -> stage names, from `source`) with `Stage=outcome` pairs,
        comma-separated (`extra`, from LEADQ_OUTCOME_STAGES), merged over them. Raises
        ValueError naming `source` or the setting: an unknown outcome, a name given to two
        outcomes, a name that is one of leadq's own outcomes given to another."""
        stages: dict[str, Outcome] = {}
        names: dict[str, str] = {}

        def put(name: str, outcome: Outcome, where: str, *, override: bool) -> None:
            key = stage_key(name)
            if not key:
                raise ValueError(f"{where}: {name.strip()!r} is not a stage name")
            if _OWN.get(key, outcome) != outcome:
                raise ValueError(f"{where}: {name.strip()!r} is leadq's own outcome {_OWN[key]}")
            if not override and stages.get(key, outcome) != outcome:
                raise ValueError(f"{where}: {name!r} is listed for {stages[key]} and {outcome}")
            stages[key] = outcome
            names[key] = name.strip()

        for target, listed in defaults.items():
            outcome = _outcome(target, source)
            for name in listed:
                put(name, outcome, source, override=False)
        for pair in (extra or "").split(","):
            if not pair.strip():
                continue
            name, eq, target = pair.partition("=")
            if not eq:
                raise ValueError(f"{STAGES_SETTING}: {pair.strip()!r} is not `Stage=outcome`")
            outcome = _outcome(target, f"{STAGES_SETTING} ({name.strip()})")
            put(name, outcome, STAGES_SETTING, override=True)
        return cls(stages, tuple(n for k, n in names.items() if k not in _OWN))

    def outcome(self, word: str) -> Outcome | None:
        """The outcome that `word` (leadq's name or a CRM stage) records; None if unknown."""
        key = stage_key(word)
        return _OWN.get(key) or self.stages.get(key)

    def accepted(self) -> str:
        """What `outcome` accepts, for a message."""
        stages = f"; or a CRM stage: {', '.join(self.names)}" if self.names else ""
        return f"{', '.join(OUTCOMES)}{stages} (case, spaces and punctuation aside)"

    def unknown(self, word: str) -> str:
        """Why `word` was refused."""
        return f"{word.strip()[:100]!r} is not an outcome or a known CRM stage; accepted: " + (
            self.accepted()
        )


def check_date(on: date, today: date | None = None) -> date:
    """`on` if it is from 1970-01-01 to tomorrow (UTC: a day of slack for zones ahead of UTC),
    else ValueError saying which bound it crossed."""
    latest = (today or datetime.now(UTC).date()) + timedelta(days=1)
    if on < EARLIEST:
        raise ValueError(f"must be on or after {EARLIEST}")
    if on > latest:
        raise ValueError(f"must not be in the future (after {latest}, tomorrow in UTC)")
    return on


def conversion_by_action(rows: Iterable[tuple[str | None, str, int]]) -> list[dict[str, Any]]:
    """From `(action, outcome, leads)`: per recommended action, the leads with an outcome,
    how many were won, lost or other (no_response, disqualified), and the conversion rate
    won / (won + lost) (None before any is won or lost). Actions in name order, the leads
    whose qualification is no longer stored (action None) last."""
    counts: dict[str | None, dict[str, int]] = defaultdict(lambda: dict.fromkeys(OUTCOMES, 0))
    for action, outcome, n in rows:
        counts[action][outcome] = counts[action].get(outcome, 0) + n
    out = []
    for action in sorted(counts, key=lambda a: (a is None, a or "")):
        c = counts[action]
        won, lost = c["won"], c["lost"]
        total = sum(c.values())
        out.append(
            {
                "action": action,
                "count": total,
                "won": won,
                "lost": lost,
                "other": total - won - lost,
                "conversion_rate": round(won / (won + lost), 6) if won + lost else None,
            }
        )
    return out
