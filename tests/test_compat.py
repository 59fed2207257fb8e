"""`leadq.CerebrasLeadQualifier` and `leadq.get_qualifier`: the original design's Python API,
making its test module's calls and assertions on the rules engine and over HTTP against the
scripted Cerebras-compatible server; and that test module itself, taken from the design's
guide with only its import line changed, run by pytest in a process of its own."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

import leadq
from leadq import CerebrasLeadQualifier, LeadInput, LeadQualifier, Settings, get_settings
from tests.conftest import ROOT
from tests.support.llm import GOOD, answer, lead_in
from tests.support.openai_server import Reply, ScriptedServer

GUIDE = ROOT.parent / "shared" / "spec" / "seed-guide.md"
SEED_IMPORT = "from app.services.cerebras_lead_qualifier import"
# Only the plugin the guide's module needs (pytest-asyncio, for its `@pytest.mark.asyncio`),
# with autoloading off (PYTEST_DISABLE_PLUGIN_AUTOLOAD): loading every installed one takes
# seconds.
GUIDE_PYTEST = ["-q", "-p", "no:cacheprovider", "-p", "pytest_asyncio.plugin"]
SEED_KEYS = {
    "overall_score",
    "fit_score",
    "budget_score",
    "urgency_score",
    "authority_score",
    "confidence",
    "reasoning",
    "key_insights",
    "risk_factors",
    "positive_indicators",
    "recommended_action",
    "reasoning_for_action",
    "suggested_messaging",
    "follow_up_questions",
}
SAMPLE_LEAD = {
    "lead_name": "John Doe",
    "company_name": "Acme Corp",
    "industry": "SaaS",
    "company_size": "100-500",
    "annual_revenue": "$10M",
    "job_title": "VP Sales",
    "website": "acme.com",
    "engagement_history": "Visited pricing 3x, opened 2 emails",
    "additional_context": "Recently funded Series B",
}


class SeedInput(BaseModel):
    """The original design's input model, as its API code passes it around."""

    lead_name: str
    company_name: str
    industry: str
    company_size: str
    annual_revenue: str
    job_title: str | None = None
    website: str | None = None
    engagement_history: str | None = None
    additional_context: str | None = None


@pytest.fixture(params=["rules", "cerebras"])
def qualifier(request: pytest.FixtureRequest) -> Iterator[CerebrasLeadQualifier]:
    """The compat qualifier on the rules engine, and on the Cerebras provider pointed at the
    scripted server (real HTTP, answering GOOD; the `llm` fixture closes it)."""
    if request.param == "rules":
        seed = CerebrasLeadQualifier(Settings(provider="rules"))
        yield seed
        seed.close()
    else:
        make: Callable[..., LeadQualifier] = request.getfixturevalue("llm")
        yield CerebrasLeadQualifier(qualifier=make(provider="cerebras"))


def is_seed_result(result: Any) -> bool:
    return isinstance(result, dict) and set(result) >= SEED_KEYS


# ---- the original test module's calls and assertions ---------------------------------------


def test_qualify_lead_structure(qualifier: CerebrasLeadQualifier) -> None:
    result = qualifier.qualify_lead(SAMPLE_LEAD)
    assert is_seed_result(result)
    assert 0.0 <= result["overall_score"] <= 1.0
    assert result["provider"] == qualifier.qualifier.provider  # leadq's keys come along
    assert isinstance(result["recommended_action"], str)  # JSON-ready, as the original's


async def test_qualify_lead_async(qualifier: CerebrasLeadQualifier) -> None:
    result = await qualifier.qualify_lead_async(SAMPLE_LEAD)
    assert is_seed_result(result)
    assert 0.0 <= result["overall_score"] <= 1.0


def test_batch_qualification(qualifier: CerebrasLeadQualifier) -> None:
    leads = [{**SAMPLE_LEAD, "lead_name": f"Lead {i}"} for i in range(3)]
    results = qualifier.qualify_leads_batch(leads)
    assert len(results) == 3
    assert all(is_seed_result(r) for r in results)


