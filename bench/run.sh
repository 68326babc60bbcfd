#!/usr/bin/env bash
# run.sh - everything `make bench` measures, in one run:
#   1. go test -bench on the hot paths (parser, environ, response head, one
#      Python call), with allocations
#   2. gowsgi, the Go floor and the peers under wrk (peers.sh), interleaved in
#      rounds, once per CPU mode:
#        pinned  server process tree on CPU 0, wrk on CPU 1 (SERVER_CPUS=0 WRK_CPUS=1)
#        shared  server and wrk on both cores
#   3. pyfloor.sh: the Python floor of the Python workloads (their app
#      called in-process in a loop, in a gowsgi worker and under PY)
#   4. report.py: the results section of docs/benchmarks.md and the charts
#
#   bench/run.sh                       # quick default: 3 rounds x 3 s per run
#   ROUNDS=5 DURATION=10 bench/run.sh  # longer, steadier
#
# Environment: ROUNDS (3), DURATION (seconds per wrk run, 3), CPU_MODES
# ("pinned shared"), SERVERS, WORKLOADS (peers.sh names; default all),
# CLOSE_WORKLOADS (hello), GOBENCH (1 = run the Go benchmarks, 0 = skip),
# PYFLOOR (1 = measure the Python floor, 0 = skip),
# GOBENCHTIME (go test -benchtime, 1s), OUT (results folder, default
# bench/results/<timestamp>), DOCS (folder for benchmarks.md and the charts,
# default docs/; "none" = leave docs alone), COMMIT (the gowsgi commit measured,
# default: this work tree's HEAD), GOWSGI, FLOOR, TLSLOAD, WSLOAD, PY, GO.
# Peers come from Debian: make bench-deps installs the missing ones.
set -euo pipefail
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$BENCH_DIR/.." && pwd)
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-3}
CPU_MODES=${CPU_MODES:-pinned shared}
GOBENCH=${GOBENCH:-1}
GO=${GO:-go}
PY=${PY:-/usr/bin/python3}
DOCS=${DOCS:-$REPO_DIR/docs}
export GOWSGI=${GOWSGI:-$REPO_DIR/bin/gowsgi}
export FLOOR=${FLOOR:-$REPO_DIR/bin/floor}
export TLSLOAD=${TLSLOAD:-$REPO_DIR/bin/tlsload}
export WSLOAD=${WSLOAD:-$REPO_DIR/bin/wsload}
export PY
OUT=${OUT:-$BENCH_DIR/results/$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT" && OUT=$(cd "$OUT" && pwd)

peer_args=(-r "$ROUNDS" -d "$DURATION")
[ -n "${SERVERS:-}" ] && peer_args+=(-s "$SERVERS")
[ -n "${WORKLOADS:-}" ] && peer_args+=(-w "$WORKLOADS")

version_of() {  # version_of NAME CMD... -> "NAME VERSION" (first line of CMD's output)
  local name=$1; shift
  printf '%s %s\n' "$name" "$("$@" 2>&1 | head -n 1 || true)"
}

{
  if [ -n "${COMMIT:-}" ]; then
    commit=$COMMIT
  else
    commit=$(git -C "$REPO_DIR" rev-parse HEAD 2>/dev/null || echo unknown)
    git -C "$REPO_DIR" diff --quiet HEAD -- . 2>/dev/null || commit="$commit (work tree has uncommitted changes)"
  fi
  echo "commit: $commit"
  echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "machine: $(nproc) CPUs, $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo), $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo) RAM, Linux $(uname -r)"
  echo "rounds: $ROUNDS  duration: ${DURATION}s  cpu modes: $CPU_MODES"
  version_of go "$GO" version
  version_of gowsgi "$GOWSGI" --version
  echo "gowsgi-libpython $(ldd "$GOWSGI" 2>/dev/null | awk '/libpython/ { print $3; found = 1 } END { if (!found) print "built in (static), like /usr/bin/python3 that Gunicorn and Waitress run on" }')"
  version_of peers-python "$PY" --version
  version_of gunicorn gunicorn --version
  version_of uwsgi uwsgi --version
  version_of waitress "$PY" -c 'import importlib.metadata as m; print(m.version("waitress"))'
  version_of flask "$PY" -c 'import importlib.metadata as m; print(m.version("flask"))'
  version_of django "$PY" -c 'import django; print(django.get_version())'
  for m in uvicorn hypercorn fastapi starlette httptools uvloop; do
    version_of "$m" "$PY" -c "import importlib.metadata as m; print(m.version('$m'))"
  done
  version_of wrk sh -c "wrk -v 2>&1 | head -n 1"
  version_of nginx nginx -v
  version_of openssl openssl version
} >"$OUT/meta.txt"
cat "$OUT/meta.txt" >&2

if [ "$GOBENCH" = 1 ]; then
  echo "== go test -bench (hot paths)" >&2
  (cd "$REPO_DIR" && "$GO" test -run '^$' -bench . -benchmem -benchtime "${GOBENCHTIME:-1s}" \
      ./httpparse/ ./wsgi/ ./pyshim/) | tee "$OUT/gobench.txt" >&2
fi

for mode in $CPU_MODES; do
  echo "== peers, $mode" >&2
  case $mode in
    pinned) SERVER_CPUS=0 WRK_CPUS=1 "$BENCH_DIR/peers.sh" "${peer_args[@]}" -o "$OUT/$mode" ;;
    shared) env -u SERVER_CPUS -u WRK_CPUS "$BENCH_DIR/peers.sh" "${peer_args[@]}" -o "$OUT/$mode" ;;
    *) echo "unknown CPU mode $mode (pinned or shared)" >&2; exit 2 ;;
  esac
done

if [ "${PYFLOOR:-1}" = 1 ]; then  # PYFLOOR=0 skips it
  echo "== Python floor (pyfloor.sh)" >&2
  SERVER_CPUS=0 "$BENCH_DIR/pyfloor.sh" -r "$ROUNDS" ${WORKLOADS:+-w "$WORKLOADS"} -o "$OUT/pyfloor.tsv"
fi

report_args=("$OUT")
[ "$DOCS" != none ] && report_args+=(--docs "$DOCS")
"$PY" "$BENCH_DIR/report.py" "${report_args[@]}"
echo "done: $OUT" >&2
