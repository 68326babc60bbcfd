#!/usr/bin/env bash
# peers.sh - gowsgi and its peers under wrk on 127.0.0.1, interleaved in rounds.
#
#   bench/peers.sh [-s "SERVERS"] [-w "WORKLOADS"] [-r ROUNDS] [-d SECONDS]
#                  [-c CONNS] [-t WRK_THREADS] [-o OUTDIR] [-p BASE_PORT]
#   bench/peers.sh check [-s ...] [-w ...]   # framing / keep-alive smoke test
#   bench/peers.sh list                      # servers and whether they can run
#
# For every round, every workload, every server (the order rotated each
# round, so the runs interleave A B C A B C ...): start the server on its
# own port, wait until it answers, warm up, then one bounded wrk run per
# client mode and stop the server. Modes:
#   ka     keep-alive (wrk's default)
#   close  every request carries "Connection: close" (one TCP connection each);
#          run for the workloads in CLOSE_WORKLOADS (default: hello; "all" = every one)
# One TSV row per run goes to OUTDIR/results.tsv, wrk's output to OUTDIR/raw/.
#
# Recorded per run: req/s, p50/p99 latency, wrk socket errors, non-2xx
# responses, CPU seconds used by the server's whole process tree (utime+stime
# from /proc, children included), by wrk and by everything else ("other", a
# noise indicator), memory of the tree sampled every 0.5 s (peak RSS, peak PSS:
# PSS splits pages that forked workers share) and the peak RSS of the largest
# worker process (the tree minus its root; the root itself for one-process
# servers), and the clients left unanswered: connections that, half a second
# before wrk stops, have been waiting over a second with no byte of response
# (a server that keeps serving a few keep-alive connections while the rest
# wait in its listen queue reaches a high req/s on the few; wrk's --timeout,
# longer than the run, does not count the others).
#
# TLS workloads (tls-ecdsa, tls-rsa): the hello app over HTTPS, with a
# certificate made by openssl at the start of the run (ECDSA P-256 or RSA
# 2048, self-signed for 127.0.0.1). Their "close" mode is a new TLS
# connection and a full handshake per request, made by bench/tlsload
# (TLSLOAD, default bin/tlsload) instead of wrk: wrk and h2load resume the
# session of their previous connection, so with "Connection: close" they
# measure resumptions (bench/tlsload/main.go says more); `peers.sh check`
# counts both with nginx's $ssl_session_reused. tls-ecdsa runs keep-alive and
# close, tls-rsa close only (after the handshake the certificate's key is
# not used). They run for gowsgi (--certfile), Gunicorn sync and gthread
# (--certfile, Python's ssl) and nginx-gowsgi: nginx (WORKERS worker
# processes) terminating TLS in front of gowsgi over plain HTTP with
# upstream keep-alive, both in the server's process tree (so on the
# server's core when pinned).
#
# ASGI workloads (asgi-hello, asgi-fastapi, asgi-stream, asgi-ws; issue
# #25): the apps of bench/asgiapps.py, for gowsgi (-k asgi), Uvicorn
# (--workers, httptools and uvloop, Debian's) and Hypercorn (-w, -k
# uvloop). asgi-ws is WebSocket echo: bench/wsload (WSLOAD, default
# bin/wsload) instead of wrk, one "request" per message echoed.
#
# Every server gets WORKERS (2) worker processes and runs with cwd and
# PYTHONPATH = bench/, serving apps:<app> (apps.py). The sleepy workload gives
# the threaded servers SLEEPY_THREADS (8) threads per worker.
#
# Environment: GOWSGI (gowsgi binary, default bin/gowsgi), FLOOR (the Go
# canned responder, default bin/floor; run for hello, big, bigfile, chunks
# and upload, with the same bytes as apps.py), PY (python for waitress, default
# /usr/bin/python3), WRK, WORKERS, WARMUP (seconds, 0 = none), SLEEPY_THREADS,
# CLOSE_WORKLOADS, SERVER_CPUS / WRK_CPUS (taskset lists: 0 and 1 give the
# server tree one core and wrk the other), BENCH_NICE (niceness of the
# servers and wrk, default -10: on a machine shared with builds and fuzzers
# the bench measures the servers, not the other jobs; 0 = leave it; a
# non-root user cannot lower it and runs at its own).

