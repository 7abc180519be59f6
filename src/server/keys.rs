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
//! | `{p}user_by_handle:{handle}` | string | none                      | register          | register, invite, mentions |
//! | `{p}session:{id}`            | string | session expiry (EXAT)     | session layer     | session layer     |
//! | `{p}user:{id}:sessions`      | hash   | absolute session lifetime | sign-in, revoke   | every signed-in request |
//! | `{p}user:{id}:rooms`         | set    | none                      | create/join/leave, open_direct, remove, delete | rooms |
//! | `{p}room:{id}`               | hash   | none                      | create_room, open_direct, update_room; `seq`, `last_at` by send | rooms, join, ...  |
//! | `{p}room:{id}:members`       | set    | none                      | create/join/leave, open_direct, remove | authorization     |
//! | `{p}room:{id}:read`          | hash   | none (one field per member; left with the member) | send, mark_room_read | rooms (unread) |
//! | `{p}room:{id}:invites`       | zset   | 30 days, reset per invitation | invite, answer | authorization     |
//! | `{p}room:{id}:messages`      | stream | retention, reset per send | send_message      | history           |
//! | `{p}room:{id}:sent:{u}`      | zset   | 24 h, reset per send; at most 100 entries | send_message | send_message |
//! | `{p}room:{id}:m:{msg}`       | hash   | until the message expires (its time + retention) | edit, delete, react | history, events |
//! | `{p}room:{id}:ix`            | zset   | retention, reset per send; dead words removed when a query meets them | send, edit, backfill | search (prefixes) |
//! | `{p}room:{id}:ix:{word}`     | zset   | until its newest message expires; trimmed with the stream | send, edit, delete, backfill | search |
//! | `{p}rooms:search:indexed`    | string | none (one key)            | start (backfill)  | start (backfill)  |
//! | `{p}rooms:public`            | zset   | none                      | create_room       | rooms             |
//! | `{p}rooms:public:words`      | zset   | none (one entry per distinct word) | create_room | public_rooms (filter) |
//! | `{p}rooms:public:indexed`    | string | none (one key)            | start (backfill)  | start (backfill)  |
//! | `{p}rooms:public:word:{w}`   | zset   | none (one entry per public room with the word) | create_room | public_rooms (filter) |
//! | `{p}room:{id}:events`        | channel| -                         | send, presence, typing | event streams |
//! | `{p}user:{id}:events`        | channel| -                         | membership, notifications, mark_room_read | event streams, presence |
//! | `{p}user:{id}:connections`   | zset   | 2 x connection TTL        | event streams     | presence sweeper  |
//! | `{p}presence`                | zset   | none (entries pruned)     | event streams     | presence sweeper  |
//! | `{p}room:{id}:online`        | set    | none (entries pruned)     | presence          | online, members   |
//! | `{p}room:{id}:typing:{u}`    | string | 3 s                       | typing            | typing (throttle) |
//! | `{p}user:{id}:notifications` | list   | 30 days, reset per push   | mention, invite, direct, delete | notifications |
//! | `{p}profiles`                | channel| -                         | update_profile    | profile caches    |
//! | `{p}limit:{s}:{name}`        | string | until the limiter is full again | rate limits | rate limits    |
//! | `{p}room:{id}:limit:send:{u}`| string | until the limiter is full again | send script | send script    |
//! | `{p}user:{id}:limit:send`    | string | until the limiter is full again | send script (gate) | send script (gate) |
//! | `{p}user:{id}:streams`       | zset   | lease (45 s), reset per heartbeat | event streams | event streams (caps) |
//! | `{p}addr:{a}:streams`        | zset   | lease (45 s), reset per heartbeat | event streams | event streams (caps) |
//! | `{p}user:{id}:limit:send_bytes` | string | until the limiter is full again | send script (gate) | send script (gate) |
//! | `{p}room:{id}:admins`        | set    | none (members only; left with the member) | set_role | access checks |
//! | `{p}room:{id}:notify`        | hash   | none (one field per member who chose; left with the member) | set_room_notifications | send script, rooms |
//! | `{p}direct:{ids}`            | string | none (one per set of people a direct room was opened for) | open_direct | open_direct |
//! | `{p}user:{id}:hidden`        | hash   | none (one field per hidden direct room) | hide_direct | rooms |
//! | `{p}users:handles`           | zset   | none (one entry per account) | register, start (backfill) | people |
//! | `{p}users:handles:indexed`   | string | none (one key)            | start (backfill)  | start (backfill)  |
//! | `{p}users:names`             | zset   | none (one entry per word of each account's name) | register, update_profile, start (backfill) | people |
//! | `{p}users:names:indexed`     | string | none (one key)            | start (backfill)  | start (backfill)  |
//!
//! `{email}` is the lowercased address and `{handle}` the (lowercase)
//! handle, so both indexes are case-insensitive.
//!
//! Room and user keys wrap their id in braces, `room:{id}:...` and
//! `user:{id}:...`: a Redis Cluster hash tag, so all of one room's keys (and
//! its channel) live in one slot, and all of one user's in another. Every
//! script, transaction and pipeline touches one slot only, so the same code
//! runs on a cluster (docs/scaling.md). The prefix may not contain braces,
//! or its tag would put every key in one slot.

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
        format!("{}user:{{{user_id}}}", self.prefix)
    }

    /// The id of the account with this (lowercased) email.
    pub(crate) fn user_by_email(&self, normalized_email: &str) -> String {
        format!("{}user_by_email:{normalized_email}", self.prefix)
    }

    /// The id of the account with this handle.
    pub(crate) fn user_by_handle(&self, handle: &str) -> String {
        format!("{}user_by_handle:{handle}", self.prefix)
    }

    /// Set of the ids of the rooms a user has joined.
    pub fn user_rooms(&self, user_id: &str) -> String {
        format!("{}user:{{{user_id}}}:rooms", self.prefix)
    }

    /// Pub/Sub channel of a user's personal events.
    pub(crate) fn user_events(&self, user_id: &str) -> String {
        format!("{}user:{{{user_id}}}:events", self.prefix)
    }

    /// Hash of one room: id, name, private, created_by, created_at.
    pub(crate) fn room(&self, room_id: &str) -> String {
        format!("{}room:{{{room_id}}}", self.prefix)
    }

    /// Hash of the members' read positions in a room: user id -> `<last
    /// read message id> <the room's message count at it>`. On the room's
    /// slot, so the send script moves the author's own position.
    pub(crate) fn room_read(&self, room_id: &str) -> String {
        format!("{}room:{{{room_id}}}:read", self.prefix)
    }

    /// Set of the ids of a room's members.
    pub(crate) fn room_members(&self, room_id: &str) -> String {
        format!("{}room:{{{room_id}}}:members", self.prefix)
    }

    /// Sorted set of the users invited to a room who have not answered yet,
    /// scored with when the invitation expires (ms).
    pub(crate) fn room_invited(&self, room_id: &str) -> String {
        format!("{}room:{{{room_id}}}:invites", self.prefix)
    }

    /// Stream of a room's messages; entry ids are message ids.
    pub fn room_messages(&self, room_id: &str) -> String {
        format!("{}room:{{{room_id}}}:messages", self.prefix)
    }

    /// Hash of one message's changes since it was sent (its *state*):
    /// `body` and `edited_at` once edited, `deleted`, the people its edits
    /// mentioned (`mentioned`), and its reactions (`c:<emoji>` count,
    /// `o:<emoji>` order of first use, `u:<emoji>:<user id>` who). Expires
    /// with the message (its time plus the retention).
    pub(crate) fn message_state(&self, room_id: &str, message_id: &str) -> String {
        format!("{}room:{{{room_id}}}:m:{message_id}", self.prefix)
    }

    /// Sorted set of the messages of a room holding one word (folded, see
    /// `search::words`): every score 0, each member the message's id as a
    /// 19-digit number (`search::index`), so members sort by time byte by
    /// byte and `ZRANGE … BYLEX` pages them. Expires with its newest
    /// message; trimmed to the stream by every send that touches it.
    pub(crate) fn message_index(&self, room_id: &str, word: &str) -> String {
        format!("{}room:{{{room_id}}}:ix:{word}", self.prefix)
    }

    /// Sorted set of the words indexed in a room (every score 0): the
    /// words a query's last word may be the start of, by `ZRANGE … BYLEX`.
    pub(crate) fn message_index_words(&self, room_id: &str) -> String {
        format!("{}room:{{{room_id}}}:ix", self.prefix)
    }

    /// Set (to "1") once every room's kept messages were indexed for
    /// search (the one-time backfill at start).
    pub(crate) fn search_indexed(&self) -> String {
        format!("{}rooms:search:indexed", self.prefix)
    }

    /// Sorted set of one author's recent client message ids in a room (8-byte
    /// digests, scored by the message's time): deduplication, per author
    /// so nobody can claim another's id.
    pub(crate) fn room_sent(&self, room_id: &str, author_id: &str) -> String {
        format!("{}room:{{{room_id}}}:sent:{author_id}", self.prefix)
    }

    /// Set of the ids of a room's admins (the owner is the room hash's
    /// `created_by`).
    pub(crate) fn room_admins(&self, room_id: &str) -> String {
        format!("{}room:{{{room_id}}}:admins", self.prefix)
    }

    /// Hash of members' notification levels in a room: user id -> `all`,
    /// `mentions` or `none` (absent: the default). On the room's slot, so
    /// the send script reads it.
    pub(crate) fn room_notify(&self, room_id: &str) -> String {
        format!("{}room:{{{room_id}}}:notify", self.prefix)
    }

    /// The id of the direct room of exactly these people: `ids` is their
    /// user ids, sorted, joined by `,`. Claimed with `SET NX`.
    pub(crate) fn direct(&self, sorted_ids: &str) -> String {
        format!("{}direct:{sorted_ids}", self.prefix)
    }

    /// Hash of the direct rooms a user hid: room id -> the room's message
    /// count (`seq`) when hidden. A later message shows the room again.
    pub(crate) fn user_hidden(&self, user_id: &str) -> String {
        format!("{}user:{{{user_id}}}:hidden", self.prefix)
    }

    /// Pub/Sub channel of a room's live events.
    pub(crate) fn room_events(&self, room_id: &str) -> String {
        format!("{}room:{{{room_id}}}:events", self.prefix)
    }

    /// Sorted set of public room ids, scored by creation time (ms).
    pub(crate) fn public_rooms(&self) -> String {
        format!("{}rooms:public", self.prefix)
    }

    /// Sorted set, every score 0, of the words of public rooms' names: the
    /// directory filter's prefixes, with `ZRANGE … BYLEX`.
    pub(crate) fn public_room_words(&self) -> String {
        format!("{}rooms:public:words", self.prefix)
    }

    /// Set (to "1") once the words of every public room were indexed (the
    /// one-time backfill at start).
    pub(crate) fn public_rooms_indexed(&self) -> String {
        format!("{}rooms:public:indexed", self.prefix)
    }

    /// Sorted set of the public rooms with this word in their name, scored
    /// by creation time: the directory filter, newest first.
    pub(crate) fn public_word_rooms(&self, word: &str) -> String {
        format!("{}rooms:public:word:{word}", self.prefix)
    }

    /// Sorted set of one user's open event streams: connection id -> the
    /// time (ms) it counts as gone unless its heartbeat refreshes it.
    pub(crate) fn user_connections(&self, user_id: &str) -> String {
        format!("{}user:{{{user_id}}}:connections", self.prefix)
    }

    /// Sorted set of users with open (or recently closed) event streams:
    /// user id -> when their last connection expires (ms). The sweeper's
    /// to-do list.
    pub(crate) fn presence(&self) -> String {
        format!("{}presence", self.prefix)
    }

    /// Set of the ids of a room's members who are online.
    pub(crate) fn room_online(&self, room_id: &str) -> String {
        format!("{}room:{{{room_id}}}:online", self.prefix)
    }

    /// Present while a user's last `typing` event in a room is fresh (the
    /// throttle).
    pub(crate) fn room_typing(&self, room_id: &str, user_id: &str) -> String {
        format!("{}room:{{{room_id}}}:typing:{user_id}", self.prefix)
    }

    /// List of a user's notifications as JSON, newest first.
    pub(crate) fn user_notifications(&self, user_id: &str) -> String {
        format!("{}user:{{{user_id}}}:notifications", self.prefix)
    }

    /// Pub/Sub channel on which a changed profile's user id is announced, so
    /// every process drops it from its profile cache.
    pub(crate) fn profiles_changed(&self) -> String {
        format!("{}profiles", self.prefix)
    }

    /// A rate limiter's state (GCRA: the time, in ms, at which it is full
    /// again). `subject` is whom it counts (`u:{user}`, `a:{address}`,
    /// `e:{email}`); braced, so one subject's limiters share a cluster slot
    /// and can be checked together in one script.
    pub(crate) fn limit(&self, subject: &str, name: &str) -> String {
        format!("{}limit:{{{subject}}}:{name}", self.prefix)
    }

    /// A user's send limiter for one room (GCRA state, as [`Self::limit`]),
    /// in the room's slot so the send script can pay it.
    pub(crate) fn room_send_limit(&self, room_id: &str, user_id: &str) -> String {
        format!("{}room:{{{room_id}}}:limit:send:{user_id}", self.prefix)
    }

    /// A user's send limiter across all rooms (GCRA state), in the user's
    /// slot beside the sign-in list the send path checks with it.
    pub(crate) fn user_send_limit(&self, user_id: &str) -> String {
        format!("{}user:{{{user_id}}}:limit:send", self.prefix)
    }

    /// Sorted set of a user's open event streams (`<session handle>|<stream
    /// id>` -> lease expiry, ms): the per-user and per-session caps.
    pub(crate) fn user_streams(&self, user_id: &str) -> String {
        format!("{}user:{{{user_id}}}:streams", self.prefix)
    }

    /// Sorted set of the event streams open from one client address
    /// (stream id -> lease expiry, ms): the per-address cap.
    pub(crate) fn address_streams(&self, address: &str) -> String {
        format!("{}addr:{{{address}}}:streams", self.prefix)
    }

    /// A user's byte budget for message bodies across all rooms (GCRA
    /// state, on the user's slot like [`Self::user_send_limit`]).
    pub(crate) fn user_send_bytes_limit(&self, user_id: &str) -> String {
        format!("{}user:{{{user_id}}}:limit:send_bytes", self.prefix)
    }

    /// Hash of a user's live sign-ins: handle -> JSON (when, which browser,
    /// from where). A session whose handle is gone from here is revoked.
    pub(crate) fn user_sessions(&self, user_id: &str) -> String {
        format!("{}user:{{{user_id}}}:sessions", self.prefix)
    }

    /// Sorted set, every score 0, of `<handle>:<user id>` for every
    /// account: people found by handle prefix (`ZRANGE … BYLEX`).
    pub(crate) fn handles(&self) -> String {
        format!("{}users:handles", self.prefix)
    }

    /// Sorted set of the words of every display name, as `<word>:<user id>`,
    /// every score 0: people found by a word of their name.
    pub(crate) fn names(&self) -> String {
        format!("{}users:names", self.prefix)
    }

    /// Set (to "1") once every account's name was indexed.
    pub(crate) fn names_indexed(&self) -> String {
        format!("{}users:names:indexed", self.prefix)
    }

    /// Set (to "1") once every account's handle was indexed (the one-time
    /// backfill at start).
    pub(crate) fn handles_indexed(&self) -> String {
        format!("{}users:handles:indexed", self.prefix)
    }

    /// One session record, as JSON.
    pub(crate) fn session(&self, session_id: &str) -> String {
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
            keys.user_rooms("u1"),
            keys.room_read("r1"),
            keys.user_events("u1"),
            keys.room("r1"),
            keys.room_members("r1"),
            keys.room_invited("r1"),
            keys.room_messages("r1"),
            keys.room_sent("r1", "u1"),
            keys.room_admins("r1"),
            keys.room_notify("r1"),
            keys.room_events("r1"),
            keys.public_rooms(),
            keys.public_room_words(),
            keys.public_word_rooms("rust"),
            keys.public_rooms_indexed(),
            keys.user_connections("u1"),
            keys.presence(),
            keys.room_online("r1"),
            keys.room_typing("r1", "u1"),
            keys.user_notifications("u1"),
            keys.profiles_changed(),
            keys.limit("u:u1", "invite"),
            keys.user_sessions("u1"),
            keys.room_send_limit("r1", "u1"),
            keys.user_send_limit("u1"),
            keys.room_admins("r1"),
            keys.room_notify("r1"),
            keys.message_state("r1", "1-0"),
            keys.message_index("r1", "word"),
            keys.message_index_words("r1"),
            keys.search_indexed(),
            keys.direct("u1,u2"),
            keys.user_hidden("u1"),
            keys.handles(),
            keys.handles_indexed(),
            keys.names(),
            keys.names_indexed(),
        ] {
            assert!(key.starts_with("test:"), "{key}");
        }
    }

    #[test]
    fn all_keys_of_one_room_share_a_cluster_hash_tag() {
        let keys = Keys::new("p:");
        for key in [
            keys.room("r1"),
            keys.room_members("r1"),
            keys.room_messages("r1"),
            keys.room_online("r1"),
            keys.room_typing("r1", "u1"),
            keys.room_events("r1"),
            keys.room_invited("r1"),
            keys.room_sent("r1", "u1"),
            keys.room_send_limit("r1", "u1"),
            keys.room_read("r1"),
            keys.message_index("r1", "word"),
            keys.message_index_words("r1"),
        ] {
            assert!(key.contains("{r1}"), "{key}");
        }
    }

    #[test]
    fn all_keys_of_one_user_share_a_cluster_hash_tag() {
        let keys = Keys::new("p:");
        for key in [
            keys.user("u1"),
            keys.user_rooms("u1"),
            keys.user_events("u1"),
            keys.user_connections("u1"),
            keys.user_streams("u1"),
            keys.user_send_bytes_limit("u1"),
            keys.user_notifications("u1"),
            keys.user_sessions("u1"),
            keys.user_send_limit("u1"),
            keys.user_hidden("u1"),
        ] {
            assert!(key.contains("{u1}"), "{key}");
        }
    }
}
