#!/usr/bin/env bash
# pyfloor.sh - the Python floor of every Python workload (bench/pyfloor.py):
# its app called in a loop in-process, CPU µs per call, two ways:
#   python  under the plain interpreter PY (the one the peers run on)
#   gowsgi  inside a gowsgi worker (GOWSGI), so on the CPython build it embeds
# Both run pinned on SERVER_CPUS (default 0), niced as peers.sh does, and
# alternate ROUNDS times (gowsgi, python, python, gowsgi, ...) so a noisy
# minute hits both. One TSV row per measurement:
#   round  where  workload  app  us_per_call (median of the loops)  loops
#
#   bench/pyfloor.sh [-w "WORKLOADS"] [-r ROUNDS] [-n CALLS] -o OUT.tsv
#
# Workloads without a floor here: bigfile and upload (their app's work is
# the server's file and body handling), sleepy (its app sleeps).
set -euo pipefail
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$BENCH_DIR/.." && pwd)
PY=${PY:-/usr/bin/python3}
GOWSGI=$(realpath "${GOWSGI:-$REPO_DIR/bin/gowsgi}")
CPUS=${SERVER_CPUS:-0}
WORKLOADS="hello big chunks flask django" ROUNDS=3 CALLS=2000 OUT="" PORT=${PYFLOOR_PORT:-18090}
while getopts "w:r:n:o:h" opt; do
  case $opt in
    w) WORKLOADS=$OPTARG ;;
    r) ROUNDS=$OPTARG ;;
    n) CALLS=$OPTARG ;;
    o) OUT=$OPTARG ;;
    h|*) sed -n '2,15p' "$0"; exit 0 ;;
  esac
done
[ -n "$OUT" ] || { echo "pyfloor.sh: -o OUT.tsv is required" >&2; exit 2; }

app_of() {  # the apps.py callable of a workload; nothing for those without a floor
  case $1 in
    hello|big|chunks) echo "$1" ;;
    flask) echo flask_app ;;
    django) echo django_app ;;
  esac
}
# Fewer calls for the big-bodied apps: each moves 1 MiB.
calls_for() { case $1 in big|chunks) echo $(( CALLS / 10 + 1 )) ;; *) echo "$CALLS" ;; esac; }

NICE=${BENCH_NICE:--10}
PRIO=()
if [ "$NICE" != 0 ] && nice -n "$NICE" true 2>/dev/null; then
  PRIO=(setsid sh -c 'n=$1; shift; echo "$n" >/proc/self/autogroup 2>/dev/null; exec nice -n "$n" "$@"' boost "$NICE")
fi
export PYTHONPATH=$BENCH_DIR${PYTHONPATH:+:$PYTHONPATH}
export PYTHONDONTWRITEBYTECODE=1
cd "$BENCH_DIR"

server=""
trap '[ -n "$server" ] && kill -TERM "$server" 2>/dev/null; wait 2>/dev/null' EXIT
# One gowsgi worker serves apps:pyfloor for the whole run: its loop runs in
# the worker, between requests, as a request's app call.
"${PRIO[@]}" taskset -c "$CPUS" "$GOWSGI" -w 1 -b "127.0.0.1:$PORT" apps:pyfloor >"$OUT.gowsgi.log" 2>&1 &
server=$!
for _ in $(seq 1 300); do
  curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$PORT/?app=hello&n=1&r=1" && break
  kill -0 "$server" 2>/dev/null || { echo "pyfloor.sh: gowsgi exited, see $OUT.gowsgi.log" >&2; exit 1; }
  sleep 0.1
done

printf 'round\twhere\tworkload\tapp\tus_per_call\tloops\n' >"$OUT"
measure() {  # measure ROUND WHERE WORKLOAD APP
  local line n
  n=$(calls_for "$3")
  if [ "$2" = gowsgi ]; then
    line=$(curl -sf --max-time 600 "http://127.0.0.1:$PORT/?app=$4&n=$n&r=3")
  else
    line=$("${PRIO[@]}" taskset -c "$CPUS" "$PY" pyfloor.py -n "$n" -r 3 "$4")
  fi
  printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$line" | tee -a "$OUT" >&2
}
for (( round = 1; round <= ROUNDS; round++ )); do
  for wl in $WORKLOADS; do
    app=$(app_of "$wl")
    [ -n "$app" ] || continue
    if (( round % 2 )); then order="gowsgi python"; else order="python gowsgi"; fi
    for where in $order; do measure "$round" "$where" "$wl" "$app"; done
  done
done