set -u -o pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$BENCH_DIR/.." && pwd)
PY=${PY:-/usr/bin/python3}
WRK=${WRK:-wrk}
GOWSGI=${GOWSGI:-$REPO_DIR/bin/gowsgi}
FLOOR=${FLOOR:-$REPO_DIR/bin/floor}
TLSLOAD=${TLSLOAD:-$REPO_DIR/bin/tlsload}
WSLOAD=${WSLOAD:-$REPO_DIR/bin/wsload}
WORKERS=${WORKERS:-2}
WARMUP=${WARMUP:-1}
SLEEPY_THREADS=${SLEEPY_THREADS:-8}
CLOSE_WORKLOADS=${CLOSE_WORKLOADS:-hello}
BENCH_NICE=${BENCH_NICE:--10}
# PRIO prefixes the servers and wrk. With sched_autogroup_enabled, niceness
# only ranks processes within one session's autogroup, so each gets a new
# session (setsid keeps the PID: the caller is no process group leader) and
# that autogroup is niced too.
PRIO=()
if [ "$BENCH_NICE" != 0 ] && nice -n "$BENCH_NICE" true 2>/dev/null; then
  PRIO=(setsid sh -c 'n=$1; shift; echo "$n" >/proc/self/autogroup 2>/dev/null; exec nice -n "$n" "$@"' boost "$BENCH_NICE")
fi
export PYTHONPATH=$BENCH_DIR${PYTHONPATH:+:$PYTHONPATH}
export PYTHONDONTWRITEBYTECODE=1

ALL_SERVERS="gowsgi floor gunicorn-sync gunicorn-gthread uwsgi-http11 uwsgi-http waitress nginx-gowsgi uvicorn hypercorn"
ALL_WORKLOADS="hello big bigfile chunks upload sleepy flask django tls-ecdsa tls-rsa asgi-hello asgi-fastapi asgi-stream asgi-ws"

SERVERS=$ALL_SERVERS
WORKLOADS=$ALL_WORKLOADS
ROUNDS=3
DURATION=3
CONNS=64
THREADS=2
BASE_PORT=18100
OUT=""
ACTION=bench

case "${1:-}" in
  check|list) ACTION=$1; shift ;;
esac
while getopts "s:w:r:d:c:t:o:p:h" opt; do
  case $opt in
    s) SERVERS=$OPTARG ;;
    w) WORKLOADS=$OPTARG ;;
    r) ROUNDS=$OPTARG ;;
    d) DURATION=$OPTARG ;;
    c) CONNS=$OPTARG ;;
    t) THREADS=$OPTARG ;;
    o) OUT=$OPTARG ;;
    p) BASE_PORT=$OPTARG ;;
    h|*) sed -n '2,/^$/p' "$0"; exit 0 ;;
  esac
done
OUT=${OUT:-$BENCH_DIR/results/$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT" && OUT=$(cd "$OUT" && pwd)
RUN_TMP=$(mktemp -d /tmp/gowsgi-bench.XXXXXX)

log() { printf '[%(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

# ---------------------------------------------------------------- workloads
# workload_def NAME -> APP (callable in apps.py), URLPATH, WRK_EXTRA (array),
#                      CHECK_METHOD, EXPECT (body bytes, or the body for upload),
#                      SCHEME (http or https), TLS_CERT and TLS_KEY (files, for https),
#                      MODULE (apps, or asgiapps for the ASGI workloads)
workload_def() {
  WRK_EXTRA=(); CHECK_METHOD=GET; URLPATH=/; SCHEME=http; TLS_CERT=""; TLS_KEY=""; MODULE=apps
  case $1 in
    asgi-hello)   MODULE=asgiapps; APP=hello;   EXPECT=13 ;;
    asgi-fastapi) MODULE=asgiapps; APP=fastapi_app; URLPATH=/json; EXPECT=27 ;;
    asgi-stream)  MODULE=asgiapps; APP=stream;  EXPECT=1048576 ;;
    asgi-ws)      MODULE=asgiapps; APP=ws_echo; URLPATH=/ws; EXPECT=13 ;;   # 13: the plain GET; wsload checks every echo
    tls-ecdsa|tls-rsa)
      APP=hello; EXPECT=13; SCHEME=https
      make_certs || return 1
      TLS_CERT=$RUN_TMP/${1#tls-}.crt; TLS_KEY=$RUN_TMP/${1#tls-}.key ;;
    hello)   APP=hello;   EXPECT=13 ;;
    big)     APP=big;     EXPECT=1048576 ;;
    bigfile) APP=bigfile; EXPECT=1048576 ;;
    chunks)  APP=chunks;  EXPECT=1048576 ;;
    upload)  APP=upload;  EXPECT=1048576; CHECK_METHOD=POST; WRK_EXTRA=(-s "$BENCH_DIR/upload.lua") ;;
    sleepy)  APP=sleepy;  EXPECT=13 ;;
    flask)   APP=flask_app; URLPATH=/json; EXPECT=28 ;;
    django)  APP=django_app; URLPATH=/json; EXPECT=28 ;;   # bench/djbench: the default middleware stack
    *) log "unknown workload $1"; return 1 ;;
  esac
}

