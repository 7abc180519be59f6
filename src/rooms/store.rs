//! Rooms in Redis: a hash per room, a member set per room, a room set per
//! user, and a sorted set of public rooms.
//!
//! A room's keys share one cluster slot and a user's keys another, so a
//! change to both (create, join, leave) is two steps, one per slot. The
//! room's member set is the truth; the user's room set is an index of it
//! for the sidebar and the event streams. Joining writes the member set
//! first; leaving empties the user's set first. Steps of a leave and a join
//! racing on two processes can still interleave so that the room stays in
//! the user's set after the member set lost them, so every read of the
//! user's set ([`joined_ids`]) checks each room against its member set and
//! drops the rooms it does not confirm; streams subscribe only to
//! confirmed rooms. A crash between a join's two steps leaves a member
//! whose sidebar lacks the room, which the next join repairs, never an
//! outsider who can read one.

use std::collections::HashMap;
use std::sync::LazyLock;

use futures::future::try_join_all;
use redis::Script;

use super::model::{
    name_words, JoinedRoom, NotifyLevel, Role, Room, RoomId, RoomKind, RoomName, Standing,
};
use crate::auth::User;
use crate::error::AppResult;
use crate::events::{PersonalEvent, RoomEvent, RoomRef};
use crate::server::clock::now_millis;
use crate::server::state::AppState;

/// A room from its hash. `role`, `notifications` and a direct room's
/// `members` and name depend on who asks: filled in by the callers.
pub(crate) fn room_from_fields(mut fields: HashMap<String, String>) -> Option<Room> {
    Some(Room {
        id: fields.remove("id")?,
        name: fields.remove("name")?,
        private: fields.remove("private")? == "1",
        kind: match fields.get("kind").map(String::as_str) {
            Some("direct") => RoomKind::Direct,
            _ => RoomKind::Room,
        },
        topic: fields.remove("topic").unwrap_or_default(),
        role: None,
        notifications: None,
        members: Vec::new(),
    })
}

/// Creates a room with its creator as the first member.
pub(crate) async fn create(
    state: &AppState,
    name: &RoomName,
    private: bool,
    creator: &str,
) -> AppResult<Room> {
    let id = uuid::Uuid::new_v4().simple().to_string();
    let created_at = now_millis();
    let keys = &state.keys;
    // The room with its first member, in one transaction on the room's slot.
    let () = redis::pipe()
        .atomic()
        .hset_multiple(
            keys.room(&id),
            &[
                ("id", id.as_str()),
                ("name", name.as_str()),
                ("private", if private { "1" } else { "0" }),
                ("created_by", creator),
                ("created_at", &created_at.to_string()),
            ],
        )
        .ignore()
        .sadd(keys.room_members(&id), creator)
        .ignore()
        .query_async(&mut state.redis())
        .await?;
    add_to_user(state, &id, creator).await?;
    if !private {
        // The filter's words first, the listing last: the room is listed
        // only once it is whole.
        index_words(state, &id, name.as_str(), created_at).await?;
        let () = redis::cmd("ZADD")
            .arg(keys.public_rooms())
            .arg(created_at)
            .arg(&id)
            .query_async(&mut state.redis())
            .await?;
    }
    Ok(Room {
        id,
        name: name.as_str().to_owned(),
        private,
        kind: RoomKind::Room,
        topic: String::new(),
        role: Some(Role::Owner),
        notifications: Some(NotifyLevel::All),
        members: Vec::new(),
    })
}

/// Adds a public room to the directory's word index: for each word of its
/// name, the room to that word's set (scored by age) and the word to the
/// list of words (for prefixes). Single-key commands, sent together: the
/// keys live in different cluster slots. Idempotent.
pub(crate) async fn index_words(
    state: &AppState,
    id: &str,
    name: &str,
    created_at: u64,
) -> AppResult<()> {
    let keys = &state.keys;
    let redis = state.redis();
    try_join_all(name_words(name).into_iter().map(|word| {
        let mut redis = redis.clone();
        let (rooms, words) = (keys.public_word_rooms(&word), keys.public_room_words());
        async move {
            let () = redis::cmd("ZADD")
                .arg(rooms)
                .arg(created_at)
                .arg(id)
                .query_async(&mut redis)
                .await?;
            redis::cmd("ZADD")
                .arg(words)
                .arg(0)
                .arg(&word)
                .query_async::<()>(&mut redis)
                .await
        }
    }))
    .await?;
    Ok(())
}

