"""Small pieces shared by the command modules: option types, time helpers, column sets."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import typer

from cargohold.cli.client import usage_error

Yes = Annotated[bool, typer.Option("--yes", "-y", help="do not ask for confirmation")]
Description = Annotated[str | None, typer.Option("--description", help="free text")]
RegistryName = Annotated[str | None, typer.Option("--name", "-n", help="registry name")]

# ACR's repository-scoped actions, as scope maps and `--repository REPO ACTION...` name them.
REPOSITORY_ACTIONS = ("content/read", "content/write", "content/delete", "metadata/read", "metadata/write")


def given(values: dict[str, Any]) -> dict[str, Any]:
    """The options that were given (not None), for a request body: `{"name": n} | given({"description": d})`."""
    return {k: v for k, v in values.items() if v is not None}


def read_password_stdin(password: str | None) -> str:
    """`--password-stdin`: one line from standard input (its line ending dropped), never with --password."""
    if password:
        usage_error("--password and --password-stdin are mutually exclusive")
    data = sys.stdin.read()
    value = data[:-1] if data.endswith("\n") else data
    value = value[:-1] if value.endswith("\r") else value
    if not value:
        usage_error("--password-stdin: nothing was read from standard input")
    return value


def parse_bool(option: str, value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("true", "yes", "1", "on", "enabled"):
        return True
    if lowered in ("false", "no", "0", "off", "disabled"):
        return False
    usage_error(f"{option} takes true or false, not {value!r}")


def repository_groups(option: str, values: list[str] | None) -> list[tuple[str, list[str]]]:
    """`--repository REPO ACTION...` (repeatable) → [(REPO, [ACTION, ...]), ...], actions checked."""
    groups: list[tuple[str, list[str]]] = []
    for value in values or []:
        parts = value.replace(",", " ").split()
        if len(parts) < 2:
            usage_error(f"{option} takes a repository and at least one action "
                        f"({', '.join(REPOSITORY_ACTIONS)}), e.g. {option} backend/* content/read")
        repo, *names = parts
        for name in names:
            if name not in REPOSITORY_ACTIONS:
                usage_error(f"{option} {repo}: unknown action {name!r}; choose from {', '.join(REPOSITORY_ACTIONS)}")
        groups.append((repo, list(dict.fromkeys(names))))
    return groups


def repository_actions(option: str, values: list[str] | None) -> list[str]:
    """`--repository REPO ACTION...` (repeatable) → ACR actions `repositories/REPO/ACTION`."""
    actions: list[str] = []
    for repo, names in repository_groups(option, values):
        for name in names:
            action = f"repositories/{repo}/{name}"
            if action not in actions:
                actions.append(action)
    return actions


def split_values(values: list[str] | None) -> list[str]:
    """Values given as `--opt A B`, `--opt A --opt B` or `--opt A,B`."""
    out: list[str] = []
    for value in values or []:
        out.extend(v for v in value.replace(",", " ").split() if v)
    return out


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def expiry(days: int | None, at: str | None) -> str | None:
    """`--expiration-in-days N` or `--expiration ISO8601` → an ISO 8601 instant, or None."""
    if days is not None and at is not None:
        usage_error("--expiration-in-days and --expiration are mutually exclusive")
    if days is not None:
        if days <= 0:
            usage_error("--expiration-in-days must be a positive number of days")
        return iso(datetime.now(UTC) + timedelta(days=days))
    if at is not None:
        return iso(parse_instant("--expiration", at))
    return None


def parse_instant(option: str, value: str) -> datetime:
    """An ISO 8601 date or date-time (UTC when no offset is given)."""
    text = value.strip()
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        usage_error(f"{option}: {value!r} is not an ISO 8601 date or date-time")
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_since(value: str) -> str:
    """`--since`: an ISO 8601 instant, or a duration back from now (`90s`, `15m`, `2h`, `7d`, `1w`)."""
    text = value.strip().lower()
    if text and text[-1] in _UNITS and text[:-1].isdigit():
        return iso(datetime.now(UTC) - timedelta(seconds=int(text[:-1]) * _UNITS[text[-1]]))
    if any(c.isalpha() for c in text[:4]):
        usage_error(f"--since: {value!r} is neither an ISO 8601 instant nor a duration like 15m, 2h or 7d")
    return iso(parse_instant("--since", value))


def pick(obj: Any, *keys: str) -> Any:
    """obj[k1][k2]... or None."""
    for key in keys:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj
