"""First step of the chain: validate the lead and turn it into a delimited data block."""

from __future__ import annotations

import json
import time
from typing import Any

from langchain_core.runnables import Runnable, RunnableConfig

from leadq.core.lead import LeadInput
from leadq.core.scoring import missing_critical_fields


def prompt_fields(lead: LeadInput) -> dict[str, str]:
    """What the model is shown: the lead's fields, with the email address cut to its domain
    (a company or a free-mail domain is a signal; the person's address is not, and it need
    not leave for the provider)."""
    fields = lead.present()
    if "email" in fields:
        fields["email_domain"] = fields.pop("email").rpartition("@")[2]
    return fields


def lead_block(lead: LeadInput) -> str:
    """The lead's fields as compact JSON. `<`, `>` and `&` are escaped so that no field can
    close the `<lead_data>` block it is sent in."""
    text = json.dumps(prompt_fields(lead), ensure_ascii=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


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
