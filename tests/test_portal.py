"""The sync API's private loop: closing it (or the interpreter exiting) finalizes what lives on
it, so a plain script on an LLM provider exits without "Unclosed client session"."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
from collections.abc import AsyncIterator
from pathlib import Path

from leadq.portal import Portal
from tests.support.llm import answer
from tests.support.openai_server import ScriptedServer

SCRIPT = """
import leadq

lead = {"lead_name": "John Doe", "company_name": "Acme Corp", "job_title": "VP Sales"}
print(leadq.get_qualifier().qualify_lead(lead)["overall_score"])
# A second qualifier, never closed: its own loop and HTTP session.
print(len(leadq.LeadQualifier().qualify_leads_batch([lead, lead])))
"""


def test_a_script_on_an_llm_exits_without_unclosed_sessions(
    openai_server: ScriptedServer, tmp_path: Path
) -> None:
    openai_server.handler = lambda body: answer(body)
    env = {
        **os.environ,
        "LEADQ_PROVIDER": "openai",
        "OPENAI_BASE_URL": openai_server.url,
        "OPENAI_API_KEY": "x",
        "LEADQ_DATABASE_URL": f"sqlite:///{tmp_path / 'leadq.db'}",
        "LEADQ_DATA_DIR": str(tmp_path),
    }
    run = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["0.755", "2"]
    assert len(openai_server.requests) == 3  # the provider really answered each lead
    assert "Unclosed" not in run.stderr
    assert "Traceback" not in run.stderr


def test_close_finalizes_the_loops_async_generators_and_ends_its_thread() -> None:
    finalized = threading.Event()

    async def keeper() -> AsyncIterator[None]:
        try:
            yield
        finally:
            await asyncio.sleep(0)  # it still runs on a live loop
            finalized.set()

    kept: list[AsyncIterator[None]] = []

    async def start() -> threading.Thread:
        kept.append(keeper())  # held and left suspended, as the LLM backend's session keeper
        await anext(kept[0])
        return threading.current_thread()

    portal = Portal()
    thread = portal.call(start())
    assert thread.name == "leadq-portal"
    portal.close()
    assert finalized.is_set()
    assert not thread.is_alive()
    assert portal.call(asyncio.sleep(0, result=42)) == 42  # a later call gets a new loop
    portal.close()
