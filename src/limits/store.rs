//! Rate limiting with GCRA (the generic cell rate algorithm) in one Lua
//! script.
//!
//! Each limiter key holds one number: the "theoretical arrival time" (TAT),
//! in milliseconds of Redis's clock, at which the limiter would be empty
//! again. An action costs one interval (`60 000 / per_minute` ms); it is
//! allowed when, after paying, the TAT is no more than `burst` intervals
//! ahead of now. So `burst` actions may come at once, then one per interval.
//! Compared with a fixed-window counter it has no window edge at which twice
//! the rate slips through, and compared with a token bucket it stores one
//! number instead of two.
//!
//! Several limits (per room and per user, say) are checked together: all
//! are paid or none. The keys expire when their TAT passes, so an idle
//! limiter costs nothing. Redis's `TIME` is the clock, so the servers'
//! clocks do not matter, and the script runs atomically, so fifty
//! concurrent sends through any number of processes admit exactly the
//! burst.

use std::net::SocketAddr;
use std::sync::LazyLock;

use axum::extract::ConnectInfo;
use axum::http::HeaderMap;
use redis::Script;

use crate::error::{AppError, AppResult};
use crate::server::config::Rate;
use crate::server::state::AppState;

/// The GCRA functions in Lua, shared by the limits script below and the send
/// script (`messages::store`), which pays the send limits in the same
/// script that stores the message. `clock()` is Redis's time in ms;
/// `take(limiters, now)` pays on every `{key, interval ms, burst, cost}`,
/// or on none, and returns 0 or the milliseconds to wait. `cost` is how
/// many intervals the action costs (one if left out): the send script's
/// byte budget counts a message's bytes, so `burst` is bytes there.
pub(crate) const GCRA_LUA: &str = r"
local function clock()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function take(limiters, now)
  local wait = 0
  local tats = {}
  for i, limiter in ipairs(limiters) do
    local interval, burst = limiter[2], limiter[3]
    local tat = tonumber(redis.call('GET', limiter[1]) or now)
    if tat < now then tat = now end
    local new_tat = tat + interval * (limiter[4] or 1)
    local allowed_at = new_tat - burst * interval
    if allowed_at > now then wait = math.max(wait, allowed_at - now) end
    tats[i] = new_tat
  end
  if wait > 0 then return math.ceil(wait) end
  for i, limiter in ipairs(limiters) do
    redis.call('SET', limiter[1], string.format('%d', tats[i]), 'PX', math.max(1, math.ceil(tats[i] - now)))
  end
  return 0
end
";

/// Pays for one action on every key, or on none; returns 0 when allowed,
/// else the milliseconds until it would be.
static GCRA: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        "{GCRA_LUA}{}",
        r"
-- KEYS: limiter keys. ARGV[1] 'take' or 'refund'; then for each
-- key its interval (ms) and burst.
local now = clock()
if ARGV[1] == 'refund' then
  for i, key in ipairs(KEYS) do
    local tat = tonumber(redis.call('GET', key))
    if tat then
      local back = tat - tonumber(ARGV[2 * i])
      if back > now then
        redis.call('SET', key, string.format('%d', back), 'PX', math.ceil(back - now))
      else
        redis.call('DEL', key)
      end
    end
  end
  return 0
end
local limiters = {}
for i, key in ipairs(KEYS) do
  limiters[i] = {key, tonumber(ARGV[2 * i]), tonumber(ARGV[2 * i + 1])}
end
return take(limiters, now)
"
    ))
});

/// A limiter's interval in milliseconds (one action's cost).
pub(crate) fn interval_ms(rate: &Rate) -> u64 {
    (60_000.0 / rate.per_minute).ceil().max(1.0) as u64
}

/// A byte budget's interval: milliseconds per byte, fractional (the budget
/// is counted in bytes, and an interval of a whole millisecond per byte
/// would cap it at 60,000 bytes a minute).
pub(crate) fn byte_interval_ms(rate: &Rate) -> f64 {
    60_000.0 / rate.per_minute
}

