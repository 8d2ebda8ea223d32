"""The migrations build exactly the schema `metadata/schema.py` declares (on SQLite and PostgreSQL)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from cargohold.metadata import schema
from cargohold.metadata.migrate import upgrade
from support import _fresh_database_url


def _urls(tmp_path: object) -> list[str]:
    urls = [f"sqlite:///{tmp_path}/m.db"]
    pg = _fresh_database_url()
    if pg:
        urls.append(pg)
    return urls


def test_migrations_match_the_declared_schema(tmp_path: object) -> None:
    for url in _urls(tmp_path):
        engine = sa.create_engine(url)
        try:
            upgrade(engine)
            with engine.connect() as conn:
                ctx = MigrationContext.configure(conn, opts={"compare_type": True})
                diff = compare_metadata(ctx, schema.metadata)
        finally:
            engine.dispose()
        assert diff == [], f"{url.split(':')[0]}: {diff}"


def test_upgrade_is_repeatable(tmp_path: object) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path}/r.db")
    try:
        upgrade(engine)
        upgrade(engine)
        assert "tag_immutability_rules" in sa.inspect(engine).get_table_names()
    finally:
        engine.dispose()
