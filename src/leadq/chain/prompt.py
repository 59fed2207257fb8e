"""Versioned prompts (files in `leadq/prompts`) turned into a LangChain prompt template, with
the seller's offer (`core/profile.py`) in the instructions."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from langchain_core.prompt_values import ChatPromptValue, PromptValue
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import Runnable, RunnableConfig

from leadq.chain.answer_schema import ANSWER_SCHEMA_TEXT
from leadq.core.profile import Offer

REPAIR = (
    "That answer could not be used: {error}. Reply again with only the JSON object the "
    "schema asks for, every field filled in."
)
REPAIR_ANSWER_CHARS = 4000  # of the unusable answer shown back to the model
SELLER_MARK = "{seller}"  # where a prompt's `seller` text takes the offer (not a template)
SELLER = "\n\n<seller>\n{seller}\n</seller>"  # a prompt file's `seller` when it has none


@dataclass(frozen=True)
class Repair:
    """The previous attempt's unusable answer and what was wrong with it. Passed as
    `config["configurable"]["repair"]`, it adds them to the conversation, so that the model
    corrects its answer instead of being asked the same question again."""

    answer: str
    error: str


@dataclass(frozen=True)
class PromptSpec:
    version: str
    system: str
    human: str
    json_mode_suffix: str
    seller: str = SELLER  # follows `system`, with the offer at SELLER_MARK


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
    seller = raw.get("seller", SELLER)
    if SELLER_MARK not in seller:
        raise ValueError(f"prompts/{version}.toml: `seller` has no {SELLER_MARK} for the offer")
    return PromptSpec(version, raw["system"], raw["human"], raw.get("json_mode_suffix", ""), seller)


def system_text(spec: PromptSpec, offer: Offer) -> str:
    """The instructions: the prompt's system text, then the seller's offer. The offer comes
    from the operator's profile file, so it belongs here; the lead's data never does."""
    return spec.system + spec.seller.replace(SELLER_MARK, offer.text())


def build_prompt(spec: PromptSpec, method: str, offer: Offer) -> ChatPromptTemplate:
    """System text as a literal message (never templated), the lead block as the one variable."""
    system = system_text(spec, offer)
    if method == "json_mode":
        system += spec.json_mode_suffix + ANSWER_SCHEMA_TEXT
    return ChatPromptTemplate.from_messages([SystemMessage(content=system), ("human", spec.human)])


class PromptStep(Runnable[dict[str, Any], PromptValue]):
    """A `ChatPromptTemplate` as a chain step that formats it directly: the template's own
    `ainvoke` validates its input and opens a callback run first, which costs many times
    the formatting itself."""

    name = "prompt"

    def __init__(self, template: ChatPromptTemplate) -> None:
        self.template = template

    def invoke(
        self, input: dict[str, Any], config: RunnableConfig | None = None, **kw: Any
    ) -> PromptValue:
        prompt = self.template.format_prompt(**input)
        repair = ((config or {}).get("configurable") or {}).get("repair")
        if not isinstance(repair, Repair):
            return prompt
        return ChatPromptValue(
            messages=[
                *prompt.to_messages(),
                AIMessage(content=repair.answer[:REPAIR_ANSWER_CHARS]),
                HumanMessage(content=REPAIR.format(error=repair.error)),
            ]
        )

    async def ainvoke(
        self, input: dict[str, Any], config: RunnableConfig | None = None, **kw: Any
    ) -> PromptValue:
        return self.invoke(input, config)
