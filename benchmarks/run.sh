#!/usr/bin/env bash
# Cargohold vs CNCF Distribution 2.8.2 (Debian docker-registry), side by side.
#
#   benchmarks/run.sh [--rounds N] [--workers W] [--out DIR]
#
#   --rounds N   rounds (default 3); each round runs the shared bench.sh once
#                against each registry, alternating A B / B A between rounds
#   --workers W  Cargohold server processes (default 2); Distribution is one
#                Go process using every core
#   --out DIR    results directory (default benchmarks/results/<timestamp>/,
#                git-ignored)
#
# Every run starts the registry fresh on 127.0.0.1:<free port> with an empty
# data dir under $TMPDIR (default /tmp), waits for GET /v2/ = 200, sends a few warm-up requests,
# records the idle RSS of its process tree, runs bench.sh with REGISTRY_PID
# (so bench.sh adds registry CPU/RSS figures) while rsstree.py samples the
# tree's RSS every 0.2 s (the 1 GiB `skopeo copy` push of bench.sh's large
# phase is marked), then stops the registry by PID (SIGTERM, wait).
#
# Output in DIR:
#   <label>-r<N>/            bench.sh output (summary.txt, log.txt, meta.txt),
#                            registry.log, harness.txt (idle_rss_MiB,
#                            push_*_rss_MiB ...), rss_samples.txt, and
#                            summary_all.txt = summary.txt + harness.txt
#   compare.txt              compare.py dist=... cargohold=... (medians)
#   targets.txt              benchmarks/targets.py verdicts
#   report.md                all of the above with the machine and run order
#
# Environment (optional): CARGOHOLD_BIN (default <repo>/.venv/bin/cargohold),
# DIST_BIN (default docker-registry), BENCH_DIR (default <repo>/../shared/bench),
# DIST_CONFIG (default $BENCH_DIR/baseline/distribution-2.8.2/config.yml),
# BENCH_* (passed through to bench.sh; see its header).
# Exit status: 0 if every bench run succeeded (targets missed do not count).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
BENCH_DIR=${BENCH_DIR:-$ROOT/../shared/bench}
CARGOHOLD_BIN=${CARGOHOLD_BIN:-$ROOT/.venv/bin/cargohold}
DIST_BIN=${DIST_BIN:-docker-registry}
DIST_CONFIG=${DIST_CONFIG:-$BENCH_DIR/baseline/distribution-2.8.2/config.yml}
PREFIX=${BENCH_REPO_PREFIX:-bench}
DISTURBED_S=10   # other_processes_cpu_s above this marks a run as disturbed in the report

ROUNDS=3
WORKERS=2
OUT=""

