"""Reading lead files as CRMs write them: encodings, delimiters, CRM column headers, an
explicit column map, and the same CRM id on two rows."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from leadq.core.lead import LEAD_FIELDS, LeadInput
from leadq.leadfiles import (
    CSV_COLUMNS,
    EXPORT_COLUMNS,
    MAP_FIELDS,
    LeadFileError,
    crm_aliases,
    header_key,
    job_record,
    open_output,
    parse_mapping,
    read_lead_file,
    read_leads,
    safe_cell,
    sniff_delimiter,
    write_records,
)


def _file(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _csv(tmp_path: Path, text: str, encoding: str = "utf-8", name: str = "leads.csv") -> Path:
    return _file(tmp_path, name, text.encode(encoding))


# --- Encodings -----------------------------------------------------------------------------


def test_a_windows_1252_file_is_read_with_its_accents_and_a_warning_naming_the_row(
    tmp_path: Path,
) -> None:
    path = _csv(
        tmp_path,
        "lead_name;company_name\r\nAnn Lee;Acme\r\nJosé García;Café Ltd\r\nZoë Müller;Œuvre\r\n",
        "cp1252",
    )
    rows, warnings = read_leads(path)
    assert [r["lead_name"] for r in rows] == ["Ann Lee", "José García", "Zoë Müller"]
    assert rows[2]["company_name"] == "Œuvre"  # 0x8C: a character of cp1252, not Latin-1
    [warning] = warnings
    assert warning.startswith("row 2 is not UTF-8")
    assert "Windows-1252" in warning
    assert "byte 0xE9" in warning


def test_bytes_cp1252_leaves_undefined_are_read_as_latin_1(tmp_path: Path) -> None:
    path = _file(tmp_path, "leads.csv", b"lead_name,company_name\nAnn\x81,Acme\xe9\n")
    rows, _ = read_leads(path)
    assert rows == [{"lead_name": "Ann\x81", "company_name": "Acmeé"}]


def test_one_windows_1252_row_in_a_utf8_file_keeps_every_rows_accents(tmp_path: Path) -> None:
    path = _file(
        tmp_path,
        "leads.csv",
        b"lead_name,company_name,additional_context\n"
        + 'Zoë Müller,Zürich AG,"two\nlines"\n'.encode()
        + "José García,Café Ltd,\n".encode("cp1252")
        + "Ana Núñez,Señal SA,\n".encode(),
    )
    rows, warnings = read_leads(path)
    assert [r["lead_name"] for r in rows] == ["Zoë Müller", "José García", "Ana Núñez"]
    assert [r["company_name"] for r in rows] == ["Zürich AG", "Café Ltd", "Señal SA"]
    # Row 2 is on line 4: row 1 spans two lines.
    assert len(warnings) == 1
    assert warnings[0].startswith("row 2 is not UTF-8")
    assert "the rest of the file as UTF-8" in warnings[0]


def test_utf8_with_a_byte_order_mark_and_crm_headers(tmp_path: Path) -> None:
    path = _csv(tmp_path, "Lead ID,Full Name,Company\nS-1,Zoë Müller,Zürich AG\n", "utf-8-sig")
    rows, warnings = read_leads(path)
    assert rows == [{"lead_id": "S-1", "lead_name": "Zoë Müller", "company_name": "Zürich AG"}]
    assert warnings == []


def test_a_row_that_cannot_be_decoded_is_that_rows_error_and_the_rest_is_read(
    tmp_path: Path,
) -> None:
    # UTF-16 with a byte-order mark (Excel's "Unicode text"), one row with a lone surrogate.
    head = b"\xff\xfe" + "lead_name\tcompany_name\nZoë\tA\n".encode("utf-16-le")
    bad = b"\x00\xd8" + "x\tB\n".encode("utf-16-le")
    path = _file(tmp_path, "leads.csv", head + bad + "Cy\tC\n".encode("utf-16-le"))
    rows, _ = read_leads(path)
    assert rows[0] == {"lead_name": "Zoë", "company_name": "A"}
    assert rows[1] == f"row 2 cannot be decoded (byte offset {len(head)})"
    assert rows[2] == {"lead_name": "Cy", "company_name": "C"}


def test_jsonl_in_windows_1252_names_the_line(tmp_path: Path) -> None:
    lines = [{"lead_name": "Ann", "company_name": "A"}, {"lead_name": "José", "company_name": "B"}]
    text = "".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines)
    rows, warnings = read_leads(_csv(tmp_path, text, "cp1252", name="leads.jsonl"))
    assert rows[1]["lead_name"] == "José"
    assert warnings[0].startswith("line 2 is not UTF-8")


# --- Delimiters ----------------------------------------------------------------------------


@pytest.mark.parametrize("delimiter", [";", "\t"])
def test_semicolon_and_tab_files_are_read(tmp_path: Path, delimiter: str) -> None:
    text = delimiter.join(["lead_name", "company_name", "annual_revenue"]) + "\n"
    text += delimiter.join(["Ann", "Acme, Inc.", '"1,5 Mio €"']) + "\n"
    rows, warnings = read_leads(_csv(tmp_path, text))
    assert rows == [
        {"lead_name": "Ann", "company_name": "Acme, Inc.", "annual_revenue": "1,5 Mio €"}
    ]
    assert warnings == []


def test_the_delimiter_is_the_one_the_header_holds_most_of() -> None:
    assert sniff_delimiter("Name;Company, Inc.;Title\r\n") == ";"
    assert sniff_delimiter('"Last, First";"Company"\n') == ";"
    assert sniff_delimiter("lead_name\tcompany_name\n") == "\t"
    assert sniff_delimiter("lead_name\n") == ","


# --- Columns -------------------------------------------------------------------------------


def test_headers_match_without_case_spacing_or_punctuation(tmp_path: Path) -> None:
    path = _csv(tmp_path, "Lead Name,COMPANY-NAME, job_title ,Annual.Revenue\nAnn,Acme,CTO,$1M\n")
    rows, warnings = read_leads(path)
    assert rows == [
        {"lead_name": "Ann", "company_name": "Acme", "job_title": "CTO", "annual_revenue": "$1M"}
    ]
    assert warnings == []
    assert header_key("Lead Name") == header_key("lead-name") == header_key("LEAD_NAME")


HUBSPOT = [
    "Record ID",
    "First Name",
    "Last Name",
    "Company Name",
    "Job Title",
    "Number of Employees",
    "Annual Revenue",
    "Industry",
    "Email",
]
SALESFORCE = [
    "Lead ID",
    "First Name",
    "Last Name",
    "Title",
    "Company / Account",
    "No. of Employees",
    "Lead Source",
    "Annual Revenue",
    "Email",
    "Industry",
]


def test_hubspot_export_headers(tmp_path: Path) -> None:
    values = ["901", "Zoë", "Müller", "Acme", "VP Sales", "250", "$20M", "SaaS", "z@acme.example"]
    path = _csv(tmp_path, ",".join(HUBSPOT) + "\n" + ",".join(values) + "\n")
    rows, warnings = read_leads(path)
    assert rows == [
        {
            "lead_id": "901",
            "company_name": "Acme",
            "job_title": "VP Sales",
            "company_size": "250",
            "annual_revenue": "$20M",
            "industry": "SaaS",
            "email": "z@acme.example",
            "lead_name": "Zoë Müller",
        }
    ]
    assert warnings == []


def test_salesforce_report_headers_and_the_unknown_column_after_mapping(tmp_path: Path) -> None:
    values = ["00Q1", "José", "García", "CTO", "Acme", "80", "Web", "5000000", "j@a.example", "IT"]
    path = _csv(tmp_path, ",".join(SALESFORCE) + "\n" + ",".join(values) + "\n")
    rows, warnings = read_leads(path)
    assert rows[0]["lead_id"] == "00Q1"
    assert rows[0]["lead_name"] == "José García"
    assert rows[0]["company_name"] == "Acme"
    assert rows[0]["job_title"] == "CTO"
    assert rows[0]["company_size"] == "80"
    assert rows[0]["attributes"] == {"Lead Source": "Web"}
    assert warnings == []


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        # Pipedrive people export
        (
            ["Person - ID", "Person - Name", "Person - Organization", "Person - Email"],
            ["lead_id", "lead_name", "company_name", "email"],
        ),
        # Zoho leads export
        (
            ["Record Id", "Last Name", "First Name", "Company", "Designation", "Website"],
            ["lead_id", "lead_name", "company_name", "job_title", "website"],
        ),
        # Salesforce Data Loader
        (
            ["Id", "FirstName", "LastName", "Company", "NumberOfEmployees", "Description"],
            ["lead_id", "lead_name", "company_name", "company_size", "additional_context"],
        ),
    ],
)
def test_other_crm_exports(tmp_path: Path, header: list[str], expected: list[str]) -> None:
    values = [f"v{i}" for i in range(len(header))]
    rows, warnings = read_leads(_csv(tmp_path, ",".join(header) + "\n" + ",".join(values) + "\n"))
    assert sorted(rows[0]) == sorted(expected)
    assert warnings == []


def test_first_and_last_name_join_only_without_a_whole_name(tmp_path: Path) -> None:
    both = _csv(tmp_path, "Last Name,First Name,Company\nGarcía,José,A\n,Cher,B\n,,C\n")
    rows, _ = read_leads(both)
    assert [r.get("lead_name") for r in rows] == ["José García", "Cher", None]
    whole = _csv(tmp_path, "First Name,Full Name,Company\nJo,Jo Ann Lee,A\n", name="whole.csv")
    rows, warnings = read_leads(whole)
    assert rows == [{"lead_name": "Jo Ann Lee", "company_name": "A"}]
    assert warnings == [
        "ignored columns that repeat a field: First Name (lead_name is read from Full Name)"
    ]


def test_two_columns_for_one_field_read_the_better_known_one(tmp_path: Path) -> None:
    path = _csv(tmp_path, "Account Name,Company Name,lead_name\nParent Co,Acme,Ann\n")
    rows, warnings = read_leads(path)
    assert rows == [{"company_name": "Acme", "lead_name": "Ann"}]
    assert warnings == [
        "ignored columns that repeat a field: Account Name (company_name is read from Company Name)"
    ]


def test_an_explicit_map_wins_over_the_built_in_names(tmp_path: Path) -> None:
    path = _csv(tmp_path, "Company Name,Firma,Kontakt,Nr\nWrong,Right,Ann,K-1\n")
    mapping = {"firma": "Company Name", "Kontakt": "lead_name", "Nr": "lead_id"}
    rows, warnings = read_leads(path, mapping=mapping)
    assert rows == [{"company_name": "Right", "lead_name": "Ann", "lead_id": "K-1"}]
    assert warnings == [
        "ignored columns that repeat a field: Company Name (company_name is read from Firma)"
    ]


def test_an_explicit_map_to_name_parts_wins_over_a_built_in_whole_name(tmp_path: Path) -> None:
    path = _csv(tmp_path, "Name,Vorname,Nachname,Firma\nAcme,Zoë,Müller,Acme\n")
    mapping = {"Vorname": "first_name", "Nachname": "last_name", "Firma": "company_name"}
    rows, _ = read_leads(path, mapping=mapping)
    assert rows == [{"company_name": "Acme", "lead_name": "Zoë Müller"}]


def test_a_mapped_column_the_file_lacks_is_a_warning(tmp_path: Path) -> None:
    path = _csv(tmp_path, "lead_name,company_name\nAnn,A\n")
    _, warnings = read_leads(path, mapping={"Org": "company_name"})
    assert warnings == ["no column 'Org' in the file (mapped to company_name)"]


def test_a_column_mapped_to_ignore_is_left_out_with_a_warning(tmp_path: Path) -> None:
    path = _csv(tmp_path, "lead_name,Company,Region,Owner,Notes\nAnn,Acme,EMEA,Kim,hi\n")
    mapping = {"Company": "ignore", "region": "IGNORE", "Notes": "ignore", "Gone": "ignore"}
    read = read_lead_file(path, mapping=mapping)
    assert read.rows == [{"lead_name": "Ann", "attributes": {"Owner": "Kim"}}]
    assert read.warnings == [
        "left out columns: Company, Region, Notes",
        "no column 'Gone' in the file (to be left out)",
    ]
    assert read.notes == ["kept as attributes: Owner"]
    line = {"lead_name": "Bo", "Region": "DACH", "Owner": "Lu"}
    path = _file(tmp_path, "leads.jsonl", (json.dumps(line) + "\n").encode())
    read = read_lead_file(path, mapping={"Region": "ignore"})
    assert read.rows == [{"lead_name": "Bo", "attributes": {"Owner": "Lu"}}]
    assert read.warnings == ["line 1: left out keys: Region"]


def test_an_unknown_target_field_is_an_error_listing_the_fields(tmp_path: Path) -> None:
    path = _csv(tmp_path, "lead_name,company_name\nAnn,A\n")
    with pytest.raises(LeadFileError) as exc:
        read_leads(path, mapping={"Org": "organisation"})
    message = str(exc.value)
    assert "'organisation'" in message
    assert all(name in message for name in MAP_FIELDS)


def test_parse_mapping() -> None:
    assert parse_mapping(["Company / Account = company_name", "a=b=lead_id"]) == {
        "Company / Account": "company_name",
        "a=b": "lead_id",
    }
    for bad in (["Org"], ["=lead_id"], ["Org="]):
        with pytest.raises(LeadFileError, match="Column=field"):
            parse_mapping(bad)
    with pytest.raises(LeadFileError, match="mapped twice"):
        parse_mapping(["Org=company_name", "Org=industry"])


def test_jsonl_keys_are_mapped_as_csv_headers_are(tmp_path: Path) -> None:
    line = {"Record ID": 7, "First Name": "Zoë", "Last Name": "Müller", "Company": "A", "x": 1}
    path = _file(tmp_path, "leads.jsonl", (json.dumps(line) + "\n").encode())
    rows, warnings = read_leads(path, mapping={"x": "company_size"})
    assert rows == [
        {"lead_id": 7, "company_name": "A", "company_size": 1, "lead_name": "Zoë Müller"}
    ]
    assert warnings == []


def test_the_alias_table_maps_onto_lead_fields_only() -> None:
    aliases = crm_aliases()
    assert {field for field, _ in aliases.values()} == set(MAP_FIELDS)
    assert all(aliases[header_key(name)] == (name, -1) for name in LEAD_FIELDS)
    for header in (*HUBSPOT, *SALESFORCE, "Contact ID", "Deal ID"):
        if header != "Lead Source":
            assert header_key(header) in aliases, header


# --- Duplicate CRM ids ---------------------------------------------------------------------


def test_the_same_crm_id_on_two_rows_is_reported_and_the_later_rows_refused(
    tmp_path: Path,
) -> None:
    path = _csv(
        tmp_path,
        "Record ID,lead_name,company_name\n"
        "A-1,Ann,X\n,No Id,Y\n A-1 ,Bob,Z\nB-2,Cy,W\n,Also No Id,V\nA-1,Dee,U\n",
    )
    rows, warnings = read_leads(path)
    assert rows[0]["lead_name"] == "Ann"
    assert rows[2] == "lead_id A-1 already on row 1"
    assert rows[5] == "lead_id A-1 already on row 1"
    assert [r["lead_name"] for r in rows if isinstance(r, dict)] == [
        "Ann",
        "No Id",
        "Cy",
        "Also No Id",
    ]
    [warning] = warnings
    assert warning.startswith("lead_id A-1 is on rows 1, 3, 6:")


def test_the_same_crm_id_on_two_jsonl_lines(tmp_path: Path) -> None:
    text = '{"lead_id": 5, "lead_name": "A", "company_name": "B"}\n\n'
    text += '{"lead_id": "5", "lead_name": "C", "company_name": "D"}\n'
    rows, warnings = read_leads(_csv(tmp_path, text, name="leads.jsonl"))
    assert rows[1] == "lead_id 5 already on line 1"
    assert warnings[0].startswith("lead_id 5 is on lines 1, 3:")


# --- Writing -------------------------------------------------------------------------------

# (cell, as written): text a spreadsheet would run as a formula gets a leading quote; plain
# numbers (scores, costs) and all other text stay as they are.
CSV_CELLS = [
    ('=HYPERLINK("http://x","y")', '\'=HYPERLINK("http://x","y")'),
    ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
    ("-2+3", "'-2+3"),
    ("@SUM(A1)", "'@SUM(A1)"),
    ("\t=1+1", "'\t=1+1"),
    ("\r=1+1", "'\r=1+1"),
    ("=", "'="),
    ("-", "'-"),
    ("- call back next week", "'- call back next week"),
    ("+49 30 123456", "'+49 30 123456"),  # a phone number is not a plain number
    ("-1,5", "'-1,5"),
    ("-inf", "'-inf"),
    ("-1e", "'-1e"),
    ("-\u0663", "'-\u0663"),  # an Arabic-Indic digit: not 0-9
    ("-0.25", "-0.25"),
    ("+3", "+3"),
    ("1e5", "1e5"),
    ("-1.5E-3", "-1.5E-3"),
    ("-.5", "-.5"),
    ("-5.", "-5."),
    (" =1+1", " =1+1"),  # a leading space makes it text
    ("a=1+1", "a=1+1"),
    ("'=1+1", "'=1+1"),
    ("Zoë Müller", "Zoë Müller"),
    ("", ""),
]


@pytest.mark.parametrize(("cell", "written"), CSV_CELLS)
def test_a_cell_a_spreadsheet_would_run_gets_a_leading_quote(cell: str, written: str) -> None:
    assert safe_cell(cell) == written


def test_values_that_are_not_text_are_written_as_they_are() -> None:
    assert [safe_cell(v) for v in (-0.25, -3, None, True)] == [-0.25, -3, None, True]


def _result(**fields: Any) -> dict[str, Any]:
    """A stored result's fields, as `write_records` reads them."""
    return {
        "qualification_id": 7,
        "overall_score": 0.25,
        "recommended_action": "nurture",
        "reasoning": "fine",
        "key_insights": ["a", "b"],
        "flags": [],
        "usage": {"input_tokens": 3, "output_tokens": 5},
        "cost_usd": -0.5,
        **fields,
    }