/// Indexes the words of every public room, once per deployment: public
/// rooms created before the word index existed are found by the filter
/// afterwards. Runs in the background at start until `{p}rooms:public:indexed`
/// says a process finished it (processes starting together may each do it;
/// it is idempotent). One `ZSCAN` page of 200 rooms at a time, each room's
/// name read with `HGET`.
pub(crate) async fn backfill_word_index(state: &AppState) -> AppResult<()> {
    let keys = &state.keys;
    if state.redis().is_done(&keys.public_rooms_indexed()).await? {
        return Ok(());
    }
    let mut cursor = 0u64;
    loop {
        let (next, page): (u64, Vec<(String, f64)>) = redis::cmd("ZSCAN")
            .arg(keys.public_rooms())
            .arg(cursor)
            .arg("COUNT")
            .arg(200)
            .query_async(&mut state.redis())
            .await?;
        for (id, created_at) in page {
            let name: Option<String> = redis::cmd("HGET")
                .arg(keys.room(&id))
                .arg("name")
                .query_async(&mut state.redis())
                .await?;
            if let Some(name) = name {
                index_words(state, &id, &name, created_at as u64).await?;
            }
        }
        if next == 0 {
            break;
        }
        cursor = next;
    }
    state
        .redis()
        .mark_done(&keys.public_rooms_indexed())
        .await?;
    Ok(())
}

/// Puts the room into the user's set and tells the user's open event
/// streams (one transaction on the user's slot).
pub(crate) async fn add_to_user(state: &AppState, room: &str, user_id: &str) -> AppResult<()> {
    let event = PersonalEvent::Joined(RoomRef {
        room_id: room.to_owned(),
    });
    let redis = state.redis();
    let () = redis::pipe()
        .atomic()
        .sadd(state.keys.user_rooms(user_id), room)
        .ignore()
        .add_command(redis.publish(&state.keys.user_events(user_id), event.to_json()))
        .ignore()
        .query_async(&mut redis.clone())
        .await?;
    Ok(())
}

/// Takes the room out of the user's set; tells their open streams (`left`)
/// only if the set changed, so a leave by someone who was not in the room
/// announces nothing.
static LEAVE_USER: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
-- KEYS[1] the user's rooms;
-- ARGV[1] room id, ARGV[2] PUBLISH or SPUBLISH, ARGV[3] channel, ARGV[4] event
if redis.call('SREM', KEYS[1], ARGV[1]) == 1 then
  redis.call(ARGV[2], ARGV[3], ARGV[4])
  return 1
end
return 0
",
    )
});

/// Takes the user out of the room's member and online sets, forgets their
/// read position, role and notification level and, only if they were a
/// member, publishes the room's `member_left` marker.
static LEAVE_ROOM: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
-- KEYS[1] members, KEYS[2] online, KEYS[3] read positions, KEYS[4] admins,
-- KEYS[5] notification levels; ARGV[1] user id,
-- ARGV[2] PUBLISH or SPUBLISH, ARGV[3] channel, ARGV[4] marker
redis.call('HDEL', KEYS[3], ARGV[1])
redis.call('SREM', KEYS[4], ARGV[1])
redis.call('HDEL', KEYS[5], ARGV[1])
if redis.call('SREM', KEYS[1], ARGV[1]) == 1 then
  redis.call('SREM', KEYS[2], ARGV[1])
  redis.call(ARGV[2], ARGV[3], ARGV[4])
  return 1
end
redis.call('SREM', KEYS[2], ARGV[1])
return 0
",
    )
});

