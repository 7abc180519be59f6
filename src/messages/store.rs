//! Messages in Redis: one stream per room, written by one Lua script.

use std::collections::HashMap;
use std::sync::LazyLock;

use redis::streams::{StreamId, StreamRangeReply};
use redis::Script;

use super::model::{ClientMsgId, Message, MessageBody, MessageId};
use crate::auth::User;
use crate::error::{AppError, AppResult};
use crate::rooms::model::RoomId;
use crate::server::state::AppState;

/// How long a client message id is remembered for deduplication.
const DEDUP_SECS: u64 = 24 * 3600;

/// Sends one message, atomically and in one round trip:
///
/// 1. if this client message id was seen in this room, return the first
///    message's id and do nothing else (a retry after a lost answer);
/// 2. `XADD` the message to the room's stream, trimmed to about `max_len`
///    entries (`MAXLEN ~`: whole stream nodes at a time, which is cheap), then
///    `XTRIM MINID` away exactly the entries older than the retention;
/// 3. give the stream a TTL of the retention, so an idle room's history key
///    disappears once all of it would have expired anyway;
/// 4. remember the client message id for 24 h;
/// 5. `PUBLISH` the new message, as `Message` JSON carrying the stream id, on
///    the room's channel (`SPUBLISH` on a cluster: the channel shares the
///    room's hash tag, so the message never leaves the room's shard).
///
/// Because the script runs atomically, publishes happen in stream order.
/// Returns `{1, id}` for a new message or `{0, id}` for a duplicate.
static SEND: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
-- KEYS[1] stream, KEYS[2] client message id key
-- ARGV[1] author id, ARGV[2] body, ARGV[3] client msg id, ARGV[4] max len,
-- ARGV[5] retention ms, ARGV[6] channel, ARGV[7] room id, ARGV[8] dedup secs,
-- ARGV[9] author handle, ARGV[10] author display name,
-- ARGV[11] PUBLISH or SPUBLISH (a shard channel, on a cluster)
local seen = redis.call('GET', KEYS[2])
if seen then return {0, seen} end
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[4], '*',
  'author', ARGV[1], 'body', ARGV[2], 'cmid', ARGV[3])
local ms = tonumber(string.match(id, '^(%d+)-'))
local oldest = ms - tonumber(ARGV[5])
if oldest > 0 then
  redis.call('XTRIM', KEYS[1], 'MINID', string.format('%d', oldest))
end
redis.call('PEXPIRE', KEYS[1], ARGV[5])
redis.call('SET', KEYS[2], id, 'EX', ARGV[8])
-- The event is the Message itself, as JSON, so no process has to look
-- anything up or encode it again before sending it to its clients.
redis.call(ARGV[11], ARGV[6], cjson.encode({
  id = id, room_id = ARGV[7], body = ARGV[2], client_msg_id = ARGV[3], sent_at = ms,
  author = { id = ARGV[1], handle = ARGV[9], display_name = ARGV[10] }
}))
return {1, id}
"#,
    )
});

