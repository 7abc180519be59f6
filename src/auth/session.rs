//! Who is signed in: the user id kept in the tower-sessions session.
//!
//! The session layer (see `router.rs`) handles the cookie and stores the
//! session; this module decides how long a session lives and does the
//! sign-in and sign-out steps. Other features authenticate with
//! [`require_user_id`].
//!
//! Revocation: each sign-in gets a handle, recorded in the user's
//! `{p}user:{id}:sessions` hash with where and when it signed in. Every
//! signed-in request checks that its handle is still there (one `HEXISTS`,
//! or, for `send_message`, inside its send script);
//! "sign out everywhere", revoking one session, or a password change
//! removes handles, and the sessions behind them are signed out on their
//! next request (their open event streams end at once).
//!
//! Lifetime: a session expires `inactivity` after its last use, and never
//! later than `absolute` after sign-in. tower-sessions saves a session only
//! when it changed, so "last use" is recorded here: a signed-in request
//! renews the expiry (one `SET XX EXAT` in Redis) when the last renewal is
//! more than [`RENEW_EVERY_SECS`] old, which bounds the writes to one a minute
//! per session however many requests it makes.

use std::time::{SystemTime, UNIX_EPOCH};

use tower_sessions::cookie::time::OffsetDateTime;
use tower_sessions::{Expiry, Session};

use super::model::SessionInfo;
use crate::error::{AppError, AppResult};
use crate::events::PersonalEvent;
use crate::server::sse::publish_personal;
use crate::server::state::AppState;

const USER_ID: &str = "user_id";
/// Names the sign-in in the user's session list.
const HANDLE: &str = "handle";
/// Unix seconds of the sign-in, for the absolute lifetime.
const SIGNED_IN_AT: &str = "signed_in_at";
/// Unix seconds of the last expiry renewal.
const RENEWED_AT: &str = "renewed_at";
/// How stale the last renewal may get before a request renews again.
pub(crate) const RENEW_EVERY_SECS: u64 = 60;

fn session_error(err: tower_sessions::session::Error) -> AppError {
    AppError::internal("session store failed", err)
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}

/// The request's session (the session layer puts it there).
pub(crate) async fn current() -> AppResult<Session> {
    leptos_axum::extract::<Session>()
        .await
        .map_err(|err| AppError::internal("session layer missing", err))
}

/// A session's sign-in, as the session record says: whose, which (the
/// handle in the user's list), and when.
pub(crate) struct SignIn {
    pub user_id: String,
    pub handle: String,
    signed_in_at: u64,
}

/// The session's sign-in, before the revocation check; `None` when signed
/// out. A session past its absolute lifetime is deleted here and counts as
/// signed out.
async fn sign_in_of(state: &AppState, session: &Session) -> AppResult<Option<SignIn>> {
    let Some(user_id) = session
        .get::<String>(USER_ID)
        .await
        .map_err(session_error)?
    else {
        return Ok(None);
    };
    let signed_in_at = stored_secs(session, SIGNED_IN_AT).await?;
    let expired =
        now_secs().saturating_sub(signed_in_at) >= state.settings.session.absolute().as_secs();
    match handle(session).await? {
        Some(handle) if !expired => Ok(Some(SignIn {
            user_id,
            handle,
            signed_in_at,
        })),
        _ => {
            session.flush().await.map_err(session_error)?;
            Ok(None)
        }
    }
}

/// Renews a live session's expiry, at most once a minute.
async fn keep_alive(state: &AppState, session: &Session, sign_in: &SignIn) -> AppResult<()> {
    let now = now_secs();
    let renewed_at = stored_secs(session, RENEWED_AT).await?;
    if now.saturating_sub(renewed_at) >= RENEW_EVERY_SECS {
        renew(state, session, sign_in.signed_in_at, now).await?;
        mark_seen(state, &sign_in.user_id, &sign_in.handle, now).await?;
    }
    Ok(())
}

