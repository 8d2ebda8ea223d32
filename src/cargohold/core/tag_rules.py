"""Write-once tags (beyond ACR): immutability rules and what they protect.

A rule has a scope — `""` (every repository of the registry), a repository name, or `prefix/*`
(every repository below `prefix/`) — and a regular expression matched against the WHOLE tag
(full match). Patterns are RE2 syntax, matched by RE2 (google-re2): linear time whatever the
pattern, since a rule runs inside every tagged push and Python's `re` can take exponential time on
patterns like `(a|aa)+$`; RE2 has no backreferences or lookaround, which tag patterns never need.
A tag some rule matches is write-once: it may be created, and re-pushed with the
digest it already names, but never moved to another digest, untagged, nor deleted with its manifest or
its repository. core/manifests.py applies `protecting` inside the push's unit of work (the tag is
inserted if absent and the stored digest compared), so of two racing pushes to a protected tag exactly
one wins.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

from cargohold.core.errors import Denied, InvalidArgument
from cargohold.core.permissions import matches, validate_pattern
from cargohold.core.ports.records import TagRule

MAX_PATTERN = 255
MAX_DESCRIPTION = 255


Rule = TagRule  # what the store hands back for the checks: the rule's id, scope and pattern


def validate_rule(pattern: str, repository: str, description: str) -> tuple[str, str, str]:
    """A rule as given, checked: the pattern compiles and is ≤255 characters; the scope is "", a valid
    repository name or `prefix/*`; the description ≤255 characters."""
    if not pattern or len(pattern) > MAX_PATTERN:
        raise InvalidArgument(f"pattern must be 1 to {MAX_PATTERN} characters", {"pattern": pattern[:300]})
    try:
        _compile(pattern)
    except _re2().error as e:
        reason = e.args[0].decode(errors="replace") if e.args and isinstance(e.args[0], bytes) else str(e)
        raise InvalidArgument(f"pattern {pattern!r} is not a valid RE2 regular expression: {reason}",
                              {"pattern": pattern}) from None
    if repository in ("*",):
        raise InvalidArgument("repository '*' is the whole registry: leave it empty", {"repository": repository})
    if repository:
        try:
            validate_pattern(repository)
        except ValueError:
            raise InvalidArgument(f"invalid repository {repository!r}: use a name or 'prefix/*'",
                                  {"repository": repository}) from None
    if len(description) > MAX_DESCRIPTION:
        raise InvalidArgument(f"description must be at most {MAX_DESCRIPTION} characters")
    return pattern, repository, description


def _re2() -> Any:
    """google-re2, loaded on the first rule (about 3 MiB per worker; registries without rules never load it)."""
    import re2

    return re2


def _compile(pattern: str) -> Any:
    re2 = _re2()
    options = re2.Options()
    options.log_errors = False  # a refused pattern is the caller's error, not a line in the server log
    return re2.compile(pattern, options=options)


@functools.lru_cache(maxsize=1024)
def _compiled(pattern: str) -> Any:
    try:
        return _compile(pattern)
    except _re2().error:  # stored before validation existed: protects nothing rather than failing pushes
        return None


def in_scope(scope: str, repository: str) -> bool:
    return scope == "" or matches(scope, repository)


def protecting(rules: Iterable[Rule], repository: str, tag: str) -> Rule | None:
    """The first rule that makes `tag` in `repository` write-once, or None."""
    for rule in rules:
        if in_scope(rule.repository, repository):
            compiled = _compiled(rule.pattern)
            if compiled is not None and compiled.fullmatch(tag):
                return rule
    return None


def refusal(rule: Rule, repository: str, tag: str, what: str) -> Denied:
    """`what`: moved | deleted — named in the message with the rule."""
    return Denied(f"tag '{tag}' in repository '{repository}' is write-once (tag rule {rule.id}: "
                  f"pattern '{rule.pattern}'); it cannot be {what}",
                  {"kind": "tag", "name": tag, "repository": repository, "rule": rule.id})


def check_move(rules: Iterable[Rule], repository: str, tag: str, current: str, pushed: str) -> None:
    if current != pushed and (rule := protecting(rules, repository, tag)) is not None:
        raise refusal(rule, repository, tag, "moved to another digest")


def check_delete(rules: Iterable[Rule], repository: str, tags: Iterable[str]) -> None:
    rules = list(rules)
    for name in tags:
        if (rule := protecting(rules, repository, name)) is not None:
            raise refusal(rule, repository, name, "deleted or untagged")
