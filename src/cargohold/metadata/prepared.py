"""The prepared-statement layer of the request paths: statements compiled once, run on a DBAPI cursor.

It stays because it pays: benchmarks/sql_paths.py measures the hot queries through it against plain
SQLAlchemy Core execution of the same prebuilt statements (figures in BENCHMARKS.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa


class Prepared:
    """A prebuilt statement compiled once for the engine's dialect and run straight on a DBAPI cursor.

    SQLAlchemy still renders the SQL for the dialect and converts values with each
    type's bind and result processors; only its per-execution machinery (execution
    context, events, result objects) is skipped, which is most of what a one-row
    query on the request path costs. Statements take explicit bindparams only.
    """

    __slots__ = ("_bind", "_named", "_names", "_results", "sql")

    def __init__(self, stmt: Any, dialect: sa.Dialect) -> None:
        compiled = stmt.compile(dialect=dialect)
        binds = compiled.binds
        implicit = [name for name, bp in binds.items() if not bp.required]
        if implicit:
            raise ValueError(f"prepared statements take explicit bindparams only, not {implicit}")
        self.sql: str = compiled.string
        self._named = not dialect.positional
        self._names = tuple(binds) if self._named else tuple(compiled.positiontup or ())
        self._bind = {name: proc for name, bp in binds.items()
                      if (proc := bp.type.dialect_impl(dialect).bind_processor(dialect)) is not None}
        columns = stmt.selected_columns if isinstance(stmt, sa.Select) else getattr(stmt, "exported_columns", ())
        procs = tuple(c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns)
        self._results = procs if any(p is not None for p in procs) else None

    def params(self, values: Mapping[str, Any]) -> Any:
        bind = self._bind
        if self._named:
            return {n: bind[n](values[n]) if n in bind else values[n] for n in self._names}
        return tuple(bind[n](values[n]) if n in bind else values[n] for n in self._names)

    def row(self, raw: Sequence[Any] | None) -> Sequence[Any] | None:
        if raw is None or self._results is None:
            return raw
        return tuple(v if p is None else p(v) for p, v in zip(self._results, raw, strict=True))


LearnedIds = list[tuple[tuple[int, str], bytes, int]]


class Cursor:
    """A DBAPI cursor in one read or write transaction, running Prepared statements."""

    __slots__ = ("_cur", "learned")

    def __init__(self, cur: Any, learned: LearnedIds | None) -> None:
        self._cur = cur
        self.learned = learned  # repository ids to cache once the write transaction commits

    def one(self, q: Prepared, values: Mapping[str, Any]) -> Sequence[Any] | None:
        self._cur.execute(q.sql, q.params(values))
        return q.row(self._cur.fetchone())

    def run(self, q: Prepared, values: Mapping[str, Any]) -> int:
        self._cur.execute(q.sql, q.params(values))
        return int(self._cur.rowcount)
