//! NotificationList in Redis: one List per user, `{p}user:{id}:notifications`,
//! newest first, each item a `Notification` as JSON.
//!
//! A push is `LPUSH` + `LTRIM` (keep the newest [`KEEP`]) + `EXPIRE` (the
//! list goes [`KEEP_SECS`] after its newest item) + `PUBLISH` on the user's
//! personal channel, in one `MULTI`: stored and delivered, or neither.
//! Marking read rewrites items in place (`LSET`) inside a Lua script, so a
//! push in the middle cannot shift the positions it writes to.

use std::sync::LazyLock;

use redis::Script;

use super::model::{
    excerpt, MarkRead, Notification, NotificationKind, NotificationList, KEEP, KEEP_SECS,
};
use crate::auth::User;
use crate::error::{AppError, AppResult};
use crate::events::{ClientEvent, PersonalEvent};
use crate::server::clock::now_millis;
use crate::server::sse::publish_personal;
use crate::server::state::AppState;

/// Marks items of a user's list. Modes: `all` (every item read), `id` (the
/// item with that id read), `invite` (the open invitation(s) to a room read
/// and answered). Returns `{found, inviter ids...}`.
static MARK: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
-- KEYS[1] list; ARGV[1] mode, ARGV[2] id or room id, ARGV[3] answer
local mode, target = ARGV[1], ARGV[2]
local found, inviters = 0, {}
for i, raw in ipairs(redis.call('LRANGE', KEYS[1], 0, -1)) do
  local ok, item = pcall(cjson.decode, raw)
  if ok and type(item) == 'table' then
    local hit = mode == 'all'
      or (mode == 'id' and item.id == target)
      or (mode == 'invite' and item.kind == 'invite' and item.room_id == target
          and item.answer == nil)
    if hit then
      found = 1
      local changed = false
      if item.read ~= true then item.read = true; changed = true end
      if mode == 'invite' then
        item.answer = ARGV[3]
        changed = true
        table.insert(inviters, item.from.id)
      end
      if changed then redis.call('LSET', KEYS[1], i - 1, cjson.encode(item)) end
    end
  end
end
local reply = {found}
for _, id in ipairs(inviters) do table.insert(reply, id) end
return reply
",
    )
});

/// A new notification for `kind`, unread.
fn new_notification(
    kind: NotificationKind,
    room_id: &str,
    room_name: &str,
    from: &User,
) -> Notification {
    Notification {
        id: uuid::Uuid::new_v4().simple().to_string(),
        kind,
        room_id: room_id.to_owned(),
        room_name: room_name.to_owned(),
        from: User {
            email: None,
            ..from.clone()
        },
        text: String::new(),
        created_at: now_millis(),
        read: false,
        message_id: None,
        answer: None,
        expires_at: None,
    }
}

/// A `direct` notification replaces the user's unread one of the same
/// room, if any: a lively conversation is one line in the list (the
/// newest message), not a hundred that push invitations out of it. Then as
/// [`push`]: `LPUSH`, `LTRIM`, `EXPIRE`, `PUBLISH`, all in this one script.
static PUSH_DIRECT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
-- KEYS[1] list; ARGV[1] notification, ARGV[2] room id, ARGV[3] keep,
-- ARGV[4] seconds kept, ARGV[5] PUBLISH or SPUBLISH, ARGV[6] channel,
-- ARGV[7] event
for _, raw in ipairs(redis.call('LRANGE', KEYS[1], 0, -1)) do
  local ok, item = pcall(cjson.decode, raw)
  if ok and type(item) == 'table' and item.kind == 'direct'
      and item.room_id == ARGV[2] and item.read ~= true then
    redis.call('LREM', KEYS[1], 1, raw)
  end
end
redis.call('LPUSH', KEYS[1], ARGV[1])
redis.call('LTRIM', KEYS[1], 0, tonumber(ARGV[3]) - 1)
redis.call('EXPIRE', KEYS[1], ARGV[4])
redis.call(ARGV[5], ARGV[6], ARGV[7])
return 1
",
    )
});

/// Stores a notification and delivers it to the user's open tabs.
async fn push(state: &AppState, user_id: &str, notification: &Notification) -> AppResult<()> {
    let json = serde_json::to_string(notification)
        .map_err(|err| AppError::internal("encode notification", err))?;
    let event = PersonalEvent::Forward(Box::new(ClientEvent::Notification(notification.clone())));
    let key = state.keys.user_notifications(user_id);
    let redis = state.redis();
    let () = redis::pipe()
        .atomic()
        .lpush(&key, json)
        .ignore()
        .ltrim(&key, 0, KEEP as isize - 1)
        .ignore()
        .expire(&key, KEEP_SECS as i64)
        .ignore()
        .add_command(redis.publish(&state.keys.user_events(user_id), event.to_json()))
        .ignore()
        .query_async(&mut redis.clone())
        .await?;
    Ok(())
}

