"""Memory-mapped files shared by the workers (the throttle table, the generations) have every page
allocated when opened, so touching one on a full disk cannot raise SIGBUS; when a full disk refuses
the allocation at start, that is an error then (the throttle fails open), never a signal later."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from disktools import fill

from cargohold.core.throttling import Plan
from cargohold.metadata.generations import SharedGenerations
from cargohold.runtime.mapped import MappedFileUnavailable
from cargohold.runtime.shared_buckets import SharedBuckets, shared_throttle
from cargohold.settings_view import SettingsView


def _allocated(path: Path) -> int:
    return os.stat(path).st_blocks * 512


def test_the_throttle_table_and_the_generations_are_allocated_in_full(tmpfs: Any) -> None:
    directory = tmpfs("16m")
    table = SharedBuckets(directory / "throttle")
    generations = SharedGenerations(directory / "generations")
    try:
        assert _allocated(directory / "throttle") >= table.size
        assert _allocated(directory / "generations") >= os.path.getsize(directory / "generations") > 0
    finally:
        table.close()
    # Reopened on a disk that is full now: nothing new to allocate, so both still open and work.
    fill(directory / "filler")
    again = SharedBuckets(directory / "throttle")
    try:
        generations.bump(0)
        assert SharedGenerations(directory / "generations").current(0) == generations.current(0)
    finally:
        again.close()


def test_a_full_disk_at_first_start_is_an_error_then_not_a_sigbus_later(tmpfs: Any) -> None:
    directory = tmpfs("1m")
    fill(directory / "filler")
    with pytest.raises(MappedFileUnavailable):
        SharedBuckets(directory / "throttle")
    with pytest.raises(MappedFileUnavailable):
        SharedGenerations(directory / "generations")
    settings = SettingsView.from_values({**_defaults(), "data_dir": str(directory)})

    def plan(_registry_id: int) -> Plan:
        return "Basic", None

    assert shared_throttle(settings, plan) is None  # throttling fails open rather than keep the worker down


def _defaults() -> dict[str, Any]:
    from cargohold.config import Settings

    return Settings().model_dump(mode="json")
