"""Registries as resources: which registry a request addresses, and the operator's create, update
(SKU, login server, limits, quota) and delete.

Routing: a request addresses the registry whose login server is its `Host` (host[:port], compared
case-insensitively); the default registry answers any host no registry claims. Every worker keeps
the table in memory and reloads it when the REGISTRIES generation moves, which every create,
update and delete bumps after committing — so all workers see a change at once, and a request
costs one dict lookup.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cargohold.core import skus
from cargohold.core.errors import Conflict, InvalidArgument, NotFound
from cargohold.core.identities import Identities
from cargohold.core.identity_common import NewSecret
from cargohold.core.ports.generations import ATTRIBUTES, REGISTRIES, REMOVALS, TAGS, Generations
from cargohold.core.ports.records import Registry, RegistrySettings
from cargohold.core.ports.registry_store import RegistryStore
from cargohold.core.usage import Usage, registry_usage

_NAME = re.compile(r"[A-Za-z0-9]{5,50}")
_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")


def validate_name(name: str) -> str:
    """ACR's registry names: 5-50 letters or digits; stored in lower case."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise InvalidArgument("registry names are 5-50 letters or digits", {"name": str(name)[:100]})
    return name.lower()


def validate_login_server(value: str) -> str:
    """host[:port] as clients write it in image references: a DNS name, an IPv4 address or a
    bracketed IPv6 address, and an optional port 1-65535; stored in lower case."""
    raw = value.strip().lower() if isinstance(value, str) else ""
    bad = InvalidArgument("loginServer must be host[:port] (a DNS name, an IPv4 address or [IPv6], "
                          "port 1-65535)", {"loginServer": str(value)[:300]})
    if not raw or len(raw) > 255 or raw != value.lower():
        raise bad
    if raw.startswith("["):
        host, sep, rest = raw[1:].partition("]")
        if not sep:
            raise bad
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise bad from None
        port = rest[1:] if rest.startswith(":") else None
        if rest and port is None:
            raise bad
    else:
        host, sep, port_text = raw.partition(":")
        port = port_text if sep else None
        labels = host.split(".")
        if not host or not all(_LABEL.fullmatch(label) for label in labels):
            raise bad
    if port is not None and not (port.isdigit() and len(port) <= 5 and 1 <= int(port) <= 65535):
        raise bad
    return raw


class RegistryResolver:
    """Host → registry, name → registry and id → registry, from a table each worker holds in memory."""

    def __init__(self, store: RegistryStore, generations: Generations, default_name: str) -> None:
        self._store = store
        self._generations = generations
        self._default_name = default_name.lower()
        self._stamp: bytes | None = None
        self._by_host: dict[str, Registry] = {}
        self._by_name: dict[str, Registry] = {}
        self._by_id: dict[int, Registry] = {}
        self._created: dict[int, datetime] = {}
        self._default: Registry | None = None

    def _fresh(self) -> None:
        stamp = self._generations.current(REGISTRIES)
        if stamp == self._stamp:
            return
        rows = self._store.list_registries()
        self._by_host = {r.login_server.lower(): r for r, _ in rows}
        self._by_name = {r.name.lower(): r for r, _ in rows}
        self._by_id = {r.id: r for r, _ in rows}
        self._created = {r.id: created for r, created in rows}
        self._default = self._by_name.get(self._default_name)
        self._stamp = stamp

    @property
    def default(self) -> Registry:
        self._fresh()
        if self._default is None:
            raise RuntimeError("the default registry does not exist: run `cargohold serve` (it bootstraps)")
        return self._default

    def for_host(self, host: str | None) -> Registry:
        """The registry whose login server is `host`; the default registry for any other host."""
        self._fresh()
        found = self._by_host.get(host.lower()) if host else None
        return found if found is not None else self.default

    def by_name(self, name: str) -> Registry | None:
        self._fresh()
        return self._by_name.get(name.lower())

    def by_id(self, registry_id: int) -> Registry | None:
        self._fresh()
        return self._by_id.get(registry_id)

    def name_of(self, registry_id: int) -> str:
        found = self.by_id(registry_id)
        return found.name if found is not None else str(registry_id)

    def all(self) -> list[tuple[Registry, datetime]]:
        self._fresh()
        return [(r, self._created[r.id]) for r in sorted(self._by_id.values(), key=lambda r: r.name)]

    def created_at(self, registry_id: int) -> datetime | None:
        self._fresh()
        return self._created.get(registry_id)


