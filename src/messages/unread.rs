//! Read positions and unread counts, at O(1) Redis work per message, per
//! read and per room listed.
//!
//! Each room counts its messages: the send script bumps the `seq` field of
//! the room hash (`HINCRBY`) as it stores one. Each member's read position
//! is one field of `{p}room:{id}:read`: `<last read message id> <the room's
//! count at it>`. A member's unread count is then a subtraction: the room's
//! count minus the count at their position, never more than the messages
//! still kept (`XLEN`) nor [`UNREAD_CAP`]. Sending a message moves the
//! author's own position to it (in the send script), so one's own messages
//! never count, and writing in a room marks what came before as read, as
//! in Slack.
//!
//! Both keys share the room's hash tag with its stream, so the send script
//! and [`ADVANCE`] each touch one slot. A position only moves forward.

use std::sync::LazyLock;

use redis::Script;

use super::model::MessageId;
use crate::error::AppResult;
use crate::rooms::model::RoomId;
use crate::server::state::AppState;

/// Unread counts stop here; the UI shows "99+"-style badges anyway.
pub(crate) const UNREAD_CAP: u64 = 100;

/// Moves a member's read position forward to `up_to`, clamped to the
/// room's newest message, with the room's count at it: the current count
/// when `up_to` is the newest message (what a reading client sends), else
/// the count less the messages after `up_to` (at most [`UNREAD_CAP`] of
/// them are counted: beyond that the badge is full anyway). Replies the new
/// position's id, or nil when it did not move.
static ADVANCE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
-- KEYS[1] read positions, KEYS[2] stream, KEYS[3] room hash;
-- ARGV[1] user id, ARGV[2] ms, ARGV[3] seq, ARGV[4] cap
local function before(ams, aseq, bms, bseq)
  return ams < bms or (ams == bms and aseq < bseq)
end
local newest = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', 1)[1]
if not newest then return false end
local nms, nseq = string.match(newest[1], '^(%d+)-(%d+)$')
nms, nseq = tonumber(nms), tonumber(nseq)
local ms, seq = tonumber(ARGV[2]), tonumber(ARGV[3])
local count = tonumber(redis.call('HGET', KEYS[3], 'seq') or '0')
if before(ms, seq, nms, nseq) then
  local after = redis.call('XRANGE', KEYS[2], '(' .. ARGV[2] .. '-' .. ARGV[3], '+',
    'COUNT', ARGV[4])
  count = math.max(count - #after, 0)
else
  ms, seq = nms, nseq
end
local current = redis.call('HGET', KEYS[1], ARGV[1])
if current then
  local cms, cseq = string.match(current, '^(%d+)-(%d+) ')
  if not before(tonumber(cms), tonumber(cseq), ms, seq) then return false end
end
local id = string.format('%d-%d', ms, seq)
redis.call('HSET', KEYS[1], ARGV[1], id .. ' ' .. string.format('%d', count))
return id
",
    )
});

/// Moves the user's read position in the room forward to `up_to`, but
/// never past the room's newest message (an id from the future would hide
/// every message still to come). Returns the new position if it moved.
/// One round trip.
pub(crate) async fn advance(
    state: &AppState,
    user_id: &str,
    room_id: &RoomId,
    up_to: MessageId,
) -> AppResult<Option<MessageId>> {
    let room = room_id.as_str();
    let moved: Option<String> = ADVANCE
        .key(state.keys.room_read(room))
        .key(state.keys.room_messages(room))
        .key(state.keys.room(room))
        .arg(user_id)
        .arg(up_to.millis)
        .arg(up_to.seq)
        .arg(UNREAD_CAP)
        .invoke_async(&mut state.redis())
        .await?;
    Ok(moved.and_then(|id| MessageId::parse(&id, "id").ok()))
}

/// The room's count at a stored read position (`<id> <count>`).
fn count_at(position: &str) -> u64 {
    position
        .split_once(' ')
        .and_then(|(_, count)| count.parse().ok())
        .unwrap_or(0)
}

/// A member's unread count from the room's message count, their stored
/// read position (if any) and the number of messages kept.
pub(crate) fn unread_of(count: u64, position: Option<&str>, kept: u64) -> u64 {
    let read = position.map_or(0, count_at);
    count.saturating_sub(read).min(kept).min(UNREAD_CAP)
}

#[cfg(test)]
mod tests {
    use super::count_at;

    #[test]
    fn a_stored_position_carries_the_rooms_count_at_it() {
        assert_eq!(count_at("1700000000000-0 42"), 42);
        assert_eq!(count_at("garbage"), 0);
    }
}
