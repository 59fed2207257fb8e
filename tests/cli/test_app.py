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
    assert "kept as attributes: crm_owner" in proc.stderr
    assert rows[0]["attributes"] == {"crm_owner": "x"}
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


def _said(stderr: str) -> str:
    """stderr with the console's line wrapping undone."""
    return " ".join(stderr.split())


def test_crm_exports_are_qualified_as_they_are_with_no_flags(tmp_path: Path) -> None:
    hubspot = tmp_path / "hubspot.csv"  # semicolons, Windows-1252, a column leadq does not use
    hubspot.write_bytes(
        "Record ID;First Name;Last Name;Company Name;Job Title;Number of Employees;"
        "Annual Revenue;Industry;Email;Lifecycle Stage\r\n"
        "5101;José;García;Café Systems;VP Sales;250;$20M;SaaS;jose@cafe.example;lead\r\n"
        "5102;Zoë;Müller;Zürich Data AG;CTO;80;€5M;Software;zoe@zdata.example;mql\r\n".encode(
            "cp1252"
        )
    )
    salesforce = tmp_path / "salesforce.csv"  # UTF-8 with a byte-order mark
    salesforce.write_text(
        "Lead ID,First Name,Last Name,Title,Company / Account,No. of Employees,Lead Source,"
        "Annual Revenue,Email,Industry\n"
        "00Q5g00000AbCdE,Zoë,Müller,Head of Operations,Łódź Logistics,400,Web,30000000,"
        "zoe@lodz.example,Logistics\n"
        "00Q5g00000FgHiJ,José,García,CFO,Señal SA,1200,Trade Show,90000000,"
        "jose@senal.example,Fintech\n",
        encoding="utf-8-sig",
    )
    env = {"LEADQ_DATA_DIR": str(tmp_path / "data")}
    expected = {
        hubspot: [("5101", "José García"), ("5102", "Zoë Müller")],
        salesforce: [("00Q5g00000AbCdE", "Zoë Müller"), ("00Q5g00000FgHiJ", "José García")],
    }
    for src, leads in expected.items():
        out = tmp_path / f"{src.stem}.jsonl"
        proc = leadq("qualify", str(src), "-o", str(out), "-q", env=env)
        assert proc.returncode == 0, proc.stderr
        rows = records(out.read_text(encoding="utf-8"))
        assert [(r["lead_id"], r["lead_name"], r["status"]) for r in rows] == [
            (lead_id, name, "ok") for lead_id, name in leads
        ]
        assert all(r["result"]["provider"] == "rules" for r in rows)
    hist = leadq("history", "00Q5g00000AbCdE", env=env)
    assert hist.returncode == 0
    assert "Zoë Müller at Łódź Logistics" in hist.stdout
    assert "José García at Café Systems" in leadq("history", "5101", env=env).stdout


def test_hubspot_export_warns_of_its_encoding_and_extra_column(tmp_path: Path) -> None:
    src = tmp_path / "export.csv"
    src.write_bytes(
        "Record ID;Full Name;Company Name;Lifecycle Stage\n1;Ann Lee;Acme;lead\n"
        "2;José García;Café;lead\n1;Bo Chan;Beta;lead\n".encode("cp1252")
    )
    proc = leadq("qualify", str(src), "-q", env={"LEADQ_DATA_DIR": str(tmp_path / "data")})
    said = _said(proc.stderr)
    assert "row 2 is not UTF-8" in said
    assert "Windows-1252" in said
    assert "kept as attributes: Lifecycle Stage" in said
    assert "warning: kept" not in said  # a note, not a warning
    assert "lead_id 1 is on rows 1, 3" in said
    rows = records(proc.stdout)
    assert [r["status"] for r in rows] == ["ok", "ok", "error"]
    assert rows[2]["error"]["message"] == "lead_id 1 already on row 1"
    assert proc.returncode == 1