# --- what a change of tier or limits would strand ------------------------------------------------


@dataclass(frozen=True, slots=True)
class PlanChange:
    """A registry's settings now, and the tier and overrides it would have after the change."""

    registry: Registry
    settings: RegistrySettings
    sku: skus.Sku
    overrides: dict[str, int]
    count: Callable[[str], int]  # current count of a limit (skus.TOKENS, skus.SCOPE_MAPS), read on demand

    def limit(self, name: str) -> int:
        return skus.effective_limit(self.sku.name, name, self.overrides)


def _needs(feature: str, text: str) -> Callable[[PlanChange], str | None]:
    def probe(change: PlanChange) -> str | None:
        return None if change.sku.has(feature) else text
    return probe


def _anonymous_pull(change: PlanChange) -> str | None:
    if change.settings.anonymous_pull_enabled and not change.sku.has(skus.ANONYMOUS_PULL):
        return "anonymous pull is enabled (needs Standard or Premium; disable it with --anonymous-pull-enabled false)"
    return None


def _retention(change: PlanChange) -> str | None:
    if change.settings.retention_enabled and not change.sku.has(skus.RETENTION_POLICY):
        return "a retention policy is enabled (Premium only; disable it first)"
    return None


def _count_within(name: str, label: str) -> Callable[[PlanChange], str | None]:
    def probe(change: PlanChange) -> str | None:
        count, limit = change.count(name), change.limit(name)
        if count > limit:
            return f"{count} {label} exist but the new limit is {limit} (delete {count - limit} first)"
        return None
    return probe


# Each probe names a setting the new plan could not keep, or returns None. Later features add
# theirs here: webhooks (count), geo-replications, network rules (IP rules), customer-managed
# keys, trust policy and export policy are not built yet, so nothing of theirs can be stranded.
STRANDING_PROBES: list[tuple[str, Callable[[PlanChange], str | None]]] = [
    ("anonymous pull", _anonymous_pull),
    ("retention policy", _retention),
    ("tokens", _count_within(skus.TOKENS, "tokens")),
    ("scope maps", _count_within(skus.SCOPE_MAPS, "user-defined scope maps")),
]


def stranded(change: PlanChange) -> list[str]:
    """What the change would strand, one phrase per setting (empty: the change is safe)."""
    return [found for _, probe in STRANDING_PROBES if (found := probe(change)) is not None]


# --- the service ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RegistryInfo:
    registry: Registry
    settings: RegistrySettings
    created_at: datetime | None
    is_default: bool


_UNSET: Any = object()