/// The signed-in user's id, or `None`. A session past its absolute lifetime
/// or whose sign-in was revoked is deleted here and counts as signed out; a
/// live one is renewed.
pub(crate) async fn user_id(state: &AppState, session: &Session) -> AppResult<Option<String>> {
    let Some(sign_in) = sign_in_of(state, session).await? else {
        return Ok(None);
    };
    if !is_listed(state, &sign_in).await? {
        session.flush().await.map_err(session_error)?;
        return Ok(None);
    }
    keep_alive(state, session, &sign_in).await?;
    Ok(Some(sign_in.user_id))
}

/// Whether the sign-in is still in the user's list (not revoked).
async fn is_listed(state: &AppState, sign_in: &SignIn) -> AppResult<bool> {
    Ok(redis::cmd("HEXISTS")
        .arg(state.keys.user_sessions(&sign_in.user_id))
        .arg(&sign_in.handle)
        .query_async(&mut state.redis())
        .await?)
}

/// The session's handle (signed-in sessions have one).
pub(crate) async fn handle(session: &Session) -> AppResult<Option<String>> {
    session.get::<String>(HANDLE).await.map_err(session_error)
}

async fn stored_secs(session: &Session, key: &str) -> AppResult<u64> {
    Ok(session
        .get::<u64>(key)
        .await
        .map_err(session_error)?
        .unwrap_or(0))
}

/// Moves the expiry to `now + inactivity`, capped at `signed_in_at + absolute`,
/// so Redis itself forgets the session at the right time.
async fn renew(state: &AppState, session: &Session, signed_in_at: u64, now: u64) -> AppResult<()> {
    let settings = &state.settings.session;
    let expires_at =
        (now + settings.inactivity().as_secs()).min(signed_in_at + settings.absolute().as_secs());
    let expires_at =
        OffsetDateTime::from_unix_timestamp(i64::try_from(expires_at).unwrap_or(i64::MAX))
            .map_err(|err| AppError::internal("session expiry out of range", err))?;
    session.set_expiry(Some(Expiry::AtDateTime(expires_at)));
    session.insert(RENEWED_AT, now).await.map_err(session_error)
}

/// Records in the session list when a sign-in was last used (at most once
/// a minute, with the renewal), so the list can leave out sessions that
/// ended from inactivity.
static MARK_SEEN: std::sync::LazyLock<redis::Script> = std::sync::LazyLock::new(|| {
    redis::Script::new(
        r"
-- KEYS[1] sessions hash; ARGV[1] handle, ARGV[2] unix seconds
local json = redis.call('HGET', KEYS[1], ARGV[1])
if not json then return 0 end
local info = cjson.decode(json)
info.last_seen = tonumber(ARGV[2])
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(info))
return 1
",
    )
});

async fn mark_seen(state: &AppState, user_id: &str, handle: &str, now: u64) -> AppResult<()> {
    let _: i64 = MARK_SEEN
        .key(state.keys.user_sessions(user_id))
        .arg(handle)
        .arg(now)
        .invoke_async(&mut state.redis())
        .await?;
    Ok(())
}

/// The signed-in user's id, or 401. Every server function that needs a user
/// starts here.
pub(crate) async fn require_user_id() -> AppResult<String> {
    let state = AppState::current()?;
    let session = current().await?;
    user_id(&state, &session)
        .await?
        .ok_or_else(AppError::not_signed_in)
}

/// What most endpoints begin with: the process's state and the signed-in
/// caller's id, once the caller's per-user limit for this kind of call is
/// paid (401 or 429 otherwise).
pub(crate) async fn caller(limit: crate::limits::PerUser) -> AppResult<(AppState, String)> {
    let state = AppState::current()?;
    let user_id = require_user_id().await?;
    crate::limits::take(&state, &[limit.of(&user_id)]).await?;
    Ok((state, user_id))
}

/// The session's sign-in and the user's profile, or 401, *without* the
/// revocation check: for an endpoint that makes that check itself, in the
/// same Redis script as its own work (`send_message`, whose one round trip
/// this saves). It must answer [`revoked`] when that check fails.
pub(crate) async fn require_sign_in_unchecked() -> AppResult<(SignIn, crate::auth::User)> {
    let state = AppState::current()?;
    let session = current().await?;
    let sign_in = sign_in_of(&state, &session)
        .await?
        .ok_or_else(AppError::not_signed_in)?;
    keep_alive(&state, &session, &sign_in).await?;
    let user = super::profiles::profile(&state, &sign_in.user_id)
        .await?
        .ok_or_else(AppError::not_signed_in)?;
    Ok((sign_in, user))
}

