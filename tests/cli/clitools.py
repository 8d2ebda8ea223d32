"""Running `cargohold` as a subprocess in a sandbox, for the CLI tests.

Every `Cli` has its own HOME and XDG_RUNTIME_DIR, so `login` writes docker's config.json, the
containers auth file and the CLI's own config under the test's tmp_path, never the real ones.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import support
from support import RegistryServer


def unique(prefix: str) -> str:
    """support.unique without the dash (some names the CLI takes are letters and digits only)."""
    return support.unique(prefix, sep="")


@dataclass
class Result:
    args: list[str]
    returncode: int
    stdout: str
    stderr: str

    def __str__(self) -> str:
        return (f"cargohold {' '.join(self.args)} -> exit {self.returncode}\n"
                f"--- stdout ---\n{self.stdout}\n--- stderr ---\n{self.stderr}")


class Cli:
    """Runs `python -m cargohold ...` against a server, in a sandboxed HOME."""

    def __init__(self, root: Path, server: RegistryServer, *, owner: bool = True) -> None:
        self.root = root
        self.server = server
        self.home = root / "home"
        self.runtime_dir = root / "xdg-run"
        self.home.mkdir(parents=True, exist_ok=True)
        self.runtime_dir.mkdir(parents=True, exist_ok=True)
        self.runtime_dir.chmod(0o700)
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "C.UTF-8",
            "HOME": str(self.home),
            "XDG_RUNTIME_DIR": str(self.runtime_dir),
            "CARGOHOLD_URL": server.url,
        }
        if owner:
            self.env["CARGOHOLD_USERNAME"] = server.username
            self.env["CARGOHOLD_PASSWORD"] = server.password

    # files login writes with this environment
    @property
    def docker_config(self) -> Path:
        return self.home / ".docker" / "config.json"

    @property
    def containers_auth(self) -> Path:
        return self.runtime_dir / "containers" / "auth.json"

    @property
    def cli_config(self) -> Path:
        return self.home / ".config" / "cargohold" / "config.json"

    def run(self, *args: str, input: str | None = None, env: dict[str, str | None] | None = None,
            timeout: float = 60) -> Result:
        full_env = dict(self.env)
        for key, value in (env or {}).items():
            if value is None:
                full_env.pop(key, None)
            else:
                full_env[key] = value
        proc = subprocess.run([sys.executable, "-m", "cargohold", *args], env=full_env, capture_output=True,
                              text=True, timeout=timeout, input=input,
                              stdin=None if input is not None else subprocess.DEVNULL)
        return Result(list(args), proc.returncode, proc.stdout, proc.stderr)

    def ok(self, *args: str, **kwargs: Any) -> str:
        """stdout of a command that must succeed without a word on stderr."""
        result = self.run(*args, **kwargs)
        assert result.returncode == 0, str(result)
        assert result.stderr == "", str(result)
        return result.stdout

    def json(self, *args: str, **kwargs: Any) -> Any:
        out = self.ok(*args, "-o", "json", **kwargs)
        return json.loads(out) if out.strip() else None

    def fails(self, *args: str, code: int = 1, **kwargs: Any) -> str:
        """The message of a command that must fail: nothing on stdout, one `error:` line on stderr."""
        result = self.run(*args, **kwargs)
        assert result.returncode == code, str(result)
        assert result.stdout == "", str(result)
        lines = result.stderr.splitlines()
        assert len(lines) == 1, str(result)
        assert lines[0].startswith("error: "), str(result)
        assert "Traceback" not in result.stderr
        return lines[0][len("error: "):]
