//! What happens to a message after it is sent: edits, deletion and
//! reactions, in Redis.
//!
//! A stream entry cannot be changed, so each message that changes gets a
//! hash of its own beside the stream, its *state*
//! (`{p}room:{id}:m:<message id>`, see `Keys::message_state`): the current
//! body and edit time, the deletion, the reactions. Reading a page of
//! history reads the page's states in one more round trip (one `HGETALL`
//! per message, pipelined; a message never changed has no state and costs
//! an empty answer). A state expires with its message: at the message's
//! time plus the retention, so retention trims both; a message trimmed
//! earlier by `MAXLEN` leaves a state that expires at that time, and no
//! path reads it any more (every change first checks, with `XRANGE id id`,
//! that the message is still in the stream: 404 otherwise).
//!
//! Each change is one script on the room's slot that checks membership,
//! the message and the caller's right to change it, then writes: the
//! check and the write are atomic.

use std::collections::HashMap;
use std::sync::LazyLock;

use redis::Script;

use super::model::{MessageId, Reaction};
use crate::error::{AppError, AppResult};
use crate::rooms::model::RoomId;
use crate::server::state::AppState;

/// Edits or deletes a message. Edit: only its author, while a member;
/// with `base`, only if the message's edit time is still `base` (0 for
/// never edited): a stale edit never overwrites a newer one. Delete: its
/// author, the room's owner or an admin; its reactions and edits go, its
/// deletion stays. Edit times come from Redis's clock and only grow.
///
///
/// The search index moves with the body: the caller read the body it
/// replaces and names the words it loses and gains, with the edit time it
/// read (`seen`); if the message changed since, nothing is written and the
/// reply is `{'moved'}` (read again and retry). So the index always holds
/// exactly the words of the current body.
///
/// Replies `{'ok', the body as sent, people mentioned by edits}`, or
/// `{'not_member'}`, `{'gone'}` (not in the stream, or deleted),
/// `{'forbidden'}`, `{'conflict'}`, `{'moved'}`.
static CHANGE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        "{}{}",
        crate::search::index::INDEX_LUA,
        r"
-- KEYS[1] stream, KEYS[2] the message's state, KEYS[3] members,
-- KEYS[4] room hash, KEYS[5] admins, KEYS[6] the room's indexed words,
-- then the index sets of the words the body loses, then of those it gains;
-- ARGV[1] 'edit' or 'delete', ARGV[2] message id, ARGV[3] caller id,
-- ARGV[4] caller id packed as in entries, ARGV[5] new body,
-- ARGV[6] retention ms, ARGV[7] base edit time or '', ARGV[8] the edit
-- time the caller read (0: never edited), ARGV[9]/[10] number of words
-- lost/gained, ARGV[11..] the words gained
if redis.call('SISMEMBER', KEYS[3], ARGV[3]) == 0 then return {'not_member'} end
local entry = redis.call('XRANGE', KEYS[1], ARGV[2], ARGV[2])[1]
if not entry then return {'gone'} end
local fields = {}
for i = 1, #entry[2], 2 do fields[entry[2][i]] = entry[2][i + 1] end
local deleted = redis.call('HGET', KEYS[2], 'deleted') == '1'
if deleted and ARGV[1] == 'edit' then return {'gone'} end
local mine = fields.author == ARGV[4]
local expire = tonumber(string.match(ARGV[2], '^(%d+)-')) + tonumber(ARGV[6])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local previous = tonumber(redis.call('HGET', KEYS[2], 'edited_at') or '0')
local at = math.max(now, previous + 1)
local lost, gained = tonumber(ARGV[9]), tonumber(ARGV[10])
local function reindex()
  local id = ix_member(ARGV[2])
  for i = 1, lost do redis.call('ZREM', KEYS[6 + i], id) end
  local words = {}
  for i = 1, gained do words[i] = ARGV[10 + i] end
  ix_add(KEYS[6], KEYS, 7 + lost, words, id, expire, false, nil)
