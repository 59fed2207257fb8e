"""`leadq profile check FILE`: validate a seller profile and show what each engine will use."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from leadq.cli.console import err
from leadq.core.profile import ProfileError, SellerProfile, load_profile

profile_app = typer.Typer(
    help="The seller profile (LEADQ_ICP_FILE): what you sell and to whom.", no_args_is_help=True
)


@profile_app.command("check")
def check(
    file: Annotated[Path, typer.Argument(help="A profile TOML file, e.g. a copy of the default.")],
) -> None:
    """Validate FILE (exit 2 naming the key and line at fault) and print its version, the
    offer the LLM reads in its instructions, and what the rules engine matches."""
    try:
        profile = load_profile(file)
    except ProfileError as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False)
        raise typer.Exit(2) from None
    typer.echo(describe(profile))
    if not profile.offer_given:
        err.print(
            "[yellow]warning:[/yellow] no \\[offer] table: the LLM is told the packaged "
            "default's generic B2B software offer"
        )


def describe(profile: SellerProfile) -> str:
    """The profile as each engine uses it, in plain lines."""

    def listed(items: tuple[str, ...]) -> str:
        return ", ".join(items) or "(none)"

    weights = ", ".join(f"{k} {v:.2f}" for k, v in profile.fit_weights)
    return "\n".join(
        [
            f"profile {profile.version} ({profile.source}): valid",
            "",
            "LLM (in the instructions, with every lead):",
            *(f"  {line}" for line in profile.offer.text().splitlines()),
            "",
            "Rules engine:",
            f"  target industries: {listed(profile.target_industries)}",
            f"  adjacent industries: {listed(profile.adjacent_industries)}",
            f"  excluded industries: {listed(profile.excluded_industries)}",
            f"  employees: {profile.employees_min:,.0f} to {profile.employees_max:,.0f}",
            f"  revenue (USD): {profile.revenue_min_usd:,.0f} to {profile.revenue_max_usd:,.0f}",
            f"  title keywords: {listed(profile.title_keywords)}",
            f"  fit weights: {weights}",
        ]
    )
