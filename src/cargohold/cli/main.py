"""`cargohold` entry point."""

from __future__ import annotations

import typer

from cargohold.cli import serve

app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
                  help="Cargohold: a private container registry.")
app.command("serve")(serve.serve)


@app.callback()
def _root() -> None:
    """Cargohold: a private container registry."""


def main() -> None:
    app()