/// Adds a member, answers their invitation and publishes `member_joined`,
/// only if the room still exists: a join racing a deletion must not bring
/// back a member set of a room that is gone.
static JOIN_ROOM: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
-- KEYS[1] hash, KEYS[2] members, KEYS[3] invites; ARGV[1] user id,
-- ARGV[2] PUBLISH or SPUBLISH, ARGV[3] channel, ARGV[4] marker
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('SADD', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call(ARGV[2], ARGV[3], ARGV[4])
return 1
",
    )
});

/// Fills in what a room is to one of its members: their role (none in a
/// direct room) and their notification level (the stored one, else the
/// default for the room's kind and member count).
fn as_member(room: &mut Room, owner: bool, admin: bool, level: Option<&str>, members: u64) {
    room.role = (!room.is_direct()).then_some(match (owner, admin) {
        (true, _) => Role::Owner,
        (false, true) => Role::Admin,
        (false, false) => Role::Member,
    });
    room.notifications = Some(
        level
            .and_then(|level| NotifyLevel::parse(level).ok())
            .unwrap_or(NotifyLevel::default_for(room.kind, members)),
    );
}

/// The room and whether the user is a member, in one round trip; for a
/// member, the room carries their role and notification level.
pub(crate) async fn room_and_standing(
    state: &AppState,
    room_id: &RoomId,
    user_id: &str,
) -> AppResult<(Option<Room>, Standing)> {
    let room = room_id.as_str();
    #[allow(clippy::type_complexity)]
    let (fields, member, invited_until, admin, level, size): (
        HashMap<String, String>,
        bool,
        Option<f64>,
        bool,
        Option<String>,
        u64,
    ) = redis::pipe()
        .hgetall(state.keys.room(room))
        .sismember(state.keys.room_members(room), user_id)
        .zscore(state.keys.room_invited(room), user_id)
        .sismember(state.keys.room_admins(room), user_id)
        .hget(state.keys.room_notify(room), user_id)
        .scard(state.keys.room_members(room))
        .query_async(&mut state.redis())
        .await?;
    let owner = fields.get("created_by").is_some_and(|by| by == user_id);
    let room = room_from_fields(fields).map(|mut room| {
        if member {
            as_member(&mut room, owner, admin, level.as_deref(), size);
        }
        room
    });
    // An invitation counts until it expires (entries are pruned when the
    // next one is added, and the key expires with its newest).
    let invited = invited_until.is_some_and(|until| until as u64 > now_millis());
    let standing = match (member, invited) {
        (true, _) => Standing::Member,
        (false, true) => Standing::Invited,
        (false, false) => Standing::Outsider,
    };
    Ok((room, standing))
}

/// How long an unanswered invitation stands.
pub(crate) const INVITATION_TTL: std::time::Duration = std::time::Duration::from_secs(30 * 86_400);

/// Records an invitation, standing until it is answered or
/// [`INVITATION_TTL`] passes: one sorted set per room, invitee -> expiry
/// (ms). Adding one prunes the expired and gives the key the newest
/// invitation's lifetime, so a room's invitations never outlive 30 days
/// of silence. Returns the expiry.
pub(crate) async fn add_invitation(
    state: &AppState,
    room_id: &RoomId,
    user_id: &str,
) -> AppResult<u64> {
    let key = state.keys.room_invited(room_id.as_str());
    let now = now_millis();
    let ttl = u64::try_from(INVITATION_TTL.as_millis()).unwrap_or(u64::MAX);
    let until = now + ttl;
    let () = redis::pipe()
        .atomic()
        .cmd("ZREMRANGEBYSCORE")
        .arg(&key)
        .arg("-inf")
        .arg(now)
        .ignore()
        .zadd(&key, user_id, until)
        .ignore()
        .pexpire(&key, i64::try_from(ttl).unwrap_or(i64::MAX))
        .ignore()
        .query_async(&mut state.redis())
        .await?;
    Ok(until)
}

/// Forgets an invitation (declined).
pub(crate) async fn remove_invitation(
    state: &AppState,
    room_id: &RoomId,
    user_id: &str,
) -> AppResult<()> {
    let () = redis::cmd("ZREM")
        .arg(state.keys.room_invited(room_id.as_str()))
        .arg(user_id)
        .query_async(&mut state.redis())
        .await?;
    Ok(())
}