async def test_batch_qualification_async(qualifier: CerebrasLeadQualifier) -> None:
    leads = [{**SAMPLE_LEAD, "lead_name": f"Lead {i}", "lead_id": f"L-{i}"} for i in range(5)]
    results = await qualifier.qualify_leads_batch_async(leads, max_concurrency=2)
    assert len(results) == 5
    assert [r["lead_id"] for r in results] == [f"L-{i}" for i in range(5)]  # input order


async def test_streaming_ends_with_the_full_result(qualifier: CerebrasLeadQualifier) -> None:
    chunks = [chunk async for chunk in qualifier.stream_qualification(SAMPLE_LEAD)]
    assert len(chunks) > 0
    assert all(isinstance(c, dict) for c in chunks)
    assert is_seed_result(chunks[-1])


def test_the_chain_is_the_originals_lcel_entry_point(qualifier: CerebrasLeadQualifier) -> None:
    """Code that called the original's `qualifier.chain` directly (`invoke`, `batch` with a
    max_concurrency config) gets result dicts from the whole of leadq."""
    chain = qualifier.chain
    assert is_seed_result(chain.invoke(SAMPLE_LEAD))
    leads = [{**SAMPLE_LEAD, "lead_id": f"C-{i}"} for i in range(3)]
    results = chain.batch(leads, config={"max_concurrency": 2})
    assert [r["lead_id"] for r in results] == ["C-0", "C-1", "C-2"]
    with pytest.raises(ValueError, match="lead_name"):
        chain.invoke({**SAMPLE_LEAD, "lead_name": ""})


async def test_the_chains_async_calls_stream_and_complete_as_the_originals(
    qualifier: CerebrasLeadQualifier,
) -> None:
    chain = qualifier.chain
    assert is_seed_result(await chain.ainvoke(SeedInput(**SAMPLE_LEAD)))
    leads = [{**SAMPLE_LEAD, "lead_id": f"A-{i}"} for i in range(3)]
    config: Any = {"max_concurrency": 2}
    done = [(i, r) async for i, r in chain.abatch_as_completed(leads, config=config)]
    assert sorted(i for i, _ in done) == [0, 1, 2]
    assert all(r["lead_id"] == f"A-{i}" for i, r in done)
    assert [r["lead_id"] for r in await chain.abatch(leads)] == ["A-0", "A-1", "A-2"]
    chunks = [c async for c in chain.astream(SAMPLE_LEAD)]
    assert all(isinstance(c, dict) for c in chunks)
    assert is_seed_result(chunks[-1])


def test_invalid_input_raises_value_error_naming_the_field(
    qualifier: CerebrasLeadQualifier,
) -> None:
    with pytest.raises(ValueError, match="lead_name"):
        qualifier.qualify_lead({"invalid": "data"})


# ---- what leadq adds to the original's behaviour -------------------------------------------


async def test_stream_chunks_fill_in_as_tokens_arrive(
    llm: Callable[..., LeadQualifier], openai_server: ScriptedServer
) -> None:
    openai_server.handler = lambda body: answer(body, chunk_chars=12, chunk_delay=0.005)
    seed = CerebrasLeadQualifier(qualifier=llm(provider="cerebras"))
    chunks = [chunk async for chunk in seed.stream_qualification(SAMPLE_LEAD)]
    assert len(chunks) > 2  # partial fields first
    assert len(chunks[0]) < len(chunks[-2]) < len(chunks[-1])
    assert chunks[-1]["fit_score"] == GOOD["fit_score"]
    assert chunks[-1]["overall_score"] == 0.755


def test_a_failed_lead_is_an_error_dict_in_its_place(
    llm: Callable[..., LeadQualifier], openai_server: ScriptedServer
) -> None:
    def handler(body: dict[str, Any]) -> Reply:
        if lead_in(body)["lead_name"] == "Bad":
            return Reply(status=401, body={"message": "Wrong API Key"})
        return answer(body)

    openai_server.handler = handler
    seed = CerebrasLeadQualifier(qualifier=llm(provider="cerebras"))
    leads = [SAMPLE_LEAD, {**SAMPLE_LEAD, "lead_name": "Bad"}, {"lead_name": "No company"}]
    results = seed.qualify_leads_batch(leads)
    assert is_seed_result(results[0])
    assert results[1]["error"] == "provider_rejected"
    assert results[1]["message"]
    assert (results[2]["error"], results[2]["field"]) == ("invalid_input", "company_name")
    assert not any("overall_score" in r for r in results[1:])


