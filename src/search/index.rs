//! The message search index, an inverted index of sorted sets on each
//! room's slot (docs/redis.md, "Search"):
//!
//! - `{p}room:{id}:ix:<word>`: the messages holding the word. Every score
//!   is 0 and each member is the message's stream id written as one
//!   19-digit number ([`member`]: 13 digits of milliseconds, 6 of sequence),
//!   so the members sort by time byte by byte, and `ZRANGE … BYLEX REV`
//!   reads them newest first from any cursor, exclusive bounds included.
//!   (With the time as the score, two messages of one millisecond would
//!   tie, and a page boundary between them would need a second key.)
//! - `{p}room:{id}:ix`: the room's indexed words, every score 0, for the
//!   last word of a query, which may be the start of a word:
//!   `ZRANGE … [vau "[vau\xff" BYLEX LIMIT 0 50`.
//!
//! The index is kept exact by the same scripts that change messages: the
//! send script adds the message to its words' sets and trims each of them
//! to the stream's oldest entry (so `MAXLEN` and retention trimming reach
//! every set the room still writes to); an edit moves the message from the
//! words it lost to the words it gained; a delete takes it out. A set
//! expires with its newest message. The sets of words nobody uses any more
//! may still hold entries older than the stream's oldest: the search never
//! reads below that entry (one `XRANGE - + COUNT 1`), so they are never
//! found, and they expire on their own.

use std::collections::HashMap;
use std::sync::LazyLock;

use futures::future::try_join_all;
use redis::Script;

use super::words::Query;
use crate::error::{AppError, AppResult};
use crate::messages::model::MessageId;
use crate::server::keys::Keys;
use crate::server::redis::Redis;

/// The Lua the scripts that index share (concatenated in front of them,
/// as `limits::GCRA_LUA` is).
pub(crate) const INDEX_LUA: &str = r"
-- Search index (search::index): a message's id as a 19-digit member.
local function ix_member(id)
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  return string.rep('0', 13 - #ms) .. ms .. string.rep('0', 6 - #seq) .. seq
end
-- Adds member to the sets keys[first..last] of words[1..], with the words
-- in the vocabulary set; each set expires at expire (ms) or later. newest:
-- the message is the room's newest, so its expiry is the latest (a plain
-- PEXPIREAT); otherwise an expiry is only ever moved later. floor: the
-- stream's oldest entry (as a member), below which each set is trimmed.
local function ix_expire(key, at, newest)
  if newest then
    redis.call('PEXPIREAT', key, at)
  else
    redis.call('PEXPIREAT', key, at, 'NX')
    redis.call('PEXPIREAT', key, at, 'GT')
  end
end
local function ix_add(vocab, keys, first, words, member, expire, newest, floor)
  local at = string.format('%d', expire)
  for i, word in ipairs(words) do
    local key = keys[first + i - 1]
    redis.call('ZADD', key, 0, member)
    if floor then redis.call('ZREMRANGEBYLEX', key, '-', '(' .. floor) end
    ix_expire(key, at, newest)
    redis.call('ZADD', vocab, 0, word)
  end
  if #words > 0 then ix_expire(vocab, at, newest) end
end
";

/// A stream id (`<ms>-<seq>`) as an index member: 13 digits of ms and 6 of
/// sequence, so members sort as ids do (until the year 2286, and for up to
/// a million messages of one room in one millisecond).
/// Ids beyond that (only a client's cursor could be one) clamp to the
/// largest member.
pub(crate) fn member(id: &MessageId) -> String {
    if id.millis > 9_999_999_999_999 {
        return "9".repeat(19);
    }
    format!("{:013}{:06}", id.millis, id.seq.min(999_999))
}

/// The stream id an index member stands for.
pub(crate) fn message_id(member: &str) -> Option<MessageId> {
    if member.len() != 19 || !member.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(MessageId {
        millis: member[..13].parse().ok()?,
        seq: member[13..].parse().ok()?,
    })
}

