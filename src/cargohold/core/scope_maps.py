"""Scope maps: named sets of (repository pattern, action) rules that repository tokens are bound to,
written as ACR's `repositories/<pattern>/<content|metadata>/<read|write|delete>`; the system maps
(core/permissions.py SYSTEM_SCOPE_MAPS) exist in every registry and are read-only."""

from __future__ import annotations

import builtins
import re
import uuid
from collections.abc import Iterable
from typing import Any

from cargohold.core import skus
from cargohold.core.errors import Conflict, InvalidArgument, NotFound
from cargohold.core.identity_common import Limits, OnChange, limit_check, notifier, now, text
from cargohold.core.permissions import SYSTEM_SCOPE_MAPS, TOKEN_ACTIONS, validate_pattern
from cargohold.core.ports.access_store import AccessStore
from cargohold.core.ports.records import ScopeMap

Rules = tuple[tuple[str, str], ...]
_SCOPE_MAP_NAME = re.compile(r"[A-Za-z0-9-]{5,64}")
_REPOSITORIES = "repositories/"


def validate_rules(rules: list[tuple[str, str]]) -> Rules:
    """Scope-map rules: (repository pattern, action); raises ValueError with a clear message."""
    out = []
    for pattern, action in rules:
        if action not in TOKEN_ACTIONS:
            raise ValueError(f"unknown action {action!r}; use one of {', '.join(TOKEN_ACTIONS)}")
        out.append((validate_pattern(pattern), action))
    return tuple(dict.fromkeys(out))


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


def sorted_rules(rules: Iterable[tuple[str, str]]) -> Rules:
    """Without repeats, by pattern then in TOKEN_ACTIONS order (how scope maps are stored and shown)."""
    order = list(TOKEN_ACTIONS)
    return tuple(sorted(set(rules), key=lambda r: (r[0], order.index(r[1]) if r[1] in order else len(order))))


class ScopeMapService:
    """`limits` enforces the SKU's scope-map count (None: not enforced)."""

    def __init__(self, store: AccessStore, *, limits: Limits | None = None,
                 on_change: OnChange | None = None) -> None:
        self.store = store
        self.limits = limits
        self._changed = notifier(on_change)

    def ensure_system(self, registry_id: int) -> None:
        """Create the system scope maps the registry lacks (at its creation and on every start)."""
        for name, (description, actions) in SYSTEM_SCOPE_MAPS.items():
            if self.store.find_scope_map(registry_id, name) is None:
                ts = now()
                self.store.create_scope_map(ScopeMap(str(uuid.uuid4()), registry_id, name, description, True,
                                                     tuple(("*", a) for a in actions), ts, ts))

    def list(self, registry_id: int) -> list[ScopeMap]:
        return self.store.list_scope_maps(registry_id)

    def get(self, registry_id: int, name: str) -> ScopeMap:
        found = self.store.find_scope_map(registry_id, name) if len(name) <= 64 and name.isprintable() else None
        if found is None:
            raise NotFound(f"scope map {name[:100]!r} not found", {"name": name[:100]})
        return found

    def create(self, registry_id: int, name: str, actions: builtins.list[str], description: str = "") -> ScopeMap:
        """A user-defined scope map from ACR action strings (`repositories/<pattern>/<area>/<verb>`)."""
        rules = sorted_rules(parse_action(a) for a in actions)
        if not rules:
            raise InvalidArgument("a scope map needs at least one action")
        return self.create_from_rules(registry_id, name, rules, description)

    def create_from_rules(self, registry_id: int, name: str, rules: Rules, description: str) -> ScopeMap:
        """A user-defined scope map from rules already checked (a token's own `<token>-scope-map`)."""
        if not _SCOPE_MAP_NAME.fullmatch(name):
            raise InvalidArgument("scope map names are 5-64 letters, digits or '-'", {"name": name[:100]})
        description = text(description, "description")
        if self.store.find_scope_map(registry_id, name) is not None:
            raise Conflict(f"scope map {name!r} already exists", {"name": name})
        check = limit_check(self.limits, registry_id, skus.SCOPE_MAPS)
        if check is not None:
            check(self.store.count_user_scope_maps(registry_id))  # fail before any work; exact below
        ts = now()
        scope_map = ScopeMap(str(uuid.uuid4()), registry_id, name, description, False, rules, ts, ts)
        self.store.create_scope_map(scope_map, within_limit=check)
        return scope_map

    def update(self, registry_id: int, name: str, *, description: str | None = None,
               add: builtins.list[str] | None = None, remove: builtins.list[str] | None = None) -> ScopeMap:
        """Add and remove actions (removing an absent one is no error); system maps are read-only."""
        scope_map = self.get(registry_id, name)
        if scope_map.system:
            raise Conflict(f"{name} is a system scope map and cannot be changed", {"name": name})
        changes: dict[str, Any] = {}
        if description is not None:
            changes["description"] = text(description, "description")
        if add or remove:
            dropped = {parse_action(a) for a in remove or []}
            added = {parse_action(a) for a in add or []}
            changes["rules"] = sorted_rules((set(scope_map.rules) - dropped) | added)
        if not changes:
            return scope_map
        updated = self.store.update_scope_map(scope_map.id, **changes)
        self._changed(None)
        return updated or self.get(registry_id, name)

    def delete(self, registry_id: int, name: str) -> None:
        scope_map = self.get(registry_id, name)
        if scope_map.system:
            raise Conflict(f"{name} is a system scope map and cannot be deleted", {"name": name})
        if self.store.scope_map_in_use(scope_map.id):
            raise Conflict(f"scope map {name!r} is used by a token; delete the token or give it another scope map "
                           "first", {"name": name})
        self.store.delete_scope_map(scope_map.id)
