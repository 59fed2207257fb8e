"""The Model view in Chromium: the versions and a model's report with its calibration and lift
charts drawn by the page, "no signal" said plainly, activate (a no-signal model refused with
the server's message until confirmed), deactivate and roll back; a training on a file chosen in
the page, followed to its end; and the result card's probability and factors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from leadq.learning.report import NO_SIGNAL_RULE
from leadq.learning.train import Trained, train
from leadq.storage import conversion_models as registry
from tests.api.conftest import LiveApp
from tests.api.test_models import _until
from tests.learning.synthetic import rows, training_set, write_csv
from tests.web.test_history import LEAD, qualify

TRAINING = 60_000  # ms a training in the page may take (not a timing check: a deadline)


@pytest.fixture(scope="module")
def signal() -> Trained:
    return train(training_set(300))


@pytest.fixture(scope="module")
def no_signal() -> Trained:
    return train(training_set(600, shuffled=True))


def _save(app: LiveApp, trained: Trained, **report: Any) -> int:
    """Store `trained`, its report with `report`'s keys added."""
    store = app.app.state.store
    with store.writing(), store.session.begin() as s:
        return registry.save_model(
            s,
            report={**trained.report, **report},
            scorer=trained.scorer,
            model=trained.model,
            fingerprint="0",
        )


def test_versions_report_charts_activate_deactivate_and_roll_back(
    web_app: Any, open_page: Any, signal: Trained, no_signal: Trained
) -> None:
    ui = open_page(web_app(), allow=(409,))
    # The no-signal one as if trained on leads an LLM qualified: its report has the LLM's AUC.
    llm = {"auc": 0.61, "leads": 120}
    good, flat = _save(ui.app, signal), _save(ui.app, no_signal, llm_overall_score=llm)
    page = ui.goto("/#/models")
    rows_ = page.locator("#models-table tbody tr")
    expect(rows_).to_have_count(2)
    assert rows_.evaluate_all("rs => rs.map(r => Number(r.dataset.model))") == [flat, good]
    expect(page.locator("#models-active")).to_have_text(
        "No model is active: results carry no probability of converting."
    )
    # The newest is shown first: its report says "no signal" plainly.
    report = page.locator("#model-report")
    expect(report).to_have_attribute("data-model", str(flat))
    expect(report.locator("#model-no-signal")).to_contain_text("No signal.")
    expect(report.locator("#model-no-signal")).to_contain_text(NO_SIGNAL_RULE)
    expect(report.locator("#model-figures")).to_contain_text(
        "LLM overall scoreAUC 0.610 the 120 leads an LLM qualified"
    )

    page.get_by_role("button", name=f"Report of model {good}").click()
    expect(report).to_have_attribute("data-model", str(good))
    assert report.locator("#model-no-signal").count() == 0
    m = signal.report["model"]
    figures = report.locator("#model-figures").inner_text()
    assert f"{m['auc']:.3f}" in figures
    assert f"95% interval {m['auc_ci95'][0]:.3f} to {m['auc_ci95'][1]:.3f}" in figures
    assert f"{m['brier']:.4f}" in figures
    assert f"AUC {signal.report['naive_bayes']['auc']:.3f}" in figures
    assert f"AUC {signal.report['rules_overall_score']['auc']:.3f}" in figures
    assert "LLM overall score" not in figures  # no LLM qualified its leads
    # The charts, drawn by the page from the report's own numbers.
    bins = [row for row in signal.report["calibration_table"] if row["leads"]]
    points = report.locator("svg[data-chart='calibration'] circle.point.held-out[data-bin]")
    expect(points).to_have_count(len(bins))
    assert points.evaluate_all("cs => cs.map(c => Number(c.dataset.observed))") == [
        row["observed"] for row in bins
    ]
    bars = report.locator("svg[data-chart='lift'] rect.bar-decile")
    expect(bars).to_have_count(10)
    assert bars.evaluate_all("bs => bs.map(b => Number(b.dataset.lift))") == [
        d["lift"] for d in signal.report["deciles"]
    ]
    assert report.locator("#model-factors li").first.inner_text().startswith("Channel is A")
    expect(report.locator("#model-drift")).to_have_attribute("data-status", "not_enough_outcomes")
    expect(report.locator("#model-bands tbody tr")).to_have_count(4)
    ui.shot("model-report")

    # A no-signal model: refused with the server's message, until confirmed.
    page.get_by_role("button", name=f"Activate: model {flat}").click()
    status = page.locator("#models-status")
    expect(status).to_contain_text(f"not activated: model {flat}'s report says no signal")
    with ui.app.client() as api:
        assert not any(x["active"] for x in api.get("/api/models").json()["data"])
    page.get_by_role("button", name="Activate anyway").click()
    expect(page.locator(f"#models-table tr[data-model='{flat}']")).to_have_attribute(
        "data-active", "true"
    )
    # Roll back to the earlier model.
    page.get_by_role("button", name=f"Roll back to it: model {good}").click()
    expect(page.locator(f"#models-table tr[data-model='{good}']")).to_have_attribute(
        "data-active", "true"
    )
    expect(page.locator("#models-active")).to_have_attribute("data-active", str(good))
    with ui.app.client() as api:
        listed = api.get("/api/models").json()["data"]
    assert [(x["id"], x["active"]) for x in listed] == [(flat, False), (good, True)]
    ui.shot("model-rolled-back")

    page.get_by_role("button", name=f"Deactivate model {good}").click()
    expect(page.locator("#models-active")).to_have_attribute("data-active", "")
    expect(status).to_have_text(f"Model {good} deactivated: new results carry no probability.")
    with ui.app.client() as api:
        assert not any(x["active"] for x in api.get("/api/models").json()["data"])


