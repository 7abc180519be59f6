//! Presence in Redis.
//!
//! - `{p}user:{id}:connections` (sorted set): the user's open event streams,
//!   each scored with the time (ms, Redis clock) after which it counts as
//!   gone. A stream's heartbeat pushes its time forward every
//!   [`HEARTBEAT`]; a closing stream sets it to now + [`GRACE`].
//! - `{p}presence` (sorted set): user id -> when their latest connection
//!   runs out. The sweeper's to-do list: every process, every
//!   [`SWEEP_EVERY`], takes the users whose time has passed and prunes
//!   their expired connections.
//! - `{p}room:{id}:online` (set): the room's online members, what `online`
//!   and `members` read. A user is added to all their rooms' sets while a
//!   connection lives and removed when the last one is pruned.
//!
//! Announcements of coming online and going offline follow the Sets: a
//! `presence` event goes out only when `SADD` or `SREM` really changed the
//! set, so two tabs, two processes or two sweepers never announce the same
//! change twice. Joining and leaving a room are announced by each of the
//! user's open streams (the leave itself already updated the set).
//!
//! Not one atomic step: the connection set and the room sets live in
//! different cluster slots. If a sweeper takes a user offline at the very
//! moment one of their streams opens on another process, the stream's
//! `SADD`s may land before the sweeper's `SREM`s; so after its `SREM`s the
//! sweeper looks at the user's connections again and puts them back if one
//! appeared (a stream opening later adds them itself). A heartbeat only
//! pushes expiries forward and writes nothing else.

use std::collections::HashSet;
use std::sync::LazyLock;
use std::time::Duration;

use futures::future::try_join_all;
use futures::StreamExt;
use redis::Script;
use tokio::sync::oneshot;

use super::model::{Member, PresenceChange, Typing};
use crate::auth::User;
use crate::error::AppResult;
use crate::events::{PersonalEvent, RoomEvent};
use crate::limits::streams::StreamLease;
use crate::rooms::access::joined_room_ids;
use crate::rooms::model::{Role, RoomId};
use crate::server::hub::{HubEvent, SubscriptionStream};
use crate::server::state::AppState;

/// How often an open stream refreshes its connection.
pub(crate) const HEARTBEAT: Duration = Duration::from_secs(15);
/// How long a connection counts without a heartbeat: three missed beats.
/// A crashed process's users go offline after this plus one sweep.
const CONNECTION_TTL: Duration = Duration::from_secs(45);
/// How long a closed stream still counts, so a reload is not announced as
/// offline-then-online.
const GRACE: Duration = Duration::from_secs(5);
/// How often each process looks for expired connections.
const SWEEP_EVERY: Duration = Duration::from_secs(2);
/// Users handled per sweep (the rest wait for the next one).
const SWEEP_BATCH: usize = 200;

/// Sets one connection's expiry to Redis's now + `ttl`, after dropping the
/// user's expired connections. Returns the latest expiry of the user's
/// connections (ms).
static TOUCH: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
-- KEYS[1] connections; ARGV[1] connection id, ARGV[2] ttl ms, ARGV[3] key ttl ms
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')[2]
",
    )
});

/// Drops a user's expired connections. Returns the latest expiry of those
/// left (ms), or 0 when none are left: the user is offline.
static PRUNE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
-- KEYS[1] connections
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
if #last == 0 then return '0' end
return last[2]
",
    )
});

/// The users whose latest connection has run out, by Redis's clock.
static DUE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
-- KEYS[1] presence index; ARGV[1] how many
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
return redis.call('ZRANGE', KEYS[1], '-inf', now, 'BYSCORE', 'LIMIT', 0, ARGV[1])
",
    )
});

/// Unfiles a user, unless a connection opened since pushed their time
/// forward (then the next sweep looks again).
static UNFILE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
-- KEYS[1] presence index; ARGV[1] user id
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local score = tonumber(redis.call('ZSCORE', KEYS[1], ARGV[1]))
if score and score <= now then redis.call('ZREM', KEYS[1], ARGV[1]) end
return 0
",
    )
});

