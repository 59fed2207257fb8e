"""`leadq train` and `leadq model ...` in real subprocesses, on synthetic past leads with a
known effect, each test with its own SQLite file: a model is stored, activated (or refused
when it has no signal) and then scores what `leadq qualify` returns."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

from leadq.config import Settings
from leadq.storage import trainings
from leadq.storage.store import Store
from tests.cli.test_app import leadq, records
from tests.learning.synthetic import rows, write_csv


def _qualified(tmp_path: Path) -> list[dict[str, Any]]:
    new = tmp_path / "new.csv"
    new.write_text(
        "lead_name,company_name,Channel,Colour,Visits\nAnn,Acme,A,red,3\nBob,Beta,B,red,3\n",
        encoding="utf-8",
    )
    proc = leadq("qualify", str(new), "-q", "--new")
    assert proc.returncode == 0, proc.stderr
    return [r["result"] for r in records(proc.stdout)]


def test_a_trained_active_model_scores_every_qualified_lead(tmp_path: Path) -> None:
    before = _qualified(tmp_path)
    assert [r["conversion_probability"] for r in before] == [None, None]
    past = write_csv(tmp_path / "past.csv", rows(500))
    report = tmp_path / "report.json"
    proc = leadq(
        "train", str(past), "--label", "Result", "--positive", "closed won",
        "--activate", "--report", str(report),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "verdict: signal" in proc.stdout
    assert "Channel is A: raises the odds" in proc.stdout
    assert "model 1 is active" in proc.stderr
    saved = json.loads(report.read_text(encoding="utf-8"))
    assert saved["rows"] == 500
    assert "Result" not in json.dumps(saved["strongest_factors"])  # the label is no feature
    ann, bob = _qualified(tmp_path)
    assert ann["model_version"] == bob["model_version"] == 1
    assert ann["conversion_probability"] > bob["conversion_probability"] + 0.3
    assert ann["factors"][0].startswith("Channel is A: +")
    assert any(f.startswith("Channel is B: -") for f in bob["factors"])
    listed = [json.loads(line) for line in leadq("model", "list").stdout.splitlines()]
    assert [(m["id"], m["active"], m["verdict"]) for m in listed] == [(1, True, "signal")]
    shown = leadq("model", "show", "1")
    assert shown.returncode == 0, shown.stderr
    assert "action bands by probability" in shown.stdout
    assert "since trained: not enough outcomes, 0 won/lost outcome(s)" in shown.stdout
    assert leadq("model", "deactivate").returncode == 0
    assert [r["conversion_probability"] for r in _qualified(tmp_path)] == [None, None]


def test_no_signal_is_not_activated_without_force(tmp_path: Path) -> None:
    data = rows(400)
    outcomes = [r["Result"] for r in data]
    random.Random(5).shuffle(outcomes)
    for row, outcome in zip(data, outcomes, strict=True):
        row["Result"] = outcome
    past = write_csv(tmp_path / "past.csv", data)
    proc = leadq("train", str(past), "--label", "Result", "--positive", "Closed Won", "--activate")
    assert proc.returncode == 1
    assert "verdict: no signal" in proc.stdout
    assert "not activated" in proc.stderr
    refused = leadq("model", "activate", "1")
    assert refused.returncode == 1
    assert "no signal" in refused.stderr
    assert json.loads(leadq("model", "list").stdout)["active"] is False
    assert leadq("model", "activate", "1", "--force").returncode == 0
    assert json.loads(leadq("model", "list").stdout)["active"] is True


def test_too_little_data_is_refused_saying_how_much_more(tmp_path: Path) -> None:
    past = write_csv(tmp_path / "past.csv", rows(60))
    proc = leadq("train", str(past), "--label", "Result", "--positive", "Closed Won")
    assert proc.returncode == 2
    assert "not enough data to train" in proc.stderr
    assert "more converted lead" in proc.stderr
    stored = leadq("train")  # the stored leads: none has an outcome yet
    assert stored.returncode == 2
    assert "50 more converted lead(s) (have 0, need 50)" in stored.stderr


def _trainings(tmp_path: Path) -> list[tuple[str, str, int | None, str | None]]:
    db = tmp_path / "data" / "leadq.db"
    if not db.exists():
        return []
    engine = create_engine(f"sqlite:///{db}")
    with engine.connect() as conn:
        found = conn.execute(
            text("SELECT state, source, model_id, error FROM model_trainings ORDER BY started_at")
        ).all()
    engine.dispose()
    return [tuple(r) for r in found]  # type: ignore[misc]


def test_a_training_here_is_a_row_as_the_pages_are_and_one_runs_at_a_time(
    tmp_path: Path,
) -> None:
    past = write_csv(tmp_path / "past.csv", rows(300))
    refused = leadq("train")
    trained = leadq("train", str(past), "--label", "Result", "--positive", "Closed Won")
    assert trained.returncode == 0, trained.stderr
    assert _trainings(tmp_path) == [
        ("failed", "stored leads with outcomes", None, refused.stderr.split("error: ")[1].strip()),
        ("done", "past.csv", 1, None),
    ]
    # A training running elsewhere (the page's, say): this one waits its turn.
    store = Store.open(Settings())
    trainings.start(store, "feedface", "stored leads with outcomes")
    busy = leadq("train", str(past), "--label", "Result", "--positive", "Closed Won")
    store.close()
    assert busy.returncode == 2
    assert "training feedface is still running" in busy.stderr


def test_a_file_without_its_label_is_refused_naming_the_file_as_given(tmp_path: Path) -> None:
    past = tmp_path / "past.csv"
    past.write_text("lead_name,company_name\nAnn,Acme\n", encoding="utf-8")
    proc = leadq("train", "past.csv", "--label", "Result", "--positive", "Closed Won")
    assert proc.returncode == 2
    assert "past.csv: no row has a value in the label column 'Result'" in proc.stderr
    assert _trainings(tmp_path) == []  # refused before any training started