/// Indexes messages already in a room's stream (the backfill, and the
/// benchmark's corpus): `(id, current body)` each, in one script call per
/// batch. Idempotent.
pub async fn index_existing(
    redis: &Redis,
    keys: &Keys,
    room: &str,
    messages: &[(MessageId, String)],
    retention_ms: u64,
) -> AppResult<()> {
    static ADD: LazyLock<Script> = LazyLock::new(|| {
        Script::new(&format!(
            "{INDEX_LUA}{}",
            r"
-- KEYS[1] the room's vocabulary, KEYS[2..] the words' sets, message by
-- message; ARGV: retention ms, then for each message: its id, its number
-- of words, its words
local retention, at, key = tonumber(ARGV[1]), 2, 2
while at <= #ARGV do
  local id, n = ARGV[at], tonumber(ARGV[at + 1])
  local words = {}
  for i = 1, n do words[i] = ARGV[at + 1 + i] end
  local ms = tonumber(string.match(id, '^(%d+)-'))
  ix_add(KEYS[1], KEYS, key, words, ix_member(id), ms + retention, false, nil)
  at, key = at + 2 + n, key + n
end
return 0
"
        ))
    });
    for batch in messages.chunks(200) {
        let mut invocation = ADD.key(keys.message_index_words(room));
        invocation.arg(retention_ms);
        for (id, body) in batch {
            let words = super::words::index_words(body);
            invocation.arg(id.to_string()).arg(words.len());
            for word in &words {
                invocation.key(keys.message_index(room, word)).arg(word);
            }
        }
        let _: i64 = invocation.invoke_async(&mut redis.clone()).await?;
    }
    Ok(())
}

/// How many words of a room's vocabulary the last word of a query may
/// stand for (Elasticsearch's `max_expansions` is 50 too; RediSearch's
/// `MAXEXPANSIONS` is 200): the first ones in byte order, so the word
/// itself comes first, then its shortest extensions.
pub const PREFIX_EXPANSIONS: usize = 50;
/// How many index entries (elements read and membership checks) one
/// call of [`SEARCH`] may touch in one room, at most: about a millisecond
/// of Redis time, so a search never holds Redis up for long.
pub const BUDGET_PER_CALL: usize = 2_000;
/// ... and at least, when a search shares its budget among many rooms.
pub const MIN_BUDGET_PER_CALL: usize = 200;
/// How many index entries one search may touch in all, shared among the
/// rooms still to read in each round: a search that has not filled its
/// page by then answers what it found above where it stopped.
pub const BUDGET_PER_SEARCH: usize = 20_000;