end
if ARGV[1] == 'edit' then
  if not mine then return {'forbidden'} end
  if ARGV[7] ~= '' and tonumber(ARGV[7]) ~= previous then return {'conflict'} end
  if tonumber(ARGV[8]) ~= previous then return {'moved'} end
  reindex()
  redis.call('HSET', KEYS[2], 'body', ARGV[5], 'edited_at', string.format('%d', at))
  redis.call('PEXPIREAT', KEYS[2], string.format('%d', expire))
  return {'ok', fields.body or '', redis.call('HGET', KEYS[2], 'mentioned') or ''}
end
if not mine and redis.call('HGET', KEYS[4], 'created_by') ~= ARGV[3]
    and redis.call('SISMEMBER', KEYS[5], ARGV[3]) == 0 then
  return {'forbidden'}
end
if not deleted then
  if tonumber(ARGV[8]) ~= previous then return {'moved'} end
  reindex()
  redis.call('DEL', KEYS[2])
  redis.call('HSET', KEYS[2], 'deleted', '1', 'edited_at', string.format('%d', at))
  redis.call('PEXPIREAT', KEYS[2], string.format('%d', expire))
end
return {'ok', '', ''}
"
    ))
});

/// Reacts to a message (`on`) or takes the reaction back: counted once per
/// person and emoji, idempotent, at most [`MAX_EMOJIS`] different emoji
/// per message. Publishes the `reaction` event when something changed.
/// Replies `{'ok', the state's fields…}` (for the caller's `[Reaction]`),
/// or `{'not_member'}`, `{'gone'}`, `{'too_many'}`.
static REACT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
-- KEYS[1] stream, KEYS[2] the message's state, KEYS[3] members;
-- ARGV[1] message id, ARGV[2] user id, ARGV[3] emoji, ARGV[4] '1' on,
-- ARGV[5] retention ms, ARGV[6] PUBLISH or SPUBLISH, ARGV[7] channel,
-- ARGV[8] the user as JSON, ARGV[9] room id, ARGV[10] most emoji
if redis.call('SISMEMBER', KEYS[3], ARGV[2]) == 0 then return {'not_member'} end
if not redis.call('XRANGE', KEYS[1], ARGV[1], ARGV[1])[1] then return {'gone'} end
if redis.call('HGET', KEYS[2], 'deleted') == '1' then return {'gone'} end
local who, count_field = 'u:' .. ARGV[3] .. ':' .. ARGV[2], 'c:' .. ARGV[3]
local changed, count = false, tonumber(redis.call('HGET', KEYS[2], count_field) or '0')
if ARGV[4] == '1' then
  if redis.call('HEXISTS', KEYS[2], who) == 0 then
    if count == 0 then
      if tonumber(redis.call('HGET', KEYS[2], 'n') or '0') >= tonumber(ARGV[10]) then
        return {'too_many'}
      end
      redis.call('HINCRBY', KEYS[2], 'n', 1)
      redis.call('HSET', KEYS[2], 'o:' .. ARGV[3], redis.call('HINCRBY', KEYS[2], 'seq', 1))
    end
    redis.call('HSET', KEYS[2], who, '1')
    count = redis.call('HINCRBY', KEYS[2], count_field, 1)
    changed = true
  end
elseif redis.call('HDEL', KEYS[2], who) == 1 then
  count = redis.call('HINCRBY', KEYS[2], count_field, -1)
  if count <= 0 then
    redis.call('HDEL', KEYS[2], count_field, 'o:' .. ARGV[3])
    redis.call('HINCRBY', KEYS[2], 'n', -1)
  end
  changed = true
end
if changed then
  local expire = tonumber(string.match(ARGV[1], '^(%d+)-')) + tonumber(ARGV[5])
  redis.call('PEXPIREAT', KEYS[2], string.format('%d', expire))
  redis.call(ARGV[6], ARGV[7], cjson.encode({
    event = 'reaction', room_id = ARGV[9], message_id = ARGV[1], emoji = ARGV[3],
    user = cjson.decode(ARGV[8]), on = ARGV[4] == '1', count = count
  }))
end
local reply = {'ok'}
for _, value in ipairs(redis.call('HGETALL', KEYS[2])) do table.insert(reply, value) end
return reply
",
    )
});