/// Publishes a `typing` event unless this user announced one in this room
/// within the throttle window.
static TYPING: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
-- KEYS[1] throttle key; ARGV[1] window ms, ARGV[2] channel, ARGV[3] event,
-- ARGV[4] PUBLISH or SPUBLISH (a shard channel, on a cluster)
if redis.call('SET', KEYS[1], '1', 'PX', ARGV[1], 'NX') then
  redis.call(ARGV[4], ARGV[2], ARGV[3])
  return 1
end
return 0
",
    )
});

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// Registers an event stream as one of the user's connections, and keeps it
/// fresh until the returned guard is dropped (the stream ended); then the
/// connection lapses after the grace period.
///
/// While it lives, it also follows the user's personal channel: joining a
/// room puts the user in its online set at once, leaving takes them out.
///
/// The stream's `lease` (its place under the stream caps, see
/// `limits::streams`) is renewed with each heartbeat and given back when
/// the stream ends.
pub(crate) async fn connect(
    state: AppState,
    user_id: String,
    lease: StreamLease,
) -> oneshot::Sender<()> {
    let connection = uuid::Uuid::new_v4().simple().to_string();
    let personal = state
        .hub
        .subscribe_stream(state.keys.user_events(&user_id))
        .await;
    if let Err(err) = touch(&state, &user_id, &connection, CONNECTION_TTL, true).await {
        tracing::warn!(?err, "presence: could not register a connection");
    }
    let (guard, closed) = oneshot::channel();
    tokio::spawn(heartbeat(
        Connection {
            state,
            user_id,
            connection,
            lease,
        },
        personal,
        closed,
    ));
    guard
}

struct Connection {
    state: AppState,
    user_id: String,
    connection: String,
    lease: StreamLease,
}

impl Connection {
    /// Pushes the connection's expiry to now + `ttl`; with `rejoin`, also
    /// makes sure the user is in all their rooms' online sets.
    async fn touch(&self, ttl: Duration, rejoin: bool) {
        let touched = touch(&self.state, &self.user_id, &self.connection, ttl, rejoin).await;
        if let Err(err) = touched {
            tracing::warn!(?err, "presence: could not refresh a connection");
        }
    }

    /// Follows a personal control event (`joined`, `left`).
    async fn membership_changed(&self, json: &str) {
        let (room, online, announce) = match PersonalEvent::parse(json) {
            // Joins and leaves are announced by each open stream of the
            // user (so possibly more than once, which clients take in their
            // stride): on joining, the members need to hear of the newcomer
            // whether or not the set changed.
            Some(PersonalEvent::Joined(room)) => (room, true, Announce::Always),
            // Always too: leaving already took the user out of the set (and
            // `left` is published only when the user really left).
            Some(PersonalEvent::Left(room)) => (room, false, Announce::Always),
            _ => return,
        };
        let rooms = [room.room_id];
        if let Err(err) = set_online(&self.state, &self.user_id, &rooms, online, announce).await {
            tracing::warn!(?err, "presence: could not follow a membership change");
        }
    }
}

async fn heartbeat(
    connection: Connection,
    mut personal: SubscriptionStream,
    mut closed: oneshot::Receiver<()>,
) {
    // `connect` has just touched. The first beat comes after a random half
    // to whole period, then one every period: streams opened together (a
    // restart makes every browser reconnect at once; a load test opens
    // thousands) would otherwise all beat in the same instant, a burst of
    // Redis work every 15 s that shows up as a latency spike.
    let half = HEARTBEAT / 2;
    let jitter = uuid::Uuid::new_v4().as_u128() % half.as_millis().max(1);
    let first = half + Duration::from_millis(u64::try_from(jitter).unwrap_or(0));
    let mut beats = tokio::time::interval_at(tokio::time::Instant::now() + first, HEARTBEAT);
    beats.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = &mut closed => break,
            // A beat only pushes expiries forward: the online sets are
            // right already (joins and leaves arrive as events below, and
            // the sweeper re-checks after taking someone offline).
            _ = beats.tick() => {
                connection.touch(CONNECTION_TTL, false).await;
                connection.lease.renew(&connection.state).await;
            }
            event = personal.next() => match event {
                Some(Ok(HubEvent::Published(published))) => {
                    connection.membership_changed(&published.json).await;
                }
                // Changes may have been missed: the touch re-adds the user
                // to every room they are in now.
                Some(Ok(HubEvent::Resync) | Err(_)) => connection.touch(CONNECTION_TTL, true).await,
                None => break,
            },
        }
    }
    connection.lease.release(&connection.state).await;
    connection.touch(GRACE, false).await;
}