/// Tells the user's other tabs to refetch their notifications.
async fn announce_read(state: &AppState, user_id: &str) -> AppResult<()> {
    let event = PersonalEvent::Forward(Box::new(ClientEvent::NotificationsRead));
    publish_personal(&mut state.redis(), &state.keys, user_id, &event).await
}

/// A message that may mention people.
pub(crate) struct Mentioning<'a> {
    pub room_id: &'a str,
    pub room_name: &'a str,
    pub message_id: &'a str,
    pub author: &'a User,
    pub body: &'a str,
    /// People told of the message otherwise (a direct room's members): a
    /// mention of them is not notified again.
    pub told: &'a [String],
}

/// Notifies everyone mentioned (`@handle`) in a message who can read the
/// room, except its author.
/// Returns whom it notified.
pub(crate) async fn notify_mentions(
    state: &AppState,
    message: Mentioning<'_>,
) -> AppResult<Vec<String>> {
    let Mentioning {
        room_id,
        room_name,
        message_id,
        author,
        body,
        told,
    } = message;
    let mut ids: Vec<String> = mentioned_ids(state, body)
        .await?
        .into_iter()
        .filter(|id| *id != author.id && !told.contains(id))
        .collect();
    ids.dedup();
    if ids.is_empty() {
        return Ok(ids);
    }
    let members: Vec<bool> = redis::cmd("SMISMEMBER")
        .arg(state.keys.room_members(room_id))
        .arg(&ids)
        .query_async(&mut state.redis())
        .await?;
    for (user_id, member) in ids.iter().zip(members) {
        if !member {
            continue;
        }
        let mut notification =
            new_notification(NotificationKind::Mention, room_id, room_name, author);
        notification.text = excerpt(body);
        notification.message_id = Some(message_id.to_owned());
        push(state, user_id, &notification).await?;
    }
    Ok(ids)
}

/// The ids of the accounts a body mentions (`@handle`), in order: one
/// `MGET` (redis-rs splits it by slot on a cluster and puts the answers
/// back in order).
pub(crate) async fn mentioned_ids(state: &AppState, body: &str) -> AppResult<Vec<String>> {
    let handles = crate::text::mentions::mentioned_handles(body);
    if handles.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<Option<String>> = redis::cmd("MGET")
        .arg(
            handles
                .iter()
                .map(|handle| state.keys.user_by_handle(handle))
                .collect::<Vec<_>>(),
        )
        .query_async(&mut state.redis())
        .await?;
    Ok(ids.into_iter().flatten().collect())
}

/// Tells the author of the message replied to (kind `reply`), unless they
/// are no longer in the room or muted it (level `none`). One pipeline on
/// the room's slot, then the push.
pub(crate) async fn notify_reply(
    state: &AppState,
    message: &Mentioning<'_>,
    parent_author: &str,
) -> AppResult<()> {
    let (member, level): (bool, Option<String>) = redis::pipe()
        .sismember(state.keys.room_members(message.room_id), parent_author)
        .hget(state.keys.room_notify(message.room_id), parent_author)
        .query_async(&mut state.redis())
        .await?;
    if !member || level.as_deref() == Some("none") {
        return Ok(());
    }
    let mut notification = new_notification(
        NotificationKind::Reply,
        message.room_id,
        message.room_name,
        message.author,
    );
    notification.text = excerpt(message.body);
    notification.message_id = Some(message.message_id.to_owned());
    push(state, parent_author, &notification).await
}

/// Notifies the other members of a direct room of a message (the send
/// script named those who did not mute it): one push per recipient, each
/// on the recipient's slot, sent together.
pub(crate) async fn notify_direct(
    state: &AppState,
    message: &Mentioning<'_>,
    recipients: &[String],
) -> AppResult<()> {
    futures::future::try_join_all(recipients.iter().map(|user_id| {
        let mut notification = new_notification(
            NotificationKind::Direct,
            message.room_id,
            message.room_name,
            message.author,
        );
        notification.text = excerpt(message.body);
        notification.message_id = Some(message.message_id.to_owned());
        async move { push_direct(state, user_id, &notification).await }
    }))
    .await?;
    Ok(())
}

/// [`push`] for a `direct` notification, replacing the unread one of the
/// same room (see [`PUSH_DIRECT`]).
async fn push_direct(
    state: &AppState,
    user_id: &str,
    notification: &Notification,
) -> AppResult<()> {
    let json = serde_json::to_string(notification)
        .map_err(|err| AppError::internal("encode notification", err))?;
    let event = PersonalEvent::Forward(Box::new(ClientEvent::Notification(notification.clone())));
    let channel = state.keys.user_events(user_id);
    let redis = state.redis();
    let _: i64 = PUSH_DIRECT
        .key(state.keys.user_notifications(user_id))
        .arg(json)
        .arg(&notification.room_id)
        .arg(KEEP)
        .arg(KEEP_SECS)
        .arg(redis.publish_command(&channel))
        .arg(&channel)
        .arg(event.to_json())
        .invoke_async(&mut redis.clone())
        .await?;
    Ok(())
}

