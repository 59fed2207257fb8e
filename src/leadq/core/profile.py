"""The seller profile: what the team sells and to whom, read from one TOML file
(LEADQ_ICP_FILE, else the packaged `data/icp.toml`). Its `[offer]` table goes into the LLM's
instructions; its industries, ranges and title keywords drive the rules engine. `version`
is a short hash of the content, recorded on each result and part of the cache key."""

from __future__ import annotations

import hashlib
import json
import os
import re
import tomllib
from dataclasses import asdict, dataclass, field, fields
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

DEFAULT_SOURCE = "packaged default (leadq/data/icp.toml)"
MAX_TEXT_CHARS = 1000  # description, ideal_customer: the profile is sent with every lead
MAX_ITEM_CHARS = 200
MAX_ITEMS = 40
FIT_WEIGHT_KEYS = ("industry", "size", "revenue", "title")
_DEFAULT_WEIGHTS = {"industry": 0.4, "size": 0.25, "revenue": 0.2, "title": 0.15}
_RANGES = {
    "employees_min": 50.0,
    "employees_max": 5000.0,
    "revenue_min_usd": 5e6,
    "revenue_max_usd": 2e9,
}
_LISTS = ("target_industries", "adjacent_industries", "excluded_industries", "title_keywords")
_OFFER_TEXTS = ("description", "ideal_customer")
_OFFER_LISTS = ("disqualifiers", "price_points", "buying_roles")
_NOT_CONTENT = ("source", "offer_given", "version")  # where it was read from, and the hash


class ProfileError(ValueError):
    """A profile that cannot be used: the message names the file, the key and its line."""


@dataclass(frozen=True)
class Offer:
    """What the team sells (the LLM scores fit against it)."""

    description: str
    ideal_customer: str = ""
    disqualifiers: tuple[str, ...] = ()
    price_points: tuple[str, ...] = ()
    buying_roles: tuple[str, ...] = ()

    def text(self) -> str:
        """The offer in a few labelled lines (what is not given is left out): it is sent
        with every lead, so it is kept compact."""
        lines = [
            ("Offer", self.description),
            ("Ideal customer", self.ideal_customer),
            ("Disqualifiers", "; ".join(self.disqualifiers)),
            ("Prices", "; ".join(self.price_points)),
            ("Buyers", "; ".join(self.buying_roles)),
        ]
        return "\n".join(f"{label}: {text}" for label, text in lines if text)


@dataclass(frozen=True)
class SellerProfile:
    """One seller profile, validated. `source` says where it was read from."""

    offer: Offer
    target_industries: tuple[str, ...]
    adjacent_industries: tuple[str, ...]
    excluded_industries: tuple[str, ...]
    title_keywords: tuple[str, ...]
    employees_min: float
    employees_max: float
    revenue_min_usd: float
    revenue_max_usd: float
    fit_weights: tuple[tuple[str, float], ...]  # normalised, in FIT_WEIGHT_KEYS order
    source: str = DEFAULT_SOURCE
    offer_given: bool = True  # False: the file has no [offer], the default's is used

    version: str = field(init=False, compare=False)  # see `__post_init__`

    def __post_init__(self) -> None:
        """`version`: 12 hex digits of SHA-256 over the content. A comment or a reordering
        in the file keeps it; any change of what the engines use gives a new one."""
        text = json.dumps(self.content(), sort_keys=True, ensure_ascii=False)
        object.__setattr__(self, "version", hashlib.sha256(text.encode()).hexdigest()[:12])

    def content(self) -> dict[str, Any]:
        """The profile's content, as shown and as hashed (not where it was read from)."""
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in _NOT_CONTENT}
        data["offer"] = asdict(self.offer)
        data["fit_weights"] = dict(self.fit_weights)
        return data


def load_profile(path: Path | None = None) -> SellerProfile:
    """The profile in `path`, or the packaged default; read again when the file changes."""
    if path is None:
        return default_profile()
    try:
        stat = os.stat(path)
    except OSError as exc:
        raise ProfileError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    return _load(Path(path), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=8)
def _load(path: Path, _mtime_ns: int, _size: int) -> SellerProfile:
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ProfileError(f"{path}: cannot be read ({exc})") from None
    return parse_profile(text, str(path))


@lru_cache(maxsize=1)
def default_profile() -> SellerProfile:
    """The packaged `data/icp.toml`: a generic B2B software offer."""
    text = resources.files("leadq.data").joinpath("icp.toml").read_text("utf-8")
    return parse_profile(text, DEFAULT_SOURCE)


