"""The benchmark's provider: the tests' scripted OpenAI-compatible server, answering every
request with one well-formed qualification, in a process of its own.

It runs in a subprocess so that its CPU is never counted as the client's (the server would
otherwise share the measured process and its GIL). `ProviderProcess` starts it and reads its
URL; `GET /bench/stats` on the same port returns what it saw (requests, statuses, and the
prompt tokens it reported, counted its own way: `len(json.dumps(messages)) // 4`).

Run directly: `python -m bench.provider '{"delay": 0.633}'` prints the base URL, serves until
its standard input closes."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `tests.support` lives beside `bench/`, not in the package
    sys.path.insert(0, str(ROOT))

from tests.support import openai_server  # noqa: E402 - needs the sys.path entry above
from tests.support.openai_server import Reply, ScriptedServer  # noqa: E402 - needs the sys.path entry above

# One answer that fits both schemas: leadq's (which ignores `overall_score`: it computes it)
# and the original design's (which requires it).
ANSWER: dict[str, Any] = {
    "overall_score": 0.76,
    "fit_score": 0.8,
    "budget_score": 0.7,
    "urgency_score": 0.6,
    "authority_score": 0.9,
    "confidence": 0.85,
    "recommended_action": "immediate_outreach",
    "reasoning": "Strong SaaS fit with a VP buyer, recent funding and an active evaluation.",
    "reasoning_for_action": "High scores across fit, budget and authority.",
    "key_insights": ["VP-level buyer", "Series B funding", "Pricing page visits"],
    "positive_indicators": ["Requested a demo", "Opened every email"],
    "risk_factors": ["Competitive evaluation"],
    "follow_up_questions": ["Who signs off on budget?", "What is the decision date?"],
    "suggested_messaging": "Hi, congratulations on the Series B; a 20-minute walkthrough?",
}
ANSWER_TEXT = json.dumps(ANSWER)

# Without a rate limit, the answers advertise limits that never bind. The scripted server's
# defaults (100,000 requests and 10 million tokens a minute) would: leadq paces to the
# limits it reads, and at about 1,900 tokens a request (prompt + max_completion_tokens)
# 10 million tokens a minute is 88 requests a second, below what the throughput
# measurement asks for.
UNBOUNDED = {
    f"x-ratelimit-{field}-{kind}-minute": value
    for kind, value in (("requests", "100000000"), ("tokens", "100000000000"))
    for field in ("limit", "remaining")
} | {"x-ratelimit-reset-requests-minute": "60", "x-ratelimit-reset-tokens-minute": "60"}


class BenchServer(ScriptedServer):
    """`ScriptedServer` that also counts response statuses and the prompt tokens it reported,
    and serves them at `GET /bench/stats` (`POST /bench/reset` zeroes them)."""

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__()
        self.config = config
        self.statuses: Counter[int] = Counter()
        self.prompt_tokens: list[int] = []
        self.schema_chars: list[int] = []
        self.configure()

    def configure(self) -> None:
        """Apply the config (again after a reset): the answer, and the rate limit if any."""
        self.handler = self.answer
        self.statuses.clear()
        self.prompt_tokens.clear()
        self.schema_chars.clear()
        spec = self.config.get("rate_limit")
        if spec:
            limit_class = getattr(openai_server, "RateLimit", None)
            if limit_class is None:
                raise RuntimeError("tests/support/openai_server.py has no rate-limit mode")
            self.rate_limit = limit_class(**spec)

    def answer(self, body: dict[str, Any]) -> Reply:
        """The one answer, as content or as the forced tool call the request asks for."""
        shape = body.get("response_format") or body.get("tools") or ""
        self.schema_chars.append(len(json.dumps(shape)) if shape else 0)
        seconds = float(self.config.get("stream_seconds", 0.0))
        chars = int(self.config.get("chunk_chars", 12))
        # The server pauses before each content chunk and once more before the finish chunk.
        pauses = math.ceil(len(ANSWER_TEXT) / chars) + 1
        kw: dict[str, Any] = {
            "delay": float(self.config.get("delay", 0.0)),
            "chunk_chars": chars,
            "chunk_delay": seconds / pauses if body.get("stream") else 0.0,
            "headers": {} if self.config.get("rate_limit") else self._advertised(),
        }
        if "tools" in body:
            name = body["tools"][0]["function"]["name"]
            return Reply(tool_call=(name, ANSWER_TEXT), **kw)
        return Reply(content=ANSWER_TEXT, **kw)

    def _advertised(self) -> dict[str, str]:
        """The limits the answers advertise when none is enforced: `UNBOUNDED`, or with
        `tokens_per_minute`, a generous token limit that never runs low."""
        tpm = self.config.get("tokens_per_minute")
        if not tpm:
            return UNBOUNDED
        return {
            **UNBOUNDED,
            "x-ratelimit-limit-tokens-minute": str(tpm),
            "x-ratelimit-remaining-tokens-minute": str(tpm),
        }

    def _usage(self, body: dict[str, Any], reply: Reply) -> dict[str, Any]:
        usage = super()._usage(body, reply)
        self.prompt_tokens.append(int(usage["prompt_tokens"]))
        return usage

    def stats(self) -> dict[str, Any]:
        return {
            "requests": len(self.requests),
            "completed": self.completed,
            "cancelled": self.cancelled,
            "in_flight": self.in_flight,
            "statuses": {str(k): v for k, v in self.statuses.items()},
            "prompt_tokens": list(self.prompt_tokens),
            "schema_chars": list(self.schema_chars),
            "rejected": getattr(self, "rejected", 0),
        }

    async def _app(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and path == "/bench/stats":
            await self._send_json(send, 200, self.stats())
            return
        if scope["type"] == "http" and path == "/bench/config":
            raw = b""
            while True:
                message = await receive()
                raw += message.get("body", b"")
                if not message.get("more_body"):
                    break
            self.config.update(json.loads(raw or b"{}"))
            await self._send_json(send, 200, self.config)
            return
        if scope["type"] == "http" and path == "/bench/reset":
            self.reset()
            self.configure()
            await self._send_json(send, 200, {"ok": True})
            return

        async def counting_send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                self.statuses[message["status"]] += 1
            await send(message)

        await super()._app(scope, receive, counting_send)


def serve(config: dict[str, Any]) -> None:
    """Start a `BenchServer`, print its base URL, serve until stdin closes."""
    server = BenchServer(config).start()
    sys.stdout.write(f"{server.url}\n")  # the one line ProviderProcess reads
    sys.stdout.flush()
    try:
        sys.stdin.read()
    finally:
        server.stop()


class ProviderProcess:
    """The bench server in a subprocess: `with ProviderProcess(delay=0.633) as p: p.url`."""

    def __init__(self, **config: Any) -> None:
        self.config = config
        self.url = ""
        self.proc: subprocess.Popen[str] | None = None

    def __enter__(self) -> ProviderProcess:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench.provider", json.dumps(self.config)],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        if self.proc.stdout is None:  # never with stdout=PIPE; narrows the type
            raise RuntimeError("bench provider has no stdout pipe")
        self.url = self.proc.stdout.readline().strip()
        if not self.url.startswith("http"):
            self.__exit__()
            raise RuntimeError(f"bench provider did not start: {self.url!r}")
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is None:
            return
        if self.proc.stdin:
            self.proc.stdin.close()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    @property
    def root(self) -> str:
        return self.url.removesuffix("/v1")

    def stats(self) -> dict[str, Any]:
        return httpx.get(f"{self.root}/bench/stats", timeout=30).json()

    def reset(self) -> None:
        httpx.post(f"{self.root}/bench/reset", timeout=30)

    def set(self, **config: Any) -> None:
        """Change the answers' shape (delay, stream_seconds, ...) from now on."""
        httpx.post(f"{self.root}/bench/config", json=config, timeout=30).raise_for_status()

    def cpu_seconds(self) -> float:
        """CPU time the provider process has used so far (user + system)."""
        if self.proc is None:
            raise RuntimeError("bench provider is not running")
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_http(url: str, seconds: float = 30.0) -> None:
    """Wait until `url` answers (any status), or raise."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            httpx.get(url, timeout=2)
            return
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} did not come up") from None
            time.sleep(0.1)


if __name__ == "__main__":
    serve(json.loads(sys.argv[1]) if len(sys.argv) > 1 else {})