usage() { sed -n '2,/^set -euo/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; }
die() { echo "run.sh: $*" >&2; exit 2; }

while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) [ $# -ge 2 ] || die "--rounds needs a value"; ROUNDS=$2; shift 2 ;;
    --rounds=*) ROUNDS=${1#*=}; shift ;;
    --workers) [ $# -ge 2 ] || die "--workers needs a value"; WORKERS=$2; shift 2 ;;
    --workers=*) WORKERS=${1#*=}; shift ;;
    --out) [ $# -ge 2 ] || die "--out needs a value"; OUT=$2; shift 2 ;;
    --out=*) OUT=${1#*=}; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
done
[[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]] || die "--rounds must be a positive integer"
[[ "$WORKERS" =~ ^[1-9][0-9]*$ ]] || die "--workers must be a positive integer"
OUT=${OUT:-$HERE/results/$(date +%Y%m%d-%H%M%S)}

for t in skopeo curl python3 wrk; do
  command -v "$t" >/dev/null || die "missing tool: $t (apt-get install -y skopeo curl wrk python3)"
done
command -v "$DIST_BIN" >/dev/null || die "missing $DIST_BIN (apt-get install -y docker-registry)"
[ -x "$CARGOHOLD_BIN" ] || die "missing $CARGOHOLD_BIN (create the venv: python3 -m venv .venv && .venv/bin/pip install -e .)"
[ -x "$BENCH_DIR/bench.sh" ] || [ -r "$BENCH_DIR/bench.sh" ] || die "missing $BENCH_DIR/bench.sh"
[ -r "$DIST_CONFIG" ] || die "missing $DIST_CONFIG"

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
SCRATCH=$(mktemp -d -t cargohold-bench.XXXXXX)   # registry data dirs: $TMPDIR (default /tmp), not tmpfs

REG_PID=""       # registry currently running (started by this script)
SAMPLER_PID=""   # rsstree.py sampler currently running
BENCH_PID=""     # bench.sh currently running
CH_PASS=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')  # Cargohold's owner password for this run

say() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*"; }

# stop_pid PID [GRACE_S]: SIGTERM, wait for it; SIGKILL it (and its children) if it hangs
stop_pid() {
  local pid=$1 grace=${2:-45} i kids
  [ -n "$pid" ] || return 0
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < grace * 10; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      # a zombie child counts as gone: wait reaps it below
      [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" = Z ] && break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null && [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != Z ]; then
      say "PID $pid ignored SIGTERM for ${grace}s: SIGKILL"
      kids=$(ps -o pid= --ppid "$pid" 2>/dev/null || true)
      kill -KILL "$pid" 2>/dev/null || true
      for i in $kids; do kill -KILL "$i" 2>/dev/null || true; done
    fi
  fi
  wait "$pid" 2>/dev/null || true
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  stop_pid "$BENCH_PID" 20
  stop_pid "$SAMPLER_PID" 5
  stop_pid "$REG_PID"
  rm -rf "$SCRATCH"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  python3 -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# start_registry LABEL DATADIR PORT LOGFILE: sets REG_PID
start_registry() {
  local label=$1 data=$2 port=$3 log=$4 cfg
  case "$label" in
    dist)
      cfg="$data/config.yml"
      mkdir -p "$data/store"
      sed -e "s|^\( *rootdirectory:\).*|\1 $data/store|" \
          -e "s|^\( *addr:\).*|\1 127.0.0.1:$port|" "$DIST_CONFIG" > "$cfg"
      if ! grep -q "rootdirectory: $data/store" "$cfg" || ! grep -q "addr: 127.0.0.1:$port" "$cfg"; then
        die "could not rewrite $DIST_CONFIG"
      fi
      "$DIST_BIN" serve "$cfg" > "$log" 2>&1 &
      REG_PID=$! ;;
    cargohold)
      # Authentication is always on: the bench logs in as the owner through the bearer flow.
      # Throttling is off: ACR's per-minute limits would cap the load phases by design.
      CARGOHOLD_OWNER_PASSWORD="$CH_PASS" CARGOHOLD_THROTTLING_ENABLED=false \
        "$CARGOHOLD_BIN" serve --listen "127.0.0.1:$port" --data-dir "$data/store" \
        --workers "$WORKERS" > "$log" 2>&1 &
      REG_PID=$! ;;
    *) die "unknown registry $label" ;;
  esac
}

# wait_ready PORT: until GET /v2/ answers 200 (60 s), or the registry exits
wait_ready() {
  local port=$1 i code
  for ((i = 0; i < 600; i++)); do
    kill -0 "$REG_PID" 2>/dev/null || return 1
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$port/v2/" 2>/dev/null || true)
    case "$code" in 200|401) return 0 ;; esac
    sleep 0.1
  done
  return 1
}

# warm_up PORT: a few requests of each kind, one connection each (so that
# every Cargohold worker is likely to get some), then a short settle
warm_up() {
  local base="http://127.0.0.1:$1" i
  local -a curl=(curl)
  [ "$2" = cargohold ] && curl=(curl -u "owner:$CH_PASS")
  for ((i = 0; i < 8; i++)); do
    "${curl[@]}" -s -o /dev/null --max-time 5 "$base/v2/" || true
    "${curl[@]}" -s -o /dev/null --max-time 5 "$base/v2/_catalog" || true
    "${curl[@]}" -s -o /dev/null --max-time 5 "$base/v2/$PREFIX/warmup/manifests/latest" || true
    "${curl[@]}" -s -o /dev/null --max-time 5 -I "$base/v2/$PREFIX/warmup/blobs/sha256:$(printf '%064d' "$i")" || true
    "${curl[@]}" -s -o /dev/null --max-time 5 "$base/v2/$PREFIX/warmup/tags/list" || true
  done
  sleep 1
}

