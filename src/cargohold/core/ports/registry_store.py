"""The RegistryStore protocol: registries as resources (rows of `registries` and their settings)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from cargohold.core.ports.records import Registry, RegistrySettings


class RegistryStore(Protocol):
    def list_registries(self) -> list[tuple[Registry, datetime]]:
        """Every registry with its creation time, by name."""

    def create_registry(self, name: str, login_server: str, settings: dict[str, Any]) -> Registry:
        """Insert the registry and its settings row in one transaction; Conflict when the name
        (case-insensitively) or the login server is taken."""

    def update_registry(self, registry_id: int, login_server: str | None, settings: dict[str, Any]) -> None:
        """Change the login server (Conflict when taken) and settings columns in one transaction."""

    def delete_registry(self, registry_id: int) -> bool:
        """Delete the registry and every row that carries it (blob files are left alone)."""

    def get_settings(self, registry_id: int) -> RegistrySettings: ...

    def count_tokens(self, registry_id: int) -> int: ...

    def count_user_scope_maps(self, registry_id: int) -> int: ...


class QuotaExceeded(Exception):
    """A blob insert refused by the registry's hard storage quota (the transaction rolled back)."""

    def __init__(self, used: int, quota: int, size: int) -> None:
        super().__init__(f"{used} bytes used of {quota}; {size} more refused")
        self.used = used
        self.quota = quota
        self.size = size
