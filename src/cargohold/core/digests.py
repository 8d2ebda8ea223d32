"""Digests (`algorithm:hex`) and a hasher whose state survives processes.

Chunked uploads may continue on another worker or after a restart, so the
running hash state must be storable. hashlib cannot export its state; OpenSSL's
low-level SHA*_CTX structs are plain memory, so we drive them through ctypes
(same speed as hashlib, GIL released) and store the raw struct. When libcrypto
is unavailable the state is None and callers re-hash the stored bytes instead.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import hashlib
import re
from dataclasses import dataclass
from typing import Any

from cargohold.core.errors import DigestInvalid

_HEX_LENGTH = {"sha256": 64, "sha512": 128}
_DIGEST_RE = re.compile(r"^([a-z0-9]+(?:[.+_-][a-z0-9]+)*):([a-zA-Z0-9=_-]+)$")


@dataclass(frozen=True, slots=True)
class Digest:
    algorithm: str
    hex: str

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.hex}"

    @classmethod
    def parse(cls, value: str) -> Digest:
        """Validate a digest string; unsupported algorithms and malformed hex are DIGEST_INVALID."""
        m = _DIGEST_RE.match(value or "")
        if not m:
            raise DigestInvalid("invalid digest format", {"digest": value})
        algorithm, hexpart = m.group(1), m.group(2)
        expected = _HEX_LENGTH.get(algorithm)
        if expected is None:
            raise DigestInvalid(f"unsupported digest algorithm {algorithm!r}", {"digest": value})
        if len(hexpart) != expected or not re.fullmatch(r"[0-9a-f]+", hexpart):
            raise DigestInvalid(f"invalid {algorithm} digest", {"digest": value})
        return cls(algorithm, hexpart)

    @classmethod
    def of(cls, data: bytes, algorithm: str = "sha256") -> Digest:
        return cls(algorithm, hashlib.new(algorithm, data).hexdigest())


def is_digest(reference: str) -> bool:
    return ":" in reference


_STATE_TAG = b""  # names the libcrypto a stored hash state came from


def _load_libcrypto() -> Any:
    name = ctypes.util.find_library("crypto")
    if not name:
        return None
    try:
        lib = ctypes.CDLL(name)
        version = lib.OpenSSL_version
        version.restype = ctypes.c_char_p
        for algo in ("SHA256", "SHA512"):
            for fn in ("Init", "Update", "Final"):
                getattr(lib, f"{algo}_{fn}").restype = ctypes.c_int
            getattr(lib, f"{algo}_Update").argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t]
        global _STATE_TAG
        _STATE_TAG = b"openssl:" + version(0)
        return lib
    except (OSError, AttributeError):
        return None


_LIB = _load_libcrypto()
_CTX_SIZE = 256  # larger than SHA256_CTX (112) and SHA512_CTX (216)


class ResumableHasher:
    """sha256/sha512 whose state can be exported with `state()` and resumed with `resume()`."""

    def __init__(self, algorithm: str = "sha256") -> None:
        if algorithm not in _HEX_LENGTH:
            raise DigestInvalid(f"unsupported digest algorithm {algorithm!r}")
        self.algorithm = algorithm
        self.size = 0
        self._ctx: Any = None
        self._fallback: Any = None
        if _LIB is not None:
            self._ctx = ctypes.create_string_buffer(_CTX_SIZE)
            getattr(_LIB, f"{self._prefix}_Init")(self._ctx)
        else:
            self._fallback = hashlib.new(algorithm)

    @property
    def _prefix(self) -> str:
        return self.algorithm.upper()

    @classmethod
    def resume(cls, algorithm: str, size: int, state: bytes | None) -> ResumableHasher | None:
        """A hasher continuing from `state`, or None when the state cannot be used here."""
        if _LIB is None or not state:
            return None
        tag, _, raw = state.partition(b"\0")
        if tag != _STATE_TAG or len(raw) != _CTX_SIZE:
            return None
        hasher = cls(algorithm)
        hasher._ctx = ctypes.create_string_buffer(raw, _CTX_SIZE)
        hasher.size = size
        return hasher

    def update(self, data: bytes | memoryview) -> None:
        if self._ctx is not None:
            buf = bytes(data) if isinstance(data, memoryview) else data
            getattr(_LIB, f"{self._prefix}_Update")(self._ctx, buf, len(buf))
        else:
            self._fallback.update(data)
        self.size += len(data)

    def state(self) -> bytes | None:
        if self._ctx is None:
            return None
        return _STATE_TAG + b"\0" + bytes(self._ctx.raw)

    def digest(self) -> Digest:
        """The final digest; does not disturb the running state."""
        if self._ctx is None:
            return Digest(self.algorithm, self._fallback.copy().hexdigest())
        ctx = ctypes.create_string_buffer(self._ctx.raw, _CTX_SIZE)
        out = ctypes.create_string_buffer(_HEX_LENGTH[self.algorithm] // 2)
        getattr(_LIB, f"{self._prefix}_Final")(out, ctx)
        return Digest(self.algorithm, out.raw.hex())
