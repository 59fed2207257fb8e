"""`/api/models` over real HTTP, on the app's own SQLite file: models trained on synthetic data
with a known effect are stored through the registry, then listed, shown, activated (a
no-signal one only with `force`) and deactivated over HTTP; an active model scores the leads
qualified after it; and a training on the stored leads with outcomes runs in the background."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from leadq.api.routes import models as routes
from leadq.learning.report import NO_SIGNAL_RULE
from leadq.learning.train import Trained, train
from leadq.storage import conversion_models as registry
from leadq.storage.models import ConversionModel
from tests.api.conftest import LiveApp
from tests.learning.synthetic import rows, training_set
from tests.support.llm import GOOD, answer, lead_in, scripted_llm_settings
from tests.support.openai_server import ScriptedServer

DEADLINE = 30.0  # seconds to wait for what happens in the background (not a timing check)


@pytest.fixture(scope="module")
def signal() -> Trained:
    return train(training_set(300))


@pytest.fixture(scope="module")
def no_signal() -> Trained:
    trained = train(training_set(600, shuffled=True))
    assert trained.report["verdict"] == "no signal"
    return trained


def _save(app: LiveApp, trained: Trained) -> int:
    """Store a trained model in the app's database, as `leadq train` does."""
    store = app.app.state.store
    with store.writing(), store.session.begin() as s:
        return registry.save_model(
            s,
            report=trained.report,
            scorer=trained.scorer,
            model=trained.model,
            fingerprint="f" * 64,
        )


def _until(get: Callable[[], Any], done: Callable[[Any], bool]) -> Any:
    """`get()` again until `done` says so, or DEADLINE passes (the last answer either way)."""
    end = time.monotonic() + DEADLINE
    while True:
        got = get()
        if done(got) or time.monotonic() > end:
            return got
        time.sleep(0.1)


def _lead(name: str, channel: str) -> dict[str, Any]:
    return {
        "lead_name": name,
        "company_name": f"{name} Corp",
        "attributes": {"Channel": channel, "Colour": "red", "Visits": "3"},
    }


def test_list_show_activate_deactivate(
    live_app: Any, tmp_path: Path, signal: Trained, no_signal: Trained
) -> None:
    app = live_app(provider="rules", data_dir=tmp_path)
    good, flat = _save(app, signal), _save(app, no_signal)
    with app.client() as api:
        listed = api.get("/api/models")
        shown = api.get(f"/api/models/{good}")
        refused = api.post(f"/api/models/{flat}/activate")
        after_refusal = api.get("/api/models").json()["data"]
        forced = api.post(f"/api/models/{flat}/activate", params={"force": "true"})
        back = api.post(f"/api/models/{good}/activate")
        after_rollback = api.get("/api/models").json()["data"]
        missing = api.get("/api/models/999")
        missing_activate = api.post("/api/models/999/activate")
        deactivated = api.post("/api/models/deactivate")
        again = api.post("/api/models/deactivate")
        after_deactivation = api.get("/api/models").json()["data"]

    assert listed.status_code == 200
    models = listed.json()["data"]
    assert [m["id"] for m in models] == [flat, good]  # the newest first
    assert [m["verdict"] for m in models] == ["no signal", "signal"]
    assert [m["active"] for m in models] == [False, False]
    assert models[1]["rows"] == 300
    assert models[1]["auc"] == signal.report["model"]["auc"]
    assert models[1]["auc_ci95"] == list(signal.report["model"]["auc_ci95"])
    assert "report" not in models[1]

    assert shown.status_code == 200
    detail = shown.json()["data"]
    assert detail["report"]["strongest_factors"] == signal.report["strongest_factors"]
    assert detail["report"]["deciles"] == signal.report["deciles"]
    assert not {"model", "scorer"} & set(detail)  # no model bytes, no weights

    assert refused.status_code == 409
    error = refused.json()["error"]
    assert error["code"] == "conflict"
    assert NO_SIGNAL_RULE in error["message"]
    assert "force=true" in error["message"]
    assert not any(m["active"] for m in after_refusal)

    assert forced.status_code == 200
    assert forced.json()["data"]["id"] == flat
    assert forced.json()["data"]["active"] is True
    assert back.status_code == 200
    assert [(m["id"], m["active"]) for m in after_rollback] == [(flat, False), (good, True)]
    assert after_rollback[1]["activated_at"] is not None

    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
    assert missing_activate.status_code == 404

    assert deactivated.json() == {"status": "success", "deactivated": good}
    assert again.json() == {"status": "success", "deactivated": None}
    assert not any(m["active"] for m in after_deactivation)