async def test_as_completed_yields_each_index_once_with_a_dict(
    qualifier: CerebrasLeadQualifier,
) -> None:
    leads = [SAMPLE_LEAD, {"lead_name": "x"}, {**SAMPLE_LEAD, "lead_name": "Lead 2"}]
    got = {i: r async for i, r in qualifier.qualify_leads_as_completed(leads, max_concurrency=2)}
    assert sorted(got) == [0, 1, 2]
    assert is_seed_result(got[0])
    assert got[1]["error"] == "invalid_input"
    assert is_seed_result(got[2])


def test_leads_as_the_original_model_a_dict_or_a_lead_input_are_one_lead() -> None:
    seed = CerebrasLeadQualifier(Settings(provider="rules"))
    try:
        results = [
            seed.qualify_lead(lead)
            for lead in (SAMPLE_LEAD, SeedInput(**SAMPLE_LEAD), LeadInput(**SAMPLE_LEAD))
        ]
    finally:
        seed.close()
    assert all(is_seed_result(r) for r in results)
    same = [{k: v for k, v in r.items() if k != "latency_ms"} for r in results]
    assert same[0] == same[1] == same[2]


def test_get_qualifier_is_the_seed_api_over_the_process_wide_typed_qualifier(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LEADQ_PROVIDER", "rules")
    monkeypatch.setattr("leadq.qualifier._instance", None)
    monkeypatch.setattr("leadq.compat._instance", None)
    get_settings.cache_clear()  # read from this environment, and forgotten after
    try:
        seed = leadq.get_qualifier()
        assert isinstance(seed, CerebrasLeadQualifier)
        assert leadq.get_qualifier() is seed
        assert seed.qualifier is leadq.get_lead_qualifier()
        assert isinstance(leadq.get_lead_qualifier(), LeadQualifier)
        assert seed.qualifier.provider == "rules"
        assert is_seed_result(seed.qualify_lead(SAMPLE_LEAD))
        seed.close()
    finally:
        get_settings.cache_clear()


# ---- the guide's own test module ------------------------------------------------------------


def guide_test_module() -> str:
    """The guide's test module (its python block importing the original service), with that
    import pointed at leadq."""
    if not GUIDE.exists():
        pytest.skip(f"the original design's guide is not at {GUIDE}")
    blocks = re.findall(r"^```python\n(.*?)^```", GUIDE.read_text(encoding="utf-8"), re.M | re.S)
    (module,) = [b for b in blocks if SEED_IMPORT in b and "def test_" in b]
    return module.replace(SEED_IMPORT, "from leadq import")


@pytest.mark.parametrize("provider", ["rules", "cerebras"])
def test_the_guides_test_module_passes_with_its_import_changed_to_leadq(
    provider: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    module = guide_test_module()
    (tmp_path / "test_cerebras_qualifier.py").write_text(module, encoding="utf-8")
    (tmp_path / "pytest.ini").write_text(
        "[pytest]\nasyncio_default_fixture_loop_scope = function\n", encoding="utf-8"
    )
    env = {
        **os.environ,
        "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
        "LEADQ_PROVIDER": provider,
        "LEADQ_DATABASE_URL": f"sqlite:///{tmp_path / 'leadq.db'}",
        "LEADQ_DATA_DIR": str(tmp_path),
    }
    if provider == "cerebras":  # the scripted server, streaming its answers in chunks
        server: ScriptedServer = request.getfixturevalue("openai_server")
        server.handler = lambda body: answer(body, chunk_chars=24)
        env.update(CEREBRAS_BASE_URL=server.url, CEREBRAS_API_KEY="csk-test")
    run = subprocess.run(
        [sys.executable, "-m", "pytest", *GUIDE_PYTEST, str(tmp_path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    tests = len(re.findall(r"^(?:async )?def test_", module, re.M))
    assert tests >= 6
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"{tests} passed" in run.stdout
    # Its qualifiers are never closed: their HTTP sessions still close, quietly.
    assert "Unclosed" not in run.stdout + run.stderr
    if provider == "cerebras":
        assert len(server.requests) >= 3 + 1 + 1 + 5 + 1  # every lead went to the provider