/// Ends a session whose sign-in was found revoked; the 401 to answer.
pub(crate) async fn revoked() -> AppError {
    match current().await {
        Ok(session) => match session.flush().await {
            Ok(()) => AppError::not_signed_in(),
            Err(err) => session_error(err),
        },
        Err(err) => err,
    }
}

/// The signed-in user's profile, or 401.
pub(crate) async fn require_user() -> AppResult<crate::auth::User> {
    let state = AppState::current()?;
    let user_id = require_user_id().await?;
    super::profiles::profile(&state, &user_id)
        .await?
        .ok_or_else(AppError::not_signed_in)
}

/// Where a sign-in comes from, for the session list.
pub(crate) struct Device {
    pub user_agent: String,
    pub address: String,
}

impl Device {
    /// The requesting browser (its `User-Agent`, shortened) and address.
    pub(crate) async fn current(state: &AppState) -> Self {
        let user_agent = leptos_axum::extract::<axum::http::HeaderMap>()
            .await
            .ok()
            .and_then(|headers| {
                headers
                    .get(axum::http::header::USER_AGENT)
                    .and_then(|value| value.to_str().ok())
                    .map(|agent| agent.chars().take(200).collect())
            })
            .unwrap_or_default();
        Self {
            user_agent,
            address: crate::limits::client_address(state).await,
        }
    }
}

/// Marks the session as this user's and lists it. The session id is
/// replaced first, so an id planted before sign-in (session fixation) is
/// worthless afterwards.
pub(crate) async fn sign_in(
    state: &AppState,
    session: &Session,
    user_id: &str,
    device: Device,
) -> AppResult<()> {
    // A sign-in this session held before ends here, in the user's list
    // too: its old id, replaced next, may still be cached by other
    // processes (see `session_store`), and the list is what they check.
    let previous = session
        .get::<String>(USER_ID)
        .await
        .map_err(session_error)?;
    if let (Some(previous), Some(handle)) = (previous, handle(session).await?) {
        revoke(state, &previous, &[handle]).await?;
    }
    session.cycle_id().await.map_err(session_error)?;
    let now = now_secs();
    let info = SessionInfo {
        handle: uuid::Uuid::new_v4().simple().to_string(),
        signed_in_at: now,
        user_agent: device.user_agent,
        address: device.address,
        last_seen: now,
        current: false,
    };
    let json = serde_json::to_string(&info)
        .map_err(|err| AppError::internal("encode session info", err))?;
    let key = state.keys.user_sessions(user_id);
    let lifetime = i64::try_from(state.settings.session.absolute().as_secs()).unwrap_or(i64::MAX);
    let () = redis::pipe()
        .atomic()
        .hset(&key, &info.handle, json)
        .ignore()
        .expire(&key, lifetime)
        .ignore()
        .query_async(&mut state.redis())
        .await?;
    session
        .insert(HANDLE, &info.handle)
        .await
        .map_err(session_error)?;
    session
        .insert(USER_ID, user_id)
        .await
        .map_err(session_error)?;
    session
        .insert(SIGNED_IN_AT, now)
        .await
        .map_err(session_error)?;
    renew(state, session, now, now).await?;
    // The list would otherwise keep every sign-in of an account that signs
    // in often (each sign-in renews its TTL): ended ones go now.
    list(state, user_id, "").await?;
    Ok(())
}

/// When the session ends unless used again (Unix seconds): its last
/// renewal plus the inactivity period, capped at the absolute lifetime,
/// exactly the expiry [`renew`] gave its record. An event stream ends then
/// (the browser's reconnect finds out whether the session lives on).
pub(crate) async fn expires_at(state: &AppState, session: &Session) -> AppResult<u64> {
    let settings = &state.settings.session;
    let signed_in_at = stored_secs(session, SIGNED_IN_AT).await?;
    let renewed_at = stored_secs(session, RENEWED_AT).await?.max(signed_in_at);
    Ok((renewed_at + settings.inactivity().as_secs())
        .min(signed_in_at + settings.absolute().as_secs()))
}

