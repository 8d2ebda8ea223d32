"""Writes that fail for want of space, on both planes: 403 DENIED naming the free bytes, never a 5xx.

The exception classes a full disk surfaces as (the storage's OSError, the database drivers' errors,
raw on the prepared-statement path and wrapped by SQLAlchemy elsewhere) get this handler of their
own, so the success path costs nothing and a refusal is not logged as a crash. Whether the error
really is a full disk is core's call (core/storage_space.py); anything else stays a logged 500.
"""

from __future__ import annotations

import logging
import sqlite3
import sys
from collections.abc import Awaitable, Callable

import sqlalchemy.exc
from starlette.requests import Request
from starlette.responses import Response

from cargohold.core.errors import RegistryError
from cargohold.core.storage_space import StorageSpace

log = logging.getLogger("cargohold")

Render = Callable[[RegistryError], Response]
Handler = Callable[[Request, Exception], Awaitable[Response]]


def out_of_space_errors() -> tuple[type[Exception], ...]:
    """The classes to handle. psycopg's only when the engine has loaded it (a PostgreSQL URL): importing
    it in a SQLite deployment would cost each worker ~9 MiB of resident memory for nothing."""
    errors: list[type[Exception]] = [OSError, sqlite3.Error, sqlalchemy.exc.DBAPIError]
    psycopg = sys.modules.get("psycopg")
    if psycopg is not None:
        errors.append(psycopg.Error)
    return tuple(errors)


def out_of_space_handler(space_of: Callable[[Request], StorageSpace | None], render: Render,
                         unexpected: Handler) -> Handler:
    async def handle(request: Request, exc: Exception) -> Response:
        space = space_of(request)
        full = space.translate(exc) if space is not None else None
        if full is None:
            return await unexpected(request, exc)
        log.warning("write refused, storage full: %s", str(exc).splitlines()[0][:200] if str(exc) else exc)
        return render(full)

    return handle
