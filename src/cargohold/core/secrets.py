"""Secrets: generated with the OS's CSPRNG, stored only as argon2id hashes, compared in constant time."""

from __future__ import annotations

import secrets as _secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

# Interactive-login parameters (RFC 9106 second recommendation, lighter memory): ~30 ms here.
_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
_DUMMY = _hasher.hash("cargohold-dummy-secret")


def generate_secret(nbytes: int = 32) -> str:
    return _secrets.token_urlsafe(nbytes)


def hash_secret(secret: str) -> str:
    return _hasher.hash(secret)


def verify_secret(secret_hash: str | None, secret: str) -> bool:
    """True when `secret` matches; with no hash, burns the same time so absence does not show."""
    try:
        return _hasher.verify(secret_hash or _DUMMY, secret) and secret_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
