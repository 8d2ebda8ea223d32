"""Write-once rule patterns: RE2 syntax, matched in linear time (pure logic)."""

from __future__ import annotations

import time

import pytest

from cargohold.core.errors import InvalidArgument
from cargohold.core.tag_rules import Rule, protecting, validate_rule


def test_semver_rule_protects_release_tags_only() -> None:
    rules = [Rule("r1", "prod/*", r"v\d+\.\d+\.\d+")]
    assert protecting(rules, "prod/app", "v1.2.3") is rules[0]
    assert protecting(rules, "prod/app", "v1.2.3-rc1") is None  # the whole tag must match
    assert protecting(rules, "dev/app", "v1.2.3") is None  # out of scope


def test_patterns_that_backtrack_exponentially_in_re_are_linear_here() -> None:
    rules = [Rule("r1", "", r"(a|aa)+$"), Rule("r2", "", r"(a+)+b")]
    tag = "a" * 127 + "!"
    started = time.perf_counter()
    assert protecting(rules, "app", tag) is None
    assert time.perf_counter() - started < 0.5  # Python's re takes longer than the age of the universe


@pytest.mark.parametrize("pattern", ["(", r"(a)\1", r"(?=v)v1", "x" * 256, ""])
def test_invalid_patterns_are_refused(pattern: str) -> None:
    with pytest.raises(InvalidArgument):
        validate_rule(pattern, "", "")
