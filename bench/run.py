"""`make bench`: run the measurements and print one table, leadq beside the baseline.

    python -m bench.run                  # everything (about 6 minutes on 2 cores)
    python -m bench.run --smoke          # every measurement, tiny (about a minute)
    python -m bench.run --only 1,2,8     # some of them
    python -m bench.run --json out.json  # also write the rows as JSON

Benchmarks print numbers; they never fail the build (the exit status is 0 even when a
target is missed). See bench/README.md for what each measurement does."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from rich.console import Console

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import clients, jobs, learning, local, served  # noqa: E402 - needs the sys.path entry above
from bench.report import load, render  # noqa: E402 - needs the sys.path entry above
from bench.rows import Row  # noqa: E402 - needs the sys.path entry above

ORDER = ("1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12")
TOKENS_PER_MINUTE = 10_000_000  # the generous token limit of measurement 2b


def scenarios(smoke: bool, repeat: int | None) -> dict[str, Callable[[], Row | list[Row]]]:
    c = clients.SMOKE if smoke else clients.Sizes()
    s = served.SMOKE if smoke else served.Sizes()
    loc = local.SMOKE if smoke else local.Sizes()
    j = jobs.SMOKE if smoke else jobs.Sizes()
    if repeat is not None:
        c, loc = replace(c, repeat=repeat), replace(loc, repeat=repeat)
    return {
        "1": lambda: clients.cpu_per_lead(c),
        "2": lambda: [clients.throughput(c), clients.throughput(c, TOKENS_PER_MINUTE)],
        "3": lambda: clients.rate_limit_use(c),
        "4": lambda: served.served(s, {"4"}),
        "5": lambda: served.served(s, {"5"}),
        "4,5": lambda: served.served(s, {"4", "5"}),
        "6": lambda: local.rules_engine(loc),
        "7": lambda: _cli_and_job(loc, j),
        "8": lambda: clients.prompt_size(c),
        "9": lambda: clients.provider_limits(c),
        "10": lambda: learning.conversion_model(smoke),
        "11": lambda: jobs.workers(j),
        "12": lambda: learning.served_with_model(s, smoke),
    }


def _cli_and_job(loc: local.Sizes, j: jobs.Sizes) -> list[Row]:
    """7 and 7b: the same file through `leadq qualify`, then as a job on `leadq serve`."""
    cli = local.csv_to_sqlite(loc)
    job = jobs.file_job(replace(j, csv_rows=loc.csv_rows))
    job.met = (job.median() or 0.0) >= (cli.median() or 0.0)
    return [cli, job]


def clear_leadq_env() -> None:
    """The bench configures leadq itself: a developer's LEADQ_* or keys must not leak in."""
    for name in list(os.environ):
        if name.startswith(("LEADQ_", "CEREBRAS_", "OPENAI_")) or name in (
            "DATABASE_URL",
            "REDIS_URL",
        ):
            del os.environ[name]


def main(argv: list[str] | None = None) -> list[Row]:
    parser = argparse.ArgumentParser(
        prog="python -m bench.run", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: checks, not numbers")
    parser.add_argument("--only", help="comma-separated measurement numbers, e.g. 1,2,8")
    parser.add_argument("--repeat", type=int, help="runs of the repeated measurements (1, 2, 6)")
    parser.add_argument("--json", type=Path, help="also write the rows to this file")
    args = parser.parse_args(argv)
    chosen = [k.strip() for k in args.only.split(",")] if args.only else list(ORDER)
    unknown = sorted(set(chosen) - set(ORDER))
    if unknown:
        parser.error(f"unknown measurement(s) {unknown}; known: {', '.join(ORDER)}")

    clear_leadq_env()
    warnings.filterwarnings("ignore")  # the baseline's LangChain warns on every parse
    # leadq's warnings (each 429 of the rate-limit measurement) would go to Python's
    # last-resort handler.
    logging.getLogger("leadq").addHandler(logging.NullHandler())
    console = Console(width=None if sys.stdout.isatty() else 150, soft_wrap=True)
    started = load()
    runs = scenarios(args.smoke, args.repeat)
    if "4" in chosen and "5" in chosen:  # one server per side serves both
        chosen = [k for k in chosen if k != "5"]
        runs["4"] = runs["4,5"]
    rows: list[Row] = []
    for key in ORDER:
        if key not in chosen:
            continue
        t0 = time.perf_counter()
        console.print(f"[dim]measurement {key} ...[/dim]", end="")
        result = runs[key]()
        rows.extend(result if isinstance(result, list) else [result])
        console.print(f"[dim] {time.perf_counter() - t0:.0f}s[/dim]")
    command = "python -m bench.run " + " ".join(argv if argv is not None else sys.argv[1:])
    render(rows, command.strip(), started, console)
    if args.json:
        args.json.write_text(json.dumps([r.as_dict() for r in rows], indent=2))
    return rows


if __name__ == "__main__":
    main()
