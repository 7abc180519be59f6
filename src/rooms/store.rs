//! Rooms in Redis: a hash per room, a member set per room, a room set per
//! user, and a sorted set of public rooms.
//!
//! A room's keys share one cluster slot and a user's keys another, so a
//! change to both (create, join, leave) is two transactions, one per slot,
//! in the order that keeps the rule every reader relies on: a room is in
//! a user's set only while the user is in the room's member set (event
//! streams subscribe to the rooms of the user's set without asking again).
//! Joining writes the member set first; leaving empties the user's set
//! first. A crash between the two leaves a member whose sidebar lacks the
//! room, which the next join repairs, never an outsider who can read one.

use std::collections::HashMap;

use futures::future::try_join_all;

use super::model::{Room, RoomId, RoomName, Standing};
use crate::error::AppResult;
use crate::server::clock::now_millis;
use crate::server::sse::PersonalEvent;
use crate::server::state::AppState;

fn room_from_fields(mut fields: HashMap<String, String>) -> Option<Room> {
    Some(Room {
        id: fields.remove("id")?,
        name: fields.remove("name")?,
        private: fields.remove("private")? == "1",
    })
}

/// Creates a room with its creator as the first member.
pub async fn create(
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
        // Last: the room is listed only once it is whole.
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
    })
}

/// Puts the room into the user's set and tells the user's open event
/// streams (one transaction on the user's slot).
async fn add_to_user(state: &AppState, room: &str, user_id: &str) -> AppResult<()> {
    user_membership(state, room, user_id, true).await
}

async fn user_membership(
    state: &AppState,
    room: &str,
    user_id: &str,
    member: bool,
) -> AppResult<()> {
    let rooms = state.keys.user_rooms(user_id);
    let event = PersonalEvent {
        event: if member { "joined" } else { "left" }.into(),
        room_id: Some(room.to_owned()),
        data: None,
    };
    let mut pipe = redis::pipe();
    pipe.atomic();
    if member {
        pipe.sadd(rooms, room).ignore();
    } else {
        pipe.srem(rooms, room).ignore();
    }
    let redis = state.redis();
    let () = pipe
        .add_command(redis.publish(&state.keys.user_events(user_id), event.to_json()?))
        .ignore()
        .query_async(&mut redis.clone())
        .await?;
    Ok(())
}

/// The room and whether the user is a member, in one round trip.
pub async fn room_and_standing(
    state: &AppState,
    room_id: &RoomId,
    user_id: &str,
) -> AppResult<(Option<Room>, Standing)> {
    let room = room_id.as_str();
    let (fields, member, invited): (HashMap<String, String>, bool, bool) = redis::pipe()
        .hgetall(state.keys.room(room))
        .sismember(state.keys.room_members(room), user_id)
        .sismember(state.keys.room_invited(room), user_id)
        .query_async(&mut state.redis())
        .await?;
    let standing = match (member, invited) {
        (true, _) => Standing::Member,
        (false, true) => Standing::Invited,
        (false, false) => Standing::Outsider,
    };
    Ok((room_from_fields(fields), standing))
}

/// Records an invitation (a set member until it is answered).
pub async fn add_invitation(state: &AppState, room_id: &RoomId, user_id: &str) -> AppResult<()> {
    let () = redis::cmd("SADD")
        .arg(state.keys.room_invited(room_id.as_str()))
        .arg(user_id)
        .query_async(&mut state.redis())
        .await?;
    Ok(())
}

/// Forgets an invitation (declined).
pub async fn remove_invitation(state: &AppState, room_id: &RoomId, user_id: &str) -> AppResult<()> {
    let () = redis::cmd("SREM")
        .arg(state.keys.room_invited(room_id.as_str()))
        .arg(user_id)
        .query_async(&mut state.redis())
        .await?;
    Ok(())
}

/// Adds the user to the room (or removes them) in both sets, and tells the
/// user's open event streams to start (or stop) carrying the room. In the
/// order the module docs explain; a repeated join repairs a half-done one.
pub async fn set_membership(
    state: &AppState,
    room_id: &RoomId,
    user_id: &str,
    member: bool,
) -> AppResult<()> {
    let room = room_id.as_str();
    let keys = &state.keys;
    let redis = state.redis();
    let marker = |event: &str| {
        let json = serde_json::json!({ "event": event, "room_id": room, "user_id": user_id });
        redis.publish(&keys.room_events(room), json.to_string())
    };
    if member {
        // Joining answers any pending invitation.
        let () = redis::pipe()
            .atomic()
            .sadd(keys.room_members(room), user_id)
            .ignore()
            .srem(keys.room_invited(room), user_id)
            .ignore()
            .add_command(marker(crate::server::sse::MEMBER_JOINED))
            .ignore()
            .query_async(&mut redis.clone())
            .await?;
        user_membership(state, room, user_id, true).await
    } else {
        user_membership(state, room, user_id, false).await?;
        // Also out of the room's online set: nothing else would take a user
        // who leaves with no stream open out of it. Their open streams, if
        // any, announce the change.
        let () = redis::pipe()
            .atomic()
            .srem(keys.room_members(room), user_id)
            .ignore()
            .srem(keys.room_online(room), user_id)
            .ignore()
            .add_command(marker(crate::server::sse::MEMBER_LEFT))
            .ignore()
            .query_async(&mut redis.clone())
            .await?;
        Ok(())
    }
}

/// For a member: puts the room back into the user's set if a join was cut
/// off between its two steps (and only then tells their streams).
pub async fn repair_membership(state: &AppState, room_id: &RoomId, user_id: &str) -> AppResult<()> {
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

/// The ids of the rooms the user has joined.
pub async fn joined_ids(state: &AppState, user_id: &str) -> AppResult<Vec<String>> {
    Ok(redis::cmd("SMEMBERS")
        .arg(state.keys.user_rooms(user_id))
        .query_async(&mut state.redis())
        .await?)
}

/// The user's rooms, sorted by name.
pub async fn joined(state: &AppState, user_id: &str) -> AppResult<Vec<Room>> {
    let ids = joined_ids(state, user_id).await?;
    let mut rooms = rooms_by_id(state, &ids).await?;
    rooms.sort_by_cached_key(|room| room.name.to_lowercase());
    Ok(rooms)
}

/// The newest public rooms, at most `limit`.
pub async fn public(state: &AppState, limit: isize) -> AppResult<Vec<Room>> {
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