/// Adds the user to the room (or removes them) in both sets, and tells the
/// user's open event streams to start (or stop) carrying the room. In the
/// order the module docs explain; a repeated join repairs a half-done one.
/// A leave by someone who is not a member changes and announces nothing.
pub(crate) async fn set_membership(
    state: &AppState,
    room_id: &RoomId,
    user_id: &str,
    member: bool,
) -> AppResult<()> {
    let room = room_id.as_str();
    let keys = &state.keys;
    let redis = state.redis();
    let (room_id, user) = (room.to_owned(), user_id.to_owned());
    if member {
        // Joining answers any pending invitation.
        let channel = keys.room_events(room);
        let joined: i64 = JOIN_ROOM
            .key(keys.room(room))
            .key(keys.room_members(room))
            .key(keys.room_invited(room))
            .arg(user_id)
            .arg(redis.publish_command(&channel))
            .arg(&channel)
            .arg(
                RoomEvent::MemberJoined {
                    room_id,
                    user_id: user,
                }
                .to_json(),
            )
            .invoke_async(&mut redis.clone())
            .await?;
        if joined == 0 {
            // Deleted since the caller's check.
            return Err(super::model::no_such_room());
        }
        add_to_user(state, room, user_id).await
    } else {
        let personal = keys.user_events(user_id);
        let left = PersonalEvent::Left(RoomRef {
            room_id: room_id.clone(),
        });
        let _: i64 = LEAVE_USER
            .key(keys.user_rooms(user_id))
            .arg(room)
            .arg(redis.publish_command(&personal))
            .arg(&personal)
            .arg(left.to_json())
            .invoke_async(&mut redis.clone())
            .await?;
        // Also out of the room's online set: nothing else would take a user
        // who leaves with no stream open out of it. Their open streams, if
        // any, announce the change.
        let channel = keys.room_events(room);
        let _: i64 = LEAVE_ROOM
            .key(keys.room_members(room))
            .key(keys.room_online(room))
            .key(keys.room_read(room))
            .key(keys.room_admins(room))
            .key(keys.room_notify(room))
            .arg(user_id)
            .arg(redis.publish_command(&channel))
            .arg(&channel)
            .arg(
                RoomEvent::MemberLeft {
                    room_id,
                    user_id: user,
                }
                .to_json(),
            )
            .invoke_async(&mut redis.clone())
            .await?;
        Ok(())
    }
}

/// For a member: puts the room back into the user's set if a join was cut
/// off between its two steps (and only then tells their streams).
pub(crate) async fn repair_membership(
    state: &AppState,
    room_id: &RoomId,
    user_id: &str,
) -> AppResult<()> {
    let added: i64 = redis::cmd("SADD")
        .arg(state.keys.user_rooms(user_id))
        .arg(room_id.as_str())
        .query_async(&mut state.redis())
        .await?;
    if added == 1 {
        add_to_user(state, room_id.as_str(), user_id).await?;
    }
    Ok(())
}

/// Whether the room's member set holds the user: the truth a user's room
/// set is checked against.
pub(crate) async fn is_member(state: &AppState, room_id: &str, user_id: &str) -> AppResult<bool> {
    Ok(redis::cmd("SISMEMBER")
        .arg(state.keys.room_members(room_id))
        .arg(user_id)
        .query_async(&mut state.redis())
        .await?)
}

