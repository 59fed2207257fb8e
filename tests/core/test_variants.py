"""Prompt variants: deterministic per lead, split by the weights, validated at settings time."""

from __future__ import annotations

import math
from collections import Counter

import pytest
from pydantic import ValidationError

from leadq.chain.prompt import build_prompt, load_prompt
from leadq.config import Settings
from leadq.core.identity import lead_key
from leadq.core.lead import LeadInput
from leadq.core.profile import default_profile
from leadq.core.variants import Variants, parse_variants


def test_default_is_the_one_prompt_version() -> None:
    assert Settings().variants.versions == ("v3",)
    assert Settings(prompt_version="v2").variants.pick("id:anything") == "v2"


def test_parse_weights_and_bare_names() -> None:
    v = parse_variants("v1=0.7, v2=0.3", "v1")
    assert v.weights == (("v1", 0.7), ("v2", 0.3))
    assert parse_variants("v1,v2", "v1").shares == {"v1": 0.5, "v2": 0.5}
    assert parse_variants("v1=1,v2=0", "v1").versions == ("v1",)  # a zero weight is off


@pytest.mark.parametrize(
    ("spec", "says"),
    [
        ("v1=abc", "not a number"),
        ("v1=-1", "bad entry"),
        ("v1=0.5,v1=0.5", "twice"),
        ("v1=0.5,v9=0.5", "prompts/v9.toml"),
        ("v1=0,v2=0", "positive"),
    ],
)
def test_bad_specs_name_the_variable(spec: str, says: str) -> None:
    with pytest.raises(ValidationError) as info:
        Settings(prompt_variants=spec)
    assert "LEADQ_PROMPT_VARIANTS" in str(info.value)
    assert says in str(info.value)


def test_the_same_lead_always_gets_the_same_variant() -> None:
    variants = Settings(prompt_variants="v1=0.5,v2=0.5").variants
    lead = LeadInput.parse({"lead_name": "Ann Lee", "company_name": "Acme"})
    same = LeadInput.parse({"lead_name": "  ANN  lee", "company_name": "ACME"})
    picks = {variants.pick(lead_key(x)) for x in (lead, same) for _ in range(5)}
    assert len(picks) == 1
    # A fresh parse (another process would compute the same): no per-process hash seed.
    again = parse_variants("v1=0.5,v2=0.5", "v1")
    keys = [f"id:L-{i}" for i in range(200)]
    assert [variants.pick(k) for k in keys] == [again.pick(k) for k in keys]
    assert len({variants.pick(k) for k in keys}) == 2


@pytest.mark.parametrize("weights", [(0.7, 0.3), (0.1, 0.9), (0.2, 0.3, 0.5)])
def test_split_follows_the_weights(weights: tuple[float, ...]) -> None:
    names = ["v1", "v2", "v1"][: len(weights)]
    variants = Variants(
        tuple((f"{n}-{i}", w) for i, (n, w) in enumerate(zip(names, weights, strict=True)))
    )
    n = 10_000
    counts = Counter(variants.pick(f"email:lead{i}@example.com") for i in range(n))
    for (name, w), share in zip(variants.weights, variants.shares.values(), strict=True):
        sd = math.sqrt(n * share * (1 - share))
        assert abs(counts[name] - n * share) <= 4 * sd, (name, counts[name], w)


def test_a_new_salt_reshuffles_and_ramping_up_moves_only_some_leads() -> None:
    keys = [f"id:{i}" for i in range(2000)]
    a = parse_variants("v1=0.5,v2=0.5", "v1", salt="one")
    b = parse_variants("v1=0.5,v2=0.5", "v1", salt="two")
    moved = sum(a.pick(k) != b.pick(k) for k in keys)
    assert 800 < moved < 1200  # about half, independent
    ramp = parse_variants("v1=0.4,v2=0.6", "v1", salt="one")
    # Going from 50% to 60% on v2 moves about 10% of the leads, all from v1 to v2.
    changed = [k for k in keys if a.pick(k) != ramp.pick(k)]
    assert all(a.pick(k) == "v1" and ramp.pick(k) == "v2" for k in changed)
    assert 100 < len(changed) < 300


@pytest.mark.parametrize("method", ["json_schema", "function_calling", "json_mode"])
def test_v2_is_a_shorter_prompt_with_the_same_slot(method: str) -> None:
    v1, v2 = load_prompt("v1"), load_prompt("v2")
    assert v2.version == "v2"
    assert len(v2.system) < len(v1.system)
    assert v1.system != v2.system
    prompt = build_prompt(v2, method, default_profile().offer)
    assert prompt.input_variables == ["lead_block"]
    text = prompt.format(lead_block='{"lead_name":"Ann"}')
    assert "<lead_data>" in text
    assert "untrusted data" in text
