"""Caps on open upload sessions, per repository and per identity.

An upload session costs a metadata row and a file until it completes or expires (a day by
default); without a cap one identity could open them until the disk or the table gives out
(5 000 POSTs opened 1 335 sessions before the write throttle stopped them). The count is read
from the metadata store, so it holds across workers; two starts racing past the last free slot
may both succeed, which overshoots a cap by at most the number of concurrent starts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from cargohold.core.errors import Denied


class OpenUploads(Protocol):
    def count_open_uploads(self, registry_id: int, repository: str, owner: str | None) -> tuple[int, int]:
        """Open sessions in the repository, and those started by `owner` in the registry (0 when None)."""


@dataclass(frozen=True, slots=True)
class UploadCaps:
    counts: OpenUploads
    per_repository: int
    per_identity: int

    def check(self, registry_id: int, repository: str, owner: str | None) -> None:
        """Raise Denied when starting one more session would pass a cap."""
        in_repository, by_owner = self.counts.count_open_uploads(registry_id, repository, owner)
        hint = "complete or cancel some (abandoned uploads expire)"
        if in_repository >= self.per_repository:
            raise Denied(f"{in_repository} uploads are already open in repository '{repository}', the most "
                         f"allowed; {hint}", {"open": in_repository, "limit": self.per_repository})
        if owner is not None and by_owner >= self.per_identity:
            raise Denied(f"{by_owner} uploads are already open for this identity, the most allowed; {hint}",
                         {"open": by_owner, "limit": self.per_identity})
