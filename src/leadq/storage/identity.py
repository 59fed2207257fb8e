"""A lead's stable identity and the fingerprint of what a result was computed from."""

from __future__ import annotations

import hashlib
import json
import unicodedata

from leadq.schemas.lead import LeadInput


def _norm(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def lead_key(lead: LeadInput) -> str:
    """The caller's `lead_id` when given, else the email, else name + company (normalised)."""
    if lead.lead_id:
        return f"id:{lead.lead_id}"
    if lead.email:
        return f"email:{lead.email.casefold()}"
    return f"name:{_norm(lead.lead_name)}|{_norm(lead.company_name)}"


def input_hash(lead: LeadInput) -> str:
    """SHA-256 of the lead's normalised fields (what the score was computed from)."""
    data = json.dumps(lead.present(), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(data.encode()).hexdigest()
