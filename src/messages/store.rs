//! Messages in Redis: one stream per room, written by one Lua script.

use std::collections::HashMap;
use std::sync::LazyLock;

use redis::streams::{StreamId, StreamRangeReply};
use redis::Script;

use super::model::{ClientMsgId, Message, MessageBody, MessageId};
use crate::auth::User;
use crate::error::{AppError, AppResult};
use crate::limits::{byte_interval_ms, interval_ms, Limit};
use crate::rooms::model::RoomId;
use crate::server::state::AppState;

/// How long a client message id is remembered for deduplication.
const DEDUP_SECS: u64 = 24 * 3600;
/// How many of one author's newest client message ids a room remembers.
/// With the per-room send limit (one a second after a burst of 5), 100
/// ids span more than a minute and a half of the busiest sending, and a
/// whole day for anyone who sends fewer than 100 messages a day in the
/// room; retries come within seconds (the composer's within 15 s).
const DEDUP_WINDOW: usize = 100;

/// Sends one message, atomically and in one round trip. In this order:
///
/// 1. (mode `one`) if the sign-in was revoked (its handle is gone from the
///    user's list), refuse: `revoked`;
/// 2. if the author is not a member of the room (or there is no such room),
///    refuse: `not_member` (the caller finds out which, and answers 403 or
///    404);
/// 3. if this client message id was seen in this room (its 8-byte digest is
///    in the author's recent ids, `{p}room:{id}:sent:{author}`), return the
///    first message's time and do nothing else: `seen` (a retry after a
///    lost answer, never rate limited);
/// 4. pay the send limits (GCRA, see `limits`): the author's limit in this
///    room, and (mode `one`) across all rooms; all or none: `limited`;
/// 5. `XADD` the message to the room's stream, trimmed to about `max_len`
///    entries (`MAXLEN ~`: whole stream nodes at a time, which is cheap), then
///    `XTRIM MINID` away exactly the entries older than the retention;
/// 6. give the stream a TTL of the retention, so an idle room's history key
///    disappears once all of it would have expired anyway;
/// 7. remember the client message id's digest, scored by the message's
///    time, among the author's newest [`DEDUP_WINDOW`] in this room, for
///    at most 24 h; count the message in the
///    room hash (`seq`) and move the author's read position to it
///    (`messages::unread`);
/// 8. `PUBLISH` the new message, as `Message` JSON carrying the stream id, on
///    the room's channel (`SPUBLISH` on a cluster: the channel shares the
///    room's hash tag, so the message never leaves the room's shard): `sent`.
///
/// Mode `one` (standalone and Sentinel, every key on one node) does it all.
/// On a cluster the user's keys live in another slot than the room's, and a
/// script may touch one slot only, so mode `room` leaves steps 1 and the
/// user's limit to [`GATE`], run first on the user's slot.
///
/// Because the script runs atomically, publishes happen in stream order.
/// The entry's `author` and `cmid` are stored packed ([`pack_id`]).
///
/// 9. in a direct room, list the other members whose level is `all`: they
///    are notified (kind `direct`);
/// 10. (step 5's sequel) add the message to the search index: to the set
///     of each of its words, each trimmed to the stream's oldest entry and
///     expiring with the message (`search::index`).
///
/// Replies `{outcome, ...}`: `{'sent', id, room name, members to notify...}`, `{'seen', ms of
/// the first message, room name}`, `{'limited', ms to wait}`, `{'not_member'}` or `{'revoked'}`.
static SEND: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        "{}{}{}",
        crate::limits::GCRA_LUA,
        crate::search::index::INDEX_LUA,
        r#"