def parse_profile(text: str, source: str) -> SellerProfile:
    """Validate a profile's TOML text; a `ProfileError` names `source`, the key and its line."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"{source}: not valid TOML: {exc}") from None
    check = _Checker(text, source)
    known = {*_LISTS, *_RANGES, "offer", "fit_weights"}
    for key in raw:
        if key not in known:
            raise check.error("", key, f"unknown key; known: {', '.join(sorted(known))}")
    ranges = {k: check.number(raw, "", k, d) for k, d in _RANGES.items()}
    for low, high in (("employees_min", "employees_max"), ("revenue_min_usd", "revenue_max_usd")):
        if ranges[low] > ranges[high]:
            raise check.error("", low, f"is more than {high}")
    weights_raw = check.table(raw, "fit_weights")
    for key in weights_raw:
        if key not in FIT_WEIGHT_KEYS:
            raise check.error("fit_weights", key, f"unknown; known: {', '.join(FIT_WEIGHT_KEYS)}")
    weights = {
        k: check.number(weights_raw, "fit_weights", k, d) for k, d in _DEFAULT_WEIGHTS.items()
    }
    total = sum(weights.values()) or 1.0
    return SellerProfile(
        offer=_offer(raw, check),
        offer_given="offer" in raw,
        target_industries=check.strings(raw, "", "target_industries"),
        adjacent_industries=check.strings(raw, "", "adjacent_industries"),
        excluded_industries=check.strings(raw, "", "excluded_industries"),
        title_keywords=check.strings(raw, "", "title_keywords"),
        employees_min=ranges["employees_min"],
        employees_max=ranges["employees_max"],
        revenue_min_usd=ranges["revenue_min_usd"],
        revenue_max_usd=ranges["revenue_max_usd"],
        fit_weights=tuple((k, weights[k] / total) for k in FIT_WEIGHT_KEYS),
        source=source,
    )


def _offer(raw: dict[str, Any], check: _Checker) -> Offer:
    """The `[offer]` table. A profile without one (written before there was an offer) gets
    the packaged default's, so that an existing rules-engine profile keeps working."""
    if "offer" not in raw:
        return default_profile().offer
    table = check.table(raw, "offer")
    for key in table:
        if key not in (*_OFFER_TEXTS, *_OFFER_LISTS):
            known = ", ".join((*_OFFER_TEXTS, *_OFFER_LISTS))
            hint = " (a [table] runs to the next one: put plain keys above it)"
            hint = hint if key in (*_LISTS, *_RANGES) else ""
            raise check.error("offer", key, f"unknown key; known: {known}{hint}")
    description = check.text(table, "offer", "description")
    if not description:
        raise check.error("offer", "description", "is required: what you sell and the problem")
    return Offer(
        description=description,
        ideal_customer=check.text(table, "offer", "ideal_customer"),
        disqualifiers=check.strings(table, "offer", "disqualifiers"),
        price_points=check.strings(table, "offer", "price_points"),
        buying_roles=check.strings(table, "offer", "buying_roles"),
    )


class _Checker:
    """Type checks that name the key (`offer.disqualifiers`) and its line in the file."""

    def __init__(self, text: str, source: str) -> None:
        self.lines = text.splitlines()
        self.source = source

    def line_of(self, table: str, key: str) -> int | None:
        """The line where `key` is set (in `[table]`, or dotted), or a table's header line."""
        current = ""
        plain = re.compile(rf"\s*(?:\"{re.escape(key)}\"|{re.escape(key)})\s*=")
        dotted = re.compile(rf"\s*{re.escape(table)}\s*\.\s*{re.escape(key)}\s*=")
        header = re.compile(r"\s*\[\s*([^\[\]]+?)\s*\]")
        for n, line in enumerate(self.lines, 1):
            if m := header.match(line):
                current = m.group(1)
                if not table and current == key:
                    return n
                continue
            if current == table and plain.match(line):
                return n
            if table and not current and dotted.match(line):
                return n
        return None

    def error(self, table: str, key: str, message: str) -> ProfileError:
        name = f"{table}.{key}" if table else key
        line = self.line_of(table, key)
        where = f" (line {line})" if line else ""
        return ProfileError(f"{self.source}: {name}{where}: {message}")

    def table(self, raw: dict[str, Any], key: str) -> dict[str, Any]:
        value = raw.get(key, {})
        if not isinstance(value, dict):
            raise self.error("", key, f"must be a table ([{key}]), not {_kind(value)}")
        return value

    def number(self, raw: dict[str, Any], table: str, key: str, default: float) -> float:
        value = raw.get(key, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.error(table, key, f"must be a number, not {_kind(value)}")
        if not 0 <= value < float("inf"):
            raise self.error(table, key, "must be zero or more")
        return float(value)

    def text(self, raw: dict[str, Any], table: str, key: str) -> str:
        value = raw.get(key, "")
        if not isinstance(value, str):
            raise self.error(table, key, f"must be a string, not {_kind(value)}")
        value = " ".join(value.split())
        if len(value) > MAX_TEXT_CHARS:
            raise self.error(table, key, f"is over {MAX_TEXT_CHARS} characters")
        return value

    def strings(self, raw: dict[str, Any], table: str, key: str) -> tuple[str, ...]:
        value = raw.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.error(table, key, f"must be a list of strings, not {_kind(value)}")
        items = tuple(t for v in value if (t := " ".join(v.split())))
        if len(items) > MAX_ITEMS:
            raise self.error(table, key, f"has over {MAX_ITEMS} items")
        if any(len(t) > MAX_ITEM_CHARS for t in items):
            raise self.error(table, key, f"has an item over {MAX_ITEM_CHARS} characters")
        return items


def _kind(value: object) -> str:
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        inner = sorted({_kind(v) for v in value} - {"a string"})
        return f"a list with {' and '.join(inner)}" if inner else "a list"
    return type(value).__name__
