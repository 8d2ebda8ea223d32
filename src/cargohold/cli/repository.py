"""`cargohold repository list|show|show-tags|show-manifests|update|delete|untag` (`az acr repository`)."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote

import typer

from cargohold.cli import client, output
from cargohold.cli.client import confirm, segment, usage_error
from cargohold.cli.common import Yes, parse_bool

app = typer.Typer(no_args_is_help=True, help="Repositories, their tags and manifests, and their locks.")

ORDERS = ("time_asc", "time_desc")

Repository = Annotated[str | None, typer.Option(
    "--repository", "--name", "-n", metavar="REPOSITORY", help="repository name, e.g. team/app")]
Image = Annotated[str | None, typer.Option(
    "--image", "-t", metavar="REPO:TAG|REPO@DIGEST", help="an image by tag or by digest")]
OrderBy = Annotated[str | None, typer.Option(
    "--orderby", metavar="time_asc|time_desc", help="order by last update, oldest or newest first")]
Top = Annotated[int | None, typer.Option("--top", metavar="N", help="show at most N")]
WriteEnabled = Annotated[str | None, typer.Option("--write-enabled", metavar="true|false",
                                                  help="allow pushes (for a tag: moving it) and deletes")]
DeleteEnabled = Annotated[str | None, typer.Option("--delete-enabled", metavar="true|false", help="allow deletes")]
ReadEnabled = Annotated[str | None, typer.Option("--read-enabled", metavar="true|false", help="allow pulls")]
ListEnabled = Annotated[str | None, typer.Option("--list-enabled", metavar="true|false",
                                                 help="show in listings (catalog, tags, manifests)")]


def _flag(row: dict[str, Any], name: str) -> Any:
    attrs = row.get("changeableAttributes")
    return attrs.get(name) if isinstance(attrs, dict) else None


ATTRIBUTE_COLUMNS: list[output.Column] = [
    ("Write", lambda r: _flag(r, "writeEnabled")), ("Delete", lambda r: _flag(r, "deleteEnabled")),
    ("Read", lambda r: _flag(r, "readEnabled")), ("List", lambda r: _flag(r, "listEnabled")),
]
REPOSITORY_COLUMNS: list[output.Column] = [
    ("Name", "imageName"), ("Manifests", "manifestCount"), ("Tags", "tagCount"), ("Created", "createdTime"),
    ("Last Update", "lastUpdateTime"), *ATTRIBUTE_COLUMNS,
]
TAG_COLUMNS: list[output.Column] = [
    ("Name", "name"), ("Digest", "digest"), ("Created", "createdTime"), ("Last Update", "lastUpdateTime"),
    *ATTRIBUTE_COLUMNS,
]
MANIFEST_COLUMNS: list[output.Column] = [
    ("Digest", "digest"), ("Tags", "tags"), ("Media Type", "mediaType"), ("Size", "size"),
    ("Created", "createdTime"), ("Last Update", "lastUpdateTime"), *ATTRIBUTE_COLUMNS,
]
DELETED_COLUMNS: list[output.Column] = [("Manifests Deleted", "manifestsDeleted"), ("Tags Deleted", "tagsDeleted")]


@dataclass(frozen=True)
class ImageRef:
    repository: str
    tag: str | None
    digest: str | None

    @property
    def reference(self) -> str:
        return self.digest or self.tag or ""

    def __str__(self) -> str:
        return f"{self.repository}@{self.digest}" if self.digest else f"{self.repository}:{self.tag}"


def parse_image(value: str, option: str = "--image") -> ImageRef:
    """`repo:tag` or `repo@digest` (a `host/` prefix naming this registry is not expected)."""
    text = value.strip()
    if "@" in text:
        repo, _, digest = text.partition("@")
        if repo and ":" in digest:
            return ImageRef(repo, None, digest)
    else:
        slash = text.rfind("/")
        colon = text.rfind(":")
        if colon > slash and colon > 0 and colon < len(text) - 1:
            return ImageRef(text[:colon], text[colon + 1:], None)
    usage_error(f"{option} takes REPOSITORY:TAG or REPOSITORY@DIGEST, not {value!r}")


def repo_path(repository: str) -> str:
    """/api/repositories/<name>: the name's slashes stay (the API routes on fixed suffixes after it)."""
    return "/api/repositories/" + quote(repository, safe="/")


def manifest_path(image: ImageRef) -> str:
    return f"{repo_path(image.repository)}/_manifests/{segment(image.reference)}"


def tag_path(repository: str, tag: str) -> str:
    return f"{repo_path(repository)}/_tags/{segment(tag)}"


def attribute_changes(write: str | None, delete: str | None, read: str | None, list_: str | None) -> dict[str, bool]:
    body = {key: parse_bool(option, value) for key, option, value in (
        ("writeEnabled", "--write-enabled", write), ("deleteEnabled", "--delete-enabled", delete),
        ("readEnabled", "--read-enabled", read), ("listEnabled", "--list-enabled", list_)) if value is not None}
    if not body:
        usage_error("nothing to update: give --write-enabled, --delete-enabled, --read-enabled and/or --list-enabled")
    return body


def one_of(repository: str | None, image: str | None) -> tuple[str | None, ImageRef | None]:
    if (repository is None) == (image is None):
        usage_error("give either --repository (-n) or --image")
    return repository, parse_image(image) if image is not None else None


