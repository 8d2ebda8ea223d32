"""The operator's scenarios through the CLI, with their transcripts (printed with -s, and written to
`<tmp>/registries-cli-transcript.txt`, or to $CARGOHOLD_TRANSCRIPT_DIR when set):

- a Basic registry created with its owner password shown once, listed and shown;
- the 101st token refused, naming the limit; anonymous pull refused on Basic, naming the SKUs;
- a downgrade refused naming the setting it would strand; usage as `show-usage` prints it;
- sizes and limits on the command line; the registry deleted.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from clitools import Cli, Result
from mgmttools import Api
from regtools import unique_name

from support import RegistryServer


class Transcript:
    def __init__(self, cli: Cli, path: Path) -> None:
        self.cli = cli
        self.path = path
        self.lines: list[str] = []

    def run(self, *args: str, shown: str | None = None, **kwargs: object) -> Result:
        result = self.cli.run(*args, **kwargs)  # type: ignore[arg-type]
        line = shown or " ".join(args)
        self.lines.append(f"$ cargohold {line}")
        self.lines.extend(result.stdout.rstrip("\n").splitlines())
        self.lines.extend(result.stderr.rstrip("\n").splitlines())
        self.lines.append(f"(exit {result.returncode})")
        self.lines.append("")
        return result

    def save(self) -> None:
        text = "\n".join(self.lines) + "\n"
        self.path.write_text(text)
        print("\n" + text)


@pytest.fixture()
def transcript(tmp_path: Path, ops_registry: RegistryServer) -> Iterator[Transcript]:
    directory = Path(os.environ.get("CARGOHOLD_TRANSCRIPT_DIR", tmp_path))
    directory.mkdir(parents=True, exist_ok=True)
    t = Transcript(Cli(tmp_path / "cli", ops_registry), directory / "registries-cli-transcript.txt")
    yield t
    t.save()


def test_operator_scenarios_through_the_cli(transcript: Transcript, operator: Api,
                                            ops_registry: RegistryServer) -> None:
    name = unique_name("team")
    login_server = f"{name}.example.test:5000"
    created = transcript.run("create", "-n", name, "--sku", "Basic", "--login-server", login_server,
                             "--storage-quota", "10GiB", "-o", "table")
    assert created.returncode == 0, str(created)
    password = re.search(r"owner\s+(\S{20,})", created.stdout)
    assert password is not None, created.stdout
    owner = ("--username", "owner", "--password", password.group(1))
    shown_owner = "--username owner --password '***'"
    assert transcript.run("list", "-o", "table").returncode == 0
    shown = transcript.run("show", "-n", name, "-o", "json")
    assert '"storageQuotaBytes": 10737418240' in shown.stdout and '"sku": "Basic"' in shown.stdout

    # 100 tokens through the API (no passwords: quick), then the 101st through the CLI.
    with Api(ops_registry.url, "owner", password.group(1)) as own:
        own.http.headers["Host"] = login_server
        for i in range(100):
            own.post("/tokens", {"name": f"ci-token-{i:03d}", "scopeMapName": "_repositories_pull",
                                 "noPasswords": True}, expect=201)
    refused = transcript.run("-r", name, *owner, "token", "create", "-n", "ci-token-101", "--scope-map",
                             "_repositories_pull", shown=f"-r {name} {shown_owner} token create -n ci-token-101 "
                                                         "--scope-map _repositories_pull")
    assert refused.returncode == 1
    assert refused.stderr.strip() == f"error: registry '{name}' (Basic) has reached its limit of 100 tokens"
    anonymous = transcript.run("-r", name, *owner, "update", "--anonymous-pull-enabled", "true",
                               shown=f"-r {name} {shown_owner} update --anonymous-pull-enabled true")
    assert anonymous.returncode == 1
    assert anonymous.stderr.strip() == (f"error: anonymous pull needs the Standard or Premium SKU; "
                                        f"registry '{name}' is Basic")

    usage = transcript.run("show-usage", "-n", name, "-o", "table")
    assert usage.returncode == 0
    header = usage.stdout.splitlines()[0].split()
    assert header == ["NAME", "LIMIT", "CURRENT", "VALUE", "UNIT"], usage.stdout
    assert re.search(r"Tokens\s+100\s+100\s+Count", usage.stdout), usage.stdout
    assert re.search(r"StorageQuota\s+10737418240\s+0\s+Bytes", usage.stdout), usage.stdout
    own_usage = transcript.run("-r", name, *owner, "show-usage", "-o", "table",
                               shown=f"-r {name} {shown_owner} show-usage -o table")
    def fixed(text: str) -> list[str]:  # the storage's capacity rows move with the disk (issue 9)
        return [line for line in text.splitlines() if not line.startswith(("StorageCapacity", "StorageFree"))]

    assert own_usage.returncode == 0 and fixed(own_usage.stdout) == fixed(usage.stdout)

    # Standard allows anonymous pull; going back to Basic would strand it.
    assert transcript.run("update", "-n", name, "--sku", "Standard", "--limit", "tokens=150",
                          "--storage-quota", "none", "-o", "table").returncode == 0
    assert transcript.run("-r", name, *owner, "update", "--anonymous-pull-enabled", "true", "-o", "table",
                          shown=f"-r {name} {shown_owner} update --anonymous-pull-enabled true -o table"
                          ).returncode == 0
    downgrade = transcript.run("update", "-n", name, "--sku", "Basic")
    assert downgrade.returncode == 1
    assert downgrade.stderr.startswith(f"error: cannot change registry '{name}' to Basic: anonymous pull is enabled")

    unknown = transcript.run("-r", "nosuchregistry", "show")
    assert unknown.returncode == 1 and "'nosuchregistry' not found" in unknown.stderr
    assert transcript.run("delete", "-n", name, "--yes").returncode == 0
    gone = transcript.run("show", "-n", name)
    assert gone.returncode == 1 and f"registry '{name}' not found" in gone.stderr


@pytest.mark.parametrize(("args", "message"), [
    (["create", "-n", "abcde1", "--sku", "Basic", "--login-server", "a.test", "--storage-quota", "ten"], "10GiB"),
    (["create", "-n", "abcde1", "--sku", "Basic", "--login-server", "a.test", "--limit", "tokens"], "NAME=VALUE"),
    (["create", "-n", "abcde1", "--sku", "Basic", "--login-server", "a.test", "--limit", "tokens=-1"],
     "non-negative"),
    (["update", "--sku", "Basic"], "-n NAME"),
])
def test_cli_usage_errors(tmp_path: Path, ops_registry: RegistryServer, args: list[str], message: str) -> None:
    assert message in Cli(tmp_path / "cli", ops_registry).fails(*args, code=2)


def test_cli_sizes_and_limits(tmp_path: Path, operator: Api, ops_registry: RegistryServer) -> None:
    cli = Cli(tmp_path / "cli", ops_registry)
    name = unique_name("sizes")
    created = cli.json("create", "-n", name, "--sku", "Premium", "--login-server", f"{name}.test",
                       "--storage-quota", "500MiB", "--limit", "tokens=5", "webhooks=7")
    assert created["storageQuotaBytes"] == 500 * 1024**2
    assert created["limitOverrides"] == {"tokens": 5, "webhooks": 7}
    updated = cli.json("update", "-n", name, "--limit", "tokens=none", "--storage-quota", "1048576")
    assert updated["limitOverrides"] == {"webhooks": 7} and updated["storageQuotaBytes"] == 1048576
    assert name in [r["name"] for r in cli.json("list")]
    cli.ok("delete", "-n", name, "--yes")