/// The ids of the rooms the user has joined: those of the user's set that
/// the rooms' member sets confirm. A leave racing a join on another
/// process can leave a room in the user's set after its member set lost
/// the user (the two sets live in different cluster slots, so no one
/// transaction covers both); such a room is dropped from the user's set
/// here, so nobody reads or subscribes to a room they are not in. One
/// `SMEMBERS`, then one `SISMEMBER` per room, sent together.
pub(crate) async fn joined_ids(state: &AppState, user_id: &str) -> AppResult<Vec<String>> {
    let listed: Vec<String> = redis::cmd("SMEMBERS")
        .arg(state.keys.user_rooms(user_id))
        .query_async(&mut state.redis())
        .await?;
    let confirmed = try_join_all(listed.iter().map(|room| is_member(state, room, user_id))).await?;
    let (joined, stale): (Vec<_>, Vec<_>) = listed
        .into_iter()
        .zip(confirmed)
        .partition(|(_, member)| *member);
    let mut joined: Vec<String> = joined.into_iter().map(|(room, _)| room).collect();
    if !stale.is_empty() {
        let stale: Vec<String> = stale.into_iter().map(|(room, _)| room).collect();
        tracing::info!(user_id, rooms = ?stale, "dropped rooms whose member set lacks the user");
        let _: i64 = redis::cmd("SREM")
            .arg(state.keys.user_rooms(user_id))
            .arg(&stale)
            .query_async(&mut state.redis())
            .await?;
        // A join may have landed between the check and the `SREM`: its
        // member-set step before the check would have been seen, so only
        // one after it matters, and its own user-set `SADD` may have found
        // the room still there and done nothing. Checked again, such a
        // room goes back. (A join later than this check adds it itself.)
        for room in stale {
            if is_member(state, &room, user_id).await? {
                let _: i64 = redis::cmd("SADD")
                    .arg(state.keys.user_rooms(user_id))
                    .arg(&room)
                    .query_async(&mut state.redis())
                    .await?;
                joined.push(room);
            }
        }
    }
    Ok(joined)
}

/// The user's rooms (by name) and direct rooms not hidden (most recent
/// first), each with its unread count, the user's role and notification
/// level. One pipeline per room on the room's slot, all sent together (the
/// hash, the user's read position, the stream's length, admin or not, the
/// level, the member count: no message is read), plus the hidden list on
/// the user's slot; then the members of the direct rooms (at most 9 each)
/// and their profiles (cached).
pub(crate) async fn listing(
    state: &AppState,
    user_id: &str,
) -> AppResult<(Vec<JoinedRoom>, Vec<JoinedRoom>)> {
    let ids = joined_ids(state, user_id).await?;
    let keys = &state.keys;
    let redis = state.redis();
    type Row = (
        HashMap<String, String>,
        Option<String>,
        u64,
        bool,
        Option<String>,
        u64,
    );
    let rows = try_join_all(ids.iter().map(|id| {
        let mut redis = redis.clone();
        let mut pipe = redis::pipe();
        pipe.hgetall(keys.room(id))
            .hget(keys.room_read(id), user_id)
            .xlen(keys.room_messages(id))
            .sismember(keys.room_admins(id), user_id)
            .hget(keys.room_notify(id), user_id)
            .scard(keys.room_members(id));
        async move { pipe.query_async::<Row>(&mut redis).await }
    }));
    let hidden = async {
        redis::cmd("HGETALL")
            .arg(keys.user_hidden(user_id))
            .query_async::<HashMap<String, u64>>(&mut redis.clone())
            .await
    };
    let (rows, hidden) = futures::future::try_join(rows, hidden).await?;
    let (mut rooms, mut direct) = (Vec::new(), Vec::new());
    for (mut fields, position, kept, admin, level, size) in rows {
        let count: u64 = fields
            .get("seq")
            .and_then(|seq| seq.parse().ok())
            .unwrap_or(0);
        let last_at = ["last_at", "created_at"]
            .iter()
            .find_map(|field| fields.get(*field)?.parse().ok())
            .unwrap_or(0);
        let owner = fields.remove("created_by").is_some_and(|by| by == user_id);
        let Some(mut room) = room_from_fields(fields) else {
            continue;
        };
        as_member(&mut room, owner, admin, level.as_deref(), size);
        let unread = crate::messages::unread::unread_of(count, position.as_deref(), kept);
        if room.is_direct() {
            if hidden.get(&room.id).is_some_and(|at| *at >= count) {
                continue;
            }
            direct.push(JoinedRoom {
                room,
                unread,
                last_at,
            });
        } else {
            rooms.push(JoinedRoom {
                room,
                unread,
                last_at,
            });
        }
    }
    rooms.sort_by_cached_key(|joined| joined.room.name.to_lowercase());
    let members = try_join_all(
        direct
            .iter()
            .map(|joined| direct_members(state, &joined.room.id)),
    )
    .await?;
    for (joined, members) in direct.iter_mut().zip(members) {
        joined.room.name = super::model::direct_name(&members, user_id);
        joined.room.members = members;
    }
    direct.sort_by_key(|joined| std::cmp::Reverse(joined.last_at));
    Ok((rooms, direct))
}

