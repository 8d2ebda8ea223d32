"""`cargohold serve`: bootstrap once, then run the ASGI app under uvicorn with N workers."""

from __future__ import annotations

import errno
import os
import socket
import sys
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from cargohold.bootstrap import PRIVATE_UMASK, BootstrapError, bootstrap_in_child
from cargohold.config import Settings, export_for_workers, load_settings


def fail(message: str, code: int = 2) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def _settings_error(e: ValidationError) -> str:
    first = e.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "settings"
    return f"invalid setting {where}: {first['msg']}"


def bind_listener(settings: Settings) -> socket.socket:
    """Bind before anything else so a busy port is one clear error, not a stack trace.

    The socket only reserves the address (SO_REUSEPORT, never listening): each worker binds
    and listens on its own socket, and the kernel spreads connections over them, instead of
    every worker waking for every connection on one shared socket."""
    family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((settings.host, settings.port))
    except OSError as e:
        sock.close()
        reason = "is already in use" if e.errno == errno.EADDRINUSE else f"cannot be bound: {e.strerror}"
        fail(f"{settings.listen} {reason}")
    except socket.gaierror as e:
        sock.close()
        fail(f"cannot resolve listen host {settings.host!r}: {e.strerror}")
    if _answers(settings.host, settings.port):  # another SO_REUSEPORT server (a second cargohold) holds it
        sock.close()
        fail(f"{settings.listen} is already in use")
    sock.set_inheritable(True)
    return sock


def _answers(host: str, port: int) -> bool:
    target = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)
    try:
        with socket.create_connection((target, port), timeout=0.5):
            return True
    except OSError:
        return False


def serve(
    listen: Annotated[str | None, typer.Option(help="HOST:PORT to listen on [default: 127.0.0.1:5000]")] = None,
    data_dir: Annotated[Path | None, typer.Option(
        help="data directory [env CARGOHOLD_DATA_DIR; default ./cargohold-data]")] = None,
    workers: Annotated[int | None, typer.Option(help="server processes sharing the port [default: 1]")] = None,
    config: Annotated[Path | None, typer.Option(help="TOML settings file [env CARGOHOLD_CONFIG]")] = None,
) -> None:
    """Run the registry."""
    try:
        settings = load_settings(config, listen=listen, data_dir=data_dir, workers=workers)
    except ValidationError as e:
        fail(_settings_error(e))
    except ValueError as e:
        fail(str(e))
    # Everything the server creates (data dir, SQLite files and their -wal/-shm, keys, blobs, the
    # throttle table) is private from its creation; the workers inherit the mask.
    os.umask(PRIVATE_UMASK)
    sock = bind_listener(settings)
    try:
        bootstrap_in_child(settings)
    except BootstrapError as e:
        sock.close()
        fail(str(e), 1)
    export_for_workers(settings)

    typer.echo(f"cargohold: serving http://{settings.listen} "
               f"(data dir {settings.data_dir.resolve()}, {settings.workers} worker(s))", err=True)
    # glibc would keep every thread's freed argon2 work area (19 MiB per password check) in
    # that thread's arena; a fixed mmap threshold returns such blocks to the OS at once.
    os.environ.setdefault("MALLOC_MMAP_THRESHOLD_", str(4 << 20))
    # Become the small supervisor (same PID, inherited socket): see cargohold.supervisor.
    sys.stderr.flush()
    os.execv(sys.executable, [sys.executable, "-m", "cargohold.supervisor", str(sock.fileno())])
