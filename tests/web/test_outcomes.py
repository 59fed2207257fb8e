"""Outcomes in Chromium: recorded from a lead's page with POST api/leads/{id}/outcome, shown
on the lead with their dates, and in the History list as a column with a filter."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from playwright.sync_api import expect

from tests.web.test_history import LEAD


def test_outcome_buttons_record_it_and_the_history_lists_and_filters_by_it(
    web_app, open_page
) -> None:
    ui = open_page(web_app())
    with ui.app.client() as api:
        stored = api.post(
            "/api/leads/qualify-batch",
            json=[LEAD, {**LEAD, "lead_id": "CRM-8", "lead_name": "Bo Kim"}],
        ).json()["data"]
    ann = stored[0]["lead_ref"]
    page = ui.goto(f"/#/leads/{ann}")
    box = page.get_by_role("region", name="Outcome")
    expect(box.locator("#lead-outcome-now")).to_have_text("No outcome recorded yet.")

    won_on = (datetime.now(UTC) - timedelta(days=10)).date().isoformat()
    box.get_by_label("On").fill(won_on)
    box.get_by_role("button", name="Won").click()
    expect(box.locator("#lead-outcome-status")).to_contain_text("Recorded: Won")
    expect(box.locator("#lead-outcome-now")).to_have_attribute("data-outcome", "won")
    assert box.get_by_role("button", name="Won").get_attribute("aria-pressed") == "true"
    ui.shot("outcome-won")

    box.get_by_role("button", name="Lost").click()  # a later outcome supersedes it
    expect(box.locator("#lead-outcome-now")).to_have_attribute("data-outcome", "lost")
    assert box.locator("#lead-outcome-list li").inner_text().startswith("Before: Won")
    assert box.get_by_role("button", name="Won").get_attribute("aria-pressed") == "false"
    with ui.app.client() as api:
        outcomes = api.get(f"/api/leads/{ann}").json()["data"]["outcomes"]
    assert [(o["outcome"], o["date"]) for o in outcomes] == [("lost", won_on), ("won", won_on)]

    page.get_by_role("link", name="All stored leads").click()
    rows = page.locator("#history-table tbody tr")
    expect(rows).to_have_count(2)
    shown = {
        r.locator("td").first.inner_text(): r.locator("td.outcome-cell").get_attribute(
            "data-outcome"
        )
        for r in rows.all()
    }
    assert shown == {"Ann Lee": "lost", "Bo Kim": ""}
    assert page.locator(f"tr[data-lead='{ann}'] td.outcome-cell").inner_text().startswith("Lost")

    outcome = page.get_by_role("combobox", name="Outcome")
    outcome.select_option(label="Lost")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Ann Lee")
    outcome.select_option(label="None recorded yet")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Bo Kim")
    outcome.select_option(label="Won")
    expect(page.locator("#history-count")).to_contain_text("No stored leads match")
    assert any("outcome=lost" in url for url in ui.urls)  # filtered by the API, not the page