/// How many times a change reads the message again when another change
/// came between its read and its script. Each try that fails means another
/// change went through, so n changes racing need at most n tries: an edit
/// without `base_edited_at` is last-writer-wins, and must not fail because
/// of the index (six concurrent edits on two processes are tested).
const MOVED_RETRIES: usize = 32;

/// How many different emoji one message may collect.
pub(crate) const MAX_EMOJIS: usize = 20;

/// A message's state, as stored (the hash's fields).
pub(crate) type State = HashMap<String, String>;

/// What a successful [`change`] found (for an edit's new mentions).
pub(crate) struct Changed {
    /// The body as sent.
    pub original_body: String,
    /// People an earlier edit mentioned (notified once).
    pub mentioned: Vec<String>,
}

/// What the caller wants done to a message.
pub(crate) enum Change<'a> {
    Edit { body: &'a str, base: Option<u64> },
    Delete,
}

/// Edits or deletes a message (see [`CHANGE`]); the refusals as errors:
/// 403 (not a member of a public room is the caller's business to tell
/// apart: `None` means "not a member"), 404, 409.
pub(crate) async fn change(
    state: &AppState,
    room_id: &RoomId,
    message_id: &MessageId,
    caller: &str,
    change: Change<'_>,
) -> AppResult<Option<Changed>> {
    let keys = &state.keys;
    let room = room_id.as_str();
    let (mode, body, base) = match change {
        Change::Edit { body, base } => ("edit", body, base),
        Change::Delete => ("delete", "", None),
    };
    let id = message_id.to_string();
    // The body being replaced, for the index; read again if it changes
    // between this read and the script (`moved`).
    let mut reply: Vec<String> = Vec::new();
    for _ in 0..MOVED_RETRIES {
        let current = super::store::one(state, room_id, message_id, caller).await?;
        // Words lost leave the index even while it is turned off, so it
        // never holds more than the truth (the backfill adds the rest when
        // it is turned on again).
        let (seen, lost, gained) = match &current {
            Some(current) if !current.deleted => {
                let (lost, mut gained) = crate::search::index::moves(&current.body, body);
                if !state.settings.messages.search_index {
                    gained.clear();
                }
                (current.edited_at.unwrap_or(0), lost, gained)
            }
            other => (
                other.as_ref().and_then(|c| c.edited_at).unwrap_or(0),
                Vec::new(),
                Vec::new(),
            ),
        };
        let mut invocation = CHANGE.key(keys.room_messages(room));
        invocation
            .key(keys.message_state(room, &id))
            .key(keys.room_members(room))
            .key(keys.room(room))
            .key(keys.room_admins(room))
            .key(keys.message_index_words(room))
            .arg(mode)
            .arg(&id)
            .arg(caller)
            .arg(super::store::pack_id(caller))
            .arg(body)
            .arg(state.settings.messages.retention_secs.saturating_mul(1000))
            .arg(base.map(|base| base.to_string()).unwrap_or_default())
            .arg(seen)
            .arg(lost.len())
            .arg(gained.len());
        for word in lost.iter().chain(&gained) {
            invocation.key(keys.message_index(room, word));
        }
        for word in &gained {
            invocation.arg(word);
        }
        reply = invocation.invoke_async(&mut state.redis()).await?;
        if reply.first().map(String::as_str) != Some("moved") {
            break;
        }
    }
    let text = |at: usize| reply.get(at).cloned().unwrap_or_default();
    match text(0).as_str() {
        "ok" => Ok(Some(Changed {
            original_body: text(1),
            mentioned: text(2).split_whitespace().map(str::to_owned).collect(),
        })),
        "not_member" => Ok(None),
        "gone" => Err(no_such_message()),
        "forbidden" => Err(AppError::Forbidden(if mode == "edit" {
            "Only its author can edit a message.".into()
        } else {
            "Only its author, the room's owner or an admin can delete a message.".into()
        })),
        "conflict" | "moved" => Err(AppError::Conflict(
            "This message was edited meanwhile; load it again.".into(),
        )),
        other => Err(AppError::internal(
            "message change script",
            other.to_owned(),
        )),
    }
}