# fig FILE METRIC: the value of METRIC in a "metric value unit" file
fig() { awk -v m="$2" '$1 == m {print $2}' "$1" 2>/dev/null | tail -1; }

RUN_LINES=()   # one line per run for the report
FAILED_RUNS=0

# run_one LABEL ROUND
run_one() {
  local label=$1 round=$2 dir data port rc t0 secs idle=NA idle_pss=NA nprocs=NA
  dir="$OUT/$label-r$round"
  mkdir -p "$dir"
  data=$(mktemp -d "$SCRATCH/$label-r$round.XXXX")
  port=$(free_port)
  say "round $round/$ROUNDS: $label on 127.0.0.1:$port (data $data)"
  start_registry "$label" "$data" "$port" "$dir/registry.log"
  if ! wait_ready "$port"; then
    say "  $label did not answer GET /v2/ with 200; see $dir/registry.log"
    stop_pid "$REG_PID"; REG_PID=""
    FAILED_RUNS=$((FAILED_RUNS + 1))
    RUN_LINES+=("| $round | $label | $port | did not start | | | |")
    rm -rf "$data"
    return 0
  fi
  warm_up "$port" "$label"
  read -r idle idle_pss nprocs < <(python3 "$HERE/rsstree.py" now "$REG_PID") || true
  {
    echo "idle_rss_MiB $idle MiB"
    echo "idle_pss_MiB $idle_pss MiB"
    echo "registry_processes $nprocs count"
  } > "$dir/harness.txt"
  : > "$dir/rss_samples.txt"
  python3 "$HERE/rsstree.py" sample "$REG_PID" "$dir/rss_samples.txt" --interval 0.2 \
    --match "docker://127.0.0.1:$port/$PREFIX/large:" &
  SAMPLER_PID=$!
  t0=$SECONDS
  # in the background + wait, so that SIGTERM/SIGINT to this script is handled at once
  local -a creds=()
  [ "$label" = cargohold ] && creds=(REGISTRY_USER=owner "REGISTRY_PASS=$CH_PASS")
  env "${creds[@]}" REGISTRY_PID="$REG_PID" bash "$BENCH_DIR/bench.sh" "127.0.0.1:$port" "$dir" \
    > "$dir/bench.stdout" 2> "$dir/bench.stderr" &
  BENCH_PID=$!
  if wait "$BENCH_PID"; then rc=0; else rc=$?; fi
  BENCH_PID=""
  secs=$((SECONDS - t0))
  stop_pid "$SAMPLER_PID" 5; SAMPLER_PID=""
  python3 "$HERE/rsstree.py" summarize "$dir/rss_samples.txt" --prefix push >> "$dir/harness.txt"
  stop_pid "$REG_PID"; REG_PID=""
  rm -rf "$data"
  cat "$dir/summary.txt" "$dir/harness.txt" > "$dir/summary_all.txt" 2>/dev/null || cp "$dir/harness.txt" "$dir/summary_all.txt"
  [ "$rc" = 0 ] || FAILED_RUNS=$((FAILED_RUNS + 1))
  local s="$dir/summary_all.txt"
  say "  $label done in ${secs}s: bench rc=$rc failures=$(fig "$s" failures) idle_rss=${idle}MiB" \
      "push_peak_rss=$(fig "$s" push_peak_rss_MiB)MiB other_processes_cpu_s=$(fig "$s" other_processes_cpu_s)"
  local other disturbed
  other=$(fig "$s" other_processes_cpu_s)
  disturbed=$(awk -v o="${other:-0}" -v lim="$DISTURBED_S" 'BEGIN { print (o > lim) ? "**yes**" : "no" }')
  RUN_LINES+=("| $round | $label | $port | $rc / $(fig "$s" failures) | ${secs} | $(fig "$s" loadavg_start) | $other | $disturbed |")
}

