"""`cargohold serve` as an operator meets it: settings, clear errors, shutdown, expiry, restarts."""

from __future__ import annotations

import hashlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from support import OWNER_PASSWORD_ENV, RegistryServer, free_port, running_registry


def serve(*args: str, env: dict[str, str] | None = None, timeout: float = 20) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cargohold", "serve", *args], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})})


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


def test_bad_setting_is_one_line(tmp_path: Path) -> None:
    assert "listen" in one_error_line(serve("--listen", "nonsense", "--data-dir", str(tmp_path)))
    assert "workers" in one_error_line(serve("--workers", "0", "--data-dir", str(tmp_path)))
    line = one_error_line(serve("--data-dir", str(tmp_path), env={"CARGOHOLD_UPLOAD_EXPIRY_SECONDS": "-1"}))
    assert "upload_expiry_seconds" in line


def test_busy_port_is_one_line(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        line = one_error_line(serve("--listen", f"127.0.0.1:{port}", "--data-dir", str(tmp_path)))
    assert "already in use" in line


def test_unwritable_data_dir_is_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    line = one_error_line(serve("--listen", f"127.0.0.1:{free_port()}", "--data-dir", str(blocker / "data")))
    assert "not writable" in line


def test_missing_config_file_is_one_line(tmp_path: Path) -> None:
    assert "does not exist" in one_error_line(serve("--config", str(tmp_path / "nope.toml")))


def test_toml_file_is_read_and_flags_win(tmp_path: Path) -> None:
    port, flag_port = free_port(), free_port()
    config = tmp_path / "cargohold.toml"
    config.write_text(f'listen = "127.0.0.1:{port}"\ndata_dir = "{tmp_path / "from-toml"}"\nworkers = 1\n')
    proc = subprocess.Popen([sys.executable, "-m", "cargohold", "serve", "--config", str(config)],
                            stderr=subprocess.PIPE, text=True)
    try:
        wait_ready(f"http://127.0.0.1:{port}")
        assert (tmp_path / "from-toml" / "metadata.db").exists()
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
    proc = subprocess.Popen([sys.executable, "-m", "cargohold", "serve", "--config", str(config),
                             "--listen", f"127.0.0.1:{flag_port}"], stderr=subprocess.PIPE, text=True)
    try:
        wait_ready(f"http://127.0.0.1:{flag_port}")
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0


def wait_ready(url: str, timeout: float = 20) -> None:
    """Until GET /v2/ answers: with 401 and a Bearer challenge, as authentication is on."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            r = httpx.get(url + "/v2/", timeout=1)
            if r.status_code == 401 and r.headers.get("WWW-Authenticate", "").startswith("Bearer "):
                return
        except httpx.HTTPError:
            time.sleep(0.05)
    raise AssertionError(f"{url} did not come up")


@pytest.mark.parametrize("workers", [1, 3])
def test_sigterm_stops_cleanly_with_every_worker(tmp_path: Path, workers: int) -> None:
    server = RegistryServer(tmp_path / "data", workers=workers)
    server.start()
    children = subprocess.run(["pgrep", "-P", str(server.pid)], capture_output=True, text=True).stdout.split()
    assert len(children) == workers
    assert server.stop(signal.SIGTERM) == 0
    for pid in children:
        assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text()


def test_a_dead_worker_is_replaced(tmp_path: Path) -> None:
    with running_registry(tmp_path / "data", workers=2) as server:
        first = subprocess.run(["pgrep", "-P", str(server.pid)], capture_output=True, text=True).stdout.split()
        os.kill(int(first[0]), signal.SIGKILL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            now = subprocess.run(["pgrep", "-P", str(server.pid)], capture_output=True, text=True).stdout.split()
            if len(now) == 2 and first[0] not in now:
                break
            time.sleep(0.1)
        else:
            raise AssertionError("the killed worker was not replaced")
        for _ in range(20):  # whichever worker answers, it works (a new connection each time)
            assert httpx.get(server.url + "/v2/", auth=server.auth).status_code == 200


def test_abandoned_uploads_expire_and_their_bytes_go(tmp_path: Path) -> None:
    env = {"CARGOHOLD_UPLOAD_EXPIRY_SECONDS": "1", "CARGOHOLD_JOB_INTERVAL_SECONDS": "0.5"}
    with running_registry(tmp_path / "data", extra_env=env) as server:
        c = server.client()
        loc = c.post("/v2/exp/repo/blobs/uploads/").headers["location"]
        assert c.patch(loc, content=b"x" * 1000).status_code == 202
        uploads = tmp_path / "data" / "storage" / "uploads"
        assert len(list(uploads.iterdir())) == 1
        stray = uploads / "0123456789abcdef"  # bytes no upload row claims (e.g. a killed monolithic push)
        stray.write_bytes(b"orphan")
        os.utime(stray, (time.time() - 60, time.time() - 60))
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and any(uploads.iterdir()):
            time.sleep(0.2)
        assert list(uploads.iterdir()) == []
        r = c.get(loc)
        assert r.status_code == 404 and r.json()["errors"][0]["code"] == "BLOB_UPLOAD_UNKNOWN"


def test_open_upload_survives_restart_and_finishes_on_any_worker(tmp_path: Path) -> None:
    data = os.urandom(3 << 20)
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    server = RegistryServer(tmp_path / "data", workers=2)
    server.start()
    try:
        auth = server.auth  # the token fetched before the restart stays valid after it
        loc = httpx.post(server.url + "/v2/r/s/blobs/uploads/", auth=auth).headers["location"]
        r = httpx.patch(server.url + loc, content=data[:1 << 20], headers={"Content-Range": f"0-{(1 << 20) - 1}"},
                        auth=auth)
        assert r.status_code == 202
        server.restart()
        for part in range(1, 3):  # each chunk on a new connection, so both workers take part
            start = part << 20
            r = httpx.patch(server.url + loc, content=data[start:start + (1 << 20)],
                            headers={"Content-Range": f"{start}-{start + (1 << 20) - 1}"}, auth=auth)
            assert r.status_code == 202, r.text
        r = httpx.put(server.url + loc, params={"digest": digest}, auth=auth)
        assert r.status_code == 201, r.text
        assert httpx.get(server.url + f"/v2/r/s/blobs/{digest}", auth=auth).content == data
    finally:
        server.stop()


def test_non_loopback_listen_is_allowed_and_protected(tmp_path: Path) -> None:
    """With authentication on, listening on every interface is allowed; the registry still challenges."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "cargohold", "serve", "--listen", f"0.0.0.0:{port}",
                             "--data-dir", str(tmp_path / "data")], stderr=subprocess.PIPE, text=True,
                            env={**os.environ, OWNER_PASSWORD_ENV: "not-used-here"})
    try:
        wait_ready(f"http://127.0.0.1:{port}")
        r = httpx.get(f"http://127.0.0.1:{port}/v2/_catalog")
        assert r.status_code == 401 and r.json()["errors"][0]["code"] == "UNAUTHORIZED"
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0