-- KEYS[1] stream, KEYS[2] the author's recent client message ids, KEYS[3] room members,
-- KEYS[4] room hash, KEYS[5] the author's limiter in this room,
-- KEYS[6] the room's read positions, KEYS[7] the members' notification levels;
-- mode 'one' only: KEYS[8] the author's sign-ins, KEYS[9] their limiter,
-- KEYS[10] their byte budget.
-- ARGV[1] 'one' or 'room', ARGV[2] author id, ARGV[3] body,
-- ARGV[4] client msg id, ARGV[5] max len, ARGV[6] retention ms,
-- ARGV[7] channel, ARGV[8] room id, ARGV[9] dedup secs,
-- ARGV[10] author handle, ARGV[11] author display name,
-- ARGV[12] PUBLISH or SPUBLISH (a shard channel, on a cluster),
-- ARGV[13] sign-in handle, ARGV[14]/[15] room limit interval ms/burst,
-- ARGV[16]/[17] user limit interval ms/burst,
-- ARGV[18]/[19]/[20] byte budget ms per byte/burst (bytes)/this body's bytes,
-- ARGV[21] the client message id's digest, ARGV[22]/[23] author id and
-- client message id packed for the stream, ARGV[24] dedup window (ids),
-- ARGV[25] the id of the message replied to or '', ARGV[26] its
-- reply_to JSON (or 'null'), ARGV[27] the number n of the body's words
-- indexed, ARGV[28..] those words. The last n + 1 KEYS: the room's word
-- list and the words' index sets.
local one = ARGV[1] == 'one'
if one and redis.call('HEXISTS', KEYS[8], ARGV[13]) == 0 then return {'revoked'} end
if redis.call('SISMEMBER', KEYS[3], ARGV[2]) == 0 then return {'not_member'} end
local name = redis.call('HGET', KEYS[4], 'name') or ''
local seen = redis.call('ZSCORE', KEYS[2], ARGV[21])
if seen then return {'seen', seen, name} end
-- A reply: the message answered must still be kept (nothing is paid for
-- a refused send).
if ARGV[25] ~= '' and not redis.call('XRANGE', KEYS[1], ARGV[25], ARGV[25])[1] then
  return {'no_parent'}
end
local limiters = {{KEYS[5], tonumber(ARGV[14]), tonumber(ARGV[15])}}
if one then
  limiters[2] = {KEYS[9], tonumber(ARGV[16]), tonumber(ARGV[17])}
  limiters[3] = {KEYS[10], tonumber(ARGV[18]), tonumber(ARGV[19]), tonumber(ARGV[20])}
end
local wait = take(limiters, clock())
if wait > 0 then return {'limited', tostring(wait)} end
local entry = {KEYS[1], 'MAXLEN', '~', ARGV[5], '*',
  'author', ARGV[22], 'body', ARGV[3], 'cmid', ARGV[23]}
if ARGV[25] ~= '' then
  table.insert(entry, 're')
  table.insert(entry, ARGV[25])
end
local id = redis.call('XADD', unpack(entry))
local ms = tonumber(string.match(id, '^(%d+)-'))
local oldest = ms - tonumber(ARGV[6])
if oldest > 0 then
  redis.call('XTRIM', KEYS[1], 'MINID', string.format('%d', oldest))
end
redis.call('PEXPIRE', KEYS[1], ARGV[6])
local nwords = tonumber(ARGV[27])
if nwords > 0 then
  local words = {}
  for i = 1, nwords do words[i] = ARGV[27 + i] end
  local oldest = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1)[1][1]
  ix_add(KEYS[#KEYS - nwords], KEYS, #KEYS - nwords + 1, words, ix_member(id),
    ms + tonumber(ARGV[6]), true, ix_member(oldest))
end
local dedup_ms = tonumber(ARGV[9]) * 1000
redis.call('ZADD', KEYS[2], ms, ARGV[21])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', string.format('(%d', ms - dedup_ms))
redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -1 - tonumber(ARGV[24]))
redis.call('PEXPIRE', KEYS[2], dedup_ms)
-- The room's message count, and the author's read position moved to the
-- message they just sent (messages::unread).
local count = redis.call('HINCRBY', KEYS[4], 'seq', 1)
redis.call('HSET', KEYS[4], 'last_at', ms)
redis.call('HSET', KEYS[6], ARGV[2], id .. ' ' .. string.format('%d', count))
-- The event is the Message itself, as JSON, so no process has to look
-- anything up or encode it again before sending it to its clients.
-- (cjson writes an empty Lua table as an object: the fields a new
-- message has empty are spliced in as text.)
local json = cjson.encode({
  id = id, room_id = ARGV[8], body = ARGV[3], client_msg_id = ARGV[4], sent_at = ms,
  author = { id = ARGV[2], handle = ARGV[10], display_name = ARGV[11] }
})
redis.call(ARGV[12], ARGV[7], string.sub(json, 1, -2) ..
  ',"edited_at":null,"deleted":false,"reactions":[],"reply_to":' .. ARGV[26] .. '}')
-- In a direct room every other member is notified, unless they set it to
-- mentions only or nothing: their levels are read here, on the room's
-- slot, in this same call, so the send needs no round trip per recipient
-- to learn whom to tell.
local reply = {'sent', id, name}
if redis.call('HGET', KEYS[4], 'kind') == 'direct' then
  for _, member in ipairs(redis.call('SMEMBERS', KEYS[3])) do
    local level = redis.call('HGET', KEYS[7], member)
    if member ~= ARGV[2] and (not level or level == 'all') then
      table.insert(reply, member)
    end
  end
end
return reply
"#
    ))
});

