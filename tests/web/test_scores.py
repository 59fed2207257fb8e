"""Scores in Chromium: one 0-100 scale on every view (cards, bars, the history list, the chart,
the batch table) while downloads keep the API's 0-1; what the scores mean, with the server's
own weights; and the policy's note in plain words, naming no model on the rules engine."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

from playwright.sync_api import expect

from tests.support.llm import GOOD, answer
from tests.web.test_history import LEAD, qualify

# 0.749 everywhere: overall 0.749, in the Nurture band (below 0.75). Shown as 74, never 75.
EDGE = {
    **GOOD,
    **dict.fromkeys(
        ("fit_score", "budget_score", "urgency_score", "authority_score", "confidence"), 0.749
    ),
    "recommended_action": "qualified_nurture",
}


def test_every_view_shows_scores_on_one_0_to_100_scale(
    web_app, llm_settings, openai_server, open_page, tmp_path: Path
) -> None:
    openai_server.handler = lambda body: answer(body, EDGE)
    ui = open_page(web_app(**llm_settings))
    page = ui.goto()
    qualify(page, LEAD)
    card = page.locator("#qualify-card .card")
    assert card.locator(".bar-value").all_inner_texts() == ["74"] * 6
    assert card.locator(".action-slot .badge").inner_text() == "Nurture"
    assert card.locator("[data-field='overall_score']").get_attribute("aria-valuenow") == "74"
    expect(page.locator("#qualify-status")).to_have_text("Done: Nurture, overall 74 of 100.")

    page.get_by_role("navigation").get_by_role("link", name="History").click()
    row = page.locator("#history-table tbody tr")
    expect(row.locator(".mini-num")).to_have_text("74")
    row.get_by_role("link", name="Ann Lee").click()
    chart = page.locator("#lead-chart svg.chart")
    expect(chart.locator("circle.point")).to_have_count(1)
    ticks = chart.locator("text.tick").evaluate_all("ts => ts.map((t) => t.textContent)")
    assert ticks[:5] == ["0", "35", "55", "75", "100"]
    assert "74" in (chart.locator("circle.point title").text_content() or "")
    assert "74" in chart.get_attribute("aria-label")
    run = page.locator("#lead-runs details.run").first
    assert run.locator("summary .mini-num").inner_text() == "74"

    leads = tmp_path / "leads.jsonl"
    leads.write_text(json.dumps({**LEAD, "lead_id": "CRM-9"}) + "\n", encoding="utf-8")
    page.get_by_role("navigation").get_by_role("link", name="Batch").click()
    page.locator("#batch-file").set_input_files(leads)
    page.get_by_role("button", name="Qualify file").click()
    page.locator("#batch-status[data-state='done']").wait_for()
    cells = page.locator("#batch-table tbody tr td")
    assert (cells.nth(3).inner_text(), cells.nth(5).inner_text()) == ("74", "74")
    with page.expect_download() as got:
        page.get_by_role("button", name="Download CSV").click()
    text = Path(got.value.path()).read_bytes().decode("utf-8-sig")
    [out] = csv.DictReader(io.StringIO(text, newline=""))
    assert (out["overall_score"], out["confidence"]) == ("0.749", "0.749")  # the API's scale


def test_what_the_scores_mean_gives_this_servers_weights(web_app, open_page) -> None:
    ui = open_page(web_app(score_weights={"fit": 2, "budget": 1, "urgency": 1, "authority": 0}))
    page = ui.goto()
    qualify(page, LEAD)
    help_box = page.locator("#qualify-card .score-help")
    expect(help_box).to_be_visible()
    assert not help_box.locator("dl").is_visible()  # collapsed until asked for
    help_box.get_by_text("What the scores mean").click()
    weights = help_box.locator(".weights")
    expect(weights).to_have_attribute("data-source", "server")
    expect(weights).to_contain_text("50% fit + 25% budget + 25% urgency + 0% authority")
    expect(weights).to_contain_text("this server's weights")
    for term in ("Fit", "Budget", "Urgency", "Authority", "Confidence"):
        expect(help_box.locator("dt", has_text=term)).to_be_visible()
    profile = help_box.locator(".seller-profile")  # what fit is scored against, read-only
    expect(profile).to_contain_text("Seller profile ")
    expect(profile).to_contain_text("B2B software")
    expect(profile).to_contain_text("leadq profile check FILE")
    ui.shot("score-help")


def test_the_card_names_the_seller_profile_it_was_scored_under(
    web_app, llm_settings, openai_server, open_page
) -> None:
    openai_server.handler = lambda body: answer(body)
    ui = open_page(web_app(**llm_settings))
    page = ui.goto()
    qualify(page, LEAD)
    version = page.locator("#qualify-card .score-help .seller-profile")
    expect(version).to_have_attribute("data-version", re.compile(r"^[0-9a-f]{12}$"))
    small_print = page.locator("#qualify-card .card")
    expect(small_print).to_contain_text(f"profile {version.get_attribute('data-version')}")


def test_the_rules_engines_override_note_is_plain_and_names_no_model(web_app, open_page) -> None:
    page = open_page(web_app()).goto()
    qualify(page, {k: v for k, v in LEAD.items() if k != "industry"})
    card = page.locator("#qualify-card .card")
    assert card.locator(".action-slot .badge").inner_text() == "Manual review"
    why = card.locator(".reasoning_for_action p").inner_text()
    assert "Action set to manual_review because critical information is missing (industry)." in why
    assert "model" not in why
    assert "[" not in why
