#!/usr/bin/env bash
# `make test`: installs what is missing, then runs every check and test:
# formatting, clippy (server and browser builds), the Rust unit and
# integration tests (each starts its own redis-server), and the Playwright
# suite in Chromium against a release build with a Redis of its own.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
cd "$PROJECT_ROOT"

started=$SECONDS
step() {
  say "$* (at $((SECONDS - started))s)"
}

ensure_tools test

step "cargo fmt --check"
cargo fmt --all -- --check

step "clippy, server build (ssr)"
cargo clippy --features ssr --all-targets -- -D warnings

step "clippy, browser build (hydrate, wasm32)"
cargo clippy --lib --features hydrate --target wasm32-unknown-unknown -- -D warnings

step "Rust unit and integration tests"
cargo test --features ssr

step "integration tests again, against a Redis with the shipped ACL (deploy/redis)"
REDCHAT_TEST_REDIS_ACL=1 cargo test --features ssr --tests

# The same integration tests against a Sentinel set and a cluster, each
# started for this pass by scripts/redis-topology.sh on ports of its own and
# removed after it (tests that stop or inspect a whole server skip these
# passes: they would disturb the others; see needs_own_redis in tests/support).
TOPOLOGY_DIR="$(mktemp -d)"
export REDCHAT_TOPOLOGY_DIR="$TOPOLOGY_DIR" REDCHAT_TOPOLOGY_BASE_PORT=17100
stop_topologies() {
  scripts/redis-topology.sh sentinel stop || true
  scripts/redis-topology.sh cluster stop || true
  rm -rf "$TOPOLOGY_DIR"
}
trap stop_topologies EXIT
start_topology() { # kind: on the first base port whose range is free
  local base
  for base in 17100 17300 17500 17700 17900; do
    export REDCHAT_TOPOLOGY_BASE_PORT=$base
    scripts/redis-topology.sh "$1" start && return 0
  done
  die "no free port range for a $1 topology"
}
for topology in sentinel cluster; do
  step "integration tests again, against Redis $topology"
  start_topology "$topology"
  REDCHAT_TEST_TOPOLOGY="$topology" cargo test --features ssr --tests
  # Every test of the pass left its keys in this one topology: walk them.
  REDCHAT_TEST_TOPOLOGY="$topology" cargo test --features ssr --test api_security \
    after_the_whole_suite -- --ignored
  scripts/redis-topology.sh "$topology" stop
done

step "failover under load: Sentinel primary, cluster primary, app node (tests/failover.rs)"
# Their logs (a failover logs plenty) go to a file, shown in full on failure.
FAILOVER_LOG="$TOPOLOGY_DIR/failover.log"
if ! cargo test --features ssr --test failover -- --ignored --nocapture --test-threads 1 \
  >"$FAILOVER_LOG" 2>&1; then
  cat "$FAILOVER_LOG"
  die "the failover tests failed"
fi
grep -oE 'FIGURES.*|^test result.*' "$FAILOVER_LOG"

step "Playwright in Chromium against a release build"
E2E_DIR="$(mktemp -d)"
trap 'stop_redis; rm -rf "$E2E_DIR"; stop_topologies' EXIT
SITE_ADDR="$(site_addr)"
if (exec 3<>"/dev/tcp/${SITE_ADDR%:*}/${SITE_ADDR##*:}") 2>/dev/null; then
  die "$SITE_ADDR is in use (a dev server?); the browser tests serve there"
fi
export REDCHAT_BASE_URL="http://$SITE_ADDR"
E2E_REDIS_PORT="$(free_port)"
start_redis "$E2E_REDIS_PORT" "$E2E_DIR" --save "" --appendonly no
export REDCHAT_REDIS__URL="redis://127.0.0.1:$E2E_REDIS_PORT"
export REDCHAT_REDIS__KEY_PREFIX="e2e:"
export REDCHAT_SESSION__COOKIE_SECURE=false
# Every browser test signs people up from 127.0.0.1, and one sends 60
# messages in a row; after a burst of 70, a room takes one message per 10 s,
# so the "Slow down" test's refusal cannot expire while it looks.
export REDCHAT_LIMITS__SIGNUP_PER_ADDRESS__BURST=100000
export REDCHAT_LIMITS__LOGIN_PER_ADDRESS__BURST=100000
export REDCHAT_LIMITS__SEND_PER_ROOM__BURST=70
export REDCHAT_LIMITS__SEND_PER_ROOM__PER_MINUTE=6
export REDCHAT_LIMITS__SEND_PER_USER__BURST=1000
cargo leptos end-to-end --release

step "load generator smoke run (a few seconds; the real runs are in docs/performance.md)"
cargo build --release --features ssr --example loadgen
LOAD_PORT="$(free_port)"
(
  for limit in SEND_PER_ROOM SEND_PER_USER SIGNUP_PER_ADDRESS CREATE_ROOM_PER_USER \
    SEND_BYTES_PER_USER MEMBERSHIP_PER_USER READS_PER_USER MARK_READ_PER_USER; do
    export "REDCHAT_LIMITS__${limit}__BURST=100000" "REDCHAT_LIMITS__${limit}__PER_MINUTE=100000"
  done
  export REDCHAT_REDIS__KEY_PREFIX="load:" LEPTOS_SITE_ADDR="127.0.0.1:$LOAD_PORT" RUST_LOG=warn
  export LEPTOS_OUTPUT_NAME=redchat LEPTOS_SITE_ROOT=target/site LEPTOS_SITE_PKG_DIR=pkg
  target/release/redchat &
  server=$!
  trap 'kill $server 2>/dev/null; wait $server 2>/dev/null' EXIT
  for _ in $(seq 1 100); do
    curl -fs "http://127.0.0.1:$LOAD_PORT/healthz" >/dev/null 2>&1 && break
    sleep 0.1
  done
  target/release/examples/loadgen --url "http://127.0.0.1:$LOAD_PORT" --server-pid "$server" \
    --redis-url "$REDCHAT_REDIS__URL" --users 5 --rooms 2 --clients 20 --rate 20 --seconds 3
)

step "every key the browser tests and the load run left has a TTL or a documented bound"
REDCHAT_KEYSPACE_URL="$REDCHAT_REDIS__URL" cargo test --features ssr --test api_security \
  after_the_whole_suite -- --ignored

say "all checks passed in $((SECONDS - started))s"