/// Searches one room's index, newest first from a cursor, within a budget.
/// Each query word is a group of sets (one set for a whole word; a set per
/// vocabulary word for the last word when it is a prefix); a message
/// matches when it is in some set of every group. The group with the
/// fewest entries drives: its sets are merged newest first (each read 8
/// entries at first, then twice as many each time up to 64: `ZRANGE …
/// BYLEX REV LIMIT`), and each message read is kept if every other group
/// has it (`ZSCORE`). Never reads below the stream's oldest entry.
///
/// The budget counts entries read and membership checks. It is checked
/// after each message looked at and before each further read, once at
/// least one message was looked at (so every call makes progress); the
/// first reads of a prefix's sets may pass it (at most 9 per set).
///
/// A prefix's word whose set is gone, or holds only messages older than
/// the stream's oldest, leaves the vocabulary (and its set is dropped).
///
/// Replies `{status, stop, spent, member…}`: `more` (the page is full),
/// `end` (nothing older matches), `budget` (stopped after `stop`, the last
/// member looked at), or `not_member`.
static SEARCH: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
-- KEYS[1] stream, KEYS[2] members, KEYS[3] vocabulary, KEYS[4..] the
-- groups' sets, group after group; ARGV[1] caller id, ARGV[2] cursor
-- member (exclusive) or '', ARGV[3] limit, ARGV[4] budget, ARGV[5] '1' if
-- the last group is a prefix's words, ARGV[6] number of groups, then
-- each group's number of sets, then the prefix's words (one per set of
-- the last group)
if redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 0 then return {'not_member', '', '1'} end
local oldest = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1)[1]
if not oldest then return {'end', '', '2'} end
local ms, seq = string.match(oldest[1], '^(%d+)-(%d+)$')
local floor = string.rep('0', 13 - #ms) .. ms .. string.rep('0', 6 - #seq) .. seq
local limit, budget, spent = tonumber(ARGV[3]), tonumber(ARGV[4]), 2
local ngroups = tonumber(ARGV[6])
local groups, key = {}, 4
for g = 1, ngroups do
  local group = {}
  for i = 1, tonumber(ARGV[6 + g]) do group[i] = KEYS[key]; key = key + 1 end
  groups[g] = group
end
local driver, fewest = 1, nil
for g, group in ipairs(groups) do
  local size, live = 0, {}
  for i, set in ipairs(group) do
    local n = redis.call('ZCARD', set)
    spent = spent + 1
    if ARGV[5] == '1' and g == ngroups then
      local newest = n > 0 and redis.call('ZRANGE', set, '+', '-', 'BYLEX', 'REV', 'LIMIT', 0, 1)[1]
      if not newest or newest < floor then
        -- Gone, or only trimmed messages: out of the vocabulary.
        redis.call('ZREM', KEYS[3], ARGV[6 + ngroups + i])
        if newest then redis.call('UNLINK', set) end
        n = 0
      else
        table.insert(live, set)
      end
    else
      table.insert(live, set)
    end
    size = size + n
  end
  groups[g] = live
  if not fewest or size < fewest then driver, fewest = g, size end
end
if fewest == 0 then return {'end', '', tostring(spent)} end
local sets, batches, at, sizes = groups[driver], {}, {}, {}
local function read(i, below)
  local high = below == '' and '+' or '(' .. below
  sizes[i] = math.min((sizes[i] or 4) * 2, 64)
  batches[i] = redis.call('ZRANGE', sets[i], high, '[' .. floor, 'BYLEX', 'REV', 'LIMIT', 0, sizes[i])
  at[i] = 1
  spent = spent + 1 + #batches[i]
end
for i = 1, #sets do read(i, ARGV[2]) end
local found, last = {'more', '', ''}, nil
local function stop(status, where)
  found[1], found[2], found[3] = status, where, tostring(spent)
  return found
end
while true do
  local top, from = nil, nil
  for i = 1, #sets do
    local batch = batches[i]
    if at[i] > #batch and #batch == sizes[i] then
      if last and spent >= budget then return stop('budget', last) end
      read(i, batch[#batch])
    end
    local head = batches[i][at[i]]
    if head and (not top or head > top) then top, from = head, i end
  end
  if not top then return stop('end', '') end
  at[from] = at[from] + 1
  -- A message under two of the prefix's words comes twice, one after the
  -- other.
  if top ~= last then
    last = top
    local all = true
    for g, group in ipairs(groups) do
      if g ~= driver then
        local any = false
        for _, set in ipairs(group) do
          spent = spent + 1
          if redis.call('ZSCORE', set, top) then any = true; break end
        end
        if not any then all = false; break end
      end
    end
    if all then
      table.insert(found, top)
      if #found - 3 >= limit then return stop('more', '') end
    end
    if spent >= budget then return stop('budget', top) end
  end
end
",
    )
});

/// One room's part of a search: its sets for each query word.
struct RoomQuery {
    room: String,
    groups: Vec<Vec<String>>,
    /// The prefix's words (the last group's), or empty.
    prefix_words: Vec<String>,
    /// Where its next call starts (exclusive), or `None` for the top.
    cursor: Option<String>,
    /// Matches found, newest first, as members.
    found: Vec<String>,
    /// Whether more may match below what was read.
    open: bool,
    /// When open because of the budget: the last member looked at.
    stopped_at: Option<String>,
}