def test_csv_output_neutralises_formulas_in_every_cell_and_keeps_numbers(
    tmp_path: Path,
) -> None:
    lead = {"lead_name": '=HYPERLINK("http://x","y")', "company_name": "@SUM(A1)"}
    record = job_record(
        1,
        lead,
        "done",
        _result(lead_id="-2+3", reasoning="+cmd|' /C calc'!A0", key_insights=["-a", "b"]),
    )
    path = tmp_path / "out.csv"
    with open_output(path, "csv") as fh:
        write_records(fh, "csv", [record], [lead])
    with path.open(encoding="utf-8", newline="") as fh:
        [row] = list(csv.DictReader(fh))
    assert row["lead_name"] == '\'=HYPERLINK("http://x","y")'
    assert row["company_name"] == "'@SUM(A1)"
    assert row["lead_id"] == "'-2+3"
    assert row["reasoning"] == "'+cmd|' /C calc'!A0"
    assert row["key_insights"] == "'-a | b"
    assert (float(row["overall_score"]), float(row["cost_usd"])) == (0.25, -0.5)
    assert row["input_tokens"] == "3"


@pytest.mark.parametrize(
    ("name", "fmt", "excel", "bom"),
    [
        ("out.csv", "csv", True, True),
        ("out.csv", "csv", False, False),
        ("out.jsonl", "jsonl", True, False),
    ],
)
def test_excel_output_opens_with_a_byte_order_mark_on_csv_only(
    tmp_path: Path, name: str, fmt: str, excel: bool, bom: bool
) -> None:
    lead = {"lead_name": "Zoë Müller", "company_name": "Œuvre"}
    path = tmp_path / name
    with open_output(path, fmt, excel=excel) as fh:
        write_records(fh, fmt, [job_record(1, lead, "done", _result())], [lead])
    data = path.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf") is bom
    text = data.decode("utf-8-sig")
    assert "Zoë Müller" in text
    if fmt == "csv":
        assert text.splitlines()[0] == ",".join(CSV_COLUMNS)
    else:
        assert json.loads(text)["lead_name"] == "Zoë Müller"


