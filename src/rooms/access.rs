//! Who may see and use a room. Every room and message endpoint goes through
//! here, so the rules live in one place:
//!
//! - a private room is invisible (404) to everyone but its members and
//!   invitees;
//! - a public room is visible to every signed-in user, but only members may
//!   read or post in it (403 for the others, invitees included).

use super::model::{no_such_room, Role, Room, RoomId, Standing};
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

/// The name a room has for `viewer` (a direct room's is the other members'
/// names), once they were found a member.
pub(crate) async fn name_for(state: &AppState, room: Room, viewer: &str) -> AppResult<String> {
    Ok(store::presented(state, room, viewer).await?.name)
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
    /// With the caller's role and notification level.
    pub room: Room,
}

/// The prelude of an endpoint about one room: the caller is signed in
/// (401), has paid their per-user limit for this kind of call (429), names
/// a room that exists and that they may see (404) and are a member of (403).
pub(crate) async fn member_caller(room_id: &str, limit: PerUser) -> AppResult<RoomCaller> {
    let (state, user_id) = caller(limit).await?;
    let room_id = RoomId::parse(room_id)?;
    let room = member_room(&state, &room_id, &user_id).await?;
    Ok(RoomCaller {
        state,
        user_id,
        room_id,
        room,
    })
}

/// Who an administrative endpoint needs the caller to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Needs {
    /// The owner or an admin.
    Admin,
    Owner,
}

/// The prelude of an administrative endpoint: [`member_caller`] (with the
/// membership limit), then the room must be a room proper (a direct room
/// has no owner and no settings) and the caller's role enough (403).
pub(crate) async fn managed_room(room_id: &str, needs: Needs) -> AppResult<(RoomCaller, Room)> {
    let caller = member_caller(room_id, PerUser::Membership).await?;
    let room = caller.room.clone();
    if room.is_direct() {
        return Err(AppError::Forbidden(
            "A direct room has no owner and no settings.".into(),
        ));
    }
    let allowed = match needs {
        Needs::Owner => room.role == Some(Role::Owner),
        Needs::Admin => room.can_manage(),
    };
    if !allowed {
        return Err(AppError::Forbidden(match needs {
            Needs::Owner => "Only the room's owner can do this.".into(),
            Needs::Admin => "Only the room's owner or an admin can do this.".into(),
        }));
    }
    Ok((caller, room))
}

/// The user id of the member of the caller's room with this handle: 400
/// for a malformed handle, 404 for nobody or someone not in the room.
pub(crate) async fn member_by_handle(caller: &RoomCaller, handle: &str) -> AppResult<String> {
    let handle = crate::auth::model::Handle::parse(handle.trim().trim_start_matches('@'))?;
    let not_here = || AppError::NotFound(format!("@{} is not in this room.", handle.as_str()));
    let user_id = crate::auth::user_id_by_handle(&caller.state, &handle)
        .await?
        .ok_or_else(not_here)?;
    if !store::is_member(&caller.state, caller.room_id.as_str(), &user_id).await? {
        return Err(not_here());
    }
    Ok(user_id)
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
