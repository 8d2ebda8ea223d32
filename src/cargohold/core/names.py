"""Repository and tag name grammar (OCI distribution-spec)."""

from __future__ import annotations

import re

from cargohold.core.errors import NameInvalid, TagInvalid

_COMPONENT = r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*"
_NAME_RE = re.compile(rf"^{_COMPONENT}(?:/{_COMPONENT})*$")
_TAG_RE = re.compile(r"^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$")
MAX_NAME_LENGTH = 255


def validate_repository_name(name: str) -> str:
    if len(name) > MAX_NAME_LENGTH or not _NAME_RE.match(name):
        raise NameInvalid(f"invalid repository name {name!r}", {"name": name})
    return name


def validate_tag(tag: str) -> str:
    if not _TAG_RE.match(tag):
        raise TagInvalid(f"invalid tag {tag!r}", {"tag": tag})
    return tag
