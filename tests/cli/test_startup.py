"""The CLI starts quickly: importing it loads neither the server nor the HTTP, table and query libraries."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("httpx", "rich.table", "jmespath", "sqlalchemy", "starlette", "fastapi", "uvicorn", "argon2",
         "cargohold.config", "cargohold.app")


def test_importing_the_cli_loads_nothing_heavy() -> None:
    code = ("import json, sys; import cargohold.cli.main; "
            f"print(json.dumps([m for m in {list(HEAVY)!r} if m in sys.modules]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert json.loads(out) == []


def test_help_lists_every_command_group() -> None:
    result = subprocess.run([sys.executable, "-m", "cargohold", "--help"], capture_output=True, text=True,
                            env={"PATH": "/usr/bin:/bin", "COLUMNS": "120"})
    assert result.returncode == 0, result.stderr
    for command in ("serve", "login", "logout", "show", "update", "credential", "token", "scope-map", "role",
                    "sp", "user", "identity", "logs"):
        assert f" {command} " in result.stdout, command


def test_serve_help_is_the_real_one() -> None:
    """`serve` is loaded only when asked for, and then it is the real command with its options."""
    result = subprocess.run([sys.executable, "-m", "cargohold", "serve", "--help"], capture_output=True, text=True,
                            env={"PATH": "/usr/bin:/bin", "COLUMNS": "120"})
    assert result.returncode == 0, result.stderr
    for option in ("--listen", "--data-dir", "--workers", "--config"):
        assert option in result.stdout