/// Who searches, where, and for what.
pub struct Search<'a> {
    pub caller: &'a str,
    /// Rooms the caller is a member of (each is checked again, atomically,
    /// by the script).
    pub rooms: &'a [String],
    pub query: &'a Query,
    /// Only messages older than this one.
    pub before: Option<MessageId>,
    pub limit: usize,
}

/// A message found: its room and id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    pub room: String,
    pub id: MessageId,
}

/// What a search found.
#[derive(Debug, Default)]
pub struct Page {
    /// The newest matches, newest first.
    pub hits: Vec<Hit>,
    /// Set when the search spent its whole budget before it knew the page:
    /// more messages older than this one may match (pass it as `before`).
    pub more_before: Option<MessageId>,
}

/// Finds the newest `limit` messages older than `before` holding every
/// word of the query, across the rooms, newest first. Two round trips per
/// round (the prefix's words, then one script per room, concurrently);
/// more rounds only for rooms that spent their budget before filling the
/// page, until [`BUDGET_PER_SEARCH`].
pub async fn find(redis: &Redis, keys: &Keys, search: Search<'_>) -> AppResult<Page> {
    let Search {
        caller,
        rooms,
        query,
        before,
        limit,
    } = search;
    let Some((last, whole)) = query.words.split_last() else {
        return Ok(Page::default());
    };
    // The words the last one stands for, per room.
    let expansions: Vec<Vec<String>> = if query.last_is_prefix {
        try_join_all(rooms.iter().map(|room| {
            let mut redis = redis.clone();
            let mut high = format!("[{last}").into_bytes();
            high.push(0xff);
            let vocabulary = keys.message_index_words(room);
            async move {
                redis::cmd("ZRANGE")
                    .arg(vocabulary)
                    .arg(format!("[{last}"))
                    .arg(high)
                    .arg("BYLEX")
                    .arg("LIMIT")
                    .arg(0)
                    .arg(PREFIX_EXPANSIONS)
                    .query_async::<Vec<String>>(&mut redis)
                    .await
            }
        }))
        .await?
    } else {
        rooms.iter().map(|_| vec![last.clone()]).collect()
    };
    let cursor = before.as_ref().map(member);
    let mut queries: Vec<RoomQuery> = rooms
        .iter()
        .zip(expansions)
        .filter(|(_, words)| !words.is_empty())
        .map(|(room, words)| {
            let mut groups: Vec<Vec<String>> = whole
                .iter()
                .map(|word| vec![keys.message_index(room, word)])
                .collect();
            groups.push(
                words
                    .iter()
                    .map(|word| keys.message_index(room, word))
                    .collect(),
            );
            RoomQuery {
                room: room.clone(),
                groups,
                prefix_words: if query.last_is_prefix {
                    words
                } else {
                    Vec::new()
                },
                cursor: cursor.clone(),
                found: Vec::new(),
                open: true,
                stopped_at: None,
            }
        })
        .collect();
    let mut spent = 0;
    loop {
        let pending: Vec<usize> = (0..queries.len())
            .filter(|at| queries[*at].open && needs_more(&queries, *at, limit))
            .collect();
        if pending.is_empty() || spent >= BUDGET_PER_SEARCH {
            break;
        }
        // This round's share of what is left, per room.
        let share = (BUDGET_PER_SEARCH.saturating_sub(spent) / pending.len())
            .clamp(MIN_BUDGET_PER_CALL, BUDGET_PER_CALL);
        let replies = try_join_all(pending.iter().map(|at| {
            let query = &queries[*at];
            let mut redis = redis.clone();
            let mut invocation = SEARCH.key(keys.room_messages(&query.room));
            invocation
                .key(keys.room_members(&query.room))
                .key(keys.message_index_words(&query.room))
                .arg(caller)
                .arg(query.cursor.as_deref().unwrap_or(""))
                .arg(limit.saturating_sub(query.found.len()).max(1))
                .arg(share)
                .arg(if query.prefix_words.is_empty() {
                    "0"
                } else {
                    "1"
                })
                .arg(query.groups.len());
            for group in &query.groups {
                invocation.arg(group.len());
            }
            for group in &query.groups {
                for set in group {
                    invocation.key(set);
                }
            }
            for word in &query.prefix_words {
                invocation.arg(word);
            }
            async move { invocation.invoke_async::<Vec<String>>(&mut redis).await }
        }))
        .await?;
        for (at, reply) in pending.into_iter().zip(replies) {
            let query = &mut queries[at];
            let (status, stop, used, members) = match reply.as_slice() {
                [status, stop, used, members @ ..] => (status.as_str(), stop, used, members),
                _ => return Err(AppError::internal("search script", format!("{reply:?}"))),
            };
            spent += used.parse::<usize>().unwrap_or(share);
            query.found.extend(members.iter().cloned());
            match status {
                "more" => {
                    query.cursor = query.found.last().cloned();
                    query.stopped_at = None;
                }
                "budget" => {
                    query.cursor = Some(stop.clone());
                    query.stopped_at = Some(stop.clone());
                }
                "end" | "not_member" => {
                    query.open = false;
                    query.stopped_at = None;
                    if status == "not_member" {
                        query.found.clear();
                    }
                }
                other => return Err(AppError::internal("search script", other.to_owned())),
            }
        }
    }
    let hits = merge(&queries, limit);
    let horizon = queries
        .iter()
        .filter(|query| query.open)
        .filter_map(|query| query.stopped_at.as_deref())
        .max();
    Ok(Page {
        more_before: horizon.filter(|_| hits.len() < limit).and_then(message_id),
        hits,
    })
}

