#!/usr/bin/env bash
# Local Redis topologies on loopback, for development and failover tests.
#
#   scripts/redis-topology.sh sentinel start|stop|status
#       one primary + two replicas + three sentinels (master name "redchat",
#       down-after-milliseconds 1000, so a failover takes a few seconds)
#   scripts/redis-topology.sh cluster start|stop|status
#       six nodes: three primaries, three replicas (cluster-node-timeout 1000);
#       REDCHAT_CLUSTER_REPLICAS=2 gives each primary two replicas (nine nodes)
#
# Ports come from REDCHAT_TOPOLOGY_BASE_PORT (default 7100): sentinel uses
# base..base+2 for the data nodes and base+10..base+12 for the sentinels;
# cluster uses base+20..base+25 (base+28 with two replicas each). `start` refuses ports where something
# already answers. Everything lives in $REDCHAT_TOPOLOGY_DIR/<topology>/
# (default .redchat/; one directory per node) and is removed by `stop`.
# Nothing else is touched: `stop` only signals the processes whose pid
# files it wrote.
#
# The app's settings for each (docs/scaling.md):
#   sentinel: REDCHAT_REDIS__TOPOLOGY=sentinel REDCHAT_REDIS__MASTER_NAME=redchat
#             REDCHAT_REDIS__SENTINELS=redis://127.0.0.1:7110,redis://127.0.0.1:7111,redis://127.0.0.1:7112
#   cluster:  REDCHAT_REDIS__TOPOLOGY=cluster
#             REDCHAT_REDIS__CLUSTER_NODES=redis://127.0.0.1:7120,redis://127.0.0.1:7121,redis://127.0.0.1:7122
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"

BASE="${REDCHAT_TOPOLOGY_BASE_PORT:-7100}"
ROOT="${REDCHAT_TOPOLOGY_DIR:-$PROJECT_ROOT/.redchat}"

free_or_die() { # port
  if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then
    die "port $1 is in use; choose another REDCHAT_TOPOLOGY_BASE_PORT"
  fi
}

node() { # dir port [extra redis-server args]
  local dir="$1" port="$2"
  shift 2
  free_or_die "$port"
  [ -z "${CLUSTER_BUS:-}" ] || free_or_die $((port + 10000))
  mkdir -p "$dir"
  redis-server --port "$port" --bind 127.0.0.1 --dir "$dir" --daemonize yes \
    --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" \
    --appendonly yes --appendfsync everysec --save "" --repl-diskless-sync-delay 0 "$@"
  for _ in $(seq 1 100); do
    redis-cli -p "$port" ping >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  die "redis on port $port did not start (see $dir/redis.log)"
}

