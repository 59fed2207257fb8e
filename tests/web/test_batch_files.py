"""The Batch view reads a CRM's file as `leadq qualify` does: the same files give the same
leads in the page (leadfile.js, columns.js) as in leadfiles.read_leads, whatever the
delimiter, the encoding or the CRM's headers; the columns leadq does not know are kept as
attributes (as the CLI keeps them), left out or mapped to a field, as the person chooses,
the server reading the file sent as a job with those choices; the downloads carry the
attributes as the CLI's outputs do; and only a failure a retry can fix is retried."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from playwright.sync_api import Page, Request, expect

from leadq.leadfiles import CSV_COLUMNS, crm_aliases, header_key, read_lead_file, read_leads
from tests.support.llm import answer, lead_in
from tests.support.openai_server import Reply
from tests.test_leadfiles import HUBSPOT, SALESFORCE

READ_IN_PAGE = """async ([name, bytes]) => {
  const file = await import('./web/leadfile.js');
  const columns = await import('./web/columns.js');
  const aliases = await columns.columnTable();
  const read = file.readLeads(name, new Uint8Array(bytes), {aliases});
  return [read.rows.map((r) => (r.problem === undefined ? r.lead : r.problem)), read.notes];
}"""

# (file name, bytes), read the same in the page and the CLI.
FILES = [
    (
        "semicolons-cp1252.csv",
        (
            "lead_name;company_name\r\nAnn Lee;Acme\r\nJosé García;Café Ltd\r\nZoë Müller;Œuvre\r\n"
        ).encode("cp1252"),
    ),
    ("latin1-leaves.csv", b"lead_name,company_name\nAnn\x81,Acme\xe9\n"),
    (
        "one-cp1252-row.csv",
        b"lead_name,company_name,additional_context\n"
        + 'Zoë Müller,Zürich AG,"two\nlines"\n'.encode()
        + "José García,Café Ltd,\n".encode("cp1252")
        + "Ana Núñez,Señal SA,\n".encode(),
    ),
    (
        "bom-crm.csv",
        "Lead ID,Full Name,Company\nS-1,Zoë Müller,Zürich AG\n".encode("utf-8-sig"),
    ),
    (
        "tabs.csv",
        'lead_name\tcompany_name\tannual_revenue\nAnn\tAcme, Inc.\t"1,5 Mio €"\n'.encode(),
    ),
    (
        "loose-headers.csv",
        b"Lead Name,COMPANY-NAME, job_title ,Annual.Revenue\nAnn,Acme,CTO,$1M\n",
    ),
    (
        "hubspot.csv",
        (
            ",".join(HUBSPOT)
            + "\n901,Zoë,Müller,Acme,VP Sales,250,$20M,SaaS,z@acme.example\n"
            + "902,,Cher,Globex,CEO,10,$1M,Retail,c@globex.example\n"
        ).encode(),
    ),
    (
        "pipedrive.csv",
        b"Person - ID,Person - Name,Person - Organization,Person - Email\n7,Ann,Acme,a@x.example\n",
    ),
    (
        "zoho.csv",
        b"Record Id,Last Name,First Name,Company,Designation,Website\n"
        b"z1,Lee,Ann,Acme,CTO,a.example\n",
    ),
    (
        "salesforce-data-loader.csv",
        b"Id,FirstName,LastName,Company,NumberOfEmployees,Description\n00Q1,Jo,Ray,Acme,80,Note\n",
    ),
    ("whole-name.csv", b"First Name,Full Name,Company\nJo,Jo Ann Lee,A\n"),
    ("two-companies.csv", b"Account Name,Company Name,lead_name\nParent Co,Acme,Ann\n"),
    (
        "same-crm-id.csv",
        b"Record ID,Full Name,Company\nC-1,Ann,A\nC-2,Bo,B\n C-1 ,Cy,C\n",
    ),
    (
        "salesforce-report.csv",
        (
            ",".join(SALESFORCE)
            + ",,Country, Country ,\n"
            + "00Q1,José,García,CTO,Acme,80,Web,5000000,j@a.example,IT,,DE,dup,x\n"
            + "00Q2,Ann,Lee,CEO,Globex,9,,1,a@g.example,SaaS,,,,\n"
        ).encode(),
    ),
    (
        "attributes.jsonl",
        (
            json.dumps({"lead_name": "Ann", "company_name": "A", "Owner": "Kim", "Score": 72})
            + "\n"
            + json.dumps(
                {
                    "lead_name": "Bo",
                    "company_name": "B",
                    "Owner": " ",
                    "Tags": ["x"],
                    "attributes": {"Score": 9, "Region": "EMEA"},
                }
            )
            + "\n"
        ).encode(),
    ),
    (
        "crm.jsonl",
        (
            json.dumps({"Record ID": 7, "First Name": "Zoë", "Last Name": "Müller", "Company": "A"})
            + "\n"
            + json.dumps({"lead_name": "Bo", "company_name": "B", "company_size": 40})
            + "\n{not json\n"
            + json.dumps({"Record ID": 7, "Full Name": "Again", "Company": "C"})
            + "\n"
        ).encode(),
    ),
    (
        "cp1252.jsonl",
        (
            json.dumps({"lead_name": "Ann", "company_name": "A"}, ensure_ascii=False)
            + "\n"
            + json.dumps({"lead_name": "José", "company_name": "B"}, ensure_ascii=False)
            + "\n"
        ).encode("cp1252"),
    ),
]


def read_in_page(page: Page, name: str, data: bytes) -> tuple[list[Any], list[str]]:
    rows, notes = page.evaluate(READ_IN_PAGE, [name, list(data)])
    return rows, notes


def test_the_page_reads_each_file_as_the_cli_does(web_app, open_page, tmp_path: Path) -> None:
    page = open_page(web_app()).goto("/#/batch")
    for name, data in FILES:
        path = tmp_path / name
        path.write_bytes(data)
        cli = read_lead_file(path)
        assert read_in_page(page, name, data) == (cli.rows, cli.notes), name
    assert read_leads(tmp_path / "salesforce-report.csv")[0][0]["attributes"] == {
        "Lead Source": "Web",
        "Country": "DE",
    }  # the case above keeps attributes, so both readers were compared on them


def test_headers_compare_as_the_cli_compares_them(web_app, open_page) -> None:
    page = open_page(web_app()).goto("/#/batch")
    headers = [
        "Company / Account",
        "E-mail",
        "Person - Email - Work",
        "LEAD_NAME",
        " job_title ",
        "No. of Employees",
        "Straße",
        "Ünïcödé Nàme",
        "Nº 2",
        "会社名",
        "\tTab\u00a0and NBSP",
    ]
    got = page.evaluate(
        "hs => import('./web/columns.js').then(m => hs.map((h) => m.headerKey(h)))", headers
    )
    assert got == [header_key(h) for h in headers]
    # The served table covers every header the CLI knows.
    table = page.evaluate("import('./web/columns.js').then(m => m.columnTable())")
    assert {k: name for name, keys in table.items() for k in keys} == {
        k: name for k, (name, _) in crm_aliases().items()
    }


def job_maps(requests: list[Request]) -> list[list[str]]:
    """The `map` parameters of each file sent as a job."""
    return [
        parse_qs(urlsplit(r.url).query).get("map", [])
        for r in requests
        if r.method == "POST" and urlsplit(r.url).path == "/api/jobs"
    ]


def test_a_crm_export_with_semicolons_in_windows_1252_and_the_column_choices(
    web_app, open_page, tmp_path: Path
) -> None:
    leads = tmp_path / "salesforce.csv"
    leads.write_bytes(
        (
            "Lead ID;First Name;Last Name;Title;Company / Account;No. of Employees;Industry;"
            "Lead Source;Notiz;Region\r\n"
            "00Q1;José;García;CTO;Café Ltd;80;SaaS;Webinar;Ruft zurück, Budget frei;EMEA\r\n"
            "00Q2;Zoë;Müller;VP Sales;Œuvre;250;SaaS;;Demo gewünscht;DACH\r\n"
        ).encode("cp1252")
    )
    ui = open_page(web_app())
    requests: list[Request] = []
    ui.page.on("request", lambda r: requests.append(r))
    page = ui.goto("/#/batch")
    page.locator("#batch-file").set_input_files(leads)

    mapping = page.get_by_role("region", name="Columns")
    expect(mapping).to_be_visible()
    read_as = {
        tr.get_attribute("data-column"): tr.get_attribute("data-as")
        for tr in mapping.locator("tbody tr").all()
    }
    assert read_as == {
        "Lead ID": "field",
        "First Name": "part",
        "Last Name": "part",
        "Title": "field",
        "Company / Account": "field",
        "No. of Employees": "field",
        "Industry": "field",
        "Lead Source": "attribute",
        "Notiz": "attribute",
        "Region": "attribute",
    }
    assert mapping.locator("tr[data-column='Title'] td").inner_text() == "Job title"
    warnings = page.locator("#batch-warnings")
    expect(warnings).to_contain_text("row 1 is not UTF-8: read the file as Windows-1252")
    expect(warnings).to_contain_text("kept as attributes: Lead Source, Notiz, Region")  # as the CLI

    # Only the columns leadq does not know have a choice.
    assert mapping.get_by_role("combobox").count() == 3
    mapping.get_by_label("Read column Notiz as").select_option(label="Map to Additional context")
    mapping.get_by_label("Read column Region as").select_option(label="Leave out")
    expect(warnings).to_contain_text("kept as attributes: Lead Source")
    expect(warnings).to_contain_text("left out columns: Region")
    assert mapping.locator("tr[data-column='Notiz']").get_attribute("data-as") == "field"
    ui.shot("batch-columns")

    page.get_by_role("button", name="Qualify file").click()
    page.locator("#batch-status[data-state='done']").wait_for()
    assert page.locator("#batch-status").evaluate("e => [e.dataset.ok, e.dataset.failed]") == [
        "2",
        "0",
    ]
    # The file went as it is, with the choices; the server read it as the page showed it.
    assert job_maps(requests) == [["Notiz=additional_context", "Region=ignore"]]
    expect(mapping).to_be_hidden()  # the form is ready for the next file
    job_warnings = page.locator("#batch-job-warnings")
    expect(job_warnings.locator("li")).to_have_text(
        [
            "row 1 is not UTF-8 (byte 0xE9 at offset 113): read the file as Windows-1252",
            "left out columns: Region",
        ]
    )
    assert (
        page.locator("#batch-table tbody tr[data-row='1']")
        .inner_text()
        .startswith("1\tJosé García\tCafé Ltd")
    )

    # The downloads carry the attributes as `leadq qualify` writes them: a CSV column each,
    # after the result's columns; an object on each JSONL record.
    with page.expect_download() as got:
        page.get_by_role("button", name="Download CSV").click()
    text = Path(got.value.path()).read_bytes().decode("utf-8-sig")
    out = list(csv.DictReader(io.StringIO(text, newline="")))
    assert list(out[0]) == [*CSV_COLUMNS, "Lead Source"]
    assert [r["Lead Source"] for r in out] == ["Webinar", ""]
    with page.expect_download() as got:
        page.get_by_role("button", name="Download JSONL").click()
    records = [json.loads(line) for line in Path(got.value.path()).read_text("utf-8").splitlines()]
    assert list(records[0])[:5] == ["row", "lead_id", "lead_name", "status", "attributes"]
    assert records[0]["attributes"] == {"Lead Source": "Webinar"}
    assert "attributes" not in records[1]
    stored = [f"{ui.app.url}/api/qualifications/{r['result']['qualification_id']}" for r in records]
    inputs = [httpx.get(url).json()["data"]["input"] for url in stored]
    assert [(i["lead_name"], i["company_name"], i["additional_context"]) for i in inputs] == [
        ("José García", "Café Ltd", "Ruft zurück, Budget frei"),
        ("Zoë Müller", "Œuvre", "Demo gewünscht"),
    ]
    assert [i.get("attributes") for i in inputs] == [{"Lead Source": "Webinar"}, None]


@pytest.fixture
def refusing_llm(openai_server) -> None:
    """Ann's first call gets a 503 (a retry can fix it); every other call succeeds."""
    seen: set[str] = set()

    def handler(body: dict[str, Any]) -> Reply:
        name = lead_in(body)["lead_name"]
        if name == "Ann Lee" and name not in seen:
            seen.add(name)
            return Reply(status=503)
        return answer(body)

    openai_server.handler = handler


