"""`GET /api/lead-columns`: the CLI's table of column headers (data/crm_columns.toml), served
to the page so that both read a CRM's file with one table."""

from __future__ import annotations

from typing import Any

from leadq.leadfiles import MAP_FIELDS, crm_aliases, header_key


def test_the_page_gets_the_clis_header_table_without_a_key(live_app: Any) -> None:
    with live_app(provider="rules", api_keys="k-1").client() as api:
        got = api.get("/api/lead-columns")
    assert got.status_code == 200  # package data, needed before any lead is sent
    table = got.json()["data"]
    assert sorted(table) == sorted(MAP_FIELDS)
    assert all(keys[0] == header_key(name) for name, keys in table.items())  # own name first
    served = {key: name for name, keys in table.items() for key in keys}
    assert served == {key: name for key, (name, _) in crm_aliases().items()}
    assert table["company_name"].index("companyname") < table["company_name"].index("company")
    assert served[header_key("Person - First name")] == "first_name"