/// Sets the connection's expiry, files the user for the sweeper and, with
/// `rejoin` (a new stream, or one that may have missed membership events),
/// makes sure the user is in all their rooms' online sets.
async fn touch(
    state: &AppState,
    user_id: &str,
    connection: &str,
    ttl: Duration,
    rejoin: bool,
) -> AppResult<()> {
    let keys = &state.keys;
    let latest: f64 = TOUCH
        .key(keys.user_connections(user_id))
        .arg(connection)
        .arg(millis(ttl))
        .arg(millis(CONNECTION_TTL * 2))
        .invoke_async(&mut state.redis())
        .await?;
    file_for_sweeper(state, user_id, latest).await?;
    if rejoin {
        let rooms = joined_room_ids(state, user_id).await?;
        set_online(state, user_id, &rooms, true, Announce::IfChanged).await?;
    }
    Ok(())
}

/// When to publish a `presence` event.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Announce {
    /// Only where `SADD`/`SREM` changed the set: one event per change,
    /// however many tabs, processes or sweepers do the same.
    IfChanged,
    Always,
}

/// Adds the user to (or removes them from) these rooms' online sets, and
/// announces it in the rooms `announce` asks for.
async fn set_online(
    state: &AppState,
    user_id: &str,
    rooms: &[String],
    online: bool,
    announce: Announce,
) -> AppResult<()> {
    if rooms.is_empty() {
        return Ok(());
    }
    // One command per room, all rooms at once: on a cluster the rooms live
    // on different nodes.
    let redis = state.redis();
    let changed: Vec<i64> = try_join_all(rooms.iter().map(|room| {
        let mut redis = redis.clone();
        let key = state.keys.room_online(room);
        async move {
            redis::cmd(if online { "SADD" } else { "SREM" })
                .arg(key)
                .arg(user_id)
                .query_async(&mut redis)
                .await
        }
    }))
    .await?;
    let changed: Vec<&String> = rooms
        .iter()
        .zip(changed)
        .filter_map(|(room, count)| (count > 0 || announce == Announce::Always).then_some(room))
        .collect();
    // A heartbeat usually changes nothing: then no profile is looked up.
    if changed.is_empty() {
        return Ok(());
    }
    let Some(user) = crate::auth::profile(state, user_id).await? else {
        return Ok(());
    };
    try_join_all(changed.into_iter().map(|room| {
        let redis = redis.clone();
        let change = PresenceChange {
            room_id: room.clone(),
            user: user.clone(),
            online,
        };
        let channel = state.keys.room_events(room);
        async move {
            let () = redis
                .publish(&channel, RoomEvent::Presence(change).to_json())
                .query_async(&mut redis.clone())
                .await?;
            AppResult::Ok(())
        }
    }))
    .await?;
    Ok(())
}

/// Starts this process's sweeper, which runs until shutdown.
pub(crate) fn start_sweeper(state: &AppState) {
    let state = state.clone();
    tokio::spawn(async move {
        let mut shutdown = state.shutdown_signal();
        let mut every = tokio::time::interval(SWEEP_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = async { let _ = shutdown.wait_for(|closing| *closing).await; } => return,
                _ = every.tick() => {
                    if let Err(err) = sweep(&state).await {
                        tracing::debug!(%err, "presence: sweep failed");
                    }
                }
            }
        }
    });
}

/// Takes users whose connections all expired offline in all their rooms.
async fn sweep(state: &AppState) -> AppResult<()> {
    let keys = &state.keys;
    let due: Vec<String> = DUE
        .key(keys.presence())
        .arg(SWEEP_BATCH)
        .invoke_async(&mut state.redis())
        .await?;
    for user_id in due {
        if refiled_if_connected(state, &user_id).await? {
            // Another connection is still alive.
            continue;
        }
        // Announce first, unfile after: a sweeper that dies in between
        // leaves the user filed, and the next sweep finishes the job (the
        // `SREM`s make announcing twice impossible).
        let rooms = joined_room_ids(state, &user_id).await?;
        set_online(state, &user_id, &rooms, false, Announce::IfChanged).await?;
        // A stream may have opened elsewhere between the first look and
        // these `SREM`s, its `SADD`s undone by them: look again, and put
        // the user back. (A stream that opens after this look adds them
        // itself, after these `SREM`s.) Heartbeats no longer re-add.
        if refiled_if_connected(state, &user_id).await? {
            set_online(state, &user_id, &rooms, true, Announce::IfChanged).await?;
            continue;
        }
        let _: i64 = UNFILE
            .key(keys.presence())
            .arg(&user_id)
            .invoke_async(&mut state.redis())
            .await?;
    }
    Ok(())
}

