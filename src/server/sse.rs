//! `GET /api/events`: one server-sent-event stream per browser tab,
//! carrying the events of every room the user belongs to and the user's
//! personal events.
//!
//! Each stream is a small task that listens to the hub (never to Redis
//! directly) and writes into a bounded queue that axum drains to the socket.
//! A slow socket only fills its own queue: the task then waits, its hub
//! receivers fall behind, and they lag, which the task reports to its client
//! as `resync` for the room. No other client is slowed down.
//!
//! Personal control events keep the set of rooms in step with membership:
//! `{"event":"joined","room_id":…}` adds a room (and sends `resync` for it,
//! so the client loads its history), `{"event":"left",…}` drops it at once,
//! and `session_revoked` ends the stream if it names this stream's sign-in.
//! Any other personal event is forwarded under its own name. If the personal
//! channel itself may have missed events (a hub reconnect, lag), the stream
//! ends: its room list could be wrong, and the browser's automatic reconnect
//! builds a fresh one.

use std::convert::Infallible;
use std::time::Duration;

use axum::response::sse::{Event, KeepAlive, KeepAliveStream, Sse};
use futures::StreamExt;
use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::StreamMap;

use super::hub::{Hub, HubEvent, SubscriptionStream};
use super::keys::Keys;
use crate::error::{AppError, AppResult};

/// Comments sent on an idle stream, so proxies keep it open and the
/// browser notices a dead one.
pub const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// Events queued for one client before its task waits (and its hub
/// receivers start to lag).
const QUEUE: usize = 64;

/// A personal event, as published on `{p}user:{id}:events`.
#[derive(serde::Serialize, serde::Deserialize)]
pub struct PersonalEvent {
    /// `joined` and `left` are control events; others are forwarded.
    pub event: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room_id: Option<String>,
    /// The forwarded event's data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<serde_json::Value>,
}

impl PersonalEvent {
    /// A forwarded event: `name`, with `data` as its JSON.
    pub fn forwarded(name: &str, data: &impl serde::Serialize) -> AppResult<Self> {
        Ok(Self {
            event: name.to_owned(),
            room_id: None,
            data: Some(
                serde_json::to_value(data)
                    .map_err(|err| AppError::internal("encode personal event", err))?,
            ),
        })
    }

    pub fn to_json(&self) -> AppResult<String> {
        serde_json::to_string(self).map_err(|err| AppError::internal("encode personal event", err))
    }
}

/// Sends a personal event to all of a user's open event streams.
pub async fn publish_personal(
    redis: &mut super::redis::Redis,
    keys: &Keys,
    user_id: &str,
    event: &PersonalEvent,
) -> AppResult<()> {
    let () = redis
        .publish(&keys.user_events(user_id), event.to_json()?)
        .query_async(redis)
        .await?;
    Ok(())
}

pub type EventStream = Sse<KeepAliveStream<ReceiverStream<Result<Event, Infallible>>>>;

/// Subscribes to a user's personal channel. Call this *before* reading the
/// user's rooms: a join or leave after that read then still reaches the
/// stream as a control event.
pub async fn subscribe_personal(hub: &Hub, keys: &Keys, user_id: &str) -> SubscriptionStream {
    hub.subscribe_stream(keys.user_events(user_id)).await
}

/// Opens the stream: subscribes to the rooms (confirmed by Redis) before
/// answering, so the client can catch up from history as soon as it sees
/// the stream open. `guard` is kept for as long as the stream lives and
/// dropped when it ends (presence uses that to know the tab is gone).
pub async fn open(
    state: &super::state::AppState,
    personal: SubscriptionStream,
    room_ids: Vec<String>,
    user_id: String,
    session_handle: Option<String>,
    guard: impl Send + 'static,
) -> EventStream {
    let (hub, keys) = (&state.hub, &state.keys);
    let subscriptions = futures::future::join_all(
        room_ids
            .iter()
            .map(|room_id| hub.subscribe_stream(keys.room_events(room_id))),
    )
    .await;
    let rooms: StreamMap<String, SubscriptionStream> =
        room_ids.into_iter().zip(subscriptions).collect();
    let (queue, drain) = mpsc::channel(QUEUE);
    let forwarder = Forwarder {
        hub: hub.clone(),
        keys: keys.clone(),
        queue,
        shutdown: state.shutdown_signal(),
        user_id,
        session_handle,
    };
    tokio::spawn(async move {
        forward(forwarder, personal, rooms).await;
        drop(guard);
    });
    Sse::new(ReceiverStream::new(drain)).keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
}

struct Forwarder {
    hub: Hub,
    keys: Keys,
    queue: mpsc::Sender<Result<Event, Infallible>>,
    shutdown: watch::Receiver<bool>,
    /// Whose stream this is.
    user_id: String,
    /// The sign-in this stream belongs to: revoking it ends the stream.
    session_handle: Option<String>,
}

impl Forwarder {
    /// Queues an event, waiting while the client's queue is full; false once
    /// the client is gone or the server is shutting down.
    async fn send(&self, event: Event) -> bool {
        let mut shutdown = self.shutdown.clone();
        tokio::select! {
            sent = self.queue.send(Ok(event)) => sent.is_ok(),
            () = shutting_down(&mut shutdown) => false,
        }
    }

