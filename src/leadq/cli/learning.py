"""`leadq train` and `leadq model ...`: learn what converts from past leads with their outcome
(a file, or the stored leads with recorded outcomes), keep each model as a version with its
report, and choose the one that scores new leads."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from leadq.cli.console import err, open_store
from leadq.config import Settings
from leadq.core.errors import Conflict, NotEnoughData, NotFound
from leadq.leadfiles import LeadFileError
from leadq.service import models as service
from leadq.storage.store import Store

model_app = typer.Typer(help="Trained conversion models: list, show, activate, deactivate.")


def train_command(
    file: Annotated[
        Path | None,
        typer.Argument(
            exists=True,
            dir_okay=False,
            help="CSV or JSONL of past leads with their outcome in a column (read as "
            "`leadq qualify` reads files). Without it: the stored leads with recorded outcomes.",
        ),
    ] = None,
    label: Annotated[
        str | None, typer.Option("--label", help="The outcome's column (with FILE).")
    ] = None,
    positive: Annotated[
        list[str] | None,
        typer.Option("--positive", help="A value of the label that means converted (repeatable)."),
    ] = None,
    date_column: Annotated[
        str | None,
        typer.Option(
            "--date-column",
            help="A date column: the latest 20% of leads are the test set (else 5-fold "
            "cross-validation). Never a feature.",
        ),
    ] = None,
    activate: Annotated[
        bool, typer.Option("--activate", help="Score new leads with this model at once.")
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="--activate even when the report says no signal.")
    ] = False,
    report: Annotated[
        Path | None, typer.Option("--report", help="Also write the report as JSON here.")
    ] = None,
) -> None:
    """Train a conversion model, print its evaluation report and store it as a new version."""
    # scikit-learn and numpy load here, not when the CLI starts (they take about a second)
    try:
        from leadq.learning.report import render
        from leadq.learning.train import train  # noqa: F401 - here to say what is missing
    except ImportError as exc:
        err.print(
            f"[red]error:[/red] leadq train needs scikit-learn ({exc.name} is not installed): "
            "pip install 'leadq[learn]' (make test installs it)"
        )
        raise typer.Exit(2) from None

    settings = Settings()
    if file is not None:
        if not label or not positive:
            err.print("[red]error:[/red] with FILE, give --label COLUMN and --positive VALUE")
            raise typer.Exit(2)
        try:
            ts = service.file_set(
                settings, file, label, positive, date_column, name=str(file), source=file.name
            )
        except (LeadFileError, ValueError) as exc:
            err.print(f"[red]error:[/red] {escape(str(exc))}")
            raise typer.Exit(2) from None
    store = open_store(settings)
    try:
        # A training row like the page's: one runs at a time, and the page sees this one.
        source = ts.source if file is not None else service.STORED
        work = (
            (lambda: service.train_and_store(store, ts))
            if file is not None
            else (lambda: service.train_and_store(store, service.stored_set(store, settings)))
        )
        try:
            stored = service.Trainings(store).run(source, work)
        except (NotEnoughData, Conflict) as exc:
            err.print(f"[red]error:[/red] {escape(exc.message)}")
            raise typer.Exit(2) from None
        typer.echo(render(stored.report))
        if report is not None:
            report.write_text(json.dumps(stored.report, indent=2), encoding="utf-8")
        err.print(f"stored as model {stored.model_id}")
        if activate:
            _activate(store, stored.model_id, force)
            err.print(f"model {stored.model_id} is active: new results carry its probability")
    finally:
        store.close()


def _activate(store: Store, model_id: int, force: bool) -> None:
    try:
        service.activate(store, model_id, force, "add --force")
    except NotFound as exc:
        err.print(f"[red]error:[/red] {escape(exc.message)}")
        raise typer.Exit(1) from None
    except Conflict as exc:
        err.print(f"[red]{escape(exc.message)}[/red]")
        raise typer.Exit(1) from None


@model_app.command("list")
def model_list() -> None:
    """Every stored model, the newest first (JSON lines)."""
    store = open_store(Settings())
    try:
        for row in service.list_models(store):
            typer.echo(json.dumps(row))
    finally:
        store.close()


@model_app.command("show")
def model_show(model_id: Annotated[int, typer.Argument(help="The model's id.")]) -> None:
    """A model's full report."""
    from leadq.learning.report import render

    settings = Settings()
    store = open_store(settings)
    try:
        found = service.get_model(store, model_id, settings.model_max_age_days)
    finally:
        store.close()
    drift = found["drift"] if found else None
    if found is None or drift is None:
        err.print(f"[red]error:[/red] no model {model_id}")
        raise typer.Exit(1)
    typer.echo(render(found["report"]))
    typer.echo(f"active: {found['active']}  fingerprint: {found['fingerprint']}")
    typer.echo(
        f"since trained: {drift['status'].replace('_', ' ')}, {drift['outcomes']} won/lost "
        f"outcome(s) on the leads it scored"
        + (
            f", {drift['observed']:.1%} converted where it predicted {drift['predicted']:.1%}"
            if drift["outcomes"]
            else ""
        )
    )
    for reason in drift["reasons"]:
        typer.echo(f"  {reason}")


@model_app.command("activate")
def model_activate(
    model_id: Annotated[int, typer.Argument(help="The model's id.")],
    force: Annotated[
        bool, typer.Option("--force", help="Even when its report says no signal.")
    ] = False,
) -> None:
    """Score new leads with this model (the one active before is deactivated: to roll back,
    activate that one again)."""
    store = open_store(Settings())
    try:
        _activate(store, model_id, force)
    finally:
        store.close()
    err.print(f"model {model_id} is active")


@model_app.command("deactivate")
def model_deactivate() -> None:
    """Score with no model: results carry no conversion probability."""
    store = open_store(Settings())
    try:
        was = service.deactivate(store)
    finally:
        store.close()
    err.print(f"model {was} deactivated" if was is not None else "no model was active")
