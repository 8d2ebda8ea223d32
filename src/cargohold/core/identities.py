"""Identities and their credentials: the owner, users, service principals, workload identities,
the registry admin user and repository tokens, plus scope maps and role assignments.

Secrets are generated here, returned exactly once, and stored only as argon2id hashes.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cargohold.core import skus
from cargohold.core.errors import Conflict, InvalidArgument, NotFound
from cargohold.core.federation import DEFAULT_AUDIENCE, MAX_FEDERATED_CREDENTIALS, validate_issuer
from cargohold.core.permissions import ROLES, SYSTEM_SCOPE_MAPS, TOKEN_ACTIONS, validate_pattern
from cargohold.core.ports.access_store import AccessStore
from cargohold.core.ports.records import (
    Credential,
    FederatedCredential,
    Identity,
    LoginEvent,
    Registry,
    RegistrySettings,
    RoleAssignment,
    ScopeMap,
)
from cargohold.core.secrets import generate_secret, hash_secret, verify_secret

OWNER = "owner"
WORKLOAD = "workload"
# Azure's rules for user-assigned identity and federated credential names (lengths fit the schema).
_WORKLOAD_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{2,127}")
_FEDERATED_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{2,63}")


@dataclass(frozen=True, slots=True)
class NewSecret:
    """A secret as created: the only time its plain value exists outside the caller."""

    name: str
    value: str
    expires_at: datetime | None


def _now() -> datetime:
    return datetime.now(UTC)


# --- control-plane vocabulary (docs/management-api.md) -----------------------------------------

USER = "user"
SERVICE_PRINCIPAL = "service_principal"
ADMIN = "admin"
TOKEN = "token"
NULL_GUID = "00000000-0000-0000-0000-000000000000"  # the refresh-token username; no identity may take it
ADMIN_PASSWORDS = ("password", "password2")
TOKEN_PASSWORDS = ("password1", "password2")
SP_SECRET = "secret"
MAX_SECRET_YEARS = 10
MIN_PASSWORD = 8
MAX_PASSWORD = 256
MAX_DESCRIPTION = 255
MAX_LOGIN_EVENTS = 1000
# How an assignee's kind is spelled in the API → the identity kind it names, in resolution order.
ASSIGNEE_KINDS: dict[str, str] = {"user": USER, "servicePrincipal": SERVICE_PRINCIPAL, "workloadIdentity": "workload"}
_USER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
_TOKEN_NAME = re.compile(r"[A-Za-z0-9-]{5,50}")
_SCOPE_MAP_NAME = re.compile(r"[A-Za-z0-9-]{5,64}")
_REPOSITORIES = "repositories/"


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


@dataclass(frozen=True, slots=True)
class AssignmentView:
    id: str
    assignee: str  # user name, service principal client id or workload identity name
    assignee_kind: str  # a key of ASSIGNEE_KINDS
    role: str
    scope: str  # "" = the registry, else "repositories/<name or prefix/*>"
    created_at: datetime


def _text(value: str, what: str, max_length: int = MAX_DESCRIPTION) -> str:
    if len(value) > max_length or not value.isprintable():
        raise InvalidArgument(f"{what} must be at most {max_length} printable characters", {what: value[:300]})
    return value


def _expiry(value: datetime | None) -> datetime | None:
    """A future instant in UTC (a value without a zone is taken as UTC)."""
    if value is None:
        return None
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if value <= _now():
        raise InvalidArgument("expiry must be in the future", {"expiry": value.isoformat()})
    return value


def _years_from_now(years: int) -> datetime:
    if not 1 <= years <= MAX_SECRET_YEARS:
        raise InvalidArgument(f"years must be between 1 and {MAX_SECRET_YEARS}", {"years": years})
    now = _now()
    try:
        return now.replace(year=now.year + years)
    except ValueError:  # 29 February
        return now.replace(year=now.year + years, day=28)


def parse_action(text: str) -> tuple[str, str]:
    """ACR's `repositories/<pattern>/<content|metadata>/<read|write|delete>` → (pattern, action)."""
    rest = text[len(_REPOSITORIES):] if text.startswith(_REPOSITORIES) else ""
    head, _, verb = rest.rpartition("/")
    pattern, _, area = head.rpartition("/")
    try:
        return validate_rules([(pattern, f"{area}/{verb}")])[0]
    except ValueError as e:
        raise InvalidArgument(f"invalid scope-map action {text[:300]!r}: use repositories/<name, prefix/* or *>/"
                              f"<content|metadata>/<read|write|delete> ({e})", {"action": text[:300]}) from None


