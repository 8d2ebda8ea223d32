"""First-start and every-start preparation, done once before any worker serves."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from cargohold.config import Settings
from cargohold.core.ports.records import Registry


class BootstrapError(Exception):
    """A setting or the environment prevents starting; the message is one clear line."""


PRIVATE_UMASK = 0o077  # set by `serve` before anything is created: dirs 0700, files 0600
_AUDIT_LIMIT = 200_000  # entries looked at on start; a huge blob tree is not walked to its end


def wider_than_private(data_dir: Path) -> list[Path]:
    """Entries of the data dir (itself included) that group or others may read, write or enter:
    it holds password hashes, signing keys and the owner's password. Symlinks are not followed."""
    wider: list[Path] = []
    pending = [data_dir]
    seen = 0
    while pending and seen < _AUDIT_LIMIT:
        directory = pending.pop()
        try:
            if os.lstat(directory).st_mode & 0o077:
                wider.append(directory)
            entries = list(os.scandir(directory))
        except OSError:
            continue
        for entry in entries:
            seen += 1
            try:
                if entry.is_dir(follow_symlinks=False):
                    pending.append(Path(entry.path))
                elif entry.is_file(follow_symlinks=False) and entry.stat(follow_symlinks=False).st_mode & 0o077:
                    wider.append(Path(entry.path))
            except OSError:
                continue
    return wider


def warn_wider_permissions(data_dir: Path) -> None:
    wider = wider_than_private(data_dir)
    if wider:
        shown = ", ".join(f"{p} ({os.lstat(p).st_mode & 0o777:o})" for p in wider[:10])
        more = f" and {len(wider) - 10} more" if len(wider) > 10 else ""
        print(f"cargohold: warning: {len(wider)} entries of the data dir are readable by others (want dirs 0700, "
              f"files 0600; fix with chmod -R go-rwx {data_dir}): {shown}{more}", file=sys.stderr, flush=True)


def check_data_dir(data_dir: Path) -> None:
    try:
        data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        probe = data_dir / ".write-probe"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        raise BootstrapError(f"data dir {data_dir} is not writable: {e.strerror or e}") from None


OWNER_PASSWORD_ENV = "CARGOHOLD_OWNER_PASSWORD"


def bootstrap(settings: Settings) -> Registry:
    """Create the data dir, migrate the schema, create the default registry with its owner,
    system scope maps and signing key, and drop stale temporary files."""
    import sqlalchemy as sa

    from cargohold.core.scope_maps import ScopeMapService
    from cargohold.core.signing_keys import KeyRing
    from cargohold.core.users import UserService
    from cargohold.metadata.access_sql import SqlAccessStore
    from cargohold.metadata.migrate import upgrade
    from cargohold.metadata.sql import SqlMetadataStore, create_engine
    from cargohold.storage.filesystem import FilesystemBlobStore

    check_data_dir(settings.data_dir)
    engine = create_engine(settings.resolved_database_url)
    try:
        upgrade(engine)
        store = SqlMetadataStore(engine)
        registry = store.ensure_registry(settings.registry_name, settings.listen)
        access = SqlAccessStore(store)
        access.update_settings(registry.id)
        ScopeMapService(access).ensure_system(registry.id)
        given = os.environ.get(OWNER_PASSWORD_ENV) or None
        created = UserService(access).ensure_owner(registry.id, given)
    except sa.exc.OperationalError as e:
        raise BootstrapError(f"cannot use the metadata database: {e.orig}") from None
    finally:
        engine.dispose()
    KeyRing(settings.data_dir / "keys").ensure()
    if created is not None and given is None:
        path = settings.data_dir / "owner-password"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(created.value + "\n")
        print(f"cargohold: created the owner identity; username 'owner', password {created.value} "
              f"(also in {path}, mode 0600; shown only this once)", file=sys.stderr, flush=True)
    FilesystemBlobStore(settings.storage_dir).clean_temporary()
    warn_wider_permissions(settings.data_dir)
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
