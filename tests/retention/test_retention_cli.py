"""`cargohold config retention show|update` against a real server: output formats and error lines."""

from __future__ import annotations

from pathlib import Path

import pytest
from clitools import Cli
from retentiontools import server_sql

from support import RegistryServer


@pytest.fixture()
def cli(tmp_path: Path, server: RegistryServer) -> Cli:
    return Cli(tmp_path / "cli", server)


def test_show_and_update(cli: Cli) -> None:
    shown = cli.json("config", "retention", "show")
    assert (shown["status"], shown["days"], shown["type"]) == ("disabled", 7, "UntaggedManifests")
    try:
        updated = cli.json("config", "retention", "update", "--status", "enabled", "--days", "30",
                           "--type", "UntaggedManifests")
        assert (updated["status"], updated["days"]) == ("enabled", 30)
        table = cli.ok("config", "retention", "show", "-o", "table")
        assert "Status" in table and "enabled" in table and "30" in table and "UntaggedManifests" in table
        assert cli.ok("config", "retention", "show", "--query", "days", "-o", "tsv").strip() == "30"
    finally:
        cli.ok("config", "retention", "update", "--status", "disabled", "--days", "7")


def test_error_lines(cli: Cli, server: RegistryServer) -> None:
    assert "from 0 to 365" in cli.fails("config", "retention", "update", "--days", "400")
    assert "from 0 to 365" in cli.fails("config", "retention", "update", "--days", "-1")
    assert "UntaggedManifests" in cli.fails("config", "retention", "update", "--status", "enabled",
                                            "--type", "TaggedManifests")
    assert "enabled or disabled" in cli.fails("config", "retention", "update", "--status", "on", code=2)
    assert "nothing to update" in cli.fails("config", "retention", "update", code=2)
    assert "--days" in cli.fails("config", "retention", "update", "--days", "seven", code=2)
    server_sql(server, "UPDATE registry_settings SET sku = 'Basic'")
    try:
        message = cli.fails("config", "retention", "update", "--status", "enabled")
        assert "the retention policy needs the Premium SKU" in message and "is Basic" in message
    finally:
        server_sql(server, "UPDATE registry_settings SET sku = 'Premium'")
    assert cli.json("config", "retention", "show")["status"] == "disabled"
