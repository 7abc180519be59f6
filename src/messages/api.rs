//! The message endpoints: `send_message`, `history`, `mark_room_read`.

use leptos::prelude::*;

use super::model::Message;
use crate::error::AppError;

/// Sends a message to a room the caller is a member of. Sending the same
/// `client_msg_id` again returns the first message and stores nothing.
#[server(endpoint = "send_message")]
pub async fn send_message(
    room_id: String,
    body: String,
    client_msg_id: String,
) -> Result<Message, AppError> {
    use super::model::{ClientMsgId, MessageBody};
    use super::store::{self, Sender, Sent};
    use crate::auth::session::{require_sign_in_unchecked, revoked};
    use crate::notifications::{notify_direct, notify_mentions, Mentioning};
    use crate::rooms::access::member_room;
    use crate::rooms::model::RoomId;
    use crate::server::metrics::METRICS;
    use crate::server::state::AppState;

    let state = AppState::current()?;
    let started = std::time::Instant::now();
    // The revocation check, the membership check and the rate limits are
    // all in the send script: one round trip to Redis (docs/performance.md).
    let (sign_in, author) = require_sign_in_unchecked().await?;
    let room_id = RoomId::parse(&room_id)?;
    let body = MessageBody::parse(body)?;
    let client_msg_id = ClientMsgId::parse(&client_msg_id)?;
    let sender = Sender {
        author,
        sign_in: &sign_in.handle,
    };
    match store::send(&state, &room_id, sender, body, &client_msg_id).await? {
        Sent::New {
            message,
            room_name,
            notify,
            durable,
        } => {
            METRICS.messages_sent.inc();
            // Stored and delivered already: a failure here must not turn
            // the send into an error the client would retry.
            let mentioning = Mentioning {
                room_id: &message.room_id,
                room_name: &room_name,
                message_id: &message.id,
                author: &message.author,
                body: &message.body,
                told: &notify,
            };
            let notified = match notify_direct(&state, &mentioning, &notify).await {
                Ok(()) => notify_mentions(&state, mentioning).await,
                Err(err) => Err(err),
            };
            if let Err(err) = notified {
                tracing::warn!(?err, "could not notify");
            }
            durable?;
            METRICS
                .send_seconds
                .observe(started.elapsed().as_secs_f64());
            Ok(message)
        }
        Sent::Again(message) => Ok(message),
        Sent::Revoked => Err(revoked().await),
        // Which refusal: 404 for a room the caller may not see, 403 for one
        // they have not joined.
        Sent::NotMember => match member_room(&state, &room_id, &sign_in.user_id).await {
            Ok(_) => Err(AppError::Conflict(
                "You joined this room just now; send it again.".into(),
            )),
            Err(err) => Err(err),
        },
        Sent::Limited {
            wait_ms,
            before_dedup: false,
        } => Err(AppError::too_many_requests(wait_ms)),
        Sent::Limited {
            wait_ms,
            before_dedup: true,
        } => {
            // On a cluster the user's limit is paid before the room script
            // sees the client message id: a retry of a message that was
            // stored (its answer lost) gets that message, not a refusal
            // the client would take for "not sent". Only a member's.
            member_room(&state, &room_id, &sign_in.user_id).await?;
            match store::already_sent(&state, &room_id, &sign_in.user_id, &client_msg_id).await? {
                Some(message) => Ok(message),
                None => Err(AppError::too_many_requests(wait_ms)),
            }
        }
    }
}

/// A page of a room's history, oldest first, paged by message id: the
/// newest messages; or those right after `after`; or right before `before`;
/// or between the two (both exclusive).
#[server(endpoint = "history")]
pub async fn history(
    room_id: String,
    #[server(default)] before: Option<String>,
    #[server(default)] after: Option<String>,
    #[server(default)] limit: Option<u32>,
) -> Result<Vec<Message>, AppError> {
    use super::model::{history_limit, MessageId};
    use super::store::{self, Range};
    use crate::limits::PerUser;
    use crate::rooms::access::member_caller;

    let caller = member_caller(&room_id, PerUser::Read).await?;
    let limit = history_limit(limit)?;
    let parse = |id: Option<String>, field: &str| {
        id.filter(|id| !id.is_empty())
            .map(|id| MessageId::parse(&id, field))
            .transpose()
    };
    let before = parse(before, "before")?;
    let after = parse(after, "after")?;
    let range = match (after, before) {
        (Some(after), before) => Range::After {
            after,
            before,
            limit,
        },
        (None, Some(before)) => Range::Before { before, limit },
        (None, None) => Range::Latest(limit),
    };
    store::entries(&caller.state, &caller.room_id, range).await
}

/// Moves the caller's read position in a room forward to `up_to` (never
/// back).
#[server(endpoint = "mark_room_read")]
pub async fn mark_room_read(room_id: String, up_to: String) -> Result<(), AppError> {
    use super::model::MessageId;
    use super::unread;
    use crate::events::{ClientEvent, PersonalEvent, RoomRead};
    use crate::limits::PerUser;
    use crate::rooms::access::{member_caller, RoomCaller};
    use crate::server::sse::publish_personal;

    let RoomCaller {
        state,
        user_id,
        room_id,
        ..
    } = member_caller(&room_id, PerUser::MarkRead).await?;
    let up_to = MessageId::parse(&up_to, "up_to")?;
    if let Some(read) = unread::advance(&state, &user_id, &room_id, up_to).await? {
        // The user's other tabs update their unread badges.
        let event = PersonalEvent::Forward(Box::new(ClientEvent::RoomRead(RoomRead {
            room_id: room_id.as_str().to_owned(),
            up_to: read.to_string(),
        })));
        publish_personal(&mut state.redis(), &state.keys, &user_id, &event).await?;
    }
    Ok(())
}