/// One limiter: what it counts, and for whom.
pub(crate) enum Limit<'a> {
    /// Failed sign-ins to one account (by normalized email) from one address.
    LoginFailure { email: &'a str, address: &'a str },
    /// Failed sign-ins to one account from anywhere.
    AccountLoginFailure { email: &'a str },
    /// Sign-in attempts from one address.
    Login { address: &'a str },
    /// Sign-ups from one address.
    Signup { address: &'a str },
    /// A user's messages in all rooms. The send script pays it itself;
    /// named here only so that, on a cluster, a send refused after its
    /// gate script paid it can be given back.
    Send { user_id: &'a str },
    /// The bytes of a user's messages in all rooms (paid by the send
    /// script beside `Send`, and given back with it on a cluster).
    SendBytes { user_id: &'a str, bytes: usize },
    /// Invitations sent by a user.
    Invite { user_id: &'a str },
    /// Rooms created by a user.
    CreateRoom { user_id: &'a str },
    /// A user's calls of one kind (see [`PerUser`]).
    PerUser { kind: PerUser, user_id: &'a str },
}

/// The per-user limits that endpoints pay on every call, by kind of call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PerUser {
    Membership,
    Typing,
    Read,
    MarkRead,
    Account,
    /// `edit_message`, `delete_message`.
    Edit,
    /// `react`.
    React,
    /// `search`.
    Search,
}

impl PerUser {
    /// This kind's limiter for one user.
    pub(crate) fn of(self, user_id: &str) -> Limit<'_> {
        Limit::PerUser {
            kind: self,
            user_id,
        }
    }

    /// The limiter's name in its key, `{p}limit:{u:<user id>}:<name>`.
    fn name(self) -> &'static str {
        match self {
            Self::Membership => "membership",
            Self::Typing => "typing",
            Self::Read => "read",
            Self::MarkRead => "mark_read",
            Self::Account => "account",
            Self::Edit => "edit",
            Self::React => "react",
            Self::Search => "search",
        }
    }

    fn rate(self, limits: &crate::server::config::LimitSettings) -> Rate {
        match self {
            Self::Membership => limits.membership_per_user,
            Self::Typing => limits.typing_per_user,
            Self::Read => limits.reads_per_user,
            Self::MarkRead => limits.mark_read_per_user,
            Self::Account => limits.account_per_user,
            Self::Edit => limits.edits_per_user,
            Self::React => limits.reactions_per_user,
            Self::Search => limits.searches_per_user,
        }
    }
}

impl Limit<'_> {
    /// The key (see `Keys::limit`) and the configured rate.
    fn key_and_rate(&self, state: &AppState) -> (String, Rate) {
        let limits = &state.settings.limits;
        let keys = &state.keys;
        match self {
            Self::LoginFailure { email, address } => (
                keys.limit(&format!("e:{email}"), &format!("login_failures:{address}")),
                limits.login_failures_per_account,
            ),
            Self::AccountLoginFailure { email } => (
                keys.limit(&format!("e:{email}"), "login_failures"),
                limits.login_failures_per_account_total,
            ),
            Self::Login { address } => (
                keys.limit(&format!("a:{address}"), "login"),
                limits.login_per_address,
            ),
            Self::Signup { address } => (
                keys.limit(&format!("a:{address}"), "signup"),
                limits.signup_per_address,
            ),
            Self::Send { user_id } => (keys.user_send_limit(user_id), limits.send_per_user),
            Self::SendBytes { user_id, .. } => (
                keys.user_send_bytes_limit(user_id),
                limits.send_bytes_per_user,
            ),
            Self::Invite { user_id } => (
                keys.limit(&format!("u:{user_id}"), "invite"),
                limits.invite_per_user,
            ),
            Self::CreateRoom { user_id } => (
                keys.limit(&format!("u:{user_id}"), "create_room"),
                limits.create_room_per_user,
            ),
            Self::PerUser { kind, user_id } => (
                keys.limit(&format!("u:{user_id}"), kind.name()),
                kind.rate(limits),
            ),
        }
    }
}

/// Pays for one action under every limit, or answers 429 (paying nothing)
/// when any of them is exhausted. Errors reaching Redis are errors: a limit
/// that cannot be checked is not passed (it fails closed).
pub(crate) async fn take(state: &AppState, limits: &[Limit<'_>]) -> AppResult<()> {
    run(state, "take", limits).await
}

/// Gives back what [`take`] paid, for actions that only count when they
/// fail (a sign-in pays before the password is checked, so that guesses
/// sent all at once cannot slip past the limit, and is refunded when the
/// password was right).
pub(crate) async fn give_back(state: &AppState, limits: &[Limit<'_>]) -> AppResult<()> {
    run(state, "refund", limits).await
}

async fn run(state: &AppState, mode: &str, limits: &[Limit<'_>]) -> AppResult<()> {
    let mut invocation = GCRA.prepare_invoke();
    invocation.arg(mode);
    for limit in limits {
        let (key, rate) = limit.key_and_rate(state);
        match limit {
            // An action of `bytes` costs that many byte intervals: the same
            // as one action of a `bytes`-times-longer interval against a
            // burst that many times smaller.
            Limit::SendBytes { bytes, .. } => {
                let bytes = (*bytes).max(1) as f64;
                invocation
                    .key(key)
                    .arg(byte_interval_ms(&rate) * bytes)
                    .arg(f64::from(rate.burst) / bytes)
            }
            _ => invocation.key(key).arg(interval_ms(&rate)).arg(rate.burst),
        };
    }
    let wait_ms: u64 = invocation.invoke_async(&mut state.redis()).await?;
    if wait_ms == 0 {
        return Ok(());
    }
    Err(AppError::too_many_requests(wait_ms))
}

/// The client's address: the socket's peer, or, when a trusted proxy header
/// is configured, the last address that proxy appended to it.
pub(crate) async fn client_address(state: &AppState) -> String {
    match leptos_axum::extract::<(ConnectInfo<SocketAddr>, HeaderMap)>().await {
        Ok((ConnectInfo(peer), headers)) => address_of(state, peer, &headers),
        // Served without connection info (never in this app): one shared
        // bucket rather than none.
        Err(_) => "unknown".into(),
    }
}

/// [`client_address`] for a plain axum handler, from the socket's peer and
/// the request's headers.
pub(crate) fn address_of(state: &AppState, peer: SocketAddr, headers: &HeaderMap) -> String {
    let header = &state.settings.limits.trusted_proxy_header;
    if !header.is_empty() {
        let forwarded = headers
            .get_all(header.as_str())
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .map(str::trim)
            .rfind(|value| !value.is_empty());
        if let Some(address) = forwarded {
            return match address.parse::<std::net::IpAddr>() {
                Ok(ip) => address_subject(ip),
                Err(_) => address.chars().take(64).collect(),
            };
        }
    }
    address_subject(peer.ip())
}

/// What a per-address limit counts: an IPv4 address, or an IPv6 address's
/// /64 network (one ordinary IPv6 client owns a whole /64, and could
/// otherwise send each request from a new address).
fn address_subject(ip: std::net::IpAddr) -> String {
    match ip {
        std::net::IpAddr::V4(v4) => v4.to_string(),
        std::net::IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_addresses_count_by_their_64_bit_network() {
        let a: std::net::IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: std::net::IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        assert_eq!(address_subject(a), address_subject(b));
        assert_eq!(address_subject(a), "2001:db8:1:2::/64");
        let mapped: std::net::IpAddr = "::ffff:10.1.2.3".parse().unwrap();
        assert_eq!(address_subject(mapped), "10.1.2.3");
        assert_eq!(address_subject("10.1.2.3".parse().unwrap()), "10.1.2.3");
    }
}
