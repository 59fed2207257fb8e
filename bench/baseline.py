"""The baseline: the original design's qualifier, rebuilt from its description for comparison.

Written from the original design's description, not copied from its code: its output schema
(no bounds on the scores, `overall_score` asked of the model), its prompt (a system text and
a human template with one line per field), its LCEL chain
`RunnableLambda(preprocess) | prompt | llm.with_structured_output(Result) | postprocess`,
its batch through `abatch` without `return_exceptions`, its streaming through `astream` of
that chain, and its FastAPI endpoints with their envelopes.

Adapted so that it runs against the benchmark's local server (each marked ADAPTED below):
- the base URL and key point at the local server instead of Cerebras;
- the model name is kept (`llama3.1-8b`: the local server answers any name, though Cerebras
  has retired that model);
- `with_structured_output` is called as the original calls it, with no `method`. With the
  langchain-openai 0.2 it pinned, that meant a forced tool call, which Cerebras rejects with
  HTTP 400; with today's langchain-openai it means `response_format` json_schema through the
  OpenAI SDK's `parse` helper, the schema regenerated for every request. The baseline does
  what today's library does with the original code;
- the singleton is left out: each benchmark builds its own instance inside its event loop,
  and each instance gets a fresh default HTTP client (langchain-openai caches one per
  process, bound to the first event loop, so a second `asyncio.run` fails with "Event loop
  is closed"). The client is the same kind with the same limits, as a fresh process gets.

`python -m bench.baseline serve --port N --base-url URL` serves its HTTP API with uvicorn."""

from __future__ import annotations

import argparse
import json
from collections.abc import AsyncIterator
from enum import StrEnum
from typing import Any

from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import Runnable, RunnableLambda
from langchain_openai import ChatOpenAI
from langchain_openai.chat_models import _client_utils
from pydantic import BaseModel, Field

# ---- the original schemas (their descriptions, no bounds) -------------------------------------


class RecommendedAction(StrEnum):
    IMMEDIATE_OUTREACH = "immediate_outreach"
    QUALIFIED_NURTURE = "qualified_nurture"
    FOLLOWUP_RESEARCH = "followup_research"
    NOT_QUALIFIED = "not_qualified"
    MANUAL_REVIEW = "manual_review"


def _score(what: str) -> Any:
    return Field(description=f"{what} 0.0-1.0.")


# What the original asks the model for: fourteen fields, scores unbounded (a model's 10.5
# passes as valid). The docstring is the original's own: it is sent as the schema's description.
class SeedResult(BaseModel):
    """
    Structured lead qualification result.
    This is returned by the LLM via with_structured_output().
    """

    overall_score: float = Field(
        description="Overall qualification score 0.0-1.0. "
        "0.0=not qualified, 0.5=medium, 1.0=highly qualified"
    )
    fit_score: float = Field(
        description="Product/market fit score 0.0-1.0. "
        "How well does our product solve their problem?"
    )
    budget_score: float = Field(
        description="Budget availability score 0.0-1.0. Do they have budget and approval to buy?"
    )
    urgency_score: float = Field(
        description="Decision urgency score 0.0-1.0. How soon will they make a decision?"
    )
    authority_score: float = Field(
        description="Decision authority score 0.0-1.0. Is this person a decision-maker?"
    )
    reasoning: str = Field(
        description="Concise explanation of the overall score. Why did we give this score? "
        "Key findings."
    )
    key_insights: list[str] = Field(
        default_factory=list,
        description="Top 3-5 key findings about the lead. Things that influenced the score.",
    )
    risk_factors: list[str] = Field(
        default_factory=list,
        description="Potential obstacles or red flags. Things to address in follow-up.",
    )
    positive_indicators: list[str] = Field(
        default_factory=list, description="Positive signals that suggest buying intent."
    )
    recommended_action: RecommendedAction = Field(
        description="Next action to take. Enum: immediate_outreach, qualified_nurture, "
        "followup_research, not_qualified, manual_review"
    )
    confidence: float = Field(
        description="Confidence in this assessment 0.0-1.0. "
        "How confident are we in this qualification?"
    )
    reasoning_for_action: str = Field(
        description="Why this action is recommended given the scores."
    )
    suggested_messaging: str | None = Field(
        default=None, description="Suggested opening message or approach for outreach."
    )
    follow_up_questions: list[str] = Field(
        default_factory=list,
        description="Questions to ask in follow-up to validate assumptions.",
    )


class SeedInput(BaseModel):
    """The original input: industry, size and revenue required; unknown keys ignored."""

    lead_name: str
    company_name: str
    industry: str
    company_size: str
    annual_revenue: str
    job_title: str | None = None
    website: str | None = None
    engagement_history: str | None = None
    additional_context: str | None = None


# ---- the original prompt -------------------------------------------------------------------

SYSTEM = """You are an expert B2B sales qualification specialist.
Analyze the provided lead information and generate accurate qualification scores.

Guidelines for scoring (0.0-1.0):
- Overall Score: Weighted average of fit, budget, urgency, authority
- Fit Score: How well our solutions match their needs
- Budget Score: Indicators of budget availability and approval
- Urgency Score: Timeline for decision-making
- Authority Score: Is this person a decision-maker?

Be precise with numeric scores. Focus on actionable insights.
Flag any missing critical information for manual review."""

HUMAN = """Analyze and qualify this lead:

Name: {lead_name}
Company: {company_name}
Industry: {industry}
Company Size: {company_size}
Annual Revenue: {annual_revenue}
Job Title: {job_title}
Website: {website}
Engagement History: {engagement_history}
Additional Context: {additional_context}

Provide detailed qualification analysis with structured scores."""


