"""The Qualify view in Chromium: the card fills in from the stream's partial events before the
final result, flags are shown, and validation messages sit next to their fields."""

from __future__ import annotations

import json

from leadq.core.lead import LEAD_FIELDS, LeadInput
from leadq.core.result import Action, Flag
from tests.support.llm import GOOD, answer
from tests.support.openai_server import Reply

# Records, in order, every change of the card's state and of any score bar's value. Mutation
# records keep their order and old values however they are batched, so this needs no timing.
WATCH_CARD = """() => {
  window.__cardLog = [];
  const card = document.querySelector('#qualify-card .card');
  new MutationObserver((records) => {
    for (const r of records) {
      window.__cardLog.push({attr: r.attributeName, field: r.target.dataset.field || null,
                             old: r.oldValue});
    }
  }).observe(card, {subtree: true, attributes: true, attributeOldValue: true,
                    attributeFilter: ['data-state', 'data-score']});
}"""


def fill(page, lead: dict[str, str]) -> None:
    for name, value in lead.items():
        page.fill(f"#f-{name}", value)


def test_card_shows_partial_scores_before_the_final_result(
    web_app, llm_settings, openai_server, open_page
) -> None:
    # The model's answer streams in ~20-character chunks, so partial events carry scores.
    openai_server.handler = lambda body: answer(body, chunk_chars=20, chunk_delay=0.02)
    ui = open_page(web_app(**llm_settings))
    page = ui.goto()
    page.evaluate(WATCH_CARD)
    page.get_by_role("textbox", name="Name", exact=True).fill("John Doe")
    page.get_by_role("textbox", name="Company", exact=True).fill("Acme Corp")
    page.get_by_role("textbox", name="Industry").fill("SaaS")
    page.get_by_role("textbox", name="Job title").fill("VP Sales")
    page.get_by_role("textbox", name="Company size").fill("100-500")
    page.get_by_role("button", name="Qualify", exact=True).click()
    card = page.locator("#qualify-card .card[data-state='final']")
    card.wait_for()
    ui.shot("qualify-final")

    log = page.evaluate("window.__cardLog")
    # Each data-state record's `old` is the state it left: idle -> streaming -> partial -> final.
    left = [r["old"] for r in log if r["attr"] == "data-state"]
    assert left == ["idle", "streaming", "partial"]
    to_partial = next(i for i, r in enumerate(log) if r["old"] == "streaming")
    to_final = next(i for i, r in enumerate(log) if r["old"] == "partial")
    bars_while_partial = {r["field"] for r in log[to_partial:to_final] if r["attr"] == "data-score"}
    assert "fit_score" in bars_while_partial  # a score bar was drawn from a partial event

    overall = round(0.35 * 0.8 + 0.25 * 0.7 + 0.2 * 0.6 + 0.2 * 0.9, 3)
    assert (
        card.locator("[data-field='overall_score']").get_attribute("data-score") == f"{overall:.3f}"
    )
    assert card.locator(".action-slot .badge").inner_text() == "Immediate outreach"
    assert card.locator(".reasoning p").inner_text() == GOOD["reasoning"]
    assert card.locator(".key_insights li").all_inner_texts() == GOOD["key_insights"]
    assert card.locator(".risk_factors li").all_inner_texts() == GOOD["risk_factors"]
    assert card.locator(".follow_up_questions li").all_inner_texts() == GOOD["follow_up_questions"]
    assert "openai · test-model" in card.locator(".small-print").inner_text()
    card.get_by_role("button", name="Copy message").click()
    page.get_by_text("Copied").wait_for()
    assert page.evaluate("navigator.clipboard.readText()") == GOOD["suggested_messaging"]


def test_flags_are_visible_on_the_card(web_app, llm_settings, openai_server, open_page) -> None:
    # Out of range and contradicting the bands: clamped, and the action adjusted.
    bad = {**GOOD, "fit_score": 1.7, "recommended_action": "not_qualified"}
    openai_server.handler = lambda body: answer(body, bad)
    ui = open_page(web_app(**llm_settings))
    page = ui.goto()
    fill(
        page,
        {
            "lead_name": "Ann Lee",
            "company_name": "Acme",
            "industry": "SaaS",
            "job_title": "CTO",
            "company_size": "200",
        },
    )
    page.get_by_role("button", name="Qualify", exact=True).click()
    card = page.locator("#qualify-card .card[data-state='final']")
    card.wait_for()
    flags = card.locator(".flag")
    assert sorted(flags.evaluate_all("els => els.map(e => e.dataset.flag)")) == [
        "action_adjusted",
        "score_clamped",
    ]
    assert flags.first.is_visible()
    ui.shot("flags")


