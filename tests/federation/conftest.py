"""Fixtures for workload identity federation: real OIDC issuers on 127.0.0.1, the registry's database."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from fedtools import FedServer, Local, RegistryDb

from cargohold.core.access import AccessService
from cargohold.core.signing_keys import KeyRing
from cargohold.metadata.sql import SqlMetadataStore, create_engine
from support import OUTBOUND_LOOPBACK, fresh_metadata_store, running_registry, server_database_url
from support_oidc import OidcIssuer


@pytest.fixture(scope="module")
def issuer() -> Iterator[OidcIssuer]:
    with OidcIssuer() as i:
        yield i


@pytest.fixture(scope="module")
def fed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FedServer]:
    """A registry (one worker, so one issuer-key cache) that trusts http://127.0.0.1 issuers."""
    password = secrets.token_urlsafe(18)
    data = tmp_path_factory.mktemp("federation") / "data"
    env = {"CARGOHOLD_ALLOW_INSECURE_ISSUERS": "true", "CARGOHOLD_OWNER_PASSWORD": password, **OUTBOUND_LOOPBACK}
    with running_registry(data, workers=1, extra_env=env) as server:
        meta = SqlMetadataStore(create_engine(server_database_url(server)))
        registry = meta.get_registry("cargohold")
        assert registry is not None
        db = RegistryDb(meta, registry)
        try:
            yield FedServer(server, password, db)
        finally:
            db.close()


@pytest.fixture()
def local(tmp_path: Path) -> Iterator[Local]:
    with fresh_metadata_store(tmp_path) as meta:
        db = RegistryDb(meta, meta.ensure_registry("fedtest", "127.0.0.1:5999"))
        yield Local(db, AccessService(db.store, KeyRing(tmp_path / "keys")))
