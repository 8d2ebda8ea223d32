"""The registry's switches (admin user, anonymous pull) and the admin user: an identity named after the
registry with two passwords, created the first time it is enabled (as ACR's)."""

from __future__ import annotations

import uuid
from datetime import datetime

from cargohold.core import skus
from cargohold.core.errors import Conflict, InvalidArgument
from cargohold.core.identity_common import (
    ADMIN,
    IdentityView,
    OnChange,
    SecretInfo,
    notifier,
    now,
    replace_secret,
    view,
)
from cargohold.core.ports.access_store import AccessStore
from cargohold.core.ports.records import Credential, Identity, Registry, RegistrySettings
from cargohold.core.secrets import generate_secret, hash_secret

ADMIN_PASSWORDS = ("password", "password2")


class AdminUserService:
    def __init__(self, store: AccessStore, *, on_change: OnChange | None = None) -> None:
        self.store = store
        self._changed = notifier(on_change)

    def settings(self, registry_id: int) -> RegistrySettings:
        return self.store.get_settings(registry_id)

    def registry_created_at(self, registry_id: int) -> datetime:
        return self.store.registry_created_at(registry_id) or now()

    def update_settings(self, registry: Registry, *, admin_user_enabled: bool | None = None,
                        anonymous_pull_enabled: bool | None = None) -> tuple[RegistrySettings, IdentityView | None]:
        """Flip the registry's switches. Enabling the admin user the first time creates it with two
        passwords, returned (once) as the second value; later enables reuse the same passwords."""
        if anonymous_pull_enabled:
            sku = self.store.get_settings(registry.id).sku
            if not skus.parse_sku(sku).has(skus.ANONYMOUS_PULL):
                raise Conflict(f"anonymous pull needs the Standard or Premium SKU; registry {registry.name!r} is {sku}",
                               {"sku": sku, "feature": skus.ANONYMOUS_PULL})
        created = None
        if admin_user_enabled and self._find(registry) is None:
            created = self._create(registry)
        changes: dict[str, bool] = {}
        if admin_user_enabled is not None:
            changes["admin_enabled"] = admin_user_enabled
        if anonymous_pull_enabled is not None:
            changes["anonymous_pull_enabled"] = anonymous_pull_enabled
        settings = self.store.update_settings(registry.id, **changes)
        if changes:
            self._changed(None)
        return settings, created

    def _find(self, registry: Registry) -> Identity | None:
        return self.store.find_identity(registry.id, ADMIN, registry.name)

    def _create(self, registry: Registry) -> IdentityView:
        ts = now()
        identity = Identity(str(uuid.uuid4()), registry.id, ADMIN, registry.name, "registry admin user", True, None,
                            ts, ts)
        values = {name: generate_secret() for name in ADMIN_PASSWORDS}
        credentials = [Credential(identity.id, n, hash_secret(v), ts, None) for n, v in values.items()]
        self.store.create_identity(identity, credentials)
        return IdentityView(identity, tuple(SecretInfo(c.name, ts, None, values[c.name]) for c in credentials))

    def credentials(self, registry: Registry) -> IdentityView:
        """The admin user's username and password names (values are shown only when generated)."""
        if not self.store.get_settings(registry.id).admin_enabled:
            raise Conflict("the admin user is disabled; enable it with adminUserEnabled: true")
        admin = self._find(registry)
        if admin is None:  # enabled by other means than update_settings
            return self._create(registry)
        return view(self.store, admin)

    def regenerate_password(self, registry: Registry, name: str) -> IdentityView:
        if name not in ADMIN_PASSWORDS:
            raise InvalidArgument(f"name must be one of {', '.join(ADMIN_PASSWORDS)}", {"name": name[:100]})
        admin = self.credentials(registry).identity
        secret = replace_secret(self.store, registry.id, admin.id, name)
        self._changed(admin.id)
        return view(self.store, admin, [secret])
