//! The account endpoints: `register`, `login`, `logout`, `me`,
//! `update_profile`, and the session endpoints `sessions`, `revoke_session`,
//! `sign_out_everywhere`, `change_password`.
//!
//! Thin adapters: parse the input into domain types, call the store and the
//! password hasher, update the session, return a DTO.

use leptos::prelude::*;

use super::model::{SessionInfo, User};
use crate::error::AppError;

/// Creates an account and signs the caller in. 400 on invalid input, 409
/// when the email or handle is taken.
#[server(endpoint = "register")]
pub async fn register(
    email: String,
    password: String,
    display_name: String,
    handle: String,
) -> Result<User, AppError> {
    use super::model::{DisplayName, Email, Handle, Password};
    use super::store::NewUser;
    use super::{password, session, store};
    use crate::limits::{self, Limit};
    use crate::server::state::AppState;

    let state = AppState::current()?;
    let email = Email::parse(&email)?;
    let handle = Handle::parse(&handle)?;
    let display_name = DisplayName::parse(&display_name)?;
    let password = Password::parse(password)?;
    let address = limits::client_address(&state).await;
    limits::take(&state, &[Limit::Signup { address: &address }]).await?;
    // Cheap early answer for the common duplicate; the script below stays
    // the atomic guard against concurrent sign-ups.
    store::ensure_available(&state, &email, &handle).await?;
    let password_hash = password::hash(&state.cpu, password).await?;
    let user = store::create_user(
        &state,
        NewUser {
            email,
            handle,
            display_name,
            password_hash,
        },
    )
    .await?;
    let device = session::Device::current(&state).await;
    session::sign_in(&state, &session::current().await?, &user.id, device).await?;
    Ok(user)
}

/// Signs the caller in. One answer (401) for an unknown email and a wrong
/// password, taking the same time for both.
#[server(endpoint = "login")]
pub async fn login(email: String, password: String) -> Result<User, AppError> {
    use super::model::{Email, Password};
    use super::{password, session, store};
    use crate::limits::{self, Limit};
    use crate::server::state::AppState;

    let state = AppState::current()?;
    let email = Email::parse(&email)?;
    let password = Password::offered(password)?;
    // Per address, every attempt counts; per account, only failures do:
    // each attempt pays before the password is checked (so guesses sent all
    // at once cannot outrun the limit) and a right password is refunded.
    let address = limits::client_address(&state).await;
    limits::take(&state, &[Limit::Login { address: &address }]).await?;
    let found = store::find_credentials(&state, &email).await?;
    let (user, stored_hash) = match found {
        Some((user, hash)) => (Some(user), Some(hash)),
        None => (None, None),
    };
    let verified = password::verify_counting_failures(
        &state,
        &email.normalized(),
        &address,
        password,
        stored_hash,
    )
    .await?;
    match user {
        Some(user) if verified => {
            let device = session::Device::current(&state).await;
            session::sign_in(&state, &session::current().await?, &user.id, device).await?;
            Ok(user)
        }
        _ => Err(AppError::Unauthorized("Wrong email or password.".into())),
    }
}

/// Signs the caller out: the session is deleted in Redis.
#[server(endpoint = "logout")]
pub async fn logout() -> Result<(), AppError> {
    use super::session;
    use crate::server::state::AppState;

    let state = AppState::current()?;
    session::sign_out(&state, &session::current().await?).await
}

/// The signed-in user, or `None`.
#[server(endpoint = "me")]
pub async fn me() -> Result<Option<User>, AppError> {
    use super::{session, store};
    use crate::server::state::AppState;

    let state = AppState::current()?;
    let Some(user_id) = session::user_id(&state, &session::current().await?).await? else {
        return Ok(None);
    };
    store::find_user(&state, &user_id).await
}

