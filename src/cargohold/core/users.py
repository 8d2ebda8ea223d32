"""Users: a name and a password, their rights from role assignments; `owner` is created with each registry."""

from __future__ import annotations

import re
import uuid

from cargohold.core.errors import Conflict, InvalidArgument, NotFound
from cargohold.core.identity_common import USER, IdentityView, NewSecret, OnChange, SecretInfo, notifier, now
from cargohold.core.ports.access_store import AccessStore
from cargohold.core.ports.records import Credential, Identity, RoleAssignment
from cargohold.core.role_assignments import OWNER_ROLE, delete_identity
from cargohold.core.secrets import generate_secret, hash_secret, verify_secret

OWNER = "owner"
PASSWORD = "password"
NULL_GUID = "00000000-0000-0000-0000-000000000000"  # the refresh-token username; no identity may take it
MIN_PASSWORD = 8
MAX_PASSWORD = 256
_USER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")


class UserService:
    def __init__(self, store: AccessStore, *, on_change: OnChange | None = None) -> None:
        self.store = store
        self._changed = notifier(on_change)

    def ensure_owner(self, registry_id: int, password: str | None) -> NewSecret | None:
        """Create the owner on first start (Owner role on the registry).

        With `password` given, the owner's password is (re)set to it; without, a
        generated one is returned on creation only. None when nothing was created or changed.
        """
        owner = self.store.find_identity(registry_id, USER, OWNER)
        if owner is None:
            secret = password or generate_secret(18)
            ts = now()
            owner = Identity(str(uuid.uuid4()), registry_id, USER, OWNER, "registry owner", True, None, ts, ts)
            self.store.create_identity(owner, [Credential(owner.id, PASSWORD, hash_secret(secret), ts, None)])
            self.store.add_role_assignment(RoleAssignment(str(uuid.uuid4()), registry_id, owner.id, OWNER_ROLE,
                                                          "", ts))
            return NewSecret(PASSWORD, secret, None)
        if password is not None:
            current = next((c for c in self.store.credentials_of(owner.id) if c.name == PASSWORD), None)
            if current is None or not verify_secret(current.secret_hash, password):
                self.store.set_credential(registry_id, Credential(owner.id, PASSWORD, hash_secret(password),
                                                                  now(), None))
                return NewSecret(PASSWORD, password, None)
        return None

    def list(self, registry_id: int) -> list[Identity]:
        return self.store.list_identities(registry_id, USER)

    def get(self, registry_id: int, name: str) -> Identity:
        user = self.store.find_identity(registry_id, USER, name) if _USER_NAME.fullmatch(name) else None
        if user is None:
            raise NotFound(f"user {name[:100]!r} not found", {"name": name[:100]})
        return user

    def create(self, registry_id: int, name: str, password: str | None = None) -> IdentityView:
        """A user with a password (generated when not given); the view carries it this once."""
        if not _USER_NAME.fullmatch(name) or name == NULL_GUID:
            raise InvalidArgument("user names are 1-64 letters, digits, '.', '_', '@' or '-', starting with a "
                                  "letter or digit", {"name": name[:100]})
        if password is not None and not (MIN_PASSWORD <= len(password) <= MAX_PASSWORD):
            raise InvalidArgument(f"a password has {MIN_PASSWORD} to {MAX_PASSWORD} characters")
        if self.store.find_identity(registry_id, USER, name) is not None:
            raise Conflict(f"user {name!r} already exists", {"name": name})
        value = password or generate_secret(18)
        ts = now()
        user = Identity(str(uuid.uuid4()), registry_id, USER, name, "", True, None, ts, ts)
        self.store.create_identity(user, [Credential(user.id, PASSWORD, hash_secret(value), ts, None)])
        return IdentityView(user, (SecretInfo(PASSWORD, ts, None, value),))

    def delete(self, registry_id: int, name: str) -> None:
        if name == OWNER:
            raise Conflict("the owner cannot be deleted", {"name": name})
        delete_identity(self.store, self.get(registry_id, name), self._changed)
