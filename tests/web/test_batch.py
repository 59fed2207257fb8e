"""The Batch view in Chromium: a file sent as a job, every row ending in a result or an error
as the job reports it, sorting and filtering, retrying the failed rows, and downloads in the
CLI's formats. Leaving and coming back, refusals and cancelling: test_jobs.py."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from playwright.sync_api import expect

from leadq.leadfiles import CSV_COLUMNS, safe_cell
from tests.conftest import EXAMPLES
from tests.support.llm import answer, lead_in
from tests.support.openai_server import Reply


def run_file(page, file=None) -> dict[str, str]:
    """Choose `file` (unless chosen), send it as a job, wait until every row is done; the
    progress box's data."""
    if file is not None:
        page.locator("#batch-file").set_input_files(file)
    page.get_by_role("button", name="Qualify file").click()
    page.locator("#batch-status[data-state='done']").wait_for()
    return page.locator("#batch-status").evaluate("e => ({...e.dataset})")


def test_example_file_every_row_ends_in_a_result_or_an_error(web_app, open_page) -> None:
    with EXAMPLES.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    ui = open_page(web_app())
    page = ui.goto("/#/batch")
    status = run_file(page, EXAMPLES)
    ui.shot("batch-done")

    table = page.locator("#batch-table tbody tr")
    assert table.count() == len(rows) == int(status["total"]) == 21
    states = table.evaluate_all("trs => trs.map(tr => tr.dataset.status)")
    assert set(states) <= {"ok", "error"}
    assert (int(status["ok"]), int(status["failed"])) == (states.count("ok"), states.count("error"))
    # Row 13 has no name: its error says so; every other row has a score and an action.
    failed = page.locator("#batch-table tbody tr[data-status='error']")
    assert failed.evaluate_all("trs => trs.map(tr => tr.dataset.row)") == ["13"]
    assert "lead_name" in failed.locator(".outcome").inner_text()
    assert page.locator("#batch-progress").evaluate("p => [p.value, p.max]") == [21, 21]

    # Sort by score, highest first; filter to the failures; filter by text.
    page.get_by_role("button", name="Score").click()
    scores = page.locator("#batch-table tbody tr[data-status='ok'] .mini-num").all_inner_texts()
    assert [int(s) for s in scores] == sorted((int(s) for s in scores), reverse=True)
    assert page.locator("th[aria-sort='descending']").inner_text().startswith("Score")
    page.get_by_label("Show").select_option("error")
    expect(table).to_have_count(1)  # the table redraws on the next frame
    page.get_by_label("Show").select_option("all")
    page.get_by_label("Filter").fill("ledgerloop")
    expect(table).to_have_count(1)
    assert table.inner_text().startswith("1\tPriya Raman")

    # Downloads: the CLI's CSV columns and JSONL records, one per input row, in row order.
    with page.expect_download() as got:
        page.get_by_role("button", name="Download CSV").click()
    data = Path(got.value.path()).read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")  # the byte-order mark Excel needs to read UTF-8
    out = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert out[0] == list(CSV_COLUMNS)
    assert len(out) == 22
    assert [r[0] for r in out[1:]] == [str(i) for i in range(1, 22)]
    with page.expect_download() as got:
        page.get_by_role("button", name="Download JSONL").click()
    with open(got.value.path(), encoding="utf-8") as fh:
        records = [json.loads(line) for line in fh]
    assert [r["status"] for r in records].count("error") == 1
    assert len(records) == 21
    assert records[0]["lead_id"] == "L-0001"
    assert records[0]["result"]["qualification_id"]


def test_failed_row_can_be_retried(
    web_app, llm_settings, openai_server, open_page, tmp_path
) -> None:
    # Bob's first call gets a 503 (no retries configured); his retry succeeds.
    seen: set[str] = set()

    def handler(body):
        name = lead_in(body)["lead_name"]
        if name == "Bob Ray" and name not in seen:
            seen.add(name)
            return Reply(status=503)
        return answer(body)

    openai_server.handler = handler
    leads = tmp_path / "leads.jsonl"
    leads.write_text(
        json.dumps({"lead_name": "Ann Lee", "company_name": "Acme", "crm_owner": "x"})
        + "\n"
        + json.dumps({"lead_name": "Bob Ray", "company_name": "Globex"})
        + "\n"
        + "{not json\n",
        encoding="utf-8",
    )
    ui = open_page(web_app(**llm_settings))
    page = ui.goto("/#/batch")
    page.locator("#batch-file").set_input_files(leads)
    expect(page.locator("#batch-warnings")).to_contain_text("kept as attributes: crm_owner")
    status = run_file(page)
    assert (status["ok"], status["failed"]) == ("1", "2")
    bob = page.locator("#batch-table tbody tr[data-row='2']")
    assert bob.get_attribute("data-status") == "error"
    assert "provider_unavailable" in bob.inner_text()
    unreadable = page.locator("#batch-table tbody tr[data-row='3']")
    assert "line 3 is not valid JSON" in unreadable.inner_text()
    assert "Retry failed" in bob.inner_text()
    assert "Retry failed" not in unreadable.inner_text()  # the same line would fail the same way
    ui.shot("batch-failed")

    page.get_by_role("button", name="Retry 1 failed row").click()
    page.locator("#batch-table tbody tr[data-row='2'][data-status='ok']").wait_for()
    page.locator("#batch-status[data-state='done']").wait_for()
    assert page.locator("#batch-status").evaluate("e => [e.dataset.ok, e.dataset.failed]") == [
        "2",
        "1",
    ]
    expect(page.locator("#batch-retry-all")).to_be_hidden()
    assert len(openai_server.requests) == 3  # Ann, Bob, Bob again


def test_csv_download_runs_no_formula_and_keeps_accents_and_numbers(
    web_app, open_page, tmp_path
) -> None:
    leads = tmp_path / "leads.csv"
    leads.write_text(
        "lead_id,lead_name,company_name,industry,job_title,additional_context\n"
        '-2+3,"=HYPERLINK(""http://x"",""y"")",@SUM(A1),SaaS,VP Sales,"+cmd|\' /C calc\'!A0"\n'
        "L-2,Zoë Müller,Œuvre Café,SaaS,VP Sales,-0.25\n",
        encoding="utf-8",
    )
    page = open_page(web_app()).goto("/#/batch")
    status = run_file(page, leads)
    assert (status["ok"], status["failed"]) == ("2", "0")
    with page.expect_download() as got:
        page.get_by_role("button", name="Download CSV").click()
    data = Path(got.value.path()).read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    hostile, accents = csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline=""))
    assert hostile["lead_name"] == '\'=HYPERLINK("http://x","y")'
    assert hostile["company_name"] == "'@SUM(A1)"
    assert hostile["lead_id"] == "'-2+3"
    assert (accents["lead_name"], accents["company_name"]) == ("Zoë Müller", "Œuvre Café")
    for row in (hostile, accents):
        assert 0 <= float(row["overall_score"]) <= 1
        assert all(safe_cell(cell) == cell for cell in row.values())  # nothing left to run