    async fn resync(&self, room_id: &str) -> bool {
        let data = serde_json::json!({ "room_id": room_id }).to_string();
        self.send(Event::default().event("resync").data(data)).await
    }
}

/// Resolves once the server shuts down (at once if it already has).
async fn shutting_down(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|closing| *closing).await;
}

async fn forward(
    out: Forwarder,
    mut personal: SubscriptionStream,
    mut rooms: StreamMap<String, SubscriptionStream>,
) {
    let mut shutdown = out.shutdown.clone();
    // Rooms whose `member_left` for this user came in on the room's channel
    // and whose personal `left` has not yet: nothing of theirs is forwarded.
    let mut muted = std::collections::HashSet::new();
    loop {
        let alive = tokio::select! {
            // In this order: control events on the personal channel are
            // handled before room events that Redis published after them
            // (one connection delivers in publish order), so nothing of a
            // room just left slips through.
            biased;
            () = shutting_down(&mut shutdown) => false,
            () = out.queue.closed() => false,
            item = personal.next() => match item {
                Some(Ok(HubEvent::Published(published))) => {
                    personal_event(&out, &mut rooms, &mut muted, &published.json).await
                }
                // A control event may have been missed, so this stream's
                // rooms may be wrong: end it. The browser reconnects at once
                // and the new stream reads the membership afresh.
                Some(Ok(HubEvent::Resync) | Err(_)) | None => false,
            },
            Some((room_id, item)) = rooms.next() => match item {
                // The room's own record of a leave or join (see `MEMBER_LEFT`).
                Ok(HubEvent::Published(published))
                    if matches!(published.event.as_deref(), Some(MEMBER_LEFT | MEMBER_JOINED)) =>
                {
                    if member_named(&published.json).as_deref() != Some(out.user_id.as_str()) {
                        true
                    } else if published.event.as_deref() == Some(MEMBER_LEFT) {
                        muted.insert(room_id);
                        true
                    } else if muted.remove(&room_id) {
                        // Left and joined again: catch up what was muted.
                        out.resync(&room_id).await
                    } else {
                        true
                    }
                }
                Ok(HubEvent::Published(_)) if muted.contains(&room_id) => true,
                Ok(HubEvent::Published(published)) => {
                    let name = published.event.as_deref().unwrap_or("message");
                    let mut event = Event::default().event(name).data(&published.json);
                    if let Some(id) = &published.id {
                        event = event.id(id);
                    }
                    out.send(event).await
                }
                // Lagged behind, or the hub lost Pub/Sub for a while.
                Ok(HubEvent::Resync) | Err(_) => out.resync(&room_id).await,
            },
        };
        if !alive {
            return;
        }
    }
}

/// Published on a room's channel when a member leaves, in the same
/// transaction that takes them out of the member set. The personal `left`
/// event also ends their streams' subscription, but on a cluster the
/// personal and room channels live on different shards, with no order
/// between them: this one is ordered with the room's messages, so nothing
/// sent after the leave reaches the former member (the stream mutes the
/// room until the personal `left` removes it). Never sent to browsers.
pub const MEMBER_LEFT: &str = "member_left";

/// Published on a room's channel when someone joins, in the transaction
/// that adds them: a leave and a quick rejoin may deliver the personal
/// `joined` before the room's `member_left`, which would mute the room
/// just rejoined; this event, ordered after that `member_left`, unmutes it.
pub const MEMBER_JOINED: &str = "member_joined";

/// The user a `member_left` or `member_joined` event names.
fn member_named(json: &str) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Member {
        user_id: String,
    }
    serde_json::from_str::<Member>(json)
        .ok()
        .map(|member| member.user_id)
}

async fn personal_event(
    out: &Forwarder,
    rooms: &mut StreamMap<String, SubscriptionStream>,
    muted: &mut std::collections::HashSet<String>,
    json: &str,
) -> bool {
    let Ok(event) = serde_json::from_str::<PersonalEvent>(json) else {
        tracing::warn!("dropped a malformed personal event");
        return true;
    };
    match (event.event.as_str(), event.room_id) {
        ("joined", Some(room_id)) => {
            if !rooms.contains_key(&room_id) {
                let subscription = out
                    .hub
                    .subscribe_stream(out.keys.room_events(&room_id))
                    .await;
                rooms.insert(room_id.clone(), subscription);
            }
            muted.remove(&room_id);
            out.resync(&room_id).await
        }
        ("left", Some(room_id)) => {
            rooms.remove(&room_id);
            muted.remove(&room_id);
            true
        }
        // Sessions were signed out elsewhere: end the stream if this is one
        // of them (the browser's reconnect then meets a 401).
        ("session_revoked", _) => {
            let revoked = |handle: &String| {
                event
                    .data
                    .as_ref()
                    .and_then(|data| data.get("handles"))
                    .and_then(serde_json::Value::as_array)
                    .is_some_and(|handles| handles.iter().any(|h| h.as_str() == Some(handle)))
            };
            !out.session_handle.as_ref().is_some_and(revoked)
        }
        (name, _) => {
            let data = event.data.unwrap_or(serde_json::Value::Null).to_string();
            out.send(Event::default().event(name).data(data)).await
        }
    }
}