/// Deletes the session from Redis and from the user's list, and clears the
/// cookie, so the old cookie is anonymous if replayed.
pub(crate) async fn sign_out(state: &AppState, session: &Session) -> AppResult<()> {
    if let (Some(user_id), Some(handle)) = (
        session
            .get::<String>(USER_ID)
            .await
            .map_err(session_error)?,
        handle(session).await?,
    ) {
        revoke(state, &user_id, &[handle]).await?;
    }
    session.flush().await.map_err(session_error)
}

/// The user's live sign-ins, newest first; `current` marks this one.
/// Entries past the absolute lifetime are dropped on the way.
pub(crate) async fn list(
    state: &AppState,
    user_id: &str,
    current: &str,
) -> AppResult<Vec<SessionInfo>> {
    let key = state.keys.user_sessions(user_id);
    let entries: std::collections::HashMap<String, String> = redis::cmd("HGETALL")
        .arg(&key)
        .query_async(&mut state.redis())
        .await?;
    let settings = &state.settings.session;
    let now = now_secs();
    let oldest = now.saturating_sub(settings.absolute().as_secs());
    let idle_since = now.saturating_sub(settings.inactivity().as_secs());
    let mut live = Vec::new();
    let mut dead = Vec::new();
    for (handle, json) in entries {
        match serde_json::from_str::<SessionInfo>(&json) {
            Ok(mut info)
                if info.signed_in_at > oldest
                    && info.last_seen.max(info.signed_in_at) > idle_since =>
            {
                info.current = info.handle == current;
                live.push(info);
            }
            _ => dead.push(handle),
        }
    }
    if !dead.is_empty() {
        let () = redis::cmd("HDEL")
            .arg(&key)
            .arg(&dead)
            .query_async(&mut state.redis())
            .await?;
    }
    live.sort_by_key(|info| std::cmp::Reverse(info.signed_in_at));
    Ok(live)
}

/// Revokes these sign-ins of the user: they are signed out on their next
/// request, and their open event streams end now. Returns how many there
/// were.
pub(crate) async fn revoke(
    state: &AppState,
    user_id: &str,
    handles: &[String],
) -> AppResult<usize> {
    if handles.is_empty() {
        return Ok(0);
    }
    let removed: usize = redis::cmd("HDEL")
        .arg(state.keys.user_sessions(user_id))
        .arg(handles)
        .query_async(&mut state.redis())
        .await?;
    if removed > 0 {
        announce_revoked(state, user_id, handles).await?;
    }
    Ok(removed)
}

/// Ends the event streams of these sign-ins.
async fn announce_revoked(state: &AppState, user_id: &str, handles: &[String]) -> AppResult<()> {
    if handles.is_empty() {
        return Ok(());
    }
    let event = PersonalEvent::SessionRevoked {
        handles: handles.to_vec(),
    };
    publish_personal(&mut state.redis(), &state.keys, user_id, &event).await
}

/// Removes every handle of a hash but one, atomically (a sign-in finishing
/// meanwhile cannot slip between reading the handles and removing them).
static REMOVE_ALL_BUT: std::sync::LazyLock<redis::Script> = std::sync::LazyLock::new(|| {
    redis::Script::new(
        r"
-- KEYS[1] sessions hash; ARGV[1] the handle to keep
local removed = {}
for _, handle in ipairs(redis.call('HKEYS', KEYS[1])) do
  if handle ~= ARGV[1] then
    redis.call('HDEL', KEYS[1], handle)
    table.insert(removed, handle)
  end
end
return removed
",
    )
});

/// Revokes every sign-in of the user but `keep`; how many ended.
pub(crate) async fn revoke_others(state: &AppState, user_id: &str, keep: &str) -> AppResult<usize> {
    let removed: Vec<String> = REMOVE_ALL_BUT
        .key(state.keys.user_sessions(user_id))
        .arg(keep)
        .invoke_async(&mut state.redis())
        .await?;
    announce_revoked(state, user_id, &removed).await?;
    Ok(removed.len())
}
