"""SQL schema. Every row carries its registry; Alembic migrations are generated against this."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

Timestamp = sa.DateTime(timezone=True)


def Name(length: int) -> sa.types.TypeEngine[str]:
    """A name compared and ordered bytewise on every database (tag and catalog order is lexical)."""
    return sa.String(length).with_variant(sa.String(length, collation="C"), "postgresql")

registries = sa.Table(
    "registries", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(50), nullable=False, unique=True),
    sa.Column("login_server", sa.String(255), nullable=False, unique=True),  # host[:port], lowercase
    sa.Column("created_at", Timestamp, nullable=False),
)


def ChangeableAttributes() -> list[sa.Column[bool]]:
    """ACR's changeable attributes, each enabled by default (repositories, tags and manifests carry them)."""
    return [sa.Column(name, sa.Boolean, nullable=False, server_default=sa.true())
            for name in ("write_enabled", "delete_enabled", "read_enabled", "list_enabled")]

repositories = sa.Table(
    "repositories", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("registry_id", sa.Integer, sa.ForeignKey("registries.id"), nullable=False),
    sa.Column("name", Name(255), nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("updated_at", Timestamp, nullable=False),
    *ChangeableAttributes(),
    sa.UniqueConstraint("registry_id", "name", name="uq_repositories_registry_name"),
)

blobs = sa.Table(
    "blobs", metadata,
    sa.Column("registry_id", sa.Integer, sa.ForeignKey("registries.id"), primary_key=True),
    sa.Column("digest", sa.String(200), primary_key=True),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("pushed_at", Timestamp, nullable=False),
)

repository_blobs = sa.Table(
    "repository_blobs", metadata,
    sa.Column("registry_id", sa.Integer, nullable=False),
    sa.Column("repository_id", sa.Integer, sa.ForeignKey("repositories.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("digest", sa.String(200), primary_key=True),
    sa.Column("linked_at", Timestamp, nullable=False),
    sa.ForeignKeyConstraint(["registry_id", "digest"], ["blobs.registry_id", "blobs.digest"],
                            name="fk_repository_blobs_blob"),
)

manifests = sa.Table(
    "manifests", metadata,
    sa.Column("registry_id", sa.Integer, nullable=False),
    sa.Column("repository_id", sa.Integer, sa.ForeignKey("repositories.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("digest", sa.String(200), primary_key=True),
    sa.Column("media_type", sa.String(255), nullable=False),
    sa.Column("artifact_type", sa.String(255)),
    sa.Column("subject_digest", sa.String(200)),
    sa.Column("annotations", sa.JSON),
    sa.Column("size", sa.Integer, nullable=False),
    sa.Column("content", sa.LargeBinary, nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("updated_at", Timestamp, nullable=False),
    *ChangeableAttributes(),
    sa.Index("ix_manifests_subject", "repository_id", "subject_digest"),
)

manifest_references = sa.Table(
    "manifest_references", metadata,
    sa.Column("registry_id", sa.Integer, nullable=False),
    sa.Column("repository_id", sa.Integer, sa.ForeignKey("repositories.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("manifest_digest", sa.String(200), primary_key=True),
    sa.Column("child_digest", sa.String(200), primary_key=True),
    sa.Column("child_kind", sa.String(8), nullable=False),  # "blob" | "manifest"
    sa.Index("ix_manifest_references_child", "repository_id", "child_digest"),
)

tags = sa.Table(
    "tags", metadata,
    sa.Column("registry_id", sa.Integer, nullable=False),
    sa.Column("repository_id", sa.Integer, sa.ForeignKey("repositories.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("name", Name(128), primary_key=True),
    sa.Column("digest", sa.String(200), nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("updated_at", Timestamp, nullable=False),
    *ChangeableAttributes(),
    sa.Index("ix_tags_digest", "repository_id", "digest"),
)

uploads = sa.Table(
    "uploads", metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("registry_id", sa.Integer, sa.ForeignKey("registries.id"), nullable=False),
    sa.Column("repository", sa.String(255), nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("hash_algorithm", sa.String(16), nullable=False),
    sa.Column("hash_state", sa.LargeBinary),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("updated_at", Timestamp, nullable=False),
    sa.Column("owner", sa.String(200)),  # "kind:name" of the identity that started it
    sa.Index("ix_uploads_updated", "updated_at"),
    sa.Index("ix_uploads_repository", "registry_id", "repository"),
    sa.Index("ix_uploads_owner", "registry_id", "owner"),
)

# --- identity and access ---------------------------------------------------------------------

registry_settings = sa.Table(
    "registry_settings", metadata,
    sa.Column("registry_id", sa.Integer, sa.ForeignKey("registries.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("admin_enabled", sa.Boolean, nullable=False, default=False),
    sa.Column("anonymous_pull_enabled", sa.Boolean, nullable=False, default=False),
    sa.Column("sku", sa.String(16), nullable=False, default="Premium"),
    sa.Column("updated_at", Timestamp, nullable=False),
    # Per-registry overrides of the SKU's limits: {limit name: value} (core/skus.py names them).
    sa.Column("limit_overrides", sa.JSON),
    sa.Column("storage_quota_bytes", sa.BigInteger),  # hard quota; null = none
    # Bytes of the registry's distinct blobs, kept up to date by every blob insert and removal.
    sa.Column("storage_used_bytes", sa.BigInteger, nullable=False, server_default="0"),
    # Retention policy for untagged manifests (Premium): kept when disabled, as ACR does.
    sa.Column("retention_enabled", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("retention_days", sa.Integer, nullable=False, server_default="7"),
)

tag_immutability_rules = sa.Table(
    "tag_immutability_rules", metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("registry_id", sa.Integer, sa.ForeignKey("registries.id", ondelete="CASCADE"), nullable=False),
    # "" = every repository, a repository name, or "prefix/*" (as role-assignment scopes)
    sa.Column("repository", sa.String(255), nullable=False),
    sa.Column("pattern", sa.String(255), nullable=False),  # a regular expression matched against the whole tag
    sa.Column("description", sa.String(255), nullable=False, default=""),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.UniqueConstraint("registry_id", "repository", "pattern", name="uq_tag_immutability_rules_scope_pattern"),
)

identities = sa.Table(
    "identities", metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("registry_id", sa.Integer, sa.ForeignKey("registries.id", ondelete="CASCADE"), nullable=False),
    # user | service_principal | workload | admin | token
    sa.Column("kind", sa.String(24), nullable=False),
    sa.Column("name", Name(128), nullable=False),  # username, client id, token name, or the registry name
    sa.Column("description", sa.String(255), nullable=False, default=""),
    sa.Column("enabled", sa.Boolean, nullable=False, default=True),
    sa.Column("scope_map_id", sa.String(36), sa.ForeignKey("scope_maps.id")),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("updated_at", Timestamp, nullable=False),
    sa.UniqueConstraint("registry_id", "kind", "name", name="uq_identities_registry_kind_name"),
)

credentials = sa.Table(
    "credentials", metadata,
    sa.Column("identity_id", sa.String(36), sa.ForeignKey("identities.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("name", sa.String(32), primary_key=True),  # password | password2 | password1 | secret
    sa.Column("registry_id", sa.Integer, nullable=False),
    sa.Column("secret_hash", sa.String(255), nullable=False),  # argon2id
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("expires_at", Timestamp),
)

federated_credentials = sa.Table(
    "federated_credentials", metadata,
    sa.Column("identity_id", sa.String(36), sa.ForeignKey("identities.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("registry_id", sa.Integer, nullable=False),
    sa.Column("issuer", sa.String(512), nullable=False),
    sa.Column("subject", sa.String(512), nullable=False),
    sa.Column("audience", sa.String(512), nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Index("ix_federated_issuer_subject", "registry_id", "issuer", "subject"),
)

role_assignments = sa.Table(
    "role_assignments", metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("registry_id", sa.Integer, sa.ForeignKey("registries.id", ondelete="CASCADE"), nullable=False),
    sa.Column("identity_id", sa.String(36), sa.ForeignKey("identities.id", ondelete="CASCADE"), nullable=False),
    sa.Column("role", sa.String(32), nullable=False),
    sa.Column("scope", sa.String(255), nullable=False),  # "" = the registry; else a repository or "prefix/*"
    sa.Column("created_at", Timestamp, nullable=False),
    sa.UniqueConstraint("identity_id", "role", "scope", name="uq_role_assignments_identity_role_scope"),
)

scope_maps = sa.Table(
    "scope_maps", metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("registry_id", sa.Integer, sa.ForeignKey("registries.id", ondelete="CASCADE"), nullable=False),
    sa.Column("name", Name(64), nullable=False),
    sa.Column("description", sa.String(255), nullable=False, default=""),
    sa.Column("system", sa.Boolean, nullable=False, default=False),
    # [[repository pattern, action], ...]: content/read, content/write, content/delete, metadata/read, metadata/write
    sa.Column("rules", sa.JSON, nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("updated_at", Timestamp, nullable=False),
    sa.UniqueConstraint("registry_id", "name", name="uq_scope_maps_registry_name"),
)

login_events = sa.Table(
    "login_events", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("registry_id", sa.Integer, sa.ForeignKey("registries.id", ondelete="CASCADE"), nullable=False),
    sa.Column("at", Timestamp, nullable=False),
    sa.Column("identity", sa.String(128), nullable=False),  # the name presented (may not exist)
    sa.Column("identity_kind", sa.String(24)),
    sa.Column("method", sa.String(32), nullable=False),  # basic | password | refresh_token | federated | bearer
    sa.Column("source", sa.String(64), nullable=False),
    sa.Column("outcome", sa.String(16), nullable=False),  # success | failure
    sa.Column("reason", sa.String(255), nullable=False, default=""),
    sa.Index("ix_login_events_registry_at", "registry_id", "at"),
    sa.Index("ix_login_events_source_at", "registry_id", "source", "at"),
)
