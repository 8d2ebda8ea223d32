"""The metadata side of a full disk: releasing blob rows no repository links, and recognising
the database's own "disk full" errors (SQLite's SQLITE_FULL, PostgreSQL's SQLSTATE 53100)."""

from __future__ import annotations

import sqlalchemy as sa

from cargohold.core.ports.generations import REMOVALS
from cargohold.metadata import schema as t
from cargohold.metadata.sql import SqlMetadataStore

_SQLITE_FULL = 13
_PG_DISK_FULL = "53100"


def is_disk_full(exc: BaseException) -> bool:
    """Whether `exc` (or what caused it) is the database reporting that its disk is full."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if getattr(current, "sqlite_errorcode", None) == _SQLITE_FULL:
            return True
        if getattr(current, "sqlstate", None) == _PG_DISK_FULL or getattr(current, "pgcode", None) == _PG_DISK_FULL:
            return True
        if "database or disk is full" in str(current):
            return True
        orig = getattr(current, "orig", None)
        current = orig if isinstance(orig, BaseException) else (current.__cause__ or current.__context__)
    return False


class SqlUnlinkedBlobs:
    """`core.storage_space.UnlinkedBlobs` on the metadata database."""

    def __init__(self, metadata: SqlMetadataStore) -> None:
        self._m = metadata

    def release_unlinked(self, registry_id: int) -> list[tuple[str, int, bool]]:
        b, rb, st = t.blobs, t.repository_blobs, t.registry_settings
        with self._m.write() as conn:
            # The settings row is what every blob insert updates (usage): locking it orders this
            # release with them on PostgreSQL, as SQLite's write lock does.
            conn.execute(sa.select(st.c.registry_id).where(st.c.registry_id == registry_id).with_for_update())
            unlinked = conn.execute(
                sa.select(b.c.digest, b.c.size)
                .select_from(b.outerjoin(rb, sa.and_(rb.c.registry_id == b.c.registry_id, rb.c.digest == b.c.digest)))
                .where(b.c.registry_id == registry_id, rb.c.digest.is_(None))).all()
            released: list[tuple[str, int, bool]] = []
            for digest, size in unlinked:
                conn.execute(sa.delete(b).where(b.c.registry_id == registry_id, b.c.digest == digest))
                elsewhere = conn.execute(sa.select(b.c.registry_id).where(b.c.digest == digest).limit(1)).first()
                released.append((str(digest), int(size), elsewhere is not None))
            freed = sum(size for _, size, _ in released)
            if freed:
                conn.execute(sa.update(st).where(st.c.registry_id == registry_id)
                             .values(storage_used_bytes=sa.case((st.c.storage_used_bytes > freed,
                                                                 st.c.storage_used_bytes - freed), else_=0)))
        if released:
            self._m.generations.bump(REMOVALS)
        return released