# make_certs: the TLS workloads' certificates, once per run (openssl)
make_certs() {
  [ -s "$RUN_TMP/rsa.crt" ] && return 0
  local kind
  for kind in ecdsa rsa; do
    local newkey=(-newkey ec -pkeyopt ec_paramgen_curve:P-256)
    [ $kind = rsa ] && newkey=(-newkey rsa:2048)
    openssl req -x509 "${newkey[@]}" -nodes -days 2 -subj /CN=127.0.0.1 \
      -addext subjectAltName=IP:127.0.0.1 -keyout "$RUN_TMP/$kind.key" -out "$RUN_TMP/$kind.crt" 2>/dev/null ||
      { log "openssl could not make the $kind certificate"; return 1; }
  done
}

# modes_for WORKLOAD -> the client modes run for it
modes_for() {
  case $1 in
    tls-ecdsa) echo "ka close"; return ;;
    tls-rsa) echo close; return ;;
    asgi-ws) echo ka; return ;;
  esac
  case " $CLOSE_WORKLOADS " in
    *" all "*|*" $1 "*) echo "ka close" ;;
    *) echo ka ;;
  esac
}

# ---------------------------------------------------------------- servers
SERVER_PIDS=()

# launch LOGFILE CMD...  (cwd = bench/, records the PID)
launch() {
  local logf=$1; shift
  ( cd "$BENCH_DIR" && exec "${PRIO[@]}" ${SERVER_CPUS:+taskset -c "$SERVER_CPUS"} "$@" ) >>"$logf" 2>&1 &
  SERVER_PIDS+=("$!")
}

# available NAME -> 0 if the server can be started here, else prints why
available() {
  case $1 in
    gunicorn-*) command -v gunicorn >/dev/null || { echo "gunicorn not installed"; return 1; } ;;
    uwsgi-*)
      command -v uwsgi >/dev/null || { echo "uwsgi not installed"; return 1; }
      [ -e /usr/lib/uwsgi/plugins/python3_plugin.so ] || { echo "uwsgi-plugin-python3 not installed"; return 1; } ;;
    waitress) "$PY" -c 'import waitress' 2>/dev/null || { echo "waitress not importable by $PY"; return 1; } ;;
    gowsgi) [ -x "$GOWSGI" ] || { echo "no gowsgi binary at $GOWSGI (make build)"; return 1; } ;;
    floor) [ -x "$FLOOR" ] || { echo "no floor binary at $FLOOR (go build -o bin/floor ./bench/floor)"; return 1; } ;;
    uvicorn) "$PY" -c 'import uvicorn' 2>/dev/null || { echo "uvicorn not importable by $PY (python3-uvicorn)"; return 1; } ;;
    hypercorn) "$PY" -c 'import hypercorn' 2>/dev/null || { echo "hypercorn not importable by $PY (python3-hypercorn)"; return 1; } ;;
    nginx-gowsgi)
      command -v nginx >/dev/null || { echo "nginx not installed"; return 1; }
      [ -x "$GOWSGI" ] || { echo "no gowsgi binary at $GOWSGI (make build)"; return 1; } ;;
    *) echo "unknown server"; return 1 ;;
  esac
}

# supports NAME WORKLOAD -> 0 if this server makes sense for the workload
supports() {
  case $2 in
    asgi-*) case $1 in gowsgi|uvicorn|hypercorn) return 0 ;; *) return 1 ;; esac ;;
    tls-*) case $1 in gowsgi|gunicorn-sync|gunicorn-gthread|nginx-gowsgi) return 0 ;; *) return 1 ;; esac ;;
  esac
  case $1 in
    floor) case $2 in hello|big|bigfile|chunks|upload) ;; *) return 1 ;; esac ;;   # no WSGI server: canned replies
    nginx-gowsgi) return 1 ;;   # TLS in front of gowsgi: the TLS workloads only
    uvicorn|hypercorn) return 1 ;;   # ASGI servers: the asgi-* workloads only
    *) return 0 ;;
  esac
}

# threads_for SERVER WORKLOAD -> threads per worker for a threaded server
threads_for() {
  if [ "$2" = sleepy ]; then echo "$SLEEPY_THREADS"; return; fi
  case $1 in
    gunicorn-gthread) echo 4 ;;
    *) echo 1 ;;
  esac
}

