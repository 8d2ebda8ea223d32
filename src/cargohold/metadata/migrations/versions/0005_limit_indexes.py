"""indexes behind the hardening limits: open uploads per repository and per identity, failed
logins per source

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_uploads_repository", "uploads", ["registry_id", "repository"])
    op.create_index("ix_uploads_owner", "uploads", ["registry_id", "owner"])
    op.create_index("ix_login_events_source_at", "login_events", ["registry_id", "source", "at"])


def downgrade() -> None:
    op.drop_index("ix_login_events_source_at", table_name="login_events")
    op.drop_index("ix_uploads_owner", table_name="uploads")
    op.drop_index("ix_uploads_repository", table_name="uploads")
