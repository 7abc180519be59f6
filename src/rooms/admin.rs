//! Direct rooms and room administration in Redis.
//!
//! **Direct rooms.** The room of exactly a set of people is found through
//! one string key, `{p}direct:<their user ids, sorted, joined by ",">`,
//! holding the room's id. Whoever opens it first claims the key with
//! `SET … NX GET`: one atomic command on one key, so two people opening
//! each other's room at the same moment, on two app processes (or two
//! shards), get one answer between them: the first `SET` wins and every
//! other gets the winner's id back. The room itself (hash and member set,
//! on the room's slot) is then written with `HSETNX` and `SADD`, which
//! every opener may repeat: a crash between the claim and the room leaves
//! a claim the next open completes.
//!
//! **Roles.** The owner is the room hash's `created_by`, for good; admins
//! are a set on the room's slot (`{p}room:{id}:admins`), which a leave or a
//! removal empties of the person, in the same script that takes them out
//! of the member set.
//!
//! **Deleting** removes every key of the room: first, atomically on the
//! room's slot, the keys everything checks (the hash, the member set) and
//! the rest of the room's fixed keys, so access ends at once; then each
//! member's (and invitee's) own traces, on their slots; then the
//! per-person keys of the room (send dedup, typing, send limiters), found
//! by listing the room's slot on a cluster (`CLUSTER GETKEYSINSLOT`: the
//! room's hash tag puts all of them there) or by `SCAN MATCH` elsewhere.

use std::sync::LazyLock;

use redis::Script;

use super::model::{name_words, NotifyLevel, Role, Room, RoomId, RoomKind};
use super::store::presented;
use crate::error::AppResult;
use crate::events::{ClientEvent, PersonalEvent, RoomEvent, RoomRef};
use crate::server::clock::now_millis;
use crate::server::sse::publish_personal;
use crate::server::state::AppState;

/// Puts a room into a user's set and, only if it was not there, tells their
/// streams to subscribe (`joined`) and their tabs to list it
/// (`room_updated`). Shows a hidden direct room again.
static ADD_ONCE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
-- KEYS[1] the user's rooms, KEYS[2] their hidden direct rooms;
-- ARGV[1] room id, ARGV[2] PUBLISH or SPUBLISH, ARGV[3] channel,
-- ARGV[4] joined, ARGV[5] room_updated, ARGV[6] '1' to show it again
if ARGV[6] == '1' then redis.call('HDEL', KEYS[2], ARGV[1]) end
if redis.call('SADD', KEYS[1], ARGV[1]) == 1 then
  redis.call(ARGV[2], ARGV[3], ARGV[4])
  redis.call(ARGV[2], ARGV[3], ARGV[5])
  return 1
end
return 0
",
    )
});

/// The id of the direct room of exactly these people (sorted, distinct
/// user ids), if one was opened.
pub(crate) async fn existing_direct(state: &AppState, ids: &[String]) -> AppResult<Option<String>> {
    Ok(redis::cmd("GET")
        .arg(state.keys.direct(&ids.join(",")))
        .query_async(&mut state.redis())
        .await?)
}

