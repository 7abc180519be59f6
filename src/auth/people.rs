//! Finding people by handle, for "New message" and mentions: a sorted set
//! of every handle, `{p}users:handles`, all scores 0, so `ZRANGE … BYLEX`
//! answers "the handles starting with `an`" in O(log N + m) (the same
//! trick as the room directory's words, docs/redis.md). Each member is
//! `<handle>:<user id>` (`:` is never in a handle), so a match needs no
//! second lookup to find its account.

use futures::future::try_join_all;

use super::User;
use crate::error::AppResult;
use crate::server::state::AppState;

/// How many people `people` suggests.
pub const SUGGESTED: usize = 10;
/// How many of a room's members are looked at for people one shares a
/// room with (all of a small room's; a sample of a big one's).
const SHARED_SAMPLE: i64 = 100;
/// How many of one's rooms are looked at for them.
const SHARED_ROOMS: usize = 20;

/// Adds an account's handle to the index (at sign-up). Idempotent.
pub(crate) async fn index_handle(state: &AppState, handle: &str, user_id: &str) -> AppResult<()> {
    let () = redis::cmd("ZADD")
        .arg(state.keys.handles())
        .arg(0)
        .arg(format!("{handle}:{user_id}"))
        .query_async(&mut state.redis())
        .await?;
    Ok(())
}

/// Indexes the handle of every account, once per deployment (accounts made
/// before the index existed), in the background at start: the handle
/// index keys found by `SCAN MATCH {p}user_by_handle:*` (on every primary
/// of a cluster), each handle's id read with `GET`.
pub(crate) async fn backfill_handle_index(state: &AppState) -> AppResult<()> {
    let keys = &state.keys;
    let done: bool = redis::cmd("EXISTS")
        .arg(keys.handles_indexed())
        .query_async(&mut state.redis())
        .await?;
    if done {
        return Ok(());
    }
    let lead = keys.user_by_handle("");
    for key in state.redis().scan_prefix(&lead).await? {
        let id: Option<String> = redis::cmd("GET")
            .arg(&key)
            .query_async(&mut state.redis())
            .await?;
        if let (Some(id), Some(handle)) = (id, key.strip_prefix(&lead)) {
            index_handle(state, handle, &id).await?;
        }
    }
    let () = redis::cmd("SET")
        .arg(keys.handles_indexed())
        .arg(1)
        .query_async(&mut state.redis())
        .await?;
    Ok(())
}

/// Whether `user` is found by `query` (lowercase): their handle, or a word
/// of their display name, starts with it.
fn matches(user: &User, query: &str) -> bool {
    user.handle.starts_with(query)
        || user
            .display_name
            .to_lowercase()
            .split_whitespace()
            .any(|word| word.starts_with(query))
}

/// Up to [`SUGGESTED`] people for `query` (lowercase, no `@`), the caller
/// left out: first people the caller shares a room with (by handle or by
/// a word of their display name), by name; then anyone by handle, in
/// handle order.
pub(crate) async fn suggest(state: &AppState, caller: &str, query: &str) -> AppResult<Vec<User>> {
    let keys = &state.keys;
    let redis = state.redis();
    let rooms = crate::rooms::access::joined_room_ids(state, caller).await?;
    let sampled: Vec<Vec<String>> = try_join_all(rooms.iter().take(SHARED_ROOMS).map(|room| {
        let mut redis = redis.clone();
        let key = keys.room_members(room);
        async move {
            redis::cmd("SRANDMEMBER")
                .arg(key)
                .arg(SHARED_SAMPLE)
                .query_async::<Vec<String>>(&mut redis)
                .await
        }
    }))
    .await?;
    let mut shared: Vec<String> = sampled.into_iter().flatten().collect();
    shared.sort_unstable();
    shared.dedup();
    shared.retain(|id| id != caller);
    let profiles = super::profiles(state, &shared).await?;
    let mut found: Vec<User> = profiles
        .into_values()
        .filter(|user| matches(user, query))
        .collect();
    found.sort_by_cached_key(|user| (user.display_name.to_lowercase(), user.handle.clone()));
    found.truncate(SUGGESTED);
    if found.len() < SUGGESTED && !query.is_empty() && !query.contains(':') {
        let mut high = format!("[{query}").into_bytes();
        high.push(0xff);
        let entries: Vec<String> = redis::cmd("ZRANGE")
            .arg(keys.handles())
            .arg(format!("[{query}"))
            .arg(high)
            .arg("BYLEX")
            .arg("LIMIT")
            .arg(0)
            .arg(SUGGESTED + 1)
            .query_async(&mut redis.clone())
            .await?;
        let ids: Vec<String> = entries
            .iter()
            .filter_map(|entry| entry.split_once(':').map(|(_, id)| id.to_owned()))
            .filter(|id| id != caller && !found.iter().any(|user| user.id == *id))
            .collect();
        let mut others: Vec<User> = super::profiles(state, &ids).await?.into_values().collect();
        others.sort_by(|a, b| a.handle.cmp(&b.handle));
        found.extend(others);
        found.truncate(SUGGESTED);
    }
    Ok(found
        .into_iter()
        .map(|user| User {
            email: None,
            ..user
        })
        .collect())
}
