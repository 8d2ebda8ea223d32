"""Where the CLI and the container tools keep credentials, and safe JSON file updates.

- the CLI's own settings: `$XDG_CONFIG_HOME/cargohold/config.json` (default `~/.config/...`):
  the URL of the last login and, per URL, the username and a refresh token (or the password);
- docker's `~/.docker/config.json` (`$DOCKER_CONFIG/config.json` when set), read by docker and oras;
- the containers auth file read by podman, skopeo and buildah: `$REGISTRY_AUTH_FILE`, else
  `$XDG_RUNTIME_DIR/containers/auth.json`, else `~/.config/containers/auth.json`.

Every file is written whole to a temporary file (mode 0600) and renamed over the old one, so a
crash never leaves half a JSON document and other registries' entries are kept.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

# The username that, in ACR, says "the password is a refresh token".
NULL_GUID = "00000000-0000-0000-0000-000000000000"


class ConfigFileError(Exception):
    """A credentials file that exists but cannot be read or written."""


def _home() -> Path:
    return Path(os.environ.get("HOME") or Path.home())


def _config_home() -> Path:
    xdg = os.environ.get("XDG_CONFIG_HOME")
    return Path(xdg) if xdg else _home() / ".config"


def cli_config_path() -> Path:
    return _config_home() / "cargohold" / "config.json"


def docker_config_path() -> Path:
    folder = os.environ.get("DOCKER_CONFIG")
    return (Path(folder) if folder else _home() / ".docker") / "config.json"


def containers_auth_path() -> Path:
    explicit = os.environ.get("REGISTRY_AUTH_FILE")
    if explicit:
        return Path(explicit)
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime:
        return Path(runtime) / "containers" / "auth.json"
    return _config_home() / "containers" / "auth.json"


def read_json(path: Path) -> dict[str, Any]:
    """The JSON object in `path`, {} when the file does not exist or is empty."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return {}
    except OSError as e:
        raise ConfigFileError(f"cannot read {path}: {e.strerror}") from None
    if not text.strip():
        return {}
    try:
        data = json.loads(text)
    except ValueError as e:
        raise ConfigFileError(f"{path} is not valid JSON ({e}); fix or remove it") from None
    if not isinstance(data, dict):
        raise ConfigFileError(f"{path} does not hold a JSON object; fix or remove it")
    return data


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Replace `path` atomically with `data`, readable by the owner only."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        try:
            with os.fdopen(fd, "w") as f:
                os.fchmod(f.fileno(), 0o600)
                json.dump(data, f, indent="\t")
                f.write("\n")
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
    except OSError as e:
        raise ConfigFileError(f"cannot write {path}: {e.strerror}") from None


def basic_auth_value(username: str, password: str) -> str:
    return base64.b64encode(f"{username}:{password}".encode()).decode()


def store_auth(path: Path, host: str, username: str, password: str) -> None:
    """Set `auths[host].auth` (docker's and containers' format), keeping every other entry and key."""
    data = read_json(path)
    auths = data.get("auths")
    if not isinstance(auths, dict):
        auths = {}
    old = auths.get(host)
    replaced = ("auth", "identitytoken", "username", "password")
    entry = {k: v for k, v in (old.items() if isinstance(old, dict) else []) if k not in replaced}
    entry["auth"] = basic_auth_value(username, password)
    auths[host] = entry
    data["auths"] = auths
    write_json(path, data)


def remove_auth(path: Path, host: str) -> bool:
    """Drop `auths[host]`; True when there was one."""
    if not path.exists():
        return False
    data = read_json(path)
    auths = data.get("auths")
    if not isinstance(auths, dict) or host not in auths:
        return False
    del auths[host]
    write_json(path, data)
    return True


def stored_auth(path: Path, host: str) -> tuple[str, str] | None:
    """(username, password) stored for `host` in a docker/containers auth file, if any."""
    try:
        entry = read_json(path).get("auths", {}).get(host)
    except (ConfigFileError, AttributeError):
        return None
    if not isinstance(entry, dict) or not isinstance(entry.get("auth"), str):
        return None
    try:
        username, sep, password = base64.b64decode(entry["auth"]).decode().partition(":")
    except ValueError:
        return None
    return (username, password) if sep else None


# --- the CLI's own file -------------------------------------------------------------------------

def load_cli_config() -> dict[str, Any]:
    return read_json(cli_config_path())


def saved_login(url: str) -> dict[str, Any] | None:
    """What `login` remembered for `url`: {"username", "refreshToken" | "password"}."""
    try:
        servers = load_cli_config().get("servers", {})
    except ConfigFileError:
        return None
    entry = servers.get(url) if isinstance(servers, dict) else None
    return entry if isinstance(entry, dict) else None


def current_url() -> str | None:
    """The URL of the last `login`, used when neither --url nor CARGOHOLD_URL is given."""
    try:
        url = load_cli_config().get("currentUrl")
    except ConfigFileError:
        return None
    return url if isinstance(url, str) and url else None


def save_login(url: str, entry: dict[str, Any]) -> None:
    data = load_cli_config()
    servers = data.get("servers")
    if not isinstance(servers, dict):
        servers = {}
    servers[url] = entry
    data["servers"] = servers
    data["currentUrl"] = url
    write_json(cli_config_path(), data)


def forget_login(url: str) -> bool:
    path = cli_config_path()
    if not path.exists():
        return False
    data = load_cli_config()
    servers = data.get("servers")
    found = False
    if isinstance(servers, dict) and url in servers:
        del servers[url]
        found = True
    if data.get("currentUrl") == url:
        data.pop("currentUrl")
        found = True
    if found:
        write_json(path, data)
    return found
