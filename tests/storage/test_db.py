"""Engines: JSON columns take `JSONText` as it is, and everything else through `json.dumps`."""

from __future__ import annotations

import json

from sqlalchemy import select

from leadq.backends.rules_engine import RulesBackend
from leadq.config import Settings
from leadq.core.lead import LeadInput
from leadq.storage.db import JSONText, _to_json
from leadq.storage.models import Qualification
from leadq.storage.store import Store


def test_json_text_is_not_encoded_again() -> None:
    assert _to_json(JSONText('{"a":1}')) == '{"a":1}'
    assert _to_json('{"a":1}') == json.dumps('{"a":1}')  # a plain string is a JSON string
    assert _to_json({"ü": [1, None]}) == json.dumps({"ü": [1, None]})


def test_stored_json_text_reads_back_as_the_model_dump(store: Store) -> None:
    lead = LeadInput.parse(
        {"lead_name": "Zoë Müller", "company_name": 'Krönert "KG"', "job_title": "社長"}
    )
    result = RulesBackend(Settings()).qualify_now(lead)
    ((_, qid),) = store.save([(lead, result)])
    with store.session() as s:
        stored_input, stored_result = s.execute(
            select(Qualification.input, Qualification.result).where(Qualification.id == qid)
        ).one()
    assert stored_input == lead.model_dump(mode="json", exclude_none=True)
    assert stored_result == result.model_dump(mode="json", exclude={"qualification_id", "lead_ref"})