/// Drops the user's expired connections; if one is left, files the user
/// again for the sweeper (at its expiry) and answers true.
async fn refiled_if_connected(state: &AppState, user_id: &str) -> AppResult<bool> {
    let keys = &state.keys;
    let latest: f64 = PRUNE
        .key(keys.user_connections(user_id))
        .invoke_async(&mut state.redis())
        .await?;
    if latest <= 0.0 {
        return Ok(false);
    }
    file_for_sweeper(state, user_id, latest).await?;
    Ok(true)
}

/// Files the user in `{p}presence` at their latest connection's expiry
/// (ms). Not `GT`: a closing stream may move the user's time back (to the
/// grace period's end), and a stale time is corrected by the sweeper.
async fn file_for_sweeper(state: &AppState, user_id: &str, latest: f64) -> AppResult<()> {
    let () = redis::cmd("ZADD")
        .arg(state.keys.presence())
        .arg(latest)
        .arg(user_id)
        .query_async(&mut state.redis())
        .await?;
    Ok(())
}

/// Everyone in the room, online ones first.
pub(crate) async fn members(state: &AppState, room_id: &RoomId) -> AppResult<Vec<Member>> {
    let room = room_id.as_str();
    #[allow(clippy::type_complexity)]
    let (members, online, owner, admins): (
        Vec<String>,
        HashSet<String>,
        Option<String>,
        HashSet<String>,
    ) = redis::pipe()
        .smembers(state.keys.room_members(room))
        .smembers(state.keys.room_online(room))
        .hget(state.keys.room(room), "created_by")
        .smembers(state.keys.room_admins(room))
        .query_async(&mut state.redis())
        .await?;
    let profiles = crate::auth::profiles(state, &members).await?;
    let mut list: Vec<Member> = members
        .iter()
        .filter_map(|id| profiles.get(id))
        .map(|user| Member {
            online: online.contains(&user.id),
            // A direct room has no creator, so no owner (and no admins).
            role: if owner.as_deref() == Some(user.id.as_str()) {
                Role::Owner
            } else if admins.contains(&user.id) {
                Role::Admin
            } else {
                Role::Member
            },
            user: user.clone(),
        })
        .collect();
    super::model::sort_members(&mut list);
    Ok(list)
}

/// The room's online members, by display name.
pub(crate) async fn online(state: &AppState, room_id: &RoomId) -> AppResult<Vec<User>> {
    let room = room_id.as_str();
    // Both sets share the room's hash tag, so SINTER works on a cluster too.
    let ids: Vec<String> = redis::cmd("SINTER")
        .arg(state.keys.room_online(room))
        .arg(state.keys.room_members(room))
        .query_async(&mut state.redis())
        .await?;
    let profiles = crate::auth::profiles(state, &ids).await?;
    let mut users: Vec<User> = profiles.into_values().collect();
    users.sort_by_cached_key(|user| (user.display_name.to_lowercase(), user.id.clone()));
    Ok(users)
}

/// Announces that the user is typing, at most once per throttle window.
/// Returns whether an event went out.
pub(crate) async fn typing(state: &AppState, room_id: &RoomId, user: &User) -> AppResult<bool> {
    let room = room_id.as_str();
    let event = RoomEvent::Typing(Typing {
        room_id: room.to_owned(),
        user: user.clone(),
    })
    .to_json();
    let channel = state.keys.room_events(room);
    let redis = state.redis();
    let sent: i64 = TYPING
        .key(state.keys.room_typing(room, &user.id))
        .arg(super::model::TYPING_EVERY_MS)
        .arg(&channel)
        .arg(event)
        .arg(redis.publish_command(&channel))
        .invoke_async(&mut redis.clone())
        .await?;
    Ok(sent == 1)
}
