"""Token signing keys: EC P-256 (ES256) keys with key ids, kept in `<data-dir>/keys`.

The newest key signs; every key still on disk verifies, so rotating (adding a
key) leaves tokens signed by the previous one valid until they expire. Workers
notice a rotation by the directory's mtime or by meeting an unknown key id.
"""

from __future__ import annotations

import os
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

ALGORITHM = "ES256"


class KeyRing:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._keys: dict[str, ec.EllipticCurvePrivateKey] = {}
        self._active: str | None = None
        self._mtime = -1.0
        self._checked = 0.0

    @staticmethod
    def new_kid() -> str:
        # Sortable to the microsecond: the greatest key id is the newest, and signs.
        return datetime.now(UTC).strftime("k%Y%m%dT%H%M%S%f") + "-" + uuid.uuid4().hex[:8]

    def ensure(self) -> str:
        """Create the first key if there is none; the active key id."""
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._load()
        return self._active or self.rotate()

    def rotate(self) -> str:
        """Add a new key, which signs from now on; older keys keep verifying."""
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        kid = self.new_kid()
        key = ec.generate_private_key(ec.SECP256R1())
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        tmp = self.directory / f".{kid}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(pem)
            f.flush()
            os.fsync(f.fileno())
        tmp.rename(self.directory / f"{kid}.pem")
        self._load(force=True)
        return kid

    def retire(self, kid: str) -> bool:
        """Remove a key: tokens it signed stop verifying at once."""
        path = self.directory / f"{kid}.pem"
        if not path.exists():
            return False
        path.unlink()
        self._load(force=True)
        return True

    def has(self, kid: str) -> bool:
        """Whether `kid` still verifies (retired keys stop verifying within a second)."""
        self._load()
        return kid in self._keys

    def key_ids(self) -> list[str]:
        self._load()
        return sorted(self._keys)

    def _load(self, force: bool = False, fresh: bool = False) -> None:
        """Reload when the directory changed; `fresh` looks now, else at most once a second."""
        now = time.monotonic()
        if not force and not fresh and now - self._checked < 1.0 and self._keys:
            return
        self._checked = now
        try:
            mtime = self.directory.stat().st_mtime
        except FileNotFoundError:
            return
        if not force and mtime == self._mtime:
            return
        keys: dict[str, ec.EllipticCurvePrivateKey] = {}
        for path in sorted(self.directory.glob("*.pem")):
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
            if isinstance(key, ec.EllipticCurvePrivateKey):
                keys[path.stem] = key
        self._keys = keys
        self._active = max(keys) if keys else None
        self._mtime = mtime

    def sign(self, claims: dict[str, Any]) -> str:
        self._load(fresh=True)  # a stat per token issued: a rotation signs from the next token on
        if self._active is None:
            self.ensure()
        assert self._active is not None
        return jwt.encode(claims, self._keys[self._active], algorithm=ALGORITHM, headers={"kid": self._active})

    def verify(self, token: str, audience: str) -> dict[str, Any]:
        """Claims of a token this registry signed for `audience`; raises jwt.InvalidTokenError."""
        kid = jwt.get_unverified_header(token).get("kid")
        if not isinstance(kid, str):
            raise jwt.InvalidTokenError("token has no key id")
        self._load()
        if kid not in self._keys:
            self._load(force=True)
        key = self._keys.get(kid)
        if key is None:
            raise jwt.InvalidTokenError("token signed by an unknown key")
        claims: dict[str, Any] = jwt.decode(token, key.public_key(), algorithms=[ALGORITHM], audience=audience,
                                            options={"require": ["exp", "iat", "sub", "aud"]}, leeway=5)
        return claims
