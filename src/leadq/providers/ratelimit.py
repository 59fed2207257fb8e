"""The client side of a provider's rate limits, per endpoint, key and model: every caller in
the process shares one limiter, and with `REDIS_URL` every process on every machine shares
one model of the provider's buckets.

The model is a token bucket per window the provider reports (requests and tokens, per
second, minute or hour; Cerebras' `-minute`/`-day` names and OpenAI's unsuffixed ones, or
the names a provider's `HeaderScheme` lists, such as Anthropic's, with input and output
tokens apart), as providers enforce them: capacity is the limit, and it refills continuously
at limit / window. An idle client may spend what an answer's `remaining` says is left; after
that it waits for the refill. Every answer corrects the model: the level becomes the
provider's `remaining`, less what this client reserved after that request (which the
provider had not seen yet). A changed limit takes effect at once, for callers already
waiting too. When what was sent spends what is left, nothing more goes before the window's
reset, whatever kind of window the provider keeps (fixed, sliding or a bucket). A 429 holds
every caller until the reset it gives; a daily quota is not paced, only gated at zero.

Before anything is known, a limiter lets a few requests out and waits for the first answer's
headers, instead of sending a whole batch's concurrency into an unknown limit. Configured
limits (`LEADQ_RPM`, `LEADQ_TPM`) are paced evenly instead, and headers do not change them.
Tokens are counted as providers count them: prompt tokens plus `max_completion_tokens`
(input-token windows count the prompt alone, output-token windows the completion budget).

Waiting here is leadq's own queue, not the provider's latency: callers measure it apart.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
import logging
import math
import random
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from dataclasses import fields as fields_of
from typing import Any

from leadq.core.errors import QueueTimeout

log = logging.getLogger("leadq.ratelimit")

UNIT_SECONDS = {"second": 1.0, "minute": 60.0, "hour": 3600.0, "day": 86400.0}
PACED_UP_TO = 3600.0  # windows up to an hour are paced; a daily quota only gates at zero
HEADROOM = 0.98  # refill at this share of a learned rate: a margin for clock skew
PROBE = 4  # requests let out before the first answer has said what the limits are
PROBE_POLL = 0.05  # how often callers held by the probe look again
POLL_MAX = 0.25  # a waiting caller looks at least this often (an answer may have made room)
EPSILON = 1e-6  # units: a level this close to what is needed is enough (float rounding)
POLL_JITTER = 0.01  # so that callers waiting for the same moment do not all ask at once
MAX_RESET = 86400.0  # the longest reset a header may impose
PROBE_EXPIRE = 60.0  # a probe with no answer by then no longer holds the others back
SHARED_RETRY = 30.0  # seconds before a limiter that lost Redis tries it again
_HEADER = re.compile(
    r"x-ratelimit-(limit|remaining|reset)-(requests|tokens)(?:-(second|minute|hour|day))?$"
)
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")


def parse_reset(value: str | None, now: float | None = None) -> float | None:
    """Seconds from a reset header: Cerebras' `33.5`, OpenAI's `6m0s` / `20ms` / `1s`, or
    Anthropic's RFC 3339 time (`2026-11-20T10:00:30Z`), counted from `now` (Unix time;
    default: the wall clock)."""
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        parts = _DURATION.findall(value)
        if parts and "".join(n + u for n, u in parts) == value:
            scale = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
            seconds = sum(float(n) * scale[u] for n, u in parts)
        elif (at := _timestamp(value)) is not None:
            seconds = at - (time.time() if now is None else now)
        else:
            return None
    if not math.isfinite(seconds):
        log.debug("rate limiter: ignoring a reset value %r", value[:40])
        return None
    return min(max(0.0, seconds), MAX_RESET)  # no header holds callers longer than a day


def _timestamp(value: str) -> float | None:
    """Unix time of an RFC 3339 date-time with its offset; None for anything else."""
    if len(value) < 20 or value[10] not in "Tt":  # a date alone is no reset time
        return None
    try:
        at = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return at.timestamp() if at.tzinfo is not None else None


KINDS = ("requests", "tokens", "input_tokens", "output_tokens")


@dataclass(frozen=True)
class HeaderScheme:
    """A provider's own rate-limit header names (from providers.toml), for those the
    `x-ratelimit-*` pattern does not cover: for each kind of limit, the prefix to which
    `-limit`, `-remaining` and `-reset` are added, all for windows of `seconds`. With
    `retry_after_first`, a 429's `retry-after` says when to try again, before any reset
    (whose time may be when the window is full again, not when it has room)."""

    prefixes: tuple[tuple[str, str], ...]  # (kind, header prefix), kind one of KINDS
    seconds: float = 60.0
    retry_after_first: bool = False

    def __post_init__(self) -> None:
        unknown = {kind for kind, _ in self.prefixes} - set(KINDS)
        if unknown:
            raise ValueError(f"unknown rate-limit kinds {sorted(unknown)}; known: {KINDS}")


@dataclass(frozen=True)
class Window:
    """One limit as the provider reported it, e.g. requests per minute."""

    kind: str  # one of KINDS: "requests", "tokens" (input and output), or one of the two
    seconds: float  # the window's length
    limit: float | None
    remaining: float | None
    reset: float | None  # seconds until the window resets


def read_windows(headers: Mapping[str, str], scheme: HeaderScheme | None = None) -> list[Window]:
    """Every window in `headers`: those `scheme` names, or without one every `x-ratelimit-*`
    window, whatever the vendor's naming."""
    if scheme is not None:
        return _scheme_windows(headers, scheme)
    found: dict[tuple[str, str], dict[str, str]] = {}
    for name, value in headers.items():
        name = name.lower()
        if name.startswith("x-ratelimit-") and (match := _HEADER.match(name)):
            field, kind, unit = match.groups()
            found.setdefault((kind, unit or "minute"), {})[field] = value
    out = []
    for (kind, unit), fields in found.items():
        out.append(
            Window(
                kind,
                UNIT_SECONDS[unit],
                _number(fields.get("limit")),
                _number(fields.get("remaining")),
                parse_reset(fields.get("reset")),
            )
        )
    return out


