"""`cargohold manifest list-metadata|show-metadata|update-metadata` (`az acr manifest`): manifests'
details and attributes. A tag given for a manifest means the manifest it names."""

from __future__ import annotations

from typing import Annotated

import typer

from cargohold.cli import client, output
from cargohold.cli.client import usage_error
from cargohold.cli.repository import (
    MANIFEST_COLUMNS,
    DeleteEnabled,
    ListEnabled,
    OrderBy,
    ReadEnabled,
    Top,
    WriteEnabled,
    attribute_changes,
    check_order,
    check_top,
    manifest_path,
    parse_image,
    repo_path,
)

app = typer.Typer(no_args_is_help=True, help="Manifests: metadata and attributes (locks).")

ImageArg = Annotated[str | None, typer.Argument(metavar="REPO:TAG|REPO@DIGEST", show_default=False,
                                                help="the manifest, by tag or by digest")]
ImageName = Annotated[str | None, typer.Option("--name", "-n", "--image", metavar="REPO:TAG|REPO@DIGEST",
                                               help="the manifest, by tag or by digest")]


def _image(positional: str | None, named: str | None) -> str:
    if (positional is None) == (named is None):
        usage_error("name one manifest: REPO:TAG or REPO@DIGEST (as an argument or with --name/-n)")
    value = positional or named
    assert value is not None
    return value


@app.command("list-metadata")
def list_metadata(
    repository: Annotated[str, typer.Option("--name", "-n", "--repository", metavar="REPOSITORY",
                                            help="repository name")],
    orderby: OrderBy = None,
    top: Top = None,
) -> None:
    """Every manifest of a repository, untagged ones included (listEnabled=false ones left out)."""
    output.emit(client.api().get(f"{repo_path(repository)}/_manifests", orderby=check_order(orderby),
                                 top=check_top(top)), MANIFEST_COLUMNS)


@app.command("show-metadata")
def show_metadata(image: ImageArg = None, name: ImageName = None) -> None:
    """One manifest: digest, tags, media type, size, times, attributes."""
    output.emit(client.api().get(manifest_path(parse_image(_image(image, name), "--name"))), MANIFEST_COLUMNS)


@app.command("update-metadata")
def update_metadata(
    image: ImageArg = None,
    name: ImageName = None,
    write_enabled: WriteEnabled = None,
    delete_enabled: DeleteEnabled = None,
    read_enabled: ReadEnabled = None,
    list_enabled: ListEnabled = None,
) -> None:
    """Lock or unlock a manifest (by digest, or the manifest a tag names); its tags' own attributes stay."""
    body = attribute_changes(write_enabled, delete_enabled, read_enabled, list_enabled)
    ref = parse_image(_image(image, name), "--name")
    output.emit(client.api().patch(manifest_path(ref), body), MANIFEST_COLUMNS)