/// On a cluster, the send's checks on the user's slot, run before [`SEND`]
/// in mode `room`: the sign-in is not revoked, and the author's limit and
/// byte budget across all rooms are paid. Replies `{'ok'}`, `{'revoked'}` or
/// `{'limited', ms to wait}`.
static GATE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        "{}{}",
        crate::limits::GCRA_LUA,
        r"
-- KEYS[1] the author's sign-ins, KEYS[2] their send limiter, KEYS[3]
-- their byte budget; ARGV[1] sign-in handle, ARGV[2] interval ms,
-- ARGV[3] burst, ARGV[4]/[5]/[6] ms per byte/burst (bytes)/body bytes
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return {'revoked'} end
local wait = take({{KEYS[2], tonumber(ARGV[2]), tonumber(ARGV[3])},
  {KEYS[3], tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])}}, clock())
if wait > 0 then return {'limited', tostring(wait)} end
return {'ok'}
"
    ))
});

/// What a send came to.
pub(crate) enum Sent {
    /// Stored and published now; with the room's name (for mentions).
    /// `durable` is the `WAIT`'s verdict: an error when fewer replicas than
    /// `redis.wait_replicas` acknowledged it in time. The message was
    /// delivered all the same, so its mentions are notified before that
    /// error is answered (the client's retry finds the message stored and
    /// notifies nobody again).
    New {
        message: Message,
        room_name: String,
        /// In a direct room, the other members to notify.
        notify: Vec<String>,
        durable: AppResult<()>,
    },
    /// A retry of a message already stored: that message.
    Again(Message),
    /// The author is not a member of the room, or there is no such room.
    NotMember,
    /// The session's sign-in was revoked.
    Revoked,
    /// Over a send limit: the milliseconds until a send would be allowed.
    /// `before_dedup` when the cluster's gate refused, before the room's
    /// script could recognise a retry of a stored message.
    Limited { wait_ms: u64, before_dedup: bool },
}

/// Who sends: the author's profile and the handle of their sign-in; and
/// the message it replies to, if any (read and checked by the caller; the
/// script checks again that it is still kept).
pub(crate) struct Sender<'a> {
    pub author: User,
    pub sign_in: &'a str,
    pub reply_to: Option<super::model::ReplyRef>,
}