/// Stores and publishes a message; a repeated client message id returns the
/// first message instead. The flag says whether the message is new.
pub async fn send(
    state: &AppState,
    room_id: &RoomId,
    author: User,
    body: MessageBody,
    client_msg_id: ClientMsgId,
) -> AppResult<(Message, bool)> {
    let keys = &state.keys;
    let room = room_id.as_str();
    let settings = &state.settings.messages;
    let channel = keys.room_events(room);
    let redis = state.redis();
    let mut invocation = SEND.key(keys.room_messages(room));
    invocation
        .key(keys.room_sent(room, &author.id, client_msg_id.as_str()))
        .arg(&author.id)
        .arg(body.as_str())
        .arg(client_msg_id.as_str())
        .arg(settings.max_per_room)
        .arg(settings.retention_secs.saturating_mul(1000))
        .arg(&channel)
        .arg(room)
        .arg(DEDUP_SECS)
        .arg(&author.handle)
        .arg(&author.display_name)
        .arg(redis.publish_command(&channel));
    // With `redis.wait_replicas`, the script and a `WAIT` travel in one
    // pipeline: one round trip, and the `WAIT` is sure to run on the
    // connection (and node) that ran the script, so it waits for this write.
    let waiting = state.settings.redis.wait_replicas;
    let mut pipe = redis::pipe();
    pipe.invoke_script(&invocation);
    if waiting > 0 {
        pipe.cmd("WAIT")
            .arg(waiting)
            .arg(state.settings.redis.wait_timeout_ms);
    }
    let replies: Vec<redis::Value> = match pipe.query_async(&mut redis.clone()).await {
        // The script is not in this server's cache yet (a first use, a
        // restart, a new primary): load it, then run the pipeline again.
        // Safe: a refused EVALSHA ran nothing.
        Err(err) if err.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::NoScript) => {
            invocation.load_async(&mut redis.clone()).await?;
            pipe.query_async(&mut redis.clone()).await?
        }
        other => other?,
    };
    let mut replies = replies.into_iter();
    let (new, id): (i64, String) = redis::from_redis_value(
        replies
            .next()
            .ok_or_else(|| AppError::internal("send script", "no reply"))?,
    )
    .map_err(|err| AppError::internal("send script", err))?;
    if waiting > 0 {
        let acknowledged: u32 = redis::from_redis_value(
            replies
                .next()
                .ok_or_else(|| AppError::internal("send WAIT", "no reply"))?,
        )
        .map_err(|err| AppError::internal("send WAIT", err))?;
        not_durable_yet(acknowledged, waiting)?;
    }
    let sent_at = MessageId::parse(&id, "id")
        .map_err(|_| AppError::internal("send script", format!("bad stream id {id}")))?
        .millis;
    if new == 0 {
        // A retry: answer with what was stored the first time, if still kept.
        if let Some(first) = entries(state, room_id, Range::Exactly(&id)).await?.pop() {
            return Ok((first, false));
        }
    }
    let message = Message {
        id,
        room_id: room.to_owned(),
        author,
        body: body.as_str().to_owned(),
        sent_at,
        client_msg_id: client_msg_id.as_str().to_owned(),
    };
    Ok((message, new == 1))
}

/// With `redis.wait_replicas` set, a send is acknowledged only once that
/// many replicas have it (a failover can no longer lose it), else it fails:
/// the client retries, and the retry, deduplicated, waits again
/// (docs/scaling.md).
fn not_durable_yet(acknowledged: u32, wanted: u32) -> AppResult<()> {
    if acknowledged < wanted {
        return Err(AppError::Unavailable(format!(
            "The message reached {acknowledged} of {wanted} replicas in time; send it again."
        )));
    }
    Ok(())
}

/// For a message already stored: `WAIT`s on the node holding `key` (a
/// retry that the rate limit refused is answered only once durable too).
async fn durable(state: &AppState, key: &str) -> AppResult<()> {
    let settings = &state.settings.redis;
    if settings.wait_replicas == 0 {
        return Ok(());
    }
    let acknowledged = state
        .redis()
        .wait_for_replicas(key, settings.wait_replicas, settings.wait_timeout())
        .await?;
    not_durable_yet(acknowledged, settings.wait_replicas)
}

/// The message this author already sent with this client message id, if
/// it is still remembered and kept.
pub async fn already_sent(
    state: &AppState,
    room_id: &RoomId,
    author_id: &str,
    client_msg_id: &ClientMsgId,
) -> AppResult<Option<Message>> {
    let id: Option<String> = redis::cmd("GET")
        .arg(
            state
                .keys
                .room_sent(room_id.as_str(), author_id, client_msg_id.as_str()),
        )
        .query_async(&mut state.redis())
        .await?;
    let Some(id) = id else { return Ok(None) };
    durable(state, &state.keys.room_messages(room_id.as_str())).await?;
    Ok(entries(state, room_id, Range::Exactly(&id)).await?.pop())
}