def test_a_stream_error_event_shows_its_code_and_message_on_the_card(
    web_app, llm_settings, openai_server, open_page
) -> None:
    openai_server.handler = lambda body: Reply(status=500, body={"message": "boom"})
    ui = open_page(web_app(**llm_settings))
    page = ui.goto()
    fill(page, {"lead_name": "Ann Lee", "company_name": "Acme"})
    page.get_by_role("button", name="Qualify", exact=True).click()
    card = page.locator("#qualify-card .card[data-state='error']")
    card.wait_for()
    assert card.get_by_text("code: provider_unavailable").is_visible()
    assert "worth retrying" in card.inner_text()
    assert card.get_by_role("button", name="Try again").is_visible()
    assert page.locator("#qualify-status").inner_text() == "The qualification failed."


def test_validation_messages_sit_next_to_their_fields(web_app, open_page) -> None:
    ui = open_page(web_app(), allow=(422,))
    page = ui.goto()
    page.get_by_role("button", name="Qualify", exact=True).click()
    name_error = page.locator(".field[data-field='lead_name'] .field-error")
    assert name_error.inner_text() == "Name is required."
    assert page.locator("#f-lead_name").get_attribute("aria-invalid") == "true"
    assert page.evaluate("document.activeElement.id") == "f-lead_name"
    assert not any("qualify-stream" in url for url in ui.urls)  # checked before sending

    # The server is the judge of the rest: its 422 lands next to the email field.
    fill(page, {"lead_name": "Ann Lee", "company_name": "Acme", "email": "ann@localhost"})
    page.get_by_role("button", name="Qualify", exact=True).click()
    email_error = page.locator(".field[data-field='email'] .field-error")
    email_error.wait_for()
    assert "not an email address" in email_error.inner_text()
    assert name_error.is_hidden()
    described = page.locator("#f-email").get_attribute("aria-describedby") or ""
    assert email_error.get_attribute("id") in described.split()
    assert any("qualify-stream" in url for url in ui.urls)
    ui.shot("validation")


def test_ui_lists_match_the_schemas(web_app, open_page) -> None:
    """fields.js lists exactly LeadInput's fields, with its length limits and required marks;
    every action and flag has a label."""
    ui = open_page(web_app())
    page = ui.goto()
    columns, form = page.evaluate(
        "import('./web/fields.js').then(m => [m.LEAD_COLUMNS, m.FORM_FIELDS])"
    )
    assert columns == list(LEAD_FIELDS)
    assert sorted(f["name"] for f in form) == sorted(LEAD_FIELDS)
    for field in form:
        info = LeadInput.model_fields[field["name"]]
        limit = next(m.max_length for m in info.metadata if hasattr(m, "max_length"))
        assert (field["max"], field.get("required", False)) == (limit, info.is_required())
        assert page.locator(f"label[for='f-{field['name']}']").count() == 1
    actions, flags = page.evaluate(
        "import('./web/dom.js').then(m => [Object.keys(m.ACTIONS), Object.keys(m.FLAGS)])"
    )
    assert sorted(actions) == sorted(a.value for a in Action)
    assert sorted(flags) == sorted(f.value for f in Flag)


def test_narrow_screen_and_keyboard_only(web_app, open_page) -> None:
    ui = open_page(web_app(), width=360)
    page = ui.goto()
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.get_by_role("textbox", name="Name", exact=True).focus()
    page.keyboard.type("Mia Chen")
    page.keyboard.press("Tab")
    page.keyboard.type("Globex")
    page.keyboard.press("Enter")  # submits the form
    page.locator("#qualify-card .card[data-state='final']").wait_for()
    for view in ("#/qualify", "#/batch", "#/history"):
        page.goto(ui.app.url + "/" + view)
        page.wait_for_selector(f"#view-{view[2:]}:not([hidden])")
        width, viewport = page.evaluate("[document.documentElement.scrollWidth, innerWidth]")
        assert width <= viewport, f"{view} is wider than a 360 px screen"
    ui.shot("narrow-history")
    result = json.loads(page.evaluate("JSON.stringify(sessionStorage)"))
    assert result == {}  # no key was needed, none stored
