"""`cargohold logs login`: authentication attempts, filtered by identity, outcome and time."""

from __future__ import annotations

from typing import Annotated

import typer

from cargohold.cli import client, output
from cargohold.cli.client import usage_error
from cargohold.cli.common import parse_since

app = typer.Typer(no_args_is_help=True, help="Audit logs.")

LOGIN_COLUMNS: list[output.Column] = [
    ("At", "at"), ("Identity", "identity"), ("Kind", "identityKind"), ("Method", "method"),
    ("Source", "source"), ("Outcome", "outcome"), ("Reason", "reason"),
]


@app.command("login")
def login_events(
    identity: Annotated[str | None, typer.Option("--identity", help="only this identity (name or client id)")] = None,
    outcome: Annotated[str | None, typer.Option("--outcome", metavar="success|failure")] = None,
    since: Annotated[str | None, typer.Option(
        "--since", help="ISO 8601 instant, or a duration back from now: 30m, 2h, 7d")] = None,
    top: Annotated[int | None, typer.Option("--top", help="at most this many events (server default: 100)")] = None,
) -> None:
    """Authentication attempts: who, how, from where, and whether it worked."""
    if outcome is not None and outcome.lower() not in ("success", "failure"):
        usage_error(f"--outcome takes success or failure, not {outcome!r}")
    if top is not None and top <= 0:
        usage_error("--top must be positive")
    params = {"identity": identity, "outcome": outcome.lower() if outcome else None,
              "since": parse_since(since) if since else None, "top": top}
    output.emit(client.api().get("/api/logs/login", **params), LOGIN_COLUMNS)
