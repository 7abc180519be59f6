//! Rooms in Redis: a hash per room, a member set per room, a room set per
//! user, and a sorted set of public rooms.

use std::collections::HashMap;

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
    let mut pipe = redis::pipe();
    // MULTI/EXEC: the room never exists without its first member.
    pipe.atomic()
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
        .sadd(keys.user_rooms(creator), &id)
        .ignore()
        .publish(
            keys.user_events(creator),
            (PersonalEvent {
                event: "joined".into(),
                room_id: Some(id.clone()),
                data: None,
            })
            .to_json()?,
        )
        .ignore();
    if !private {
        pipe.zadd(keys.public_rooms(), &id, created_at).ignore();
    }
    let () = pipe.query_async(&mut state.redis()).await?;
    Ok(Room {
        id,
        name: name.as_str().to_owned(),
        private,
    })
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
/// user's open event streams to start (or stop) carrying the room.
pub async fn set_membership(
    state: &AppState,
    room_id: &RoomId,
    user_id: &str,
    member: bool,
) -> AppResult<()> {
    let room = room_id.as_str();
    let (members, rooms) = (
        state.keys.room_members(room),
        state.keys.user_rooms(user_id),
    );
    let mut pipe = redis::pipe();
    pipe.atomic();
    if member {
        // Joining answers any pending invitation.
        pipe.sadd(members, user_id)
            .ignore()
            .sadd(rooms, room)
            .ignore()
            .srem(state.keys.room_invited(room), user_id)
            .ignore();
    } else {
        // Also out of the room's online set (same hash tag as the members):
        // nothing else would take a user who leaves with no stream open out
        // of it. Their open streams, if any, announce the change.
        pipe.srem(members, user_id)
            .ignore()
            .srem(state.keys.room_online(room), user_id)
            .ignore()
            .srem(rooms, room)
            .ignore();
    }
    let event = PersonalEvent {
        event: if member { "joined" } else { "left" }.into(),
        room_id: Some(room.to_owned()),
        data: None,
    };
    pipe.publish(state.keys.user_events(user_id), event.to_json()?)
        .ignore();
    let () = pipe.query_async(&mut state.redis()).await?;
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

/// The rooms with these ids (one pipelined round trip), skipping any gone.
async fn rooms_by_id(state: &AppState, ids: &[String]) -> AppResult<Vec<Room>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut pipe = redis::pipe();
    for id in ids {
        pipe.hgetall(state.keys.room(id));
    }
    let rooms: Vec<HashMap<String, String>> = pipe.query_async(&mut state.redis()).await?;
    Ok(rooms.into_iter().filter_map(room_from_fields).collect())
}