def _scheme_windows(headers: Mapping[str, str], scheme: HeaderScheme) -> list[Window]:
    lower = {name.lower(): value for name, value in headers.items()}
    out = []
    for kind, prefix in scheme.prefixes:
        limit, remaining, reset = (
            lower.get(f"{prefix}-{f}") for f in ("limit", "remaining", "reset")
        )
        if limit is None and remaining is None and reset is None:
            continue
        out.append(
            Window(kind, scheme.seconds, _number(limit), _number(remaining), parse_reset(reset))
        )
    return out


def _number(value: str | None) -> float | None:
    """A header's count, or None (and a debug line) when it is not a finite number >= 0."""
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not math.isfinite(number) or number < 0:
        log.debug("rate limiter: ignoring a rate-limit header value %r", value[:40])
        return None
    return number


def retry_after(headers: Mapping[str, str], scheme: HeaderScheme | None = None) -> float | None:
    """Seconds until the exhausted limit resets: the longest reset among windows with nothing
    remaining, else `retry-after`, else the soonest reset given (`retry-after` first when
    the provider's `scheme` says so)."""
    if scheme is not None and scheme.retry_after_first:
        seconds = parse_reset(headers.get("retry-after"))
        if seconds is not None:
            return seconds
    windows = read_windows(headers, scheme)
    exhausted = [w.reset for w in windows if w.remaining == 0 and w.reset is not None]
    if exhausted:
        return max(exhausted)
    after = headers.get("retry-after")
    if after is not None and (seconds := parse_reset(after)) is not None:
        return seconds
    resets = [w.reset for w in windows if w.reset is not None]
    return min(resets) if resets else None


