"""The injection corpus, and the detection and false-positive rates printed at the end of
every run that measures them (visible with -q too)."""

from __future__ import annotations

import base64
import tomllib
from pathlib import Path
from typing import Any

import pytest

DATA = Path(__file__).parent / "data" / "injections.toml"
RATES = pytest.StashKey[dict[str, str]]()


def _encode(how: str, text: str) -> str:
    """The payload `text` in the encoding a corpus case names."""
    raw = text.encode()
    if how == "base64":
        return base64.b64encode(raw).decode()
    if how == "base64url":
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")
    if how == "hex":
        return raw.hex()
    if how == "url":
        return "".join(f"%{b:02X}" for b in raw)
    if how == "entities":
        return "".join(f"&#{ord(c)};" for c in text)
    if how == "tags":
        return "".join(chr(0xE0000 + ord(c)) for c in text)
    if how == "zw":
        return "".join("\u200c" if b >> i & 1 else "\u200b" for b in raw for i in range(7, -1, -1))
    if how == "spaced":
        return " ".join(text)
    raise ValueError(f"unknown encoding {how!r}")


def build(case: dict[str, Any]) -> str:
    """The text a corpus case puts in its field."""
    text = case["text"]
    if "encode" in case:
        text = _encode(case["encode"], text)
    return str(case.get("wrap", "{}")).replace("{}", text)


def corpus() -> dict[str, list[dict[str, Any]]]:
    data = tomllib.loads(DATA.read_text("utf-8"))
    for kind in ("attack", "benign"):
        for n, case in enumerate(data[kind], 1):
            case["id"] = f"{kind}-{n:02d}-{case['field']}-{case.get('lang', 'xx')}"
            case["value"] = build(case)
    return data


def record_rates(config: pytest.Config, **rates: str) -> None:
    config.stash.setdefault(RATES, {}).update(rates)


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    rates = config.stash.get(RATES, {})
    if rates:
        terminalreporter.section("prompt-injection screen")
        for name, value in rates.items():
            terminalreporter.write_line(f"{name}: {value}")