# --- Attributes ----------------------------------------------------------------------------


def test_columns_that_are_no_field_are_kept_as_attributes_in_file_order(tmp_path: Path) -> None:
    path = _csv(
        tmp_path,
        "Lead Source,lead_name,Country,company_name,Score (HubSpot)\n"
        "Webinar,Ann Lee,DE,Acme,72\n"
        ", Bo Chan ,  ,Beta,-3\n",
    )
    read = read_lead_file(path)
    assert read.rows == [
        {
            "lead_name": "Ann Lee",
            "company_name": "Acme",
            "attributes": {"Lead Source": "Webinar", "Country": "DE", "Score (HubSpot)": "72"},
        },
        {"lead_name": " Bo Chan ", "company_name": "Beta", "attributes": {"Score (HubSpot)": "-3"}},
    ]
    assert read.attributes == ("Lead Source", "Country", "Score (HubSpot)")
    assert read.notes == ["kept as attributes: Lead Source, Country, Score (HubSpot)"]
    assert read.warnings == []
    assert LeadInput.parse(read.rows[0]).attributes == read.rows[0]["attributes"]


def test_past_fifty_extra_columns_the_rest_are_named_in_a_warning(tmp_path: Path) -> None:
    extra = [f"c{i}" for i in range(1, 53)]
    path = _csv(
        tmp_path,
        ",".join(["lead_name", "company_name", *extra, " ", "c1"])
        + "\n"
        + ",".join(["A", "B", *(f"v{i}" for i in range(1, 55))])
        + "\n",
    )
    read = read_lead_file(path)
    assert read.attributes == tuple(extra[:50])
    assert read.rows[0]["attributes"] == {f"c{i}": f"v{i}" for i in range(1, 51)}
    assert read.warnings == [
        "ignored columns past the first 50 kept as attributes: c51, c52",
        "ignored columns that cannot be attributes: column 55 (no name); "
        "c1 (column 56: column 3 has that name)",
    ]
    assert LeadInput.parse(read.rows[0]).attributes is not None


