"""What the control plane receives from the composition root (app.py). Plain data, no FastAPI:
app.py builds it eagerly in every worker while the FastAPI app itself is built on the first /api request."""

from __future__ import annotations

from dataclasses import dataclass

from cargohold.core.access import AccessService
from cargohold.core.identities import Identities
from cargohold.core.importer import ImportService
from cargohold.core.listing import ListingService
from cargohold.core.ports.records import Registry
from cargohold.core.registries import RegistryResolver, RegistryService
from cargohold.core.repositories import RepositoryService
from cargohold.core.retention import RetentionService
from cargohold.core.storage_space import StorageSpace


@dataclass(frozen=True, slots=True)
class Management:
    """What the control plane needs from the composition root."""

    registry: Registry  # the default registry (it answers every host no registry claims)
    access: AccessService
    identities: Identities
    registries: RegistryResolver
    operator: RegistryService  # registries as resources (the operator's endpoints)
    repositories: RepositoryService  # repositories, tags, manifests, locks, write-once tag rules
    retention: RetentionService
    importer: ImportService  # server-side import (pushes through the data plane's services)
    listing: ListingService  # the catalog rule, shared with /v2/_catalog
    space: StorageSpace | None = None  # free space: a full disk's errors become 403 DENIED (api/space_errors.py)
