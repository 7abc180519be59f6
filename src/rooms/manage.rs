//! Direct rooms and room administration: `open_direct`, `hide_direct`,
//! `update_room`, `set_role`, `remove_member`, `delete_room`,
//! `set_room_notifications`.
//!
//! Every one is for signed-in callers (401), rate limited per user (429),
//! and about a room the caller is a member of: a room they may not see is
//! 404, a public one they are not in is 403 (`access::member_caller`).
//! Then the role: renaming and removing need the owner or an admin, roles
//! and deletion the owner; a direct room has no owner and no settings
//! (403).

use leptos::prelude::*;

use super::model::Room;
use crate::error::AppError;

/// How many other people a direct room may have.
pub const DIRECT_MAX_OTHERS: usize = 8;

/// Finds or creates the direct room of the caller and the people with
/// these handles (comma-separated, 1 to 8 others). The same people always
/// get the same room, whoever opens it, in any order.
#[server(endpoint = "open_direct")]
pub async fn open_direct(handles: String) -> Result<Room, AppError> {
    use crate::auth::model::Handle;
    use crate::auth::session::require_user;
    use crate::limits::{self, Limit, PerUser};
    use crate::server::state::AppState;

    let state = AppState::current()?;
    let user = require_user().await?;
    // Looking handles up pays the read limit: handles cannot be probed
    // without limit.
    limits::take(&state, &[PerUser::Read.of(&user.id)]).await?;
    let too_many = || AppError::BadRequest("handles may name at most 8 other people.".into());
    let mut wanted: Vec<Handle> = Vec::new();
    for handle in handles.split(',').map(str::trim).filter(|h| !h.is_empty()) {
        let handle = Handle::parse(handle)?;
        if handle.as_str() != user.handle && !wanted.contains(&handle) {
            // Stops at the first one too many: never more work than that.
            if wanted.len() == DIRECT_MAX_OTHERS {
                return Err(too_many());
            }
            wanted.push(handle);
        }
    }
    if wanted.is_empty() {
        return Err(AppError::BadRequest(
            "handles must name at least one other person.".into(),
        ));
    }
    let found = crate::auth::user_ids_by_handles(&state, &wanted).await?;
    let mut ids = vec![user.id.clone()];
    for (handle, id) in wanted.iter().zip(found) {
        ids.push(id.ok_or_else(|| {
            AppError::NotFound(format!("Nobody has the handle @{}.", handle.as_str()))
        })?);
    }
    ids.sort_unstable();
    ids.dedup();
    // Opening one that exists is free; a new one pays like an invitation
    // (it puts a conversation into other people's lists).
    if super::admin::existing_direct(&state, &ids).await?.is_none() {
        limits::take(&state, &[Limit::Invite { user_id: &user.id }]).await?;
    }
    super::admin::open_direct(&state, &user.id, &ids).await
}

/// Hides a direct room from the caller's list until its next message.
#[server(endpoint = "hide_direct")]
pub async fn hide_direct(room_id: String) -> Result<(), AppError> {
    use super::access::member_caller;
    use crate::limits::PerUser;

    let caller = member_caller(&room_id, PerUser::Membership).await?;
    if !caller.room.is_direct() {
        return Err(AppError::BadRequest(
            "Only a direct room can be hidden; leave a room instead.".into(),
        ));
    }
    super::admin::hide_direct(&caller.state, &caller.room_id, &caller.user_id).await
}

/// Renames a room and/or sets its topic (empty clears it). The owner or an
/// admin.
#[server(endpoint = "update_room")]
pub async fn update_room(
    room_id: String,
    #[server(default)] name: Option<String>,
    #[server(default)] topic: super::model::Provided,
) -> Result<Room, AppError> {
    use super::access::{managed_room, Needs};
    use super::model::{parse_topic, RoomName};

    let (caller, room) = managed_room(&room_id, Needs::Admin).await?;
    let name = name.map(|name| RoomName::parse(&name)).transpose()?;
    let topic = topic.0.map(|topic| parse_topic(&topic)).transpose()?;
    if name.is_none() && topic.is_none() {
        return Err(AppError::BadRequest(
            "Give a name or a topic to change.".into(),
        ));
    }
    super::admin::update(
        &caller.state,
        &room,
        name.as_ref().map(RoomName::as_str),
        topic.as_deref(),
    )
    .await?
    .ok_or_else(super::model::no_such_room)
}

/// Makes a member an admin (`role=admin`) or a member again
/// (`role=member`). The owner only.
#[server(endpoint = "set_role")]
pub async fn set_role(room_id: String, handle: String, role: String) -> Result<(), AppError> {
    use super::access::{managed_room, member_by_handle, Needs};
    use super::model::Role;

    let (caller, room) = managed_room(&room_id, Needs::Owner).await?;
    let role = Role::parse_settable(&role)?;
    let target = member_by_handle(&caller, &handle).await?;
    if target == caller.user_id {
        return Err(AppError::BadRequest(
            "The owner's role does not change.".into(),
        ));
    }
    if !super::admin::set_role(&caller.state, &room, &target, role).await? {
        return Err(AppError::NotFound(format!(
            "@{} is not in this room.",
            handle.trim().trim_start_matches('@')
        )));
    }
    Ok(())
}

/// Removes a member from a room. The owner or an admin; never the owner.
#[server(endpoint = "remove_member")]
pub async fn remove_member(room_id: String, handle: String) -> Result<(), AppError> {
    use super::access::{managed_room, member_by_handle, Needs};
    use super::model::Role;

    let (caller, room) = managed_room(&room_id, Needs::Admin).await?;
    let target = member_by_handle(&caller, &handle).await?;
    if target == caller.user_id {
        return Err(AppError::BadRequest(
            "To go, leave the room instead.".into(),
        ));
    }
    let (as_target, _) =
        super::store::room_and_standing(&caller.state, &caller.room_id, &target).await?;
    if as_target.and_then(|room| room.role) == Some(Role::Owner) {
        return Err(AppError::Forbidden("The owner cannot be removed.".into()));
    }
    super::admin::remove(&caller.state, &room, &target).await
}

/// Deletes a room and everything in it. The owner only.
#[server(endpoint = "delete_room")]
pub async fn delete_room(room_id: String) -> Result<(), AppError> {
    use super::access::{managed_room, Needs};

    let (caller, room) = managed_room(&room_id, Needs::Owner).await?;
    super::admin::delete(&caller.state, &room).await?;
    Ok(())
}

/// The caller's notification level for one room: `all`, `mentions` or
/// `none`.
#[server(endpoint = "set_room_notifications")]
pub async fn set_room_notifications(room_id: String, level: String) -> Result<(), AppError> {
    use super::access::member_caller;
    use super::model::NotifyLevel;
    use crate::limits::PerUser;

    let caller = member_caller(&room_id, PerUser::Membership).await?;
    let level = NotifyLevel::parse(&level)?;
    super::admin::set_notifications(&caller.state, &caller.room, &caller.user_id, level).await
}