/// The members of a direct room, by display name (at most 9: one
/// `SMEMBERS`, then the profiles, cached).
pub(crate) async fn direct_members(state: &AppState, room_id: &str) -> AppResult<Vec<User>> {
    let ids: Vec<String> = redis::cmd("SMEMBERS")
        .arg(state.keys.room_members(room_id))
        .query_async(&mut state.redis())
        .await?;
    let profiles = crate::auth::profiles(state, &ids).await?;
    let mut users: Vec<User> = profiles
        .into_values()
        .map(|user| User {
            email: None,
            ..user
        })
        .collect();
    users.sort_by_cached_key(|user| (user.display_name.to_lowercase(), user.id.clone()));
    Ok(users)
}

/// A room as the caller sees it: a direct room with its members and their
/// names.
pub(crate) async fn presented(state: &AppState, mut room: Room, viewer: &str) -> AppResult<Room> {
    if room.is_direct() {
        room.members = direct_members(state, &room.id).await?;
        room.name = super::model::direct_name(&room.members, viewer);
    }
    Ok(room)
}

/// How many words one filter word may stand for as a prefix ("ru" for
/// "rust", "rustaceans", …): the first this many in byte order, the word
/// itself first.
const PREFIX_WORDS: isize = 50;
/// How many rooms one page of a filtered directory may look at before it
/// answers with what it found and a cursor to go on from.
const SCAN_BUDGET: usize = 1000;
/// Rooms read from each word's set at a time while scanning.
const SCAN_BATCH: usize = 200;
/// Rooms created in the same millisecond as a page's last one that the
/// next page can tell apart (ties are ordered by id).
const SAME_MILLISECOND: usize = 100;

/// Where a directory page ends: the last room's creation time (ms) and id.
/// The next page starts after it, in the directory's order: newest first,
/// and rooms created in the same millisecond by id, descending (the order
/// of `ZRANGE … REV`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DirectoryCursor {
    pub created_at: u64,
    pub room_id: String,
}

impl DirectoryCursor {
    fn is_after(&self, room_id: &str, created_at: u64) -> bool {
        created_at < self.created_at
            || (created_at == self.created_at && room_id < self.room_id.as_str())
    }
}

/// A page of the public directory, newest first: rooms after `before`,
/// whose name has a word starting with each word of `query` (if any), and
/// the cursor of the next page. Without a query: one `ZRANGE … BYSCORE
/// REV` on the directory. With one: see [`filtered_page`].
pub(crate) async fn public_page(
    state: &AppState,
    query: &[String],
    before: Option<&DirectoryCursor>,
    limit: usize,
) -> AppResult<(Vec<Room>, Option<DirectoryCursor>)> {
    let keys = &state.keys;
    let after_cursor =
        |(id, score): &(String, u64)| before.is_none_or(|cursor| cursor.is_after(id, *score));
    if !query.is_empty() {
        return filtered_page(state, query, before, limit).await;
    }
    // Inclusive of the cursor's millisecond: rooms of that millisecond not
    // yet shown are on this page.
    let upper = before.map_or_else(|| "+inf".to_owned(), |c| c.created_at.to_string());
    // Scores are doubles (Redis may write a whole one in exponent form).
    let fetched: Vec<(String, f64)> = redis::cmd("ZRANGE")
        .arg(keys.public_rooms())
        .arg(&upper)
        .arg("-inf")
        .arg("BYSCORE")
        .arg("REV")
        .arg("LIMIT")
        .arg(0)
        .arg(limit + 1 + SAME_MILLISECOND)
        .arg("WITHSCORES")
        .query_async(&mut state.redis())
        .await?;
    let scored: Vec<(String, u64)> = fetched
        .into_iter()
        .map(|(id, score)| (id, score as u64))
        .filter(after_cursor)
        .take(limit + 1)
        .collect();
    page_of(state, scored, limit).await
}

