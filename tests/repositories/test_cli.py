"""The CLI: `cargohold repository ...`, `cargohold manifest ...`, `cargohold tag-rule ...` against a real
server, in json, table and tsv, with az's flags; usage errors and refusals as one `error:` line."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from clitools import Cli
from repotools import push, unique

from support import RegistryServer


@pytest.fixture()
def cli(tmp_path: Path, server: RegistryServer) -> Cli:
    return Cli(tmp_path / "cli", server)


def test_repository_commands(cli: Cli, v2: httpx.Client) -> None:
    repo = f"{unique('cli')}/a/b"
    old = push(v2, repo, "v1")
    new = push(v2, repo, "v1")  # v1 moves: `old` is left untagged
    push(v2, repo, "v2", payload="two")
    assert repo in cli.json("repository", "list")
    shown = cli.json("repository", "show", "-n", repo)
    assert shown["imageName"] == repo and shown["manifestCount"] == 3 and shown["tagCount"] == 2
    assert cli.json("repository", "show", "--repository", repo) == shown
    assert cli.json("repository", "show-tags", "-n", repo) == ["v1", "v2"]
    assert cli.json("repository", "show-tags", "-n", repo, "--orderby", "time_desc", "--top", "1") == ["v2"]
    detail = cli.json("repository", "show-tags", "-n", repo, "--detail")
    assert [t["digest"] for t in detail if t["name"] == "v1"] == [new]
    manifests = cli.json("repository", "show-manifests", "-n", repo, "--orderby", "time_asc")
    assert manifests[0]["digest"] == old and manifests[0]["tags"] == []
    table = cli.ok("repository", "show-manifests", "-n", repo, "-o", "table")
    assert "Digest" in table and "Tags" in table and old in table
    assert cli.json("manifest", "list-metadata", "-n", repo) == cli.json("repository", "show-manifests", "-n", repo)
    assert cli.json("manifest", "show-metadata", f"{repo}:v1")["digest"] == new
    assert cli.json("manifest", "show-metadata", "-n", f"{repo}@{old}")["tags"] == []
    assert cli.json("repository", "show", "--image", f"{repo}:v1")["digest"] == new
    tsv = cli.ok("repository", "show-tags", "-n", repo, "-o", "tsv")
    assert tsv.split() == ["v1", "v2"]


def test_update_untag_and_delete(cli: Cli, v2: httpx.Client) -> None:
    repo = unique("cliupd")
    digest = push(v2, repo, "v1", payload="img")
    push(v2, repo, "alias", payload="img")
    push(v2, repo, "other")
    tag = cli.json("repository", "update", "--image", f"{repo}:v1", "--write-enabled", "false")
    assert tag["changeableAttributes"]["writeEnabled"] is False
    m = cli.json("manifest", "update-metadata", f"{repo}@{digest}", "--list-enabled", "false")
    assert m["changeableAttributes"]["listEnabled"] is False
    r = cli.json("repository", "update", "-n", repo, "--delete-enabled", "false", "--read-enabled", "true")
    assert r["changeableAttributes"]["deleteEnabled"] is False
    table = cli.ok("repository", "show", "--image", f"{repo}:v1", "-o", "table")
    assert "Write" in table and "false" in table
    # refusals name the lock
    message = cli.fails("repository", "untag", "--image", f"{repo}:v1")
    assert message == f"tag 'v1' in repository '{repo}' is locked (write-enabled: false)"
    message = cli.fails("repository", "delete", "--image", f"{repo}:v1", "--yes")
    assert "is locked (write-enabled: false)" in message
    message = cli.fails("repository", "delete", "-n", repo, "--yes")
    assert message == f"repository '{repo}' is locked (delete-enabled: false)"
    # unlock, untag, delete an image with every tag naming it
    cli.json("repository", "update", "--image", f"{repo}:v1", "--write-enabled", "true")
    cli.ok("repository", "untag", "--image", f"{repo}:alias")
    assert cli.json("repository", "show-tags", "-n", repo) == ["other", "v1"]
    push(v2, repo, "alias", payload="img")
    deleted = cli.json("repository", "delete", "--image", f"{repo}:v1", "--yes")
    assert deleted == {"manifestsDeleted": [digest], "tagsDeleted": ["alias", "v1"]}
    cli.json("repository", "update", "-n", repo, "--delete-enabled", "true")
    gone = cli.json("repository", "delete", "--repository", repo, "--yes")
    assert gone["tagsDeleted"] == ["other"]
    assert "not found" in cli.fails("repository", "show", "-n", repo)


def test_confirmation_and_usage_errors(cli: Cli, v2: httpx.Client) -> None:
    repo = unique("cliconf")
    push(v2, repo, "v1")
    # no terminal and no --yes: a usage error, nothing deleted
    assert "confirmation needed" in cli.fails("repository", "delete", "--image", f"{repo}:v1", code=2)
    assert "confirmation needed" in cli.fails("repository", "delete", "-n", repo, code=2)
    assert cli.json("repository", "show-tags", "-n", repo) == ["v1"]
    for args in (("repository", "show"), ("repository", "show", "-n", repo, "--image", f"{repo}:v1"),
                 ("repository", "update", "-n", repo), ("repository", "update", "-n", repo, "--write-enabled", "maybe"),
                 ("repository", "show-tags", "-n", repo, "--orderby", "size"),
                 ("repository", "show-tags", "-n", repo, "--top", "0"), ("repository", "untag", "--image", repo),
                 ("repository", "untag", "--image", f"{repo}@sha256:{'0' * 64}"),
                 ("manifest", "show-metadata"), ("manifest", "update-metadata", f"{repo}:v1")):
        cli.fails(*args, code=2)


def test_tag_rule_commands(cli: Cli, v2: httpx.Client) -> None:
    repo = unique("clirule")
    created = cli.json("tag-rule", "create", "--pattern", r"^v\d+\.\d+\.\d+$", "--repository", repo,
                       "--description", "releases")
    assert created["repository"] == repo and created["description"] == "releases"
    assert created["id"] in [r["id"] for r in cli.json("tag-rule", "list")]
    assert created["id"] in cli.ok("tag-rule", "list", "-o", "table")
    push(v2, repo, "v1.2.3")
    message = cli.fails("repository", "untag", "--image", f"{repo}:v1.2.3")
    assert "write-once" in message and created["id"] in message
    assert "not a valid RE2 regular expression" in cli.fails("tag-rule", "create", "--pattern", "(")
    cli.fails("tag-rule", "delete", "--id", created["id"], code=2)  # asks first
    cli.ok("tag-rule", "delete", "--id", created["id"], "--yes")
    cli.ok("repository", "untag", "--image", f"{repo}:v1.2.3")
    assert json.loads(cli.ok("tag-rule", "list", "-o", "json")) is not None
