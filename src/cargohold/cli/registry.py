"""Registries: `create`, `list`, `show`, `update`, `delete`, `show-usage` (as `az acr ...`).

`create`, `list`, `delete`, `show -n`, `show-usage -n` and `update -n` with --sku, --login-server,
--storage-quota or --limit are operator commands (/api/registries: Owner on the default registry).
`show` and `show-usage` without -n, and `update --admin-enabled/--anonymous-pull-enabled`, act on the
registry addressed by --registry/-n (or the URL's host) with that registry's own credentials.
"""

from __future__ import annotations

import re
import sys
from typing import Annotated, Any

import typer

from cargohold.cli import client, output
from cargohold.cli.client import STATE, registry_client, segment
from cargohold.cli.common import RegistryName, Yes, given, parse_bool, split_values
from cargohold.cli.credential import CREDENTIAL_COLUMNS

REGISTRY_COLUMNS: list[output.Column] = [
    ("Name", "name"), ("Login Server", "loginServer"), ("SKU", "sku"),
    ("Admin Enabled", "adminUserEnabled"), ("Anonymous Pull", "anonymousPullEnabled"), ("Created", "createdAt"),
]
RESOURCE_COLUMNS: list[output.Column] = [
    ("Name", "name"), ("Login Server", "loginServer"), ("SKU", "sku"),
    ("Storage Quota", lambda r: "none" if r.get("storageQuotaBytes") is None else r["storageQuotaBytes"]),
    ("Storage Used", "storageUsedBytes"), ("Limit Overrides", lambda r: ", ".join(
        f"{k}={v}" for k, v in sorted((r.get("limitOverrides") or {}).items())) or "-"),
    ("Default", "isDefault"), ("Created", "createdAt"),
]
USAGE_COLUMNS: list[output.Column] = [("NAME", "name"), ("LIMIT", "limit"), ("CURRENT VALUE", "currentValue"),
                                      ("UNIT", "unit")]

_SIZE = re.compile(r"^\s*(\d+)\s*([KMGT]i?B|B)?\s*$", re.IGNORECASE)
_UNITS = {"b": 1, "kb": 1000, "mb": 1000**2, "gb": 1000**3, "tb": 1000**4,
          "kib": 1024, "mib": 1024**2, "gib": 1024**3, "tib": 1024**4}


def parse_size(option: str, value: str) -> int | None:
    """`10GiB`, `500MiB`, `2GB`, `1048576` (bytes), or `none` (no quota)."""
    if value.strip().lower() in ("none", "null"):
        return None
    m = _SIZE.match(value)
    if not m:
        client.usage_error(f"invalid {option} {value!r}: use a size such as 10GiB, 500MiB or a number of bytes, "
                           "or none")
    return int(m.group(1)) * _UNITS[(m.group(2) or "b").lower()]


def parse_limits(values: list[str] | None) -> dict[str, int | None]:
    """`--limit tokens=5 webhooks=none`: name=value pairs (none drops an override)."""
    limits: dict[str, int | None] = {}
    for pair in split_values(values):
        name, eq, raw = pair.partition("=")
        if not eq or not name:
            client.usage_error(f"invalid --limit {pair!r}: use NAME=VALUE, e.g. tokens=5")
        if raw.lower() in ("none", "null"):
            limits[name] = None
        elif raw.isdigit():
            limits[name] = int(raw)
        else:
            client.usage_error(f"invalid --limit {pair!r}: the value is a non-negative integer or none")
    return limits


def _print_owner(result: Any) -> None:
    owner = result.get("ownerCredentials") if isinstance(result, dict) else None
    if owner and STATE.output == "table" and STATE.query is None:
        # The owner's password is shown this once: do not hide it behind the table.
        output.print_table(owner, [("Owner Username", "username"), ("Owner Password (shown once)", "password")])


def create(
    name: Annotated[str, typer.Option("--name", "-n", help="registry name: 5-50 letters or digits")],
    sku: Annotated[str, typer.Option("--sku", help="Basic, Standard or Premium")],
    login_server: Annotated[str, typer.Option("--login-server", help="HOST[:PORT] clients use for this registry")],
    storage_quota: Annotated[str | None, typer.Option(
        "--storage-quota", metavar="SIZE", help="hard storage quota, e.g. 10GiB (default: none)")] = None,
    limit: Annotated[list[str] | None, typer.Option(
        "--limit", metavar="NAME=VALUE", help="override a SKU limit, e.g. tokens=5 (repeatable)")] = None,
) -> None:
    """Create a registry with its owner (the owner's password is printed once)."""
    body: dict[str, Any] = {"name": name, "sku": sku, "loginServer": login_server}
    if storage_quota is not None:
        body["storageQuotaBytes"] = parse_size("--storage-quota", storage_quota)
    limits = parse_limits(limit)
    if any(v is None for v in limits.values()):
        client.usage_error("--limit NAME=none only makes sense for update")
    if limits:
        body["limitOverrides"] = limits
    result = client.operator_api().post("/api/registries", body)
    output.emit(result, RESOURCE_COLUMNS)
    _print_owner(result)


