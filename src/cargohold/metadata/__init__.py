"""Metadata store: SQL (SQLAlchemy Core) behind the MetadataStore protocol."""
