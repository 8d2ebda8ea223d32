"""`cargohold import` (`az acr import`): copy an image from another registry, server-side.

The source's credentials are `--source-username/-u` and `--source-password/-p`, not az's
`--username/--password`: here those two are the global options that sign in to Cargohold itself and
may be written anywhere on the line, so reusing them for the source would make every import line
ambiguous. While the server streams its NDJSON progress, a progress bar is drawn on stderr when it
is a terminal; the final result is printed with `-o json|table|tsv`.
"""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer

from cargohold.cli import client, output
from cargohold.cli.client import CliError, connection_error, load_httpx, usage_error

RESULT_COLUMNS: list[output.Column] = [
    ("Digest", "digest"), ("Tags", lambda r: ", ".join(r.get("tags") or []) or None),
    ("Manifests", "manifests"), ("Blobs", "blobs"), ("Mounted", "mounted"), ("Bytes Copied", "bytes"),
]
STREAM_TIMEOUT = 300.0  # seconds without a line from the server before giving up


class _Progress:
    """A Rich progress bar on stderr, or nothing when stderr is not a terminal."""

    def __init__(self, enabled: bool) -> None:
        self._bar: Any = None
        self._task: Any = None
        if enabled:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                DownloadColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
                TransferSpeedColumn,
            )

            self._bar = Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                                 TransferSpeedColumn(), TimeRemainingColumn(),
                                 console=Console(stderr=True), transient=True)

    def __enter__(self) -> _Progress:
        if self._bar is not None:
            self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()

    def update(self, event: dict[str, Any]) -> None:
        if self._bar is None:
            return
        kind = event.get("event")
        if kind == "start":
            self._task = self._bar.add_task(f"importing {event.get('manifests')} manifest(s), "
                                            f"{event.get('blobs')} blob(s)", total=event.get("bytes") or 0)
        elif kind in ("blob", "progress") and self._task is not None and isinstance(event.get("done"), int):
            self._bar.update(self._task, completed=event["done"])
        elif kind == "manifest" and self._task is not None:
            self._bar.update(self._task, description="storing manifests")


def _events(response: Any) -> Any:
    for line in response.iter_lines():
        if not line.strip():
            continue
        try:
            event = json.loads(line)
        except ValueError:
            raise CliError(f"the server sent a progress line that is not JSON: {line[:120]!r}") from None
        if isinstance(event, dict):
            yield event


def import_image(
    source: Annotated[str, typer.Option(
        "--source", help="host[:port]/repository[:tag|@digest]; prefix http:// for a plain-HTTP registry")],
    image: Annotated[list[str], typer.Option(
        "--image", "-t", help="target repo:tag (repeatable); a bare repo stores the image by digest only")],
    source_username: Annotated[str | None, typer.Option(
        "--source-username", "-u", help="username for the source registry (not --username: that one signs in "
                                        "to Cargohold)")] = None,
    source_password: Annotated[str | None, typer.Option(
        "--source-password", "-p", help="password for the source registry")] = None,
    include_referrers: Annotated[bool, typer.Option(
        "--include-referrers", help="also copy the image's referrers (signatures, SBOMs, attestations)")] = False,
    force: Annotated[bool, typer.Option(
        "--force", help="move a target tag that points at a different image")] = False,
) -> None:
    """Import an image (every platform of an index) from another registry, server-side."""
    if source_password is not None and source_username is None:
        usage_error("--source-password needs --source-username")
    body: dict[str, Any] = {"source": source, "targetTags": image}
    if source_username is not None:
        body["username"] = source_username
        body["password"] = source_password or ""
    if include_referrers:
        body["includeReferrers"] = True
    if force:
        body["force"] = True
    api = client.api()
    httpx = load_httpx()
    result: dict[str, Any] | None = None
    try:
        headers = {"Accept": "application/x-ndjson"}
        if api.registry:
            headers[client.REGISTRY_HEADER] = api.registry  # -r/--registry, as ApiClient.request sends it
        with api.http.stream("POST", "/api/import", json=body, headers=headers,
                             timeout=httpx.Timeout(client.TIMEOUT_SECONDS, read=STREAM_TIMEOUT)) as response:
            if response.status_code != 200:
                response.read()
                raise CliError(api._explain(response))
            with _Progress(sys.stderr.isatty()) as progress:
                for event in _events(response):
                    progress.update(event)
                    if event.get("event") == "error":
                        raise CliError(str(event.get("message") or event.get("code") or "import failed"))
                    if event.get("event") == "done":
                        result = event
    except httpx.HTTPError as e:
        raise connection_error(api.url, e) from None
    if result is None:
        raise CliError("the server ended the import without reporting its outcome")
    result.pop("event", None)
    output.emit(result, RESULT_COLUMNS)