/// Notifies a user of an invitation to a room.
pub(crate) async fn notify_invite(
    state: &AppState,
    room_id: &str,
    room_name: &str,
    inviter: &User,
    invitee_id: &str,
    expires_at: u64,
) -> AppResult<()> {
    let notification = Notification {
        expires_at: Some(expires_at),
        ..new_notification(NotificationKind::Invite, room_id, room_name, inviter)
    };
    push(state, invitee_id, &notification).await
}

/// Records the answer to an invitation on its notification(s) and, when
/// accepted, tells whoever invited the user. Called once the answer has
/// taken effect, so a failure here is logged, not returned: the caller's
/// request succeeded (and a retry would find no invitation).
pub(crate) async fn answer_invite(
    state: &AppState,
    room_id: &str,
    room_name: &str,
    invitee: &User,
    accepted: bool,
) {
    if let Err(err) = record_answer(state, room_id, room_name, invitee, accepted).await {
        tracing::warn!(?err, "could not update an invitation's notification");
    }
}

async fn record_answer(
    state: &AppState,
    room_id: &str,
    room_name: &str,
    invitee: &User,
    accepted: bool,
) -> AppResult<()> {
    let reply: Vec<String> = MARK
        .key(state.keys.user_notifications(&invitee.id))
        .arg("invite")
        .arg(room_id)
        .arg(if accepted { "accepted" } else { "declined" })
        .invoke_async(&mut state.redis())
        .await?;
    let mut inviters: Vec<String> = reply.into_iter().skip(1).collect();
    inviters.sort_unstable();
    inviters.dedup();
    if !inviters.is_empty() {
        announce_read(state, &invitee.id).await?;
    }
    if accepted {
        for inviter in inviters {
            let notification = new_notification(
                NotificationKind::InviteAccepted,
                room_id,
                room_name,
                invitee,
            );
            push(state, &inviter, &notification).await?;
        }
    }
    Ok(())
}

/// Marks one notification, or all, as read. 404 for an unknown id.
pub(crate) async fn mark_read(state: &AppState, user_id: &str, mark: &MarkRead) -> AppResult<()> {
    let (mode, id) = match mark {
        MarkRead::All => ("all", ""),
        MarkRead::One(id) => ("id", id.as_str()),
    };
    let reply: Vec<String> = MARK
        .key(state.keys.user_notifications(user_id))
        .arg(mode)
        .arg(id)
        .arg("")
        .invoke_async(&mut state.redis())
        .await?;
    let found = reply.first().is_some_and(|found| found == "1");
    if !found && *mark != MarkRead::All {
        return Err(AppError::NotFound("No such notification.".into()));
    }
    announce_read(state, user_id).await
}

/// The newest `limit` notifications and the unread count of all kept.
pub(crate) async fn list(
    state: &AppState,
    user_id: &str,
    limit: usize,
) -> AppResult<NotificationList> {
    let raw: Vec<String> = redis::cmd("LRANGE")
        .arg(state.keys.user_notifications(user_id))
        .arg(0)
        .arg(KEEP - 1)
        .query_async(&mut state.redis())
        .await?;
    let mut all: Vec<Notification> = raw
        .iter()
        .filter_map(|json| serde_json::from_str(json).ok())
        .collect();
    // Items about a room deleted since (for someone who had left it, whose
    // list the deletion did not clean) would link nowhere: left out. One
    // `EXISTS` per distinct room, sent together.
    let mut rooms: Vec<&str> = all.iter().map(|item| item.room_id.as_str()).collect();
    rooms.sort_unstable();
    rooms.dedup();
    let redis = state.redis();
    let exists: Vec<bool> = futures::future::try_join_all(rooms.iter().map(|room| {
        let mut redis = redis.clone();
        let key = state.keys.room(room);
        async move {
            redis::cmd("EXISTS")
                .arg(key)
                .query_async::<bool>(&mut redis)
                .await
        }
    }))
    .await?;
    let gone: Vec<String> = rooms
        .into_iter()
        .zip(exists)
        .filter(|(_, exists)| !exists)
        .map(|(room, _)| room.to_owned())
        .collect();
    all.retain(|item| !gone.contains(&item.room_id));
    Ok(NotificationList {
        unread: all.iter().filter(|item| !item.read).count(),
        items: all.into_iter().take(limit).collect(),
    })
}