# start_server NAME WORKLOAD APP PORT LOGFILE -> starts it, PIDs in SERVER_PIDS.
start_server() {
  local name=$1 wl=$2 app=$3 port=$4 logf=$5 th
  th=$(threads_for "$name" "$wl")
  SERVER_PIDS=()
  local tls=()
  [ -n "$TLS_CERT" ] && tls=(--certfile "$TLS_CERT" --keyfile "$TLS_KEY")
  case $name in
    gowsgi)
      if [ "$MODULE" = asgiapps ]; then
        launch "$logf" "$GOWSGI" -w "$WORKERS" -k asgi -b "127.0.0.1:$port" "asgiapps:$app"
      else
        launch "$logf" "$GOWSGI" -w "$WORKERS" --threads "$th" -b "127.0.0.1:$port" "${tls[@]}" "apps:$app"
      fi ;;
    uvicorn)   # Debian's httptools and uvloop; INFO logs a line per WebSocket, so warning
      launch "$logf" "$PY" -m uvicorn --workers "$WORKERS" --http httptools --loop uvloop \
        --log-level warning --no-access-log --host 127.0.0.1 --port "$port" "asgiapps:$app" ;;
    hypercorn) # no access log unless asked for
      launch "$logf" "$PY" -m hypercorn -w "$WORKERS" -k uvloop -b "127.0.0.1:$port" "asgiapps:$app" ;;
    nginx-gowsgi)   # nginx terminates TLS; gowsgi serves plain HTTP on port+1
      launch "$logf" "$GOWSGI" -w "$WORKERS" --threads "$th" -b "127.0.0.1:$(( port + 1 ))" "apps:$app"
      nginx_conf "$port" >"$RUN_TMP/nginx.conf"
      launch "$logf" nginx -p "$RUN_TMP" -c "$RUN_TMP/nginx.conf" -e "$logf" ;;
    floor)
      launch "$logf" "$FLOOR" -b "127.0.0.1:$port" -workload "$wl" ;;
    gunicorn-sync)
      launch "$logf" gunicorn -w "$WORKERS" -b "127.0.0.1:$port" "${tls[@]}" "apps:$app" ;;
    gunicorn-gthread)
      launch "$logf" gunicorn -w "$WORKERS" -k gthread --threads "$th" -b "127.0.0.1:$port" "${tls[@]}" "apps:$app" ;;
    uwsgi-http11)   # --http11-socket: keep-alive capable
      launch "$logf" uwsgi --plugin python3 --master --processes "$WORKERS" \
        --http11-socket "127.0.0.1:$port" --module "apps:$app" --pythonpath "$BENCH_DIR" \
        --need-app --disable-logging --die-on-term ;;
    uwsgi-http)     # --http-socket: HTTP/1.1 replies, but closes after each one
      launch "$logf" uwsgi --plugin python3 --master --processes "$WORKERS" \
        --http-socket "127.0.0.1:$port" --module "apps:$app" --pythonpath "$BENCH_DIR" \
        --need-app --disable-logging --die-on-term ;;
    waitress)       # one process, 8 threads: waitress has no pre-fork mode
      launch "$logf" "$PY" -m waitress --host=127.0.0.1 --port="$port" --threads=8 "apps:$app" ;;
    *) log "unknown server $name"; return 1 ;;
  esac
}

# nginx_conf PORT -> nginx.conf for nginx-gowsgi: TLS on PORT with
# TLS_CERT, proxying to gowsgi on PORT+1 with upstream keep-alive (as
# examples/nginx/gowsgi-http.conf). No access log, as for every server,
# except with NGINX_SESSION_LOG=FILE: one "$ssl_session_reused" a line
# (peers.sh check counts them).
nginx_conf() {
  local port=$1 alog="access_log off;"
  [ -n "${NGINX_SESSION_LOG:-}" ] && alog="log_format reuse '\$ssl_session_reused \$ssl_protocol'; access_log $NGINX_SESSION_LOG reuse;"
  cat <<CONF
daemon off;
worker_processes $WORKERS;
pid $RUN_TMP/nginx.pid;
events { worker_connections 4096; }
http {
  $alog
  client_body_temp_path $RUN_TMP/nginx-body;
  proxy_temp_path $RUN_TMP/nginx-proxy;
  upstream gowsgi { server 127.0.0.1:$(( port + 1 )); keepalive 64; }
  server {
    listen 127.0.0.1:$port ssl;
    ssl_protocols TLSv1.2 TLSv1.3;   # nginx 1.22's default lacks 1.3
    ssl_certificate $TLS_CERT;
    ssl_certificate_key $TLS_KEY;
    location / {
      proxy_pass http://gowsgi;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host \$http_host;
      proxy_buffering off;
    }
  }
}
CONF
}

