//! The tower-sessions store: one Redis string per session, holding the
//! session record as JSON, expiring at the session's expiry time.
//!
//! Why our own store and not `tower-sessions-redis-store`: that crate names
//! the key after the bare session id, with no way to add a prefix, so its
//! keys could not be isolated per deployment or test run, nor confined by a
//! Redis ACL to the app's prefix. It would also bring a second Redis client
//! (fred) with its own connections and topology settings. This store is the
//! same four commands on the connection the rest of the app already uses.

use async_trait::async_trait;

use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{Error, Result};
use tower_sessions::SessionStore;

use super::keys::Keys;
use super::redis::Redis;

/// Sessions in Redis under `{prefix}session:{id}`.
#[derive(Clone)]
pub struct RedisSessionStore {
    redis: Redis,
    keys: Keys,
}

impl std::fmt::Debug for RedisSessionStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisSessionStore")
            .field("keys", &self.keys)
            .finish_non_exhaustive()
    }
}

impl RedisSessionStore {
    pub fn new(redis: Redis, keys: Keys) -> Self {
        Self { redis, keys }
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
        Ok(())
    }

    async fn save(&self, record: &Record) -> Result<()> {
        // XX: a session deleted meanwhile (sign-out in another tab) stays
        // deleted instead of being resurrected by a late save.
        self.write(record, "XX").await?;
        Ok(())
    }

    async fn load(&self, session_id: &Id) -> Result<Option<Record>> {
        let json: Option<Vec<u8>> = redis::cmd("GET")
            .arg(self.keys.session(&session_id.to_string()))
            .query_async(&mut self.redis.clone())
            .await
            .map_err(backend)?;
        json.map(|json| serde_json::from_slice(&json).map_err(|err| Error::Decode(err.to_string())))
            .transpose()
    }

    async fn delete(&self, session_id: &Id) -> Result<()> {
        let _: () = redis::cmd("DEL")
            .arg(self.keys.session(&session_id.to_string()))
            .query_async(&mut self.redis.clone())
            .await
            .map_err(backend)?;
        Ok(())
    }
}