@dataclass
class Bucket:
    """One window of one resource: `capacity` units, refilled at `rate` a second, except
    while held (spent: nothing until the provider's reset)."""

    capacity: float
    rate: float
    level: float
    at: float | None = None  # when `level` was true; None: not yet used
    held_until: float = 0.0

    def refill(self, now: float) -> None:
        if self.at is None:
            self.at = now
            return
        if self.held_until:
            if now < self.held_until:
                self.at = now  # no refill while held
                return
            # The reset: the provider has room again, at least one unit. How much more, its
            # next answer says (a sliding window frees only its oldest), so one goes first.
            self.level, self.at, self.held_until = max(self.level, 0.0) + 1.0, now, 0.0
            return
        if now > self.at:
            self.level = min(self.capacity, self.level + (now - self.at) * self.rate)
            self.at = now


@dataclass(frozen=True)
class Ticket:
    """One request let through: its place in the order of this limiter's requests and tokens
    (to correct the model with its answer), and where the model lives (`shared`: Redis)."""

    seq: int
    spent_tokens: float
    tokens: float
    shared: bool = False
    probe: bool = False  # let out before the first answer
    spent_output: float = 0.0  # of `spent_tokens`, the completion budgets


@dataclass
class BucketModel:
    """The provider's limits as this client sees them. Pure: callers pass the time and hold
    whatever lock guards it; it serialises to a dict, so Redis can keep one for everyone."""

    buckets: dict[str, Bucket] = field(default_factory=dict)  # "requests/60s" -> Bucket
    configured: bool = False
    answered: bool = False  # an answer has been seen: the probe is over
    probes: int = 0
    probe_since: float = 0.0  # when the probe filled up
    blocked_until: float = 0.0  # a 429's reset, or an exhausted daily quota's
    seq: int = 0
    spent_tokens: float = 0.0
    spent_output: float = 0.0  # of `spent_tokens`, the completion budgets
    limited: int = 0  # 429s seen

    @classmethod
    def configured_for(cls, rpm: float | None, tpm: float | None) -> BucketModel:
        """Limits the user set: paced evenly (a burst of one request, or one second's tokens)."""
        model = cls(configured=bool(rpm or tpm), answered=bool(rpm or tpm))
        if rpm:
            model.buckets["requests/60s"] = Bucket(1.0, rpm / 60.0, 1.0)
        if tpm:
            model.buckets["tokens/60s"] = Bucket(tpm / 60.0, tpm / 60.0, tpm / 60.0)
        return model

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> BucketModel:
        """The model another process wrote; fields this version does not know are skipped
        (another version of leadq may share the Redis key during an upgrade)."""
        known = {f.name for f in fields_of(cls)} - {"buckets"}
        bucket_fields = {f.name for f in fields_of(Bucket)}
        buckets = {
            k: Bucket(**{n: x for n, x in v.items() if n in bucket_fields})
            for k, v in raw.get("buckets", {}).items()
        }
        return cls(buckets=buckets, **{k: v for k, v in raw.items() if k in known})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def take(
        self, tokens: float, now: float, *, shared: bool = False, output: float = 0.0
    ) -> tuple[float, Ticket | None]:
        """Let one request costing `tokens` (of which `output` is its completion budget)
        through now, with its ticket; or not yet, with the seconds after which to ask again
        (sooner if an answer comes in)."""
        probe = not self.answered
        if probe:
            if self.probes >= PROBE and now - self.probe_since < PROBE_EXPIRE:
                return PROBE_POLL, None
            if self.probes >= PROBE:
                self.probes = 0  # lost: no answer and no failure came back for it
            self.probes += 1  # in flight; back when it fails with no answer
            if self.probes >= PROBE:
                self.probe_since = now
        wait = max(0.0, self.blocked_until - now)
        for name, bucket in self.buckets.items():
            bucket.refill(now)
            cost = _cost(name, tokens, output)
            if bucket.held_until > now:
                wait = max(wait, bucket.held_until - now)
            elif bucket.level < min(cost, bucket.capacity) - EPSILON:
                wait = max(wait, (min(cost, bucket.capacity) - bucket.level) / bucket.rate)
        if wait > 0:
            if not self.answered:
                self.probes -= 1
            return wait, None
        for name, bucket in self.buckets.items():
            bucket.level -= _cost(name, tokens, output)
        self.seq += 1
        self.spent_tokens += tokens
        self.spent_output += output
        return 0.0, Ticket(
            self.seq, self.spent_tokens, tokens, shared, probe, spent_output=self.spent_output
        )

    def abandon(self, ticket: Ticket) -> None:
        """A request that got no answer (no connection): its probe place is free again, so a
        provider that is down fails leads fast instead of holding them for the probe."""
        if ticket.probe and not self.answered and self.probes > 0:
            self.probes -= 1

    def observe(
        self,
        windows: list[Window],
        status: int,
        wait: float | None,
        ticket: Ticket | None,
        now: float,
    ) -> None:
        """Correct the model with one answer: its status, windows, and the reset a 429 gave."""
        self.answered = True
        if status == 429:
            self.limited += 1
            self.blocked_until = max(self.blocked_until, now + (wait if wait else 1.0))
        if self.configured:
            return
        for w in windows:
            if not w.limit or w.limit <= 0:
                continue
            if w.seconds > PACED_UP_TO:  # a daily quota: not paced, only gated at zero
                if w.remaining is not None and w.remaining <= 0 and w.reset:
                    self.blocked_until = max(self.blocked_until, now + w.reset)
                continue
            name = f"{w.kind}/{w.seconds:g}s"
            bucket = self.buckets.get(name)
            if bucket is None or bucket.capacity != w.limit:  # new, or changed: at once
                level = w.limit if bucket is None else bucket.level + w.limit - bucket.capacity
                bucket = self.buckets[name] = Bucket(
                    w.limit, w.limit / w.seconds * HEADROOM, min(level, w.limit), now
                )
            if w.remaining is None or ticket is None or status == 429:
                continue
            unseen = _spent_since(self, ticket, w.kind)
            bucket.refill(now)
            bucket.level = min(bucket.capacity, w.remaining - unseen)
            if bucket.level < 1.0 and w.reset:
                # What was sent spends what is left: whatever the provider's window (fixed,
                # sliding or a bucket), nothing more until its reset.
                bucket.held_until = max(bucket.held_until, now + w.reset)
            elif bucket.held_until and w.remaining - unseen >= 1.0:
                bucket.held_until = 0.0  # the provider has room again before our reset

    @property
    def learned(self) -> dict[str, float]:
        return {} if self.configured else {k: b.capacity for k, b in self.buckets.items()}


