//! The room endpoints: `create_room`, `rooms`, `join_room`, `leave_room`,
//! `invite`, `respond_invite`.

use leptos::prelude::*;

use super::model::{DirectoryPage, Room, RoomList};
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
    use super::store;
    use crate::auth::session::caller;
    use crate::limits::PerUser;

    let (state, user_id) = caller(PerUser::Read).await?;
    let (joined, direct) = store::listing(&state, &user_id).await?;
    Ok(RoomList {
        joined,
        public: store::public(&state, PUBLIC_ROOMS_LISTED).await?,
        direct,
    })
}

/// A page of the public directory, newest first, optionally filtered by
/// name: `q` is up to 5 words, each matching the start of a word of the
/// room's name (case-insensitive). `before` is the previous page's `next`.
/// `limit` defaults to 50 (at most 100).
#[server(endpoint = "public_rooms")]
pub async fn public_rooms(
    #[server(default)] q: Option<String>,
    #[server(default)] before: Option<String>,
    #[server(default)] limit: Option<u32>,
) -> Result<DirectoryPage, AppError> {
    use super::model::{name_words, RoomId};
    use super::store;
    use crate::auth::session::caller;
    use crate::limits::PerUser;

    let (state, _) = caller(PerUser::Read).await?;
    let q = q.unwrap_or_default();
    if q.chars().count() > 100 {
        return Err(AppError::BadRequest(
            "q must be at most 100 characters.".into(),
        ));
    }
    let words = name_words(&q);
    if words.len() > 5 {
        return Err(AppError::BadRequest("q must be at most 5 words.".into()));
    }
    let before = match before.filter(|before| !before.is_empty()) {
        None => None,
        Some(before) => Some(
            before
                .split_once('-')
                .and_then(|(ms, id)| {
                    let room_id = RoomId::parse(id).ok()?;
                    Some(store::DirectoryCursor {
                        created_at: ms.parse().ok()?,
                        room_id: room_id.as_str().to_owned(),
                    })
                })
                .ok_or_else(|| {
                    AppError::BadRequest("before must be the next value of a previous page.".into())
                })?,
        ),
    };
    let limit = match limit {
        None => 50,
        Some(limit @ 1..=100) => limit as usize,
        Some(_) => return Err(AppError::BadRequest("limit must be 1 to 100.".into())),
    };
    let (rooms, next) = store::public_page(&state, &words, before.as_ref(), limit).await?;
    Ok(DirectoryPage {
        rooms,
        next: next.map(|cursor| format!("{}-{}", cursor.created_at, cursor.room_id)),
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
    crate::limits::take(&state, &[crate::limits::PerUser::Membership.of(&user.id)]).await?;
    let room_id = RoomId::parse(&room_id)?;
    // Visible means: public, or private with the caller a member or invitee.
    let (room, standing) = visible_room(&state, &room_id, &user.id).await?;
    if room.is_direct() {
        return Err(direct_is_fixed());
    }
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
    // Paid first, before the handle is looked up: an invitation that finds
    // nobody still costs one, so handles cannot be probed without limit.
    limits::take(
        &state,
        &[Limit::Invite {
            user_id: &inviter.id,
        }],
    )
    .await?;
    let room = member_room(&state, &room_id, &inviter.id).await?;
    if room.is_direct() {
        return Err(direct_is_fixed());
    }
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
    let expires_at = store::add_invitation(&state, &room_id, &invitee).await?;
    notify_invite(&state, &room.id, &room.name, &inviter, &invitee, expires_at).await
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
    crate::limits::take(&state, &[crate::limits::PerUser::Membership.of(&user.id)]).await?;
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
    use crate::auth::session::caller;
    use crate::limits::PerUser;

    let (state, user_id) = caller(PerUser::Membership).await?;
    let room_id = RoomId::parse(&room_id)?;
    let (room, _) = visible_room(&state, &room_id, &user_id).await?;
    if room.is_direct() {
        return Err(direct_is_fixed());
    }
    if room.role == Some(super::model::Role::Owner) {
        return Err(AppError::BadRequest(
            "The owner cannot leave the room: delete it instead.".into(),
        ));
    }
    store::set_membership(&state, &room_id, &user_id, false).await
}

/// The answer to joining, leaving or inviting to a direct room.
#[cfg(feature = "ssr")]
fn direct_is_fixed() -> AppError {
    AppError::BadRequest(
        "A direct room's people are fixed: open a new direct message to add someone, hide it to put it away.".into(),
    )
}