def test_first_start_generates_the_owner_password_once(tmp_path: Path) -> None:
    """Without CARGOHOLD_OWNER_PASSWORD the first start generates the owner's password, writes it to
    <data-dir>/owner-password (mode 0600) and prints it exactly once; a restart keeps it and prints nothing;
    the owner logs in with it (token endpoint and Basic on /v2/), a wrong password does not."""
    server = RegistryServer(tmp_path / "data", generated_password=True)
    assert OWNER_PASSWORD_ENV not in server.env
    server.start()
    try:
        path = tmp_path / "data" / "owner-password"
        assert path.stat().st_mode & 0o777 == 0o600
        password = path.read_text().strip()
        assert len(password) >= 16
        assert server.password == password
        assert server.log_path.read_text().count(password) == 1
        assert "owner" in next(line for line in server.log_path.read_text().splitlines() if password in line)

        server.restart()
        assert path.read_text().strip() == password
        assert server.log_path.read_text().count(password) == 1  # not printed again

        r = httpx.get(server.url + "/oauth2/token", params={"service": server.host, "scope": "registry:catalog:*"},
                      auth=("owner", password))
        assert r.status_code == 200, r.text
        r = httpx.get(server.url + "/v2/_catalog", headers={"Authorization": f"Bearer {r.json()['token']}"})
        assert r.status_code == 200, r.text
        assert httpx.get(server.url + "/v2/", auth=("owner", password)).status_code == 200
        with server.client() as c:
            assert c.get("/v2/_catalog").status_code == 200
        r = httpx.get(server.url + "/oauth2/token", params={"service": server.host}, auth=("owner", password + "x"))
        assert r.status_code == 401
        assert httpx.get(server.url + "/v2/", auth=("owner", password + "x")).status_code == 401
        assert server.log_path.read_text().count(password) == 1  # logging in does not log the secret
    finally:
        server.stop()


def test_given_owner_password_is_neither_written_nor_printed(tmp_path: Path) -> None:
    with running_registry(tmp_path / "data") as server:
        assert httpx.get(server.url + "/v2/", auth=server.basic_auth).status_code == 200
        assert not (tmp_path / "data" / "owner-password").exists()
        assert server.password not in server.log_path.read_text()


def test_settings_are_declared_once_for_the_model_and_the_view() -> None:
    """The pydantic model is derived from SettingsView's declarations (type, default, constraints, help);
    workers read the resolved settings into SettingsView without pydantic."""
    from cargohold.config import Settings
    from cargohold.settings_view import SettingsView, declared

    assert list(Settings.model_fields) == list(SettingsView.__annotations__)
    workers = Settings.model_fields["workers"]
    assert (workers.annotation, workers.default, workers.description) == (int, 1, declared()["workers"][1].description)
    for bad in ({"workers": 0}, {"throttle_identity_share": 1.5}, {"registry_name": "x"}, {"listen": "nowhere"}):
        with pytest.raises(ValueError):
            Settings(**bad)
    view = SettingsView.from_values(Settings(listen="127.0.0.1:5999").model_dump(mode="json"))
    assert (view.port, view.storage_dir.name, view.listens_on_loopback()) == (5999, "storage", True)
    with pytest.raises(ValueError, match="do not match"):
        SettingsView.from_values({"listen": "127.0.0.1:1"})


def test_workers_serving_the_data_plane_do_not_load_pydantic(tmp_path: Path) -> None:
    """About 10 MiB per worker: pydantic (and FastAPI) load only when /api is first used."""
    with running_registry(tmp_path / "data", workers=1) as server:
        for _ in range(3):
            assert httpx.get(server.url + "/v2/", auth=server.auth).status_code == 200
        (worker,) = subprocess.run(["pgrep", "-P", str(server.pid)], capture_output=True, text=True).stdout.split()
        assert "pydantic_core" not in Path(f"/proc/{worker}/maps").read_text()
        assert httpx.get(server.url + "/api/registry", auth=server.basic_auth).status_code == 200
        assert "pydantic_core" in Path(f"/proc/{worker}/maps").read_text()