def _cost(bucket: str, tokens: float, output: float) -> float:
    """What one request takes from the bucket named `bucket` ("<kind>/<window>s")."""
    kind = bucket.split("/", 1)[0]
    if kind == "requests":
        return 1.0
    if kind == "input_tokens":
        return tokens - output
    return output if kind == "output_tokens" else tokens


def _spent_since(model: BucketModel, ticket: Ticket, kind: str) -> float:
    """What requests let out after `ticket`'s took of `kind`: the provider had not seen them
    when it answered `ticket`'s request."""
    if kind == "requests":
        return model.seq - ticket.seq
    output = model.spent_output - ticket.spent_output
    if kind == "output_tokens":
        return output
    tokens = model.spent_tokens - ticket.spent_tokens
    return tokens - output if kind == "input_tokens" else tokens


class RateLimiter:
    """The limiter of one provider endpoint, key and model; see the module docstring. With a
    `shared` state (Redis), the model lives there; if Redis fails, this process limits on
    its own (with a warning) and tries Redis again after `SHARED_RETRY` seconds."""

    def __init__(
        self,
        rpm: float | None = None,
        tpm: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        shared: SharedBuckets | None = None,
        scheme: HeaderScheme | None = None,
    ) -> None:
        self._clock = clock
        self.scheme = scheme  # the provider's header names; None: `x-ratelimit-*`
        self._lock = threading.Lock()  # callers may sit in several event loops
        self._model = BucketModel.configured_for(rpm, tpm)
        self.configured = self._model.configured
        self._shared = shared
        self._waited = 0.0

    # ---- where the model lives -------------------------------------------------------------

    def _use_shared(self) -> SharedBuckets | None:
        if self._shared is None or not self._shared.available():
            return None
        return self._shared

    def _run(self, step: Callable[[BucketModel, float, bool], Any]) -> Any:
        shared = self._use_shared()
        if shared is not None:
            try:
                return shared.update(step)
            except SharedUnavailable:
                pass  # said once, by `SharedBuckets`
        with self._lock:
            return step(self._model, self._clock(), False)

    # ---- the API ---------------------------------------------------------------------------

    def take(self, tokens: float, output: float = 0.0) -> tuple[float, Ticket | None]:
        """Let a request costing `tokens` (`output` of them its completion budget) through
        now, or say when to ask again."""
        return self._run(  # type: ignore[no-any-return]
            lambda m, now, shared: m.take(tokens, now, shared=shared, output=output)
        )

    def take_now(self, tokens: float, output: float = 0.0) -> Ticket | None:
        """A ticket if a request costing `tokens` may go right now and the model is in this
        process (no round trip); else None, and `acquire` waits for one."""
        if self._use_shared() is not None:
            return None
        return self.take(tokens, output)[1]

    async def acquire(
        self, tokens: float, max_wait: float | None = None, output: float = 0.0
    ) -> tuple[float, Ticket]:
        """Wait until a request costing `tokens` (`output` of them its completion budget)
        may go; returns the seconds waited and the ticket to hand to `observe` with its
        answer. Raises `QueueTimeout` rather than wait past `max_wait` (the queue's own
        bound)."""
        loop = asyncio.get_running_loop()
        start = loop.time()
        while True:
            if self._use_shared() is None:
                wait, ticket = self.take(tokens, output)
            else:
                wait, ticket = await asyncio.to_thread(self.take, tokens, output)
            waited = loop.time() - start  # real time: round trips and late wake-ups count
            if ticket is not None:
                if waited:
                    with self._lock:
                        self._waited += waited
                return waited, ticket
            step = min(wait, POLL_MAX) + random.uniform(0, POLL_JITTER)  # noqa: S311 - jitter
            if max_wait is not None and waited + step > max_wait:
                raise QueueTimeout(
                    f"waited {waited:.0f}s in leadq's own queue for the provider's rate "
                    f"limit, over LEADQ_QUEUE_TIMEOUT={max_wait:g}s (the provider was not "
                    "called for this lead)",
                    retry_after=wait,
                )
            await asyncio.sleep(step)

    def observe(
        self, headers: Mapping[str, str], status: int, ticket: Ticket | None = None
    ) -> None:
        """Correct the model with an answer's headers; a 429 holds every caller until its
        reset. Headers with garbage values are ignored."""
        windows = read_windows(headers, self.scheme)
        wait = retry_after(headers, self.scheme) if status == 429 else None

        def step(m: BucketModel, now: float, shared: bool) -> None:
            # A ticket taken where the model no longer lives: its place there means nothing.
            mine = ticket if ticket is not None and ticket.shared == shared else None
            m.observe(windows, status, wait, mine, now)

        self._in_background(step)

    def _in_background(self, step: Callable[[BucketModel, float, bool], Any]) -> None:
        """Run `step` now when the model is local; with Redis, off the event loop (the
        caller does not wait for a round trip)."""
        if self._use_shared() is not None:
            try:
                asyncio.get_running_loop().run_in_executor(None, self._run, step)
                return
            except RuntimeError:  # no running loop: this thread may block
                pass
        self._run(step)

    def abandon(self, ticket: Ticket) -> None:
        """The request of `ticket` got no answer."""
        if ticket.probe:
            self._in_background(lambda m, _now, _: m.abandon(ticket))

    @property
    def learned(self) -> dict[str, float]:
        return self._run(lambda m, _now, _: m.learned)  # type: ignore[no-any-return]

    def describe(self) -> dict[str, object]:
        def view(m: BucketModel, _now: float, shared: bool) -> dict[str, object]:
            return {
                "configured": m.configured,
                "shared": shared,
                "learned": m.learned,
                "waited_s": round(self._waited, 3),
                "rate_limited": m.limited,
            }

        return self._run(view)  # type: ignore[no-any-return]


