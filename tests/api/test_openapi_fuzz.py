"""Property-based run over the OpenAPI document: whatever schemathesis sends (valid or not),
the service never answers 5xx."""

from __future__ import annotations

import tempfile
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, settings

from leadq.api.app import create_app
from leadq.config import Settings

_db = Path(tempfile.mkdtemp(prefix="leadq-fuzz-")) / "fuzz.db"
app = create_app(
    Settings(  # type: ignore[call-arg]
        _env_file=None,
        provider="rules",
        api_keys=None,
        database_url=f"sqlite:///{_db}",
        allowed_hosts="testserver",  # the Host an in-process ASGI client sends
    )
)
schema = schemathesis.openapi.from_asgi("/openapi.json", app)


@schema.parametrize()
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors(case) -> None:
    response = case.call()
    assert response.status_code < 500, (case.path, response.status_code, response.text[:300])
