//! The presence endpoints: `members`, `online`, `typing`.

use leptos::prelude::*;

use super::model::Member;
use crate::auth::User;
use crate::error::AppError;

/// Everyone in a room, online ones first. Members only.
#[server(endpoint = "members")]
pub async fn members(room_id: String) -> Result<Vec<Member>, AppError> {
    use super::store;
    use crate::limits::PerUser;
    use crate::rooms::access::member_caller;

    let caller = member_caller(&room_id, PerUser::Read).await?;
    store::members(&caller.state, &caller.room_id).await
}

/// The members of a room who are online now. Members only.
#[server(endpoint = "online")]
pub async fn online(room_id: String) -> Result<Vec<User>, AppError> {
    use super::store;
    use crate::limits::PerUser;
    use crate::rooms::access::member_caller;

    let caller = member_caller(&room_id, PerUser::Read).await?;
    store::online(&caller.state, &caller.room_id).await
}

/// Tells the room the caller is typing. Announced at most once every three
/// seconds per user and room (more calls are accepted and ignored); never
/// stored.
#[server(endpoint = "typing")]
pub async fn typing(room_id: String) -> Result<(), AppError> {
    use super::store;
    use crate::auth::session::require_user;
    use crate::rooms::access::member_room;
    use crate::rooms::model::RoomId;
    use crate::server::state::AppState;

    let state = AppState::current()?;
    let user = require_user().await?;
    crate::limits::take(&state, &[crate::limits::PerUser::Typing.of(&user.id)]).await?;
    let room_id = RoomId::parse(&room_id)?;
    member_room(&state, &room_id, &user.id).await?;
    store::typing(&state, &room_id, &user).await?;
    Ok(())
}
