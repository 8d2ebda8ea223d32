"""Fixtures for the full-disk tests: a small tmpfs as the registry's data dir (tests run as root in CI;
mounting fails the test under CI=true rather than skipping it)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
for extra in (HERE.parent / "cli", HERE.parent / "clients", HERE.parent / "repositories", HERE.parent / "imports"):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

from support import IN_CI  # noqa: E402


@pytest.fixture()
def tmpfs(tmp_path: Path) -> Iterator[Callable[[str], Path]]:
    """mount(size) -> a fresh tmpfs of that size (e.g. "48m"), unmounted at teardown."""
    mounted: list[Path] = []

    def mount(size: str) -> Path:
        target = tmp_path / f"tmpfs{len(mounted)}"
        target.mkdir()
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(target)],
                              capture_output=True, text=True)
        if done.returncode != 0:
            message = f"cannot mount a tmpfs (root needed): {done.stderr.strip()}"
            if IN_CI:
                pytest.fail(message)
            pytest.skip(message)
        mounted.append(target)
        return target

    yield mount
    for target in reversed(mounted):
        if subprocess.run(["umount", str(target)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(target)], capture_output=True)
