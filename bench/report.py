"""The one table `make bench` prints, and the facts about where it ran."""

from __future__ import annotations

import datetime
import os
import platform
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bench.rows import Row


def machine() -> str:
    """Cores and CPU model, as the README's Benchmarks section records them."""
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores, {model}, Python {platform.python_version()}"


def load() -> str:
    try:
        return "load " + " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "load unknown"


def _num(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "ms":
        return f"{value:.2f}"
    if unit in ("AUC", "Brier"):
        return f"{value:.3f}"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.1f}" if unit.startswith("%") else f"{value:.0f}"


def _cell(row: Row, side: str) -> str:
    values = row.leadq if side == "leadq" else row.baseline
    if values is None:
        return "n/a"
    median, best = row.median(side), row.best(side)
    if len(values) > 1:
        return f"{_num(median, row.unit)} ({_num(best, row.unit)})"
    return _num(median, row.unit)


def table(rows: list[Row], title: str) -> Table:
    out = Table(title=title, show_lines=False)
    out.add_column("#", justify="right")
    out.add_column("Measurement")
    out.add_column("Unit")
    out.add_column("leadq", justify="right")
    out.add_column("baseline", justify="right")
    out.add_column("leadq / baseline", justify="right")
    out.add_column("Target")
    out.add_column("Met")
    for row in rows:
        ratio = row.ratio()
        met = {True: "[green]yes[/green]", False: "[red]no[/red]", None: "-"}[row.met]
        out.add_row(
            row.key,
            row.name,
            row.unit,
            _cell(row, "leadq"),
            _cell(row, "baseline"),
            "-" if ratio is None else f"{ratio:.2f}",
            row.target,
            met,
        )
    return out


def render(rows: list[Row], command: str, started: str, console: Console) -> None:
    """The table, then one line of notes per row and the run's facts."""
    today = datetime.date.today().isoformat()
    console.print(table(rows, f"leadq beside the original design ({today})"))
    console.print("Cells: median (best) when a measurement ran more than once.")
    for row in rows:
        if row.note:
            console.print(f"  {row.key}: {row.note}")
    console.print(f"Machine: {machine()}; {started} at start, {load()} at end.")
    console.print(f"Command: {command}")