class SharedUnavailable(RuntimeError):
    """Redis did not answer: the caller limits in its own process for now."""


class SharedBuckets:
    """A `BucketModel` kept in Redis for every process that uses the same key: each update
    reads it, changes it and writes it back in one optimistic transaction (WATCH / MULTI /
    EXEC, retried when another process got there first), timed by Redis' own clock. One
    algorithm, in Python, for the local and the shared model: no second copy in Lua."""

    ATTEMPTS = 20
    TTL = 86400  # an unused model expires after a day

    def __init__(
        self, client: Any, key: str, rpm: float | None = None, tpm: float | None = None
    ) -> None:
        self.client = client
        self.key = key
        self.rpm, self.tpm = rpm, tpm
        self._lock = threading.Lock()  # this process's updates one at a time: fewer conflicts
        self._down_until = 0.0

    def available(self) -> bool:
        return time.monotonic() >= self._down_until

    def update(self, step: Callable[[BucketModel, float, bool], Any]) -> Any:
        """`step` applied to the shared model; `SharedUnavailable` (after one warning) when
        Redis fails, and for `SHARED_RETRY` seconds after, without trying it again."""
        with self._lock:  # callers queued here while Redis failed do not each try it again
            if not self.available():
                raise SharedUnavailable("Redis was unavailable moments ago")
            try:
                return self._update(step)
            except Exception as exc:  # any Redis failure: callers limit locally for now
                self._down_until = time.monotonic() + SHARED_RETRY
                log.warning(
                    "rate limiter: Redis unavailable (%s); limiting in this process only for %gs",
                    type(exc).__name__,
                    SHARED_RETRY,
                    extra={"event": "ratelimit.shared_unavailable"},
                )
                raise SharedUnavailable(str(exc)) from exc

    def _update(self, step: Callable[[BucketModel, float, bool], Any]) -> Any:
        from redis.exceptions import WatchError

        for _ in range(self.ATTEMPTS):
            with self.client.pipeline() as pipe:
                try:
                    pipe.watch(self.key)
                    raw = pipe.get(self.key)
                    seconds, micros = pipe.time()
                    model = (
                        BucketModel.from_dict(json.loads(raw))
                        if raw
                        else BucketModel.configured_for(self.rpm, self.tpm)
                    )
                    out = step(model, seconds + micros / 1e6, True)
                    pipe.multi()
                    pipe.set(self.key, json.dumps(model.to_dict()), ex=self.TTL)
                    pipe.execute()
                    return out
                except WatchError:
                    continue
        raise RuntimeError(f"rate limiter: {self.ATTEMPTS} conflicting updates in a row")


