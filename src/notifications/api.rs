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
    use crate::auth::session::caller;
    use crate::limits::PerUser;

    let (state, user_id) = caller(PerUser::Read).await?;
    let limit = notifications_limit(limit)?;
    store::list(&state, &user_id, limit).await
}

/// Marks one of the caller's notifications (by id), or `all`, as read.
/// 404 for an id the caller does not have.
#[server(endpoint = "mark_read")]
pub async fn mark_read(id: String) -> Result<(), AppError> {
    use super::model::MarkRead;
    use super::store;
    use crate::auth::session::caller;
    use crate::limits::PerUser;

    let (state, user_id) = caller(PerUser::MarkRead).await?;
    let mark = MarkRead::parse(&id)?;
    store::mark_read(&state, &user_id, &mark).await
}