/// Finds or creates the direct room of exactly these people (`ids`: user
/// ids, the caller's among them, sorted and distinct) and puts it into
/// each one's room list. Returns it as `caller` sees it.
pub(crate) async fn open_direct(state: &AppState, caller: &str, ids: &[String]) -> AppResult<Room> {
    let keys = &state.keys;
    let redis = state.redis();
    let candidate = uuid::Uuid::new_v4().simple().to_string();
    let claimed: Option<String> = redis::cmd("SET")
        .arg(keys.direct(&ids.join(",")))
        .arg(&candidate)
        .arg("NX")
        .arg("GET")
        .query_async(&mut redis.clone())
        .await?;
    let room_id = claimed.unwrap_or(candidate);
    // The room, written so that any number of openers may repeat it.
    let room_key = keys.room(&room_id);
    let created_at = now_millis().to_string();
    let mut pipe = redis::pipe();
    pipe.atomic();
    for (field, value) in [
        ("id", room_id.as_str()),
        ("name", ""),
        ("private", "1"),
        ("kind", "direct"),
        ("created_at", &created_at),
    ] {
        pipe.hset_nx(&room_key, field, value).ignore();
    }
    pipe.sadd(keys.room_members(&room_id), ids).ignore();
    let () = pipe.query_async(&mut redis.clone()).await?;
    let room = Room {
        id: room_id.clone(),
        name: String::new(),
        private: true,
        kind: RoomKind::Direct,
        topic: String::new(),
        role: None,
        notifications: Some(NotifyLevel::All),
        members: Vec::new(),
    };
    let mut room = presented(state, room, caller).await?;
    let members = room.members.clone();
    futures::future::try_join_all(members.iter().map(|member| {
        let mut redis = redis.clone();
        let view = Room {
            name: super::model::direct_name(&members, &member.id),
            ..room.clone()
        };
        let channel = keys.user_events(&member.id);
        let joined = PersonalEvent::Joined(RoomRef {
            room_id: room_id.clone(),
        });
        let updated = PersonalEvent::Forward(Box::new(ClientEvent::RoomUpdated(view)));
        let mut invocation = ADD_ONCE.key(keys.user_rooms(&member.id));
        invocation
            .key(keys.user_hidden(&member.id))
            .arg(&room_id)
            .arg(redis.publish_command(&channel))
            .arg(&channel)
            .arg(joined.to_json())
            .arg(updated.to_json())
            .arg(if member.id == caller { "1" } else { "0" });
        async move { invocation.invoke_async::<i64>(&mut redis).await }
    }))
    .await?;
    // The caller's own level, if they chose one before hiding the room.
    let level: Option<String> = redis::cmd("HGET")
        .arg(keys.room_notify(&room_id))
        .arg(caller)
        .query_async(&mut redis.clone())
        .await?;
    room.notifications = level.and_then(|level| NotifyLevel::parse(&level).ok());
    room.notifications.get_or_insert(NotifyLevel::All);
    Ok(room)
}

/// Hides a direct room from the user's list until its next message: the
/// room's message count now is remembered, and the listing shows the room
/// again once the count passes it.
pub(crate) async fn hide_direct(
    state: &AppState,
    room_id: &RoomId,
    user_id: &str,
) -> AppResult<()> {
    let room = room_id.as_str();
    let seq: Option<u64> = redis::cmd("HGET")
        .arg(state.keys.room(room))
        .arg("seq")
        .query_async(&mut state.redis())
        .await?;
    let () = redis::cmd("HSET")
        .arg(state.keys.user_hidden(user_id))
        .arg(room)
        .arg(seq.unwrap_or(0))
        .query_async(&mut state.redis())
        .await?;
    Ok(())
}

/// The room as everyone sees it (no role, no level), for `room_updated`
/// on the room's channel.
pub(crate) fn public_view(room: &Room) -> Room {
    Room {
        role: None,
        notifications: None,
        members: Vec::new(),
        ..room.clone()
    }
}

/// Renames a room and/or sets its topic: only the fields given, only if
/// the room still exists (an update racing a deletion must not bring back
/// half a hash), and publishes the room as it now is (`room_updated`, in
/// the order of the writes). Replies `{old name, name, topic}`, or `{}`
/// when the room is gone.
static UPDATE_ROOM: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
-- KEYS[1] hash; ARGV[1] room id, ARGV[2] '1' if a name is given, ARGV[3]
-- name, ARGV[4] '1' if a topic is given, ARGV[5] topic, ARGV[6] PUBLISH or
-- SPUBLISH, ARGV[7] channel
if redis.call('EXISTS', KEYS[1]) == 0 then return {} end
local old = redis.call('HGET', KEYS[1], 'name')
if ARGV[2] == '1' then redis.call('HSET', KEYS[1], 'name', ARGV[3]) end
if ARGV[4] == '1' then redis.call('HSET', KEYS[1], 'topic', ARGV[5]) end
local room = redis.call('HMGET', KEYS[1], 'name', 'private', 'kind', 'topic')
redis.call(ARGV[6], ARGV[7], cjson.encode({
  event = 'room_updated', id = ARGV[1], name = room[1], private = room[2] == '1',
  kind = room[3] or 'room', topic = room[4] or ''
}))
return {old, room[1], room[4] or ''}
",
    )
});