/// Stores and publishes a message, after checking the sign-in, the
/// membership and the limits (see [`SEND`]); a repeated client message id
/// returns the first message instead. One round trip to Redis (two on a
/// cluster), plus one to read the first message back on a retry.
pub(crate) async fn send(
    state: &AppState,
    room_id: &RoomId,
    sender: Sender<'_>,
    body: MessageBody,
    client_msg_id: &ClientMsgId,
) -> AppResult<Sent> {
    let Sender {
        author,
        sign_in,
        reply_to,
    } = sender;
    let keys = &state.keys;
    let limits = &state.settings.limits;
    let redis = state.redis();
    let cluster = redis.is_cluster();
    if cluster {
        let reply: Vec<String> = GATE
            .key(keys.user_sessions(&author.id))
            .key(keys.user_send_limit(&author.id))
            .key(keys.user_send_bytes_limit(&author.id))
            .arg(sign_in)
            .arg(interval_ms(&limits.send_per_user))
            .arg(limits.send_per_user.burst)
            .arg(byte_interval_ms(&limits.send_bytes_per_user))
            .arg(limits.send_bytes_per_user.burst)
            .arg(body.cost())
            .invoke_async(&mut redis.clone())
            .await?;
        if let Some(refused) = refusal(&reply, true)? {
            return Ok(refused);
        }
    }
    let sent = run_send(
        state,
        room_id,
        Sender {
            author: author.clone(),
            sign_in,
            reply_to,
        },
        &body,
        client_msg_id,
        cluster,
    )
    .await;
    if cluster && !matches!(sent, Ok(Sent::New { .. })) {
        // The gate paid the author's limit across rooms; nothing was sent,
        // so it is given back: all limits are paid, or none.
        let user = [
            Limit::Send {
                user_id: &author.id,
            },
            Limit::SendBytes {
                user_id: &author.id,
                bytes: body.cost(),
            },
        ];
        if let Err(err) = crate::limits::give_back(state, &user).await {
            tracing::warn!(?err, "could not give back a send limit");
        }
    }
    sent
}

/// The send script's part of [`send`] (see [`SEND`]).
async fn run_send(
    state: &AppState,
    room_id: &RoomId,
    sender: Sender<'_>,
    body: &MessageBody,
    client_msg_id: &ClientMsgId,
    cluster: bool,
) -> AppResult<Sent> {
    let Sender {
        author,
        sign_in,
        reply_to,
    } = sender;
    let author = &author;
    let reply_json = match &reply_to {
        Some(parent) => {
            serde_json::to_string(parent).map_err(|err| AppError::internal("encode reply", err))?
        }
        None => "null".to_owned(),
    };
    let keys = &state.keys;
    let room = room_id.as_str();
    let settings = &state.settings.messages;
    let limits = &state.settings.limits;
    let channel = keys.room_events(room);
    let redis = state.redis();
    let mut invocation = SEND.key(keys.room_messages(room));
    invocation
        .key(keys.room_sent(room, &author.id))
        .key(keys.room_members(room))
        .key(keys.room(room))
        .key(keys.room_send_limit(room, &author.id))
        .key(keys.room_read(room))
        .key(keys.room_notify(room));
    if !cluster {
        invocation
            .key(keys.user_sessions(&author.id))
            .key(keys.user_send_limit(&author.id))
            .key(keys.user_send_bytes_limit(&author.id));
    }
    invocation
        .arg(if cluster { "room" } else { "one" })
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
        .arg(redis.publish_command(&channel))
        .arg(sign_in)
        .arg(interval_ms(&limits.send_per_room))
        .arg(limits.send_per_room.burst)
        .arg(interval_ms(&limits.send_per_user))
        .arg(limits.send_per_user.burst)
        .arg(byte_interval_ms(&limits.send_bytes_per_user))
        .arg(limits.send_bytes_per_user.burst)
        .arg(body.cost())
        .arg(&digest(client_msg_id.as_str())[..])
        .arg(pack_id(&author.id))
        .arg(pack_id(client_msg_id.as_str()))
        .arg(DEDUP_WINDOW)
        .arg(reply_to.as_ref().map_or("", |parent| parent.id.as_str()))
        .arg(&reply_json);
    // The search index's part (step 10): the body's words and their sets.
    let words = if settings.search_index {
        crate::search::words::index_words(body.as_str())
    } else {
        Vec::new()
    };
    invocation
        .key(keys.message_index_words(room))
        .arg(words.len());
    for word in &words {
        invocation.key(keys.message_index(room, word)).arg(word);
    }
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
    let reply: Vec<String> = redis::from_redis_value(
        replies
            .next()
            .ok_or_else(|| AppError::internal("send script", "no reply"))?,
    )
    .map_err(|err| AppError::internal("send script", err))?;
    if let Some(refused) = refusal(&reply, false)? {
        return Ok(refused);
    }
    let (Some(outcome), Some(id), Some(room_name)) = (reply.first(), reply.get(1), reply.get(2))
    else {
        return Err(AppError::internal("send script", format!("{reply:?}")));
    };
    let durable = if waiting > 0 {
        let acknowledged: u32 = redis::from_redis_value(
            replies
                .next()
                .ok_or_else(|| AppError::internal("send WAIT", "no reply"))?,
        )
        .map_err(|err| AppError::internal("send WAIT", err))?;
        not_durable_yet(acknowledged, waiting)
    } else {
        Ok(())
    };
    if outcome == "seen" {
        durable?;
        // A retry: answer with what was stored the first time, if still
        // kept. If it was trimmed away since, there is no message to show:
        // say so rather than dress the retry's body up as the first.
        // The score, as a double (Redis may write it in exponent form).
        let sent_at = id
            .parse::<f64>()
            .map_err(|_| AppError::internal("send script", format!("bad time {id}")))?
            as u64;
        return match find_sent(state, room_id, &author.id, client_msg_id, sent_at).await? {
            Some(first) => Ok(Sent::Again(first)),
            None => Err(AppError::Conflict(
                "This message was sent before and is no longer in the room's history.".into(),
            )),
        };
    }
    let sent_at = MessageId::parse(id, "id")
        .map_err(|_| AppError::internal("send script", format!("bad stream id {id}")))?
        .millis;
    let mut message = Message::new(
        id.clone(),
        room.to_owned(),
        author.clone(),
        body.as_str().to_owned(),
        sent_at,
        client_msg_id.as_str().to_owned(),
    );
    message.reply_to = reply_to;
    Ok(Sent::New {
        message,
        room_name: room_name.clone(),
        notify: reply[3..].to_vec(),
        durable,
    })
}