def test_retry_is_offered_only_for_a_failure_a_retry_can_fix(
    web_app, llm_settings, refusing_llm, open_page, tmp_path: Path
) -> None:
    leads = tmp_path / "leads.jsonl"
    leads.write_text(
        json.dumps({"lead_name": "Ann Lee", "company_name": "Acme"})
        + "\n"
        + json.dumps({"lead_name": "Bo Kim", "email": "not an email", "company_name": "Globex"})
        + "\n",
        encoding="utf-8",
    )
    page = open_page(web_app(**llm_settings)).goto("/#/batch")
    page.locator("#batch-file").set_input_files(leads)
    page.get_by_role("button", name="Qualify file").click()
    page.locator("#batch-status[data-state='done']").wait_for()
    ann = page.locator("#batch-table tbody tr[data-row='1']")
    bo = page.locator("#batch-table tbody tr[data-row='2']")
    assert (ann.get_attribute("data-status"), bo.get_attribute("data-status")) == (
        "error",
        "error",
    )
    assert "provider_unavailable" in ann.inner_text()
    assert "invalid_input" in bo.inner_text()
    assert "Retry failed qualifies it again" in ann.inner_text()
    assert "Retry failed" not in bo.inner_text()  # the same input would fail the same way
    retry_all = page.locator("#batch-retry-all")
    expect(retry_all).to_have_text("Retry 1 failed row")

    retry_all.click()
    page.locator("#batch-table tbody tr[data-row='1'][data-status='ok']").wait_for()
    page.locator("#batch-status[data-state='done']").wait_for()
    expect(retry_all).to_be_hidden()
    assert bo.get_attribute("data-status") == "error"
