//! Caps on open event streams: per session, per user and per client
//! address, counted in Redis so that every server process shares one count.
//!
//! Each open stream holds a lease in two sorted sets, scored with the time
//! (ms, Redis clock) the lease runs out:
//!
//! - `{p}user:{id}:streams`: the user's streams, as `<session handle>|<stream
//!   id>`, so one read of this small set (at most `streams_per_user`
//!   entries) counts both the user's streams and the session's;
//! - `{p}addr:{address}:streams`: the streams opened from one address.
//!
//! A stream's presence heartbeat renews its leases; a stream that ends gives
//! them back at once; a crashed process's leases run out after
//! [`LEASE`]. The two sets live in different cluster slots, so opening is
//! two scripts: the user's first, then the address's, which, when it
//! refuses, takes the user's lease back.

use std::sync::LazyLock;
use std::time::Duration;

use redis::Script;

use crate::error::{AppError, AppResult};
use crate::server::state::AppState;

/// How long a lease counts without renewal: three missed heartbeats.
pub(crate) const LEASE: Duration = Duration::from_secs(45);

/// What a refused stream is told to wait before trying again: about when
/// a closed tab's lease is surely gone.
const RETRY_AFTER_SECS: u64 = 15;

/// Takes a lease on the user's set, unless the user or the session is at
/// its cap. Replies 'ok', 'session' or 'user'.
static TAKE_USER: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
-- KEYS[1] the user's streams; ARGV[1] member (session|stream),
-- ARGV[2] session prefix (session|), ARGV[3] per session, ARGV[4] per user,
-- ARGV[5] lease ms
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local all = redis.call('ZRANGE', KEYS[1], 0, -1)
if #all >= tonumber(ARGV[4]) then return 'user' end
local mine = 0
for _, member in ipairs(all) do
  if string.sub(member, 1, #ARGV[2]) == ARGV[2] then mine = mine + 1 end
end
if mine >= tonumber(ARGV[3]) then return 'session' end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[5]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 'ok'
",
    )
});

/// Takes a lease on the address's set, unless it is at its cap. Replies 1
/// (taken) or 0.
static TAKE_ADDRESS: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
-- KEYS[1] the address's streams; ARGV[1] stream id, ARGV[2] cap,
-- ARGV[3] lease ms
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
",
    )
});

/// Pushes a lease's expiry forward if it is still held (`XX`: a lease
/// pruned as expired is not brought back), and the key's with it.
static RENEW: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
-- KEYS[1] a streams set; ARGV[1] member, ARGV[2] lease ms
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local renewed = redis.call('ZADD', KEYS[1], 'XX', 'CH', now + tonumber(ARGV[2]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return renewed
",
    )
});

/// One open stream's leases; renewed by the stream's heartbeat and given
/// back with [`StreamLease::release`] when the stream ends.
pub(crate) struct StreamLease {
    user_key: String,
    user_member: String,
    address_key: String,
    stream_id: String,
}

fn lease_ms() -> u64 {
    u64::try_from(LEASE.as_millis()).unwrap_or(u64::MAX)
}

/// Takes a lease for a new stream of this user, session and address, or
/// answers 429 (with `Retry-After`) when any of the three is at its cap.
pub(crate) async fn acquire(
    state: &AppState,
    user_id: &str,
    session_handle: &str,
    address: &str,
) -> AppResult<StreamLease> {
    let caps = &state.settings.limits;
    let keys = &state.keys;
    let stream_id = uuid::Uuid::new_v4().simple().to_string();
    let lease = StreamLease {
        user_key: keys.user_streams(user_id),
        user_member: format!("{session_handle}|{stream_id}"),
        address_key: keys.address_streams(address),
        stream_id,
    };
    let outcome: String = TAKE_USER
        .key(&lease.user_key)
        .arg(&lease.user_member)
        .arg(format!("{session_handle}|"))
        .arg(caps.streams_per_session)
        .arg(caps.streams_per_user)
        .arg(lease_ms())
        .invoke_async(&mut state.redis())
        .await?;
    let refused = |whose: &str, cap: u32| {
        crate::server::metrics::METRICS.streams_refused.inc();
        AppError::TooManyRequests {
            message: format!(
                "Too many open event streams for this {whose} (at most {cap}); close a tab and try again."
            ),
            retry_after_secs: RETRY_AFTER_SECS,
        }
    };
    match outcome.as_str() {
        "ok" => {}
        "session" => return Err(refused("session", caps.streams_per_session)),
        _ => return Err(refused("account", caps.streams_per_user)),
    }
    let taken: i64 = TAKE_ADDRESS
        .key(&lease.address_key)
        .arg(&lease.stream_id)
        .arg(caps.streams_per_address)
        .arg(lease_ms())
        .invoke_async(&mut state.redis())
        .await?;
    if taken == 0 {
        lease.release(state).await;
        return Err(refused("address", caps.streams_per_address));
    }
    Ok(lease)
}

impl StreamLease {
    /// Keeps the lease from running out (each heartbeat).
    pub(crate) async fn renew(&self, state: &AppState) {
        for (key, member) in [
            (&self.user_key, &self.user_member),
            (&self.address_key, &self.stream_id),
        ] {
            let renewed: Result<i64, _> = RENEW
                .key(key)
                .arg(member)
                .arg(lease_ms())
                .invoke_async(&mut state.redis())
                .await;
            if let Err(err) = renewed {
                tracing::warn!(%err, "could not renew an event stream's lease");
            }
        }
    }

    /// Gives the lease back (the stream ended).
    pub(crate) async fn release(&self, state: &AppState) {
        let redis = state.redis();
        let removed = futures::future::try_join(
            redis::cmd("ZREM")
                .arg(&self.user_key)
                .arg(&self.user_member)
                .query_async::<i64>(&mut redis.clone()),
            redis::cmd("ZREM")
                .arg(&self.address_key)
                .arg(&self.stream_id)
                .query_async::<i64>(&mut redis.clone()),
        )
        .await;
        if let Err(err) = removed {
            // It runs out on its own after `LEASE`.
            tracing::warn!(%err, "could not give back an event stream's lease");
        }
    }
}
