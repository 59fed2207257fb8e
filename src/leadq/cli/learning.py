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
from leadq.core.rules.engine import RulesEngine
from leadq.core.rules.icp import load_icp
from leadq.leadfiles import LeadFileError, read_lead_file
from leadq.storage import conversion_models as registry

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
        from leadq.learning.dataset import from_lead_file, from_stored
        from leadq.learning.report import NO_SIGNAL_RULE, render
        from leadq.learning.train import TrainingError, train
    except ImportError as exc:
        err.print(
            f"[red]error:[/red] leadq train needs scikit-learn ({exc.name} is not installed): "
            "pip install 'leadq[learn]' (make test installs it)"
        )
        raise typer.Exit(2) from None

    settings = Settings()
    engine = RulesEngine(load_icp(settings.icp_file), settings.score_weights)
    if file is not None:
        if not label or not positive:
            err.print("[red]error:[/red] with FILE, give --label COLUMN and --positive VALUE")
            raise typer.Exit(2)
        try:
            read = read_lead_file(
                file, max_bytes=settings.max_file_bytes, max_rows=settings.max_rows
            )
        except (LeadFileError, ValueError) as exc:
            err.print(f"[red]error:[/red] {escape(str(exc))}")
            raise typer.Exit(2) from None
        ts = from_lead_file(read, engine, label, positive, date_column, source=file.name)
        store = open_store(settings)
    else:
        store = open_store(settings)
        ts = from_stored(store.latest_with_outcomes(), engine)
    try:
        try:
            trained = train(ts)
        except TrainingError as exc:
            err.print(f"[red]error:[/red] {escape(str(exc))}")
            raise typer.Exit(2) from None
        typer.echo(render(trained.report))
        if report is not None:
            report.write_text(json.dumps(trained.report, indent=2), encoding="utf-8")
        model_id = trained.save(store, ts)
        err.print(f"stored as model {model_id}")
        if activate:
            if trained.no_signal and not force:
                err.print(
                    f"[red]not activated:[/red] the report says no signal ({NO_SIGNAL_RULE}); "
                    "add --force to activate it anyway"
                )
                raise typer.Exit(1)
            with store.writing(), store.session.begin() as s:
                registry.activate(s, model_id)
            err.print(f"model {model_id} is active: new results carry its probability")
    finally:
        store.close()


@model_app.command("list")
def model_list() -> None:
    """Every stored model, the newest first (JSON lines)."""
    store = open_store(Settings())
    try:
        with store.session() as s:
            for row in registry.list_models(s):
                typer.echo(json.dumps(row))
    finally:
        store.close()


@model_app.command("show")
def model_show(model_id: Annotated[int, typer.Argument(help="The model's id.")]) -> None:
    """A model's full report."""
    from leadq.learning.drift import model_drift
    from leadq.learning.report import render

    settings = Settings()
    store = open_store(settings)
    try:
        with store.session() as s:
            found = registry.get_model(s, model_id)
            drift = model_drift(s, model_id, settings.model_max_age_days)
    finally:
        store.close()
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
    from leadq.learning.report import NO_SIGNAL_RULE

    store = open_store(Settings())
    try:
        with store.writing(), store.session.begin() as s:
            found = registry.get_model(s, model_id)
            if found is None:
                err.print(f"[red]error:[/red] no model {model_id}")
                raise typer.Exit(1)
            if found["verdict"] == "no signal" and not force:
                err.print(
                    f"[red]not activated:[/red] model {model_id}'s report says no signal "
                    f"({NO_SIGNAL_RULE}); add --force to activate it anyway"
                )
                raise typer.Exit(1)
            registry.activate(s, model_id)
    finally:
        store.close()
    err.print(f"model {model_id} is active")


@model_app.command("deactivate")
def model_deactivate() -> None:
    """Score with no model: results carry no conversion probability."""
    store = open_store(Settings())
    try:
        with store.writing(), store.session.begin() as s:
            was = registry.deactivate(s)
    finally:
        store.close()
    err.print(f"model {was} deactivated" if was is not None else "no model was active")