# tree_pids ROOT... -> the roots and all their live descendants
tree_pids() {
  ps -e -o pid=,ppid= | awk -v roots="$*" '
    BEGIN { n = split(roots, r, " "); for (i = 1; i <= n; i++) keep[r[i]] = 1 }
    { parent[$1] = $2 }
    END {
      do { changed = 0
           for (p in parent) if (!(p in keep) && (parent[p] in keep)) { keep[p] = 1; changed = 1 }
      } while (changed)
      for (p in keep) if (p in parent) print p
    }'
}

# tree_mem_kb ROOT... -> "RSS PSS WORKER_RSS" in KiB: sums over the tree, and
# the largest RSS among the non-root processes (the root's if it is alone)
tree_mem_kb() {
  local p rss pss total_rss=0 total_pss=0 worker=0 root_rss=0 n=0
  for p in $(tree_pids "$@"); do
    read -r rss pss < <(awk '/^Rss:/ { r = $2 } /^Pss:/ { s = $2 } END { print r + 0, s + 0 }' \
                          "/proc/$p/smaps_rollup" 2>/dev/null) || continue
    total_rss=$(( total_rss + rss )); total_pss=$(( total_pss + pss )); n=$(( n + 1 ))
    if [[ " $* " == *" $p "* ]]; then root_rss=$rss
    elif [ "$rss" -gt "$worker" ]; then worker=$rss; fi
  done
  [ "$n" -le 1 ] && worker=$root_rss
  echo "$total_rss $total_pss $worker"
}

tree_cpu_ticks() {  # utime+stime+cutime+cstime summed over the process tree
  local p total=0 t
  for p in $(tree_pids "$@"); do
    t=$(awk '{ sub(/.*\) /, ""); print $12 + $13 + $14 + $15 }' "/proc/$p/stat" 2>/dev/null) || continue
    total=$(( total + ${t:-0} ))
  done
  echo "$total"
}

machine_busy_ticks() {  # busy jiffies over all CPUs since boot
  awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat
}

# stop_server: SIGTERM to every started PID, SIGKILL to the whole tree after 10 s
stop_server() {
  [ "${#SERVER_PIDS[@]}" -gt 0 ] || return 0
  local all p i alive
  all=$(tree_pids "${SERVER_PIDS[@]}")
  for p in "${SERVER_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
  for i in $(seq 1 100); do
    alive=0
    for p in "${SERVER_PIDS[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ $alive = 0 ] && break
    sleep 0.1
  done
  for p in $all; do kill -0 "$p" 2>/dev/null && kill -KILL "$p" 2>/dev/null; done
  for p in "${SERVER_PIDS[@]}"; do wait "$p" 2>/dev/null; done
  SERVER_PIDS=()
}
trap 'stop_server; rm -rf "$RUN_TMP"' EXIT
trap 'exit 130' INT TERM

# wait_ready URL -> 0 once the URL answers 200 (30 s max)
wait_ready() {
  local url=$1 i code p
  for i in $(seq 1 300); do
    code=$(curl -sk -o /dev/null -w '%{http_code}' --max-time 2 "$url" 2>/dev/null)
    [ "$code" = 200 ] && return 0
    for p in "${SERVER_PIDS[@]}"; do kill -0 "$p" 2>/dev/null || return 1; done
    sleep 0.1
  done
  return 1
}

# mem_sampler OUTFILE ROOT... : keeps "peakRSS peakPSS peakWorkerRSS" in OUTFILE
mem_sampler() {
  local f=$1; shift
  local peak=0 peakp=0 peakw=0 r p w
  while :; do
    read -r r p w < <(tree_mem_kb "$@")
    [ "${r:-0}" -gt "$peak" ] && peak=$r
    [ "${p:-0}" -gt "$peakp" ] && peakp=$p
    [ "${w:-0}" -gt "$peakw" ] && peakw=$w
    echo "$peak $peakp $peakw" >"$f.tmp" && mv "$f.tmp" "$f"
    sleep 0.5
  done
}

TSV_HEADER="ts	round	workload	mode	server	rps	p50_ms	p99_ms	requests	err_connect	err_read	err_write	err_timeout	non2xx	rss_idle_kb	rss_peak_kb	pss_peak_kb	worker_rss_peak_kb	srv_cpu_s	wrk_cpu_s	other_cpu_s	elapsed_s	conns	threads	duration_s	unanswered"

# unanswered_clients PORT -> how many server-side connections on PORT have
# sent no response byte (no bytes_sent) and received nothing for over a
# second (lastrcv): clients still waiting for their first answer. NA
# without ss (iproute2, which make bench-deps installs).
unanswered_clients() {
  command -v ss >/dev/null || { echo NA; return; }
  ss -Htni state established "( sport = :$1 )" 2>/dev/null | awk '
    /^[ \t]/ { if ($0 !~ /bytes_sent:/ && match($0, /lastrcv:[0-9]+/) && substr($0, RSTART + 8, RLENGTH - 8) + 0 >= 1000) n++ }
    END { print n + 0 }'
}

