"""Errors at the edge, over real HTTP: an unexpected error is a JSON 500 that leaves the
keep-alive connection usable and is logged with the request's id; a body cut short is
named as the body (with the byte), not as a field called "17"."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from leadq.config import Settings
from leadq.observability.logs import request_id
from tests.api.conftest import LiveApp


class _Ids(logging.Handler):
    """Each record of `leadq.api` with the request id in force when it was logged."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[str, str | None]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.seen.append((record.getMessage(), request_id.get()))


@pytest.fixture
def broken_app(tmp_path: Path) -> Iterator[LiveApp]:
    """The real app with one more route, which fails as a bug would."""
    app = LiveApp(Settings(_env_file=None, provider="rules", data_dir=tmp_path))

    async def boom() -> dict[str, Any]:
        raise RuntimeError("a bug")

    app.app.add_api_route("/api/boom", boom)
    app.start()
    yield app
    app.stop()


def test_a_500_is_json_and_the_connection_stays_usable(broken_app: LiveApp) -> None:
    ids = _Ids()
    logging.getLogger("leadq.api").addHandler(ids)
    try:
        with broken_app.client() as api:
            failed = api.get("/api/boom", headers={"X-Request-ID": "req-boom-1"})
            # the same kept-alive connection: it used to be dropped after a 500
            after = api.get("/api/leads/health")
    finally:
        logging.getLogger("leadq.api").removeHandler(ids)
    assert failed.status_code == 500
    assert failed.json()["error"] == {
        "code": "internal_error",
        "message": "internal error; see the server log",
        "retryable": False,
    }
    assert failed.headers["X-Request-ID"] == "req-boom-1"
    assert failed.headers.get("connection", "keep-alive") != "close"
    assert after.status_code == 200
    assert ("unexpected error on GET /api/boom", "req-boom-1") in ids.seen


@pytest.mark.parametrize(
    ("body", "byte"),
    [(b'{"lead_name": "Dana', 14), (b'{"lead_name": "Dana", "company_name": "Acme"', 44)],
)
def test_a_body_cut_short_is_named_as_the_body(
    live_app: Any, tmp_path: Path, body: bytes, byte: int
) -> None:
    app = live_app(provider="rules", data_dir=tmp_path)
    with app.client() as api:
        answer = api.post(
            "/api/leads/qualify", content=body, headers={"content-type": "application/json"}
        )
    assert answer.status_code == 422
    (field,) = answer.json()["error"]["fields"]
    assert field["field"] == "body"
    assert field["message"].startswith("body is not valid JSON")
    assert field["message"].endswith(f"at byte {byte}")