/// Renames the room and/or sets its topic, and tells its members live. A
/// public room's new name is indexed for the directory (its old words
/// are dropped from the index). `None` when the room is gone.
pub(crate) async fn update(
    state: &AppState,
    room: &Room,
    name: Option<&str>,
    topic: Option<&str>,
) -> AppResult<Option<Room>> {
    let keys = &state.keys;
    let redis = state.redis();
    let channel = keys.room_events(&room.id);
    let reply: Vec<String> = UPDATE_ROOM
        .key(keys.room(&room.id))
        .arg(&room.id)
        .arg(if name.is_some() { "1" } else { "0" })
        .arg(name.unwrap_or_default())
        .arg(if topic.is_some() { "1" } else { "0" })
        .arg(topic.unwrap_or_default())
        .arg(redis.publish_command(&channel))
        .arg(&channel)
        .invoke_async(&mut redis.clone())
        .await?;
    let [old, name, topic] = reply.as_slice() else {
        return Ok(None);
    };
    if !room.private && name != old {
        reindex(state, &room.id, old, name).await?;
    }
    Ok(Some(Room {
        name: name.clone(),
        topic: topic.clone(),
        ..room.clone()
    }))
}

/// Moves a public room in the directory's word index from its old name's
/// words to its new name's.
async fn reindex(state: &AppState, room_id: &str, old: &str, new: &str) -> AppResult<()> {
    let keys = &state.keys;
    let new_words = name_words(new);
    for word in name_words(old)
        .into_iter()
        .filter(|word| !new_words.contains(word))
    {
        let _: i64 = redis::cmd("ZREM")
            .arg(keys.public_word_rooms(&word))
            .arg(room_id)
            .query_async(&mut state.redis())
            .await?;
    }
    let created_at: Option<f64> = redis::cmd("ZSCORE")
        .arg(keys.public_rooms())
        .arg(room_id)
        .query_async(&mut state.redis())
        .await?;
    super::store::index_words(state, room_id, new, created_at.unwrap_or(0.0) as u64).await
}

/// Makes a member an admin, or an admin a member again: only if they are
/// a member (atomically, so a leave racing it leaves no admin outside the
/// room), and tells the room (`room_updated`, for the members pane).
static SET_ROLE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
-- KEYS[1] members, KEYS[2] admins; ARGV[1] user id, ARGV[2] 'admin' or
-- 'member', ARGV[3] PUBLISH or SPUBLISH, ARGV[4] channel, ARGV[5] event
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 0 then return 0 end
if ARGV[2] == 'admin' then
  redis.call('SADD', KEYS[2], ARGV[1])
else
  redis.call('SREM', KEYS[2], ARGV[1])
end
redis.call(ARGV[3], ARGV[4], ARGV[5])
return 1
",
    )
});

/// Gives a member a role (`admin` or `member`); `false` if they are not a
/// member. Their own tabs learn their new role (`room_updated` with it).
pub(crate) async fn set_role(
    state: &AppState,
    room: &Room,
    user_id: &str,
    role: Role,
) -> AppResult<bool> {
    let keys = &state.keys;
    let redis = state.redis();
    let channel = keys.room_events(&room.id);
    let done: i64 = SET_ROLE
        .key(keys.room_members(&room.id))
        .key(keys.room_admins(&room.id))
        .arg(user_id)
        .arg(if role == Role::Admin {
            "admin"
        } else {
            "member"
        })
        .arg(redis.publish_command(&channel))
        .arg(&channel)
        .arg(RoomEvent::RoomUpdated(public_view(room)).to_json())
        .invoke_async(&mut redis.clone())
        .await?;
    if done == 0 {
        return Ok(false);
    }
    let own = Room {
        role: Some(role),
        notifications: None,
        ..public_view(room)
    };
    let event = PersonalEvent::Forward(Box::new(ClientEvent::RoomUpdated(own)));
    publish_personal(&mut redis.clone(), keys, user_id, &event).await?;
    Ok(true)
}

