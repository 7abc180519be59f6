//! Accounts in Redis: one hash per user plus two index strings (email and
//! handle to user id), all created together by one Lua script.

use std::collections::HashMap;
use std::sync::LazyLock;

use redis::Script;

use super::model::{DisplayName, Email, Handle, User};
use crate::error::{AppError, AppResult};
use crate::server::clock::now_millis;
use crate::server::state::AppState;

/// Creates a user only if neither its email nor its handle is taken.
///
/// A script runs atomically: no other command runs between the `EXISTS`
/// checks and the writes, so two concurrent sign-ups with the same email
/// cannot both pass. Returns 0 (created), 1 (email taken) or 2 (handle taken).
static CREATE_USER: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
-- KEYS[1] email index, KEYS[2] handle index, KEYS[3] user hash
-- ARGV: id, email, handle, display_name, password_hash, created_at
if redis.call('EXISTS', KEYS[1]) == 1 then return 1 end
if redis.call('EXISTS', KEYS[2]) == 1 then return 2 end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('SET', KEYS[2], ARGV[1])
redis.call('HSET', KEYS[3],
  'id', ARGV[1], 'email', ARGV[2], 'handle', ARGV[3],
  'display_name', ARGV[4], 'password_hash', ARGV[5], 'created_at', ARGV[6])
return 0
"#,
    )
});

/// A validated sign-up, its password already hashed.
pub struct NewUser {
    pub email: Email,
    pub handle: Handle,
    pub display_name: DisplayName,
    pub password_hash: String,
}

const EMAIL_TAKEN: &str = "That email is already registered.";
const HANDLE_TAKEN: &str = "That handle is already taken.";

/// 409 when the email or handle is already taken (one round trip), so a
/// duplicate sign-up is refused before paying for a password hash.
pub async fn ensure_available(state: &AppState, email: &Email, handle: &Handle) -> AppResult<()> {
    let (email_taken, handle_taken): (bool, bool) = redis::pipe()
        .exists(state.keys.user_by_email(&email.normalized()))
        .exists(state.keys.user_by_handle(handle.as_str()))
        .query_async(&mut state.redis())
        .await?;
    if email_taken {
        return Err(AppError::Conflict(EMAIL_TAKEN.into()));
    }
    if handle_taken {
        return Err(AppError::Conflict(HANDLE_TAKEN.into()));
    }
    Ok(())
}

/// Stores a new account; 409 when the email or handle is taken.
pub async fn create_user(state: &AppState, new: NewUser) -> AppResult<User> {
    let id = uuid::Uuid::new_v4().simple().to_string();
    let created_at = now_millis().to_string();
    let outcome: i64 = CREATE_USER
        .key(state.keys.user_by_email(&new.email.normalized()))
        .key(state.keys.user_by_handle(new.handle.as_str()))
        .key(state.keys.user(&id))
        .arg(&id)
        .arg(new.email.as_str())
        .arg(new.handle.as_str())
        .arg(new.display_name.as_str())
        .arg(&new.password_hash)
        .arg(created_at)
        .invoke_async(&mut state.redis())
        .await?;
    match outcome {
        0 => Ok(User {
            id,
            email: Some(new.email.as_str().to_owned()),
            handle: new.handle.as_str().to_owned(),
            display_name: new.display_name.as_str().to_owned(),
        }),
        1 => Err(AppError::Conflict(
            "That email is already registered.".into(),
        )),
        2 => Err(AppError::Conflict("That handle is already taken.".into())),
        other => Err(AppError::internal(
            "create user script",
            format!("unexpected result {other}"),
        )),
    }
}

/// The account with this email and its password hash, if there is one.
pub async fn find_credentials(
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
pub async fn user_id_by_handle(state: &AppState, handle: &Handle) -> AppResult<Option<String>> {
    Ok(redis::cmd("GET")
        .arg(state.keys.user_by_handle(handle.as_str()))
        .query_async(&mut state.redis())
        .await?)
}

/// The account with this id, email included (for its owner).
pub async fn find_user(state: &AppState, id: &str) -> AppResult<Option<User>> {
    Ok(user_from_fields(user_fields(state, id).await?))
}

/// Public profiles (no email) of these users, in one pipelined round trip.
/// Unknown ids are left out. Other code goes through the cache in
/// [`super::profiles`].
pub async fn profiles(state: &AppState, ids: &[String]) -> AppResult<HashMap<String, User>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let mut pipe = redis::pipe();
    for id in ids {
        pipe.cmd("HMGET")
            .arg(state.keys.user(id))
            .arg(&["id", "handle", "display_name"]);
    }
    let rows: Vec<(Option<String>, Option<String>, Option<String>)> =
        pipe.query_async(&mut state.redis()).await?;
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
pub async fn password_hash(state: &AppState, user_id: &str) -> AppResult<Option<(String, String)>> {
    let (email, hash): (Option<String>, Option<String>) = redis::cmd("HMGET")
        .arg(state.keys.user(user_id))
        .arg(&["email", "password_hash"])
        .query_async(&mut state.redis())
        .await?;
    Ok(email.zip(hash))
}

/// Replaces a user's password hash.
pub async fn set_password_hash(state: &AppState, user_id: &str, hash: &str) -> AppResult<()> {
    let () = redis::cmd("HSET")
        .arg(state.keys.user(user_id))
        .arg("password_hash")
        .arg(hash)
        .query_async(&mut state.redis())
        .await?;
    Ok(())
}

/// Changes a user's display name.
pub async fn set_display_name(
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