class RegistryService:
    """Operator actions on registries. `identities` creates a new registry's owner and system scope maps;
    `on_change` (the composition root's) drops cached grants and switches after a change."""

    def __init__(self, store: RegistryStore, resolver: RegistryResolver, identities: Identities,
                 generations: Generations, on_change: Callable[[], None] | None = None) -> None:
        self.store = store
        self.resolver = resolver
        self.identities = identities
        self._generations = generations
        self._on_change = on_change

    def _changed(self) -> None:
        self._generations.bump(REGISTRIES)
        if self._on_change is not None:
            self._on_change()

    def info(self, registry: Registry) -> RegistryInfo:
        return RegistryInfo(registry, self.store.get_settings(registry.id), self.resolver.created_at(registry.id),
                            registry.id == self.resolver.default.id)

    def list(self) -> list[RegistryInfo]:
        return [self.info(r) for r, _ in self.resolver.all()]

    def get(self, name: str) -> Registry:
        found = self.resolver.by_name(name) if isinstance(name, str) and _NAME.fullmatch(name) else None
        if found is None:
            raise NotFound(f"registry {name[:100]!r} not found", {"name": name[:100]})
        return found

    def create(self, name: str, login_server: str, sku: str, limit_overrides: dict[str, Any] | None = None,
               storage_quota_bytes: int | None = None) -> tuple[RegistryInfo, NewSecret]:
        """A registry with its settings, system scope maps and `owner` user (Owner role); the owner's
        generated password is returned this once."""
        name = validate_name(name)
        login_server = validate_login_server(login_server)
        tier = skus.parse_sku(sku)
        overrides = skus.validate_overrides(limit_overrides or {})
        _check_quota(storage_quota_bytes)
        registry = self.store.create_registry(name, login_server, {
            "sku": tier.name, "limit_overrides": overrides or None, "storage_quota_bytes": storage_quota_bytes})
        self.identities.scope_maps.ensure_system(registry.id)
        owner = self.identities.users.ensure_owner(registry.id, None)
        assert owner is not None
        self._changed()
        return self.info(registry), owner

    def update(self, name: str, *, sku: str | None = None, login_server: str | None = None,
               limit_overrides: dict[str, Any] | None = None, storage_quota_bytes: Any = _UNSET) -> RegistryInfo:
        """Change tier, login server, limit overrides (merged; a null value drops one) or the quota
        (None removes it). A change that would strand settings is refused, naming them."""
        registry = self.get(name)
        current = self.store.get_settings(registry.id)
        changes: dict[str, Any] = {}
        tier = skus.parse_sku(sku) if sku is not None else skus.parse_sku(current.sku)
        overrides = dict(current.limit_overrides or {})
        if limit_overrides is not None:
            if not isinstance(limit_overrides, dict):
                raise InvalidArgument("limitOverrides must be an object of limit names and values")
            dropped = {k for k, v in limit_overrides.items() if v is None}
            overrides.update(skus.validate_overrides({k: v for k, v in limit_overrides.items() if v is not None}))
            for key in dropped:
                skus.validate_overrides({key: 0})  # an unknown name is still an error
                overrides.pop(key, None)
            changes["limit_overrides"] = overrides or None
        if sku is not None:
            changes["sku"] = tier.name
        new_login = validate_login_server(login_server) if login_server is not None else None
        if new_login == registry.login_server:
            new_login = None
        if storage_quota_bytes is not _UNSET:
            _check_quota(storage_quota_bytes)
            changes["storage_quota_bytes"] = storage_quota_bytes
        if "sku" in changes or "limit_overrides" in changes:
            counts = {skus.TOKENS: lambda: self.store.count_tokens(registry.id),
                      skus.SCOPE_MAPS: lambda: self.store.count_user_scope_maps(registry.id)}
            found = stranded(PlanChange(registry, current, tier, overrides, lambda n: counts[n]()))
            if found:
                raise Conflict(f"cannot change registry {registry.name!r} to {tier.name}: "
                               + "; ".join(found), {"stranded": found})
        if changes or new_login is not None:
            self.store.update_registry(registry.id, new_login, changes)
            self._changed()
        return self.info(self.get(registry.name))

    def delete(self, name: str) -> None:
        """Delete a registry's metadata. Blob files are shared by digest across registries and stay
        (a future garbage collection removes unreferenced ones)."""
        registry = self.get(name)
        if registry.id == self.resolver.default.id:
            raise Conflict(f"{registry.name!r} is the default registry and cannot be deleted", {"name": registry.name})
        self.store.delete_registry(registry.id)
        for slot in (REMOVALS, TAGS, ATTRIBUTES):  # its repositories' cached ids and facts are gone too
            self._generations.bump(slot)
        self._changed()

    def usage(self, registry: Registry) -> Usage:
        return registry_usage(self.store.get_settings(registry.id), self.store.count_tokens(registry.id),
                              self.store.count_user_scope_maps(registry.id))


def _check_quota(value: Any) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= skus.MAX_VALUE:
        raise InvalidArgument(f"storageQuotaBytes must be an integer from 0 to {skus.MAX_VALUE}, or null",
                              {"storageQuotaBytes": str(value)[:100]})
