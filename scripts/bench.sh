#!/usr/bin/env bash
# The benchmark (docs/performance.md): one command that builds the release
# server and the load generator, starts a Redis and a Redchat server of its
# own on free loopback ports, and runs, each against its same-run baselines:
#
#   1. latency against load: Redchat, baseline (b) (bare fan-out server) and
#      baseline (a) (raw Redis Pub/Sub) at rising send rates, 1,000 streams;
#   2. deliveries per second against the number of streams (up to 10,000),
#      Redchat and baseline (b);
#   3. memory per idle stream: 10,000 idle streams on Redchat, on baseline
#      (b) in a process of its own, and on baseline (c) (sockets only).
#
# Results go to docs/bench/results.csv and the plots to docs/img/*.svg.
# Takes about ten minutes. Only loopback traffic; everything it starts, it
# stops.
#
#   scripts/bench.sh            # everything
#   BENCH_QUICK=1 scripts/bench.sh   # fewer points, shorter runs
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
cd "$PROJECT_ROOT"

SECONDS_PER_RUN="${BENCH_SECONDS:-10}"
RATES="${BENCH_RATES:-100 200 400 600 800 1200 1600 3200}"
CLIENT_COUNTS="${BENCH_CLIENTS:-1000 2500 5000 10000}"
if [ -n "${BENCH_QUICK:-}" ]; then
  SECONDS_PER_RUN=3 RATES="100 400" CLIENT_COUNTS="500 2000"
fi

ulimit -n "$(ulimit -Hn)"
# Every server runs as a process of its own (so its RSS and CPU are its
# own, and client and server sockets count against separate limits).
[ "$(ulimit -n)" -ge 10100 ] || say "file-descriptor limit $(ulimit -n): runs of 10,000 streams will fail"

say "building the release server and load generator"
cargo build --release --features ssr --bin redchat --example loadgen
LOADGEN=target/release/examples/loadgen

OUT=target/bench
mkdir -p "$OUT" docs/img
WORK="$(mktemp -d)"
REDIS_PORT="$(free_port)"
start_redis "$REDIS_PORT" "$WORK" --save "" --appendonly no
SERVER=""
stop_server() {
  [ -z "$SERVER" ] || { kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; }
  SERVER=""
}

# Baseline (b) as a process of its own; sets BARE_URL.
start_bare() {
  stop_server
  "$LOADGEN" --serve-bare 127.0.0.1:0 >"$WORK/bare.addr" 2>"$WORK/bare.log" &
  SERVER=$!
  for _ in $(seq 1 300); do
    [ -s "$WORK/bare.addr" ] && break
    sleep 0.1
  done
  [ -s "$WORK/bare.addr" ] || { cat "$WORK/bare.log"; die "baseline (b) did not start"; }
  BARE_URL="http://$(head -1 "$WORK/bare.addr")"
}
trap 'stop_server; stop_redis; rm -rf "$WORK"' EXIT
REDIS_URL="redis://127.0.0.1:$REDIS_PORT"

# A fresh Redchat server (and an empty Redis) for each measurement.
start_server() {
  stop_server
  redis-cli -p "$REDIS_PORT" flushall >/dev/null
  SERVER_PORT="$(free_port)"
  (
    for limit in SEND_PER_ROOM SEND_PER_USER SIGNUP_PER_ADDRESS CREATE_ROOM_PER_USER LOGIN_PER_ADDRESS \
      SEND_BYTES_PER_USER MEMBERSHIP_PER_USER READS_PER_USER MARK_READ_PER_USER; do
      export "REDCHAT_LIMITS__${limit}__BURST=100000000" "REDCHAT_LIMITS__${limit}__PER_MINUTE=100000000"
    done
    # The load generator opens thousands of streams from a few accounts.
    export REDCHAT_LIMITS__STREAMS_PER_SESSION=100000000 \
      REDCHAT_LIMITS__STREAMS_PER_USER=100000000 REDCHAT_LIMITS__STREAMS_PER_ADDRESS=100000000
    export REDCHAT_REDIS__URL="$REDIS_URL" REDCHAT_REDIS__KEY_PREFIX="bench:" \
      REDCHAT_SESSION__COOKIE_SECURE=false RUST_LOG=warn \
      LEPTOS_OUTPUT_NAME=redchat LEPTOS_SITE_ROOT=target/site LEPTOS_SITE_PKG_DIR=pkg \
      LEPTOS_SITE_ADDR="127.0.0.1:$SERVER_PORT"
    exec target/release/redchat
  ) >"$WORK/server.log" 2>&1 &
  SERVER=$!
  for _ in $(seq 1 100); do
    curl -fs "http://127.0.0.1:$SERVER_PORT/healthz" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  die "the server did not start (see $WORK/server.log)"
}

CSV="$OUT/results.csv"
echo "series,clients,rate,deliveries_per_s,p50_ms,p99_ms,p999_ms,max_ms,lost,commands_per_send,server_cpu_s,per_stream_kib,failed_sends" >"$CSV"

