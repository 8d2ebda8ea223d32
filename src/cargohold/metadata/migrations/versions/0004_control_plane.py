"""registries as resources: unique login servers, SKU limit overrides, storage usage and quota,
retention policy, changeable attributes on repositories, tags and manifests, write-once tag rules

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

ATTRIBUTES = ("write_enabled", "delete_enabled", "read_enabled", "list_enabled")


def upgrade() -> None:
    with op.batch_alter_table("registries", schema=None) as batch_op:
        batch_op.create_unique_constraint("uq_registries_login_server", ["login_server"])
    for table in ("repositories", "manifests", "tags"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            for name in ATTRIBUTES:
                batch_op.add_column(sa.Column(name, sa.Boolean(), nullable=False, server_default=sa.true()))
    with op.batch_alter_table("registry_settings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("limit_overrides", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("storage_quota_bytes", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("storage_used_bytes", sa.BigInteger(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("retention_enabled", sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
        batch_op.add_column(sa.Column("retention_days", sa.Integer(), nullable=False, server_default="7"))
    # Usage so far: each registry's distinct blobs, counted once.
    op.execute(
        "UPDATE registry_settings SET storage_used_bytes = COALESCE("
        "(SELECT SUM(size) FROM blobs WHERE blobs.registry_id = registry_settings.registry_id), 0)"
    )
    op.create_table(
        "tag_immutability_rules",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("registry_id", sa.Integer(), nullable=False),
        sa.Column("repository", sa.String(length=255), nullable=False),
        sa.Column("pattern", sa.String(length=255), nullable=False),
        sa.Column("description", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["registry_id"], ["registries.id"], ondelete="CASCADE",
                                name="fk_tag_immutability_rules_registry_id_registries"),
        sa.PrimaryKeyConstraint("id", name="pk_tag_immutability_rules"),
        sa.UniqueConstraint("registry_id", "repository", "pattern",
                            name="uq_tag_immutability_rules_scope_pattern"),
    )


def downgrade() -> None:
    op.drop_table("tag_immutability_rules")
    with op.batch_alter_table("registry_settings", schema=None) as batch_op:
        for name in ("retention_days", "retention_enabled", "storage_used_bytes", "storage_quota_bytes",
                     "limit_overrides"):
            batch_op.drop_column(name)
    for table in ("tags", "manifests", "repositories"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            for name in ATTRIBUTES:
                batch_op.drop_column(name)
    with op.batch_alter_table("registries", schema=None) as batch_op:
        batch_op.drop_constraint("uq_registries_login_server", type_="unique")