def test_a_training_on_a_file_chosen_in_the_page(
    web_app: Any, open_page: Any, tmp_path: Path
) -> None:
    ui = open_page(web_app())
    past = write_csv(tmp_path / "past leads.csv", rows(300))
    page = ui.goto("/#/models")
    expect(page.locator("#models-empty")).to_be_visible()
    page.locator("#train-file").set_input_files(str(past))
    expect(page.locator("#train-status")).to_have_text("past leads.csv: 300 rows, 6 columns.")
    page.get_by_label("Outcome column").select_option("Result")
    page.get_by_label("Closed Won (").check()
    page.get_by_role("button", name="Train", exact=True).click()
    status = page.locator("#train-status")
    expect(status).to_contain_text("stored (signal)", timeout=TRAINING)
    with ui.app.client() as api:
        (model,) = api.get("/api/models").json()["data"]
    assert status.inner_text() == (
        f"Model {model['id']} stored (signal). It is not in use until you activate it."
    )
    assert model["source"] == "past leads.csv"
    assert model["label"] == "Result in ['Closed Won']"
    assert model["active"] is False
    expect(page.locator("#model-report")).to_have_attribute("data-model", str(model["id"]))
    expect(page.locator("#models-table tbody tr")).to_have_count(1)
    ui.shot("model-trained")


def test_the_result_card_shows_the_probability_and_its_factors(
    web_app: Any, open_page: Any, signal: Trained
) -> None:
    ui = open_page(web_app())
    good = _save(ui.app, signal)
    page = ui.goto()
    qualify(page, LEAD)  # no model active: nothing about a probability
    card = page.locator("#qualify-card .card")
    expect(card.locator("section.probability")).to_be_hidden()

    with ui.app.client() as api:
        assert api.post(f"/api/models/{good}/activate").status_code == 200
        # A lead with the attribute the model learned from, stored with its result, once
        # the server has picked the model up (it looks every few seconds).
        lead = {**LEAD, "lead_id": "CRM-9", "attributes": {"Channel": "A", "Colour": "red"}}
        stored = _until(
            lambda: api.post("/api/leads/qualify", json=lead, params={"cache": "false"}).json(),
            lambda r: r["data"]["model_version"] == good,
        )["data"]
    assert stored["model_version"] == good

    qualify(page, {**LEAD, "lead_id": "CRM-10", "lead_name": "Bo Kim"})
    box = card.locator("section.probability")
    expect(box).to_be_visible()
    p = float(box.get_attribute("data-probability") or "nan")
    assert box.locator(".chance-value").inner_text().startswith(f"{round(p * 100)}%")
    assert f"by conversion model {good}." in box.locator(".chance-value").inner_text()
    ui.shot("card-probability")

    page.goto(f"{ui.app.url}/#/leads/{stored['lead_ref']}")
    run = page.locator("#lead-runs details.run").first
    box = run.locator("section.probability")
    expect(box).to_be_visible()
    assert box.get_attribute("data-probability") == str(stored["conversion_probability"])
    raises = box.locator(".factors-up li").all_inner_texts()
    lowers = box.locator(".factors-down li").all_inner_texts()
    assert raises + lowers == stored["factors"]
    assert "Channel is A: +" in raises[0]
    assert all(": -" in text for text in lowers)


def test_the_model_view_fits_a_narrow_screen(web_app: Any, open_page: Any, signal: Trained) -> None:
    ui = open_page(web_app(), width=360)
    _save(ui.app, signal)
    page = ui.goto("/#/models")
    expect(page.locator("#model-report svg[data-chart='lift']")).to_be_visible()
    width, viewport = page.evaluate("[document.documentElement.scrollWidth, innerWidth]")
    assert width <= viewport, "the Model view is wider than a 360 px screen"
    ui.shot("narrow-model")
