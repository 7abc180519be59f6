#!/usr/bin/env bash
# `make dev`: installs what is missing, makes sure Redis answers at the
# configured URL (starting a project-owned one under .redchat/ if not), then
# runs `cargo leptos watch`. Ctrl-C stops the app and the Redis it started.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
cd "$PROJECT_ROOT"

ensure_tools dev

# The configured Redis URL: the environment wins over the settings file.
settings_file="${REDCHAT_CONFIG:-Leptos.toml}"
configured_url=""
if [ -f "$settings_file" ]; then
  configured_url="$(sed -n 's/^url *= *"\(.*\)".*/\1/p' "$settings_file" | head -n 1)"
fi
REDIS_URL="${REDCHAT_REDIS__URL:-${configured_url:-redis://127.0.0.1:6380}}"

redis_answers() {
  REDISCLI_AUTH="${REDCHAT_REDIS_PASSWORD:-}" redis-cli \
    ${REDCHAT_REDIS_USERNAME:+--user "$REDCHAT_REDIS_USERNAME"} -u "$REDIS_URL" ping >/dev/null 2>&1
}

if redis_answers; then
  say "using the Redis at $REDIS_URL"
else
  hostport="${REDIS_URL#*://}"
  hostport="${hostport#*@}"
  hostport="${hostport%%/*}"
  case "$hostport" in
    *:*) host="${hostport%:*}" port="${hostport##*:}" ;;
    *) host="$hostport" port=6379 ;;
  esac
  case "$host" in
    127.0.0.1 | localhost) ;;
    *) die "no Redis answers at $REDIS_URL, and it is not local, so I will not start one" ;;
  esac
  data_dir="$PROJECT_ROOT/.redchat/redis"
  mkdir -p "$data_dir"
  # The project's own Redis: its port, its config, its data, persistence on
  # (append-only file, fsync every second).
  cat >"$data_dir/redis.conf" <<CONF
port $port
bind 127.0.0.1
protected-mode yes
dir "$data_dir"
appendonly yes
appendfsync everysec
save 3600 1 300 100 60 10000
CONF
  say "starting a project Redis on port $port (data in .redchat/redis)"
  redis-server "$data_dir/redis.conf" >"$data_dir/redis.log" 2>&1 &
  REDIS_PID=$!
  trap 'say "stopping the project Redis"; stop_redis' EXIT
  for _ in $(seq 1 100); do
    redis-cli -p "$port" ping >/dev/null 2>&1 && break
    sleep 0.1
  done
  redis-cli -p "$port" ping >/dev/null 2>&1 || die "the project Redis did not start; see .redchat/redis/redis.log"
fi

export REDCHAT_REDIS__URL="$REDIS_URL"
# Plain HTTP on loopback: a Secure cookie would never be sent back.
export REDCHAT_SESSION__COOKIE_SECURE="${REDCHAT_SESSION__COOKIE_SECURE:-false}"
say "Redchat will be at http://$(site_addr) (Ctrl-C to stop)"
cargo leptos watch
