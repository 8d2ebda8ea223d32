"""Login records are best effort (issue 9): one that cannot be written (a full disk) is dropped, counted and
logged, and the authentication it belongs to goes on."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from cargohold.core.access import AccessService
from cargohold.core.signing_keys import KeyRing


class _FullStore:
    """An access store whose database has no room left for a login record."""

    def record_login(self, _event: Any) -> None:
        raise sqlite3.OperationalError("database or disk is full")


def test_a_login_record_that_cannot_be_written_is_dropped_counted_and_logged(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    access = AccessService(_FullStore(), KeyRing(tmp_path / "keys"))  # type: ignore[arg-type]
    with caplog.at_level(logging.WARNING, logger="cargohold.access"):
        access.log_login(1, "ci-bot", "service_principal", "password", "127.0.0.1", True)
        access.log_login(1, "ci-bot", None, "password", "127.0.0.1", False, "wrong password")
    assert access.dropped_login_records == 2
    assert [r.getMessage() for r in caplog.records] == [
        "login record dropped (1 so far): database or disk is full",
        "login record dropped (2 so far): database or disk is full"]
