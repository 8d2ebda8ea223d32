"""Service tiers: what each SKU includes and allows (ACR's published table), and per-registry overrides.

Pure data and rules, no I/O. Figures: learn.microsoft.com/azure/container-registry/container-registry-skus
(included storage, webhooks, tokens and scope maps, geo-replication and network rules only on Premium).
Request rates live with the throttle (core/throttling.py SKU_LIMITS); their overrides use the names
`reads_per_minute`, `writes_per_minute`, ... defined there and are accepted here so one override map
serves both.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from cargohold.core.errors import InvalidArgument

GIB = 1024**3
MAX_VALUE = 2**63 - 1  # the largest figure the database stores (limits, quotas, byte counts)

BASIC = "Basic"
STANDARD = "Standard"
PREMIUM = "Premium"
SKUS = (BASIC, STANDARD, PREMIUM)  # in ascending order

# Limit names (also the keys of a registry's `limit_overrides`) and their units.
STORAGE_INCLUDED = "storage_included_bytes"
WEBHOOKS = "webhooks"
TOKENS = "tokens"
SCOPE_MAPS = "scope_maps"
REPLICATIONS = "replications"
IP_RULES = "ip_rules"
LIMIT_UNITS: dict[str, str] = {
    STORAGE_INCLUDED: "Bytes", WEBHOOKS: "Count", TOKENS: "Count", SCOPE_MAPS: "Count",
    REPLICATIONS: "Count", IP_RULES: "Count",
}
# Request-rate overrides (per minute), read by the throttle.
RATE_LIMITS = ("reads_per_minute", "writes_per_minute", "deletes_per_minute", "referrers_per_minute",
               "logins_per_minute")

# Features a tier may lack. Premium-only ones follow ACR; anonymous pull is Standard and up.
GEO_REPLICATION = "geo-replication"
NETWORK_RULES = "network rules"
CUSTOMER_MANAGED_KEYS = "customer-managed keys"
TRUST_POLICY = "trust policy"
RETENTION_POLICY = "retention policy"
EXPORT_POLICY = "export policy"
ANONYMOUS_PULL = "anonymous pull"
PREMIUM_FEATURES = (GEO_REPLICATION, NETWORK_RULES, CUSTOMER_MANAGED_KEYS, TRUST_POLICY, RETENTION_POLICY,
                    EXPORT_POLICY)


@dataclass(frozen=True, slots=True)
class Sku:
    name: str
    limits: Mapping[str, int]
    features: frozenset[str] = field(default_factory=frozenset)

    def has(self, feature: str) -> bool:
        return feature in self.features


TIERS: dict[str, Sku] = {
    BASIC: Sku(BASIC, {STORAGE_INCLUDED: 10 * GIB, WEBHOOKS: 2, TOKENS: 100, SCOPE_MAPS: 100,
                       REPLICATIONS: 0, IP_RULES: 0}),
    STANDARD: Sku(STANDARD, {STORAGE_INCLUDED: 100 * GIB, WEBHOOKS: 10, TOKENS: 500, SCOPE_MAPS: 500,
                             REPLICATIONS: 0, IP_RULES: 0}, frozenset({ANONYMOUS_PULL})),
    PREMIUM: Sku(PREMIUM, {STORAGE_INCLUDED: 500 * GIB, WEBHOOKS: 500, TOKENS: 50_000, SCOPE_MAPS: 50_000,
                           REPLICATIONS: 100, IP_RULES: 200},
                 frozenset({ANONYMOUS_PULL, *PREMIUM_FEATURES})),
}


def parse_sku(name: str) -> Sku:
    """A tier by name, case-insensitively (as az accepts `basic`)."""
    for sku in TIERS.values():
        if sku.name.lower() == name.strip().lower():
            return sku
    raise InvalidArgument(f"unknown SKU {name!r}: choose Basic, Standard or Premium", {"sku": name})


def validate_overrides(overrides: Mapping[str, object]) -> dict[str, int]:
    """An operator's limit overrides: known names, non-negative integers."""
    clean: dict[str, int] = {}
    for name, value in overrides.items():
        if name not in LIMIT_UNITS and name not in RATE_LIMITS:
            known = ", ".join([*LIMIT_UNITS, *RATE_LIMITS])
            raise InvalidArgument(f"unknown limit {name!r}: known limits are {known}", {"limit": name})
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_VALUE:
            raise InvalidArgument(f"limit {name!r} must be an integer from 0 to {MAX_VALUE}", {"limit": name})
        clean[name] = value
    return clean


def effective_limit(sku: str, name: str, overrides: Mapping[str, int] | None) -> int:
    """The limit in force: the registry's override, else its tier's figure."""
    if overrides and name in overrides:
        return int(overrides[name])
    return int(parse_sku(sku).limits[name])


def is_downgrade(current: str, new: str) -> bool:
    return SKUS.index(parse_sku(new).name) < SKUS.index(parse_sku(current).name)


def features_lost(current: str, new: str) -> list[str]:
    """Features `current` has and `new` lacks (what a change of tier could strand)."""
    before, after = parse_sku(current), parse_sku(new)
    return [f for f in (ANONYMOUS_PULL, *PREMIUM_FEATURES) if before.has(f) and not after.has(f)]
