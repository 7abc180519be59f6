//! Who is signed in: the user id kept in the tower-sessions session.
//!
//! The session layer (see `router.rs`) handles the cookie and stores the
//! session; this module decides how long a session lives and does the
//! sign-in and sign-out steps. Other features authenticate with
//! [`require_user_id`].
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

use crate::error::{AppError, AppResult};
use crate::server::state::AppState;

const USER_ID: &str = "user_id";
/// Unix seconds of the sign-in, for the absolute lifetime.
const SIGNED_IN_AT: &str = "signed_in_at";
/// Unix seconds of the last expiry renewal.
const RENEWED_AT: &str = "renewed_at";
/// How stale the last renewal may get before a request renews again.
pub const RENEW_EVERY_SECS: u64 = 60;

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
pub async fn current() -> AppResult<Session> {
    leptos_axum::extract::<Session>()
        .await
        .map_err(|err| AppError::internal("session layer missing", err))
}

/// The signed-in user's id, or `None`. A session past its absolute lifetime
/// is deleted here and counts as signed out; a live one is renewed.
pub async fn user_id(state: &AppState, session: &Session) -> AppResult<Option<String>> {
    let Some(user_id) = session
        .get::<String>(USER_ID)
        .await
        .map_err(session_error)?
    else {
        return Ok(None);
    };
    let signed_in_at = stored_secs(session, SIGNED_IN_AT).await?;
    let now = now_secs();
    if now.saturating_sub(signed_in_at) >= state.settings.session.absolute().as_secs() {
        session.flush().await.map_err(session_error)?;
        return Ok(None);
    }
    let renewed_at = stored_secs(session, RENEWED_AT).await?;
    if now.saturating_sub(renewed_at) >= RENEW_EVERY_SECS {
        renew(state, session, signed_in_at, now).await?;
    }
    Ok(Some(user_id))
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

/// The signed-in user's id, or 401. Every server function that needs a user
/// starts here.
pub async fn require_user_id() -> AppResult<String> {
    let state = AppState::current()?;
    let session = current().await?;
    user_id(&state, &session)
        .await?
        .ok_or_else(AppError::not_signed_in)
}

/// The signed-in user's profile, or 401.
pub async fn require_user() -> AppResult<crate::auth::User> {
    let state = AppState::current()?;
    let user_id = require_user_id().await?;
    super::profiles::profile(&state, &user_id)
        .await?
        .ok_or_else(AppError::not_signed_in)
}

/// Marks the session as this user's. The session id is replaced first, so an
/// id planted before sign-in (session fixation) is worthless afterwards.
pub async fn sign_in(state: &AppState, session: &Session, user_id: &str) -> AppResult<()> {
    session.cycle_id().await.map_err(session_error)?;
    let now = now_secs();
    session
        .insert(USER_ID, user_id)
        .await
        .map_err(session_error)?;
    session
        .insert(SIGNED_IN_AT, now)
        .await
        .map_err(session_error)?;
    renew(state, session, now, now).await
}

/// Deletes the session from Redis and clears the cookie, so the old cookie
/// is anonymous if replayed.
pub async fn sign_out(session: &Session) -> AppResult<()> {
    session.flush().await.map_err(session_error)
}
