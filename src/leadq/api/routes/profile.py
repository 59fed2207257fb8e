"""`GET /api/profile`: the seller profile in force, and its version."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from leadq.api.deps import SettingsDep, require_api_key
from leadq.api.models import ERROR_RESPONSES, ProfileResponse

router = APIRouter(
    prefix="/api",
    tags=["profile"],
    dependencies=[Depends(require_api_key)],
    responses={k: v for k, v in ERROR_RESPONSES.items() if k == 401},
)


@router.get("/profile", response_model=ProfileResponse)
async def profile(settings: SettingsDep) -> dict[str, Any]:
    """What the team sells and to whom: the `[offer]` the LLM scores fit against and the
    rules engine's industries, ranges and title keywords, with the version each result
    records. Change it by editing the file LEADQ_ICP_FILE names and restarting."""
    seller = settings.profile
    return {
        "version": seller.version,
        "source": seller.source,
        "offer_given": seller.offer_given,
        "profile": seller.content(),
    }