/// Stores a member's level, only while they are a member: a level set
/// racing a leave (or a deletion) must not leave a field for someone
/// outside the room.
static SET_LEVEL: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
-- KEYS[1] members, KEYS[2] levels; ARGV[1] user id, ARGV[2] level
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
return 1
",
    )
});

/// Stores the user's notification level for the room and tells their other
/// tabs.
pub(crate) async fn set_notifications(
    state: &AppState,
    room: &Room,
    user_id: &str,
    level: NotifyLevel,
) -> AppResult<()> {
    let keys = &state.keys;
    let set: i64 = SET_LEVEL
        .key(keys.room_members(&room.id))
        .key(keys.room_notify(&room.id))
        .arg(user_id)
        .arg(level.as_str())
        .invoke_async(&mut state.redis())
        .await?;
    if set == 0 {
        // Gone from the room (or the room gone) since the check.
        return Err(super::model::no_such_room());
    }
    let own = Room {
        notifications: Some(level),
        ..presented(state, room.clone(), user_id).await?
    };
    let event = PersonalEvent::Forward(Box::new(ClientEvent::RoomUpdated(own)));
    publish_personal(&mut state.redis(), keys, user_id, &event).await
}

/// Takes a member out of the room (see `store::set_membership`: their
/// streams stop carrying the room at once, on every process), tells their
/// tabs they were removed, and the members (`room_updated`: their member
/// lists change).
pub(crate) async fn remove(state: &AppState, room: &Room, user_id: &str) -> AppResult<()> {
    let room_id = RoomId::parse(&room.id)?;
    super::store::set_membership(state, &room_id, user_id, false).await?;
    let event = PersonalEvent::Forward(Box::new(ClientEvent::Removed(RoomRef {
        room_id: room.id.clone(),
    })));
    let redis = state.redis();
    publish_personal(&mut redis.clone(), &state.keys, user_id, &event).await?;
    let channel = state.keys.room_events(&room.id);
    let () = redis
        .publish(
            &channel,
            RoomEvent::RoomUpdated(public_view(room)).to_json(),
        )
        .query_async(&mut redis.clone())
        .await?;
    Ok(())
}

/// The first step of a delete, atomic on the room's slot: reads who is in
/// (and invited to) the room, then unlinks every fixed key of the room.
/// From then on nobody can see, read or post in it. Replies `{name,
/// private, members..., '', invitees...}`, or `{}` if the room was gone.
static UNLINK_ROOM: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
-- KEYS[1] hash, KEYS[2] members, KEYS[3] invites, KEYS[4..] the other keys
local room = redis.call('HMGET', KEYS[1], 'name', 'private')
if not room[1] then return {} end
local reply = {room[1], room[2]}
for _, id in ipairs(redis.call('SMEMBERS', KEYS[2])) do table.insert(reply, id) end
table.insert(reply, '')
for _, id in ipairs(redis.call('ZRANGE', KEYS[3], 0, -1)) do table.insert(reply, id) end
redis.call('UNLINK', unpack(KEYS))
return reply
",
    )
});

/// Takes a deleted room out of one person's traces, on their slot: their
/// room list, hidden list and notifications about it; then tells their
/// streams to drop it (`left`) and their tabs (`room_deleted`).
static FORGET_ROOM: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
-- KEYS[1] rooms, KEYS[2] hidden, KEYS[3] notifications; ARGV[1] room id,
-- ARGV[2] PUBLISH or SPUBLISH, ARGV[3] channel, ARGV[4] left, ARGV[5] deleted
redis.call('SREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
for _, raw in ipairs(redis.call('LRANGE', KEYS[3], 0, -1)) do
  local ok, item = pcall(cjson.decode, raw)
  if ok and type(item) == 'table' and item.room_id == ARGV[1] then
    redis.call('LREM', KEYS[3], 0, raw)
  end
end
redis.call(ARGV[2], ARGV[3], ARGV[4])
redis.call(ARGV[2], ARGV[3], ARGV[5])
return 1
",
    )
});

