//! Accounts in Redis: one hash per user plus two index strings (email and
//! handle to user id).
//!
//! The three keys live in three different cluster slots, so no script or
//! transaction can write them together on a cluster. An account is created
//! in steps instead, each a single-key command, in an order that keeps every
//! reader right at every moment: the hash first (nothing points to it yet),
//! then the handle claimed with `SET NX`, then the email claimed with
//! `SET NX`, which is what makes the account able to sign in. A claim that
//! fails undoes the earlier steps. `SET NX` is atomic, so two concurrent
//! sign-ups with the same email or handle cannot both win.

use std::collections::HashMap;
use std::sync::LazyLock;

use futures::future::try_join_all;
use redis::Script;

use super::model::{DisplayName, Email, Handle, User};
use crate::error::{AppError, AppResult};
use crate::server::clock::now_millis;
use crate::server::state::AppState;

/// Deletes an index entry only if it still names this user (undoing a
/// claim without touching another user's).
static RELEASE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
-- KEYS[1] index key; ARGV[1] the user id it should name
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"#,
    )
});

/// A validated sign-up, its password already hashed.
pub(crate) struct NewUser {
    pub email: Email,
    pub handle: Handle,
    pub display_name: DisplayName,
    pub password_hash: String,
}

const EMAIL_TAKEN: &str = "That email is already registered.";
const HANDLE_TAKEN: &str = "That handle is already taken.";

/// 409 when the email or handle is already taken (two concurrent
/// commands), so a duplicate sign-up is refused before paying for a
/// password hash.
pub(crate) async fn ensure_available(
    state: &AppState,
    email: &Email,
    handle: &Handle,
) -> AppResult<()> {
    let exists = |key: String| {
        let mut redis = state.redis();
        async move {
            redis::cmd("EXISTS")
                .arg(key)
                .query_async::<bool>(&mut redis)
                .await
        }
    };
    let (email_taken, handle_taken) = futures::try_join!(
        exists(state.keys.user_by_email(&email.normalized())),
        exists(state.keys.user_by_handle(handle.as_str())),
    )?;
    if email_taken {
        return Err(AppError::Conflict(EMAIL_TAKEN.into()));
    }
    if handle_taken {
        return Err(AppError::Conflict(HANDLE_TAKEN.into()));
    }
    Ok(())
}

/// Stores a new account; 409 when the email or handle is taken.
pub(crate) async fn create_user(state: &AppState, new: NewUser) -> AppResult<User> {
    let id = uuid::Uuid::new_v4().simple().to_string();
    let keys = &state.keys;
    let mut redis = state.redis();
    let user_key = keys.user(&id);
    let handle_key = keys.user_by_handle(new.handle.as_str());
    let email_key = keys.user_by_email(&new.email.normalized());
    let () = redis::cmd("HSET")
        .arg(&user_key)
        .arg(&[
            ("id", id.as_str()),
            ("email", new.email.as_str()),
            ("handle", new.handle.as_str()),
            ("display_name", new.display_name.as_str()),
            ("password_hash", new.password_hash.as_str()),
            ("created_at", now_millis().to_string().as_str()),
        ])
        .query_async(&mut redis)
        .await?;
    // The handle first, the email last (it makes the account able to sign
    // in); a claim refused, or failed, undoes the earlier steps.
    let mut claimed: Vec<&str> = Vec::new();
    for (key, taken) in [(&handle_key, HANDLE_TAKEN), (&email_key, EMAIL_TAKEN)] {
        let outcome = claim(state, key, &id).await;
        match outcome {
            Ok(true) => {
                claimed.push(key);
                continue;
            }
            // Whether an erroring claim was made is unknown: release it too.
            Err(_) => claimed.push(key),
            Ok(false) => {}
        }
        undo(state, &user_key, &claimed, &id).await;
        return Err(outcome
            .err()
            .unwrap_or_else(|| AppError::Conflict(taken.into())));
    }
    // Findable by handle (`people`) from now on. The account exists
    // already: a failure here only keeps it out of suggestions.
    if let Err(err) = super::people::index_handle(state, new.handle.as_str(), &id).await {
        tracing::warn!(?err, "could not index a new handle");
    }
    let name = new.display_name.as_str();
    if let Err(err) = super::people::index_name(state, &id, None, name).await {
        tracing::warn!(?err, "could not index a new name");
    }
    Ok(User {
        id,
        email: Some(new.email.as_str().to_owned()),
        handle: new.handle.as_str().to_owned(),
        display_name: new.display_name.as_str().to_owned(),
    })
}

/// Undoes a sign-up that could not finish: releases the index entries it
/// claimed (only where they still name this user) and deletes the hash.
/// Best effort: if a step fails, what is left is invisible (a hash no
/// index names) or a reserved handle.
async fn undo(state: &AppState, user_key: &str, claimed: &[&str], id: &str) {
    for key in claimed {
        let _: redis::RedisResult<redis::Value> = RELEASE
            .key(*key)
            .arg(id)
            .invoke_async(&mut state.redis())
            .await;
    }
    let _: redis::RedisResult<redis::Value> = redis::cmd("DEL")
        .arg(user_key)
        .query_async(&mut state.redis())
        .await;
}