def check_order(orderby: str | None) -> str | None:
    if orderby is not None and orderby not in ORDERS:
        usage_error(f"--orderby takes {' or '.join(ORDERS)}, not {orderby!r}")
    return orderby


def check_top(top: int | None) -> int | None:
    if top is not None and top < 1:
        usage_error("--top must be a positive number")
    return top


def require_repository(repository: str | None) -> str:
    if not repository:
        usage_error("give --repository (or --name/-n)")
    return repository


@app.command("list")
def list_(top: Top = None) -> None:
    """List repositories (those you may read; those with listEnabled=false are left out)."""
    output.emit(client.api().get("/api/repositories", top=check_top(top)))


@app.command("show")
def show(repository: Repository = None, image: Image = None) -> None:
    """Show a repository (counts, times, attributes), or with --image a tag (REPO:TAG) or a manifest
    (REPO@DIGEST) and its attributes."""
    repo, ref = one_of(repository, image)
    api = client.api()
    if ref is None:
        assert repo is not None
        output.emit(api.get(repo_path(repo)), REPOSITORY_COLUMNS)
    elif ref.tag is not None:
        output.emit(api.get(tag_path(ref.repository, ref.tag)), TAG_COLUMNS)
    else:
        output.emit(api.get(manifest_path(ref)), MANIFEST_COLUMNS)


@app.command("show-tags")
def show_tags(
    repository: Repository = None,
    detail: Annotated[bool, typer.Option("--detail", help="digest, times and attributes of each tag")] = False,
    orderby: OrderBy = None,
    top: Top = None,
) -> None:
    """List a repository's tags (those with listEnabled=false are left out)."""
    rows = client.api().get(f"{repo_path(require_repository(repository))}/_tags", orderby=check_order(orderby),
                            top=check_top(top))
    if detail:
        output.emit(rows, TAG_COLUMNS)
    else:
        output.emit([row["name"] for row in rows or []])


@app.command("show-manifests")
def show_manifests(
    repository: Repository = None,
    orderby: OrderBy = None,
    top: Top = None,
    detail: Annotated[bool, typer.Option("--detail", help="accepted for az compatibility: always detailed")] = False,
) -> None:
    """List a repository's manifests, untagged ones included: digest, tags, media type, size, times and
    attributes (those with listEnabled=false are left out)."""
    del detail
    output.emit(client.api().get(f"{repo_path(require_repository(repository))}/_manifests",
                                 orderby=check_order(orderby), top=check_top(top)), MANIFEST_COLUMNS)


@app.command("update")
def update(
    repository: Repository = None,
    image: Image = None,
    write_enabled: WriteEnabled = None,
    delete_enabled: DeleteEnabled = None,
    read_enabled: ReadEnabled = None,
    list_enabled: ListEnabled = None,
) -> None:
    """Lock or unlock a repository (--repository), a tag (--image REPO:TAG) or a manifest
    (--image REPO@DIGEST). Tag and manifest attributes are independent of each other."""
    repo, ref = one_of(repository, image)
    body = attribute_changes(write_enabled, delete_enabled, read_enabled, list_enabled)
    api = client.api()
    if ref is None:
        assert repo is not None
        output.emit(api.patch(repo_path(repo), body), REPOSITORY_COLUMNS)
    elif ref.tag is not None:
        output.emit(api.patch(tag_path(ref.repository, ref.tag), body), TAG_COLUMNS)
    else:
        output.emit(api.patch(manifest_path(ref), body), MANIFEST_COLUMNS)


@app.command("delete")
def delete(repository: Repository = None, image: Image = None, yes: Yes = False) -> None:
    """Delete a repository (--repository: every manifest, tag and blob link in it) or an image (--image
    REPO:TAG|REPO@DIGEST: the manifest and every tag naming it, listed before you confirm)."""
    repo, ref = one_of(repository, image)
    api = client.api()
    if ref is None:
        assert repo is not None
        info = api.get(repo_path(repo))
        confirm(f"Delete repository '{repo}' with its {info.get('manifestCount', 0)} manifest(s) and "
                f"{info.get('tagCount', 0)} tag(s)?", yes)
        output.emit(api.delete(repo_path(repo)), DELETED_COLUMNS)
        return
    found = api.get(manifest_path(ref))
    tags = [str(t) for t in found.get("tags") or []]
    hidden = "" if ref.tag is None or ref.tag in tags else f" (and tag '{ref.tag}')"
    listing = (f"This deletes manifest {found['digest']} of repository '{ref.repository}'"
               + (f" and its tags: {', '.join(tags)}" if tags else " (untagged)") + hidden + ".")
    if not yes and sys.stdin.isatty():  # without a terminal, confirm() refuses with one error line
        typer.echo(listing, err=True)
    confirm(f"Delete image {ref}?", yes)
    by_digest = ImageRef(ref.repository, None, str(found["digest"]))  # exactly the manifest listed
    output.emit(api.delete(manifest_path(by_digest)), DELETED_COLUMNS)


@app.command("untag")
def untag(image: Annotated[str, typer.Option("--image", "-t", metavar="REPO:TAG", help="the tag to remove")]) -> None:
    """Remove a tag; the manifest it names stays (pull it by digest, or see show-manifests)."""
    ref = parse_image(image)
    if ref.tag is None:
        usage_error("--image takes REPOSITORY:TAG here (untag removes a tag, not a manifest)")
    client.api().delete(tag_path(ref.repository, ref.tag))
