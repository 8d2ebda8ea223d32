"""The metadata store's hot queries through the prepared-statement layer (metadata/prepared.py:
`Prepared`/`Cursor`) versus plain SQLAlchemy Core (`conn.execute(stmt, params)`) with the very same
prebuilt statement objects.

    PYTHONPATH=src .venv/bin/python benchmarks/sql_paths.py [--iterations N] [--rounds R] [--url URL ...]
        [--sqlite-dir DIR]

Without --url it measures a fresh SQLite file (WAL, as the registry runs it); add a PostgreSQL URL
(e.g. postgresql+psycopg://cargohold:cargohold@127.0.0.1:5439/cargohold: a throwaway database is
created in that cluster and dropped afterwards). Each case is one whole store call as the request
path makes it, connection checkout and transaction included: blob size for HEAD, manifest by tag,
upload get and advance (a non-durable write), add_blob (core/usage.record_blob: a durable write of
three statements, the blob new to the registry).
Rounds alternate the two paths; the figure is the median over rounds of microseconds per call.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from cargohold.core.manifests import store_manifest
from cargohold.core.ports.records import NewManifest, UploadRecord
from cargohold.core.usage import record_blob
from cargohold.metadata.access_sql import SqlAccessStore
from cargohold.metadata.migrate import upgrade
from cargohold.metadata.sql import SqlMetadataStore, create_engine

REPO = "bench/app"


def _fresh_postgres(admin: str) -> tuple[str, Callable[[], None]]:
    name = "bench_" + uuid.uuid4().hex[:10]
    engine = sa.create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with engine.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()

    return admin.rsplit("/", 1)[0] + "/" + name, drop


class CoreExec:
    """The same store calls with plain Core: the store's prebuilt `_q_*` statements through
    `conn.execute(stmt, params)` on a pooled SQLAlchemy connection (`store.read()`/`store.write()`)."""

    def __init__(self, store: SqlMetadataStore) -> None:
        self.s = store

    def repository_blob_size(self, reg: int, repo: str, digest: str) -> int | None:
        with self.s.read() as conn:
            row = conn.execute(self.s._q_repo_blob_size, {"registry_id": reg, "name": repo, "digest": digest}).first()
        return None if row is None else int(row[0])

    def manifest_by_tag(self, reg: int, repo: str, tag: str) -> Any:
        with self.s.read() as conn:
            return conn.execute(self.s._q_manifest_by_tag, {"registry_id": reg, "name": repo, "tag": tag}).first()

    def get_upload(self, reg: int, repo: str, upload_id: str) -> Any:
        with self.s.read() as conn:
            return conn.execute(self.s._q_upload_get,
                                {"upload_id": upload_id, "registry_id": reg, "name": repo}).first()

    def advance_upload(self, upload_id: str, from_size: int, to_size: int, state: bytes | None) -> bool:
        with self.s.write(durable=False) as conn:
            return conn.execute(self.s._q_upload_advance, {
                "upload_id": upload_id, "from_size": from_size, "to_size": to_size, "hash_state": state,
                "ts": datetime.now(UTC)}).rowcount == 1

    def add_blob(self, reg: int, repo: str, digest: str, size: int) -> None:
        """core/usage.record_blob's statements (blob, usage, link) in one Core write transaction."""
        s, ts = self.s, datetime.now(UTC)
        with s.write() as conn:
            new = conn.execute(s._q_blob_insert, {"registry_id": reg, "digest": digest, "size": size, "ts": ts})
            if new.rowcount:
                conn.execute(s._q_usage_add, {"reg": reg, "size": size}).first()
            repo_id = s.repository_id(conn, reg, repo, create=True)
            conn.execute(s._q_link_insert, {"registry_id": reg, "repo_id": repo_id, "digest": digest, "ts": ts})


