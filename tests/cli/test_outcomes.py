"""`leadq outcomes FILE` in a real subprocess, after `leadq qualify` stored the example leads;
and the CLI's log events when asked for with LEADQ_LOG_LEVEL."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from leadq.config import Settings
from leadq.storage.models import Lead, LeadOutcome
from leadq.storage.store import Store
from tests.cli.test_app import leadq
from tests.conftest import EXAMPLES
from tests.storage.test_store import lead, qualify


def test_outcomes_from_csv_report_counts_and_unknown_leads(tmp_path: Path) -> None:
    qualified = leadq("qualify", str(EXAMPLES), "-q", env={"LEADQ_LOG_LEVEL": "INFO"})
    assert qualified.returncode == 1  # the example file's one invalid row
    # Asked for, the CLI logs one JSON event per lead, without names or emails.
    events = [json.loads(x) for x in qualified.stderr.splitlines() if x.startswith("{")]
    kinds = [e["event"] for e in events]
    assert kinds.count("lead.qualified") == 20  # the invalid row is in the output, not here
    assert not any("Priya Raman" in json.dumps(e) for e in events)
    assert not any("@" in json.dumps(e) for e in events)
    store = Store.open(Settings())
    with store.session() as s:
        ref_l3 = s.scalar(select(Lead.id).where(Lead.lead_id == "L-0003"))
    store.close()
    csv_file = tmp_path / "outcomes.csv"
    csv_file.write_text(
        "Lead_ID,email,lead_ref,Outcome,date\n"
        "L-0001,,,won,2026-11-20\n"
        ",MARCUS@brightpath.example.io,,lost,2026-11-21\n"
        f",,{ref_l3},no_response,\n"
        "L-9999,,,won,2026-11-20\n"
        "L-0004,,,maybe,2026-11-20\n"
        "L-0005,,,won,20/11/2026\n"
        ",,,won,2026-11-20\n",
        encoding="utf-8",
    )
    proc = leadq("outcomes", str(csv_file))
    assert proc.returncode == 1, proc.stderr
    assert "recorded 3 of 7 outcomes: won 1, lost 1, no_response 1" in proc.stderr
    assert "row 4: unknown lead (lead_id L-9999)" in proc.stderr
    assert "row 5: outcome 'maybe'" in proc.stderr
    assert "row 6: date '20/11/2026'" in proc.stderr
    assert "row 7: no lead_ref, lead_id or email" in proc.stderr
    store = Store.open(Settings())
    with store.session() as s:
        rows = s.execute(
            select(Lead.lead_id, LeadOutcome.outcome, LeadOutcome.outcome_date)
            .join(Lead, Lead.id == LeadOutcome.lead_ref)
            .order_by(LeadOutcome.id)
        ).all()
    store.close()
    assert [(r[0], r[1], r[2].isoformat()) for r in rows[:2]] == [
        ("L-0001", "won", "2026-11-20"),
        ("L-0002", "lost", "2026-11-21"),
    ]
    assert rows[2][:2] == ("L-0003", "no_response")  # no date: today


def test_outcomes_all_good_exits_0_and_a_bad_file_exits_2(tmp_path: Path) -> None:
    store = Store.open(Settings())  # the database the subprocess opens (data/ in this dir)
    item = lead(lead_id="L-0001")
    store.save([(item, qualify(item))])
    store.close()
    good = tmp_path / "good.csv"
    good.write_text("lead_id,outcome,date\nL-0001,disqualified,2026-11-22\n", encoding="utf-8")
    proc = leadq("outcomes", str(good))
    assert proc.returncode == 0
    assert "recorded 1 of 1 outcomes: disqualified 1" in proc.stderr
    no_column = tmp_path / "bad.csv"
    no_column.write_text("lead_id,result\nL-0001,won\n", encoding="utf-8")
    proc = leadq("outcomes", str(no_column))
    assert proc.returncode == 2
    assert "needs an `outcome` column" in proc.stderr


def _stored_outcomes() -> list[tuple[str | None, str, str]]:
    store = Store.open(Settings())
    with store.session() as s:
        rows = s.execute(
            select(Lead.lead_id, LeadOutcome.outcome, LeadOutcome.outcome_date)
            .join(Lead, Lead.id == LeadOutcome.lead_ref)
            .order_by(LeadOutcome.id)
        ).all()
    store.close()
    return [(r[0], r[1], r[2].isoformat()) for r in rows]


def test_a_crm_export_with_its_own_headers_and_stage_names(tmp_path: Path) -> None:
    store = Store.open(Settings())
    items = [lead(lead_id=str(n), email=f"p{n}@acme.example") for n in (1001, 1002, 1003, 1004)]
    store.save([(item, qualify(item)) for item in items])
    store.close()
    future = (datetime.now(UTC) + timedelta(days=3)).date().isoformat()
    hubspot = tmp_path / "deals.csv"
    hubspot.write_text(
        '"Record ID","Deal Name","Deal Stage","Close Date"\n'
        '"1001","Acme renewal","Closed Won","2026-11-20"\n'
        '"1002","Acme new","closedlost","2026-11-21 14:30"\n'
        '"1003","Acme add-on","Contract Sent","2026-11-20"\n'
        f'"1004","Acme pilot","Closed Won","{future}"\n'
        '"9999","Other","Closed Won",""\n',
        encoding="utf-8",
    )
    proc = leadq("outcomes", str(hubspot))
    assert proc.returncode == 1, proc.stderr
    assert "recorded 2 of 5 outcomes: won 1, lost 1" in proc.stderr
    assert "row 3: outcome 'Contract Sent' is not an outcome or a known CRM stage" in proc.stderr
    assert f"row 4: date {future} must not be in the future" in proc.stderr
    assert "row 5: unknown lead (lead_id 9999)" in proc.stderr
    assert _stored_outcomes() == [("1001", "won", "2026-11-20"), ("1002", "lost", "2026-11-21")]

    # Another CRM's words: emails, a lead status, semicolons; the setting's own stage names.
    statuses = tmp_path / "leads.csv"
    statuses.write_text(
        "E-mail;Lead Status\nP1003@ACME.example;Unqualified\np1004@acme.example;Went Dark\n",
        encoding="utf-8",
    )
    proc = leadq("outcomes", str(statuses), env={"LEADQ_OUTCOME_STAGES": "Went Dark=no_response"})
    assert proc.returncode == 0, proc.stderr
    assert "recorded 2 of 2 outcomes: no_response 1, disqualified 1" in proc.stderr
    assert _stored_outcomes()[2:] == [
        ("1003", "disqualified", datetime.now(UTC).date().isoformat()),
        ("1004", "no_response", datetime.now(UTC).date().isoformat()),
    ]
    bad_setting = leadq("outcomes", str(statuses), env={"LEADQ_OUTCOME_STAGES": "Went Dark=gone"})
    assert bad_setting.returncode == 2
    assert "LEADQ_OUTCOME_STAGES" in bad_setting.stderr
