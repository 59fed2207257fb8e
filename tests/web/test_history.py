"""The History view and a lead's page in Chromium, and the API key flow: asked for once on a
401, kept in session storage, sent as X-API-Key."""

from __future__ import annotations

from playwright.sync_api import Request, expect

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
    assert rows.locator("td").nth(4).inner_text() == "2"  # qualifications
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
