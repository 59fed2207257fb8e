"""First step of the chain: validate the lead and turn it into a delimited data block."""

from __future__ import annotations

import json
import re
import time
from typing import Any

from langchain_core.runnables import Runnable, RunnableConfig

from leadq.core.lead import LeadInput
from leadq.core.scoring import missing_critical_fields
from leadq.core.screening.vocabulary import (
    GREATER_THAN_LETTERS,
    GREATER_THAN_SIGNS,
    LESS_THAN_LETTERS,
    LESS_THAN_SIGNS,
)

# Look-alikes of `<` and `>` (full-width, small, angle brackets and quotation marks...), each
# escaped as the sign it stands for; letters of other scripts shaped like them, each escaped as
# itself (JSON's own `\uXXXX`, so the text still reads as sent, in its script).
_LOOK_ALIKE_ESCAPES = {
    **dict.fromkeys(LESS_THAN_SIGNS, "\\u003c"),
    **dict.fromkeys(GREATER_THAN_SIGNS, "\\u003e"),
    **{c: json.dumps(c)[1:-1] for c in LESS_THAN_LETTERS + GREATER_THAN_LETTERS},
}
_LOOK_ALIKE = re.compile("[" + "".join(_LOOK_ALIKE_ESCAPES) + "]")


def prompt_fields(lead: LeadInput) -> dict[str, Any]:
    """What the model is shown: the lead's fields, with the email address cut to its domain
    (a company or a free-mail domain is a signal; the person's address is not, and it need
    not leave for the provider), then its attributes under "attributes" (name -> text or
    number, as the caller named them)."""
    fields: dict[str, Any] = lead.present()
    if "email" in fields:
        fields["email_domain"] = fields.pop("email").rpartition("@")[2]
    if lead.attributes:
        fields["attributes"] = lead.attributes
    return fields


def lead_block(lead: LeadInput) -> str:
    """The lead's fields (and attributes) as compact JSON. `<`, `>` and `&` are escaped, in
    attributes' names and values too, so that no field can close the `<lead_data>` block it
    is sent in, and so are the look-alikes of `<` and `>` (a full-width `</lead_data>` is
    sent as `\\u003c/lead_data\\u003e` too): no closing tag, real or look-alike, is shown
    to the model. The rest of the text is sent as it is (not NFKC-folded)."""
    text = json.dumps(prompt_fields(lead), ensure_ascii=False, separators=(",", ":"))
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    if not text.isascii() and _LOOK_ALIKE.search(text):
        text = _LOOK_ALIKE.sub(lambda m: _LOOK_ALIKE_ESCAPES[m.group()], text)
    return text


def preprocess(data: Any) -> dict[str, Any]:
    """Validate (raising `InvalidLeadError` naming the field) and prepare the prompt input."""
    lead = LeadInput.parse(data)
    return {
        "lead": lead,
        "lead_block": lead_block(lead),
        "missing": missing_critical_fields(lead.present()),
        "t0": time.perf_counter(),
    }


class Preprocess(Runnable[Any, dict[str, Any]]):
    """`preprocess` as a chain step. A `RunnableLambda` would inspect the function's signature
    on every call, which costs many times what the step itself does."""

    name = "preprocess"

    def invoke(self, input: Any, config: RunnableConfig | None = None, **kw: Any) -> dict[str, Any]:
        return preprocess(input)

    async def ainvoke(
        self, input: Any, config: RunnableConfig | None = None, **kw: Any
    ) -> dict[str, Any]:
        return preprocess(input)
