"""Where a process's settings come from: in a worker, exactly what `serve` resolved (no pydantic);
elsewhere (tools, tests) the environment, validated by config.py."""

from __future__ import annotations

import json
import os

from cargohold.settings_view import SettingsView
from cargohold.supervisor import RESOLVED_ENV  # the supervisor stays small: it imports nothing of ours


def settings_from_environment() -> SettingsView:
    raw = os.environ.get(RESOLVED_ENV)
    if raw:
        return SettingsView.from_values(json.loads(raw))
    from cargohold.config import Settings  # pydantic: only outside the workers

    return Settings()