def test_a_lead_qualified_after_activation_carries_the_models_probability(
    live_app: Any, tmp_path: Path, signal: Trained
) -> None:
    app = live_app(provider="rules", data_dir=tmp_path)
    good = _save(app, signal)
    with app.client() as api:

        def qualify(lead: dict[str, Any]) -> dict[str, Any]:
            answer = api.post("/api/leads/qualify", json=lead, params={"cache": "false"})
            assert answer.status_code == 200, answer.text
            return answer.json()["data"]  # type: ignore[no-any-return]

        before = qualify(_lead("Ann", "A"))
        assert api.post(f"/api/models/{good}/activate").status_code == 200
        ann = _until(lambda: qualify(_lead("Ann", "A")), lambda r: r["model_version"] == good)
        bob = qualify(_lead("Bob", "B"))
        assert api.post("/api/models/deactivate").status_code == 200
        later = _until(lambda: qualify(_lead("Ann", "A")), lambda r: r["model_version"] is None)

    assert (before["conversion_probability"], before["model_version"]) == (None, None)
    assert ann["model_version"] == bob["model_version"] == good
    # Channel A converts 70% of the time in the training data, B 20%.
    assert ann["conversion_probability"] > bob["conversion_probability"] + 0.3
    assert (later["conversion_probability"], later["model_version"]) == (None, None)


def test_the_api_key_guards_every_model_route(
    live_app: Any, tmp_path: Path, signal: Trained
) -> None:
    app = live_app(provider="rules", data_dir=tmp_path, api_keys="k-one,k-two")
    good = _save(app, signal)
    with app.client() as api:
        anonymous = [
            api.get("/api/models"),
            api.get(f"/api/models/{good}"),
            api.post(f"/api/models/{good}/activate"),
            api.post("/api/models/deactivate"),
            api.post("/api/models/train", json={"source": "stored"}),
            api.get("/api/models/train/abc"),
        ]
        wrong = api.post(f"/api/models/{good}/activate", headers={"X-API-Key": "k-three"})
        listed_anonymously = api.get("/api/models", headers={"X-API-Key": "k-three"})
        keyed = api.post(f"/api/models/{good}/activate", headers={"X-API-Key": "k-two"})

    assert [r.status_code for r in anonymous] == [401] * 6
    assert anonymous[0].json()["error"]["code"] == "unauthorized"
    assert wrong.status_code == listed_anonymously.status_code == 401
    assert keyed.status_code == 200
    assert keyed.json()["data"]["active"] is True


def _training(api: httpx.Client) -> dict[str, Any]:
    started = api.post("/api/models/train", json={"source": "stored"})
    assert started.status_code == 202, started.text
    first = started.json()["data"]
    assert first["state"] == "running"
    return _until(  # type: ignore[no-any-return]
        lambda: api.get(f"/api/models/train/{first['training_id']}").json()["data"],
        lambda t: t["state"] != "running",
    )


def test_training_on_too_few_stored_outcomes_fails_saying_how_many_more(
    live_app: Any, tmp_path: Path
) -> None:
    app = live_app(provider="rules", data_dir=tmp_path)
    with app.client() as api:
        failed = _training(api)
        unknown = api.get("/api/models/train/0123abcd")
        wrong_source = api.post("/api/models/train", json={"source": "somewhere"})
        listed = api.get("/api/models").json()["data"]

    assert failed["state"] == "failed"
    assert "50 more converted lead(s) (have 0, need 50)" in failed["error"]
    assert failed["model_id"] is None
    assert unknown.status_code == 404
    assert wrong_source.status_code == 422
    assert listed == []


