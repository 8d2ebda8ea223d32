"""Identities and their credentials: the owner, users, service principals, workload identities,
the registry admin user and repository tokens, plus scope maps and role assignments.

Secrets are generated here, returned exactly once, and stored only as argon2id hashes.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cargohold.core.permissions import SYSTEM_SCOPE_MAPS, TOKEN_ACTIONS, validate_pattern
from cargohold.core.secrets import generate_secret, hash_secret, verify_secret
from cargohold.metadata.access_store import AccessStore
from cargohold.metadata.records import Credential, Identity, RoleAssignment, ScopeMap

OWNER = "owner"


@dataclass(frozen=True, slots=True)
class NewSecret:
    """A secret as created: the only time its plain value exists outside the caller."""

    name: str
    value: str
    expires_at: datetime | None


def _now() -> datetime:
    return datetime.now(UTC)


class IdentityService:
    def __init__(self, store: AccessStore) -> None:
        self.store = store

    # --- bootstrap ------------------------------------------------------------------------------

    def ensure_owner(self, registry_id: int, password: str | None) -> NewSecret | None:
        """Create the owner on first start (Owner role on the registry).

        With `password` given, the owner's password is (re)set to it; without, a
        generated one is returned on creation only. None when nothing was created or changed.
        """
        owner = self.store.find_identity(registry_id, "user", OWNER)
        if owner is None:
            secret = password or generate_secret(18)
            ts = _now()
            owner = Identity(str(uuid.uuid4()), registry_id, "user", OWNER, "registry owner", True, None, ts, ts)
            self.store.create_identity(owner, [Credential(owner.id, "password", hash_secret(secret), ts, None)])
            self.store.add_role_assignment(RoleAssignment(str(uuid.uuid4()), registry_id, owner.id, "Owner", "", ts))
            return NewSecret("password", secret, None)
        if password is not None:
            current = next((c for c in self.store.credentials_of(owner.id) if c.name == "password"), None)
            if current is None or not verify_secret(current.secret_hash, password):
                self.store.set_credential(registry_id, Credential(owner.id, "password", hash_secret(password),
                                                                  _now(), None))
                return NewSecret("password", password, None)
        return None

    def ensure_system_scope_maps(self, registry_id: int) -> None:
        for name, (description, actions) in SYSTEM_SCOPE_MAPS.items():
            if self.store.find_scope_map(registry_id, name) is None:
                ts = _now()
                self.store.create_scope_map(ScopeMap(str(uuid.uuid4()), registry_id, name, description, True,
                                                     tuple(("*", a) for a in actions), ts, ts))

    # --- secrets ---------------------------------------------------------------------------------

    def new_secret(self, registry_id: int, identity_id: str, name: str,
                   expires_at: datetime | None = None) -> NewSecret:
        value = generate_secret()
        self.store.set_credential(registry_id, Credential(identity_id, name, hash_secret(value), _now(), expires_at))
        return NewSecret(name, value, expires_at)

    @staticmethod
    def default_secret_expiry() -> datetime:
        return _now() + timedelta(days=365)


def validate_rules(rules: list[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    """Scope-map rules: (repository pattern, action); raises ValueError with a clear message."""
    out = []
    for pattern, action in rules:
        if action not in TOKEN_ACTIONS:
            raise ValueError(f"unknown action {action!r}; use one of {', '.join(TOKEN_ACTIONS)}")
        out.append((validate_pattern(pattern), action))
    return tuple(dict.fromkeys(out))
