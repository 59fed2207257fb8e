"""`leadq profile check FILE`: validates a seller profile and prints what each engine uses."""

from __future__ import annotations

from pathlib import Path

from tests.cli.test_app import leadq

INDUSTRIAL = Path(__file__).parents[2] / "examples" / "profiles" / "industrial.toml"


def test_check_prints_what_the_llm_and_the_rules_engine_use_for_the_industrial_example() -> None:
    proc = leadq("profile", "check", str(INDUSTRIAL))
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "valid" in out.splitlines()[0]
    llm, rules = out.split("Rules engine:")
    assert "Offer: Industrial metering pumps" in llm
    assert "Disqualifiers: no plant or production site of its own;" in llm
    assert "Buyers: plant manager;" in llm
    assert "target industries: chemicals, water treatment" in rules
    assert "employees: 100 to 20,000" in rules
    assert "fit weights: industry 0.45" in rules
    assert proc.stderr == ""


def test_check_names_the_key_and_line_at_fault(tmp_path) -> None:
    bad = tmp_path / "icp.toml"
    bad.write_text('[offer]\ndescription = "Pumps"\ntarget_industries = ["mining"]\n')
    proc = leadq("profile", "check", str(bad))
    assert proc.returncode == 2
    assert "offer.target_industries (line 3): unknown key" in proc.stderr
    assert "put plain keys above it" in proc.stderr


def test_check_warns_when_a_profile_has_no_offer(tmp_path) -> None:
    old = tmp_path / "icp.toml"
    old.write_text('target_industries = ["mining"]\n')
    proc = leadq("profile", "check", str(old))
    assert proc.returncode == 0
    assert "Offer: B2B software" in proc.stdout  # the packaged default's
    assert "no [offer] table" in proc.stderr