/// Whether room `at` must be read further to know the page: it stopped
/// on its budget, and what the rooms found so far does not fill the page
/// with messages newer than where it stopped.
fn needs_more(queries: &[RoomQuery], at: usize, limit: usize) -> bool {
    let query = &queries[at];
    if query.found.is_empty() && query.stopped_at.is_none() {
        return true; // not read yet
    }
    let Some(stop) = &query.stopped_at else {
        return false; // a full page of its own, or its end
    };
    let newer = queries
        .iter()
        .flat_map(|other| &other.found)
        .filter(|found| *found > stop)
        .count();
    newer < limit
}

/// The page: the newest `limit` matches of all rooms, cut at the highest
/// point any room stopped on its budget (below it, that room's matches
/// are unknown), and never between two messages with the same id (in two
/// rooms): the next page, `before` that id, brings them both.
fn merge(queries: &[RoomQuery], limit: usize) -> Vec<Hit> {
    let horizon = queries
        .iter()
        .filter(|query| query.open)
        .filter_map(|query| query.stopped_at.as_ref())
        .max();
    let mut all: Vec<(&String, &String)> = queries
        .iter()
        .flat_map(|query| query.found.iter().map(move |found| (found, &query.room)))
        .filter(|(found, _)| horizon.is_none_or(|horizon| *found >= horizon))
        .collect();
    all.sort_by(|a, b| b.cmp(a));
    if all.len() > limit {
        let cut = all[limit].0;
        if all[..limit].iter().any(|(found, _)| *found != cut) {
            all.truncate(limit);
            all.retain(|(found, _)| *found != cut);
        } else {
            // A whole page of one id: all of them, so the next page,
            // `before` it, misses none.
            all.retain(|(found, _)| *found == cut);
        }
    }
    all.into_iter()
        .filter_map(|(found, room)| {
            Some(Hit {
                room: room.clone(),
                id: message_id(found)?,
            })
        })
        .collect()
}

/// The words a body held and holds, for moving its message in the index:
/// the sets it leaves and the sets it joins.
pub(crate) fn moves(before: &str, after: &str) -> (Vec<String>, Vec<String>) {
    let old = super::words::index_words(before);
    let new = super::words::index_words(after);
    let left = old.iter().filter(|w| !new.contains(w)).cloned().collect();
    let joined = new.iter().filter(|w| !old.contains(w)).cloned().collect();
    (left, joined)
}

