//! Every Redis key name the app uses, built in one place.
//!
//! All names start with the configured prefix (`redis.key_prefix`, default
//! `redchat:`), so test runs can share a server and an ACL can confine the
//! app to its own keys. docs/redis.md explains each entry for a reader who is
//! learning Redis.
//!
//! | pattern                      | type   | TTL                       | written by        | read by           |
//! |------------------------------|--------|---------------------------|-------------------|-------------------|
//! | `{p}user:{id}`               | hash   | none                      | register          | login, me, others |
//! | `{p}user_by_email:{email}`   | string | none                      | register          | login             |
//! | `{p}user_by_handle:{handle}` | string | none                      | register          | register          |
//! | `{p}session:{id}`            | string | session expiry (EXAT)     | session layer     | session layer     |
//!
//! `{email}` is the lowercased address and `{handle}` the (lowercase)
//! handle, so both indexes are case-insensitive.

use std::sync::Arc;

/// Builds key names under one prefix.
#[derive(Debug, Clone)]
pub struct Keys {
    prefix: Arc<str>,
}

impl Keys {
    pub fn new(prefix: &str) -> Self {
        Self {
            prefix: prefix.into(),
        }
    }

    /// Hash of one account: id, email, handle, display_name, password_hash,
    /// created_at.
    pub fn user(&self, user_id: &str) -> String {
        format!("{}user:{user_id}", self.prefix)
    }

    /// The id of the account with this (lowercased) email.
    pub fn user_by_email(&self, normalized_email: &str) -> String {
        format!("{}user_by_email:{normalized_email}", self.prefix)
    }

    /// The id of the account with this handle.
    pub fn user_by_handle(&self, handle: &str) -> String {
        format!("{}user_by_handle:{handle}", self.prefix)
    }

    /// One session record, as JSON.
    pub fn session(&self, session_id: &str) -> String {
        format!("{}session:{session_id}", self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_starts_with_the_prefix() {
        let keys = Keys::new("test:");
        for key in [
            keys.user("u1"),
            keys.user_by_email("a@b.c"),
            keys.user_by_handle("ann"),
            keys.session("s1"),
        ] {
            assert!(key.starts_with("test:"), "{key}");
        }
    }
}
