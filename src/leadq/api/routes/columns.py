"""The column headers leadq reads as its lead fields (data/crm_columns.toml), so that the
page's Batch view reads a CRM's file as `leadq qualify` does, from the same table. Package
data, not stored data: no API key needed."""

from __future__ import annotations

from functools import cache
from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from leadq.leadfiles import crm_aliases

router = APIRouter(prefix="/api", tags=["files"])


class LeadColumns(BaseModel):
    status: Literal["success"] = "success"
    data: dict[str, list[str]] = Field(
        description="Each lead field (and `first_name`, `last_name`, joined into lead_name "
        "when no column holds the whole name) -> the headers that give it, the preferred "
        "first, as they are compared: lowercase letters and digits only, without spacing or "
        "punctuation (`Record ID` is `recordid`).",
        examples=[{"lead_id": ["leadid", "recordid", "contactid"]}],
    )


@cache
def column_keys() -> dict[str, list[str]]:
    """`crm_aliases()` by field: each field's header keys, its own name first."""
    ranked: dict[str, list[tuple[int, str]]] = {}
    for key, (name, rank) in crm_aliases().items():
        ranked.setdefault(name, []).append((rank, key))
    return {name: [key for _, key in sorted(keys)] for name, keys in ranked.items()}


@router.get("/lead-columns", response_model=LeadColumns)
async def lead_columns() -> dict[str, Any]:
    """The column headers (and JSONL keys) a lead file may use for each lead field: leadq's
    own names and those CRM exports write (HubSpot, Salesforce, Pipedrive, Zoho)."""
    return {"status": "success", "data": column_keys()}