# run_wrk ROUND WORKLOAD MODE SERVER URL RSS_IDLE -> appends one TSV row
run_wrk() {
  local round=$1 wl=$2 mode=$3 srv=$4 url=$5 rss_idle=$6
  local raw="$OUT/raw/r${round}-${wl}-${mode}-${srv}.txt"
  local hdr=(); [ "$mode" = close ] && hdr=(-H 'Connection: close')
  local client=("$WRK" -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --timeout 10s --latency "${hdr[@]}" "${WRK_EXTRA[@]}")
  # a new TLS connection per request: a client that never resumes (see the top)
  [ "$SCHEME" = https ] && [ "$mode" = close ] && client=("$TLSLOAD" -c "$CONNS" -d "${DURATION}s")
  # WebSocket echo: bench/wsload, one round trip per "request"
  [ "$wl" = asgi-ws ] && { client=("$WSLOAD" -c "$CONNS" -d "${DURATION}s"); url="ws://${url#http://}"; }
  local peakf="$RUN_TMP/peak" waitf="$RUN_TMP/unanswered" sp wp c0 c1 m0 m1 t0 t1 out hz port
  echo "0 0 0" >"$peakf"
  echo NA >"$waitf"
  mem_sampler "$peakf" "${SERVER_PIDS[@]}" & sp=$!
  port=${url#*://*:}; port=${port%%/*}
  ( sleep "$(awk -v d="$DURATION" 'BEGIN { print (d > 1.5 ? d - 0.5 : 1) }')"
    unanswered_clients "$port" >"$waitf" ) & wp=$!
  c0=$(tree_cpu_ticks "${SERVER_PIDS[@]}"); m0=$(machine_busy_ticks); t0=$(date +%s.%N)
  out=$( ( cd "$BENCH_DIR" && timeout $(( DURATION + 30 )) "${PRIO[@]}" ${WRK_CPUS:+taskset -c "$WRK_CPUS"} "${client[@]}" "$url"; times ) 2>&1 )
  t1=$(date +%s.%N); m1=$(machine_busy_ticks); c1=$(tree_cpu_ticks "${SERVER_PIDS[@]}")
  kill "$sp" 2>/dev/null; wait "$sp" "$wp" 2>/dev/null
  printf '%s\n' "$out" >"$raw"
  hz=$(getconf CLK_TCK)
  local peak; read -r -a peak <"$peakf"
  printf '%s\n' "$out" | awk -v ts="$(date +%s)" -v round="$round" -v wl="$wl" -v mode="$mode" \
      -v srv="$srv" -v rss_idle="$rss_idle" -v rss_peak="${peak[0]}" -v pss_peak="${peak[1]}" \
      -v worker_peak="${peak[2]}" -v hz="$hz" -v unanswered="$(cat "$waitf")" \
      -v c0="$c0" -v c1="$c1" -v m0="$m0" -v m1="$m1" -v t0="$t0" -v t1="$t1" \
      -v conns="$CONNS" -v threads="$THREADS" -v dur="$DURATION" -v p50="NA" -v p99="NA" '
    function ms(v) {
      if (v ~ /us$/) { sub(/us$/, "", v); return v / 1000 }
      if (v ~ /ms$/) { sub(/ms$/, "", v); return v + 0 }
      if (v ~ /m$/)  { sub(/m$/, "", v);  return v * 60000 }
      if (v ~ /s$/)  { sub(/s$/, "", v);  return v * 1000 }
      return "NA" }
    function secs(v,  a) { split(v, a, "m"); sub(/s$/, "", a[2]); return a[1] * 60 + a[2] }
    BEGIN { rps = "NA"; reqs = "NA"; ec = er = ew = et = 0; non2xx = 0; tl = 0; wrk_cpu = 0 }
    /Requests\/sec:/ { rps = $2 }
    /^ +50% / { p50 = ms($2) }
    /^ +99% / { p99 = ms($2) }
    / requests in / { reqs = $1 }
    /Socket errors:/ { gsub(/,/, ""); ec = $4; er = $6; ew = $8; et = $10 }
    /Non-2xx or 3xx responses:/ { non2xx = $NF }
    /^[0-9]+m[0-9.]+s [0-9]+m[0-9.]+s$/ { tl++; if (tl == 2) wrk_cpu = secs($1) + secs($2) }
    END {
      srv_cpu = (c1 - c0) / hz; busy = (m1 - m0) / hz; el = t1 - t0
      other = busy - srv_cpu - wrk_cpu; if (other < 0) other = 0
      printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%.2f\t%.2f\t%.2f\t%.2f\t%s\t%s\t%s\t%s\n",
        ts, round, wl, mode, srv, rps, p50, p99, reqs, ec, er, ew, et, non2xx,
        rss_idle, rss_peak, pss_peak, worker_peak, srv_cpu, wrk_cpu, other, el, conns, threads, dur, unanswered
    }' >>"$OUT/results.tsv"
  tail -n 1 "$OUT/results.tsv" | awk -F'\t' '{ printf "    %-6s rps=%-9s p50=%-7s p99=%-7s err(c/r/w/t)=%s/%s/%s/%s non2xx=%s rss=%dMB worker=%dMB cpu=%.1fus/req unanswered=%s\n",
      $4, $6, $7, $8, $10, $11, $12, $13, $14, $16/1024, $18/1024, ($9 > 0 ? $19 / $9 * 1e6 : 0), $26 }' >&2
}

