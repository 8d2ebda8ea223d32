"""Printing results: `--query` (JMESPath) first, then `-o json | table | tsv`, as `az` does.

- json: indented JSON (a string result is printed as a JSON string);
- table: a Rich table; a command may name its columns, otherwise (and always after --query) the
  scalar fields of the objects become the columns;
- tsv: one line per object (or per list item), tab-separated values in field order, no header;
  nested lists of plain values are joined with commas, other nested values written as compact JSON.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Sequence
from typing import Any

from cargohold.cli.client import STATE, CliError

OUTPUT_FORMATS = ("json", "table", "tsv")

# A column: a header and how to get its value from one object (a key, or a function).
Column = tuple[str, str | Callable[[dict[str, Any]], Any]]


def apply_query(data: Any, query: str | None) -> Any:
    if not query:
        return data
    import jmespath  # type: ignore[import-untyped]
    from jmespath.exceptions import JMESPathError  # type: ignore[import-untyped]

    try:
        return jmespath.search(query, data)
    except JMESPathError as e:
        raise CliError(f"invalid --query {query!r}: {str(e).splitlines()[0]}", 2) from None


def emit(data: Any, columns: Sequence[Column] | None = None) -> None:
    """Print a result in the format and with the query the user chose."""
    queried = STATE.query is not None
    data = apply_query(data, STATE.query)
    fmt = STATE.output
    if fmt == "json":
        sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    elif fmt == "tsv":
        sys.stdout.write(to_tsv(data))
    else:
        print_table(data, None if queried else columns)


# --- tsv -----------------------------------------------------------------------------------------

def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value.replace("\t", " ").replace("\n", " ")
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, list) and all(not isinstance(v, (dict, list)) for v in value):
        return ",".join(_cell(v) for v in value)
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def to_tsv(data: Any) -> str:
    if data is None:
        return ""
    rows = data if isinstance(data, list) else [data]
    lines = []
    for row in rows:
        if isinstance(row, dict):
            lines.append("\t".join(_cell(v) for v in row.values()))
        elif isinstance(row, list):
            lines.append("\t".join(_cell(v) for v in row))
        else:
            lines.append(_cell(row))
    return "".join(line + "\n" for line in lines)


# --- table ---------------------------------------------------------------------------------------

def header(key: str) -> str:
    """camelCase → Title Case, as az's table headers read."""
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", key).replace("_", " ").split()
    return " ".join(w[:1].upper() + w[1:] for w in words)


_FRACTION = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\.\d+(Z|[+-]\d\d:\d\d)?$")


def short_time(value: str) -> str:
    """An ISO 8601 timestamp to the second (`...T12:55:22.060939Z` → `...T12:55:22Z`); else as it is."""
    m = _FRACTION.match(value)
    return m.group(1) + (m.group(2) or "") if m else value


def _table_text(value: Any) -> str:
    """A cell for people: list items on their own lines, timestamps to the second."""
    if isinstance(value, list) and all(not isinstance(v, (dict, list)) for v in value):
        return "\n".join(_table_text(v) for v in value)
    if isinstance(value, str):
        return short_time(value)
    return _cell(value)


def _generic_columns(rows: list[dict[str, Any]]) -> list[Column]:
    keys: list[str] = []
    for row in rows:
        for k, v in row.items():
            if k not in keys and not isinstance(v, dict) and not (
                    isinstance(v, list) and any(isinstance(x, (dict, list)) for x in v)):
                keys.append(k)
    return [(header(k), k) for k in keys]


def print_table(data: Any, columns: Sequence[Column] | None) -> None:
    if data is None:
        return
    if not isinstance(data, (dict, list)):
        sys.stdout.write(_cell(data) + "\n")
        return
    items = data if isinstance(data, list) else [data]
    if items and all(not isinstance(i, (dict, list)) for i in items):
        rows: list[dict[str, Any]] = [{"Result": i} for i in items]
        columns = [("Result", "Result")]
    else:
        rows = [i if isinstance(i, dict) else {"Result": i} for i in items]
        if columns is None:
            columns = _generic_columns(rows)
    if not rows or not columns:
        return

    from rich import box
    from rich.console import Console
    from rich.table import Table

    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, header_style="bold")
    for title, _ in columns:
        table.add_column(title, overflow="fold")
    for row in rows:
        cells = []
        for _, get in columns:
            value = get(row) if callable(get) else row.get(get)
            cells.append(_table_text(value))
        table.add_row(*cells)
    # Not a terminal (a pipe, a file, a test): do not squeeze the table into 80 columns.
    console = Console(width=None if sys.stdout.isatty() else 250, soft_wrap=False, highlight=False, markup=False)
    console.print(table)
