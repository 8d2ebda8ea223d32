"""`cargohold keys`: the token signing keys in a data dir (run on the registry's host).

Rotation adds a key that signs from then on; running workers pick it up within a second, and
older keys keep verifying tokens still in date. Retiring a key makes its tokens invalid at once.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cargohold.cli import output
from cargohold.cli.client import CliError

if TYPE_CHECKING:
    from cargohold.core.signing_keys import KeyRing

app = typer.Typer(no_args_is_help=True, help="Token signing keys (local: operates on a data dir).")

DataDir = Annotated[Path, typer.Option("--data-dir", envvar="CARGOHOLD_DATA_DIR",
                                       help="the registry's data dir [default: ./cargohold-data]")]
COLUMNS: list[output.Column] = [("Key Id", "kid"), ("Active", "active")]


def _ring(data_dir: Path) -> KeyRing:
    from cargohold.core.signing_keys import KeyRing  # the crypto imports only for this command

    keys = data_dir / "keys"
    if not keys.is_dir():
        raise CliError(f"{keys} does not exist: is {data_dir} a Cargohold data dir?")
    if not os.access(keys, os.W_OK):
        raise CliError(f"{keys} is not writable")
    return KeyRing(keys)


def _listing(ring: KeyRing) -> list[dict[str, object]]:
    ids = ring.key_ids()
    return [{"kid": kid, "active": kid == max(ids)} for kid in ids]


@app.command("list")
def list_keys(data_dir: DataDir = Path("cargohold-data")) -> None:
    """Key ids; the active one signs new tokens."""
    output.emit(_listing(_ring(data_dir)), COLUMNS)


@app.command("rotate")
def rotate(data_dir: DataDir = Path("cargohold-data")) -> None:
    """Add a signing key; tokens signed by older keys stay valid until they expire."""
    ring = _ring(data_dir)
    ring.rotate()
    output.emit(_listing(ring), COLUMNS)


@app.command("retire")
def retire(kid: Annotated[str, typer.Argument(help="key id to remove")],
           data_dir: DataDir = Path("cargohold-data")) -> None:
    """Remove a key (not the active one): tokens it signed stop verifying at once."""
    ring = _ring(data_dir)
    ids = ring.key_ids()
    if kid not in ids:
        raise CliError(f"no key {kid!r} in {data_dir / 'keys'}")
    if kid == max(ids):
        raise CliError(f"{kid} is the active key: rotate first, then retire it")
    ring.retire(kid)
    output.emit(_listing(ring), COLUMNS)