def test_map_option_reads_other_columns_and_another_map_is_another_job(tmp_path: Path) -> None:
    src = tmp_path / "kontakte.csv"
    src.write_text("Kennung;Kontakt;Firma\nK-1;Zoë Müller;Zürich AG\n", encoding="utf-8")
    env = {"LEADQ_DATA_DIR": str(tmp_path / "data")}
    plain = leadq("qualify", str(src), "-q", env=env)
    assert plain.returncode == 1  # nothing to read a lead from
    assert "kept as attributes: Kennung, Kontakt, Firma" in _said(plain.stderr)
    mapped = (
        "--map",
        "Kennung=lead_id",
        "--map",
        "Kontakt=lead_name",
        "--map",
        "Firma=company_name",
    )
    proc = leadq("qualify", str(src), "-q", *mapped, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "resuming" not in proc.stderr  # read through another map: a new job
    [row] = records(proc.stdout)
    assert (row["lead_id"], row["lead_name"], row["status"]) == ("K-1", "Zoë Müller", "ok")
    assert "attributes" not in row  # every column is read as a field
    wrong = leadq("qualify", str(src), "-q", "--map", "Firma=firm", env=env)
    assert wrong.returncode == 2
    assert "'firm'" in wrong.stderr
    assert "company_name" in wrong.stderr


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def test_csv_output_for_excel_runs_no_formula_and_keeps_accents_and_numbers(
    tmp_path: Path,
) -> None:
    src = tmp_path / "leads.csv"
    src.write_text(
        "lead_id,lead_name,company_name,industry,job_title,additional_context\n"
        '-2+3,"=HYPERLINK(""http://x"",""y"")",@SUM(A1),SaaS,VP Sales,"+cmd|\' /C calc\'!A0"\n'
        "L-2,Zoë Müller,Œuvre Café,SaaS,\t=1+1,-0.25\n",
        encoding="utf-8",
    )
    out = tmp_path / "out.csv"
    proc = leadq("qualify", str(src), "-q", "-o", str(out), "--excel")
    assert proc.returncode == 0, proc.stderr
    assert out.read_bytes().startswith(b"\xef\xbb\xbf")  # Excel reads it as UTF-8
    with out.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    hostile, accents = rows
    assert hostile["lead_name"] == '\'=HYPERLINK("http://x","y")'
    assert hostile["company_name"] == "'@SUM(A1)"
    assert hostile["lead_id"] == "'-2+3"
    assert (accents["lead_name"], accents["company_name"]) == ("Zoë Müller", "Œuvre Café")
    for row in rows:
        assert 0 <= float(row["overall_score"]) <= 1
        assert int(row["input_tokens"]) >= 0
        for cell in row.values():
            assert not cell.startswith(_FORMULA_START) or _is_number(cell), cell

    # The stored leads, exported: the same cells, no byte-order mark unless asked for.
    exported = tmp_path / "export.csv"
    assert leadq("export", "-o", str(exported)).returncode == 0
    assert not exported.read_bytes().startswith(b"\xef\xbb\xbf")
    with exported.open(encoding="utf-8", newline="") as fh:
        stored = list(csv.DictReader(fh))
    assert [r["company_name"] for r in stored] == ["'@SUM(A1)", "Œuvre Café"]
    assert all(
        not c.startswith(_FORMULA_START) or _is_number(c) for r in stored for c in r.values()
    )
    excel = tmp_path / "export-excel.csv"
    assert leadq("export", "-o", str(excel), "--excel").returncode == 0
    assert excel.read_bytes().startswith(b"\xef\xbb\xbfrow,")
    jsonl = tmp_path / "export.jsonl"
    assert leadq("export", "-o", str(jsonl), "--excel").returncode == 0
    assert jsonl.read_bytes().startswith(b'{"row": 1')  # JSONL never has one


def test_extra_columns_are_carried_into_every_output_and_a_long_note_is_cut(
    tmp_path: Path,
) -> None:
    src = tmp_path / "crm.csv"
    note = "Called twice; asked about SSO. " * 350  # about 10 kB: a CRM note, not garbage
    with src.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(
            [
                "Lead ID",
                "Lead Source",
                "Full Name",
                "Company",
                "Country",
                "Notes",
                "Score (HubSpot)",
            ]
        )
        writer.writerow(["C-1", "Webinar", "Ann Lee", "Acme", "DE", note, "72"])
        writer.writerow(["C-2", "=HYPERLINK(1)", "Bo Chan", "Beta", "", "short", "-3"])
    out = tmp_path / "out.csv"
    proc = leadq("qualify", str(src), "-q", "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "kept as attributes: Lead Source, Country, Score (HubSpot)" in _said(proc.stderr)
    assert "warning" not in proc.stderr
    with out.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        rows = list(reader)
    assert list(reader.fieldnames or ())[-3:] == ["Lead Source", "Country", "Score (HubSpot)"]
    assert [(r["Lead Source"], r["Country"], r["Score (HubSpot)"]) for r in rows] == [
        ("Webinar", "DE", "72"),
        ("'=HYPERLINK(1)", "", "-3"),  # through safe_cell, as every cell
    ]
    assert "text_truncated" in rows[0]["flags"].split(";")  # a result, not a row error
    assert "text_truncated" not in rows[1]["flags"].split(";")

    # JSONL on stdout (the same job, resumed): attributes as an object, as the file gave them.
    ann, bo = records(leadq("qualify", str(src), "-q").stdout)
    assert ann["attributes"] == {"Lead Source": "Webinar", "Country": "DE", "Score (HubSpot)": "72"}
    assert bo["attributes"] == {"Lead Source": "=HYPERLINK(1)", "Score (HubSpot)": "-3"}
    assert ann["status"] == "ok"
    assert "text_truncated" in ann["result"]["flags"]

    # Export: the stored leads' attributes, a JSON object in one CSV column.
    exported = tmp_path / "export.csv"
    assert leadq("export", "-o", str(exported)).returncode == 0
    with exported.open(encoding="utf-8", newline="") as fh:
        stored = {r["lead_id"]: r for r in csv.DictReader(fh)}
    assert json.loads(stored["C-1"]["attributes"]) == ann["attributes"]
    assert json.loads(stored["C-2"]["attributes"]) == bo["attributes"]
    by_id = {r["lead_id"]: r for r in records(leadq("export").stdout)}
    assert by_id["C-1"]["attributes"] == ann["attributes"]
