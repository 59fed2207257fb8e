"""Client CPU a request of the Messages API model step: leadq's own (`AnthropicMessages`, one
POST over aiohttp) beside the official `anthropic` SDK (`AsyncAnthropic.messages.create`, and
`messages.stream` for streams), both sending leadq's real prompt and answer schema to the
tests' scripted Messages API server, which runs in a process of its own so that its CPU is
never counted as the client's.

    .venv/bin/python -m bench.anthropic_sdk                  # 500 requests, 16 in flight, x3
    .venv/bin/python -m bench.anthropic_sdk --smoke          # seconds: the code still runs

Prints `time.process_time()` of this process per request (µs), whole answers and streams, the
median and best of the runs for each client, the two sides run in turn on the same server.
Needs the `anthropic` package (`pip install anthropic`); without it, it says so and exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `tests.support` lives beside `bench/`, not in the package
    sys.path.insert(0, str(ROOT))

from tests.support.anthropic_server import Reply, ScriptedServer  # noqa: E402 - after sys.path

from bench.provider import ANSWER_TEXT  # noqa: E402 - after the sys.path entry above

LEAD = {
    "lead_id": "B-1",
    "lead_name": "Maria Chen",
    "company_name": "Northwind Analytics",
    "industry": "SaaS",
    "company_size": "100-500",
    "annual_revenue": "$25M",
    "job_title": "VP Revenue Operations",
    "engagement_history": "Visited pricing 3x, requested a demo",
    "additional_context": "Series B, evaluating vendors this quarter",
}
MODEL = "claude-haiku-4-5"
Request = Callable[[], Awaitable[str]]


# ---- the provider, in a process of its own ------------------------------------------------


def serve() -> None:
    """Serve the one answer (text, streamed in 12-character deltas when asked) until standard
    input closes; print the base URL first."""
    server = ScriptedServer()
    server.handler = lambda body: Reply(text=ANSWER_TEXT)
    server.start()
    print(server.url, flush=True)  # noqa: T201 - the parent reads the URL from here
    sys.stdin.read()
    server.stop()


@contextmanager
def provider() -> Iterator[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.anthropic_sdk", "--serve"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        url = proc.stdout.readline().strip() if proc.stdout is not None else ""
        if not url.startswith("http"):
            raise RuntimeError("the scripted Messages API server did not start")
        yield url
    finally:
        if proc.stdin is not None:
            proc.stdin.close()
        proc.wait(10)


# ---- the two clients ----------------------------------------------------------------------


def request_parts() -> tuple[dict[str, Any], Any]:
    """leadq's request fields (model, budget, temperature, `output_config`) and the prompt
    of the example lead, as the chain builds them."""
    from leadq.chain.preprocess import Preprocess
    from leadq.chain.prompt import PromptStep, build_prompt, load_prompt
    from leadq.core.profile import default_profile
    from leadq.providers.catalog import providers
    from leadq.wire.anthropic_messages import AnthropicMessages
    from leadq.wire.step import CallShape

    call = CallShape(providers()["anthropic"], MODEL, 1536, 0.0, None, "json_schema")
    fields = AnthropicMessages.request_fields(call)
    template = build_prompt(load_prompt("v3"), "json_schema", default_profile().offer)
    prompt = PromptStep(template).invoke(Preprocess().invoke(LEAD))
    return fields, prompt


async def own_client(url: str, stream: bool) -> tuple[Request, Callable[[], Awaitable[None]]]:
    import aiohttp

    from leadq.wire.anthropic_messages import AnthropicMessages

    fields, prompt = request_parts()
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=512, limit_per_host=0))
    step = AnthropicMessages(
        session=session, base_url=url, api_key="sk-ant-bench", fields=fields, from_tool=False
    )

    async def whole() -> str:
        return (await step.ainvoke(prompt)).text

    async def streamed() -> str:
        return "".join([reply.text async for reply in step.astream(prompt)])

    return (streamed if stream else whole), session.close


async def sdk_client(url: str, stream: bool) -> tuple[Request, Callable[[], Awaitable[None]]]:
    import anthropic

    fields, prompt = request_parts()
    client = anthropic.AsyncAnthropic(base_url=url, api_key="sk-ant-bench", max_retries=0)
    messages = prompt.to_messages()
    kwargs: dict[str, Any] = {
        "model": fields["model"],
        "max_tokens": fields["max_tokens"],
        "system": str(messages[0].content),
        "messages": [{"role": "user", "content": str(m.content)} for m in messages[1:]],
        "output_config": fields["output_config"],
        # Newer SDKs have no `temperature` argument: sent as leadq sends it.
        "extra_body": {"temperature": fields["temperature"]},
    }

    async def whole() -> str:
        message = await client.messages.create(**kwargs)
        return "".join(b.text for b in message.content if b.type == "text")

    async def streamed() -> str:
        async with client.messages.stream(**kwargs) as events:
            return "".join([text async for text in events.text_stream])

    return (streamed if stream else whole), client.close


# ---- the measurement ----------------------------------------------------------------------


async def cpu_per_request(
    make: Callable[[str, bool], Awaitable[tuple[Request, Callable[[], Awaitable[None]]]]],
    url: str,
    stream: bool,
    requests: int,
    concurrency: int,
) -> float:
    """µs of this process's CPU per request: `requests` of them, `concurrency` in flight,
    after a warm-up that opens the connections."""
    ask, close = await make(url, stream)
    try:
        gate = asyncio.Semaphore(concurrency)

        async def one() -> None:
            async with gate:
                text = await ask()
            if json.loads(text) != json.loads(ANSWER_TEXT):
                raise RuntimeError("the answer came back wrong")

        await asyncio.gather(*(one() for _ in range(concurrency * 2)))
        start = time.process_time()
        await asyncio.gather(*(one() for _ in range(requests)))
        return (time.process_time() - start) / requests * 1e6
    finally:
        await close()


def measure(requests: int, concurrency: int, repeat: int) -> dict[str, dict[str, list[float]]]:
    """{"whole" | "stream": {"leadq" | "sdk": [µs per request, one per run]}}."""
    out: dict[str, dict[str, list[float]]] = {"whole": {}, "stream": {}}
    sides = {"leadq": own_client, "sdk": sdk_client}
    with provider() as url:
        for _ in range(repeat):
            for mode in out:
                for name, make in sides.items():  # in turn, so that drift hits both alike
                    cpu = asyncio.run(
                        cpu_per_request(make, url, mode == "stream", requests, concurrency)
                    )
                    out[mode].setdefault(name, []).append(cpu)
    return out


def report(results: dict[str, dict[str, list[float]]], requests: int, concurrency: int) -> str:
    import anthropic

    lines = [
        f"Messages API model step, client CPU per request: {requests} requests, "
        f"{concurrency} in flight, anthropic {anthropic.__version__}",
        f"{'':8} {'leadq µs (best)':>18} {'SDK µs (best)':>18} {'leadq / SDK':>12}",
    ]
    for mode, sides in results.items():
        own, sdk = statistics.median(sides["leadq"]), statistics.median(sides["sdk"])
        lines.append(
            f"{mode:8} {own:>9.0f} ({min(sides['leadq']):>5.0f}) "
            f"{sdk:>10.0f} ({min(sides['sdk']):>5.0f}) {own / sdk:>12.2f}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, dict[str, list[float]]] | None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--smoke", action="store_true", help="20 requests, one run")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve()
        return None
    try:
        import anthropic  # noqa: F401 - only to say it is missing
    except ImportError:
        print("anthropic is not installed: pip install anthropic")  # noqa: T201
        return None
    requests, repeat = (20, 1) if args.smoke else (args.requests, args.repeat)
    results = measure(requests, args.concurrency, repeat)
    print(report(results, requests, args.concurrency))  # noqa: T201 - the bench's output
    return results


if __name__ == "__main__":
    main()
