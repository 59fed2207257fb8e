"""Jobs as a resource, run by the server itself (no broker): submit a file or a JSON list and
get an id at once, follow the progress, download the results in input order in `leadq
qualify`'s format, cancel, retry what failed; a restarted server takes its jobs up again;
two server processes share one job without running a chunk twice."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text

from leadq.leadfiles import CSV_COLUMNS
from tests.api.conftest import LiveApp
from tests.conftest import EXAMPLES
from tests.support.llm import answer, lead_in, scripted_llm_settings
from tests.support.openai_server import Reply, ScriptedServer
from tests.support.serve import free_port, serving, wait_until_serving
from tests.support.workers import leads, wait_for


def _records(reply: httpx.Response) -> list[dict[str, Any]]:
    assert reply.status_code == 200, reply.text
    return [json.loads(line) for line in reply.text.splitlines()]


def _until_done(client: httpx.Client, job_id: str, seconds: float = 60) -> dict[str, Any]:
    return _until(client, job_id, lambda j: j["status"] in ("done", "cancelled"), seconds)


def _until(
    client: httpx.Client, job_id: str, check: Callable[[dict[str, Any]], bool], seconds: float = 60
) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    while True:
        job: dict[str, Any] = client.get(f"/api/jobs/{job_id}").json()["data"]
        if check(job):
            return job
        assert time.monotonic() < deadline, job
        time.sleep(0.05)


def test_a_csv_file_as_a_job_gives_what_leadq_qualify_gives(
    live_app: Callable[..., LiveApp], tmp_path: Path
) -> None:
    app = live_app(provider="rules", data_dir=tmp_path / "data")
    with app.client() as client:
        reply = client.post(
            "/api/jobs?name=leads.csv",
            content=EXAMPLES.read_bytes(),
            headers={"Content-Type": "text/csv"},
        )
        assert reply.status_code == 202
        submitted = reply.json()["data"]
        assert (submitted["kind"], submitted["source"], submitted["total"]) == (
            "api",
            "leads.csv",
            21,
        )
        job = _until_done(client, submitted["id"])
        assert (job["status"], job["done"], job["succeeded"], job["failed"]) == ("done", 21, 20, 1)
        assert job["chunks"] == {"queued": 0, "running": 0, "done": 1, "failed": 0, "cancelled": 0}
        assert job["rate"] > 0
        assert job["eta_seconds"] is None
        served = _records(client.get(f"/api/jobs/{job['id']}/results"))
        as_csv = client.get(f"/api/jobs/{job['id']}/results?format=csv")
        listed = client.get("/api/jobs").json()["data"]
    assert [j["id"] for j in listed] == [job["id"]]

    cli = _cli(tmp_path, "-o", "local.csv")
    local = [json.loads(line) for line in _cli(tmp_path).stdout.splitlines()]
    assert cli.returncode == 1  # the one invalid row
    assert [r["row"] for r in served] == list(range(1, 22))
    for mine, theirs in zip(served, local, strict=True):
        assert mine.keys() == theirs.keys()
        assert (mine["lead_id"], mine["lead_name"], mine["status"]) == (
            theirs["lead_id"],
            theirs["lead_name"],
            theirs["status"],
        )
        if "result" in mine:
            assert mine["result"].keys() == theirs["result"].keys()
            assert mine["result"]["overall_score"] == theirs["result"]["overall_score"]
        else:
            assert mine["error"] == theirs["error"]
    # CSV: `leadq qualify -o out.csv`'s columns, in the same order, row for row.
    assert as_csv.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    with (tmp_path / "local.csv").open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        theirs_rows = list(reader)
    assert list(rows[0].keys()) == list(reader.fieldnames or ())
    assert list(rows[0].keys())[: len(CSV_COLUMNS)] == list(CSV_COLUMNS)
    assert [r["lead_id"] for r in rows] == [r["lead_id"] for r in theirs_rows]
    assert [r["recommended_action"] for r in rows] == [r["recommended_action"] for r in theirs_rows]


def _cli(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`leadq qualify` on the example file, locally (its own database)."""
    return subprocess.run(
        [sys.executable, "-m", "leadq", "qualify", str(EXAMPLES), "-q", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        env={**os.environ, "LEADQ_PROVIDER": "rules", "LEADQ_DATA_DIR": str(cwd / "cli")},
    )


def test_bad_input_unknown_ids_and_finished_jobs_get_clear_errors(
    live_app: Callable[..., LiveApp], tmp_path: Path
) -> None:
    app = live_app(provider="rules", data_dir=tmp_path / "data")
    with app.client() as client:
        # UTF-16 whose header holds a lone surrogate: refused at submission, naming the byte.
        bad = b"\xff\xfe\x00\xd8" + "x,company_name\nAnn,Acme\n".encode("utf-16-le")
        reply = client.post("/api/jobs", content=bad, headers={"Content-Type": "text/csv"})
        assert reply.status_code == 422
        error = reply.json()["error"]
        assert error["code"] == "invalid_file"
        assert "header cannot be decoded (byte offset 2)" in error["message"]
        assert "upload" not in error["message"]  # the server's temp file is not named
        reply = client.post("/api/jobs?format=csv&name=leads.csv", content=b"\n\n")
        assert reply.status_code == 422
        assert reply.json()["error"]["message"] == "leads.csv: empty file or no header row"
        reply = client.post("/api/jobs", content=b'{"lead_name": "not a list"}')
        assert reply.status_code == 422
        assert "JSON list" in reply.json()["error"]["message"]
        assert client.get("/api/jobs").json()["data"] == []  # none of them made a job

        assert client.get("/api/jobs/0123abcd").status_code == 404
        assert client.get("/api/jobs/0123abcd/results").status_code == 404
        assert client.post("/api/jobs/0123abcd/cancel").status_code == 404
        assert client.get("/api/jobs/not-hex").status_code == 422

        # A JSON list: an invalid lead is that row's error, the rest qualified.
        sent = [*leads(3), {"company_name": "No Name Inc"}]
        job = client.post("/api/jobs", json=sent).json()["data"]
        job = _until_done(client, job["id"])
        assert (job["succeeded"], job["failed"]) == (3, 1)
        out = _records(client.get(f"/api/jobs/{job['id']}/results"))
        assert [r["status"] for r in out] == ["ok", "ok", "ok", "error"]
        assert out[3]["error"]["error"] == "invalid_input"

        reply = client.post(f"/api/jobs/{job['id']}/cancel")
        assert reply.status_code == 409
        assert reply.json()["error"]["code"] == "conflict"
        assert "finished" in reply.json()["error"]["message"]
        assert "nothing to cancel" in reply.json()["error"]["message"]


def test_cancel_stops_a_running_job_and_its_rows_not_run_say_so(
    live_app: Callable[..., LiveApp], openai_server: ScriptedServer, tmp_path: Path
) -> None:
    openai_server.handler = lambda body: answer(body, delay=0.1)
    app = live_app(
        **scripted_llm_settings(openai_server.url),
        data_dir=tmp_path / "data",
        job_chunk_rows=5,
        job_slots=1,
        max_concurrency=5,
        job_lease=3,
    )
    with app.client() as client:
        job = client.post("/api/jobs", json=leads(60)).json()["data"]
        _until(client, job["id"], lambda j: j["done"] >= 10)
        reply = client.post(f"/api/jobs/{job['id']}/cancel")
        assert reply.status_code == 200
        assert reply.json()["data"]["status"] == "cancelled"
        job = _until(client, job["id"], lambda j: j["chunks"]["running"] == 0, seconds=30)
        asked = len(openai_server.requests)
        time.sleep(1.5)
        assert len(openai_server.requests) == asked  # nothing more is run
        assert job["status"] == "cancelled"
        assert 10 <= job["done"] < 60
        out = _records(client.get(f"/api/jobs/{job['id']}/results"))
        again = client.post(f"/api/jobs/{job['id']}/cancel")
    assert again.status_code == 200  # cancelling a cancelled job changes nothing
    assert [r["row"] for r in out] == list(range(1, 61))  # every lead, one outcome each
    statuses = [r["status"] for r in out]
    assert statuses.count("ok") == job["done"]
    assert statuses.count("cancelled") == 60 - job["done"]
    assert asked < 60


def test_retry_failed_qualifies_the_rows_that_failed_again(
    live_app: Callable[..., LiveApp], openai_server: ScriptedServer, tmp_path: Path
) -> None:
    down = {"Lead 2", "Lead 5"}

    def handler(body: dict[str, Any]) -> Reply:
        if lead_in(body).get("lead_name") in down:
            return Reply(status=503)
        return answer(body)

    openai_server.handler = handler
    app = live_app(
        **scripted_llm_settings(openai_server.url), data_dir=tmp_path / "data", job_chunk_rows=3
    )
    with app.client() as client:
        job = client.post("/api/jobs", json=leads(8)).json()["data"]
        job = _until_done(client, job["id"])
        assert (job["succeeded"], job["failed"]) == (6, 2)
        down.clear()  # the provider is back
        reply = client.post(f"/api/jobs/{job['id']}/retry-failed")
        assert reply.status_code == 200
        assert reply.json()["reopened"] == 2
        job = _until_done(client, job["id"])
        out = _records(client.get(f"/api/jobs/{job['id']}/results"))
    assert (job["succeeded"], job["failed"]) == (8, 0)
    assert [r["status"] for r in out] == ["ok"] * 8
    assert len(openai_server.requests) == 10  # 8, and the 2 that failed once more


def test_a_finished_job_is_a_webhook_event(
    live_app: Callable[..., LiveApp], tmp_path: Path
) -> None:
    db = tmp_path / "data" / "leadq.db"
    app = live_app(
        provider="rules",
        data_dir=tmp_path / "data",
        webhook_url=f"http://127.0.0.1:{free_port()}/hook",  # nobody there: it stays pending
        webhook_secret="whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        webhook_retry_base=3600,
    )
    with app.client() as client:
        job = client.post("/api/jobs", json=leads(4)).json()["data"]
        _until_done(client, job["id"])
    engine = create_engine(f"sqlite:///{db}")
    with engine.connect() as conn:
        events = conn.execute(
            text("SELECT payload FROM webhook_outbox WHERE event_type = 'job.finished'")
        ).scalars()
        (payload,) = [json.loads(p) if isinstance(p, str) else p for p in events]
    engine.dispose()
    assert payload["type"] == "job.finished"
    assert payload["data"] == {
        "job_id": job["id"],
        "status": "done",
        "total": 4,
        "succeeded": 4,
        "failed": 0,
        "results": f"/api/jobs/{job['id']}/results",
    }


def _count(db: Path, sql: str, **params: str) -> int:
    engine = create_engine(f"sqlite:///{db}")
    with engine.connect() as conn:
        n = int(conn.execute(text(sql), params).scalar_one())
    engine.dispose()
    return n


def test_a_killed_server_takes_its_job_up_again_when_restarted(
    openai_server: ScriptedServer, tmp_path: Path
) -> None:
    openai_server.handler = lambda body: answer(body, delay=0.05)
    env = {
        **os.environ,
        "LEADQ_PROVIDER": "openai",
        "OPENAI_BASE_URL": openai_server.url,
        "OPENAI_API_KEY": "sk-test",
        "LEADQ_MODEL": "test-model",
        "LEADQ_MAX_RETRIES": "0",
        "LEADQ_DATA_DIR": str(tmp_path / "data"),
        "LEADQ_JOB_CHUNK_ROWS": "10",
        "LEADQ_JOB_LEASE": "2",
        "LEADQ_MAX_CONCURRENCY": "4",
        "LEADQ_PORT": str(free_port()),
    }
    sent = leads(80)
    with serving(env, tmp_path / "serve.log") as (proc, url):
        job_id = httpx.post(f"{url}/api/jobs", json=sent, timeout=30).json()["data"]["id"]
        wait_for(url, job_id, lambda j: j["done"] >= 20)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
    db = tmp_path / "data" / "leadq.db"
    before = _count(
        db, "SELECT count(*) FROM job_items WHERE job_id = :j AND status = 'done'", j=job_id
    )
    assert 20 <= before < 80
    with serving(env, tmp_path / "serve.log") as (_, url):
        job = wait_for(url, job_id, lambda j: j["status"] == "done")
        out = _records(httpx.get(f"{url}/api/jobs/{job_id}/results", timeout=30))
    assert (job["succeeded"], job["failed"]) == (80, 0)
    assert [r["lead_id"] for r in out] == [lead["lead_id"] for lead in sent]
    assert _count(db, "SELECT count(*) FROM qualifications") == 80  # none stored twice
    assert len(openai_server.requests) <= 80 + 2 * 4 * 2  # what was in flight at the kill


def test_two_server_processes_share_a_job_and_run_no_chunk_twice(
    openai_server: ScriptedServer, tmp_path: Path
) -> None:
    # No answer until both processes hold a chunk: on a loaded machine one process could
    # otherwise finish the job before the other wakes, and the test would say nothing.
    gate = threading.Event()

    async def handler(body: dict[str, Any]) -> Reply:
        await asyncio.to_thread(gate.wait, 60)
        return answer(body, delay=0.02)

    openai_server.handler = handler
    db = tmp_path / "data" / "leadq.db"
    port = free_port()
    env = {
        **os.environ,
        "LEADQ_PROVIDER": "openai",
        "OPENAI_BASE_URL": openai_server.url,
        "OPENAI_API_KEY": "sk-test",
        "LEADQ_MODEL": "test-model",
        "LEADQ_MAX_RETRIES": "0",
        "LEADQ_TIMEOUT": "90",
        "LEADQ_DATA_DIR": str(tmp_path / "data"),
        "LEADQ_JOB_CHUNK_ROWS": "10",
        "TMPDIR": str(tmp_path),
    }
    with (tmp_path / "serve.log").open("w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "leadq", "serve", "--workers", "2", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=err,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(proc, url)
        job_id = httpx.post(f"{url}/api/jobs", json=leads(200), timeout=30).json()["data"]["id"]
        end = time.monotonic() + 60
        holding = "SELECT count(DISTINCT owner) FROM job_chunks WHERE status = 'running'"
        while _count(db, holding) < 2 and time.monotonic() < end:
            time.sleep(0.05)
        gate.set()
        job = wait_for(url, job_id, lambda j: j["status"] == "done")
    finally:
        gate.set()
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    assert job["succeeded"] == 200
    assert len(openai_server.requests) == 200  # no lead asked twice
    owners = _count(db, "SELECT count(DISTINCT owner) FROM job_chunks")
    assert _count(db, "SELECT max(attempts) FROM job_chunks") == 1
    assert owners == 2  # both processes ran chunks


def test_results_after_a_row_and_up_to_a_limit_skip_the_rows_still_running(
    live_app: Callable[..., LiveApp], openai_server: ScriptedServer, tmp_path: Path
) -> None:
    """A page following a job asks for the rows after those it has, a page at a time: the
    rows still running are left out, and the limit counts only the rows given."""
    gate = threading.Event()
    held = {"Lead 2", "Lead 3"}  # rows 3 and 4

    async def handler(body: dict[str, Any]) -> Reply:
        if lead_in(body)["lead_name"] in held:
            await asyncio.to_thread(gate.wait)  # set from the test's thread
        return answer(body)

    openai_server.handler = handler
    app = live_app(
        **scripted_llm_settings(openai_server.url, timeout=60),
        data_dir=tmp_path / "data",
        job_chunk_rows=10,
        max_concurrency=10,
    )
    try:
        with app.client() as client:
            job = client.post("/api/jobs", json=leads(10)).json()["data"]
            url = f"/api/jobs/{job['id']}/results"
            _until(client, job["id"], lambda j: j["done"] == 8)
            first = _records(client.get(f"{url}?limit=4"))
            rest = _records(client.get(f"{url}?after=2&limit=100"))
            csv_page = client.get(f"{url}?format=csv&after=6&limit=2")
            none = client.get(f"{url}?format=csv&after=10")
            assert client.get(f"{url}?after=-1").status_code == 422
            assert client.get(f"{url}?limit=0").status_code == 422
            gate.set()
            _until_done(client, job["id"])
            late = _records(client.get(f"{url}?after=2&limit=2"))
    finally:
        gate.set()
    assert [r["row"] for r in first] == [1, 2, 5, 6]
    assert [r["row"] for r in rest] == [5, 6, 7, 8, 9, 10]
    assert [r["row"] for r in csv.DictReader(io.StringIO(csv_page.text))] == ["7", "8"]
    assert csv_page.text.startswith("row,qualification_id,")
    assert list(csv.reader(io.StringIO(none.text))) == [list(CSV_COLUMNS)]  # the header alone
    assert [(r["row"], r["status"]) for r in late] == [(3, "ok"), (4, "ok")]


# A form upload (curl -F file=@leads.csv): curl sends a .csv or .jsonl file's part as
# application/octet-stream, so the format is the file name's.
_OCTETS = "application/octet-stream"


def test_a_csv_file_uploaded_as_a_form_runs_with_its_name_as_the_source(
    live_app: Callable[..., LiveApp], tmp_path: Path
) -> None:
    app = live_app(provider="rules", data_dir=tmp_path / "data")
    with EXAMPLES.open(encoding="utf-8", newline="") as fh:
        sent_ids = [row["lead_id"] for row in csv.DictReader(fh)]
    with app.client() as client:
        upload = {"file": ("exports/leads.csv", EXAMPLES.read_bytes(), _OCTETS)}
        reply = client.post("/api/jobs", files=upload)
        assert reply.status_code == 202, reply.text
        submitted = reply.json()["data"]
        assert (submitted["source"], submitted["total"]) == ("leads.csv", 21)  # no folder
        job = _until_done(client, submitted["id"])
        out = _records(client.get(f"/api/jobs/{job['id']}/results"))
        named = client.post("/api/jobs?name=Q3%20leads", files=upload).json()["data"]
    assert (job["status"], job["done"], job["succeeded"], job["failed"]) == ("done", 21, 20, 1)
    assert [r["row"] for r in out] == list(range(1, 22))
    assert [r["lead_id"] or "" for r in out] == sent_ids  # row 12 has none: the invalid one
    assert named["source"] == "Q3 leads"  # ?name= over the file's name


def test_a_jsonl_file_uploaded_as_a_form_is_read_by_its_extension(
    live_app: Callable[..., LiveApp], tmp_path: Path
) -> None:
    app = live_app(provider="rules", data_dir=tmp_path / "data")
    sent = [{**lead, "org": lead.pop("company_name")} for lead in leads(3)]
    body = "".join(json.dumps(lead) + "\n" for lead in sent).encode()
    with app.client() as client:
        reply = client.post(
            "/api/jobs",
            files={"file": ("leads.jsonl", body, _OCTETS)},
            data={"map": "org=company_name"},
        )
        assert reply.status_code == 202, reply.text
        job = _until_done(client, reply.json()["data"]["id"])
        as_csv = client.get(f"/api/jobs/{job['id']}/results?format=csv")
        # No extension it knows: the part's Content-Type says JSONL.
        typed = client.post("/api/jobs", files={"file": ("export", body, "application/x-ndjson")})
    assert (job["source"], job["succeeded"], job["failed"]) == ("leads.jsonl", 3, 0)
    out = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert [r["lead_id"] for r in out] == [lead["lead_id"] for lead in sent]
    assert [r["company_name"] for r in out] == ["Company 0", "Company 1", "Company 2"]  # `map`
    assert typed.status_code == 202, typed.text
    assert (typed.json()["data"]["source"], typed.json()["data"]["total"]) == ("export", 3)


def test_a_form_without_a_file_part_is_refused_naming_file(
    live_app: Callable[..., LiveApp], tmp_path: Path
) -> None:
    app = live_app(provider="rules", data_dir=tmp_path / "data")
    with app.client() as client:
        only_map = client.post(
            "/api/jobs", files={"map": (None, "org=company_name")}
        )  # multipart, with no file
        as_text = client.post("/api/jobs", files={"file": (None, "lead_name\nAnn\n")})
        misnamed = client.post("/api/jobs", files={"leads": ("leads.csv", b"lead_name\nAnn\n")})
        listed = client.get("/api/jobs").json()["data"]
    for reply in (only_map, as_text, misnamed):
        assert reply.status_code == 422, reply.text
        assert reply.json()["error"]["code"] == "invalid_file"
        assert "`file`" in reply.json()["error"]["message"]
    assert "is missing" in only_map.json()["error"]["message"]
    assert "text field" in as_text.json()["error"]["message"]
    assert "'leads'" in misnamed.json()["error"]["message"]
    assert listed == []  # none of them made a job


def test_a_form_upload_over_the_file_limit_is_413_as_a_raw_body_is(
    live_app: Callable[..., LiveApp], tmp_path: Path
) -> None:
    app = live_app(provider="rules", data_dir=tmp_path / "data", max_file_bytes=4096)
    small = "".join(
        ["lead_id,lead_name,company_name\n", *(f"S-{i},Lead {i},Co {i}\n" for i in range(5))]
    ).encode()
    big = EXAMPLES.read_bytes()
    assert len(small) < 1000 < 4096 < len(big)
    with app.client() as client:
        fits = client.post("/api/jobs", files={"file": ("small.csv", small, _OCTETS)})
        over = client.post("/api/jobs", files={"file": ("leads.csv", big, _OCTETS)})
        raw = client.post("/api/jobs", content=big, headers={"Content-Type": "text/csv"})
        # Without a Content-Length (chunked): refused while it is read.
        form = httpx.Request("POST", "/", files={"file": ("leads.csv", big, _OCTETS)})
        chunked = client.post(
            "/api/jobs",
            content=iter([form.read()[i : i + 1024] for i in range(0, len(form.read()), 1024)]),
            headers={"Content-Type": form.headers["Content-Type"]},
        )
        listed = client.get("/api/jobs").json()["data"]
    assert fits.status_code == 202, fits.text
    for reply in (over, raw, chunked):
        assert reply.status_code == 413, reply.text
        assert reply.json()["error"]["code"] == "payload_too_large"
        assert "LEADQ_MAX_FILE_BYTES" in reply.json()["error"]["message"]
    assert [j["source"] for j in listed] == ["small.csv"]


def test_an_unreadable_file_uploaded_as_a_form_is_refused_naming_the_byte(
    live_app: Callable[..., LiveApp], tmp_path: Path
) -> None:
    app = live_app(provider="rules", data_dir=tmp_path / "data")
    # UTF-16 whose header holds a lone surrogate, as the raw body's test sends.
    bad = b"\xff\xfe\x00\xd8" + "x,company_name\nAnn,Acme\n".encode("utf-16-le")
    with app.client() as client:
        reply = client.post("/api/jobs", files={"file": ("leads.csv", bad, _OCTETS)})
        empty = client.post("/api/jobs", files={"file": ("q3.csv", b"\n\n", _OCTETS)})
        listed = client.get("/api/jobs").json()["data"]
    assert reply.status_code == 422, reply.text
    error = reply.json()["error"]
    assert error["code"] == "invalid_file"
    assert error["message"] == "leads.csv: the header cannot be decoded (byte offset 2)"
    assert empty.status_code == 422, empty.text
    assert empty.json()["error"]["message"] == "q3.csv: empty file or no header row"
    assert listed == []


def _writer_processes(pid: int) -> list[int]:
    """The writer processes `pid` started (multiprocessing's spawned children; not its
    resource tracker), from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:  # ended meanwhile
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        if parent == pid and b"spawn_main" in cmdline:
            found.append(int(entry.name))
    return found


def test_a_writer_process_killed_mid_job_hands_its_chunks_back_and_stores_each_row_once(
    tmp_path: Path,
) -> None:
    env = {
        **os.environ,
        "LEADQ_PROVIDER": "rules",
        "LEADQ_DATA_DIR": str(tmp_path / "data"),
        "LEADQ_JOB_CHUNK_ROWS": "20",
    }
    db = tmp_path / "data" / "leadq.db"
    sent = leads(200, "B")
    with serving(env, tmp_path / "serve.log") as (proc, url):
        # A first job starts the runner's writer process (on the rules engine, it stores the
        # rows while the server qualifies the next ones).
        first = httpx.post(f"{url}/api/jobs", json=leads(20, "A"), timeout=30).json()["data"]
        wait_for(url, first["id"], lambda j: j["status"] == "done")
        writers = _writer_processes(proc.pid)
        assert len(writers) == 1
        # Stopped, it takes rows but stores none: the chunks qualified wait for it.
        os.kill(writers[0], signal.SIGSTOP)
        job_id = httpx.post(f"{url}/api/jobs", json=sent, timeout=30).json()["data"]["id"]
        running = "SELECT count(*) FROM job_chunks WHERE job_id = :j AND status = 'running'"
        end = time.monotonic() + 60
        while _count(db, running, j=job_id) < 2:
            assert time.monotonic() < end
            time.sleep(0.05)
        time.sleep(0.5)  # their rows handed over
        assert httpx.get(f"{url}/api/jobs/{job_id}", timeout=10).json()["data"]["done"] == 0
        os.kill(writers[0], signal.SIGKILL)
        job = wait_for(url, job_id, lambda j: j["status"] == "done")
        out = _records(httpx.get(f"{url}/api/jobs/{job_id}/results", timeout=30))
        replaced = _writer_processes(proc.pid)
    assert (job["succeeded"], job["failed"]) == (200, 0)
    assert [r["lead_id"] for r in out] == [lead["lead_id"] for lead in sent]
    assert _count(db, "SELECT count(*) FROM qualifications") == 220  # none stored twice
    # The chunks waiting for the killed writer were handed back and run again, by a new one.
    attempts = "SELECT max(attempts) FROM job_chunks WHERE job_id = :j"
    assert _count(db, attempts, j=job_id) == 2
    assert len(replaced) == 1
    assert replaced != writers
    assert "chunk.released" in (tmp_path / "serve.log").read_text()
