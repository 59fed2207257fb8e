"""`/api/models` over real HTTP, on the app's own SQLite file: models trained on synthetic data
with a known effect are stored through the registry, then listed, shown, activated (a
no-signal one only with `force`) and deactivated over HTTP; an active model scores the leads
qualified after it; and a training on the stored leads with outcomes runs in the background."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from leadq.api.routes import models as routes
from leadq.learning.report import NO_SIGNAL_RULE
from leadq.learning.train import Trained, train
from leadq.storage import conversion_models as registry
from tests.api.conftest import LiveApp
from tests.learning.synthetic import rows, training_set

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
