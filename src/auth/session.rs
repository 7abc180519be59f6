//! Who is signed in: the user id kept in the tower-sessions session.
//!
//! The session layer (see `router.rs`) handles the cookie and inactivity
//! expiry; this module adds the absolute lifetime and the sign-in and
//! sign-out steps. Other features authenticate with [`require_user_id`].

use std::time::{SystemTime, UNIX_EPOCH};

use tower_sessions::Session;

use crate::error::{AppError, AppResult};
use crate::server::state::AppState;

const USER_ID: &str = "user_id";
/// Unix seconds of the sign-in, for the absolute lifetime.
const SIGNED_IN_AT: &str = "signed_in_at";

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
/// is deleted here and counts as signed out.
pub async fn user_id(state: &AppState, session: &Session) -> AppResult<Option<String>> {
    let Some(user_id) = session
        .get::<String>(USER_ID)
        .await
        .map_err(session_error)?
    else {
        return Ok(None);
    };
    let signed_in_at = session
        .get::<u64>(SIGNED_IN_AT)
        .await
        .map_err(session_error)?
        .unwrap_or(0);
    let lifetime = state.settings.session.absolute().as_secs();
    if now_secs().saturating_sub(signed_in_at) > lifetime {
        session.flush().await.map_err(session_error)?;
        return Ok(None);
    }
    Ok(Some(user_id))
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

/// Marks the session as this user's. The session id is replaced first, so an
/// id planted before sign-in (session fixation) is worthless afterwards.
pub async fn sign_in(session: &Session, user_id: &str) -> AppResult<()> {
    session.cycle_id().await.map_err(session_error)?;
    session
        .insert(USER_ID, user_id)
        .await
        .map_err(session_error)?;
    session
        .insert(SIGNED_IN_AT, now_secs())
        .await
        .map_err(session_error)
}

/// Deletes the session from Redis and clears the cookie, so the old cookie
/// is anonymous if replayed.
pub async fn sign_out(session: &Session) -> AppResult<()> {
    session.flush().await.map_err(session_error)
}
