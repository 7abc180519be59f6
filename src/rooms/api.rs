//! The room endpoints: `create_room`, `rooms`, `join_room`, `leave_room`.

use leptos::prelude::*;

use super::model::{Room, RoomList};
use crate::error::AppError;

/// How many public rooms `rooms` lists.
pub const PUBLIC_ROOMS_LISTED: isize = 100;

/// Creates a room; the creator is its first member.
#[server(endpoint = "create_room")]
pub async fn create_room(name: String, private: bool) -> Result<Room, AppError> {
    use super::model::RoomName;
    use super::store;
    use crate::auth::session::require_user_id;
    use crate::server::state::AppState;

    let user_id = require_user_id().await?;
    let state = AppState::current()?;
    let name = RoomName::parse(&name)?;
    store::create(&state, &name, private, &user_id).await
}

/// The caller's rooms (with unread counts) and the public directory.
#[server(endpoint = "rooms")]
pub async fn rooms() -> Result<RoomList, AppError> {
    use super::model::JoinedRoom;
    use super::store;
    use crate::auth::session::require_user_id;
    use crate::messages::unread;
    use crate::server::state::AppState;

    let user_id = require_user_id().await?;
    let state = AppState::current()?;
    let joined = store::joined(&state, &user_id).await?;
    let counts = unread::counts(&state, &user_id, &joined).await?;
    Ok(RoomList {
        joined: joined
            .into_iter()
            .zip(counts)
            .map(|(room, unread)| JoinedRoom { room, unread })
            .collect(),
        public: store::public(&state, PUBLIC_ROOMS_LISTED).await?,
    })
}

/// Joins a public room. (Private rooms are joined by accepting an invitation.)
#[server(endpoint = "join_room")]
pub async fn join_room(room_id: String) -> Result<Room, AppError> {
    use super::access::visible_room;
    use super::model::{no_such_room, RoomId};
    use super::store;
    use crate::auth::session::require_user_id;
    use crate::server::state::AppState;

    let user_id = require_user_id().await?;
    let state = AppState::current()?;
    let room_id = RoomId::parse(&room_id)?;
    let (room, member) = visible_room(&state, &room_id, &user_id).await?;
    if !member {
        if room.private {
            return Err(no_such_room());
        }
        store::set_membership(&state, &room_id, &user_id, true).await?;
    }
    Ok(room)
}

/// Leaves a room. Leaving a visible room one is not in is a no-op.
#[server(endpoint = "leave_room")]
pub async fn leave_room(room_id: String) -> Result<(), AppError> {
    use super::access::visible_room;
    use super::model::RoomId;
    use super::store;
    use crate::auth::session::require_user_id;
    use crate::server::state::AppState;

    let user_id = require_user_id().await?;
    let state = AppState::current()?;
    let room_id = RoomId::parse(&room_id)?;
    visible_room(&state, &room_id, &user_id).await?;
    store::set_membership(&state, &room_id, &user_id, false).await
}
