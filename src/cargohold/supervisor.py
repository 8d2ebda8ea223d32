"""Process supervisor for `cargohold serve`: a small parent forking N uvicorn workers.

`serve` resolves settings, binds the socket and bootstraps, then execs this
module, so the long-lived parent holds no CLI, settings or ORM imports (a few
MiB instead of tens). Workers are forked from it and each loads the app; they
listen on their own SO_REUSEPORT sockets (the kernel spreads connections; the
parent's bound socket only reserves the address), and all state they need lives in the database and
the blob store, so any worker can take any request. A worker that dies is
replaced; SIGTERM/SIGINT stop the workers gracefully and then the parent.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sys
import time

# How `serve` hands the resolved settings to its workers (cargohold.settings_view reads them).
RESOLVED_ENV = "CARGOHOLD_RESOLVED_SETTINGS"


def worker_socket(reserved: socket.socket) -> socket.socket:
    """This worker's own listening socket on the reserved address (SO_REUSEPORT)."""
    sock = socket.socket(reserved.family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(reserved.getsockname()[:2])
    sock.listen(2048)
    reserved.close()
    return sock


def configure_logging(level: str) -> None:
    """Send the `cargohold.*` loggers (jobs, retention deletions, imports) to stderr at the configured
    level, formatted like uvicorn's lines; uvicorn configures only its own loggers."""
    import logging

    root = logging.getLogger("cargohold")
    if not root.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(levelname)-9s %(name)s: %(message)s"))
        root.addHandler(handler)
    root.setLevel(level.upper())
    root.propagate = False


def die_with_parent(parent: int) -> None:
    """Make this worker end when its supervisor does, even by SIGKILL (no orphan keeps the port).

    Linux delivers SIGTERM at the parent's death (PR_SET_PDEATHSIG, set right after the fork); a
    parent that died before the call is seen by its pid. Elsewhere a thread watches the parent pid."""
    import ctypes
    import ctypes.util
    import threading

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        armed = libc.prctl(1, signal.SIGTERM, 0, 0, 0) == 0  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        armed = False
    if os.getppid() != parent:
        os._exit(0)
    if armed:
        return

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def run_worker(reserved: socket.socket) -> None:
    from uvicorn import Config, Server

    from cargohold.runtime.slow_clients import GuardedHttpToolsProtocol

    sock = worker_socket(reserved)
    settings = json.loads(os.environ[RESOLVED_ENV])
    configure_logging(settings["log_level"])
    http = GuardedHttpToolsProtocol.configured(settings["header_timeout_seconds"],
                                               settings["body_idle_timeout_seconds"],
                                               settings["max_connections_per_worker"])
    config = Config(
        "cargohold.app:create_app", factory=True, log_level=settings["log_level"],
        access_log=settings["access_log"], loop="uvloop", http=http,
        timeout_graceful_shutdown=30, server_header=False, date_header=True,
    )
    config.load_app()
    server = Server(config)
    server.run(sockets=[sock])
    if not server.started:
        sys.exit(3)


def _log(message: str) -> None:
    print(f"cargohold[{os.getpid()}]: {message}", file=sys.stderr, flush=True)


def supervise(sock: socket.socket, workers: int) -> int:
    children: dict[int, float] = {}
    stopping = False

    def spawn() -> None:
        parent = os.getpid()
        pid = os.fork()
        if pid == 0:
            for s in (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT):
                signal.signal(s, signal.SIG_DFL)
            die_with_parent(parent)
            try:
                run_worker(sock)
                code = 0
            except SystemExit as e:
                code = e.code if isinstance(e.code, int) else 1
            except BaseException:
                import traceback

                traceback.print_exc()
                code = 1
            os._exit(code)
        children[pid] = time.monotonic()

    def stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        for pid in list(children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM if signum != signal.SIGQUIT else signal.SIGQUIT)

    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT):
        signal.signal(s, stop)
    for _ in range(workers):
        spawn()
    worst = 0
    while children:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            break
        started = children.pop(pid, None)
        if started is None:
            continue
        code = os.waitstatus_to_exitcode(status)
        if stopping:
            worst = max(worst, code if code > 0 else 0)
            continue
        _log(f"worker {pid} exited with {code}; starting a new one")
        if time.monotonic() - started < 1.0:
            time.sleep(1.0)  # a worker dying at start-up: do not spin
        spawn()
    return worst


def main() -> None:
    fd = int(sys.argv[1])
    sock = socket.socket(fileno=fd)
    workers = int(json.loads(os.environ[RESOLVED_ENV])["workers"])
    # Even one worker is supervised: it is restarted if it dies, and a graceful stop exits 0
    # (uvicorn re-raises SIGTERM after its own shutdown, which would otherwise end us with -15).
    sys.exit(supervise(sock, workers))


if __name__ == "__main__":
    main()