def test_training_on_stored_leads_with_outcomes_stores_an_inactive_model(
    live_app: Any, tmp_path: Path
) -> None:
    app = live_app(provider="rules", data_dir=tmp_path)
    past = rows(300)
    leads = [
        {**_lead(r["lead_name"], r["Channel"]), "lead_id": f"CRM-{i}"} for i, r in enumerate(past)
    ]
    outcomes = [
        {"lead_id": f"CRM-{i}", "outcome": "won" if r["Result"] == "Closed Won" else "lost"}
        for i, r in enumerate(past)
    ]
    with app.client() as api:
        assert api.post("/api/leads/qualify-batch", json=leads).status_code == 200
        recorded = api.post("/api/outcomes", json=outcomes).json()
        assert recorded["recorded"] == 300, recorded
        done = _training(api)
        listed = api.get("/api/models").json()["data"]
        shown = api.get(f"/api/models/{done['model_id']}").json()["data"]

    assert done["state"] == "done", done
    assert done["error"] is None
    assert done["verdict"] == "signal"
    assert [(m["id"], m["rows"], m["active"]) for m in listed] == [(done["model_id"], 300, False)]
    assert shown["source"] == "stored leads with outcomes"
    assert shown["report"]["strongest_factors"][0].startswith("Channel is A: raises the odds")