/// Rooms ordered by their last message, newest first (for the cap on
/// rooms one search covers).
pub(crate) async fn by_activity(
    redis: &Redis,
    keys: &Keys,
    rooms: Vec<String>,
) -> AppResult<Vec<String>> {
    let times: Vec<Option<u64>> = try_join_all(rooms.iter().map(|room| {
        let mut redis = redis.clone();
        let key = keys.room(room);
        async move {
            redis::cmd("HGET")
                .arg(key)
                .arg("last_at")
                .query_async::<Option<u64>>(&mut redis)
                .await
        }
    }))
    .await?;
    let mut ordered: Vec<(Option<u64>, String)> = times.into_iter().zip(rooms).collect();
    ordered.sort_by_key(|(at, _)| std::cmp::Reverse(*at));
    Ok(ordered.into_iter().map(|(_, room)| room).collect())
}

/// Groups hits by room, keeping each room's order.
pub(crate) fn by_room(hits: &[Hit]) -> HashMap<&str, Vec<MessageId>> {
    let mut rooms: HashMap<&str, Vec<MessageId>> = HashMap::new();
    for hit in hits {
        rooms.entry(hit.room.as_str()).or_default().push(hit.id);
    }
    rooms
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_sort_as_ids_do_and_come_back() {
        let a = MessageId {
            millis: 1_733_550_000_000,
            seq: 9,
        };
        let b = MessageId {
            millis: 1_733_550_000_000,
            seq: 10,
        };
        assert!(member(&a) < member(&b));
        assert_eq!(member(&b), "1733550000000000010");
        assert_eq!(message_id(&member(&b)), Some(b));
        assert_eq!(message_id("12"), None);
        let far = MessageId {
            millis: u64::MAX,
            seq: 0,
        };
        assert_eq!(member(&far), "9".repeat(19));
    }

    fn room(name: &str, found: &[u64], stopped_at: Option<u64>) -> RoomQuery {
        let at = |n: u64| format!("{:019}", n);
        RoomQuery {
            room: name.into(),
            groups: Vec::new(),
            prefix_words: Vec::new(),
            cursor: None,
            found: found.iter().map(|n| at(*n)).collect(),
            open: true,
            stopped_at: stopped_at.map(at),
        }
    }

    fn ids(hits: &[Hit]) -> Vec<(String, u64)> {
        hits.iter()
            .map(|hit| (hit.room.clone(), hit.id.seq + hit.id.millis * 1_000_000))
            .collect()
    }

    #[test]
    fn a_page_never_reaches_below_where_a_room_stopped_on_its_budget() {
        // Room b stopped at 50 without a match: its matches below 50 are
        // unknown, so a's 40 and 30 wait for the next round (or page).
        let rooms = [room("a", &[90, 60, 40, 30], None), room("b", &[], Some(50))];
        assert_eq!(ids(&merge(&rooms, 3)), [("a".into(), 90), ("a".into(), 60)]);
        assert!(needs_more(&rooms, 1, 3), "b must be read further");
        assert!(
            !needs_more(&rooms, 1, 2),
            "two newer matches fill a page of 2"
        );
        assert!(!needs_more(&rooms, 0, 3), "a has its answer");
    }

    #[test]
    fn a_page_is_not_cut_between_two_messages_with_one_id() {
        let rooms = [room("a", &[90, 70], None), room("b", &[80, 70], None)];
        let mut rooms = rooms;
        for r in &mut rooms {
            r.open = false;
        }
        // The page of 3 would end between a's 70 and b's 70: both wait.
        assert_eq!(ids(&merge(&rooms, 3)), [("a".into(), 90), ("b".into(), 80)]);
        assert_eq!(merge(&rooms, 4).len(), 4);
        // A whole page of one id takes every message with it.
        let mut tied = [room("a", &[70], None), room("b", &[70], None)];
        for r in &mut tied {
            r.open = false;
        }
        assert_eq!(merge(&tied, 1).len(), 2);
    }
}