def cases(store: SqlMetadataStore, reg: int) -> dict[str, tuple[Callable[[int], Any], Callable[[int], Any]]]:
    """name -> (through Prepared, through plain Core): each a call taking the iteration number."""
    digest = "sha256:" + "1" * 64
    SqlAccessStore(store).update_settings(reg)  # the settings row every registry has (usage is counted there)
    record_blob(store, reg, REPO, digest, 1234)
    manifest = NewManifest("sha256:" + "a" * 64, "application/vnd.oci.image.manifest.v1+json", None, None, None,
                           b'{"schemaVersion":2}', (digest,), ())
    store_manifest(store, reg, REPO, manifest, "latest")
    now = datetime.now(UTC)
    store.create_upload(UploadRecord("bench-upload", reg, REPO, 0, "sha256", None, now, now))
    core_exec = CoreExec(store)
    size = {"n": 0}

    def advance(exec_path: Callable[..., bool]) -> Callable[[int], Any]:
        def run(_: int) -> Any:
            ok = exec_path("bench-upload", size["n"], size["n"] + 1, None)
            assert ok
            size["n"] += 1
        return run

    def new_blob(i: int, prefix: str) -> str:
        return "sha256:" + f"{prefix}{i:063x}"[-64:]

    counter = {"p": 0, "c": 0}

    def add_p(_: int) -> Any:
        counter["p"] += 1
        record_blob(store, reg, REPO, new_blob(counter["p"], "e"), 10)

    def add_c(_: int) -> Any:
        counter["c"] += 1
        core_exec.add_blob(reg, REPO, new_blob(counter["c"], "f"), 10)

    return {
        "blob size (HEAD)": (lambda _: store.repository_blob_size(reg, REPO, digest),
                             lambda _: core_exec.repository_blob_size(reg, REPO, digest)),
        "manifest by tag": (lambda _: store.get_manifest_by_tag(reg, REPO, "latest"),
                            lambda _: core_exec.manifest_by_tag(reg, REPO, "latest")),
        "upload get": (lambda _: store.get_upload(reg, REPO, "bench-upload"),
                       lambda _: core_exec.get_upload(reg, REPO, "bench-upload")),
        "upload advance": (advance(store.advance_upload),
                           advance(lambda *a: core_exec.advance_upload(*a))),
        "add_blob": (add_p, add_c),
    }


def measure(call: Callable[[int], Any], iterations: int) -> float:
    start = time.perf_counter()
    for i in range(iterations):
        call(i)
    return (time.perf_counter() - start) / iterations * 1e6


def run(url: str, label: str, iterations: int, rounds: int) -> None:
    engine = create_engine(url)
    upgrade(engine)
    store = SqlMetadataStore(engine)
    try:
        reg = store.ensure_registry("bench", "127.0.0.1:5000").id
        table = cases(store, reg)
        print(f"\n{label}: {iterations} calls x {rounds} rounds, median us/call")
        print(f"{'case':<20} {'Prepared':>10} {'Core':>10} {'Core/Prepared':>15}")
        for name, (prepared, core) in table.items():
            n = iterations if name != "add_blob" else max(iterations // 4, 1)
            measure(prepared, 50), measure(core, 50)  # warm caches and the pool
            p_times, c_times = [], []
            for r in range(rounds):
                order = [(prepared, p_times), (core, c_times)]
                for fn, times in order if r % 2 == 0 else reversed(order):
                    times.append(measure(fn, n))
            p, c = statistics.median(p_times), statistics.median(c_times)
            print(f"{name:<20} {p:>10.1f} {c:>10.1f} {c / p:>14.2f}x", flush=True)
    finally:
        store.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=4000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--url", action="append", default=[], help="a PostgreSQL admin URL (repeatable)")
    parser.add_argument("--sqlite-dir", default=None, help="where the SQLite file lives (default: the temp dir)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.sqlite_dir) as tmp:
        run(f"sqlite:///{Path(tmp) / 'bench.db'}", "SQLite (WAL, synchronous=FULL)", args.iterations, args.rounds)
    for admin in args.url:
        url, drop = _fresh_postgres(admin)
        try:
            run(url, "PostgreSQL", args.iterations, args.rounds)
        finally:
            drop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