def format_action(rule: tuple[str, str]) -> str:
    return f"{_REPOSITORIES}{rule[0]}/{rule[1]}"


def _sorted_rules(rules: Iterable[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    order = list(TOKEN_ACTIONS)
    return tuple(sorted(set(rules), key=lambda r: (r[0], order.index(r[1]) if r[1] in order else len(order))))


def parse_role_scope(scope: str) -> str:
    """API scope ("" or `repositories/<name or prefix/*>`) → stored scope ("" or the pattern)."""
    if scope == "":
        return ""
    pattern = scope[len(_REPOSITORIES):] if scope.startswith(_REPOSITORIES) else ""
    if pattern == "*":
        raise InvalidArgument('scope repositories/* is the whole registry: use scope ""', {"scope": scope})
    try:
        return validate_pattern(pattern)
    except ValueError:
        raise InvalidArgument(f"invalid scope {scope[:300]!r}: use \"\" (the registry) or "
                              "repositories/<name> or repositories/<prefix>/*", {"scope": scope[:300]}) from None


def format_role_scope(stored: str) -> str:
    return f"{_REPOSITORIES}{stored}" if stored else ""


def canonical_role(role: str) -> str:
    """A built-in role's name, matched case-insensitively (as `az role assignment` does)."""
    for name in ROLES:
        if name.lower() == role.lower():
            return name
    raise InvalidArgument(f"unknown role {role[:100]!r}; use one of {', '.join(ROLES)}", {"role": role[:100]})


def _secrets(credentials: Iterable[Credential], new: Iterable[NewSecret] = ()) -> tuple[SecretInfo, ...]:
    values = {s.name: s.value for s in new}
    return tuple(SecretInfo(c.name, c.created_at, c.expires_at, values.get(c.name)) for c in credentials)


class IdentityService:
    def __init__(self, store: AccessStore, *, allow_insecure_issuers: bool = False) -> None:
        self.store = store
        # Settings.allow_insecure_issuers: also accept http://127.0.0.1 / http://localhost issuers.
        self.allow_insecure_issuers = allow_insecure_issuers

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

    # --- control plane: change notification -----------------------------------------------------

    on_change: Callable[[str | None], None] | None = None
    """Set by the composition root: called after a change to an identity's rights or credentials
    (with its id) or to registry-wide state (with None), so cached grants and passwords are dropped."""

    limits: Callable[[int, str], Callable[[int], None]] | None = None
    """Set by the composition root: for registry `id` and limit `name` (skus.TOKENS, skus.SCOPE_MAPS),
    a check of the current count that raises at the limit — core/usage.py LimitGuard.checker. The
    store runs it inside the insert's transaction. None: limits not enforced."""

    def _limit_check(self, registry_id: int, name: str) -> Callable[[int], None] | None:
        return None if self.limits is None else self.limits(registry_id, name)

    def _changed(self, identity_id: str | None = None) -> None:
        if self.on_change is not None:
            self.on_change(identity_id)

    # --- control plane: registry switches and the admin user ------------------------------------

    def settings(self, registry_id: int) -> RegistrySettings:
        return self.store.get_settings(registry_id)

    def registry_created_at(self, registry_id: int) -> datetime:
        return self.store.registry_created_at(registry_id) or _now()

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
        if admin_user_enabled and self._admin(registry) is None:
            created = self._create_admin(registry)
        changes: dict[str, bool] = {}
        if admin_user_enabled is not None:
            changes["admin_enabled"] = admin_user_enabled
        if anonymous_pull_enabled is not None:
            changes["anonymous_pull_enabled"] = anonymous_pull_enabled
        settings = self.store.update_settings(registry.id, **changes)
        if changes:
            self._changed(None)
        return settings, created

    def _admin(self, registry: Registry) -> Identity | None:
        return self.store.find_identity(registry.id, ADMIN, registry.name)

    def _create_admin(self, registry: Registry) -> IdentityView:
        ts = _now()
        identity = Identity(str(uuid.uuid4()), registry.id, ADMIN, registry.name, "registry admin user", True, None,
                            ts, ts)
        values = {name: generate_secret() for name in ADMIN_PASSWORDS}
        credentials = [Credential(identity.id, n, hash_secret(v), ts, None) for n, v in values.items()]
        self.store.create_identity(identity, credentials)
        return IdentityView(identity, tuple(SecretInfo(c.name, ts, None, values[c.name]) for c in credentials))

    def admin_credentials(self, registry: Registry) -> IdentityView:
        """The admin user's username and password names (values are shown only when generated)."""
        if not self.store.get_settings(registry.id).admin_enabled:
            raise Conflict("the admin user is disabled; enable it with adminUserEnabled: true")
        admin = self._admin(registry)
        if admin is None:  # enabled by other means than update_settings
            return self._create_admin(registry)
        return IdentityView(admin, _secrets(self.store.credentials_of(admin.id)))

    def regenerate_admin_password(self, registry: Registry, name: str) -> IdentityView:
        if name not in ADMIN_PASSWORDS:
            raise InvalidArgument(f"name must be one of {', '.join(ADMIN_PASSWORDS)}", {"name": name[:100]})
        admin = self.admin_credentials(registry).identity
        secret = self.new_secret(registry.id, admin.id, name)
        self._changed(admin.id)
        return IdentityView(admin, _secrets(self.store.credentials_of(admin.id), [secret]))

    # --- control plane: users ----------------------------------------------------------------------

    def list_users(self, registry_id: int) -> list[Identity]:
        return self.store.list_identities(registry_id, USER)

    def get_user(self, registry_id: int, name: str) -> Identity:
        user = self.store.find_identity(registry_id, USER, name) if _USER_NAME.fullmatch(name) else None
        if user is None:
            raise NotFound(f"user {name[:100]!r} not found", {"name": name[:100]})
        return user

    def create_user(self, registry_id: int, name: str, password: str | None = None) -> IdentityView:
        """A user with a password (generated when not given); the view carries it this once."""
        if not _USER_NAME.fullmatch(name) or name == NULL_GUID:
            raise InvalidArgument("user names are 1-64 letters, digits, '.', '_', '@' or '-', starting with a "
                                  "letter or digit", {"name": name[:100]})
        if password is not None and not (MIN_PASSWORD <= len(password) <= MAX_PASSWORD):
            raise InvalidArgument(f"a password has {MIN_PASSWORD} to {MAX_PASSWORD} characters")
        if self.store.find_identity(registry_id, USER, name) is not None:
            raise Conflict(f"user {name!r} already exists", {"name": name})
        value = password or generate_secret(18)
        ts = _now()
        user = Identity(str(uuid.uuid4()), registry_id, USER, name, "", True, None, ts, ts)
        self.store.create_identity(user, [Credential(user.id, "password", hash_secret(value), ts, None)])
        return IdentityView(user, (SecretInfo("password", ts, None, value),))

    def delete_user(self, registry_id: int, name: str) -> None:
        if name == OWNER:
            raise Conflict("the owner cannot be deleted", {"name": name})
        self._delete_identity(self.get_user(registry_id, name))

    def _delete_identity(self, identity: Identity) -> None:
        owners = [a for a in self.store.role_assignments(identity.registry_id)
                  if a.role == "Owner" and a.scope == ""]
        if owners and all(a.identity_id == identity.id for a in owners):
            raise Conflict(f"{identity.name} holds the registry's last Owner role assignment; assign Owner "
                           "to another identity first", {"name": identity.name})
        self.store.delete_identity(identity.id)
        self._changed(identity.id)

    # --- control plane: service principals ---------------------------------------------------------

    def list_service_principals(self, registry_id: int) -> list[IdentityView]:
        return [IdentityView(i, _secrets(self.store.credentials_of(i.id)))
                for i in self.store.list_identities(registry_id, SERVICE_PRINCIPAL)]

    def _service_principal(self, registry_id: int, client_id: str) -> Identity:
        try:
            canonical = str(uuid.UUID(client_id)) if len(client_id) == 36 else ""
        except ValueError:
            canonical = ""
        sp = self.store.find_identity(registry_id, SERVICE_PRINCIPAL, canonical) if canonical else None
        if sp is None:
            raise NotFound(f"service principal {client_id[:100]!r} not found", {"clientId": client_id[:100]})
        return sp

    def get_service_principal(self, registry_id: int, client_id: str) -> IdentityView:
        sp = self._service_principal(registry_id, client_id)
        return IdentityView(sp, _secrets(self.store.credentials_of(sp.id)))

    def create_service_principal(self, registry_id: int, display_name: str, years: int = 1) -> IdentityView:
        """A service principal: client id (a new UUID) + a secret valid `years` years, shown this once."""
        display_name = _text(display_name.strip(), "name")
        if not display_name:
            raise InvalidArgument("a service principal needs a name")
        expires = _years_from_now(years)
        ts = _now()
        sp = Identity(str(uuid.uuid4()), registry_id, SERVICE_PRINCIPAL, str(uuid.uuid4()), display_name, True,
                      None, ts, ts)
        value = generate_secret()
        self.store.create_identity(sp, [Credential(sp.id, SP_SECRET, hash_secret(value), ts, expires)])
        return IdentityView(sp, (SecretInfo(SP_SECRET, ts, expires, value),))

    def reset_service_principal_secret(self, registry_id: int, client_id: str, years: int = 1) -> IdentityView:
        """Replace the secret (the old one stops working) with a new one valid `years` years."""
        expires = _years_from_now(years)
        sp = self._service_principal(registry_id, client_id)
        secret = self.new_secret(registry_id, sp.id, SP_SECRET, expires)
        self._changed(sp.id)
        return IdentityView(sp, _secrets(self.store.credentials_of(sp.id), [secret]))

    def delete_service_principal(self, registry_id: int, client_id: str) -> None:
        self._delete_identity(self._service_principal(registry_id, client_id))

    # --- control plane: scope maps -----------------------------------------------------------------

    def list_scope_maps(self, registry_id: int) -> list[ScopeMap]:
        return self.store.list_scope_maps(registry_id)

    def get_scope_map(self, registry_id: int, name: str) -> ScopeMap:
        found = self.store.find_scope_map(registry_id, name) if len(name) <= 64 and name.isprintable() else None
        if found is None:
            raise NotFound(f"scope map {name[:100]!r} not found", {"name": name[:100]})
        return found

    def create_scope_map(self, registry_id: int, name: str, actions: list[str], description: str = "") -> ScopeMap:
        """A user-defined scope map from ACR action strings (`repositories/<pattern>/<area>/<verb>`)."""
        rules = _sorted_rules(parse_action(a) for a in actions)
        if not rules:
            raise InvalidArgument("a scope map needs at least one action")
        return self._new_scope_map(registry_id, name, rules, description)

    def _new_scope_map(self, registry_id: int, name: str, rules: tuple[tuple[str, str], ...],
                       description: str) -> ScopeMap:
        if not _SCOPE_MAP_NAME.fullmatch(name):
            raise InvalidArgument("scope map names are 5-64 letters, digits or '-'", {"name": name[:100]})
        description = _text(description, "description")
        if self.store.find_scope_map(registry_id, name) is not None:
            raise Conflict(f"scope map {name!r} already exists", {"name": name})
        check = self._limit_check(registry_id, skus.SCOPE_MAPS)
        if check is not None:
            check(self.store.count_user_scope_maps(registry_id))  # fail before any work; exact below
        ts = _now()
        scope_map = ScopeMap(str(uuid.uuid4()), registry_id, name, description, False, rules, ts, ts)
        self.store.create_scope_map(scope_map, within_limit=check)
        return scope_map

    def update_scope_map(self, registry_id: int, name: str, *, description: str | None = None,
                         add: list[str] | None = None, remove: list[str] | None = None) -> ScopeMap:
        """Add and remove actions (removing an absent one is no error); system maps are read-only."""
        scope_map = self.get_scope_map(registry_id, name)
        if scope_map.system:
            raise Conflict(f"{name} is a system scope map and cannot be changed", {"name": name})
        changes: dict[str, Any] = {}
        if description is not None:
            changes["description"] = _text(description, "description")
        if add or remove:
            dropped = {parse_action(a) for a in remove or []}
            added = {parse_action(a) for a in add or []}
            changes["rules"] = _sorted_rules((set(scope_map.rules) - dropped) | added)
        if not changes:
            return scope_map
        updated = self.store.update_scope_map(scope_map.id, **changes)
        self._changed(None)
        return updated or self.get_scope_map(registry_id, name)

    def delete_scope_map(self, registry_id: int, name: str) -> None:
        scope_map = self.get_scope_map(registry_id, name)
        if scope_map.system:
            raise Conflict(f"{name} is a system scope map and cannot be deleted", {"name": name})
        if self.store.scope_map_in_use(scope_map.id):
            raise Conflict(f"scope map {name!r} is used by a token; delete the token or give it another scope map "
                           "first", {"name": name})
        self.store.delete_scope_map(scope_map.id)

    # --- control plane: repository tokens ----------------------------------------------------------

    def _token_view(self, token: Identity, new: Iterable[NewSecret] = (),
                    scope_maps: dict[str, ScopeMap] | None = None) -> IdentityView:
        if scope_maps is not None and token.scope_map_id is not None:
            scope_map: ScopeMap | None = scope_maps.get(token.scope_map_id)
        else:
            scope_map = self.store.get_scope_map(token.scope_map_id) if token.scope_map_id else None
        return IdentityView(token, _secrets(self.store.credentials_of(token.id), new),
                            scope_map.name if scope_map else None)

    def list_tokens(self, registry_id: int) -> list[IdentityView]:
        scope_maps = {s.id: s for s in self.store.list_scope_maps(registry_id)}
        return [self._token_view(t, scope_maps=scope_maps) for t in self.store.list_identities(registry_id, TOKEN)]

    def _token(self, registry_id: int, name: str) -> Identity:
        token = self.store.find_identity(registry_id, TOKEN, name) if _TOKEN_NAME.fullmatch(name) else None
        if token is None:
            raise NotFound(f"token {name[:100]!r} not found", {"name": name[:100]})
        return token

    def get_token(self, registry_id: int, name: str) -> IdentityView:
        return self._token_view(self._token(registry_id, name))

    def create_token(self, registry_id: int, name: str, *, scope_map_name: str | None = None,
                     repositories: list[str] | None = None, actions: list[str] | None = None,
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
        check = self._limit_check(registry_id, skus.TOKENS)
        if check is not None:
            check(self.store.count_identities(registry_id, TOKEN))  # fail before any work; exact below
        if scope_map_name is not None:
            scope_map = self.get_scope_map(registry_id, scope_map_name)
        else:
            if not repositories or not actions:
                raise InvalidArgument("repositories and actions go together: name at least one of each")
            try:
                rules = validate_rules([(r, a) for r in repositories for a in actions])
            except ValueError as e:
                raise InvalidArgument(str(e)) from None
            scope_map = self._new_scope_map(registry_id, f"{name}-scope-map", _sorted_rules(rules),
                                            f"Scope map for token {name}")
        ts = _now()
        token = Identity(str(uuid.uuid4()), registry_id, TOKEN, name, "", enabled, scope_map.id, ts, ts)
        values = {n: generate_secret() for n in TOKEN_PASSWORDS} if passwords else {}
        self.store.create_identity(token, [Credential(token.id, n, hash_secret(v), ts, expires)
                                           for n, v in values.items()], within_limit=check)
        return self._token_view(token, [NewSecret(n, v, expires) for n, v in values.items()])

    def update_token(self, registry_id: int, name: str, *, scope_map_name: str | None = None,
                     enabled: bool | None = None) -> IdentityView:
        token = self._token(registry_id, name)
        changes: dict[str, Any] = {}
        if scope_map_name is not None:
            changes["scope_map_id"] = self.get_scope_map(registry_id, scope_map_name).id
        if enabled is not None:
            changes["enabled"] = enabled
        if changes:
            token = self.store.update_identity(token.id, **changes) or token
            self._changed(token.id)
        return self._token_view(token)

    def delete_token(self, registry_id: int, name: str) -> None:
        token = self._token(registry_id, name)
        self.store.delete_identity(token.id)
        self._changed(token.id)

    def generate_token_password(self, registry_id: int, name: str, password: str,
                                expiry: datetime | None = None) -> IdentityView:
        """(Re)generate password1 or password2; the previous value stops working."""
        if password not in TOKEN_PASSWORDS:
            raise InvalidArgument(f"name must be one of {', '.join(TOKEN_PASSWORDS)}", {"name": password[:100]})
        expires = _expiry(expiry)
        token = self._token(registry_id, name)
        secret = self.new_secret(registry_id, token.id, password, expires)
        self._changed(token.id)
        return self._token_view(token, [secret])

    def delete_token_password(self, registry_id: int, name: str, password: str) -> None:
        token = self._token(registry_id, name)
        if password not in TOKEN_PASSWORDS or not self.store.delete_credential(token.id, password):
            raise NotFound(f"token {name} has no {password[:100]!r}", {"name": password[:100]})
        self._changed(token.id)

    # --- control plane: role assignments -----------------------------------------------------------

    def _assignee_candidates(self, registry_id: int, assignee: str, assignee_kind: str | None) -> list[Identity]:
        if assignee_kind is not None and assignee_kind not in ASSIGNEE_KINDS:
            raise InvalidArgument(f"assigneeKind must be one of {', '.join(ASSIGNEE_KINDS)}",
                                  {"assigneeKind": assignee_kind[:100]})
        if len(assignee) > 128 or not assignee.isprintable():
            return []
        kinds = [ASSIGNEE_KINDS[assignee_kind]] if assignee_kind else list(ASSIGNEE_KINDS.values())
        found = (self.store.find_identity(registry_id, kind, assignee) for kind in kinds)
        return [i for i in found if i is not None]

    def _assignment_view(self, assignment: RoleAssignment, identity: Identity | None) -> AssignmentView:
        kinds = {v: k for k, v in ASSIGNEE_KINDS.items()}
        return AssignmentView(assignment.id, identity.name if identity else "", kinds.get(identity.kind, "")
                              if identity else "", assignment.role, format_role_scope(assignment.scope),
                              assignment.created_at)

    def list_role_assignments(self, registry_id: int, *, assignee: str | None = None,
                              assignee_kind: str | None = None, role: str | None = None,
                              scope: str | None = None) -> list[AssignmentView]:
        """Every assignment, or those matching all the filters given (scope "" = registry-wide ones)."""
        wanted_role = canonical_role(role) if role is not None else None
        wanted_scope = parse_role_scope(scope) if scope is not None else None
        ids = None
        if assignee is not None:
            ids = {i.id for i in self._assignee_candidates(registry_id, assignee, assignee_kind)}
        elif assignee_kind is not None:
            self._assignee_candidates(registry_id, "", assignee_kind)  # checks the kind
            ids = {i.id for i in self.store.list_identities(registry_id, ASSIGNEE_KINDS[assignee_kind])}
        identities = {i.id: i for i in self.store.list_identities(registry_id)}
        return [self._assignment_view(a, identities.get(a.identity_id))
                for a in self.store.role_assignments(registry_id)
                if (ids is None or a.identity_id in ids) and (wanted_role is None or a.role == wanted_role)
                and (wanted_scope is None or a.scope == wanted_scope)]

    def create_role_assignment(self, registry_id: int, assignee: str, role: str, scope: str = "",
                               assignee_kind: str | None = None) -> AssignmentView:
        """Give `assignee` (a user name, service principal client id or workload identity name, tried in
        that order unless `assignee_kind` says which) `role` on the registry or on repositories."""
        role = canonical_role(role)
        stored_scope = parse_role_scope(scope)
        candidates = self._assignee_candidates(registry_id, assignee, assignee_kind)
        if not candidates:
            raise NotFound(f"no user, service principal or workload identity named {assignee[:100]!r}",
                           {"assignee": assignee[:100]})
        identity = candidates[0]
        if any(a.role == role and a.scope == stored_scope
               for a in self.store.role_assignments(registry_id, identity.id)):
            raise Conflict(f"{identity.name} already has {role} on {scope or 'the registry'}",
                           {"assignee": identity.name, "role": role, "scope": scope})
        assignment = RoleAssignment(str(uuid.uuid4()), registry_id, identity.id, role, stored_scope, _now())
        self.store.add_role_assignment(assignment)
        self._changed(identity.id)
        return self._assignment_view(assignment, identity)

    def delete_role_assignment(self, registry_id: int, assignment_id: str) -> None:
        assignments = self.store.role_assignments(registry_id)
        target = next((a for a in assignments if a.id == assignment_id), None)
        if target is None:
            raise NotFound(f"role assignment {assignment_id[:100]!r} not found", {"id": assignment_id[:100]})
        if target.role == "Owner" and target.scope == "" and \
                not any(a.role == "Owner" and a.scope == "" and a.id != target.id for a in assignments):
            raise Conflict("this is the registry's last Owner role assignment; assign Owner to another identity "
                           "first", {"id": assignment_id})
        self.store.delete_role_assignment(registry_id, assignment_id)
        self._changed(target.identity_id)

    # --- control plane: workload identities (by name; creation and federated credentials: below) ---

    def list_workloads(self, registry_id: int) -> list[tuple[Identity, list[FederatedCredential]]]:
        return [(i, self.store.federated_credentials_of(i.id))
                for i in self.store.list_identities(registry_id, ASSIGNEE_KINDS["workloadIdentity"])]

    def get_workload(self, registry_id: int, name: str) -> Identity:
        found = None
        if len(name) <= 128 and name.isprintable():
            found = self.store.find_identity(registry_id, ASSIGNEE_KINDS["workloadIdentity"], name)
        if found is None:
            raise NotFound(f"workload identity {name[:100]!r} not found", {"name": name[:100]})
        return found

    def delete_workload(self, registry_id: int, name: str) -> None:
        """Delete a workload identity with its federated credentials and role assignments."""
        self._delete_identity(self.get_workload(registry_id, name))

    def remove_federated_credential(self, registry_id: int, name: str, credential: str) -> None:
        """Delete federated credential `credential` of workload identity `name` (404 when either is absent)."""
        workload = self.get_workload(registry_id, name)
        if len(credential) > 64 or not credential.isprintable():
            raise NotFound(f"federated credential {credential[:100]!r} not found on {name}",
                           {"name": credential[:100]})
        self.delete_federated_credential(workload.id, credential)

    # --- control plane: login events ---------------------------------------------------------------

    def login_events(self, registry_id: int, *, identity: str | None = None, outcome: str | None = None,
                     since: datetime | None = None, top: int = 100) -> list[LoginEvent]:
        """Most recent first; `identity` is the name presented (it need not exist)."""
        if outcome is not None and outcome not in ("success", "failure"):
            raise InvalidArgument("outcome must be success or failure", {"outcome": outcome[:100]})
        if not 1 <= top <= MAX_LOGIN_EVENTS:
            raise InvalidArgument(f"top must be between 1 and {MAX_LOGIN_EVENTS}", {"top": top})
        if identity is not None:
            _text(identity, "identity", 128)
        if since is not None:
            since = since.replace(tzinfo=UTC) if since.tzinfo is None else since.astimezone(UTC)
        return self.store.list_logins(registry_id, identity=identity, outcome=outcome, since=since, limit=top)

    # --- workload identities ----------------------------------------------------------------------

    def create_workload(self, registry_id: int, name: str, description: str = "") -> Identity:
        """A workload identity: no secret; it signs in with federated OIDC tokens, its rights come from roles."""
        if not _WORKLOAD_NAME.fullmatch(name):
            raise InvalidArgument("workload identity names are 3-128 letters, digits, '-' or '_', "
                                  "starting with a letter or digit", {"name": name})
        _text(description, "description")
        if self.store.find_identity(registry_id, WORKLOAD, name) is not None:
            raise Conflict(f"workload identity {name} already exists", {"name": name})
        ts = _now()
        identity = Identity(str(uuid.uuid4()), registry_id, WORKLOAD, name, description, True, None, ts, ts)
        self.store.create_identity(identity, [])
        return identity

    def _workload(self, identity_id: str) -> Identity:
        identity = self.store.get_identity(identity_id)
        if identity is None or identity.kind != WORKLOAD:
            raise NotFound(f"workload identity {identity_id} not found", {"identity": identity_id})
        return identity

    def add_federated_credential(self, identity_id: str, name: str, issuer: str, subject: str,
                                 audience: str = DEFAULT_AUDIENCE) -> FederatedCredential:
        """Trust tokens from `issuer` whose `sub` is `subject` and whose `aud` contains `audience`."""
        identity = self._workload(identity_id)
        if not _FEDERATED_NAME.fullmatch(name):
            raise InvalidArgument("federated credential names are 3-64 letters, digits, '-' or '_', "
                                  "starting with a letter or digit", {"name": name})
        validate_issuer(issuer, allow_insecure=self.allow_insecure_issuers)
        for field, value in (("subject", subject), ("audience", audience)):
            if not value or len(value) > 512 or value != value.strip() or not value.isprintable():
                raise InvalidArgument(f"{field} must be 1-512 printable characters without leading or "
                                      "trailing spaces", {field: value[:600]})
        existing = self.store.federated_credentials_of(identity.id)
        if any(c.name == name for c in existing):
            raise Conflict(f"federated credential {name} already exists on {identity.name}", {"name": name})
        if any(c.issuer == issuer and c.subject == subject for c in existing):
            raise Conflict(f"{identity.name} already trusts issuer {issuer} subject {subject}",
                           {"issuer": issuer, "subject": subject})
        if len(existing) >= MAX_FEDERATED_CREDENTIALS:
            raise InvalidArgument(f"{identity.name} already has {MAX_FEDERATED_CREDENTIALS} federated "
                                  "credentials, the most an identity may have")
        credential = FederatedCredential(identity.id, name, issuer, subject, audience, _now())
        self.store.add_federated_credential(identity.registry_id, credential)
        return credential

    def list_federated_credentials(self, identity_id: str) -> list[FederatedCredential]:
        return self.store.federated_credentials_of(self._workload(identity_id).id)

    def delete_federated_credential(self, identity_id: str, name: str) -> None:
        identity = self._workload(identity_id)
        if not self.store.delete_federated_credential(identity.id, name):
            raise NotFound(f"federated credential {name} not found on {identity.name}", {"name": name})


def validate_rules(rules: list[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    """Scope-map rules: (repository pattern, action); raises ValueError with a clear message."""
    out = []
    for pattern, action in rules:
        if action not in TOKEN_ACTIONS:
            raise ValueError(f"unknown action {action!r}; use one of {', '.join(TOKEN_ACTIONS)}")
        out.append((validate_pattern(pattern), action))
    return tuple(dict.fromkeys(out))