say "results in $OUT ($ROUNDS round(s), Cargohold --workers $WORKERS)"
for ((r = 1; r <= ROUNDS; r++)); do
  if [ $((r % 2)) = 1 ]; then order="dist cargohold"; else order="cargohold dist"; fi
  for label in $order; do run_one "$label" "$r"; done
done

# ------------------------------------------------------------ report -----
files() {  # files LABEL -> comma-separated summary_all.txt of that registry
  local f list=""
  for f in "$OUT/$1"-r*/summary_all.txt; do [ -e "$f" ] && list="$list${list:+,}$f"; done
  echo "$list"
}
DIST_FILES=$(files dist)
CH_FILES=$(files cargohold)
python3 "$BENCH_DIR/compare.py" "dist=$DIST_FILES" "cargohold=$CH_FILES" > "$OUT/compare.txt" || true
python3 "$HERE/targets.py" "dist=$DIST_FILES" "cargohold=$CH_FILES" > "$OUT/targets.txt" || true
python3 "$HERE/targets.py" --markdown "dist=$DIST_FILES" "cargohold=$CH_FILES" > "$OUT/targets.md" || true

rss_table() {
  local f label
  echo "| run | idle RSS MiB | idle PSS MiB | processes | pre-push RSS MiB | push peak RSS MiB | growth MiB | bench peak RSS MiB |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|"
  for f in "$OUT"/*-r*/summary_all.txt; do
    [ -e "$f" ] || continue
    label=$(basename "$(dirname "$f")")
    awk -v l="$label" '{v[$1] = $2} END {
      printf "| %s | %s | %s | %s | %s | %s | %s | %s |\n", l, v["idle_rss_MiB"], v["idle_pss_MiB"],
        v["registry_processes"], v["push_pre_rss_MiB"], v["push_peak_rss_MiB"], v["push_rss_growth_MiB"],
        v["bench_peak_rss_MiB"] }' "$f"
  done
}

COMMIT=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
git -C "$ROOT" diff --quiet HEAD -- src 2>/dev/null || COMMIT="$COMMIT (+ uncommitted changes in src/)"
{
  echo "# Cargohold vs Distribution 2.8.2 — benchmark report"
  echo
  echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "- host: $(uname -srm), $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB memory"
  echo "- cargohold: commit $COMMIT, \`cargohold serve --workers $WORKERS\`"
  echo "- distribution: $("$DIST_BIN" --version 2>/dev/null | head -1 || echo "$DIST_BIN")"
  echo "- rounds: $ROUNDS (order alternates A B / B A); bench: $BENCH_DIR/bench.sh"
  echo "- command: \`benchmarks/run.sh --rounds $ROUNDS --workers $WORKERS --out $OUT\`"
  echo
  echo "## Runs"
  echo
  echo "\`other_processes_cpu_s\` is the CPU other processes used during the run (≈0 on an idle machine);"
  echo "a run above ${DISTURBED_S} s is marked disturbed: its wall-clock figures are not comparable."
  echo
  echo "| round | registry | port | bench rc / failures | wall s | loadavg_start | other_processes_cpu_s | disturbed |"
  echo "|---|---|---|---|---:|---:|---:|---|"
  printf '%s\n' "${RUN_LINES[@]}"
  echo
  echo "## Targets (medians, Cargohold vs Distribution)"
  echo
  cat "$OUT/targets.md"
  echo
  echo "## All figures (compare.py, medians)"
  echo
  echo '```'
  cat "$OUT/compare.txt"
  echo '```'
  echo
  echo "## Registry memory (process tree, VmRSS summed; PSS splits shared pages)"
  echo
  rss_table
} > "$OUT/report.md"

say "report: $OUT/report.md"
cat "$OUT/targets.txt"
[ "$FAILED_RUNS" = 0 ]
