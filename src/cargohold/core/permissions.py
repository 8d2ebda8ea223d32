"""What each principal may do: data-plane actions, built-in roles, scopes and scope-map rules.

Pure rules, no I/O. A grant is a set of (repository pattern, action) pairs; a
pattern is a repository name, `prefix/*` (everything below the prefix), or `*`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

# Data-plane actions carried in access tokens.
PULL = "pull"  # read blobs and manifests
PUSH = "push"  # upload blobs, push manifests and tags
DELETE = "delete"  # delete manifests and blobs, untag
METADATA_READ = "metadata_read"  # list tags and referrers
METADATA_WRITE = "metadata_write"  # change attributes (locks)
SIGN = "sign"  # push signature artifacts: blobs, and manifests that have a subject
DATA_ACTIONS = (PULL, PUSH, DELETE, METADATA_READ, METADATA_WRITE, SIGN)

# Control-plane permissions.
CP_READ = "cp:read"
CP_WRITE = "cp:write"
CP_ROLES = "cp:roles"  # create and delete role assignments

ROLES: dict[str, frozenset[str]] = {
    "AcrPull": frozenset({PULL, METADATA_READ}),
    "AcrPush": frozenset({PULL, PUSH, METADATA_READ, METADATA_WRITE}),
    "AcrDelete": frozenset({DELETE}),
    "AcrImageSigner": frozenset({PULL, SIGN, METADATA_READ}),
    "Reader": frozenset({PULL, METADATA_READ, CP_READ}),
    "Contributor": frozenset({*DATA_ACTIONS, CP_READ, CP_WRITE}),
    "Owner": frozenset({*DATA_ACTIONS, CP_READ, CP_WRITE, CP_ROLES}),
}

# Repository-token scope-map actions (ACR's names) and what they allow.
TOKEN_ACTIONS: dict[str, frozenset[str]] = {
    "content/read": frozenset({PULL}),
    "content/write": frozenset({PUSH}),
    "content/delete": frozenset({DELETE}),
    "metadata/read": frozenset({METADATA_READ}),
    "metadata/write": frozenset({METADATA_WRITE}),
}

SYSTEM_SCOPE_MAPS: dict[str, tuple[str, tuple[str, ...]]] = {
    "_repositories_admin": ("Can perform all read, write and delete operations on the registry",
                            tuple(TOKEN_ACTIONS)),
    "_repositories_pull": ("Can pull any repository of the registry", ("content/read",)),
    "_repositories_push": ("Can push to any repository of the registry", ("content/read", "content/write")),
}

# Actions a token request may name (Docker's pull/push/delete/*, plus the two metadata actions),
# and the data-plane actions each one carries in an access token.
TOKEN_SCOPE_ACTIONS: dict[str, frozenset[str]] = {
    "pull": frozenset({PULL, METADATA_READ}),
    "push": frozenset({PUSH, SIGN}),
    "delete": frozenset({DELETE}),
    "metadata_read": frozenset({METADATA_READ}),
    "metadata_write": frozenset({METADATA_WRITE}),
    "*": frozenset(DATA_ACTIONS),
}


class InvalidScope(ValueError):
    pass


def validate_pattern(pattern: str) -> str:
    """A repository pattern: `*`, a name, or `prefix/*` (the prefix being a valid name)."""
    from cargohold.core.names import validate_repository_name

    if pattern == "*":
        return pattern
    base = pattern[:-2] if pattern.endswith("/*") else pattern
    try:
        validate_repository_name(base)
    except Exception:
        raise InvalidScope(f"invalid repository pattern {pattern!r}: use a name, 'prefix/*' or '*'") from None
    return pattern


def matches(pattern: str, repository: str) -> bool:
    if pattern == "*":
        return True
    if pattern.endswith("/*"):
        return repository.startswith(pattern[:-1])
    return repository == pattern


@dataclass(frozen=True, slots=True)
class Grant:
    """Everything a principal may do, as (pattern, action) rules; additive."""

    rules: frozenset[tuple[str, str]]

    @classmethod
    def from_roles(cls, assignments: Iterable[tuple[str, str]]) -> Grant:
        """From (role, scope) pairs; scope "" is the whole registry."""
        rules: set[tuple[str, str]] = set()
        for role, scope in assignments:
            pattern = scope or "*"
            rules.update((pattern, action) for action in ROLES.get(role, ()))
        return cls(frozenset(rules))

    @classmethod
    def from_scope_map(cls, rules: Iterable[tuple[str, str]]) -> Grant:
        out: set[tuple[str, str]] = set()
        for pattern, token_action in rules:
            out.update((pattern, action) for action in TOKEN_ACTIONS.get(token_action, ()))
        return cls(frozenset(out))

    def allows(self, repository: str, action: str) -> bool:
        return any(a == action and matches(p, repository) for p, a in self.rules)

    def allowed(self, repository: str) -> frozenset[str]:
        return frozenset(a for p, a in self.rules if matches(p, repository))

    def registry_wide(self, action: str) -> bool:
        return ("*", action) in self.rules

    def granted_for_request(self, repository: str, requested: Iterable[str]) -> tuple[list[str], list[str]]:
        """The requested scope actions this grant allows at least in part (a subset of those asked
        for), and the data-plane actions they imply that the grant withholds: e.g. "pull" for a
        token with content/read but not metadata/read (no tag listing), or "push" for an
        AcrImageSigner (signature artifacts only)."""
        allowed = self.allowed(repository)
        granted: list[str] = []
        withheld: set[str] = set()
        for action in dict.fromkeys(requested):
            implied = TOKEN_SCOPE_ACTIONS.get(action)
            if not implied or not implied & allowed:
                continue
            granted.append(action)
            withheld |= implied - allowed
        return granted, sorted(withheld)


def role_names() -> list[str]:
    return list(ROLES)
