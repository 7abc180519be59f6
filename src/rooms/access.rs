//! Who may see and use a room. Every room and message endpoint goes through
//! here, so the rules live in one place:
//!
//! - a private room is invisible (404) to everyone but its members and
//!   invitees;
//! - a public room is visible to every signed-in user, but only members may
//!   read or post in it (403 for the others, invitees included).

use super::model::{no_such_room, Room, RoomId, Standing};
use super::store;
use crate::auth::session::caller;
use crate::error::{AppError, AppResult};
use crate::limits::PerUser;
use crate::server::state::AppState;

/// The room, if the caller may see it, and where they stand with it.
pub(crate) async fn visible_room(
    state: &AppState,
    room_id: &RoomId,
    user_id: &str,
) -> AppResult<(Room, Standing)> {
    let (room, standing) = store::room_and_standing(state, room_id, user_id).await?;
    match room {
        Some(room) if standing != Standing::Outsider || !room.private => Ok((room, standing)),
        _ => Err(no_such_room()),
    }
}

/// The ids of the rooms the user belongs to (whose events they may receive).
pub(crate) async fn joined_room_ids(state: &AppState, user_id: &str) -> AppResult<Vec<String>> {
    store::joined_ids(state, user_id).await
}

/// A signed-in caller who is a member of the room an endpoint is about.
pub(crate) struct RoomCaller {
    pub state: AppState,
    pub user_id: String,
    pub room_id: RoomId,
}

/// The prelude of an endpoint about one room: the caller is signed in
/// (401), has paid their per-user limit for this kind of call (429), names
/// a room that exists and that they may see (404) and are a member of (403).
pub(crate) async fn member_caller(room_id: &str, limit: PerUser) -> AppResult<RoomCaller> {
    let (state, user_id) = caller(limit).await?;
    let room_id = RoomId::parse(room_id)?;
    member_room(&state, &room_id, &user_id).await?;
    Ok(RoomCaller {
        state,
        user_id,
        room_id,
    })
}

/// The room, if the caller is a member of it (404 or 403 otherwise).
pub(crate) async fn member_room(
    state: &AppState,
    room_id: &RoomId,
    user_id: &str,
) -> AppResult<Room> {
    match visible_room(state, room_id, user_id).await? {
        (room, Standing::Member) => Ok(room),
        _ => Err(AppError::Forbidden("Join this room first.".into())),
    }
}
