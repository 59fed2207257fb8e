"""A lead's stable identity and the fingerprint of what a result was computed from."""

from __future__ import annotations

import hashlib
import json
import unicodedata
from typing import Any, NamedTuple

from leadq.core.lead import LeadInput


class CacheScope(NamedTuple):
    """What a cached result must have been made with, besides the lead's input."""

    provider: str
    model: str
    prompt_version: str
    profile_version: str  # the seller profile's (`core/profile.py`)


def _norm(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


MAX_KEY = 400  # the store's column holds 450; folding can lengthen text ("ß" -> "ss")


def lead_key(lead: LeadInput) -> str:
    """The caller's `lead_id` when given, else the email, else name + company (normalised).
    A key longer than `MAX_KEY` is kept as its kind and a SHA-256 of it."""
    if lead.lead_id:
        key = f"id:{lead.lead_id}"
    elif lead.email:
        key = f"email:{lead.email.casefold()}"
    else:
        key = f"name:{_norm(lead.lead_name)}|{_norm(lead.company_name)}"
    if len(key) <= MAX_KEY:
        return key
    kind = key.split(":", 1)[0]
    return f"{kind}#sha256:{hashlib.sha256(key.encode()).hexdigest()}"


# `json.dumps(..., sort_keys=True, ensure_ascii=False, separators=(",", ":"))` without
# building an encoder on every call: the same text, and every stored lead is hashed.
_HASHED_JSON = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def input_hash(lead: LeadInput) -> str:
    """SHA-256 of the lead's normalised fields and its attributes (what the score was
    computed from). A lead without attributes hashes its fields alone, as before leads had
    attributes, so stored hashes and cached results stay valid."""
    hashed: dict[str, Any] = lead.present()
    if lead.attributes:
        hashed["attributes"] = lead.attributes  # no field has this name
    return hashlib.sha256(_HASHED_JSON.encode(hashed).encode()).hexdigest()
