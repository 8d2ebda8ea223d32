"""Repository tokens: two passwords (password1, password2) with an optional expiry, and the rights of
exactly one scope map (an existing one, or a `<token>-scope-map` made for it, as `az acr token create`)."""

from __future__ import annotations

import builtins
import re
import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from cargohold.core import skus
from cargohold.core.errors import Conflict, InvalidArgument, NotFound
from cargohold.core.identity_common import (
    TOKEN,
    IdentityView,
    Limits,
    NewSecret,
    OnChange,
    limit_check,
    notifier,
    now,
    replace_secret,
    secret_infos,
    utc,
)
from cargohold.core.ports.access_store import AccessStore
from cargohold.core.ports.records import Credential, Identity, ScopeMap
from cargohold.core.scope_maps import ScopeMapService, sorted_rules, validate_rules
from cargohold.core.secrets import generate_secret, hash_secret

TOKEN_PASSWORDS = ("password1", "password2")
_TOKEN_NAME = re.compile(r"[A-Za-z0-9-]{5,50}")


def _expiry(value: datetime | None) -> datetime | None:
    """A future instant in UTC (a value without a zone is taken as UTC)."""
    if value is None:
        return None
    value = utc(value)
    if value <= now():
        raise InvalidArgument("expiry must be in the future", {"expiry": value.isoformat()})
    return value


class TokenService:
    """`scope_maps` finds a token's scope map and makes its own; `limits` enforces the SKU's token count."""

    def __init__(self, store: AccessStore, scope_maps: ScopeMapService, *, limits: Limits | None = None,
                 on_change: OnChange | None = None) -> None:
        self.store = store
        self.scope_maps = scope_maps
        self.limits = limits
        self._changed = notifier(on_change)

    def _view(self, token: Identity, new: Iterable[NewSecret] = (),
              scope_maps: dict[str, ScopeMap] | None = None) -> IdentityView:
        if scope_maps is not None and token.scope_map_id is not None:
            scope_map: ScopeMap | None = scope_maps.get(token.scope_map_id)
        else:
            scope_map = self.store.get_scope_map(token.scope_map_id) if token.scope_map_id else None
        return IdentityView(token, secret_infos(self.store.credentials_of(token.id), new),
                            scope_map.name if scope_map else None)

    def _find(self, registry_id: int, name: str) -> Identity:
        token = self.store.find_identity(registry_id, TOKEN, name) if _TOKEN_NAME.fullmatch(name) else None
        if token is None:
            raise NotFound(f"token {name[:100]!r} not found", {"name": name[:100]})
        return token

    def list(self, registry_id: int) -> list[IdentityView]:
        scope_maps = {s.id: s for s in self.store.list_scope_maps(registry_id)}
        return [self._view(t, scope_maps=scope_maps) for t in self.store.list_identities(registry_id, TOKEN)]

    def get(self, registry_id: int, name: str) -> IdentityView:
        return self._view(self._find(registry_id, name))

    def create(self, registry_id: int, name: str, *, scope_map_name: str | None = None,
               repositories: builtins.list[str] | None = None, actions: builtins.list[str] | None = None,
               enabled: bool = True, passwords: bool = True, expiry: datetime | None = None) -> IdentityView:
        """A repository token bound to one scope map: an existing one, or a new `<name>-scope-map` granting
        every one of `actions` (`content/read`, …) on every one of `repositories` (as `az acr token create`).
        With `passwords`, password1 and password2 are generated (shown this once), expiring at `expiry`."""
        if not _TOKEN_NAME.fullmatch(name):
            raise InvalidArgument("token names are 5-50 letters, digits or '-'", {"name": name[:100]})
        expires = _expiry(expiry)
        if self.store.find_identity(registry_id, TOKEN, name) is not None:
            raise Conflict(f"token {name!r} already exists", {"name": name})
        if (scope_map_name is None) == (not repositories and not actions):
            raise InvalidArgument("give either scopeMapName or repositories and actions")
        check = limit_check(self.limits, registry_id, skus.TOKENS)
        if check is not None:
            check(self.store.count_identities(registry_id, TOKEN))  # fail before any work; exact below
        if scope_map_name is not None:
            scope_map = self.scope_maps.get(registry_id, scope_map_name)
        else:
            if not repositories or not actions:
                raise InvalidArgument("repositories and actions go together: name at least one of each")
            try:
                rules = validate_rules([(r, a) for r in repositories for a in actions])
            except ValueError as e:
                raise InvalidArgument(str(e)) from None
            scope_map = self.scope_maps.create_from_rules(registry_id, f"{name}-scope-map", sorted_rules(rules),
                                                          f"Scope map for token {name}")
        ts = now()
        token = Identity(str(uuid.uuid4()), registry_id, TOKEN, name, "", enabled, scope_map.id, ts, ts)
        values = {n: generate_secret() for n in TOKEN_PASSWORDS} if passwords else {}
        self.store.create_identity(token, [Credential(token.id, n, hash_secret(v), ts, expires)
                                           for n, v in values.items()], within_limit=check)
        return self._view(token, [NewSecret(n, v, expires) for n, v in values.items()])

    def update(self, registry_id: int, name: str, *, scope_map_name: str | None = None,
               enabled: bool | None = None) -> IdentityView:
        token = self._find(registry_id, name)
        changes: dict[str, Any] = {}
        if scope_map_name is not None:
            changes["scope_map_id"] = self.scope_maps.get(registry_id, scope_map_name).id
        if enabled is not None:
            changes["enabled"] = enabled
        if changes:
            token = self.store.update_identity(token.id, **changes) or token
            self._changed(token.id)
        return self._view(token)

    def delete(self, registry_id: int, name: str) -> None:
        token = self._find(registry_id, name)
        self.store.delete_identity(token.id)
        self._changed(token.id)

    def generate_password(self, registry_id: int, name: str, password: str,
                          expiry: datetime | None = None) -> IdentityView:
        """(Re)generate password1 or password2; the previous value stops working."""
        if password not in TOKEN_PASSWORDS:
            raise InvalidArgument(f"name must be one of {', '.join(TOKEN_PASSWORDS)}", {"name": password[:100]})
        expires = _expiry(expiry)
        token = self._find(registry_id, name)
        secret = replace_secret(self.store, registry_id, token.id, password, expires)
        self._changed(token.id)
        return self._view(token, [secret])

    def delete_password(self, registry_id: int, name: str, password: str) -> None:
        token = self._find(registry_id, name)
        if password not in TOKEN_PASSWORDS or not self.store.delete_credential(token.id, password):
            raise NotFound(f"token {name} has no {password[:100]!r}", {"name": password[:100]})
        self._changed(token.id)
