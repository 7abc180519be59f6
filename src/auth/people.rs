//! Finding people by handle or name, for "New message", "Invite" and
//! mentions: a sorted set of every handle, `{p}users:handles`, all scores
//! 0, so `ZRANGE … BYLEX` answers "the handles starting with `an`" in
//! O(log N + m) (the same trick as the room directory's words,
//! docs/redis.md). Each member is `<handle>:<user id>` (`:` is never in a
//! handle), so a match needs no second lookup to find its account. Names
//! are found the same way in `{p}users:names`, one member
//! `<word>:<user id>` per word of a display name (folded as search folds
//! words: `José` is found by `jose`). Emails are in neither: nobody is
//! found by their address.

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

/// The words of a display name, as the name index keeps them.
fn name_words(display_name: &str) -> Vec<String> {
    crate::search::words::index_words(display_name)
        .into_iter()
        .filter(|word| !word.contains(':'))
        .collect()
}

/// Moves an account in the name index from the words of its old display
/// name (if any) to those of its new one, in one round trip. A stale entry
/// (two renames racing) is harmless: matches are checked against the
/// current profile.
pub(crate) async fn index_name(
    state: &AppState,
    user_id: &str,
    old: Option<&str>,
    new: &str,
) -> AppResult<()> {
    let key = state.keys.names();
    let new_words = name_words(new);
    let mut pipe = redis::pipe();
    for word in old.map(name_words).unwrap_or_default() {
        if !new_words.contains(&word) {
            pipe.zrem(&key, format!("{word}:{user_id}")).ignore();
        }
    }
    for word in &new_words {
        pipe.zadd(&key, format!("{word}:{user_id}"), 0).ignore();
    }
    let () = pipe.query_async(&mut state.redis()).await?;
    Ok(())
}

/// Indexes the display name of every account, once per deployment (like
/// [`backfill_handle_index`]): the account hashes found by `SCAN MATCH
/// {p}user:*` (every primary of a cluster), each name read with `HGET`.
pub(crate) async fn backfill_name_index(state: &AppState) -> AppResult<()> {
    let keys = &state.keys;
    if state.redis().is_done(&keys.names_indexed()).await? {
        return Ok(());
    }
    let account = keys.user("");
    let lead = account.trim_end_matches(['{', '}']);
    for key in state.redis().scan_prefix(lead).await? {
        // The account hashes only: `{p}user:{<id>}`, nothing after the tag.
        let Some(id) = key
            .strip_prefix(lead)
            .and_then(|rest| rest.strip_prefix('{'))
            .and_then(|rest| rest.strip_suffix('}'))
            .filter(|id| !id.contains(['{', '}', ':']))
        else {
            continue;
        };
        let name: Option<String> = redis::cmd("HGET")
            .arg(&key)
            .arg("display_name")
            .query_async(&mut state.redis())
            .await?;
        if let Some(name) = name {
            index_name(state, id, None, &name).await?;
        }
    }
    state.redis().mark_done(&keys.names_indexed()).await?;
    Ok(())
}

/// Indexes the handle of every account, once per deployment (accounts made
/// before the index existed), in the background at start: the handle
/// index keys found by `SCAN MATCH {p}user_by_handle:*` (on every primary
/// of a cluster), each handle's id read with `GET`.
pub(crate) async fn backfill_handle_index(state: &AppState) -> AppResult<()> {
    let keys = &state.keys;
    if state.redis().is_done(&keys.handles_indexed()).await? {
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
    state.redis().mark_done(&keys.handles_indexed()).await?;
    Ok(())
}

/// Whether `user` is found by `query` (lowercase): their handle, or a word
/// of their display name (folded), starts with it.
fn matches(user: &User, query: &str) -> bool {
    let folded = crate::search::words::fold(query);
    user.handle.starts_with(query)
        || name_words(&user.display_name)
            .iter()
            .any(|word| word.starts_with(&folded))
}

/// Up to `SUGGESTED + 1` user ids from a `<word>:<user id>` index whose
/// words start with `start`.
async fn ids_starting(state: &AppState, key: String, start: &str) -> AppResult<Vec<String>> {
    let mut high = format!("[{start}").into_bytes();
    high.push(0xff);
    let entries: Vec<String> = redis::cmd("ZRANGE")
        .arg(key)
        .arg(format!("[{start}"))
        .arg(high)
        .arg("BYLEX")
        .arg("LIMIT")
        .arg(0)
        .arg(SUGGESTED + 1)
        .query_async(&mut state.redis())
        .await?;
    Ok(entries
        .iter()
        .filter_map(|entry| entry.rsplit_once(':').map(|(_, id)| id.to_owned()))
        .collect())
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
        // Anyone, by handle, then by a word of their name.
        let folded = crate::search::words::fold(query);
        let (by_handle, by_name) = futures::try_join!(
            ids_starting(state, keys.handles(), query),
            ids_starting(state, keys.names(), &folded),
        )?;
        let mut ids: Vec<String> = by_handle
            .into_iter()
            .chain(by_name)
            .filter(|id| id != caller && !found.iter().any(|user| user.id == *id))
            .collect();
        ids.sort_unstable();
        ids.dedup();
        let mut others: Vec<User> = super::profiles(state, &ids)
            .await?
            .into_values()
            .filter(|user| matches(user, query))
            .collect();
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