/// The refusal a script reply names, if it names one (`revoked`,
/// `not_member`, `limited`); `gate` for the cluster's gate script.
fn refusal(reply: &[String], gate: bool) -> AppResult<Option<Sent>> {
    Ok(match reply.first().map(String::as_str) {
        Some("revoked") => Some(Sent::Revoked),
        Some("not_member") => Some(Sent::NotMember),
        Some("limited") => {
            let wait = reply
                .get(1)
                .and_then(|ms| ms.parse().ok())
                .ok_or_else(|| AppError::internal("send script", format!("{reply:?}")))?;
            Some(Sent::Limited {
                wait_ms: wait,
                before_dedup: gate,
            })
        }
        Some("no_parent") => return Err(super::lifecycle::no_such_message()),
        Some("ok" | "sent" | "seen") => None,
        _ => return Err(AppError::internal("send script", format!("{reply:?}"))),
    })
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
pub(crate) async fn already_sent(
    state: &AppState,
    room_id: &RoomId,
    author_id: &str,
    client_msg_id: &ClientMsgId,
) -> AppResult<Option<Message>> {
    // A score is a double, and Redis may write a whole one in exponent
    // form: read as f64.
    let sent_at: Option<f64> = redis::cmd("ZSCORE")
        .arg(state.keys.room_sent(room_id.as_str(), author_id))
        .arg(&digest(client_msg_id.as_str())[..])
        .query_async(&mut state.redis())
        .await?;
    let Some(sent_at) = sent_at else {
        return Ok(None);
    };
    let sent_at = sent_at as u64;
    durable(state, &state.keys.room_messages(room_id.as_str())).await?;
    find_sent(state, room_id, author_id, client_msg_id, sent_at).await
}

/// The author's message with this client message id among the room's
/// messages of that millisecond (the deduplication set keeps the time, not
/// the whole id: a millisecond holds one message, rarely a few).
async fn find_sent(
    state: &AppState,
    room_id: &RoomId,
    author_id: &str,
    client_msg_id: &ClientMsgId,
    sent_at: u64,
) -> AppResult<Option<Message>> {
    let range = Range::After {
        after: MessageId {
            millis: sent_at.saturating_sub(1),
            seq: u64::MAX,
        },
        before: Some(MessageId {
            millis: sent_at.saturating_add(1),
            seq: 0,
        }),
        limit: 100,
    };
    Ok(entries(state, room_id, range, author_id)
        .await?
        .into_iter()
        .find(|message| {
            message.author.id == author_id && message.client_msg_id == client_msg_id.as_str()
        }))
}

/// A client message id's 8-byte digest (64-bit FNV-1a), the member of the
/// deduplication set: a UUID's 36 characters would cost four times as much
/// memory. Two of one author's ids in one room colliding is a 1 in 2^57
/// chance among the 100 kept.
fn digest(client_msg_id: &str) -> [u8; 8] {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in client_msg_id.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash.to_be_bytes()
}

/// How an id is stored in a stream entry: a 32-hex-digit id (user ids) as
/// the byte 0 and its 16 bytes, a lowercase hyphenated UUID (the client
/// message ids browsers make) as the byte 1 and its 16 bytes, anything else
/// as it is (client message ids are letters, digits, `_` and `-`, so never
/// start with byte 0 or 1). 17 bytes instead of 32 or 36, in every message.
pub(crate) fn pack_id(id: &str) -> Vec<u8> {
    let hex: String = id.chars().filter(|c| *c != '-').collect();
    let lowercase_hex = |text: &str| {
        text.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    let hyphenated = id.len() == 36
        && [8, 13, 18, 23].iter().all(|at| id.as_bytes()[*at] == b'-')
        && id.bytes().filter(|b| *b == b'-').count() == 4;
    let marker = match id.len() {
        32 if lowercase_hex(id) => 0u8,
        36 if hyphenated && lowercase_hex(&hex) => 1,
        _ => return id.as_bytes().to_vec(),
    };
    let mut packed = Vec::with_capacity(17);
    packed.push(marker);
    for pair in hex.as_bytes().chunks(2) {
        let digit = |b: u8| (b as char).to_digit(16).unwrap_or(0) as u8;
        packed.push(digit(pair[0]) << 4 | digit(pair[1]));
    }
    packed
}

/// The id [`pack_id`] stored.
pub(crate) fn unpack_id(stored: &[u8]) -> String {
    match stored {
        [marker @ (0 | 1), bytes @ ..] if bytes.len() == 16 => {
            let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            if *marker == 0 {
                hex
            } else {
                format!(
                    "{}-{}-{}-{}-{}",
                    &hex[..8],
                    &hex[8..12],
                    &hex[12..16],
                    &hex[16..20],
                    &hex[20..]
                )
            }
        }
        _ => String::from_utf8_lossy(stored).into_owned(),
    }
}

/// Which part of a room's stream to read.
pub(crate) enum Range {
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
}

/// Messages of a room, oldest first, in their current state (edits,
/// deletions, reactions, with `me` for `viewer`).
pub(crate) async fn entries(
    state: &AppState,
    room_id: &RoomId,
    range: Range,
    viewer: &str,
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
        Range::Latest(_) => false,
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
    };
    to_messages(state, room_id, reply.ids, viewer).await
}

fn reversed(mut reply: StreamRangeReply) -> StreamRangeReply {
    reply.ids.reverse();
    reply
}

/// Turns stream entries into messages in their current state: one more
/// round trip for the page's states (one `HGETALL` per message, and for
/// replies to messages not on the page, the parent's entry and state),
/// pipelined on the room's slot; authors from the profile cache.
async fn to_messages(
    state: &AppState,
    room_id: &RoomId,
    entries: Vec<StreamId>,
    viewer: &str,
) -> AppResult<Vec<Message>> {
    use super::lifecycle::{apply_state, State};

    if entries.is_empty() {
        return Ok(Vec::new());
    }
    let room = room_id.as_str();
    let keys = &state.keys;
    let on_page: Vec<&str> = entries.iter().map(|entry| entry.id.as_str()).collect();
    let mut parents: Vec<String> = entries
        .iter()
        .filter_map(|entry| entry.get::<String>("re"))
        .filter(|parent| !on_page.contains(&parent.as_str()))
        .collect();
    parents.sort_unstable();
    parents.dedup();
    let mut pipe = redis::pipe();
    for id in &on_page {
        pipe.hgetall(keys.message_state(room, id));
    }
    for parent in &parents {
        pipe.cmd("XRANGE")
            .arg(keys.room_messages(room))
            .arg(parent)
            .arg(parent);
        pipe.hgetall(keys.message_state(room, parent));
    }
    let mut replies: std::vec::IntoIter<redis::Value> = pipe
        .query_async::<Vec<redis::Value>>(&mut state.redis())
        .await?
        .into_iter();
    let mut next = |what: &str| -> AppResult<redis::Value> {
        replies
            .next()
            .ok_or_else(|| AppError::internal("message states", format!("no reply for {what}")))
    };
    let mut states: HashMap<String, State> = HashMap::new();
    for id in &on_page {
        let fields: State = redis::from_redis_value(next("a state")?)
            .map_err(|err| AppError::internal("message state", err))?;
        states.insert((*id).to_owned(), fields);
    }
    let mut parent_entries: Vec<StreamId> = Vec::new();
    for parent in &parents {
        let found: StreamRangeReply = redis::from_redis_value(next("a parent")?)
            .map_err(|err| AppError::internal("reply parent", err))?;
        let fields: State = redis::from_redis_value(next("a parent's state")?)
            .map_err(|err| AppError::internal("message state", err))?;
        states.insert(parent.clone(), fields);
        parent_entries.extend(found.ids);
    }
    let mut author_ids: Vec<String> = entries
        .iter()
        .chain(&parent_entries)
        .map(author_of)
        .collect();
    author_ids.sort_unstable();
    author_ids.dedup();
    let authors: HashMap<String, User> = crate::auth::profiles(state, &author_ids).await?;
    let build = |entry: &StreamId| {
        let mut message = message_of(entry, room, &authors);
        if let Some(fields) = states.get(&entry.id) {
            apply_state(&mut message, fields, Some(viewer));
        }
        message
    };
    let mut by_id: HashMap<String, Message> = parent_entries
        .iter()
        .map(|entry| (entry.id.clone(), build(entry)))
        .collect();
    let mut messages: Vec<Message> = entries.iter().map(build).collect();
    for message in &messages {
        by_id.insert(message.id.clone(), message.clone());
    }
    for (message, entry) in messages.iter_mut().zip(&entries) {
        message.reply_to = entry
            .get::<String>("re")
            .map(|parent| reply_ref(&parent, by_id.get(&parent)));
    }
    Ok(messages)
}

/// The user id an entry's `author` field holds.
fn author_of(entry: &StreamId) -> String {
    entry
        .get::<Vec<u8>>("author")
        .map(|stored| unpack_id(&stored))
        .unwrap_or_default()
}

/// A message as sent, from its stream entry.
fn message_of(entry: &StreamId, room: &str, authors: &HashMap<String, User>) -> Message {
    let author_id = author_of(entry);
    let author = authors.get(&author_id).cloned().unwrap_or_else(|| User {
        id: author_id.clone(),
        email: None,
        handle: String::new(),
        display_name: "Deleted user".into(),
    });
    Message::new(
        entry.id.clone(),
        room.to_owned(),
        author,
        entry.get::<String>("body").unwrap_or_default(),
        MessageId::parse(&entry.id, "id").map_or(0, |id| id.millis),
        entry
            .get::<Vec<u8>>("cmid")
            .map(|stored| unpack_id(&stored))
            .unwrap_or_default(),
    )
}

/// What a reply shows of its parent: its author and the start of its
/// current body; a parent no longer kept shows as deleted.
pub(crate) fn reply_ref(parent_id: &str, parent: Option<&Message>) -> super::model::ReplyRef {
    match parent {
        Some(parent) => super::model::ReplyRef {
            id: parent_id.to_owned(),
            author: parent.author.clone(),
            excerpt: if parent.deleted {
                String::new()
            } else {
                super::model::reply_excerpt(&parent.body)
            },
            deleted: parent.deleted,
        },
        None => super::model::ReplyRef {
            id: parent_id.to_owned(),
            author: User {
                id: String::new(),
                email: None,
                handle: String::new(),
                display_name: String::new(),
            },
            excerpt: String::new(),
            deleted: true,
        },
    }
}

/// One message in its current state, as `viewer` sees it; `None` when it
/// is not (or no longer) in the stream.
pub(crate) async fn one(
    state: &AppState,
    room_id: &RoomId,
    message_id: &MessageId,
    viewer: &str,
) -> AppResult<Option<Message>> {
    Ok(by_ids(state, room_id, &[*message_id], viewer)
        .await?
        .into_iter()
        .next())
}

/// Messages of one room by id, in their current state, in the order
/// given; ids no longer kept are left out. Two round trips: one `XRANGE id
/// id` per message (pipelined), then their states.
pub(crate) async fn by_ids(
    state: &AppState,
    room_id: &RoomId,
    ids: &[MessageId],
    viewer: &str,
) -> AppResult<Vec<Message>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let key = state.keys.room_messages(room_id.as_str());
    let mut pipe = redis::pipe();
    for id in ids {
        pipe.cmd("XRANGE")
            .arg(&key)
            .arg(id.to_string())
            .arg(id.to_string());
    }
    let replies: Vec<StreamRangeReply> = pipe.query_async(&mut state.redis()).await?;
    let entries = replies.into_iter().flat_map(|reply| reply.ids).collect();
    to_messages(state, room_id, entries, viewer).await
}