/// `SET key id NX`: whether this user got the index entry.
async fn claim(state: &AppState, key: &str, id: &str) -> AppResult<bool> {
    let set: Option<String> = redis::cmd("SET")
        .arg(key)
        .arg(id)
        .arg("NX")
        .query_async(&mut state.redis())
        .await?;
    Ok(set.is_some())
}

/// The account with this email and its password hash, if there is one.
pub(crate) async fn find_credentials(
    state: &AppState,
    email: &Email,
) -> AppResult<Option<(User, String)>> {
    let id: Option<String> = redis::cmd("GET")
        .arg(state.keys.user_by_email(&email.normalized()))
        .query_async(&mut state.redis())
        .await?;
    let Some(id) = id else { return Ok(None) };
    let mut fields = user_fields(state, &id).await?;
    let Some(hash) = fields.remove("password_hash") else {
        return Ok(None);
    };
    Ok(user_from_fields(fields).map(|user| (user, hash)))
}

/// The id of the account with this handle, if there is one.
pub(crate) async fn user_id_by_handle(
    state: &AppState,
    handle: &Handle,
) -> AppResult<Option<String>> {
    Ok(redis::cmd("GET")
        .arg(state.keys.user_by_handle(handle.as_str()))
        .query_async(&mut state.redis())
        .await?)
}

/// The ids of the accounts with these handles, in order (`None` for a
/// handle nobody has): one `MGET` (split by slot by redis-rs on a cluster).
pub(crate) async fn user_ids_by_handles(
    state: &AppState,
    handles: &[Handle],
) -> AppResult<Vec<Option<String>>> {
    let keys: Vec<String> = handles
        .iter()
        .map(|handle| state.keys.user_by_handle(handle.as_str()))
        .collect();
    Ok(redis::cmd("MGET")
        .arg(keys)
        .query_async(&mut state.redis())
        .await?)
}

/// The account with this id, email included (for its owner).
pub(crate) async fn find_user(state: &AppState, id: &str) -> AppResult<Option<User>> {
    Ok(user_from_fields(user_fields(state, id).await?))
}

/// Public profiles (no email) of these users, asked for concurrently (the
/// multiplexed connection sends them together; on a cluster each goes to
/// its user's node). Unknown ids are left out. Other code goes through the
/// cache in [`super::profiles`].
pub(crate) async fn profiles(state: &AppState, ids: &[String]) -> AppResult<HashMap<String, User>> {
    let redis = state.redis();
    let rows: Vec<(Option<String>, Option<String>, Option<String>)> =
        try_join_all(ids.iter().map(|id| {
            let mut redis = redis.clone();
            let key = state.keys.user(id);
            async move {
                redis::cmd("HMGET")
                    .arg(key)
                    .arg(&["id", "handle", "display_name"])
                    .query_async(&mut redis)
                    .await
            }
        }))
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, handle, display_name)| {
            Some(User {
                id: id?,
                email: None,
                handle: handle?,
                display_name: display_name?,
            })
        })
        .map(|user| (user.id.clone(), user))
        .collect())
}

/// A user's email and password hash.
pub(crate) async fn password_hash(
    state: &AppState,
    user_id: &str,
) -> AppResult<Option<(String, String)>> {
    let (email, hash): (Option<String>, Option<String>) = redis::cmd("HMGET")
        .arg(state.keys.user(user_id))
        .arg(&["email", "password_hash"])
        .query_async(&mut state.redis())
        .await?;
    Ok(email.zip(hash))
}

/// Replaces a user's password hash.
pub(crate) async fn set_password_hash(
    state: &AppState,
    user_id: &str,
    hash: &str,
) -> AppResult<()> {
    let () = redis::cmd("HSET")
        .arg(state.keys.user(user_id))
        .arg("password_hash")
        .arg(hash)
        .query_async(&mut state.redis())
        .await?;
    Ok(())
}

/// Changes a user's display name.
pub(crate) async fn set_display_name(
    state: &AppState,
    user_id: &str,
    display_name: &DisplayName,
) -> AppResult<()> {
    let () = redis::cmd("HSET")
        .arg(state.keys.user(user_id))
        .arg("display_name")
        .arg(display_name.as_str())
        .query_async(&mut state.redis())
        .await?;
    Ok(())
}

async fn user_fields(state: &AppState, id: &str) -> AppResult<HashMap<String, String>> {
    Ok(redis::cmd("HGETALL")
        .arg(state.keys.user(id))
        .query_async(&mut state.redis())
        .await?)
}

fn user_from_fields(mut fields: HashMap<String, String>) -> Option<User> {
    Some(User {
        id: fields.remove("id")?,
        email: fields.remove("email"),
        handle: fields.remove("handle")?,
        display_name: fields.remove("display_name")?,
    })
}