/// The rooms of a page (its first `limit` of `scored`, newest first) and,
/// when there is one more, the cursor after the last shown.
async fn page_of(
    state: &AppState,
    mut scored: Vec<(String, u64)>,
    limit: usize,
) -> AppResult<(Vec<Room>, Option<DirectoryCursor>)> {
    let next = (scored.len() > limit).then(|| DirectoryCursor {
        created_at: scored[limit - 1].1,
        room_id: scored[limit - 1].0.clone(),
    });
    scored.truncate(limit);
    let ids: Vec<String> = scored.into_iter().map(|(id, _)| id).collect();
    Ok((rooms_by_id(state, &ids).await?, next))
}

/// A filtered page, by age, with no search module:
///
/// 1. each query word stands for the words of room names that start with
///    it: `ZRANGE {p}rooms:public:words [w "[w\xff" BYLEX LIMIT 0 50` on
///    the list of words (all scores 0, so ordered byte by byte: a prefix
///    is a range);
/// 2. the query word with the fewest rooms (`ZCARD` of each of its words'
///    sets, `{p}rooms:public:word:<word>`, scored by creation time) drives:
///    its words' sets are read newest first, from the cursor on, a batch
///    at a time (`ZRANGE … BYSCORE REV LIMIT`), merged;
/// 3. each room read is kept if its name has a word starting with every
///    query word (its name read with `HGET`);
///
/// until the page is full or [`SCAN_BUDGET`] rooms were looked at. Then
/// the answer is what was found and, if the scan did not reach the end,
/// a cursor where it stopped: every matching room is reachable by paging,
/// however many others share its words (rooms named "gen" cannot push
/// "general" out: it is found at its age).
async fn filtered_page(
    state: &AppState,
    query: &[String],
    before: Option<&DirectoryCursor>,
    limit: usize,
) -> AppResult<(Vec<Room>, Option<DirectoryCursor>)> {
    let keys = &state.keys;
    let redis = state.redis();
    // 1. The words each query word stands for.
    let mut expansions: Vec<Vec<String>> = Vec::new();
    for word in query {
        let mut high = format!("[{word}").into_bytes();
        high.push(0xff);
        let words: Vec<String> = redis::cmd("ZRANGE")
            .arg(keys.public_room_words())
            .arg(format!("[{word}"))
            .arg(high)
            .arg("BYLEX")
            .arg("LIMIT")
            .arg(0)
            .arg(PREFIX_WORDS)
            .query_async(&mut redis.clone())
            .await?;
        if words.is_empty() {
            return Ok((Vec::new(), None));
        }
        expansions.push(words);
    }
    // 2. The driver: the query word whose words hold the fewest rooms.
    let mut sizes = Vec::new();
    for words in &expansions {
        let counts: Vec<u64> = try_join_all(words.iter().map(|word| {
            let mut redis = redis.clone();
            let key = keys.public_word_rooms(word);
            async move {
                redis::cmd("ZCARD")
                    .arg(key)
                    .query_async::<u64>(&mut redis)
                    .await
            }
        }))
        .await?;
        sizes.push(counts.iter().sum::<u64>());
    }
    let driver = sizes
        .iter()
        .enumerate()
        .min_by_key(|(_, size)| **size)
        .map_or(0, |(at, _)| at);
    let driver_keys: Vec<String> = expansions[driver]
        .iter()
        .map(|word| keys.public_word_rooms(word))
        .collect();
    // 3. Scan newest first from the cursor, keeping the rooms whose names
    // match every query word.
    let mut position = before.cloned();
    let mut found: Vec<(String, u64)> = Vec::new();
    let mut scanned = 0;
    loop {
        let upper = position
            .as_ref()
            .map_or_else(|| "+inf".to_owned(), |c| c.created_at.to_string());
        let batches: Vec<Vec<(String, f64)>> = try_join_all(driver_keys.iter().map(|key| {
            let mut redis = redis.clone();
            let upper = upper.clone();
            async move {
                redis::cmd("ZRANGE")
                    .arg(key)
                    .arg(upper)
                    .arg("-inf")
                    .arg("BYSCORE")
                    .arg("REV")
                    .arg("LIMIT")
                    .arg(0)
                    .arg(SCAN_BATCH + SAME_MILLISECOND)
                    .arg("WITHSCORES")
                    .query_async::<Vec<(String, f64)>>(&mut redis)
                    .await
            }
        }))
        .await?;
        // Complete down to the newest of the oldest rooms each full batch
        // reached: older rooms of that set are still to come.
        let horizon = batches
            .iter()
            .filter(|batch| batch.len() >= SCAN_BATCH + SAME_MILLISECOND)
            .filter_map(|batch| batch.last().map(|(_, score)| *score as u64))
            .max();
        let mut window: Vec<(String, u64)> = batches
            .into_iter()
            .flatten()
            .map(|(id, score)| (id, score as u64))
            .filter(|(id, score)| {
                position
                    .as_ref()
                    .is_none_or(|cursor| cursor.is_after(id, *score))
            })
            .filter(|(_, score)| horizon.is_none_or(|horizon| *score > horizon))
            .collect();
        window.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| b.0.cmp(&a.0)));
        window.dedup();
        let exhausted = horizon.is_none();
        // Empty: the end, or (only if hundreds of rooms share one
        // millisecond) no way to tell more apart; stop either way.
        if window.is_empty() {
            return page_of(state, found, limit).await;
        }
        let names: Vec<Option<String>> = try_join_all(window.iter().map(|(id, _)| {
            let mut redis = redis.clone();
            let key = keys.room(id);
            async move {
                redis::cmd("HGET")
                    .arg(key)
                    .arg("name")
                    .query_async::<Option<String>>(&mut redis)
                    .await
            }
        }))
        .await?;
        for ((id, score), name) in window.into_iter().zip(names) {
            scanned += 1;
            position = Some(DirectoryCursor {
                created_at: score,
                room_id: id.clone(),
            });
            let Some(name) = name else { continue };
            let words = name_words(&name);
            let matches = query
                .iter()
                .all(|wanted| words.iter().any(|word| word.starts_with(wanted.as_str())));
            if matches {
                found.push((id, score));
                if found.len() > limit {
                    return page_of(state, found, limit).await;
                }
            }
        }
        if exhausted {
            return page_of(state, found, limit).await;
        }
        if scanned >= SCAN_BUDGET {
            // Out of budget: what was found, and where to go on from.
            let next = position;
            let (rooms, _) = page_of(state, found, limit).await?;
            return Ok((rooms, next));
        }
    }
}

/// The newest public rooms, at most `limit`.
pub(crate) async fn public(state: &AppState, limit: isize) -> AppResult<Vec<Room>> {
    let ids: Vec<String> = redis::cmd("ZRANGE")
        .arg(state.keys.public_rooms())
        .arg(0)
        .arg(limit - 1)
        .arg("REV")
        .query_async(&mut state.redis())
        .await?;
    rooms_by_id(state, &ids).await
}

/// The rooms with these ids, asked for concurrently (on a cluster each goes
/// to its room's node), skipping any gone.
async fn rooms_by_id(state: &AppState, ids: &[String]) -> AppResult<Vec<Room>> {
    let redis = state.redis();
    let rooms: Vec<HashMap<String, String>> = try_join_all(ids.iter().map(|id| {
        let mut redis = redis.clone();
        let key = state.keys.room(id);
        async move { redis::cmd("HGETALL").arg(key).query_async(&mut redis).await }
    }))
    .await?;
    Ok(rooms.into_iter().filter_map(room_from_fields).collect())
}