/// Which part of a room's stream to read.
pub enum Range<'a> {
    /// The newest `limit` messages.
    Latest(usize),
    /// Up to `limit` messages right after `after` (exclusive), and before
    /// `before` (exclusive) when given.
    After {
        after: MessageId,
        before: Option<MessageId>,
        limit: usize,
    },
    /// Up to `limit` messages right before `before` (exclusive).
    Before { before: MessageId, limit: usize },
    /// The one message with this id.
    Exactly(&'a str),
}

/// Messages of a room, oldest first.
pub async fn entries(
    state: &AppState,
    room_id: &RoomId,
    range: Range<'_>,
) -> AppResult<Vec<Message>> {
    // Exclusive bounds past either end of the id space mean "nothing"; Redis
    // would reject them instead of answering empty.
    let first = MessageId { millis: 0, seq: 0 };
    let last = MessageId {
        millis: u64::MAX,
        seq: u64::MAX,
    };
    let empty = match &range {
        Range::After { after, before, .. } => *after == last || *before == Some(first),
        Range::Before { before, .. } => *before == first,
        Range::Latest(_) | Range::Exactly(_) => false,
    };
    if empty {
        return Ok(Vec::new());
    }
    let key = state.keys.room_messages(room_id.as_str());
    let mut conn = state.redis();
    // `(` makes a bound exclusive (Redis 6.2+).
    let reply: StreamRangeReply = match range {
        Range::Latest(limit) => reversed(
            redis::cmd("XREVRANGE")
                .arg(&key)
                .arg("+")
                .arg("-")
                .arg("COUNT")
                .arg(limit)
                .query_async(&mut conn)
                .await?,
        ),
        Range::After {
            after,
            before,
            limit,
        } => {
            let end = before.map_or_else(|| "+".to_owned(), |before| format!("({before}"));
            redis::cmd("XRANGE")
                .arg(&key)
                .arg(format!("({after}"))
                .arg(end)
                .arg("COUNT")
                .arg(limit)
                .query_async(&mut conn)
                .await?
        }
        Range::Before { before, limit } => reversed(
            redis::cmd("XREVRANGE")
                .arg(&key)
                .arg(format!("({before}"))
                .arg("-")
                .arg("COUNT")
                .arg(limit)
                .query_async(&mut conn)
                .await?,
        ),
        Range::Exactly(id) => {
            redis::cmd("XRANGE")
                .arg(&key)
                .arg(id)
                .arg(id)
                .query_async(&mut conn)
                .await?
        }
    };
    to_messages(state, room_id, reply.ids).await
}

fn reversed(mut reply: StreamRangeReply) -> StreamRangeReply {
    reply.ids.reverse();
    reply
}

/// Turns stream entries into messages, looking the authors up in one round
/// trip.
async fn to_messages(
    state: &AppState,
    room_id: &RoomId,
    entries: Vec<StreamId>,
) -> AppResult<Vec<Message>> {
    let field = |entry: &StreamId, name: &str| entry.get::<String>(name).unwrap_or_default();
    let mut author_ids: Vec<String> = entries.iter().map(|entry| field(entry, "author")).collect();
    author_ids.sort_unstable();
    author_ids.dedup();
    let authors: HashMap<String, User> = crate::auth::profiles(state, &author_ids).await?;
    Ok(entries
        .into_iter()
        .map(|entry| {
            let author_id = field(&entry, "author");
            let author = authors.get(&author_id).cloned().unwrap_or_else(|| User {
                id: author_id.clone(),
                email: None,
                handle: String::new(),
                display_name: "Deleted user".into(),
            });
            Message {
                sent_at: MessageId::parse(&entry.id, "id").map_or(0, |id| id.millis),
                room_id: room_id.as_str().to_owned(),
                author,
                body: field(&entry, "body"),
                client_msg_id: field(&entry, "cmid"),
                id: entry.id,
            }
        })
        .collect())
}