def test_jsonl_keys_that_are_no_field_keep_their_types(tmp_path: Path) -> None:
    lines = [
        {"lead_name": "A", "company_name": "B", "Score": 72, "Opted in": True, "Owner": "Jo"},
        {"lead_name": "C", "company_name": "D", "Score": None, "Owner": " ", "Tags": ["x"]},
        {"lead_name": "E", "company_name": "F", "Region": "EU", "attributes": {"Tier": 1}},
    ]
    path = _file(tmp_path, "leads.jsonl", "\n".join(map(json.dumps, lines)).encode())
    read = read_lead_file(path)
    assert [r.get("attributes") for r in read.rows] == [
        {"Score": 72, "Opted in": True, "Owner": "Jo"},
        None,
        {"Region": "EU", "Tier": 1},
    ]
    assert read.notes == ["kept as attributes: Score, Opted in, Owner, Tags, Region, Tier"]
    assert read.warnings == [
        "ignored keys holding an object or a list (an attribute is text or a number): "
        "Tags (first on line 2)"
    ]
    assert LeadInput.parse(read.rows[0]).attributes == {
        "Score": 72,
        "Opted in": "true",
        "Owner": "Jo",
    }


def test_an_over_long_note_is_no_row_error(tmp_path: Path) -> None:
    header = "lead_name,company_name,Call Summary,engagement_history\n"
    path = _csv(tmp_path, header + f"A,B,{'n' * 2000},{'e' * 10_000}\n")
    [row] = read_lead_file(path).rows
    lead = LeadInput.parse(row)
    assert lead.truncated == ("engagement_history", "attributes.Call Summary")


