"""Fixtures for workload identity federation: real OIDC issuers on 127.0.0.1, the registry's database."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from fedtools import FedServer, Local, RegistryDb

from cargohold.core.access import AccessService
from cargohold.core.signing_keys import KeyRing
from cargohold.metadata.migrate import upgrade
from cargohold.metadata.sql import SqlMetadataStore, create_engine
from support import OUTBOUND_LOOPBACK, _fresh_database_url, running_registry
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
        url = server.env.get("CARGOHOLD_DATABASE_URL") or f"sqlite:///{(data / 'metadata.db').resolve()}"
        meta = SqlMetadataStore(create_engine(url))
        registry = meta.get_registry("cargohold")
        assert registry is not None
        db = RegistryDb(meta, registry)
        try:
            yield FedServer(server, password, db)
        finally:
            db.close()


@pytest.fixture()
def local(tmp_path: Path) -> Iterator[Local]:
    url = _fresh_database_url() or f"sqlite:///{tmp_path / 'meta.db'}"
    engine = create_engine(url)
    upgrade(engine)
    meta = SqlMetadataStore(engine)
    registry = meta.ensure_registry("fedtest", "127.0.0.1:5999")
    db = RegistryDb(meta, registry)
    try:
        yield Local(db, AccessService(db.store, KeyRing(tmp_path / "keys")))
    finally:
        db.close()
