"""`python -m leadq` runs the CLI."""

from leadq.cli import app

app()
