"""First-start and every-start preparation, done once before any worker serves."""

from __future__ import annotations

import os
from pathlib import Path

from cargohold.config import Settings
from cargohold.metadata.records import Registry


class BootstrapError(Exception):
    """A setting or the environment prevents starting; the message is one clear line."""


def check_data_dir(data_dir: Path) -> None:
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        probe = data_dir / ".write-probe"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        raise BootstrapError(f"data dir {data_dir} is not writable: {e.strerror or e}") from None


def bootstrap(settings: Settings) -> Registry:
    """Create the data dir, migrate the schema, create the default registry, drop stale temp files."""
    import sqlalchemy as sa

    from cargohold.metadata.migrate import upgrade
    from cargohold.metadata.sql import SqlMetadataStore, create_engine
    from cargohold.storage.filesystem import FilesystemBlobStore

    check_data_dir(settings.data_dir)
    engine = create_engine(settings.resolved_database_url)
    try:
        upgrade(engine)
        store = SqlMetadataStore(engine)
        registry = store.ensure_registry(settings.registry_name, settings.listen)
    except sa.exc.OperationalError as e:
        raise BootstrapError(f"cannot use the metadata database: {e.orig}") from None
    finally:
        engine.dispose()
    FilesystemBlobStore(settings.storage_dir).clean_temporary()
    return registry


def bootstrap_in_child(settings: Settings) -> None:
    """Run `bootstrap` in a forked child so the supervisor never loads Alembic and SQLAlchemy."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_fd)
        code = 0
        try:
            bootstrap(settings)
        except BootstrapError as e:
            os.write(write_fd, str(e).encode())
            code = 1
        except BaseException as e:
            os.write(write_fd, f"start-up failed: {type(e).__name__}: {e}".encode())
            code = 1
        os._exit(code)
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as f:
        message = f.read().decode(errors="replace")
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise BootstrapError(message or "start-up failed")
