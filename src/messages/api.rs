//! The message endpoints: `send_message`, `history`, `mark_room_read`,
//! `edit_message`, `delete_message`, `react`.

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
    #[server(default)] reply_to: Option<String>,
) -> Result<Message, AppError> {
    use super::model::MessageId;
    use super::model::{ClientMsgId, MessageBody};
    use super::store::{self, Sender, Sent};
    use crate::auth::session::{require_sign_in_unchecked, revoked};
    use crate::notifications::{notify_direct, notify_mentions, notify_reply, Mentioning};
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
    let reply_to = reply_to
        .filter(|id| !id.is_empty())
        .map(|id| MessageId::parse(&id, "reply_to"))
        .transpose()?;
    // A reply shows its parent's author and start: read it first (one
    // round trip more, for replies only). Nothing of a room one is not in
    // is read: membership first.
    let reply_to = match reply_to {
        None => None,
        Some(parent) => {
            member_room(&state, &room_id, &sign_in.user_id).await?;
            let found = store::one(&state, &room_id, &parent, &sign_in.user_id)
                .await?
                .ok_or_else(super::lifecycle::no_such_message)?;
            Some(store::reply_ref(&found.id, Some(&found)))
        }
    };
    let sender = Sender {
        author,
        sign_in: &sign_in.handle,
        reply_to,
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
            // Each person is told once: a direct room's members by
            // `direct`, the author of the message replied to by `reply`,
            // the others mentioned by `mention`.
            let mut told = notify.clone();
            let parent_author = message
                .reply_to
                .as_ref()
                .map(|parent| parent.author.id.clone())
                .filter(|id| !id.is_empty() && *id != message.author.id && !told.contains(id));
            let mut mentioning = Mentioning {
                room_id: &message.room_id,
                room_name: &room_name,
                message_id: &message.id,
                author: &message.author,
                body: &message.body,
                told: &[],
            };
            let notified = async {
                notify_direct(&state, &mentioning, &notify).await?;
                if let Some(parent_author) = parent_author {
                    notify_reply(&state, &mentioning, &parent_author).await?;
                    told.push(parent_author);
                }
                mentioning.told = &told;
                notify_mentions(&state, mentioning).await
            };
            if let Err(err) = notified.await {
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
    store::entries(&caller.state, &caller.room_id, range, &caller.user_id).await
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

/// Edits one's own message. With `base_edited_at` (the `edited_at` the
/// client showed, 0 for never edited), 409 if it was edited meanwhile.
/// People the new text mentions who were not mentioned before are
/// notified (once).
#[server(endpoint = "edit_message")]
pub async fn edit_message(
    room_id: String,
    message_id: String,
    body: String,
    #[server(default)] base_edited_at: Option<u64>,
) -> Result<Message, AppError> {
    use super::lifecycle::{self, Change};
    use super::model::{MessageBody, MessageId};
    use crate::auth::session::require_user;
    use crate::notifications::{mentioned_ids, notify_mentions, Mentioning};
    use crate::rooms::access::member_room;
    use crate::rooms::model::RoomId;
    use crate::server::state::AppState;

    let state = AppState::current()?;
    let user = require_user().await?;
    crate::limits::take(&state, &[crate::limits::PerUser::Edit.of(&user.id)]).await?;
    let room_id = RoomId::parse(&room_id)?;
    let message_id = MessageId::parse(&message_id, "message_id")?;
    let body = MessageBody::parse(body)?;
    let edit = Change::Edit {
        body: body.as_str(),
        base: base_edited_at,
    };
    let id = message_id.to_string();
    let Some(changed) = lifecycle::change(&state, &room_id, &message_id, &user.id, edit).await?
    else {
        // Not a member: 404 or 403, as for reading.
        member_room(&state, &room_id, &user.id).await?;
        return Err(lifecycle::no_such_message());
    };
    let room = member_room(&state, &room_id, &user.id).await?;
    let message = publish_update(&state, &room_id, &message_id, &user.id).await?;
    // Mentions new to this message: not in the text as sent, nor notified
    // by an earlier edit.
    let mut before = mentioned_ids(&state, &changed.original_body).await?;
    before.extend(changed.mentioned.iter().cloned());
    let mentioning = Mentioning {
        room_id: &message.room_id,
        room_name: &room.name,
        message_id: &message.id,
        author: &message.author,
        body: &message.body,
        told: &before,
    };
    match notify_mentions(&state, mentioning).await {
        Ok(notified) if !notified.is_empty() => {
            let mut all = changed.mentioned.clone();
            all.extend(notified);
            lifecycle::record_mentioned(&state, &room_id, &id, &all).await?;
        }
        Ok(_) => {}
        Err(err) => tracing::warn!(?err, "could not notify an edit's mentions"),
    }
    Ok(message)
}

/// Deletes a message: its author, or the room's owner or an admin. The
/// message stays in history as deleted (empty body, no reactions).
#[server(endpoint = "delete_message")]
pub async fn delete_message(room_id: String, message_id: String) -> Result<(), AppError> {
    use super::lifecycle::{self, Change};
    use super::model::MessageId;
    use crate::auth::session::require_user;
    use crate::rooms::access::member_room;
    use crate::rooms::model::RoomId;
    use crate::server::state::AppState;

    let state = AppState::current()?;
    let user = require_user().await?;
    crate::limits::take(&state, &[crate::limits::PerUser::Edit.of(&user.id)]).await?;
    let room_id = RoomId::parse(&room_id)?;
    let message_id = MessageId::parse(&message_id, "message_id")?;
    if lifecycle::change(&state, &room_id, &message_id, &user.id, Change::Delete)
        .await?
        .is_none()
    {
        member_room(&state, &room_id, &user.id).await?;
        return Err(lifecycle::no_such_message());
    }
    publish_update(&state, &room_id, &message_id, &user.id).await?;
    Ok(())
}

/// Reacts to a message with one emoji (`on=true`) or takes the reaction
/// back (`on=false`); counted once per person. The message's reactions.
#[server(endpoint = "react")]
pub async fn react(
    room_id: String,
    message_id: String,
    emoji: String,
    on: bool,
) -> Result<Vec<super::model::Reaction>, AppError> {
    use super::lifecycle::{self, React};
    use super::model::{single_grapheme, MessageId};
    use crate::auth::session::require_user;
    use crate::rooms::access::member_room;
    use crate::rooms::model::RoomId;
    use crate::server::state::AppState;

    let state = AppState::current()?;
    let user = require_user().await?;
    crate::limits::take(&state, &[crate::limits::PerUser::React.of(&user.id)]).await?;
    let room_id = RoomId::parse(&room_id)?;
    let message_id = MessageId::parse(&message_id, "message_id")?;
    if !single_grapheme(&emoji) || emojis::get(&emoji).is_none() {
        return Err(AppError::BadRequest("emoji must be one emoji.".into()));
    }
    let id = message_id.to_string();
    let react = React {
        message_id: &id,
        user: &user,
        emoji: &emoji,
        on,
    };
    match lifecycle::react(&state, &room_id, react).await? {
        Some(reactions) => Ok(reactions),
        None => {
            member_room(&state, &room_id, &user.id).await?;
            Err(lifecycle::no_such_message())
        }
    }
}

/// Reads the changed message back (as `viewer` sees it: the answer) and
/// publishes it on the room's channel as `message_updated` (with no `me`
/// in its reactions: they are everyone's).
#[cfg(feature = "ssr")]
async fn publish_update(
    state: &crate::server::state::AppState,
    room_id: &crate::rooms::model::RoomId,
    id: &super::model::MessageId,
    viewer: &str,
) -> Result<Message, AppError> {
    let message = super::store::one(state, room_id, id, viewer)
        .await?
        .ok_or_else(super::lifecycle::no_such_message)?;
    let mut everyones = message.clone();
    for reaction in &mut everyones.reactions {
        reaction.me = false;
    }
    let channel = state.keys.room_events(&message.room_id);
    let redis = state.redis();
    let event = crate::events::RoomEvent::MessageUpdated(Box::new(everyones));
    let () = redis
        .publish(&channel, event.to_json())
        .query_async(&mut redis.clone())
        .await?;
    Ok(message)
}