def test_training_without_scikit_learn_is_501_saying_what_to_install(
    live_app: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(routes, "_learn_installed", lambda: False)
    app = live_app(provider="rules", data_dir=tmp_path)
    with app.client() as api:
        answer = api.post("/api/models/train", json={"source": "stored"})
    assert answer.status_code == 501
    assert "pip install 'leadq[learn]'" in answer.json()["error"]["message"]


def test_the_server_starts_without_importing_scikit_learn(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from leadq.api.app import create_app\n"
        "from leadq.config import Settings\n"
        f"create_app(Settings(provider='rules', data_dir={str(tmp_path)!r}))\n"
        "print(sorted(m for m in ('sklearn', 'numpy', 'scipy') if m in sys.modules))\n"
    )
    proc = subprocess.run(  # this interpreter, a fixed script
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


# ---- the action by probability (LEADQ_ACTION_BASIS) ------------------------------------------

COMPLETE = {  # every critical fact: the action is a band's, not a manual review
    "lead_name": "Cy Doe",
    "company_name": "Cy Corp",
    "industry": "SaaS",
    "company_size": "100-500",
    "annual_revenue": "$10M",
    "job_title": "VP Sales",
    "attributes": {"Channel": "B", "Colour": "red", "Visits": "3"},
}


def _with_bands(trained: Trained, bands: list[list[Any]]) -> Trained:
    """The same model with other action bands by probability (as its report proposes them)."""
    return Trained(trained.report, {**trained.scorer, "bands": bands}, trained.model)


def test_the_action_follows_the_probability_bands_only_with_basis_probability(
    live_app: Any, tmp_path: Path, signal: Trained
) -> None:
    by_score = live_app(provider="rules", data_dir=tmp_path)
    # Every probability is in the outreach band: the score's band for this lead is lower.
    everyone_outreach = _save(by_score, _with_bands(signal, [[0.0, "immediate_outreach"]]))
    by_probability = live_app(provider="rules", data_dir=tmp_path, action_basis="probability")

    def qualify(app: LiveApp, lead: dict[str, Any]) -> dict[str, Any]:
        with app.client() as api:
            answer = api.post("/api/leads/qualify", json=lead, params={"cache": "false"})
        assert answer.status_code == 200, answer.text
        return answer.json()["data"]  # type: ignore[no-any-return]

    before = qualify(by_probability, COMPLETE)  # no model active: nothing changes
    with by_score.client() as api:
        assert api.post(f"/api/models/{everyone_outreach}/activate").status_code == 200
    scored = _until(lambda: qualify(by_score, COMPLETE), lambda r: r["model_version"] is not None)
    moved = _until(
        lambda: qualify(by_probability, COMPLETE), lambda r: r["model_version"] is not None
    )
    incomplete = qualify(
        by_probability, {**COMPLETE, "lead_name": "Di Doe", "industry": None, "job_title": None}
    )

    assert before["recommended_action"] == scored["recommended_action"] != "immediate_outreach"
    assert before["action_basis"] == scored["action_basis"] == "score"
    assert scored["conversion_probability"] == moved["conversion_probability"]
    assert scored["overall_score"] == moved["overall_score"]  # the score keeps its meaning
    assert moved["recommended_action"] == "immediate_outreach"
    assert moved["action_basis"] == "probability"
    assert "action_adjusted" in moved["flags"]
    assert "action_adjusted" not in scored["flags"]
    assert (
        f"conversion model {everyone_outreach}'s immediate_outreach band"
        in (moved["reasoning_for_action"])
    )
    assert scored["recommended_action"] in moved["reasoning_for_action"]
    # Missing critical facts: the policy's manual review stays, whatever the probability.
    assert incomplete["recommended_action"] == "manual_review"
    assert incomplete["action_basis"] == "score"
    with by_probability.client() as api:
        stored = api.get(f"/api/leads/{moved['lead_ref']}").json()["data"]
    assert stored["latest_action"] == "immediate_outreach"  # what the store and lists show


def test_a_model_trained_before_bands_leaves_the_action_to_the_score(
    live_app: Any, tmp_path: Path, signal: Trained
) -> None:
    app = live_app(provider="rules", data_dir=tmp_path, action_basis="probability")
    old = {k: v for k, v in signal.scorer.items() if k != "bands"}
    model = _save(app, Trained(signal.report, old, signal.model))
    with app.client() as api:
        assert api.post(f"/api/models/{model}/activate").status_code == 200
        result = _until(
            lambda: api.post("/api/leads/qualify", json=COMPLETE, params={"cache": "false"}).json()[
                "data"
            ],
            lambda r: r["model_version"] is not None,
        )
    assert result["action_basis"] == "score"
    assert result["conversion_probability"] is not None


# ---- drift -----------------------------------------------------------------------------------


def _scored_leads(api: httpx.Client, model: int, channel: str, n: int) -> list[dict[str, Any]]:
    """`n` new leads of `channel`, each qualified once the model scores them."""
    leads = [
        {**_lead(f"{channel} Person {i}", channel), "lead_id": f"{channel}-{i}"} for i in range(n)
    ]
    first = _until(
        lambda: api.post("/api/leads/qualify", json=leads[0], params={"cache": "false"}).json(),
        lambda r: r["data"]["model_version"] == model,
    )["data"]
    rest = api.post("/api/leads/qualify-batch", json=leads[1:], params={"cache": "false"})
    results = [first, *(r for r in rest.json()["data"])]
    assert all(r["model_version"] == model for r in results)
    return results


def test_drift_compares_predicted_with_observed_in_stats_and_the_model(
    live_app: Any, tmp_path: Path, signal: Trained
) -> None:
    app = live_app(provider="rules", data_dir=tmp_path)
    model = _save(app, signal)
    with app.client() as api:
        none_active = api.get("/api/stats").json()["data"]["model"]
        assert api.post(f"/api/models/{model}/activate").status_code == 200
        a_leads = _scored_leads(api, model, "A", 40)  # the model says about 70% each
        predicted = sum(r["conversion_probability"] for r in a_leads) / 40
        few = api.post("/api/outcomes", json=[{"lead_id": "A-0", "outcome": "won"}]).json()
        assert few["recorded"] == 1
        early = api.get(f"/api/models/{model}").json()["data"]["drift"]
        # As many won as it predicted: the model is current.
        won = round(predicted * 40)
        as_predicted = [
            {"lead_id": f"A-{i}", "outcome": "won" if i < won else "lost"} for i in range(40)
        ]
        assert api.post("/api/outcomes", json=as_predicted).json()["recorded"] == 40
        current = api.get("/api/stats").json()["data"]["model"]
        # Every one of them lost: far below what it predicted.
        every_lost = [{"lead_id": f"A-{i}", "outcome": "lost"} for i in range(40)]
        assert api.post("/api/outcomes", json=every_lost).json()["recorded"] == 40
        stale = api.get("/api/stats").json()["data"]["model"]
        shown = api.get(f"/api/models/{model}").json()["data"]["drift"]

    assert none_active is None
    assert early["status"] == "not_enough_outcomes"
    assert (early["outcomes"], early["won"]) == (1, 1)
    assert current["id"] == model
    assert current["drift"]["status"] == "current", current["drift"]
    assert current["drift"]["outcomes"] == 40
    assert current["drift"]["won"] == won
    assert abs(current["drift"]["predicted"] - predicted) < 1e-3
    lo, hi = current["drift"]["expected_ci95"]
    assert lo < current["drift"]["observed"] < hi
    assert stale["drift"]["status"] == "out_of_date"
    assert stale["drift"]["observed"] == 0.0
    assert "0.0% of the 40 leads it scored converted" in stale["drift"]["reasons"][0]
    assert shown == stale["drift"]
    assert sum(row["leads"] for row in shown["calibration_table"]) == 40


def test_a_model_older_than_the_limit_is_out_of_date(
    live_app: Any, tmp_path: Path, signal: Trained
) -> None:
    app = live_app(provider="rules", data_dir=tmp_path, model_max_age_days=1)
    model = _save(app, signal)
    store = app.app.state.store
    with store.writing(), store.session.begin() as s:
        found = s.get(ConversionModel, model)
        assert found is not None
        found.created_at = datetime.now(UTC) - timedelta(days=3)
    with app.client() as api:
        drift = api.get(f"/api/models/{model}").json()["data"]["drift"]
    assert drift["status"] == "out_of_date"
    assert drift["reasons"] == ["trained 3 days ago, more than LEADQ_MODEL_MAX_AGE_DAYS (1)"]


# ---- training on an uploaded file, status in the database -----------------------------------


def _csv(data: list[dict[str, str]]) -> str:
    lines = [",".join(data[0])]
    lines += [",".join(row.values()) for row in data]
    return "\n".join(lines) + "\n"


def test_training_on_an_uploaded_file_answers_from_any_process(
    live_app: Any, tmp_path: Path
) -> None:
    one = live_app(provider="rules", data_dir=tmp_path)
    other = live_app(provider="rules", data_dir=tmp_path)  # another worker, the same database
    body = {
        "source": "file",
        "filename": "past leads.csv",
        "content": _csv(rows(300)),
        "label": "Result",
        "positive": ["Closed Won"],
    }
    with one.client() as api:
        started = api.post("/api/models/train", json=body)
        second = api.post("/api/models/train", json=body)
    assert started.status_code == 202, started.text
    training = started.json()["data"]
    assert training["state"] == "running"
    assert training["source"] == "past leads.csv"
    with other.client() as api:
        done = _until(
            lambda: api.get(f"/api/models/train/{training['training_id']}").json()["data"],
            lambda t: t["state"] != "running",
        )
        shown = api.get(f"/api/models/{done['model_id']}").json()["data"]
    assert second.status_code == 409  # one at a time, in any process
    assert done["state"] == "done", done
    assert done["verdict"] == "signal"
    assert shown["source"] == "past leads.csv"
    assert shown["label"] == "Result in ['Closed Won']"
    assert shown["rows"] == 300
    assert shown["active"] is False
    assert shown["report"]["probability_bands"]["bands"][0]["action"] == "immediate_outreach"


def test_a_file_without_the_label_or_a_part_missing_fails_saying_which(
    live_app: Any, tmp_path: Path
) -> None:
    app = live_app(provider="rules", data_dir=tmp_path)
    body = {
        "source": "file",
        "filename": "leads.csv",
        "content": _csv(rows(100)),
        "label": "Outcome Stage",
        "positive": ["Closed Won"],
    }
    with app.client() as api:
        started = api.post("/api/models/train", json=body)
        failed = _until(
            lambda: api.get(f"/api/models/train/{started.json()['data']['training_id']}").json()[
                "data"
            ],
            lambda t: t["state"] != "running",
        )
        headless = _until(
            lambda: api.get(
                "/api/models/train/"
                + api.post(
                    "/api/models/train",
                    json={**body, "filename": "../../etc/crm.csv", "content": ",,\n1,2\n"},
                ).json()["data"]["training_id"]
            ).json()["data"],
            lambda t: t["state"] != "running",
        )
        no_label = api.post("/api/models/train", json={**body, "label": " "})
        no_content = api.post(
            "/api/models/train", json={k: v for k, v in body.items() if k != "content"}
        )
    assert failed["state"] == "failed"
    assert failed["error"] == "leads.csv: no row has a value in the label column 'Outcome Stage'"
    # The reader's own message, of the file by its name (never a path of the caller's).
    assert headless["state"] == "failed"
    assert headless["source"] == "crm.csv"
    assert headless["error"] == "crm.csv: empty file or no header row"
    assert no_label.status_code == 422
    assert "label" in no_label.text
    assert no_content.status_code == 422
    assert "content" in no_content.text


def test_a_training_whose_process_ended_reads_as_failed_and_blocks_nothing(
    live_app: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from leadq.storage import trainings

    app = live_app(provider="rules", data_dir=tmp_path)
    store = app.app.state.store
    trainings.start(store, "deadbeef", "stored leads with outcomes")  # no thread beats for it
    with app.client() as api:
        blocked = api.post("/api/models/train", json={"source": "stored"})
        monkeypatch.setattr(trainings, "STALE_AFTER", 0.0)
        time.sleep(0.01)
        ended = api.get("/api/models/train/deadbeef").json()["data"]
        started = api.post("/api/models/train", json={"source": "stored"})
    assert blocked.status_code == 409
    assert "deadbeef" in blocked.json()["error"]["message"]
    assert ended["state"] == "failed"
    assert ended["error"] == trainings.STOPPED
    assert started.status_code == 202


def test_a_cached_result_is_scored_by_the_model_active_now(
    live_app: Any, tmp_path: Path, signal: Trained, openai_server: ScriptedServer
) -> None:
    """A cache hit comes back with the active model's probability, not the one (or none) it
    was stored with; after deactivation, with none."""
    openai_server.handler = lambda body: answer(body)
    app = live_app(**scripted_llm_settings(openai_server.url), data_dir=tmp_path)
    good = _save(app, signal)
    with app.client() as api:

        def qualify() -> dict[str, Any]:
            answer_ = api.post("/api/leads/qualify", json=_lead("Ann", "A"))
            assert answer_.status_code == 200, answer_.text
            return answer_.json()["data"]  # type: ignore[no-any-return]

        first = qualify()
        assert api.post(f"/api/models/{good}/activate").status_code == 200
        scored = _until(qualify, lambda r: r["model_version"] == good)
        assert api.post("/api/models/deactivate").status_code == 200
        unscored = _until(qualify, lambda r: r["model_version"] is None)

    assert (first["cached"], first["model_version"]) == (False, None)
    assert scored["cached"]
    assert scored["conversion_probability"] > 0.5  # channel A converts 70% of the time
    assert (unscored["cached"], unscored["conversion_probability"]) == (True, None)
    assert unscored["factors"] is None
    assert len(openai_server.requests) == 1  # every later answer came from the cache


def test_an_llm_qualified_history_trains_on_the_llms_scores_and_scoring_reads_them(
    live_app: Any, tmp_path: Path, openai_server: ScriptedServer
) -> None:
    """Leads alike in every field but the LLM's judgement (it rates the "Hot" ones 0.9 fit,
    the others 0.2), and the hot ones mostly convert: trained on the stored history, the model
    learns from the LLM's scores, and a lead qualified later is scored with the LLM's own."""

    def judged(body: dict[str, Any]) -> Any:
        fit = 0.9 if lead_in(body)["lead_name"].startswith("Hot") else 0.2
        return answer(body, {**GOOD, "fit_score": fit})

    openai_server.handler = judged
    app = live_app(**scripted_llm_settings(openai_server.url), data_dir=tmp_path)
    same = {"company_name": "Same Corp", "industry": "SaaS", "job_title": "Manager"}
    leads = [
        {**same, "lead_name": f"{'Hot' if i % 2 else 'Cold'} {i}", "lead_id": f"CRM-{i}"}
        for i in range(240)
    ]
    # 80% of the hot (odd) leads convert, 20% of the others.
    won = {lead["lead_id"] for i, lead in enumerate(leads) if i % 10 in (0, 3, 5, 7, 9)}
    outcomes = [
        {"lead_id": lead["lead_id"], "outcome": "won" if lead["lead_id"] in won else "lost"}
        for lead in leads
    ]
    with app.client() as api:
        for start in range(0, len(leads), 80):
            batch = api.post("/api/leads/qualify-batch", json=leads[start : start + 80])
            assert batch.json()["succeeded"] == 80, batch.text
        assert api.post("/api/outcomes", json=outcomes).json()["recorded"] == 240
        done = _training(api)
        assert done["state"] == "done", done
        model = done["model_id"]
        shown = api.get(f"/api/models/{model}").json()["data"]
        assert api.post(f"/api/models/{model}/activate").status_code == 200

        def qualify(name: str) -> dict[str, Any]:
            answer_ = api.post("/api/leads/qualify", json={**same, "lead_name": name})
            assert answer_.status_code == 200, answer_.text
            return answer_.json()["data"]  # type: ignore[no-any-return]

        hot = _until(lambda: qualify("Hot new"), lambda r: r["model_version"] == model)
        cold = qualify("Cold new")

    report = shown["report"]
    assert report["llm_overall_score"]["leads"] == report["tested_rows"]
    assert report["llm_overall_score"]["auc"] > 0.7
    assert report["strongest_factors"][0].startswith("LLM ")
    assert hot["conversion_probability"] > cold["conversion_probability"] + 0.3
    assert any(f.startswith("LLM ") and ": +" in f for f in hot["factors"])
    assert any(f.startswith("LLM ") and ": -" in f for f in cold["factors"])