port_of() {  # stable port per server name
  local i=0 s
  for s in $ALL_SERVERS; do
    [ "$s" = "$1" ] && { echo $(( BASE_PORT + 10 * i )); return; }
    i=$(( i + 1 ))
  done
  echo $(( BASE_PORT + 500 ))
}

rotate() {  # rotate N WORDS... -> words rotated left by N
  local n=$1; shift
  local a=("$@") k=${#a[@]} i
  for (( i = 0; i < k; i++ )); do printf '%s ' "${a[(( (i + n) % k ))]}"; done
}

# ---------------------------------------------------------------- check
# For each server x workload: status, framing, Connection header, body size,
# and whether a second request re-uses the connection (curl, HTTP/1.1).
do_check() {
  local f="$OUT/checks.tsv" srv wl port url why
  printf 'server\tworkload\tstatus\tframing\tconnection_hdr\tbody_bytes\texpect\treuses_conn\n' >"$f"
  head -c 1048576 /dev/zero >"$RUN_TMP/up"
  for srv in $SERVERS; do
    why=$(available "$srv") || { log "skip $srv: $why"; continue; }
    port=$(port_of "$srv")
    for wl in $WORKLOADS; do
      supports "$srv" "$wl" || continue
      workload_def "$wl" || continue
      url="$SCHEME://127.0.0.1:$port$URLPATH"
      local reuse_log=""
      if [ "$srv" = nginx-gowsgi ]; then reuse_log=$RUN_TMP/reuse.log; : >"$reuse_log"; fi
      NGINX_SESSION_LOG=$reuse_log start_server "$srv" "$wl" "$APP" "$port" "$OUT/logs/$srv.log" || continue
      if ! wait_ready "$url"; then log "$srv/$wl did not come up"; stop_server; continue; fi
      local body="$RUN_TMP/body" hdrs="$RUN_TMP/hdrs" args=() status framing conn size reuse
      [ "$CHECK_METHOD" = POST ] && args=(-X POST --data-binary "@$RUN_TMP/up" -H 'Content-Type: application/octet-stream')
      curl -sk --http1.1 --max-time 10 -D "$hdrs" -o "$body" "${args[@]}" "$url"
      status=$(awk 'NR==1 { print $2 }' "$hdrs")
      framing=$(awk 'tolower($1) == "transfer-encoding:" { te = $2 } tolower($1) == "content-length:" { cl = "CL" }
                     END { gsub(/\r/, "", te); if (te != "") print "TE:" te; else if (cl != "") print cl; else print "close-delimited" }' "$hdrs")
      conn=$(awk 'tolower($1) == "connection:" { gsub(/\r/, ""); print $2 }' "$hdrs"); conn=${conn:--}
      size=$(stat -c %s "$body")
      [ "$wl" = upload ] && size=$(cat "$body")
      # 2 requests in one curl: the 2nd reports num_connects=0 iff the connection was re-used
      reuse=$(curl -sk --http1.1 --max-time 10 "${args[@]}" -w '%{num_connects}\n' \
                -o /dev/null -o /dev/null "$url" "$url" | sed -n 2p)
      case $reuse in 0) reuse=yes ;; 1) reuse=no ;; *) reuse="?" ;; esac
      printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$srv" "$wl" "$status" "$framing" "$conn" "$size" "$EXPECT" "$reuse" >>"$f"
      log "$srv $wl: status=$status framing=$framing connection=$conn body=$size reuse=$reuse"
      if [ "$wl" = asgi-ws ]; then   # the echo itself: wsload checks every message and the handshake
        log "$srv $wl: wsload 1 s: $("$WSLOAD" -c 4 -d 1s "ws://${url#http://}" 2>&1 | awk '/requests in|Socket errors|Non-2xx|First error/' | tr -s ' \n' ' ')"
      fi
      if [ -n "$reuse_log" ]; then
        # The "close" mode must make a full handshake per request: nginx
        # logs "r" for a resumed session, "." for a full handshake.
        local c
        for c in wrk tlsload; do
          : >"$reuse_log"; kill -USR1 "$(cat "$RUN_TMP/nginx.pid")"; sleep 0.2   # reopen the log
          if [ $c = wrk ]; then "$WRK" -t"$THREADS" -c"$CONNS" -d1s -H 'Connection: close' "$url" >/dev/null 2>&1
          else "$TLSLOAD" -c "$CONNS" -d 1s "$url" >/dev/null 2>&1; fi
          log "$srv $wl: $c with Connection: close, TLS sessions (nginx \$ssl_session_reused): $(awk '{ n[$1 == "r" ? "resumed" : "full handshakes"]++ } END { for (k in n) printf "%s %d  ", k, n[k] }' "$reuse_log")"
        done
      fi
      stop_server
    done
  done
  column -t -s $'\t' "$f"
}

