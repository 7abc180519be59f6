//! Public profiles (id, handle, display name) for other features, through a
//! bounded in-process cache.
//!
//! Every message, member and notification names a user; reading the user's
//! hash for each one would cost a Redis round trip per name. The cache holds
//! up to [`CAPACITY`] profiles for at most [`TTL`]. When a profile changes,
//! `update_profile` publishes the user id on `{p}profiles`, and every
//! process (this one included) drops its copy; the TTL bounds how stale a
//! copy can get if such an announcement is lost (Pub/Sub delivers at most
//! once), and after a Pub/Sub reconnect the whole cache is dropped.

use std::collections::HashMap;
use std::time::Duration;

use mini_moka::sync::Cache;

use super::model::User;
use super::store;
use crate::error::AppResult;
use crate::server::hub::HubEvent;
use crate::server::state::AppState;

/// Profiles kept per process (each a few hundred bytes).
const CAPACITY: u64 = 10_000;
/// How long a cached profile may be used without asking Redis again.
const TTL: Duration = Duration::from_secs(60);

/// A process's cache of public profiles. Cheap to clone (shared).
#[derive(Clone)]
pub(crate) struct ProfileCache {
    users: Cache<String, User>,
}

impl ProfileCache {
    pub(crate) fn new() -> Self {
        Self {
            users: Cache::builder()
                .max_capacity(CAPACITY)
                .time_to_live(TTL)
                .build(),
        }
    }

    fn forget(&self, user_id: &str) {
        self.users.invalidate(&user_id.to_owned());
    }
}

impl Default for ProfileCache {
    fn default() -> Self {
        Self::new()
    }
}

/// Public profiles (no email) of these users: from the cache, and the rest
/// in one pipelined round trip. Unknown ids are left out.
pub(crate) async fn profiles(state: &AppState, ids: &[String]) -> AppResult<HashMap<String, User>> {
    let cache = &state.profiles.users;
    let mut found = HashMap::with_capacity(ids.len());
    let mut missing = Vec::new();
    for id in ids {
        match cache.get(id) {
            Some(user) => {
                found.insert(id.clone(), user);
            }
            None => missing.push(id.clone()),
        }
    }
    missing.sort_unstable();
    missing.dedup();
    for (id, user) in store::profiles(state, &missing).await? {
        cache.insert(id.clone(), user.clone());
        found.insert(id, user);
    }
    Ok(found)
}

/// One public profile.
pub(crate) async fn profile(state: &AppState, user_id: &str) -> AppResult<Option<User>> {
    Ok(profiles(state, &[user_id.to_owned()])
        .await?
        .remove(user_id))
}

/// Drops a changed profile here at once and tells every other process.
pub(super) async fn announce_change(state: &AppState, user_id: &str) -> AppResult<()> {
    state.profiles.forget(user_id);
    let redis = state.redis();
    let () = redis
        .publish(&state.keys.profiles_changed(), user_id)
        .query_async(&mut redis.clone())
        .await?;
    Ok(())
}

/// Listens for changed profiles for as long as the process runs.
pub(crate) fn start_invalidation(state: &AppState) {
    let state = state.clone();
    tokio::spawn(async move {
        let mut changes = state
            .hub
            .subscribe_stream(state.keys.profiles_changed())
            .await;
        while let Some(change) = futures::StreamExt::next(&mut changes).await {
            match change {
                Ok(HubEvent::Published(published)) => state.profiles.forget(&published.json),
                // Announcements may have been missed: forget everything.
                Ok(HubEvent::Resync) | Err(_) => state.profiles.users.invalidate_all(),
            }
        }
    });
}