/// Records the people an edit notified of a mention, so a later edit does
/// not notify them again.
pub(crate) async fn record_mentioned(
    state: &AppState,
    room_id: &RoomId,
    message_id: &str,
    mentioned: &[String],
) -> AppResult<()> {
    let () = redis::cmd("HSET")
        .arg(state.keys.message_state(room_id.as_str(), message_id))
        .arg("mentioned")
        .arg(mentioned.join(" "))
        .query_async(&mut state.redis())
        .await?;
    Ok(())
}

/// What a reaction call asks.
pub(crate) struct React<'a> {
    pub message_id: &'a str,
    pub user: &'a crate::auth::User,
    pub emoji: &'a str,
    pub on: bool,
}

/// Reacts (see [`REACT`]); `None` when the caller is not a member. The
/// message's reactions, as the caller sees them.
pub(crate) async fn react(
    state: &AppState,
    room_id: &RoomId,
    react: React<'_>,
) -> AppResult<Option<Vec<Reaction>>> {
    let keys = &state.keys;
    let room = room_id.as_str();
    let channel = keys.room_events(room);
    let redis = state.redis();
    let user = crate::auth::User {
        email: None,
        ..react.user.clone()
    };
    let user_json =
        serde_json::to_string(&user).map_err(|err| AppError::internal("encode user", err))?;
    let reply: Vec<String> = REACT
        .key(keys.room_messages(room))
        .key(keys.message_state(room, react.message_id))
        .key(keys.room_members(room))
        .arg(react.message_id)
        .arg(&user.id)
        .arg(react.emoji)
        .arg(if react.on { "1" } else { "0" })
        .arg(state.settings.messages.retention_secs.saturating_mul(1000))
        .arg(redis.publish_command(&channel))
        .arg(&channel)
        .arg(user_json)
        .arg(room)
        .arg(MAX_EMOJIS)
        .invoke_async(&mut redis.clone())
        .await?;
    match reply.first().map(String::as_str) {
        Some("ok") => {
            let fields: State = reply[1..]
                .chunks(2)
                .filter_map(|pair| Some((pair.first()?.clone(), pair.get(1)?.clone())))
                .collect();
            Ok(Some(reactions(&fields, Some(&user.id))))
        }
        Some("not_member") => Ok(None),
        Some("gone") => Err(no_such_message()),
        Some("too_many") => Err(AppError::BadRequest(format!(
            "A message can have at most {MAX_EMOJIS} different reactions."
        ))),
        _ => Err(AppError::internal("react script", format!("{reply:?}"))),
    }
}

/// The reactions a state holds, in the order each emoji was first used,
/// with `me` for `viewer`.
pub(crate) fn reactions(state: &State, viewer: Option<&str>) -> Vec<Reaction> {
    let mut found: Vec<(u64, Reaction)> = state
        .iter()
        .filter_map(|(field, count)| {
            let emoji = field.strip_prefix("c:")?;
            let count: u64 = count.parse().ok().filter(|count| *count > 0)?;
            let order = state
                .get(&format!("o:{emoji}"))
                .and_then(|order| order.parse().ok())
                .unwrap_or(u64::MAX);
            let me =
                viewer.is_some_and(|viewer| state.contains_key(&format!("u:{emoji}:{viewer}")));
            Some((
                order,
                Reaction {
                    emoji: emoji.to_owned(),
                    count,
                    me,
                },
            ))
        })
        .collect();
    found.sort_by_key(|(order, _)| *order);
    found.into_iter().map(|(_, reaction)| reaction).collect()
}

/// Applies a stored state to a message read from the stream.
pub(crate) fn apply_state(message: &mut super::Message, state: &State, viewer: Option<&str>) {
    if state.get("deleted").is_some_and(|deleted| deleted == "1") {
        message.deleted = true;
        message.body.clear();
        message.edited_at = state.get("edited_at").and_then(|at| at.parse().ok());
        return;
    }
    if let Some(body) = state.get("body") {
        message.body.clone_from(body);
        message.edited_at = state.get("edited_at").and_then(|at| at.parse().ok());
    }
    message.reactions = reactions(state, viewer);
}

/// The one answer for a message that is not (or no longer) in the room's
/// history.
pub(crate) fn no_such_message() -> AppError {
    AppError::NotFound("No such message: it may have expired.".into())
}
