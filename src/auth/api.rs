//! The account endpoints: `register`, `login`, `logout`, `me`,
//! `update_profile`.
//!
//! Thin adapters: parse the input into domain types, call the store and the
//! password hasher, update the session, return a DTO.

use leptos::prelude::*;

use super::model::User;
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
    session::sign_in(&state, &session::current().await?, &user.id).await?;
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
    // Per address, every attempt counts; per account, only failures do
    // (so a correct password is never locked out by someone else's
    // guesses from elsewhere for longer than the failure limit).
    let address = limits::client_address(&state).await;
    let account = email.normalized();
    limits::take(&state, &[Limit::Login { address: &address }]).await?;
    limits::peek(&state, &[Limit::LoginFailure { email: &account }]).await?;
    let found = store::find_credentials(&state, &email).await?;
    let (user, stored_hash) = match found {
        Some((user, hash)) => (Some(user), Some(hash)),
        None => (None, None),
    };
    let verified = password::verify(&state.cpu, password, stored_hash).await?;
    match user {
        Some(user) if verified => {
            session::sign_in(&state, &session::current().await?, &user.id).await?;
            Ok(user)
        }
        _ => {
            limits::take(&state, &[Limit::LoginFailure { email: &account }]).await?;
            Err(AppError::Unauthorized("Wrong email or password.".into()))
        }
    }
}

/// Signs the caller out: the session is deleted in Redis.
#[server(endpoint = "logout")]
pub async fn logout() -> Result<(), AppError> {
    use super::session;

    session::sign_out(&session::current().await?).await
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

    let user = session::require_user().await?;
    let state = AppState::current()?;
    let display_name = DisplayName::parse(&display_name)?;
    store::set_display_name(&state, &user.id, &display_name).await?;
    profiles::announce_change(&state, &user.id).await?;
    Ok(User {
        display_name: display_name.as_str().to_owned(),
        ..user
    })
}