/// How many people's traces a delete clears at once.
const FORGET_CONCURRENCY: usize = 32;

/// Deletes a room and every key of it (see the module docs). `false` if it
/// was gone already.
pub(crate) async fn delete(state: &AppState, room: &Room) -> AppResult<bool> {
    // Out of the directory first: should anything below fail, the owner
    // can delete again (the room is still there), and it is not listed.
    if !room.private {
        unlist(state, &room.id, &room.name).await?;
    }
    let keys = &state.keys;
    let redis = state.redis();
    let room = room.id.as_str();
    let reply: Vec<String> = UNLINK_ROOM
        .key(keys.room(room))
        .key(keys.room_members(room))
        .key(keys.room_invited(room))
        .key(keys.room_admins(room))
        .key(keys.room_notify(room))
        .key(keys.room_read(room))
        .key(keys.room_messages(room))
        .key(keys.room_online(room))
        .invoke_async(&mut redis.clone())
        .await?;
    let [name, private, people @ ..] = reply.as_slice() else {
        return Ok(false);
    };
    // From here on the room is gone for everyone: what follows clears
    // traces, and a failure is logged rather than answered (a retry would
    // find no room).
    if let Err(err) = forget_everywhere(state, room, name, private == "1", people).await {
        tracing::warn!(?err, room, "a deleted room's traces were not all cleared");
    }
    Ok(true)
}

/// Takes a public room out of the directory and its words' sets.
async fn unlist(state: &AppState, room_id: &str, name: &str) -> AppResult<()> {
    let keys = &state.keys;
    let _: i64 = redis::cmd("ZREM")
        .arg(keys.public_rooms())
        .arg(room_id)
        .query_async(&mut state.redis())
        .await?;
    for word in name_words(name) {
        let _: i64 = redis::cmd("ZREM")
            .arg(keys.public_word_rooms(&word))
            .arg(room_id)
            .query_async(&mut state.redis())
            .await?;
    }
    Ok(())
}

/// The steps of a delete after the room's keys are gone: each person's
/// traces, the directory (again, should a rename have raced the delete),
/// and the per-person keys on the room's slot.
async fn forget_everywhere(
    state: &AppState,
    room: &str,
    name: &str,
    private: bool,
    people: &[String],
) -> AppResult<()> {
    let keys = &state.keys;
    let redis = state.redis();
    let people: Vec<&String> = people.iter().filter(|id| !id.is_empty()).collect();
    let room_ref = RoomRef {
        room_id: room.to_owned(),
    };
    let left = PersonalEvent::Left(room_ref.clone()).to_json();
    let deleted = PersonalEvent::Forward(Box::new(ClientEvent::RoomDeleted(room_ref))).to_json();
    let invocations: Vec<_> = people
        .into_iter()
        .map(|user_id| {
            let channel = keys.user_events(user_id);
            let mut invocation = FORGET_ROOM.key(keys.user_rooms(user_id));
            invocation
                .key(keys.user_hidden(user_id))
                .key(keys.user_notifications(user_id))
                .arg(room)
                .arg(redis.publish_command(&channel))
                .arg(&channel)
                .arg(&left)
                .arg(&deleted);
            invocation
        })
        .collect();
    for batch in invocations.chunks(FORGET_CONCURRENCY) {
        futures::future::try_join_all(batch.iter().map(|invocation| {
            let mut redis = redis.clone();
            async move { invocation.invoke_async::<i64>(&mut redis).await }
        }))
        .await?;
    }
    if !private {
        unlist(state, room, name).await?;
    }
    // The per-person keys left on the room's slot.
    let leftovers = redis.keys_in_tag(&keys.room(room)).await?;
    for key in leftovers {
        let _: i64 = redis::cmd("UNLINK")
            .arg(&key)
            .query_async(&mut redis.clone())
            .await?;
    }
    Ok(())
}
