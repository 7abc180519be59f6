# Installs what Redchat's dev and test commands need, only when missing.
# Sourced by scripts/dev.sh and scripts/test.sh; `ensure_tools dev|test`.
#
# Debian/Ubuntu: apt-get (with sudo when not root). Elsewhere, it says what
# to install by hand. Re-running with everything present takes a second.

CARGO_LEPTOS_VERSION="0.3.10"
PROJECT_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PATH="$HOME/.cargo/bin:$PROJECT_ROOT/end2end/node_modules/.bin:$PATH"

say() { printf '\033[1;34m==>\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31merror:\033[0m %s\n' "$*" >&2; exit 1; }

# The wasm-bindgen version pinned in Cargo.toml; the CLI must match it exactly.
wasm_bindgen_version() {
  sed -n 's/^wasm-bindgen = .*"=\([0-9.]*\)".*/\1/p' "$PROJECT_ROOT/Cargo.toml" | head -n 1
}

apt_install() {
  local missing=("$@")
  [ ${#missing[@]} -eq 0 ] && return 0
  if ! command -v apt-get >/dev/null 2>&1; then
    die "please install these by hand, then re-run: ${missing[*]}
  (Debian package names; e.g. Homebrew: redis, chromium, node)"
  fi
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || die "need root or sudo to apt-get install ${missing[*]}"
    sudo="sudo"
  fi
  say "apt-get install ${missing[*]}"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

ensure_system_packages() {
  local mode="$1" missing=()
  command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
  command -v redis-sentinel >/dev/null 2>&1 || missing+=(redis-sentinel)
  command -v redis-cli >/dev/null 2>&1 || missing+=(redis-tools)
  # The TLS test makes a throwaway certificate authority with it.
  command -v openssl >/dev/null 2>&1 || missing+=(openssl)
  command -v curl >/dev/null 2>&1 || missing+=(curl)
  # A C toolchain and a full perl: rustc links with cc, and cargo-leptos
  # builds a vendored OpenSSL.
  command -v cc >/dev/null 2>&1 || missing+=(build-essential)
  perl -MIPC::Cmd -e1 >/dev/null 2>&1 || missing+=(perl)
  command -v node >/dev/null 2>&1 || missing+=(nodejs)
  command -v npm >/dev/null 2>&1 || missing+=(npm)
  if [ "$mode" = test ]; then
    [ -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ] || missing+=(chromium)
  fi
  apt_install "${missing[@]}"
  local node_major
  node_major="$(node -p 'process.versions.node.split(".")[0]')"
  if [ "$node_major" -lt 20 ]; then
    die "Node.js $node_major is too old: Playwright needs Node.js 20 or newer (e.g. from NodeSource)"
  fi
}

# Output is captured before grep: `cmd | grep -q` under pipefail can fail
# when grep exits early and cmd dies of SIGPIPE.
has_line() {
  local output="$1" pattern="$2"
  grep -q -- "$pattern" <<<"$output"
}

ensure_rust_tools() {
  command -v rustup >/dev/null 2>&1 && command -v cargo >/dev/null 2>&1 ||
    die "Rust is missing: install it with rustup (https://rustup.rs), then re-run"
  local installed
  installed="$(rustup target list --installed 2>/dev/null || true)"
  if ! has_line "$installed" '^wasm32-unknown-unknown$'; then
    say "rustup target add wasm32-unknown-unknown"
    rustup target add wasm32-unknown-unknown
  fi
  installed="$(rustup component list --installed 2>/dev/null || true)"
  has_line "$installed" '^clippy' || rustup component add clippy
  has_line "$installed" '^rustfmt' || rustup component add rustfmt

  if ! has_line "$(cargo leptos --version 2>/dev/null || true)" "$CARGO_LEPTOS_VERSION"; then
    say "cargo install cargo-leptos@$CARGO_LEPTOS_VERSION (a one-time build of several minutes)"
    # Its release profile asks for fat LTO and one codegen unit, which triples
    # the build time for a tool whose speed does not matter here.
    CARGO_PROFILE_RELEASE_LTO=off CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 CARGO_PROFILE_RELEASE_OPT_LEVEL=1 \
      cargo install "cargo-leptos@$CARGO_LEPTOS_VERSION" --locked --features no_downloads
  fi

  local wbg
  wbg="$(wasm_bindgen_version)"
  [ -n "$wbg" ] || die "Cargo.toml must pin wasm-bindgen to an exact version (=X.Y.Z)"
  if ! has_line "$(wasm-bindgen --version 2>/dev/null || true)" " $wbg\$"; then
    say "cargo install wasm-bindgen-cli $wbg (must match the wasm-bindgen crate)"
    # Without --locked: its lock file pins crates that no longer build here.
    cargo install wasm-bindgen-cli --version "$wbg"
  fi
}

# The end2end npm packages, including binaryen, whose wasm-opt cargo-leptos
# uses for release builds (Debian's older binaryen produces WASM that fails
# to start in Chromium).
ensure_npm_packages() {
  local dir="$PROJECT_ROOT/end2end"
  if [ ! -d "$dir/node_modules" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
    say "npm ci in end2end/"
    (cd "$dir" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
  fi
}

ensure_tools() {
  local mode="${1:-dev}"
  ensure_system_packages "$mode"
  ensure_rust_tools
  ensure_npm_packages
}

# The site address cargo-leptos serves on, from Cargo.toml.
site_addr() {
  sed -n 's/^site-addr *= *"\(.*\)".*/\1/p' "$PROJECT_ROOT/Cargo.toml" | head -n 1
}

# A free TCP port on 127.0.0.1.
free_port() {
  local port
  for _ in $(seq 1 50); do
    port=$(( (RANDOM % 20000) + 20000 ))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return 0
    fi
  done
  die "no free port found"
}

# Starts a redis-server in the background: start_redis PORT DIR [extra args].
# Prints nothing; sets REDIS_PID. Waits until it answers.
start_redis() {
  local port="$1" dir="$2"
  shift 2
  mkdir -p "$dir"
  redis-server --port "$port" --bind 127.0.0.1 --dir "$dir" --daemonize no "$@" \
    >"$dir/redis.log" 2>&1 &
  REDIS_PID=$!
  for _ in $(seq 1 100); do
    redis-cli -p "$port" ping >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  cat "$dir/redis.log" >&2
  die "redis-server did not start on port $port"
}

stop_redis() {
  if [ -n "${REDIS_PID:-}" ] && kill -0 "$REDIS_PID" 2>/dev/null; then
    kill "$REDIS_PID" 2>/dev/null || true
    wait "$REDIS_PID" 2>/dev/null || true
  fi
  REDIS_PID=""
}