def _preprocess(lead_data: dict[str, Any]) -> dict[str, Any]:
    """Validate, then fill the template's slots, with the original placeholders for gaps."""
    lead = SeedInput(**lead_data)
    return {
        "lead_name": lead.lead_name,
        "company_name": lead.company_name,
        "industry": lead.industry,
        "company_size": lead.company_size,
        "annual_revenue": lead.annual_revenue,
        "job_title": lead.job_title or "Unknown",
        "website": lead.website or "Not provided",
        "engagement_history": lead.engagement_history or "No prior engagement",
        "additional_context": lead.additional_context or "None provided",
    }


def _postprocess(result: SeedResult) -> dict[str, Any]:
    """Round the scores and flatten to a dict, as the original does (no bounds, no checks)."""
    scores = ("overall", "fit", "budget", "urgency", "authority")
    out: dict[str, Any] = {f"{s}_score": round(getattr(result, f"{s}_score"), 3) for s in scores}
    out["confidence"] = round(result.confidence, 3)
    out.update(
        reasoning=result.reasoning,
        key_insights=result.key_insights,
        risk_factors=result.risk_factors,
        positive_indicators=result.positive_indicators,
        recommended_action=result.recommended_action.value,
        reasoning_for_action=result.reasoning_for_action,
        suggested_messaging=result.suggested_messaging,
        follow_up_questions=result.follow_up_questions,
    )
    return out


class SeedQualifier:
    """The original `CerebrasLeadQualifier`: one `ChatOpenAI`, one chain, thin methods."""

    def __init__(self, base_url: str, api_key: str = "sk-bench") -> None:
        # ADAPTED: a fresh cached client for this event loop (see the module docstring).
        _client_utils._cached_async_httpx_client.cache_clear()
        # ADAPTED: base_url and api_key point at the benchmark's server, not Cerebras.
        self.llm = ChatOpenAI(
            model="llama3.1-8b",
            api_key=api_key,  # type: ignore[arg-type]
            base_url=base_url,
            temperature=0,
            max_tokens=500,  # type: ignore[call-arg]
            timeout=15,
        )
        self.chain: Runnable[Any, Any] = (
            RunnableLambda(_preprocess)
            | ChatPromptTemplate.from_messages([("system", SYSTEM), ("human", HUMAN)])
            | self.llm.with_structured_output(SeedResult)  # ADAPTED: see the module docstring
            | RunnableLambda(_postprocess)  # type: ignore[arg-type]
        )

    async def qualify_lead_async(self, lead_data: dict[str, Any]) -> dict[str, Any]:
        try:
            return await self.chain.ainvoke(lead_data)
        except Exception as exc:  # the original behaviour: the error's type is lost
            raise Exception(f"Async lead qualification failed: {exc}") from exc

    async def qualify_leads_batch_async(
        self, leads: list[dict[str, Any]], max_concurrency: int = 5
    ) -> list[dict[str, Any]]:
        """`abatch` without `return_exceptions`: one failure raises, every result is lost."""
        return await self.chain.abatch(leads, config={"max_concurrency": max_concurrency})

    async def stream_qualification(self, lead_data: dict[str, Any]) -> AsyncIterator[Any]:
        async for chunk in self.chain.astream(lead_data):
            yield chunk


# ---- the original HTTP API -----------------------------------------------------------------


def create_app(base_url: str) -> Any:
    """The original endpoints: qualify, qualify-batch, qualify-stream, health."""
    from fastapi import FastAPI, HTTPException
    from fastapi.responses import StreamingResponse

    app = FastAPI()
    state: dict[str, SeedQualifier] = {}

    def get_qualifier() -> SeedQualifier:
        if "q" not in state:
            state["q"] = SeedQualifier(base_url)
        return state["q"]

    @app.post("/api/leads/qualify")
    async def qualify(lead: SeedInput) -> dict[str, Any]:
        try:
            result = await get_qualifier().qualify_lead_async(lead.model_dump())
        except Exception as exc:  # the original's 500 for everything
            raise HTTPException(status_code=500, detail=str(exc)) from exc
        return {"status": "success", "data": result}

    @app.post("/api/leads/qualify-batch")
    async def qualify_batch(leads: list[SeedInput]) -> dict[str, Any]:
        try:
            results = await get_qualifier().qualify_leads_batch_async(
                [lead.model_dump() for lead in leads], max_concurrency=5
            )
        except Exception as exc:
            raise HTTPException(status_code=500, detail=str(exc)) from exc
        return {"status": "success", "count": len(results), "data": results}

    @app.post("/api/leads/qualify-stream")
    async def qualify_stream(lead: SeedInput) -> StreamingResponse:
        async def events() -> AsyncIterator[str]:
            try:
                async for chunk in get_qualifier().stream_qualification(lead.model_dump()):
                    yield f"data: {json.dumps(chunk)}\n\n"
            except Exception as exc:  # noqa: BLE001 - the original: any error is one error event
                yield f"data: {json.dumps({'error': str(exc)})}\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    @app.get("/api/leads/health")
    async def health() -> dict[str, Any]:
        get_qualifier()
        return {"status": "healthy", "model": "llama3.1-8b", "provider": "Cerebras"}

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["serve"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--base-url", required=True)
    args = parser.parse_args()
    import uvicorn

    uvicorn.run(create_app(args.base_url), host="127.0.0.1", port=args.port)


if __name__ == "__main__":
    main()
