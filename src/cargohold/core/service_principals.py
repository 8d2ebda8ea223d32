"""Service principals: a generated client id and an expiring secret, for automation (as Azure's)."""

from __future__ import annotations

import uuid
from datetime import datetime

from cargohold.core.errors import InvalidArgument, NotFound
from cargohold.core.identity_common import (
    SERVICE_PRINCIPAL,
    IdentityView,
    OnChange,
    SecretInfo,
    notifier,
    now,
    replace_secret,
    text,
    view,
)
from cargohold.core.ports.access_store import AccessStore
from cargohold.core.ports.records import Credential, Identity
from cargohold.core.role_assignments import delete_identity
from cargohold.core.secrets import generate_secret, hash_secret

SP_SECRET = "secret"
MAX_SECRET_YEARS = 10


def _years_from_now(years: int) -> datetime:
    if not 1 <= years <= MAX_SECRET_YEARS:
        raise InvalidArgument(f"years must be between 1 and {MAX_SECRET_YEARS}", {"years": years})
    ts = now()
    try:
        return ts.replace(year=ts.year + years)
    except ValueError:  # 29 February
        return ts.replace(year=ts.year + years, day=28)


class ServicePrincipalService:
    def __init__(self, store: AccessStore, *, on_change: OnChange | None = None) -> None:
        self.store = store
        self._changed = notifier(on_change)

    def list(self, registry_id: int) -> list[IdentityView]:
        return [view(self.store, i) for i in self.store.list_identities(registry_id, SERVICE_PRINCIPAL)]

    def _find(self, registry_id: int, client_id: str) -> Identity:
        try:
            canonical = str(uuid.UUID(client_id)) if len(client_id) == 36 else ""
        except ValueError:
            canonical = ""
        sp = self.store.find_identity(registry_id, SERVICE_PRINCIPAL, canonical) if canonical else None
        if sp is None:
            raise NotFound(f"service principal {client_id[:100]!r} not found", {"clientId": client_id[:100]})
        return sp

    def get(self, registry_id: int, client_id: str) -> IdentityView:
        return view(self.store, self._find(registry_id, client_id))

    def create(self, registry_id: int, display_name: str, years: int = 1) -> IdentityView:
        """A service principal: client id (a new UUID) + a secret valid `years` years, shown this once."""
        display_name = text(display_name.strip(), "name")
        if not display_name:
            raise InvalidArgument("a service principal needs a name")
        expires = _years_from_now(years)
        ts = now()
        sp = Identity(str(uuid.uuid4()), registry_id, SERVICE_PRINCIPAL, str(uuid.uuid4()), display_name, True,
                      None, ts, ts)
        value = generate_secret()
        self.store.create_identity(sp, [Credential(sp.id, SP_SECRET, hash_secret(value), ts, expires)])
        return IdentityView(sp, (SecretInfo(SP_SECRET, ts, expires, value),))

    def reset_secret(self, registry_id: int, client_id: str, years: int = 1) -> IdentityView:
        """Replace the secret (the old one stops working) with a new one valid `years` years."""
        expires = _years_from_now(years)
        sp = self._find(registry_id, client_id)
        secret = replace_secret(self.store, registry_id, sp.id, SP_SECRET, expires)
        self._changed(sp.id)
        return view(self.store, sp, [secret])

    def delete(self, registry_id: int, client_id: str) -> None:
        delete_identity(self.store, self._find(registry_id, client_id), self._changed)
