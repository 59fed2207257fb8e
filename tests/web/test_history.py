"""The History view and a lead's page in Chromium: the list with its CRM ids, the CSV export,
erasure after a confirm step, a lead whose results retention purged, results stored with the
policy's old bracketed note; and the API key flow: asked for once on a 401, kept in session
storage, sent as X-API-Key."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

from playwright.sync_api import Request, expect
from sqlalchemy import select

from leadq.leadfiles import EXPORT_COLUMNS
from leadq.storage.models import Qualification
from leadq.storage.retention import purge

LEAD = {
    "lead_id": "CRM-7",
    "lead_name": "Ann Lee",
    "company_name": "Acme",
    "industry": "SaaS",
    "job_title": "VP Sales",
    "company_size": "200",
}


def qualify(page, lead: dict[str, str]) -> None:
    page.goto(page.url.split("#")[0] + "#/qualify")
    page.get_by_role("button", name="Clear").click()
    for name, value in lead.items():
        page.fill(f"#f-{name}", value)
    page.get_by_role("button", name="Qualify", exact=True).click()
    page.locator("#qualify-card .card[data-state='final']").wait_for()


def test_lead_qualified_twice_has_two_points_on_its_chart(web_app, open_page) -> None:
    ui = open_page(web_app())
    page = ui.goto()
    qualify(page, LEAD)
    qualify(page, {**LEAD, "engagement_history": "Requested a demo, budget approved"})
    qualify(page, {**LEAD, "lead_id": "CRM-8", "lead_name": "Bo Kim"})

    page.get_by_role("navigation").get_by_role("link", name="History").click()
    rows = page.locator("#history-table tbody tr")
    expect(rows).to_have_count(2)
    page.get_by_role("searchbox", name="Search").fill("crm-7")
    expect(rows).to_have_count(1)
    assert rows.locator("td.runs").inner_text() == "2"  # qualifications
    ui.shot("history")

    rows.get_by_role("link", name="Ann Lee").click()
    points = page.locator("#lead-chart svg.chart circle.point")
    expect(points).to_have_count(2)
    assert page.locator("#lead-chart polyline.line").count() == 1
    runs = page.locator("#lead-runs details.run")
    assert runs.count() == 2
    scores = [float(s) for s in points.evaluate_all("cs => cs.map(c => c.dataset.score)")]
    shown = runs.evaluate_all(
        "rs => rs.map(r => r.querySelector('[data-field=overall_score]').dataset.score)"
    )
    assert [round(s, 3) for s in scores] == [float(s) for s in reversed(shown)]  # newest first
    assert page.locator("#lead-title").inner_text() == "Ann Lee"
    ui.shot("lead")

    page.get_by_role("button", name="Qualify again").click()
    assert page.locator("#f-lead_id").input_value() == "CRM-7"


def test_api_key_is_asked_for_once_and_kept_for_the_session(web_app, open_page) -> None:
    ui = open_page(web_app(api_keys="k-right"), allow=(401,))
    sent: list[str | None] = []

    def keep_key(request: Request) -> None:
        if "/api/leads" in request.url:
            sent.append(request.headers.get("x-api-key"))

    ui.page.on("request", keep_key)
    page = ui.goto("/#/history")
    dialog = page.get_by_role("dialog", name="API key needed")
    dialog.get_by_label("API key").fill("k-wrong")
    dialog.get_by_role("button", name="Use this key").click()
    expect(dialog).to_contain_text("did not accept")
    ui.shot("api-key")
    dialog.get_by_label("API key").fill("k-right")
    dialog.get_by_role("button", name="Use this key").click()
    expect(page.locator("#history-count")).to_contain_text("No stored leads")
    assert page.evaluate("sessionStorage.getItem('leadq.apiKey')") == "k-right"

    qualify(page, LEAD)  # streams with the stored key, no second prompt
    page.reload()
    page.get_by_role("navigation").get_by_role("link", name="History").click()
    expect(page.locator("#history-table tbody tr")).to_have_count(1)
    assert not dialog.is_visible()
    keyed = [k for k in sent if k is not None]
    assert keyed[0] == "k-wrong"
    assert set(keyed[1:]) == {"k-right"}
    assert len(keyed) >= 4
    assert sent.count(None) <= 2  # the first history request (the health check needs none)


def enter_key(page, key: str) -> None:
    dialog = page.get_by_role("dialog", name="API key needed")
    dialog.get_by_label("API key").fill(key)
    dialog.get_by_role("button", name="Use this key").click()


def test_history_shows_the_crm_id_and_exports_every_lead_with_the_key(web_app, open_page) -> None:
    ui = open_page(web_app(api_keys="k-1"), allow=(401,))
    key = {"X-API-Key": "k-1"}
    with ui.app.client(headers=key) as api:
        stored = api.post(
            "/api/leads/qualify-batch",
            json=[LEAD, {**LEAD, "lead_id": "=CRM-8", "lead_name": "Zoë Müller"}],
        ).json()["data"]
        api.post(f"/api/leads/{stored[0]['lead_ref']}/outcome", json={"outcome": "won"})
    page = ui.goto("/#/history")
    enter_key(page, "k-1")
    rows = page.locator("#history-table tbody tr")
    expect(rows).to_have_count(2)
    assert sorted(rows.locator("td.crm-id").all_inner_texts()) == ["=CRM-8", "CRM-7"]

    with page.expect_download() as got:
        page.get_by_role("button", name="Export CSV").click()
    expect(page.locator("#history-status")).to_contain_text("Exported")
    data = Path(got.value.path()).read_bytes()
    assert got.value.suggested_filename.endswith(".csv")
    assert data.startswith(b"\xef\xbb\xbf")  # Excel reads it as UTF-8
    out = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert list(out[0]) == list(EXPORT_COLUMNS)
    assert [(r["lead_id"], r["lead_name"], r["outcome"]) for r in out] == [
        ("CRM-7", "Ann Lee", "won"),
        ("'=CRM-8", "Zoë Müller", ""),  # a cell a spreadsheet would run is neutralised
    ]
    assert [float(r["overall_score"]) for r in out] == [s["overall_score"] for s in stored]


def test_delete_asks_first_then_erases_the_lead(web_app, open_page) -> None:
    ui = open_page(web_app())
    with ui.app.client() as api:
        stored = api.post(
            "/api/leads/qualify-batch", json=[LEAD, {**LEAD, "lead_id": "CRM-8", "lead_name": "Bo"}]
        ).json()["data"]
    erased: list[str] = []
    ui.page.on("request", lambda r: erased.append(r.url) if r.method == "DELETE" else None)
    page = ui.goto("/#/history")
    rows = page.locator("#history-table tbody tr")
    expect(rows).to_have_count(2)
    confirm = page.get_by_role("dialog", name="Delete Ann Lee?")

    page.get_by_role("button", name="Delete Ann Lee").click()
    expect(confirm).to_be_visible()
    expect(confirm).to_contain_text("cannot be undone")
    ui.shot("delete-confirm")
    confirm.get_by_role("button", name="Cancel").click()
    expect(confirm).to_be_hidden()
    assert erased == []
    expect(rows).to_have_count(2)

    page.get_by_role("button", name="Delete Ann Lee").click()
    confirm.get_by_role("button", name="Delete").click()
    expect(page.locator("#history-status")).to_have_text("Deleted Ann Lee.")
    expect(rows).to_have_count(1)
    expect(page.locator("#history-count")).to_have_text("1 stored lead")
    ann = stored[0]["lead_ref"]
    assert erased == [f"{ui.app.url}/api/leads/{ann}"]
    with ui.app.client() as api:
        assert api.get(f"/api/leads/{ann}").status_code == 404

    # From a lead's page too, back to the list once it is gone.
    page.get_by_role("link", name="Bo").click()
    page.get_by_role("button", name="Delete this lead").click()
    page.get_by_role("dialog", name="Delete Bo?").get_by_role("button", name="Delete").click()
    expect(page.locator("#view-history")).to_be_visible()
    expect(page.locator("#history-count")).to_contain_text("No stored leads match")


def test_a_purged_lead_shows_no_stored_result_never_null(web_app, open_page) -> None:
    ui = open_page(web_app())
    with ui.app.client() as api:
        ref = api.post("/api/leads/qualify", json=LEAD).json()["data"]["lead_ref"]
        api.post(f"/api/leads/{ref}/outcome", json={"outcome": "no_response"})
    # Retention removes every qualification; the lead stays for its outcome.
    purge(ui.app.app.state.store, datetime.now(UTC) + timedelta(days=1))
    with ui.app.client() as api:
        lead = api.get(f"/api/leads/{ref}").json()["data"]
    assert (lead["latest_score"], lead["qualifications"]) == (None, [])

    page = ui.goto("/#/history")
    row = page.locator(f"#history-table tbody tr[data-lead='{ref}']")
    expect(row.locator("td.score")).to_have_text("no stored result")
    page.get_by_role("link", name="Ann Lee").click()
    expect(page.locator("#lead-runs")).to_contain_text("No stored result")
    expect(page.locator("#lead-meta")).to_contain_text("no stored result")
    expect(page.locator("#lead-outcome-now")).to_contain_text("No response")
    shown = page.locator("main").inner_text()
    for word in ("null", "undefined", "NaN"):
        assert word not in shown
    ui.shot("purged-lead")
    page.get_by_role("button", name="Qualify again").click()  # from who the lead is
    assert page.locator("#f-lead_id").input_value() == "CRM-7"
    assert page.locator("#f-company_name").input_value() == "Acme"


LEGACY_NOTE = (
    "Overall score 0.80 falls in the immediate_outreach band. [leadq: action set to "
    "manual_review (missing industry); the model proposed immediate_outreach]"
)


def test_a_result_stored_with_the_old_bracketed_note_reads_plainly(web_app, open_page) -> None:
    ui = open_page(web_app())
    with ui.app.client() as api:
        ref = api.post("/api/leads/qualify", json=LEAD).json()["data"]["lead_ref"]
    with ui.app.app.state.store.session.begin() as s:  # as an earlier version stored it
        q = s.scalars(select(Qualification)).one()
        q.result = {**q.result, "reasoning_for_action": LEGACY_NOTE}
    page = ui.goto(f"/#/leads/{ref}")
    why = page.locator("#lead-runs .reasoning_for_action p")
    expect(why).to_have_text(
        "Overall score 0.80 falls in the immediate_outreach band. Action set to manual_review "
        "because critical information is missing (industry)."
    )  # the rules engine answered: no model to name
    given = page.locator("#lead-runs dl.input")
    assert given.locator("dt").first.text_content() == "Name"  # the input, field by field
    assert given.locator("dd").first.text_content() == "Ann Lee"