# ---------------------------------------------------------------- main
if [ "$ACTION" = list ]; then
  echo "servers:   $ALL_SERVERS"
  echo "workloads: $ALL_WORKLOADS"
  for s in $ALL_SERVERS; do why=$(available "$s") && echo "  $s: ok" || echo "  $s: unavailable ($why)"; done
  exit 0
fi

mkdir -p "$OUT/raw" "$OUT/logs"
if [ "$ACTION" = check ]; then do_check; exit 0; fi

[ -f "$OUT/results.tsv" ] || printf '%s\n' "$TSV_HEADER" >"$OUT/results.tsv"
{
  echo "date: $(date -Is)  host: $(uname -n) $(uname -r)  cpus: $(nproc)"
  echo "servers: $SERVERS | workloads: $WORKLOADS | close mode for: $CLOSE_WORKLOADS | rounds: $ROUNDS"
  echo "wrk: -t$THREADS -c$CONNS -d${DURATION}s --timeout 10s --latency | WORKERS=$WORKERS WARMUP=$WARMUP SLEEPY_THREADS=$SLEEPY_THREADS"
  echo "cpus: server=${SERVER_CPUS:-any} wrk=${WRK_CPUS:-any} | niceness of servers and wrk: ${PRIO[5]:-unchanged}"
} >>"$OUT/meta.txt"

log "results -> $OUT"
avail_servers=()
for s in $SERVERS; do
  if why=$(available "$s"); then avail_servers+=("$s"); else log "skip $s: $why"; echo "skipped $s: $why" >>"$OUT/meta.txt"; fi
done
[ ${#avail_servers[@]} -gt 0 ] || { log "no server available"; exit 1; }

for (( round = 1; round <= ROUNDS; round++ )); do
  for wl in $WORKLOADS; do
    workload_def "$wl" || continue
    for srv in $(rotate $(( round - 1 )) "${avail_servers[@]}"); do
      supports "$srv" "$wl" || continue
      port=$(port_of "$srv"); url="$SCHEME://127.0.0.1:$port$URLPATH"
      log "round $round/$ROUNDS  $wl  $srv  (port $port)"
      start_server "$srv" "$wl" "$APP" "$port" "$OUT/logs/$srv.log" || continue
      if ! wait_ready "$url"; then
        log "  $srv did not answer on $url; see $OUT/logs/$srv.log"; stop_server; continue
      fi
      rss_idle=$(tree_mem_kb "${SERVER_PIDS[@]}" | cut -d' ' -f1)
      if [ "$WARMUP" != 0 ] && [ "$wl" = asgi-ws ]; then
        ( cd "$BENCH_DIR" && timeout $(( WARMUP + 20 )) "${PRIO[@]}" ${WRK_CPUS:+taskset -c "$WRK_CPUS"} "$WSLOAD" -c "$CONNS" -d"${WARMUP}s" \
            "ws://${url#http://}" ) >/dev/null 2>&1
      elif [ "$WARMUP" != 0 ]; then
        ( cd "$BENCH_DIR" && timeout $(( WARMUP + 20 )) "${PRIO[@]}" ${WRK_CPUS:+taskset -c "$WRK_CPUS"} "$WRK" -t"$THREADS" -c"$CONNS" -d"${WARMUP}s" \
            --timeout 10s "${WRK_EXTRA[@]}" "$url" ) >/dev/null 2>&1
      fi
      for mode in $(modes_for "$wl"); do
        run_wrk "$round" "$wl" "$mode" "$srv" "$url" "$rss_idle"
      done
      stop_server
    done
  done
done
log "done: $OUT/results.tsv"
