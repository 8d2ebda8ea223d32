"""Failures are one `error:` line on stderr, nothing on stdout, and a non-zero exit: 2 for a wrong
command line, 1 for an operation the server (or the network) refused. Never a traceback."""

from __future__ import annotations

import pytest
from clitools import Cli, unique

from support import RegistryServer


def test_bad_credentials(cli: Cli, cli_registry: RegistryServer) -> None:
    message = cli.fails("token", "list", env={"CARGOHOLD_PASSWORD": "wrong"})
    assert "password" in message.lower()
    message = cli.fails("--username", cli_registry.username, "--password", "wrong", "show")
    assert "password" in message.lower()
    # only one of the pair
    assert "--username and --password" in cli.fails("show", env={"CARGOHOLD_PASSWORD": None}, code=2)


def test_not_logged_in(anon_cli: Cli) -> None:
    assert "cargohold login" in anon_cli.fails("scope-map", "list")


def test_unknown_things(cli: Cli) -> None:
    missing = unique("missing-")
    assert missing in cli.fails("token", "show", "--name", missing)
    assert missing in cli.fails("token", "delete", "--name", missing, "--yes")
    assert missing in cli.fails("scope-map", "show", "--name", missing)
    cli.fails("token", "create", "--name", unique("tok-"), "--scope-map", missing)
    cli.fails("sp", "show", "--id", missing)
    assert missing in cli.fails("sp", "show", "--name", missing)
    cli.fails("user", "delete", "--name", missing, "--yes")
    cli.fails("role", "assignment", "delete", "--id", missing, "--yes")
    assert "no role assignment matches" in cli.fails("role", "assignment", "delete", "--assignee", missing,
                                                     "--yes")


def test_invalid_role_and_assignee(cli: Cli) -> None:
    user = unique("user-")
    cli.json("user", "create", "--name", user)
    message = cli.fails("role", "assignment", "create", "--assignee", user, "--role", "AcrSuperuser")
    assert "AcrSuperuser" in message or "role" in message.lower()
    cli.fails("role", "assignment", "create", "--assignee", unique("ghost-"), "--role", "AcrPull")
    cli.ok("user", "delete", "--name", user, "--yes")


def test_conflicts(cli: Cli) -> None:
    name = unique("map-")
    cli.json("scope-map", "create", "-n", name, "--repository", "a/*", "content/read")
    cli.fails("scope-map", "create", "-n", name, "--repository", "a/*", "content/read")
    token = unique("tok-")
    cli.json("token", "create", "-n", token, "--scope-map", name, "--no-passwords")
    cli.fails("scope-map", "delete", "-n", name, "--yes")  # a token uses it
    cli.ok("token", "delete", "-n", token, "--yes")
    cli.ok("scope-map", "delete", "-n", name, "--yes")


def test_unreachable_url(cli: Cli) -> None:
    message = cli.fails("--url", "http://127.0.0.1:1", "token", "list")
    assert message.startswith("cannot connect to http://127.0.0.1:1")
    message = cli.fails("token", "list", env={"CARGOHOLD_URL": "http://127.0.0.1:1"})
    assert "cannot connect" in message


@pytest.mark.parametrize("argv, expected", [
    (["token", "create", "--scope-map", "x"], "--name"),
    (["token", "create", "--name", "t1"], "--scope-map"),
    (["token", "create", "--name", "t1", "--scope-map", "x", "--repository", "r", "content/read"], "exclusive"),
    (["token", "create", "--name", "t1", "--repository", "r", "content/fly"], "content/fly"),
    (["token", "create", "--name", "t1", "--repository", "r"], "at least one action"),
    (["token", "update", "--name", "t1", "--status", "paused"], "enabled or disabled"),
    (["token", "update", "--name", "t1"], "nothing to update"),
    (["token", "credential", "delete", "--name", "t1", "--yes"], "--password1"),
    (["token", "list", "--bogus"], "--bogus"),
    (["token", "frobnicate"], "frobnicate"),
    (["scope-map", "create", "--name", "m1"], "--repository"),
    (["update"], "nothing to update"),
    (["update", "--admin-enabled", "maybe"], "true or false"),
    (["credential", "renew", "--password-name", "password3"], "password2"),
    (["logs", "login", "--outcome", "meh"], "success or failure"),
    (["logs", "login", "--since", "yesterday"], "--since"),
    (["logs", "login", "--top", "0"], "--top"),
    (["-o", "yaml", "show"], "json, table or tsv"),
    (["show", "--query", "[?"], "--query"),
    (["--url", "ftp://x", "show"], "invalid URL"),
    (["token", "delete", "--name", "t1"], "--yes"),
    (["role", "assignment", "create", "--role", "AcrPull"], "--assignee"),
    (["sp", "show"], "--id"),
])
def test_usage_errors_exit_2(cli: Cli, argv: list[str], expected: str) -> None:
    assert expected in cli.fails(*argv, code=2)


def test_no_arguments_shows_help(cli: Cli) -> None:
    result = cli.run("token")
    assert result.returncode == 2
    assert "create" in result.stdout + result.stderr
    assert "Traceback" not in result.stderr
