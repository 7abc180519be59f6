//! The tower-sessions store: one Redis string per session, holding the
//! session record as JSON, expiring at the session's expiry time.
//!
//! Why our own store and not `tower-sessions-redis-store`: that crate names
//! the key after the bare session id, with no way to add a prefix, so its
//! keys could not be isolated per deployment or test run, nor confined by a
//! Redis ACL to the app's prefix. It would also bring a second Redis client
//! (fred) with its own connections and topology settings. This store is the
//! same four commands on the connection the rest of the app already uses.
//!
//! Records are also kept in a bounded in-process cache for
//! `session.cache_secs` (60 s unless configured), so
//! a signed-in request usually costs no Redis round trip for its session
//! (the send path's one round trip depends on it). A copy can outlive the
//! Redis key only on another process, and only for what the copy itself
//! allows: a cached record past its own expiry is never used, and every
//! signed-in request still checks that its sign-in was not revoked (the
//! `{p}user:{id}:sessions` list, in Redis), which is how sign-out, "sign out
//! everywhere" and a password change end sessions on every process at once.

use std::time::Duration;

use async_trait::async_trait;
use mini_moka::sync::Cache;

use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{Error, Result};
use tower_sessions::SessionStore;

use super::keys::Keys;
use super::redis::Redis;

/// Sessions kept per process (each well under a kilobyte).
const CACHE_CAPACITY: u64 = 100_000;

/// Sessions in Redis under `{prefix}session:{id}`, with a process cache.
#[derive(Clone)]
pub(crate) struct RedisSessionStore {
    redis: Redis,
    keys: Keys,
    /// None when `session.cache_secs` is 0.
    cache: Option<Cache<Id, Record>>,
}

impl std::fmt::Debug for RedisSessionStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisSessionStore")
            .field("keys", &self.keys)
            .finish_non_exhaustive()
    }
}

impl RedisSessionStore {
    /// A store caching records for `cache_ttl` (none if zero).
    pub(crate) fn new(redis: Redis, keys: Keys, cache_ttl: Duration) -> Self {
        let cache = (!cache_ttl.is_zero()).then(|| {
            Cache::builder()
                .max_capacity(CACHE_CAPACITY)
                .time_to_live(cache_ttl)
                .build()
        });
        Self { redis, keys, cache }
    }

    /// The cached record, unless it has expired by its own date.
    fn cached(&self, session_id: &Id) -> Option<Record> {
        let record = self.cache.as_ref()?.get(session_id)?;
        if record.expiry_date > tower_sessions::cookie::time::OffsetDateTime::now_utc() {
            Some(record)
        } else {
            self.forget(session_id);
            None
        }
    }

    fn remember(&self, record: &Record) {
        if let Some(cache) = &self.cache {
            cache.insert(record.id, record.clone());
        }
    }

    fn forget(&self, session_id: &Id) {
        if let Some(cache) = &self.cache {
            cache.invalidate(session_id);
        }
    }

    /// `SET key json EXAT expiry` with `NX` (create) or `XX` (update).
    /// Returns whether Redis wrote it.
    async fn write(&self, record: &Record, condition: &str) -> Result<bool> {
        let json = serde_json::to_vec(record).map_err(|err| Error::Encode(err.to_string()))?;
        let written: Option<String> = redis::cmd("SET")
            .arg(self.keys.session(&record.id.to_string()))
            .arg(json)
            .arg(condition)
            .arg("EXAT")
            .arg(record.expiry_date.unix_timestamp())
            .query_async(&mut self.redis.clone())
            .await
            .map_err(backend)?;
        Ok(written.is_some())
    }
}

fn backend(err: redis::RedisError) -> Error {
    Error::Backend(err.to_string())
}

#[async_trait]
impl SessionStore for RedisSessionStore {
    async fn create(&self, record: &mut Record) -> Result<()> {
        // A fresh random 128-bit id practically never collides; NX makes
        // sure a collision picks a new id instead of taking over a session.
        while !self.write(record, "NX").await? {
            record.id = Id::default();
        }
        self.remember(record);
        Ok(())
    }

    async fn save(&self, record: &Record) -> Result<()> {
        // XX: a session deleted meanwhile (sign-out in another tab) stays
        // deleted instead of being resurrected by a late save.
        if self.write(record, "XX").await? {
            self.remember(record);
        } else {
            self.forget(&record.id);
        }
        Ok(())
    }

    async fn load(&self, session_id: &Id) -> Result<Option<Record>> {
        if let Some(record) = self.cached(session_id) {
            return Ok(Some(record));
        }
        let json: Option<Vec<u8>> = redis::cmd("GET")
            .arg(self.keys.session(&session_id.to_string()))
            .query_async(&mut self.redis.clone())
            .await
            .map_err(backend)?;
        let record: Option<Record> = json
            .map(|json| serde_json::from_slice(&json).map_err(|err| Error::Decode(err.to_string())))
            .transpose()?;
        if let Some(record) = &record {
            self.remember(record);
        }
        Ok(record)
    }

    async fn delete(&self, session_id: &Id) -> Result<()> {
        self.forget(session_id);
        let _: () = redis::cmd("DEL")
            .arg(self.keys.session(&session_id.to_string()))
            .query_async(&mut self.redis.clone())
            .await
            .map_err(backend)?;
        Ok(())
    }
}
