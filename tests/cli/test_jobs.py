"""`leadq qualify` as a stored, resumable job: re-runs, SIGKILL mid-batch, history, export,
and the same flow on PostgreSQL."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import func, select

from leadq.config import Settings
from leadq.leadfiles import CSV_COLUMNS
from leadq.storage.models import JobItem, Qualification
from leadq.storage.store import Store
from tests.cli.test_app import leadq, records
from tests.conftest import EXAMPLES
from tests.support.llm import answer
from tests.support.openai_server import Reply


def _store(url: str | None = None) -> Store:
    return Store.open(Settings(database_url=url) if url else Settings())


def _count(store: Store, model) -> int:
    with store.session() as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


def test_rerun_on_the_same_file_resumes_and_qualifies_nothing_twice(tmp_path: Path) -> None:
    first = leadq("qualify", str(EXAMPLES), "-q")
    again = leadq("qualify", str(EXAMPLES), "-q")
    assert "job " in first.stderr
    assert "resuming, 0 of 21 rows left" in again.stderr
    assert records(first.stdout) == records(again.stdout)
    store = _store()
    assert _count(store, Qualification) == 20  # 21 rows, one invalid
    fresh = leadq("qualify", str(EXAMPLES), "-q", "--new")
    assert "21 rows" in fresh.stderr
    assert _count(store, Qualification) == 40
    ids = [r["result"]["qualification_id"] for r in records(first.stdout) if "result" in r]
    assert len(set(ids)) == 20


def test_history_and_export(tmp_path: Path) -> None:
    leadq("qualify", str(EXAMPLES), "-q")
    leadq("qualify", str(EXAMPLES), "-q", "--new")
    hist = leadq("history", "L-0001")
    assert hist.returncode == 0
    assert "Priya Raman" in hist.stdout
    assert hist.stdout.count("immediate_outreach") == 2  # two qualifications over time
    assert leadq("history", "nobody at all").returncode == 1
    out = tmp_path / "latest.csv"
    exp = leadq("export", "-o", str(out))
    assert exp.returncode == 0
    with out.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 20  # one row per stored lead, its latest result
    assert len({r["lead_ref"] for r in rows}) == 20


def test_export_names_each_lead_with_its_latest_outcome(tmp_path: Path) -> None:
    leadq("qualify", str(EXAMPLES), "-q")
    outcomes = tmp_path / "outcomes.csv"
    for text in (
        "lead_id,outcome,date\nL-0001,lost,2026-11-20\nL-0002,no_response,2026-11-21\n",
        "lead_id,outcome,date\nL-0001,won,2026-11-24\n",
    ):
        outcomes.write_text(text, encoding="utf-8")
        assert leadq("outcomes", str(outcomes)).returncode == 0
    out = tmp_path / "latest.csv"
    assert leadq("export", "-o", str(out)).returncode == 0
    with out.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        rows = {r["lead_id"]: r for r in reader}
    columns = list(reader.fieldnames or ())
    assert columns[: len(CSV_COLUMNS)] == list(CSV_COLUMNS)  # the columns others read, first
    assert columns[len(CSV_COLUMNS) :] == ["email", "outcome", "outcome_date", "attributes"]
    assert len(rows) == 20
    priya = rows["L-0001"]
    assert (priya["lead_name"], priya["company_name"], priya["email"]) == (
        "Priya Raman",
        "LedgerLoop Inc.",
        "priya.raman@ledgerloop.example.com",
    )
    assert (priya["outcome"], priya["outcome_date"]) == ("won", "2026-11-24")
    assert (rows["L-0002"]["outcome"], rows["L-0002"]["outcome_date"]) == (
        "no_response",
        "2026-11-21",
    )
    assert (rows["L-0003"]["outcome"], rows["L-0003"]["outcome_date"]) == ("", "")
    assert float(priya["overall_score"]) > 0.75
    assert priya["recommended_action"] == "immediate_outreach"

    # JSONL on stdout: the same, as fields of each record.
    by_id = {r["lead_id"]: r for r in records(leadq("export").stdout)}
    named = ("lead_name", "company_name", "email", "outcome", "outcome_date")
    assert [by_id["L-0001"][k] for k in named] == [
        "Priya Raman",
        "LedgerLoop Inc.",
        "priya.raman@ledgerloop.example.com",
        "won",
        "2026-11-24",
    ]
    assert (by_id["L-0003"]["outcome"], by_id["L-0003"]["outcome_date"]) == (None, None)
    assert by_id["L-0001"]["result"]["qualification_id"] == int(priya["qualification_id"])


def _write_leads(path: Path, n: int) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(
            ["lead_id", "lead_name", "company_name", "industry", "job_title", "company_size"]
        )
        for i in range(n):
            writer.writerow([f"K-{i}", f"Lead {i}", f"Co {i}", "SaaS", "VP Sales", "200"])


def test_sigkill_mid_batch_then_resume_loses_and_duplicates_nothing(
    openai_server, tmp_path: Path
) -> None:
    rows, concurrency = 30, 3
    src = tmp_path / "leads.csv"
    _write_leads(src, rows)
    openai_server.handler = lambda body: answer(body, delay=0.15)
    env = {
        **os.environ,
        "LEADQ_PROVIDER": "openai",
        "OPENAI_BASE_URL": openai_server.url,
        "OPENAI_API_KEY": "sk-test",
        "LEADQ_MAX_RETRIES": "0",
    }
    cmd = [sys.executable, "-m", "leadq", "qualify", str(src), "-q", "-c", str(concurrency)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while openai_server.completed < 12 and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    assert proc.returncode == -signal.SIGKILL
    store = _store()
    done_before = _count(store, Qualification)
    assert 0 < done_before < rows  # killed mid-batch, with some rows stored

    resumed = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    assert f"{rows - done_before} of {rows} rows left" in resumed.stderr
    out = records(resumed.stdout)
    assert [r["row"] for r in out] == list(range(1, rows + 1))
    assert all(r["status"] == "ok" for r in out)
    assert _count(store, Qualification) == rows  # exactly one result per row
    with store.session() as s:
        items = s.scalars(select(JobItem)).all()
    assert len(items) == rows
    assert all(i.status == "done" and i.qualification_id for i in items)
    assert len({i.qualification_id for i in items}) == rows
    # Calls: one per row, plus at most the ones in flight when the process died.
    assert rows <= len(openai_server.requests) <= rows + concurrency


def test_postgresql_via_database_url(pg_fresh: str) -> None:
    env = {"DATABASE_URL": pg_fresh}
    first = leadq("qualify", str(EXAMPLES), "-q", env=env)
    assert len(records(first.stdout)) == 21
    again = leadq("qualify", str(EXAMPLES), "-q", env=env)
    assert "resuming, 0 of 21 rows left" in again.stderr
    store = _store(pg_fresh)
    assert store.engine.dialect.name == "postgresql"
    assert _count(store, Qualification) == 20
    hist = leadq("history", "L-0002", env=env)
    assert hist.returncode == 0
    assert "Marcus" in hist.stdout
    outcomes = Path.cwd() / "outcomes.csv"
    outcomes.write_text("lead_id,outcome,date\nL-0002,won,2026-11-24\n", encoding="utf-8")
    assert leadq("outcomes", str(outcomes), env=env).returncode == 0
    exported = {r["lead_id"]: r for r in records(leadq("export", env=env).stdout)}
    marcus = exported["L-0002"]
    assert (marcus["email"], marcus["outcome"], marcus["outcome_date"]) == (
        "marcus@brightpath.example.io",
        "won",
        "2026-11-24",
    )
    assert not (Path.cwd() / "data").exists()  # nothing went to the SQLite default


def test_db_upgrade_command(tmp_path: Path) -> None:
    proc = leadq("db", "upgrade")
    assert proc.returncode == 0
    assert "up to date" in proc.stderr
    assert (tmp_path / "data" / "leadq.db").exists()


def test_jsonl_output_carries_stored_ids() -> None:
    out = records(leadq("qualify", str(EXAMPLES), "-q").stdout)
    ok = [r["result"] for r in out if r["status"] == "ok"]
    assert all(
        isinstance(r["qualification_id"], int) and isinstance(r["lead_ref"], int) for r in ok
    )
    assert "input" not in json.dumps(ok[0]).split('"reasoning"')[0]


def test_unreachable_database_is_a_clear_error_not_a_traceback() -> None:
    env = {"DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/none"}
    served = leadq("serve", "--port", "1", env=env)
    assert served.returncode == 2
    assert "cannot start" in served.stderr
    ran = leadq("qualify", str(EXAMPLES), "-q", env=env)
    assert ran.returncode == 2
    assert "cannot open the database" in ran.stderr
    assert "Traceback" not in served.stderr + ran.stderr


def test_retry_failed_requalifies_rows_that_may_pass_now(openai_server, tmp_path: Path) -> None:
    src = tmp_path / "leads.csv"
    _write_leads(src, 4)
    down = {"on": True}
    openai_server.handler = lambda body: Reply(status=503) if down["on"] else answer(body)
    env = {
        **os.environ,
        "LEADQ_PROVIDER": "openai",
        "OPENAI_BASE_URL": openai_server.url,
        "OPENAI_API_KEY": "sk-test",
        "LEADQ_MAX_RETRIES": "0",
        "LEADQ_BREAKER_THRESHOLD": "100",
    }
    with src.open("a", encoding="utf-8") as f:
        f.write("K-bad,Nobody,,SaaS,VP Sales,200\n")  # no company: invalid, never retried
    cmd = [sys.executable, "-m", "leadq", "qualify", str(src), "-q"]
    first = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert first.returncode == 1
    assert [r["status"] for r in records(first.stdout)] == ["error"] * 5

    down["on"] = False
    plain = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert "0 of 5 rows left" in plain.stderr
    assert len(openai_server.requests) == 4

    again = subprocess.run([*cmd, "--retry-failed"], env=env, capture_output=True, text=True)
    assert "4 failed rows to try again" in again.stderr
    out = records(again.stdout)
    assert [r["status"] for r in out] == ["ok"] * 4 + ["error"]
    assert out[-1]["error"]["error"] == "invalid_input"
    assert len(openai_server.requests) == 8  # the 4 provider failures, once more each


def test_submit_a_file_to_the_server_follow_it_list_and_download(tmp_path: Path) -> None:
    from tests.support.serve import serving

    env = {**os.environ, "LEADQ_PROVIDER": "rules", "LEADQ_DATA_DIR": str(tmp_path / "server")}
    with serving(env, tmp_path / "serve.log") as (_, url):
        out = tmp_path / "out.csv"
        sent = leadq("qualify", str(EXAMPLES), "--submit", "--server", url, "-q", "-o", str(out))
        assert sent.returncode == 1, sent.stderr  # the one invalid row, as locally
        assert "job " in sent.stderr
        assert "20 succeeded, 1 failed" in sent.stderr
        job_id = sent.stderr.split("job ", 1)[1].split(":", 1)[0]
        with out.open(encoding="utf-8", newline="") as fh:
            rows = list(csv.DictReader(fh))
        assert [r["row"] for r in rows] == [str(i) for i in range(1, 22)]
        local = leadq("qualify", str(EXAMPLES), "-q", "-o", str(tmp_path / "local.csv"))
        with (tmp_path / "local.csv").open(encoding="utf-8", newline="") as fh:
            theirs = list(csv.DictReader(fh))
        assert list(rows[0]) == list(theirs[0])  # the same columns
        assert [r["overall_score"] for r in rows] == [r["overall_score"] for r in theirs]
        assert local.returncode == 1

        listed = leadq("jobs", "--server", url)
        assert listed.returncode == 0
        assert job_id in listed.stderr
        assert "done" in listed.stderr
        got = leadq("jobs", "results", job_id, "--server", url)
        assert [r["row"] for r in records(got.stdout)] == list(range(1, 22))
        shown = json.loads(leadq("jobs", "show", job_id, "--server", url).stdout)
        assert (shown["status"], shown["succeeded"], shown["failed"]) == ("done", 20, 1)
        cancel = leadq("jobs", "cancel", job_id, "--server", url)
        assert cancel.returncode == 2
        assert "nothing to cancel" in cancel.stderr
        missing = leadq("jobs", "show", "abc123", "--server", url)
        assert missing.returncode == 2
        assert "404: no job abc123" in missing.stderr
        queued = leadq("qualify", str(EXAMPLES), "--submit", "--no-wait", "--server", url)
        assert queued.returncode == 0
        assert len(queued.stdout.strip()) == 12  # the job id, for a script
    nobody = leadq("jobs", "--server", url)  # the server has stopped
    assert nobody.returncode == 2
    assert "cannot reach the leadq server" in nobody.stderr


def test_worker_needs_a_broker_and_names_the_setting() -> None:
    proc = leadq("worker")
    assert proc.returncode == 2
    assert "LEADQ_BROKER_URL" in proc.stderr
