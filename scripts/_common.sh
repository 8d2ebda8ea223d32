# shellcheck shell=bash
# Shared by scripts/run and scripts/test (sourced, never executed).
#
# ch_ensure_venv EXTRA   make .venv usable and `pip install -e .[EXTRA]` into it, skipping pip when
#                        pyproject.toml is unchanged since the last install (stamp in .venv).

CH_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
CH_VENV="$CH_ROOT/.venv"
CH_PY="$CH_VENV/bin/python"
CH_STAMP="$CH_VENV/.cargohold-install-stamp"
CH_VENV_ACTION=""  # what the last ch_ensure_venv did, for reports

ch_log() { printf '%s\n' "$*" >&2; }
ch_is_root() { [ "$(id -u)" -eq 0 ]; }

# Is "$1" a Python >= 3.11 that runs?
ch_py_ok() { "$1" -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1; }

ch_find_python() {
  local c
  for c in ${CARGOHOLD_PYTHON:-} python3 python3.13 python3.12 python3.11 /usr/bin/python3; do
    if command -v "$c" >/dev/null 2>&1 && ch_py_ok "$c"; then
      command -v "$c"
      return 0
    fi
  done
  return 1
}

# apt-get install as root, non-interactive, without recommends (apt-get update first).
ch_apt_install() {
  ch_log "apt-get: installing $*"
  DEBIAN_FRONTEND=noninteractive apt-get update -q \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@"
}

ch_can_apt() { ch_is_root && command -v apt-get >/dev/null 2>&1; }

ch_create_venv() {
  local py
  if ! py=$(ch_find_python); then
    if ch_can_apt; then
      ch_apt_install python3 python3-venv || return 1
      py=$(ch_find_python) || { ch_log "no Python >= 3.11 found"; return 1; }
    else
      ch_log "no Python >= 3.11 found (set CARGOHOLD_PYTHON=/path/to/python3.11+)"
      return 1
    fi
  fi
  ch_log "creating $CH_VENV with $py"
  if "$py" -m venv "$CH_VENV"; then
    return 0
  fi
  rm -rf "$CH_VENV"
  # Stock Debian ships python3 without ensurepip; python3-venv brings it.
  if ch_can_apt; then
    ch_apt_install python3-venv || return 1
    "$py" -m venv "$CH_VENV" && return 0
    rm -rf "$CH_VENV"
  else
    ch_log "python -m venv failed; on Debian install python3-venv (as root: apt-get install python3-venv)"
  fi
  return 1
}

# The stamp key: pyproject.toml's content and where the checkout lives (a moved checkout reinstalls).
ch_install_key() {
  { printf '%s\n' "$CH_ROOT"; cat "$CH_ROOT/pyproject.toml"; } | sha256sum | cut -d' ' -f1
}

ch_stamp_current() { # ch_stamp_current KEY TAG: does the stamp say this pyproject.toml is installed?
  [ -x "$CH_VENV/bin/cargohold" ] && [ -f "$CH_STAMP" ] || return 1
  # "base" is satisfied by any install of the current pyproject.toml; an extra needs its own line.
  grep -qx "$1 $2" "$CH_STAMP" || { [ "$2" = base ] && grep -q "^$1 " "$CH_STAMP"; }
}

ch_ensure_venv() {
  local extra=${1:-} key tag spec lock fd rc=0 did=()
  tag=${extra:-base}
  spec=.
  [ -n "$extra" ] && spec=".[$extra]"

  # Serialise concurrent set-ups of the same checkout (two scripts started at once).
  lock="/tmp/cargohold-venv-$(printf '%s' "$CH_ROOT" | sha256sum | cut -c1-16).lock"
  exec {fd}>>"$lock"
  command -v flock >/dev/null 2>&1 && flock "$fd"

  if [ -e "$CH_VENV" ] && ! ch_py_ok "$CH_PY"; then
    ch_log "$CH_VENV is broken or older than Python 3.11: recreating it"
    rm -rf "$CH_VENV"
  fi
  if [ ! -e "$CH_VENV" ]; then
    if ch_create_venv; then did+=(created); else rc=1; fi
  fi

  if [ "$rc" -eq 0 ]; then
    key=$(ch_install_key)
    if ch_stamp_current "$key" "$tag"; then
      did+=("pyproject.toml unchanged, pip skipped")
    else
      ch_log "pip install -e '$spec' (first set-up, or pyproject.toml changed since the last install)"
      if (cd "$CH_ROOT" && "$CH_PY" -m pip install --disable-pip-version-check -q -e "$spec"); then
        { grep "^$key " "$CH_STAMP" 2>/dev/null | grep -vx "$key $tag"; printf '%s %s\n' "$key" "$tag"; } \
          >"$CH_STAMP.tmp" && mv "$CH_STAMP.tmp" "$CH_STAMP"
        did+=("pip install -e '$spec'")
      else
        rm -f "$CH_STAMP"
        rc=1
      fi
    fi
  fi

  exec {fd}>&-
  CH_VENV_ACTION=$(IFS=';'; echo "${did[*]}")
  CH_VENV_ACTION=${CH_VENV_ACTION//;/, }
  return "$rc"
}

# What ch_ensure_venv would do, without doing it (for --dry-run).
ch_venv_plan() {
  local tag=${1:-base}
  if [ -e "$CH_VENV" ] && ! ch_py_ok "$CH_PY"; then echo "recreate $CH_VENV, then pip install"; return; fi
  if [ ! -e "$CH_VENV" ]; then echo "create $CH_VENV, then pip install"; return; fi
  if ch_stamp_current "$(ch_install_key)" "$tag"; then
    echo "up to date (pip skipped)"
  else
    echo "pip install (first set-up, or pyproject.toml changed since the last install)"
  fi
}