/// Changes the caller's display name; every process's profile cache drops
/// the old one.
#[server(endpoint = "update_profile")]
pub async fn update_profile(display_name: String) -> Result<User, AppError> {
    use super::model::DisplayName;
    use super::{profiles, session, store};
    use crate::server::state::AppState;

    let state = AppState::current()?;
    let user = session::require_user().await?;
    crate::limits::take(&state, &[crate::limits::PerUser::Account.of(&user.id)]).await?;
    let display_name = DisplayName::parse(&display_name)?;
    store::set_display_name(&state, &user.id, &display_name).await?;
    profiles::announce_change(&state, &user.id).await?;
    let (old, new) = (user.display_name.as_str(), display_name.as_str());
    if let Err(err) = super::people::index_name(&state, &user.id, Some(old), new).await {
        tracing::warn!(?err, "could not index a new name");
    }
    Ok(User {
        display_name: display_name.as_str().to_owned(),
        ..user
    })
}

/// The caller's signed-in sessions (browsers and devices), newest first.
#[server(endpoint = "sessions")]
pub async fn sessions() -> Result<Vec<SessionInfo>, AppError> {
    use super::session;
    use crate::limits::PerUser;

    let (state, user_id) = session::caller(PerUser::Read).await?;
    let current = session::handle(&session::current().await?)
        .await?
        .unwrap_or_default();
    session::list(&state, &user_id, &current).await
}

/// Signs one of the caller's sessions out, by its handle (404 if unknown).
#[server(endpoint = "revoke_session")]
pub async fn revoke_session(handle: String) -> Result<(), AppError> {
    use super::session;
    use crate::limits::PerUser;

    let (state, user_id) = session::caller(PerUser::Account).await?;
    if handle.len() != 32 || !handle.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(AppError::BadRequest(
            "handle must be a session handle.".into(),
        ));
    }
    match session::revoke(&state, &user_id, &[handle]).await? {
        0 => Err(AppError::NotFound("No such session.".into())),
        _ => Ok(()),
    }
}

/// Signs out every session of the caller but this one; how many ended.
#[server(endpoint = "sign_out_everywhere")]
pub async fn sign_out_everywhere() -> Result<usize, AppError> {
    use super::session;
    use crate::limits::PerUser;

    let (state, user_id) = session::caller(PerUser::Account).await?;
    let current = session::handle(&session::current().await?)
        .await?
        .unwrap_or_default();
    session::revoke_others(&state, &user_id, &current).await
}

/// Changes the caller's password (the current one is asked for, and wrong
/// guesses count like failed sign-ins). Every other session is signed out.
#[server(endpoint = "change_password")]
pub async fn change_password(
    current_password: String,
    new_password: String,
) -> Result<(), AppError> {
    use super::model::Password;
    use super::{password, session, store};
    use crate::limits;
    use crate::server::state::AppState;

    let state = AppState::current()?;
    let user_id = session::require_user_id().await?;
    let offered = Password::offered(current_password)?;
    let new_password = Password::parse(new_password)?;
    let (email, stored_hash) = store::password_hash(&state, &user_id)
        .await?
        .ok_or_else(AppError::not_signed_in)?;
    let address = limits::client_address(&state).await;
    let verified = password::verify_counting_failures(
        &state,
        &email.to_lowercase(),
        &address,
        offered,
        Some(stored_hash),
    )
    .await?;
    if !verified {
        return Err(AppError::Unauthorized(
            "The current password is wrong.".into(),
        ));
    }
    let new_hash = password::hash(&state.cpu, new_password).await?;
    store::set_password_hash(&state, &user_id, &new_hash).await?;
    let current = session::handle(&session::current().await?)
        .await?
        .unwrap_or_default();
    session::revoke_others(&state, &user_id, &current).await?;
    Ok(())
}

/// Up to 10 people whose handle (or, among people the caller shares a
/// room with, a word of whose display name) starts with `q` (1 to 32
/// characters, `@` allowed): those the caller shares a room with first.
/// For "New message" and mention suggestions.
#[server(endpoint = "people")]
pub async fn people(q: String) -> Result<Vec<User>, AppError> {
    use crate::auth::session::caller;
    use crate::limits::PerUser;

    let (state, user_id) = caller(PerUser::Read).await?;
    let query = q.trim().trim_start_matches('@').to_lowercase();
    if query.is_empty() || query.chars().count() > 32 {
        return Err(AppError::BadRequest("q must be 1 to 32 characters.".into()));
    }
    super::people::suggest(&state, &user_id, &query).await
}
