"""The SKU table and its rules (pure logic)."""

from __future__ import annotations

import pytest

from cargohold.core import skus
from cargohold.core.errors import InvalidArgument


def test_published_limits() -> None:
    assert [skus.TIERS[n].limits[skus.STORAGE_INCLUDED] // skus.GIB for n in skus.SKUS] == [10, 100, 500]
    assert [skus.TIERS[n].limits[skus.WEBHOOKS] for n in skus.SKUS] == [2, 10, 500]
    assert [skus.TIERS[n].limits[skus.TOKENS] for n in skus.SKUS] == [100, 500, 50_000]
    assert [skus.TIERS[n].limits[skus.SCOPE_MAPS] for n in skus.SKUS] == [100, 500, 50_000]


def test_features_by_tier() -> None:
    assert not skus.TIERS[skus.BASIC].has(skus.ANONYMOUS_PULL)
    assert skus.TIERS[skus.STANDARD].has(skus.ANONYMOUS_PULL)
    assert not skus.TIERS[skus.STANDARD].has(skus.RETENTION_POLICY)
    assert all(skus.TIERS[skus.PREMIUM].has(f) for f in skus.PREMIUM_FEATURES)
    assert skus.features_lost("Premium", "Basic")[0] == skus.ANONYMOUS_PULL
    assert skus.features_lost("Basic", "Premium") == []
    assert skus.is_downgrade("Premium", "standard") and not skus.is_downgrade("Basic", "Basic")


def test_overrides() -> None:
    assert skus.effective_limit("Basic", skus.TOKENS, None) == 100
    assert skus.effective_limit("Basic", skus.TOKENS, {"tokens": 7}) == 7
    assert skus.validate_overrides({"tokens": 0, "reads_per_minute": 5}) == {"tokens": 0, "reads_per_minute": 5}
    for bad in ({"tokenz": 1}, {"tokens": -1}, {"tokens": True}, {"tokens": "5"}):
        with pytest.raises(InvalidArgument):
            skus.validate_overrides(bad)
    with pytest.raises(InvalidArgument, match="unknown SKU"):
        skus.parse_sku("Gold")