# Appends one row from a load-generator report.
record() { # series clients rate report-file
  local file="$4" d p c cpu kib failed
  d="$(sed -n 's/^deliveries [0-9]* (\([0-9]*\)\/s).*/\1/p' "$file")"
  p="$(sed -n 's/^latency ms: p50 \([0-9.]*\)  p99 \([0-9.]*\)  p99.9 \([0-9.]*\)  max \([0-9.]*\)/\1,\2,\3,\4/p' "$file")"
  lost="$(sed -n 's/.*lost \([0-9]*\),.*/\1/p' "$file")"
  c="$(sed -n 's/.*CPU s, \([0-9.]*\) commands per sent message.*/\1/p' "$file")"
  cpu="$(sed -n 's/^server: \([0-9.]*\) CPU s.*/\1/p' "$file")"
  kib="$(sed -n 's/.*, \([0-9.]*\) KiB per \(stream\|connection\).*/\1/p' "$file" | tail -1)"
  failed="$(sed -n 's/^sent .*(\([0-9]*\) failed.*/\1/p' "$file")"
  echo "$1,$2,$3,${d:-},${p:-,,,},${lost:-},${c:-},${cpu:-},${kib:-},${failed:-}" >>"$CSV"
}

run() { # label file args...: runs the load generator, shows its report
  local label="$1" file="$2"
  shift 2
  say "$label"
  if ! "$LOADGEN" "$@" >"$file" 2>&1; then
    cat "$file"
    die "the run failed: $label"
  fi
  grep -E '^(sent|deliveries|latency|server|redis|baseline|idle)' "$file" || true
}

say "1. latency against load (1,000 streams, 100 people, 20 rooms, ${SECONDS_PER_RUN} s per run)"
for rate in $RATES; do
  start_server
  run "Redchat at $rate/s" "$WORK/r.txt" --url "http://127.0.0.1:$SERVER_PORT" --server-pid "$SERVER" \
    --redis-url "$REDIS_URL" --users 100 --rooms 20 --clients 1000 --rate "$rate" --seconds "$SECONDS_PER_RUN" \
    --tolerate-failed-sends yes
  record redchat 1000 "$rate" "$WORK/r.txt"
  start_bare
  run "baseline (b) at $rate/s" "$WORK/b.txt" --url "$BARE_URL" --server-pid "$SERVER" \
    --users 100 --rooms 20 --clients 1000 --rate "$rate" --seconds "$SECONDS_PER_RUN" \
    --tolerate-failed-sends yes
  record bare 1000 "$rate" "$WORK/b.txt"
  run "baseline (a) at $rate/s" "$WORK/a.txt" --baseline redis --redis-url "$REDIS_URL" --rooms 20 \
    --rate "$rate" --seconds "$SECONDS_PER_RUN"
  record redis 1 "$rate" "$WORK/a.txt"
done

say "2. deliveries per second against streams (200 people, 20 rooms, 20 sends/s)"
for clients in $CLIENT_COUNTS; do
  start_server
  run "Redchat, $clients streams" "$WORK/r.txt" --url "http://127.0.0.1:$SERVER_PORT" --server-pid "$SERVER" \
    --redis-url "$REDIS_URL" --users 200 --rooms 20 --clients "$clients" --rate 20 --seconds "$SECONDS_PER_RUN"
  record redchat-clients "$clients" 20 "$WORK/r.txt"
  start_bare
  run "baseline (b), $clients streams" "$WORK/b.txt" --url "$BARE_URL" --server-pid "$SERVER" \
    --users 200 --rooms 20 --clients "$clients" --rate 20 --seconds "$SECONDS_PER_RUN"
  record bare-clients "$clients" 20 "$WORK/b.txt"
done

IDLE="${BENCH_IDLE:-10000}"
[ -z "${BENCH_QUICK:-}" ] || IDLE=1000
say "3. memory per idle stream ($IDLE streams)"
start_server
run "Redchat, $IDLE idle streams" "$WORK/r.txt" --url "http://127.0.0.1:$SERVER_PORT" --server-pid "$SERVER" \
  --users 2 --rooms 1 --clients 2 --rate 10 --seconds 1 --idle-streams "$IDLE"
record redchat-idle "$IDLE" 0 "$WORK/r.txt"
stop_server
run "baseline (b), $IDLE idle streams" "$WORK/b.txt" --baseline bare-idle --clients "$IDLE"
record bare-idle "$IDLE" 0 "$WORK/b.txt"
run "baseline (c), $IDLE idle sockets" "$WORK/c.txt" --baseline idle --clients "$IDLE"
record socket-idle "$IDLE" 0 "$WORK/c.txt"

mkdir -p docs/bench
cp "$CSV" docs/bench/results.csv
python3 scripts/plot.py docs/bench/results.csv docs/img
say "results: docs/bench/results.csv; plots: docs/img/latency-vs-load.svg, docs/img/deliveries-vs-streams.svg"
column -s, -t "$CSV"