def test_csv_output_has_the_attribute_columns_after_its_own_in_input_order(
    tmp_path: Path,
) -> None:
    attributes = {"status": "hot", "Country": "=1+1"}  # "status" is an output column too
    leads: list[dict[str, Any]] = [
        {"lead_name": "A", "company_name": "B", "attributes": attributes},
        {"lead_name": "C", "company_name": "D"},
    ]
    records = [
        job_record(1, leads[0], "done", _result()),
        job_record(2, leads[1], "done", _result()),
    ]
    assert records[0]["attributes"] == attributes
    assert "attributes" not in records[1]
    path = tmp_path / "out.csv"
    with open_output(path, "csv") as fh:
        write_records(fh, "csv", records, leads, attributes=("Country", "status"))
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        rows = list(reader)
    assert reader.fieldnames == [*CSV_COLUMNS, "Country", "attributes.status"]
    assert [(r["Country"], r["attributes.status"], r["status"]) for r in rows] == [
        ("'=1+1", "hot", "ok"),
        ("", "", "ok"),
    ]


def test_export_writes_the_attributes_as_one_json_column(tmp_path: Path) -> None:
    record = {
        "row": 1,
        "lead_id": "L-1",
        "lead_name": "A",
        "company_name": "B",
        "status": "ok",
        "attributes": {"Country": "DE", "Score (HubSpot)": 72},
        "result": _result(),
    }
    path = tmp_path / "export.csv"
    with open_output(path, "csv") as fh:
        write_records(fh, "csv", [record], columns=EXPORT_COLUMNS)
    with path.open(encoding="utf-8", newline="") as fh:
        [row] = list(csv.DictReader(fh))
    assert list(row)[-1] == "attributes"
    assert json.loads(row["attributes"]) == record["attributes"]
