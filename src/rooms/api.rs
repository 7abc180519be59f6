//! The room endpoints: `create_room`, `rooms`, `join_room`, `leave_room`,
//! `invite`, `respond_invite`.

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
    use crate::limits::{self, Limit};
    use crate::server::state::AppState;

    let state = AppState::current()?;
    let user_id = require_user_id().await?;
    let name = RoomName::parse(&name)?;
    limits::take(&state, &[Limit::CreateRoom { user_id: &user_id }]).await?;
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

    let state = AppState::current()?;
    let user_id = require_user_id().await?;
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

/// Joins a public room, or a private room the caller was invited to (which
/// accepts the invitation).
#[server(endpoint = "join_room")]
pub async fn join_room(room_id: String) -> Result<Room, AppError> {
    use super::access::visible_room;
    use super::model::{RoomId, Standing};
    use super::store;
    use crate::auth::session::require_user;
    use crate::notifications::answer_invite;
    use crate::server::state::AppState;

    let state = AppState::current()?;
    let user = require_user().await?;
    let room_id = RoomId::parse(&room_id)?;
    // Visible means: public, or private with the caller a member or invitee.
    let (room, standing) = visible_room(&state, &room_id, &user.id).await?;
    if standing == Standing::Member {
        store::repair_membership(&state, &room_id, &user.id).await?;
    } else {
        store::set_membership(&state, &room_id, &user.id, true).await?;
    }
    if standing == Standing::Invited {
        answer_invite(&state, &room.id, &room.name, &user, true).await;
    }
    Ok(room)
}

/// Invites someone, by handle, to a room the caller is a member of. The
/// invitee gets an `invite` notification (stored, and live on their open
/// tabs); the invitation stays pending until answered with `respond_invite`
/// (or `join_room`). Inviting someone already invited changes nothing.
#[server(endpoint = "invite")]
pub async fn invite(room_id: String, handle: String) -> Result<(), AppError> {
    use super::access::{member_room, visible_room};
    use super::model::{RoomId, Standing};
    use super::store;
    use crate::auth::model::Handle;
    use crate::auth::session::require_user;
    use crate::limits::{self, Limit};
    use crate::notifications::notify_invite;
    use crate::server::state::AppState;

    let state = AppState::current()?;
    let inviter = require_user().await?;
    let room_id = RoomId::parse(&room_id)?;
    let handle = Handle::parse(&handle)?;
    let room = member_room(&state, &room_id, &inviter.id).await?;
    let invitee = crate::auth::user_id_by_handle(&state, &handle)
        .await?
        .ok_or_else(|| {
            AppError::NotFound(format!("Nobody has the handle @{}.", handle.as_str()))
        })?;
    match visible_room(&state, &room_id, &invitee)
        .await
        .map(|(_, standing)| standing)
    {
        Ok(Standing::Member) => {
            return Err(AppError::Conflict(format!(
                "@{} is already in this room.",
                handle.as_str()
            )));
        }
        Ok(Standing::Invited) => return Ok(()),
        _ => {}
    }
    limits::take(
        &state,
        &[Limit::Invite {
            user_id: &inviter.id,
        }],
    )
    .await?;
    store::add_invitation(&state, &room_id, &invitee).await?;
    notify_invite(&state, &room.id, &room.name, &inviter, &invitee).await
}

/// Answers an invitation: `accept=true` joins the room, `false` declines.
/// 404 when there is no pending invitation the caller may see.
#[server(endpoint = "respond_invite")]
pub async fn respond_invite(room_id: String, accept: bool) -> Result<(), AppError> {
    use super::access::visible_room;
    use super::model::{RoomId, Standing};
    use super::store;
    use crate::auth::session::require_user;
    use crate::notifications::answer_invite;
    use crate::server::state::AppState;

    let state = AppState::current()?;
    let user = require_user().await?;
    let room_id = RoomId::parse(&room_id)?;
    let (room, standing) = visible_room(&state, &room_id, &user.id).await?;
    if standing != Standing::Invited {
        return Err(AppError::NotFound(
            "No pending invitation to this room.".into(),
        ));
    }
    if accept {
        store::set_membership(&state, &room_id, &user.id, true).await?;
    } else {
        store::remove_invitation(&state, &room_id, &user.id).await?;
    }
    answer_invite(&state, &room.id, &room.name, &user, accept).await;
    Ok(())
}

/// Leaves a room. Leaving a visible room one is not in is a no-op.
#[server(endpoint = "leave_room")]
pub async fn leave_room(room_id: String) -> Result<(), AppError> {
    use super::access::visible_room;
    use super::model::RoomId;
    use super::store;
    use crate::auth::session::require_user_id;
    use crate::server::state::AppState;

    let state = AppState::current()?;
    let user_id = require_user_id().await?;
    let room_id = RoomId::parse(&room_id)?;
    visible_room(&state, &room_id, &user_id).await?;
    store::set_membership(&state, &room_id, &user_id, false).await
}