/// A page of the messages a room keeps after `after` (from the oldest),
/// as `(id, current body)`, deleted ones left out, with the last id read;
/// `None` past the end. For indexing what was sent before the search
/// index existed.
pub(crate) async fn bodies_after(
    state: &AppState,
    room_id: &RoomId,
    after: Option<MessageId>,
    page: usize,
) -> AppResult<Option<(Vec<(MessageId, String)>, MessageId)>> {
    let range = Range::After {
        after: after.unwrap_or(MessageId { millis: 0, seq: 0 }),
        before: None,
        limit: page,
    };
    let messages = entries(state, room_id, range, "").await?;
    let Some(last) = messages.last() else {
        return Ok(None);
    };
    let last = MessageId::parse(&last.id, "id")?;
    let bodies = messages
        .into_iter()
        .filter(|message| !message.deleted)
        .filter_map(|message| Some((MessageId::parse(&message.id, "id").ok()?, message.body)))
        .collect();
    Ok(Some((bodies, last)))
}

#[cfg(test)]
mod tests {
    use super::{digest, pack_id, unpack_id};

    #[test]
    fn ids_are_packed_to_17_bytes_and_back() {
        for id in [
            "3f0c9a1e5b7d4c2a8e6f1b3d5c7a9e0f",
            "6f1c2f7e-8a2b-4c1d-9e0f-123456789abc",
        ] {
            let packed = pack_id(id);
            assert_eq!(packed.len(), 17, "{id}");
            assert_eq!(unpack_id(&packed), id);
        }
        // Anything else is kept as it is: upper case, short, odd shapes.
        for id in [
            "c1",
            "6F1C2F7E-8A2B-4C1D-9E0F-123456789ABC",
            "6f1c2f7e8a2b4c1d9e0f123456789abc-ext",
            "x-----------------------------------",
            "a-b",
        ] {
            assert_eq!(pack_id(id), id.as_bytes(), "{id}");
            assert_eq!(unpack_id(&pack_id(id)), id);
        }
    }

    #[test]
    fn digests_tell_ids_apart_and_are_stable() {
        assert_ne!(digest("c1"), digest("c2"));
        // FNV-1a of the empty string: the offset basis, whatever the build.
        assert_eq!(digest(""), 0xcbf2_9ce4_8422_2325u64.to_be_bytes());
    }
}
