"""The Batch view's jobs in Chromium: a file sent as a job keeps running on the server when the
page is closed, and the page opened again shows its progress, then its results; another
browser finds it in the job list; a file the server refuses shows the server's message,
naming the byte; a job cancelled from the page stops, its rows not run saying so."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.api.conftest import LiveApp
from tests.support.llm import answer, lead_in, scripted_llm_settings
from tests.support.openai_server import Reply, ScriptedServer
from tests.web.conftest import Watched


class Gate:
    """The scripted provider answers at once, except for the leads named in `held`, whose
    calls wait until the gate opens: a job that stays mid-way as long as a test needs."""

    def __init__(self, held: set[str]) -> None:
        self.held = held
        self.opened = threading.Event()

    async def handler(self, body: dict[str, Any]) -> Reply:
        if lead_in(body)["lead_name"] in self.held:
            await asyncio.to_thread(self.opened.wait)  # set from the test's thread
        return answer(body)


@pytest.fixture
def gated(openai_server: ScriptedServer) -> Iterator[Callable[[set[str]], Gate]]:
    """`gated(held)`: the scripted provider behind a `Gate`, opened after the test."""
    gates: list[Gate] = []

    def make(held: set[str]) -> Gate:
        gate = Gate(held)
        gates.append(gate)
        openai_server.handler = gate.handler
        return gate

    yield make
    for gate in gates:
        gate.opened.set()


def job_app(
    web_app: Callable[..., LiveApp], openai_server: ScriptedServer, **settings: Any
) -> LiveApp:
    """The app on the scripted provider, a job run one chunk at a time."""
    return web_app(
        **scripted_llm_settings(openai_server.url, timeout=60),
        job_slots=1,
        max_concurrency=4,
        **settings,
    )


def leads_file(tmp_path: Path, n: int) -> Path:
    path = tmp_path / "leads.jsonl"
    path.write_text(
        "".join(
            json.dumps({"lead_id": f"L-{i}", "lead_name": f"Lead {i}", "company_name": f"Co {i}"})
            + "\n"
            for i in range(1, n + 1)
        ),
        encoding="utf-8",
    )
    return path


def status(page: Page) -> dict[str, str]:
    return page.locator("#batch-status").evaluate("e => ({...e.dataset})")  # type: ignore[no-any-return]


def test_a_job_runs_on_when_the_page_closes_and_the_page_finds_it_again(
    web_app: Callable[..., LiveApp],
    openai_server: ScriptedServer,
    gated: Callable[[set[str]], Gate],
    open_page: Callable[..., Watched],
    tmp_path: Path,
) -> None:
    gate = gated({"Lead 9", "Lead 10", "Lead 11", "Lead 12"})  # the third chunk waits
    app = job_app(web_app, openai_server, job_chunk_rows=4)
    ui = open_page(app)
    page = ui.goto("/#/batch")
    page.locator("#batch-file").set_input_files(leads_file(tmp_path, 12))
    page.get_by_role("button", name="Qualify file").click()

    # Progress while it runs: 8 of 12 done, those 8 rows in the table, the job listed.
    page.locator("#batch-status[data-state='running'][data-done='8']").wait_for()
    job_id = status(page)["job"]
    expect(page.locator("#batch-counts")).to_contain_text(
        "8 of 12 rows done · 8 succeeded · 0 failed"
    )
    expect(page.locator("#batch-table tbody tr")).to_have_count(8)
    listed = page.locator(f"#batch-jobs tr[data-job='{job_id}']")
    expect(listed).to_contain_text("Running")
    assert page.url.endswith(f"#/batch/{job_id}")
    ui.shot("job-running")
    context = page.context
    page.close()

    # The page is gone; the job is not.
    job = httpx.get(f"{app.url}/api/jobs/{job_id}").json()["data"]
    assert (job["status"], job["done"], job["total"]) == ("running", 8, 12)

    # The same browser comes back to #/batch: the page opens the job it showed.
    again = Watched(context.new_page(), app, ui.shots)
    back = again.goto("/#/batch")
    back.locator("#batch-status[data-state='running'][data-done='8']").wait_for()
    assert status(back)["job"] == job_id
    expect(back.locator("#batch-jobs tr[data-job]")).to_have_count(1)
    gate.opened.set()
    back.locator("#batch-status[data-state='done']").wait_for()
    expect(back.locator("#batch-table tbody tr[data-status='ok']")).to_have_count(12)
    expect(back.locator(f"#batch-jobs tr[data-job='{job_id}']")).to_contain_text("Done")
    again.shot("job-done")
    again.check(set())

    # Another browser has no memory of it: it finds the job in the list and opens it.
    other = open_page(app)
    page = other.goto("/#/batch")
    expect(page.locator("#batch-job")).to_be_hidden()
    page.locator(f"#batch-jobs tr[data-job='{job_id}'] a").click()
    page.locator("#batch-status[data-state='done']").wait_for()
    rows = page.locator("#batch-table tbody tr")
    expect(rows).to_have_count(12)
    assert rows.evaluate_all("trs => trs.map(tr => tr.dataset.row)") == [
        str(i) for i in range(1, 13)
    ]
    assert rows.nth(11).inner_text().startswith("12\tLead 12\tCo 12")
    assert len(openai_server.requests) == 12  # no lead asked twice


def test_a_file_the_server_refuses_shows_its_message_naming_the_byte(
    web_app: Callable[..., LiveApp], open_page: Callable[..., Watched], tmp_path: Path
) -> None:
    app = web_app(max_file_bytes=2048)
    ui = open_page(app, allow=(413, 422))
    page = ui.goto("/#/batch")
    warnings = page.locator("#batch-warnings")

    # UTF-16 whose header holds a lone surrogate: the browser reads it with a stand-in
    # character; the server refuses it and says where.
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"\xff\xfe\x00\xd8" + "x,company_name\nAnn,Acme\n".encode("utf-16-le"))
    page.locator("#batch-file").set_input_files(bad)
    page.get_by_role("button", name="Qualify file").click()
    expect(warnings.get_by_role("alert")).to_have_text(
        "bad.csv: the header cannot be decoded (byte offset 2)"
    )

    # Larger than this server takes.
    big = tmp_path / "big.csv"
    big.write_text(
        "lead_name,company_name\n" + "".join(f"Lead {i},Company {i}\n" for i in range(200)),
        encoding="utf-8",
    )
    page.locator("#batch-file").set_input_files(big)
    page.get_by_role("button", name="Qualify file").click()
    expect(warnings.get_by_role("alert")).to_have_text(
        "request body is larger than 2048 bytes (LEADQ_MAX_FILE_BYTES)"
    )
    ui.shot("job-refused")
    expect(page.locator("#batch-jobs-box")).to_be_hidden()
    assert httpx.get(f"{app.url}/api/jobs").json()["data"] == []  # neither made a job


def test_cancel_stops_the_job_and_its_rows_not_run_say_so(
    web_app: Callable[..., LiveApp],
    openai_server: ScriptedServer,
    gated: Callable[[set[str]], Gate],
    open_page: Callable[..., Watched],
    tmp_path: Path,
) -> None:
    gated({f"Lead {i}" for i in range(5, 11)})  # rows 5-10 wait
    app = job_app(web_app, openai_server, job_chunk_rows=2, job_lease=3)
    ui = open_page(app)
    page = ui.goto("/#/batch")
    page.locator("#batch-file").set_input_files(leads_file(tmp_path, 10))
    page.get_by_role("button", name="Qualify file").click()
    page.locator("#batch-status[data-state='running'][data-done='4']").wait_for()
    job_id = status(page)["job"]

    page.get_by_role("button", name="Cancel job").click()
    page.locator("#batch-status[data-state='cancelled']").wait_for()
    expect(page.get_by_role("button", name="Cancel job")).to_be_hidden()
    rows = page.locator("#batch-table tbody tr")
    expect(rows).to_have_count(10)  # every row has its outcome: a result, or not run
    expect(page.locator("#batch-counts")).to_contain_text("cancelled: 6 rows not run")
    states = rows.evaluate_all("trs => trs.map(tr => tr.dataset.status)")
    assert states == ["ok"] * 4 + ["cancelled"] * 6
    assert "Not run: the job was cancelled" in rows.nth(4).inner_text()
    page.get_by_label("Show").select_option("cancelled")
    expect(rows).to_have_count(6)
    ui.shot("job-cancelled")
    job = httpx.get(f"{app.url}/api/jobs/{job_id}").json()["data"]
    assert (job["status"], job["done"]) == ("cancelled", 4)
