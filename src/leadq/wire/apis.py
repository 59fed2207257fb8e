"""The wire formats leadq speaks, by the name a provider's `api` gives in providers.toml:
the backend builds the model step of whichever its provider names."""

from __future__ import annotations

from leadq.wire.anthropic_messages import AnthropicMessages
from leadq.wire.openai_chat import ChatCompletions
from leadq.wire.step import ModelStep

APIS: dict[str, type[ModelStep]] = {
    step.name: step for step in (ChatCompletions, AnthropicMessages)
}


def wire_api(name: str) -> type[ModelStep]:
    """The model step class of the wire format `name`."""
    try:
        return APIS[name]
    except KeyError:
        raise ValueError(f"providers.toml: unknown api {name!r}; known: {sorted(APIS)}") from None
