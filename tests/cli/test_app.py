"""The `leadq` command in a real subprocess: offline on the rules engine, and against the
scripted OpenAI-compatible server."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import EXAMPLES
from tests.support.llm import answer, lead_in
from tests.support.openai_server import Reply


def leadq(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "leadq", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


def records(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def test_examples_offline_give_explained_results_and_name_the_bad_row() -> None:
    proc = leadq("qualify", str(EXAMPLES), "-q")
    rows = records(proc.stdout)
    with EXAMPLES.open(encoding="utf-8") as fh:
        expected = sum(1 for _ in csv.DictReader(fh))
    assert len(rows) == expected == 21
    assert [r["row"] for r in rows] == list(range(1, 22))
    failed = [r for r in rows if r["status"] == "error"]
    # Row 13 has no lead_name: the one invalid row, named, while all others are written.
    assert [(r["row"], r["error"]["field"]) for r in failed] == [(13, "lead_name")]
    assert proc.returncode == 1
    assert "row 13" in proc.stderr
    assert "lead_name" in proc.stderr
    ok = [r["result"] for r in rows if r["status"] == "ok"]
    assert all(r["provider"] == "rules" and 0 <= r["overall_score"] <= 1 for r in ok)
    assert all(r["reasoning"] and r["key_insights"] for r in ok)
    by_id = {r["lead_id"]: r for r in rows}
    assert by_id["L-0001"]["result"]["recommended_action"] == "immediate_outreach"
    assert by_id["L-0010"]["result"]["recommended_action"] == "manual_review"  # no industry
    assert "immediate_outreach" in proc.stderr
    assert "failed" in proc.stderr


def test_csv_output_file(tmp_path: Path) -> None:
    out = tmp_path / "results.csv"
    proc = leadq("qualify", str(EXAMPLES), "-o", str(out), "-q")
    assert proc.returncode == 1
    assert f"wrote 21 results to {out}" in proc.stderr
    with out.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 21
    assert rows[0]["lead_id"] == "L-0001"
    assert float(rows[0]["overall_score"]) > 0.75
    assert rows[12]["status"] == "error"
    assert rows[12]["error"] == "invalid_input"


def test_jsonl_with_a_broken_line_and_unknown_keys(tmp_path: Path) -> None:
    src = tmp_path / "leads.jsonl"
    src.write_text(
        '{"lead_name": "Ann", "company_name": "B", "crm_owner": "x"}\n'
        "{not json\n"
        '{"lead_name": "Cy", "company_name": "D"}\n',
        encoding="utf-8",
    )
    proc = leadq("qualify", str(src), "-q")
    rows = records(proc.stdout)
    assert [r["status"] for r in rows] == ["ok", "error", "ok"]
    assert "line 2 is not valid JSON" in rows[1]["error"]["message"]
    assert "ignored unknown keys: crm_owner" in proc.stderr
    assert proc.returncode == 1


def test_all_good_rows_exit_zero(tmp_path: Path) -> None:
    src = tmp_path / "ok.csv"
    src.write_text("lead_name,company_name,industry\nAnn,B,SaaS\n", encoding="utf-8")
    assert leadq("qualify", str(src), "-q").returncode == 0


def test_unreadable_file_is_exit_2(tmp_path: Path) -> None:
    src = tmp_path / "leads.txt"
    src.write_text("x", encoding="utf-8")
    proc = leadq("qualify", str(src))
    assert proc.returncode == 2
    assert "--format" in proc.stderr


def test_against_an_openai_compatible_server_one_outcome_per_row(openai_server) -> None:
    def handler(body):
        name = lead_in(body)["lead_name"]
        if name.startswith("Marcus"):
            return Reply(status=500, body={"message": "boom"})
        if name.startswith("Priya"):
            return answer(body, {"fit_score": 7})  # schema-invalid answer
        return answer(body)

    openai_server.handler = handler
    env = {
        "LEADQ_PROVIDER": "openai",
        "OPENAI_BASE_URL": openai_server.url,
        "OPENAI_API_KEY": "sk-test",
        "LEADQ_MODEL": "gpt-4o-mini",
        "LEADQ_MAX_RETRIES": "1",
        "LEADQ_RETRY_BASE_DELAY": "0.01",
    }
    proc = leadq("qualify", str(EXAMPLES), "-q", env=env)
    rows = records(proc.stdout)
    assert len(rows) == 21
    assert proc.returncode == 1
    errors = {r["lead_name"]: r["error"]["error"] for r in rows if r["status"] == "error"}
    assert errors == {
        "Marcus O'Neill": "provider_unavailable",
        "Priya Raman": "bad_provider_answer",
        None: "invalid_input",
    }
    ok = [r["result"] for r in rows if r["status"] == "ok"]
    assert len(ok) == 18
    assert all(r["provider"] == "openai" for r in ok)
    assert all(0 <= r[k] <= 1 for r in ok for k in r if k.endswith("_score"))
    assert all(r["cost_usd"] is not None for r in ok)  # gpt-4o-mini is in the price table
    assert "provider: openai, model: gpt-4o-mini" in proc.stderr
    # 20 valid rows: 18 answered once, 2 failing rows tried twice (one retry each).
    assert len(openai_server.requests) == 22


def test_second_run_of_a_file_is_served_from_the_cache(openai_server, tmp_path: Path) -> None:
    src = tmp_path / "leads.csv"
    src.write_text(
        "lead_id,lead_name,company_name,industry\n"
        "C-1,Ann Lee,Acme,SaaS\n"
        "C-2,Bo Chan,Beta,Fintech\n",
        encoding="utf-8",
    )
    openai_server.handler = lambda body: answer(body)
    env = {
        "LEADQ_PROVIDER": "openai",
        "OPENAI_BASE_URL": openai_server.url,
        "OPENAI_API_KEY": "sk-test",
        "LEADQ_MODEL": "test-model",
    }
    first = leadq("qualify", str(src), "-q", env=env)
    again = leadq("qualify", str(src), "-q", "--new", env=env)
    assert first.returncode == again.returncode == 0, again.stderr
    assert len(openai_server.requests) == 2  # the second job made no call
    ids = [r["result"]["qualification_id"] for r in records(first.stdout)]
    assert [r["result"]["qualification_id"] for r in records(again.stdout)] == ids
    fresh = leadq("qualify", str(src), "-q", "--new", "--no-cache", env=env)
    assert fresh.returncode == 0
    assert len(openai_server.requests) == 4
