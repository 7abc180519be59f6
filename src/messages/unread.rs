//! Read positions: per user and room, the id of the last message read.
//!
//! Kept in one hash per user, `{p}user:{id}:read` (room id -> message id).
//! A position only moves forward; unread counts are the other people's
//! messages after it, counted up to [`UNREAD_CAP`].

use std::sync::LazyLock;

use redis::streams::StreamRangeReply;
use redis::Script;

use super::model::MessageId;
use crate::error::AppResult;
use crate::rooms::model::RoomId;
use crate::rooms::Room;
use crate::server::state::AppState;

/// Unread counts stop here; the UI shows "99+"-style badges anyway.
pub const UNREAD_CAP: usize = 100;

/// Sets the read position only if it moves forward. Stream ids compare by
/// their millisecond part, then their sequence part.
static ADVANCE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
-- KEYS[1] read hash; ARGV[1] room id, ARGV[2] ms, ARGV[3] seq
local current = redis.call('HGET', KEYS[1], ARGV[1])
if current then
  local ms, seq = string.match(current, '^(%d+)-(%d+)$')
  ms, seq = tonumber(ms), tonumber(seq)
  local new_ms, new_seq = tonumber(ARGV[2]), tonumber(ARGV[3])
  if new_ms < ms or (new_ms == ms and new_seq <= seq) then return 0 end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. '-' .. ARGV[3])
return 1
"#,
    )
});

/// Moves the user's read position in the room forward to `up_to`, but
/// never past the room's newest message (an id from the future would hide
/// every message still to come). Returns the new position if it moved.
pub async fn advance(
    state: &AppState,
    user_id: &str,
    room_id: &RoomId,
    up_to: MessageId,
) -> AppResult<Option<MessageId>> {
    let newest: StreamRangeReply = redis::cmd("XREVRANGE")
        .arg(state.keys.room_messages(room_id.as_str()))
        .arg("+")
        .arg("-")
        .arg("COUNT")
        .arg(1)
        .query_async(&mut state.redis())
        .await?;
    let Some(newest) = newest
        .ids
        .first()
        .and_then(|entry| MessageId::parse(&entry.id, "id").ok())
    else {
        return Ok(None);
    };
    let up_to = up_to.min(newest);
    let moved: i64 = ADVANCE
        .key(state.keys.user_read(user_id))
        .arg(room_id.as_str())
        .arg(up_to.millis)
        .arg(up_to.seq)
        .invoke_async(&mut state.redis())
        .await?;
    Ok((moved == 1).then_some(up_to))
}

/// Unread counts for these rooms, in order: others' messages after the
/// user's read position (all of them if the user never read the room).
/// Two round trips whatever the number of rooms (the second one concurrent
/// commands).
pub async fn counts(state: &AppState, user_id: &str, rooms: &[Room]) -> AppResult<Vec<u64>> {
    if rooms.is_empty() {
        return Ok(Vec::new());
    }
    let mut positions = redis::cmd("HMGET");
    positions.arg(state.keys.user_read(user_id));
    for room in rooms {
        positions.arg(&room.id);
    }
    let positions: Vec<Option<String>> = positions.query_async(&mut state.redis()).await?;
    // Concurrent reads, one per room (on a cluster, rooms live on different
    // nodes); the multiplexed connection still sends them together.
    let redis = state.redis();
    let replies: Vec<StreamRangeReply> =
        futures::future::try_join_all(rooms.iter().zip(&positions).map(|(room, position)| {
            let start = position
                .as_ref()
                .map_or_else(|| "-".to_owned(), |id| format!("({id}"));
            let mut redis = redis.clone();
            let key = state.keys.room_messages(&room.id);
            async move {
                redis::cmd("XRANGE")
                    .arg(key)
                    .arg(start)
                    .arg("+")
                    .arg("COUNT")
                    .arg(UNREAD_CAP)
                    .query_async(&mut redis)
                    .await
            }
        }))
        .await?;
    Ok(replies
        .into_iter()
        .map(|reply| {
            reply
                .ids
                .iter()
                .filter(|entry| entry.get::<String>("author").as_deref() != Some(user_id))
                .count() as u64
        })
        .collect())
}
