"""What every identity concept shares: the identity kinds, how a secret is made and shown, input checks,
and the composition root's hooks (change notification, SKU limits).

Secrets are generated here, returned exactly once, and stored only as argon2id hashes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from cargohold.core.errors import InvalidArgument
from cargohold.core.ports.access_store import AccessStore
from cargohold.core.ports.records import Credential, Identity
from cargohold.core.secrets import generate_secret, hash_secret

# Identity kinds as stored (docs/management-api.md).
USER = "user"
SERVICE_PRINCIPAL = "service_principal"
WORKLOAD = "workload"
ADMIN = "admin"
TOKEN = "token"
MAX_DESCRIPTION = 255

OnChange = Callable[[str | None], None]
"""Called after a change to an identity's rights or credentials (with its id) or to registry-wide state
(with None), so cached grants and passwords are dropped."""

Limits = Callable[[int, str], Callable[[int], None]]
"""For registry `id` and limit `name` (skus.TOKENS, skus.SCOPE_MAPS), a check of the current count that
raises at the limit (core/usage.py LimitGuard.checker); the store runs it inside the insert's transaction."""


@dataclass(frozen=True, slots=True)
class NewSecret:
    """A secret as created: the only time its plain value exists outside the caller."""

    name: str
    value: str
    expires_at: datetime | None


@dataclass(frozen=True, slots=True)
class SecretInfo:
    """A credential as the control plane shows it: never the hash; the value only when just generated."""

    name: str
    created_at: datetime
    expires_at: datetime | None
    value: str | None = None


@dataclass(frozen=True, slots=True)
class IdentityView:
    identity: Identity
    secrets: tuple[SecretInfo, ...] = ()
    scope_map_name: str | None = None  # tokens

    @property
    def new_secret(self) -> str | None:
        """The value of the secret this call generated (users, service principals)."""
        return next((s.value for s in self.secrets if s.value is not None), None)


def now() -> datetime:
    return datetime.now(UTC)


def text(value: str, what: str, max_length: int = MAX_DESCRIPTION) -> str:
    """`value` if it is at most `max_length` printable characters, else InvalidArgument naming `what`."""
    if len(value) > max_length or not value.isprintable():
        raise InvalidArgument(f"{what} must be at most {max_length} printable characters", {what: value[:300]})
    return value


def utc(value: datetime) -> datetime:
    """`value` in UTC (a value without a zone is taken as UTC)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def secret_infos(credentials: Iterable[Credential], new: Iterable[NewSecret] = ()) -> tuple[SecretInfo, ...]:
    values = {s.name: s.value for s in new}
    return tuple(SecretInfo(c.name, c.created_at, c.expires_at, values.get(c.name)) for c in credentials)


def view(store: AccessStore, identity: Identity, new: Iterable[NewSecret] = ()) -> IdentityView:
    """`identity` with its credentials (the values of `new` shown)."""
    return IdentityView(identity, secret_infos(store.credentials_of(identity.id), new))


def replace_secret(store: AccessStore, registry_id: int, identity_id: str, name: str,
                   expires_at: datetime | None = None) -> NewSecret:
    """A new generated value for credential `name` (the previous one stops working)."""
    value = generate_secret()
    store.set_credential(registry_id, Credential(identity_id, name, hash_secret(value), now(), expires_at))
    return NewSecret(name, value, expires_at)


def notifier(on_change: OnChange | None) -> OnChange:
    """`on_change`, or a no-op when the composition root gave none."""
    return on_change if on_change is not None else (lambda identity_id: None)


def limit_check(limits: Limits | None, registry_id: int, name: str) -> Callable[[int], None] | None:
    """The check of limit `name` for the registry, or None when limits are not enforced."""
    return None if limits is None else limits(registry_id, name)