def list_registries() -> None:
    """List the registries (operator)."""
    output.emit(client.operator_api().get("/api/registries"), RESOURCE_COLUMNS)


def show(name: RegistryName = None) -> None:
    """Show a registry: with -n, the operator's view of it; without, the addressed registry's switches."""
    if name:
        output.emit(client.operator_api().get(f"/api/registries/{segment(name)}"), RESOURCE_COLUMNS)
    else:
        output.emit(registry_client(None).get("/api/registry"), REGISTRY_COLUMNS)


def update(
    admin_enabled: Annotated[str | None, typer.Option(
        "--admin-enabled", metavar="true|false", help="enable or disable the admin user")] = None,
    anonymous_pull_enabled: Annotated[str | None, typer.Option(
        "--anonymous-pull-enabled", metavar="true|false", help="allow pulls without credentials")] = None,
    sku: Annotated[str | None, typer.Option("--sku", help="change the tier: Basic, Standard or Premium")] = None,
    login_server: Annotated[str | None, typer.Option("--login-server", help="new HOST[:PORT]")] = None,
    storage_quota: Annotated[str | None, typer.Option(
        "--storage-quota", metavar="SIZE|none", help="hard storage quota, e.g. 10GiB; none removes it")] = None,
    limit: Annotated[list[str] | None, typer.Option(
        "--limit", metavar="NAME=VALUE", help="override a SKU limit (NAME=none drops the override)")] = None,
    name: RegistryName = None,
) -> None:
    """Change a registry: tier, login server, quota and limits (operator, needs -n); admin user and anonymous
    pull (the addressed registry's own credentials)."""
    switches = given({
        "adminUserEnabled": None if admin_enabled is None else parse_bool("--admin-enabled", admin_enabled),
        "anonymousPullEnabled": None if anonymous_pull_enabled is None
        else parse_bool("--anonymous-pull-enabled", anonymous_pull_enabled)})
    plan = given({"sku": sku, "loginServer": login_server})
    if storage_quota is not None:
        plan["storageQuotaBytes"] = parse_size("--storage-quota", storage_quota)
    limits = parse_limits(limit)
    if limits:
        plan["limitOverrides"] = limits
    if not switches and not plan:
        client.usage_error("nothing to update: give --sku, --login-server, --storage-quota, --limit, "
                           "--admin-enabled and/or --anonymous-pull-enabled")
    target = name or STATE.registry
    if plan and not target:
        client.usage_error("--sku, --login-server, --storage-quota and --limit need -n NAME (the registry to change)")
    result: Any = None
    if plan:
        assert target is not None
        result = client.operator_api().patch(f"/api/registries/{segment(target)}", plan)
    if switches:
        result = registry_client(name).patch("/api/registry", switches)
        output.emit(result, REGISTRY_COLUMNS)
        admin = result.get("adminCredentials") if isinstance(result, dict) else None
        if admin and STATE.output == "table" and STATE.query is None:
            # Enabling the admin user for the first time shows its passwords, this once: do not hide them.
            output.print_table(admin, CREDENTIAL_COLUMNS)
    else:
        output.emit(result, RESOURCE_COLUMNS)


def delete(
    name: Annotated[str, typer.Option("--name", "-n", help="registry name")],
    yes: Yes = False,
) -> None:
    """Delete a registry and all its metadata (operator; not the default registry)."""
    client.confirm(f"Delete registry {name!r} with all its repositories, identities and settings?", yes)
    client.operator_api().delete(f"/api/registries/{segment(name)}")


def show_usage(name: RegistryName = None) -> None:
    """Usage against the registry's limits: NAME / LIMIT / CURRENT VALUE / UNIT."""
    if name:
        result = client.operator_api().get(f"/api/registries/{segment(name)}/usage")
    else:
        result = registry_client(None).get("/api/registry/usage")
    over = int(result.get("storageOverIncludedBytes", 0)) if isinstance(result, dict) else 0
    if STATE.output == "table" and STATE.query is None and isinstance(result, dict):
        output.emit(result.get("value"), USAGE_COLUMNS)
    else:
        output.emit(result, USAGE_COLUMNS)
    if over > 0:
        print(f"warning: storage exceeds the SKU's included amount by {over} bytes", file=sys.stderr)
    rows = result.get("value") if isinstance(result, dict) else None
    free = next((r for r in rows or () if isinstance(r, dict) and r.get("name") == "StorageFree"), None)
    if free is not None and int(free.get("currentValue", 0)) < int(free.get("limit", 0)):
        print(f"warning: only {free['currentValue']} bytes of storage free, below the reserve of {free['limit']}: "
              "new uploads are refused until space is freed", file=sys.stderr)
