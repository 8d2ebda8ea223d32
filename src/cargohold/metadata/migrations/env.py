"""Alembic environment: the connection is handed in by cargohold.metadata.migrate."""

from __future__ import annotations

from alembic import context

from cargohold.metadata.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through cargohold.metadata.migrate")
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
