"""Versioned prompts (files in `leadq/prompts`) turned into a LangChain prompt template."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

from langchain_core.messages import SystemMessage
from langchain_core.prompt_values import PromptValue
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import Runnable, RunnableConfig

from leadq.chain.answer_schema import ANSWER_SCHEMA_TEXT


@dataclass(frozen=True)
class PromptSpec:
    version: str
    system: str
    human: str
    json_mode_suffix: str


@lru_cache(maxsize=8)
def load_prompt(version: str) -> PromptSpec:
    """Read `prompts/<version>.toml`; an unknown version names the ones that exist."""
    folder = resources.files("leadq.prompts")
    path = folder.joinpath(f"{version}.toml")
    if not path.is_file():
        known = sorted(
            p.name.removesuffix(".toml") for p in folder.iterdir() if p.name.endswith(".toml")
        )
        raise ValueError(f"LEADQ_PROMPT_VERSION: unknown prompt {version!r}; known: {known}")
    raw = tomllib.loads(path.read_text("utf-8"))
    return PromptSpec(version, raw["system"], raw["human"], raw.get("json_mode_suffix", ""))


def build_prompt(spec: PromptSpec, method: str) -> ChatPromptTemplate:
    """System text as a literal message (never templated), the lead block as the one variable."""
    system = spec.system
    if method == "json_mode":
        system += spec.json_mode_suffix + ANSWER_SCHEMA_TEXT
    return ChatPromptTemplate.from_messages([SystemMessage(content=system), ("human", spec.human)])


class PromptStep(Runnable[dict[str, Any], PromptValue]):
    """A `ChatPromptTemplate` as a chain step that formats it directly: the template's own
    `ainvoke` validates its input and opens a callback run first, 200 µs a lead for a
    formatting that takes 14 µs."""

    name = "prompt"

    def __init__(self, template: ChatPromptTemplate) -> None:
        self.template = template

    def invoke(
        self, input: dict[str, Any], config: RunnableConfig | None = None, **kw: Any
    ) -> PromptValue:
        return self.template.format_prompt(**input)

    async def ainvoke(
        self, input: dict[str, Any], config: RunnableConfig | None = None, **kw: Any
    ) -> PromptValue:
        return self.template.format_prompt(**input)