_shared: dict[tuple[Any, ...], RateLimiter] = {}
_shared_lock = threading.Lock()


def shared_limiter(
    endpoint: str,
    key_id: str,
    rpm: float | None,
    tpm: float | None,
    redis_url: str | None = None,
    redis_prefix: str = "leadq:",
    scheme: HeaderScheme | None = None,
) -> RateLimiter:
    """The process's limiter for one endpoint and key: every backend built for them shares
    it (limits are per key at the provider, not per client object). With `redis_url`, its
    model is shared with every process using the same Redis, key prefix and key. `scheme`
    names the provider's rate-limit headers when they are not `x-ratelimit-*`."""
    with _shared_lock:
        key = (endpoint, key_id, rpm, tpm, redis_url, redis_prefix, scheme)
        limiter = _shared.get(key)
        if limiter is None:
            shared = None
            if redis_url:
                import redis  # only needed when REDIS_URL is set

                client = redis.Redis.from_url(
                    redis_url, socket_timeout=1.0, socket_connect_timeout=1.0
                )
                digest = hashlib.sha256(f"{endpoint}#{key_id}".encode()).hexdigest()[:24]
                shared = SharedBuckets(client, f"{redis_prefix}ratelimit:{digest}", rpm, tpm)
            limiter = _shared[key] = RateLimiter(rpm, tpm, shared=shared, scheme=scheme)
        return limiter


def clear_shared_limiters() -> None:
    """Forget every learned limit (between tests, or after the provider changed its plan)."""
    with _shared_lock:
        _shared.clear()
