//! The notification endpoints: `notifications`, `mark_read`.

use leptos::prelude::*;

use super::model::NotificationList;
use crate::error::AppError;

/// The caller's newest notifications and how many are unread.
#[server(endpoint = "notifications")]
pub async fn notifications(
    #[server(default)] limit: Option<u32>,
) -> Result<NotificationList, AppError> {
    use super::model::notifications_limit;
    use super::store;
    use crate::auth::session::require_user_id;
    use crate::server::state::AppState;

    let state = AppState::current()?;
    let user_id = require_user_id().await?;
    crate::limits::take(&state, &[crate::limits::Limit::Read { user_id: &user_id }]).await?;
    let limit = notifications_limit(limit)?;
    store::list(&state, &user_id, limit).await
}

/// Marks one of the caller's notifications (by id), or `all`, as read.
/// 404 for an id the caller does not have.
#[server(endpoint = "mark_read")]
pub async fn mark_read(id: String) -> Result<(), AppError> {
    use super::model::MarkRead;
    use super::store;
    use crate::auth::session::require_user_id;
    use crate::server::state::AppState;

    let state = AppState::current()?;
    let user_id = require_user_id().await?;
    crate::limits::take(
        &state,
        &[crate::limits::Limit::MarkRead { user_id: &user_id }],
    )
    .await?;
    let mark = MarkRead::parse(&id)?;
    store::mark_read(&state, &user_id, &mark).await
}