stop_all() { # root
  local dir="$1" pid pids=()
  [ -d "$dir" ] || return 0
  for pidfile in "$dir"/*/redis.pid; do
    [ -f "$pidfile" ] || continue
    pid="$(cat "$pidfile")"
    pids+=("$pid")
    kill "$pid" 2>/dev/null || true
  done
  # Wait for them to exit before removing their directories: a primary
  # first waits (up to 10 s) for lagging replicas, and a node that then
  # cannot write its cluster config into a removed directory aborts its
  # shutdown and keeps running. Whatever is left after 15 s is killed.
  for _ in $(seq 1 150); do
    local alive=0
    for pid in "${pids[@]}"; do
      kill -0 "$pid" 2>/dev/null && alive=1
    done
    [ "$alive" = 0 ] && break
    sleep 0.1
  done
  for pid in "${pids[@]}"; do
    kill -9 "$pid" 2>/dev/null || true
  done
  rm -rf "$dir"
}

wait_for() { # what command: waits up to 20 s for the command to succeed
  for _ in $(seq 1 200); do
    eval "$2" && return 0
    sleep 0.1
  done
  die "timed out waiting for $1"
}

in_sync() { # primary-port replicas: waits until that many replicas are online
  for _ in $(seq 1 200); do
    [ "$(redis-cli -p "$1" info replication 2>/dev/null | grep -c 'state=online')" -ge "$2" ] && return 0
    sleep 0.1
  done
  die "the replicas of 127.0.0.1:$1 did not come in sync"
}

sentinel_start() {
  local dir="$ROOT/sentinel" primary=$BASE
  node "$dir/node0" "$primary"
  node "$dir/node1" $((BASE + 1)) --replicaof 127.0.0.1 "$primary"
  node "$dir/node2" $((BASE + 2)) --replicaof 127.0.0.1 "$primary"
  for i in 0 1 2; do
    local port=$((BASE + 10 + i)) sdir="$dir/sentinel$i"
    free_or_die "$port"
    mkdir -p "$sdir"
    cat >"$sdir/sentinel.conf" <<CONF
port $port
bind 127.0.0.1
dir $sdir
pidfile $sdir/redis.pid
logfile $sdir/redis.log
daemonize yes
sentinel monitor redchat 127.0.0.1 $primary 2
sentinel down-after-milliseconds redchat 1000
sentinel failover-timeout redchat 2000
sentinel parallel-syncs redchat 1
CONF
    redis-sentinel "$sdir/sentinel.conf"
  done
  wait_for "the sentinels to see both replicas" \
    "[ \"\$(redis-cli -p $((BASE + 10)) sentinel replicas redchat 2>/dev/null | grep -c '^name\$')\" -ge 2 ]"
  wait_for "the sentinels to reach their quorum" \
    "redis-cli -p $((BASE + 10)) sentinel ckquorum redchat 2>/dev/null | grep -q '^OK'"
  in_sync "$primary" 2
  say "sentinel: primary 127.0.0.1:$primary, replicas :$((BASE + 1)) :$((BASE + 2)), sentinels :$((BASE + 10))-$((BASE + 12)), master name redchat"
}

sentinel_status() {
  redis-cli -p $((BASE + 10)) sentinel get-master-addr-by-name redchat
}

cluster_start() {
  local dir="$ROOT/cluster" nodes=() replicas="${REDCHAT_CLUSTER_REPLICAS:-1}"
  for i in $(seq 0 $((3 * (1 + replicas) - 1))); do
    local port=$((BASE + 20 + i))
    CLUSTER_BUS=1 node "$dir/node$i" "$port" --cluster-enabled yes \
      --cluster-config-file "$dir/node$i/nodes.conf" --cluster-node-timeout 1000
    nodes+=("127.0.0.1:$port")
  done
  redis-cli --cluster create "${nodes[@]}" --cluster-replicas "$replicas" --cluster-yes >"$dir/create.log"
  wait_for "the cluster to be ok" \
    "redis-cli -p $((BASE + 20)) cluster info 2>/dev/null | grep -q 'cluster_state:ok'"
  local port primaries
  primaries="$(redis-cli -p $((BASE + 20)) cluster nodes | awk '/master/ { split($2, a, "[:@]"); print a[2] }')"
  [ "$(wc -w <<<"$primaries")" -eq 3 ] || die "expected three cluster primaries, got: $primaries"
  for port in $primaries; do
    in_sync "$port" "$replicas"
  done
  say "cluster: seed nodes ${nodes[*]}"
}

cluster_status() {
  redis-cli -p $((BASE + 20)) cluster info | grep -E 'cluster_state|cluster_known_nodes|cluster_size'
}

# A start that fails halfway stops what it started (and only that).
case "${2:-}" in
  start)
    [ ! -e "$ROOT/${1:-}" ] || die "$ROOT/$1 exists: a $1 topology runs there; stop it first"
    trap 'status=$?; [ "$status" -eq 0 ] || stop_all "$ROOT/$1"' EXIT
    ;;
esac

case "${1:-}:${2:-}" in
  sentinel:start) sentinel_start ;;
  sentinel:stop) stop_all "$ROOT/sentinel" ;;
  sentinel:status) sentinel_status ;;
  cluster:start) cluster_start ;;
  cluster:stop) stop_all "$ROOT/cluster" ;;
  cluster:status) cluster_status ;;
  *) die "usage: $0 sentinel|cluster start|stop|status" ;;
esac
