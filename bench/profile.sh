#!/usr/bin/env bash
# profile.sh - where gowsgi's CPU goes under one bench workload.
#
#   bench/profile.sh [-w WORKLOAD] [-m ka|close] [-d SECONDS] [-o OUTDIR] [-- GOWSGI_FLAGS...]
#
# Starts gowsgi (GOWSGI, default bin/gowsgi-bench, else bin/gowsgi) with 2 workers on CPU 0, loads
# it with wrk on CPU 1 (as peers.sh does in pinned mode, niced the same way:
# BENCH_NICE, default -10), and samples gowsgi's processes with
# `perf record -e cpu-clock -g` (a software clock: it works in VMs without
# hardware counters), kernel included, since on loopback the kernel's TCP
# work done in the server's context is much of a small request. Writes
# OUTDIR/perf.data and three views of it:
#   dso.txt     share of samples per binary (gowsgi, libpython, kernel ...)
#   symbols.txt the top symbols, flat (self time)
#   callers.txt the top symbols with their callers (perf report -g caller)
# Needs perf (Debian: linux-perf). Workloads and apps are peers.sh's.
set -euo pipefail
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$BENCH_DIR/.." && pwd)
GOWSGI=${GOWSGI:-$REPO_DIR/bin/gowsgi-bench}  # what make bench measured
[ -x "$GOWSGI" ] || GOWSGI=$REPO_DIR/bin/gowsgi
WORKLOAD=hello MODE=ka DURATION=5 OUT="" PORT=${PORT:-18190}
while getopts "w:m:d:o:h" opt; do
  case $opt in
    w) WORKLOAD=$OPTARG ;;
    m) MODE=$OPTARG ;;
    d) DURATION=$OPTARG ;;
    o) OUT=$OPTARG ;;
    h|*) sed -n '2,16p' "$0"; exit 0 ;;
  esac
done
shift $((OPTIND - 1))
OUT=${OUT:-$BENCH_DIR/results/profile-$WORKLOAD-$MODE-$(date +%H%M%S)}
mkdir -p "$OUT"
command -v perf >/dev/null || { echo "profile.sh: perf not found (apt-get install linux-perf)" >&2; exit 1; }

app=$WORKLOAD path=/ extra=() threads=1
case $WORKLOAD in
  flask) app=flask_app path=/json ;;
  django) app=django_app path=/json ;;
  upload) extra=(-s "$BENCH_DIR/upload.lua") ;;
  sleepy) threads=8 ;;
esac
hdr=(); [ "$MODE" = close ] && hdr=(-H 'Connection: close')
export PYTHONPATH=$BENCH_DIR PYTHONDONTWRITEBYTECODE=1

# As in peers.sh: a session (autogroup) of its own, niced.
NICE=${BENCH_NICE:--10}
PRIO=(setsid sh -c 'n=$1; shift; echo "$n" >/proc/self/autogroup 2>/dev/null; exec nice -n "$n" "$@"' boost "$NICE")
[ "$NICE" = 0 ] && PRIO=()

cd "$BENCH_DIR"
"${PRIO[@]}" taskset -c 0 "$GOWSGI" -w 2 --threads "$threads" -b "127.0.0.1:$PORT" "$@" "apps:$app" >"$OUT/server.log" 2>&1 &
server=$!
trap 'kill -TERM $server 2>/dev/null; wait $server 2>/dev/null' EXIT
for _ in $(seq 1 100); do
  curl -s -o /dev/null "http://127.0.0.1:$PORT$path" && break
  sleep 0.1
done
"${PRIO[@]}" taskset -c 1 wrk -t2 -c64 -d1s "${extra[@]}" "${hdr[@]}" "http://127.0.0.1:$PORT$path" >/dev/null
"${PRIO[@]}" taskset -c 1 wrk -t2 -c64 -d"${DURATION}s" --latency "${extra[@]}" "${hdr[@]}" \
  "http://127.0.0.1:$PORT$path" >"$OUT/wrk.txt" &
wrk=$!
sleep 0.5
pids=$(pgrep -P "$server" | paste -sd, -)
perf record -q -e cpu-clock -F 4999 -g -p "$server,$pids" -o "$OUT/perf.data" -- sleep $(( DURATION - 1 )) 2>"$OUT/perf-record.log"
wait $wrk
perf report -i "$OUT/perf.data" --stdio --no-children --sort dso -g none 2>/dev/null | grep -v '^#' | grep -v '^$' | head -20 >"$OUT/dso.txt" || true
perf report -i "$OUT/perf.data" --stdio --no-children --sort dso,sym -g none 2>/dev/null \
  | grep -v '^#' | grep -v '^$' | head -60 >"$OUT/symbols.txt" || true
perf report -i "$OUT/perf.data" --stdio --no-children --sort sym -g caller,0.5,callee --percent-limit 2 2>/dev/null \
  | grep -v '^$' | head -400 >"$OUT/callers.txt" || true
grep -E 'Requests/sec|Latency ' "$OUT/wrk.txt" >&2
echo "profile.sh: $OUT" >&2
cat "$OUT/dso.txt"
