//! `GET /api/events`: one server-sent-event stream per browser tab,
//! carrying the events of every room the user belongs to and the user's
//! personal events.
//!
//! Each stream's response body listens to the hub (never to Redis
//! directly): hyper pulls the next event when the socket can take it, so
//! delivery needs no task or queue of its own per stream (presence keeps a
//! small heartbeat task per stream, see `presence::connect`). A slow socket is simply
//! not pulled from: its hub receivers fall behind and lag, which the stream
//! reports to its client as `resync` for the room. No other client is
//! slowed down.
//!
//! This module is only the transport: what the events are is
//! `crate::events`. Personal control events keep the set of rooms in step
//! with membership: `joined` adds a room (once the room's member set
//! confirms it, and sends `resync` for it, so the client loads its
//! history), `left` drops it at once, and `session_revoked` ends the stream
//! if it names this stream's sign-in; `forward` events go to the client. If the personal
//! channel itself may have missed events (a hub reconnect, lag), the stream
//! ends: its room list could be wrong, and the browser's automatic reconnect
//! builds a fresh one.

use std::collections::HashSet;
use std::convert::Infallible;
use std::time::Duration;

use axum::body::Body;
use axum::body::Bytes;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use futures::stream::BoxStream;
use futures::StreamExt;
use tokio::sync::watch;
use tokio_stream::StreamMap;

use super::frame::frame;
use super::hub::{Hub, HubEvent, SubscriptionStream};
use super::keys::Keys;
use super::metrics::METRICS;
use crate::error::AppResult;
use crate::events::{ClientEvent, PersonalEvent, RoomEvent, RoomRef};

/// Comments sent on an idle stream, so proxies keep it open and the
/// browser notices a dead one.
pub(crate) const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// Sends a personal event to all of a user's open event streams.
pub(crate) async fn publish_personal(
    redis: &mut super::redis::Redis,
    keys: &Keys,
    user_id: &str,
    event: &PersonalEvent,
) -> AppResult<()> {
    let () = redis
        .publish(&keys.user_events(user_id), event.to_json())
        .query_async(redis)
        .await?;
    Ok(())
}

/// The response: events for the client, with keep-alive comments.
pub(crate) struct EventStream(BoxStream<'static, Result<Bytes, Infallible>>);

impl IntoResponse for EventStream {
    fn into_response(self) -> Response {
        (
            [
                (header::CONTENT_TYPE, "text/event-stream"),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            Body::from_stream(self.0),
        )
            .into_response()
    }
}

/// The comment sent on an idle stream.
const KEEP_ALIVE_FRAME: &[u8] = b":\n\n";

/// Subscribes to a user's personal channel. Call this *before* reading the
/// user's rooms: a join or leave after that read then still reaches the
/// stream as a control event.
pub(crate) async fn subscribe_personal(
    hub: &Hub,
    keys: &Keys,
    user_id: &str,
) -> SubscriptionStream {
    hub.subscribe_stream(keys.user_events(user_id)).await
}

/// Whose stream it is.
pub(crate) struct Owner {
    pub user_id: String,
    /// The sign-in the stream belongs to: revoking it ends the stream.
    pub session_handle: Option<String>,
    /// When the session expires (Unix seconds) unless used again: the
    /// stream ends then, and the browser's reconnect finds out whether it
    /// was renewed meanwhile.
    pub session_expires_at: u64,
}

/// Opens the stream: subscribes to the rooms (confirmed by Redis) before
/// answering, so the client can catch up from history as soon as it sees
/// the stream open. `guard` is kept for as long as the stream lives and
/// dropped when it ends (presence uses that to know the tab is gone).
pub(crate) async fn open(
    state: &super::state::AppState,
    personal: SubscriptionStream,
    room_ids: Vec<String>,
    owner: Owner,
    guard: impl Send + 'static,
) -> EventStream {
    let (hub, keys) = (&state.hub, &state.keys);
    let subscriptions = futures::future::join_all(
        room_ids
            .iter()
            .map(|room_id| hub.subscribe_stream(keys.room_events(room_id))),
    )
    .await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let lifetime = Duration::from_secs(owner.session_expires_at).saturating_sub(now);
    METRICS.streams_open.inc();
    let forwarder = Forwarder {
        keep_alive: Box::pin(tokio::time::sleep(KEEP_ALIVE)),
        session_ends: Box::pin(tokio::time::sleep(lifetime)),
        hub: hub.clone(),
        keys: keys.clone(),
        redis: state.redis(),
        shutdown: state.shutdown_signal(),
        user_id: owner.user_id,
        session_handle: owner.session_handle,
        personal,
        rooms: room_ids.into_iter().zip(subscriptions).collect(),
        muted: HashSet::new(),
        _guard: Box::new(guard),
    };
    // The response body itself pulls the events from the hub: no task and
    // no queue of its own per stream (see the module docs).
    let events = futures::stream::unfold(forwarder, |mut forwarder| async move {
        let event = forwarder.next_event().await?;
        Some((Ok(event), forwarder))
    });
    EventStream(events.boxed())
}

/// One stream's state: what it listens to, and for whom.
struct Forwarder {
    /// When to send the next keep-alive comment (reset by every event).
    keep_alive: std::pin::Pin<Box<tokio::time::Sleep>>,
    /// When the session expires unless renewed: the stream ends.
    session_ends: std::pin::Pin<Box<tokio::time::Sleep>>,
    hub: Hub,
    keys: Keys,
    /// For confirming a `joined` against the room's member set.
    redis: super::redis::Redis,
    shutdown: watch::Receiver<bool>,
    /// Whose stream this is.
    user_id: String,
    /// The sign-in this stream belongs to: revoking it ends the stream.
    session_handle: Option<String>,
    personal: SubscriptionStream,
    rooms: StreamMap<String, SubscriptionStream>,
    /// Rooms whose `member_left` for this user came in on the room's channel
    /// and whose personal `left` has not yet: nothing of theirs is forwarded.
    muted: HashSet<String>,
    /// Dropped with the stream.
    _guard: Box<dyn Send>,
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        METRICS.streams_open.dec();
    }
}

/// What one incoming event comes to.
enum Step {
    Send(Bytes),
    Skip,
    End,
}

fn resync(room_id: &str) -> Step {
    METRICS.resyncs.inc();
    send(&ClientEvent::Resync(RoomRef {
        room_id: room_id.to_owned(),
    }))
}

/// Sends one event to the client.
fn send(event: &ClientEvent) -> Step {
    Step::Send(frame(event.name(), None, &event.data_json()))
}

/// Resolves once the server shuts down (at once if it already has).
async fn shutting_down(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|closing| *closing).await;
}

impl Forwarder {
    /// The next event for the client; `None` once the stream ends.
    async fn next_event(&mut self) -> Option<Bytes> {
        loop {
            let step = tokio::select! {
                // In this order: control events on the personal channel are
                // handled before room events that Redis published after them
                // (one connection delivers in publish order), so nothing of a
                // room just left slips through.
                biased;
                () = shutting_down(&mut self.shutdown) => Step::End,
                () = self.session_ends.as_mut() => Step::End,
                item = self.personal.next() => match item {
                    Some(Ok(HubEvent::Published(published))) => {
                        self.personal_event(&published.json).await
                    }
                    // A control event may have been missed, so this stream's
                    // rooms may be wrong: end it. The browser reconnects at
                    // once and the new stream reads the membership afresh.
                    Some(Ok(HubEvent::Resync) | Err(_)) | None => Step::End,
                },
                Some((room_id, item)) = self.rooms.next() => self.room_event(room_id, item),
                () = self.keep_alive.as_mut() => Step::Send(Bytes::from_static(KEEP_ALIVE_FRAME)),
            };
            match step {
                Step::Send(event) => {
                    let next = tokio::time::Instant::now() + KEEP_ALIVE;
                    self.keep_alive.as_mut().reset(next);
                    return Some(event);
                }
                Step::Skip => {}
                Step::End => return None,
            }
        }
    }

    fn room_event(
        &mut self,
        room_id: String,
        item: Result<HubEvent, tokio_stream::wrappers::errors::BroadcastStreamRecvError>,
    ) -> Step {
        match item {
            // The room's own record of a leave or join (see
            // `RoomEvent::MemberLeft`).
            Ok(HubEvent::Published(published))
                if matches!(
                    published.event.as_deref(),
                    Some("member_left" | "member_joined")
                ) =>
            {
                let marker = serde_json::from_str::<RoomEvent>(&published.json).ok();
                match marker.as_ref().and_then(RoomEvent::member) {
                    Some((user, false)) if user == self.user_id => {
                        self.muted.insert(room_id);
                        Step::Skip
                    }
                    // Left and joined again: catch up what was muted.
                    Some((user, true)) if user == self.user_id && self.muted.remove(&room_id) => {
                        resync(&room_id)
                    }
                    _ => Step::Skip,
                }
            }
            Ok(HubEvent::Published(_)) if self.muted.contains(&room_id) => Step::Skip,
            Ok(HubEvent::Published(published)) => {
                METRICS.deliveries.inc();
                Step::Send(published.frame().clone())
            }
            // Lagged behind (a slow client), or the hub lost Pub/Sub for a
            // while.
            Ok(HubEvent::Resync) | Err(_) => resync(&room_id),
        }
    }
}

impl Forwarder {
    async fn personal_event(&mut self, json: &str) -> Step {
        let Some(event) = PersonalEvent::parse(json) else {
            tracing::warn!("dropped a malformed personal event");
            return Step::Skip;
        };
        match event {
            PersonalEvent::Joined(RoomRef { room_id }) => {
                // Subscribed only if the room's member set confirms it: a
                // leave racing the join may have taken the user out again
                // (see `rooms::store`). A failed check subscribes nothing
                // and ends the stream, so the reconnect reads afresh.
                let member: Result<bool, _> = redis::cmd("SISMEMBER")
                    .arg(self.keys.room_members(&room_id))
                    .arg(&self.user_id)
                    .query_async(&mut self.redis)
                    .await;
                match member {
                    Ok(true) => {}
                    Ok(false) => return Step::Skip,
                    Err(err) => {
                        tracing::warn!(%err, "could not confirm a joined room; ending the stream");
                        return Step::End;
                    }
                }
                if !self.rooms.contains_key(&room_id) {
                    let subscription = self
                        .hub
                        .subscribe_stream(self.keys.room_events(&room_id))
                        .await;
                    self.rooms.insert(room_id.clone(), subscription);
                }
                self.muted.remove(&room_id);
                resync(&room_id)
            }
            PersonalEvent::Left(RoomRef { room_id }) => {
                self.rooms.remove(&room_id);
                self.muted.remove(&room_id);
                Step::Skip
            }
            // Sessions were signed out elsewhere: end the stream if this is
            // one of them (the browser's reconnect then meets a 401).
            PersonalEvent::SessionRevoked { handles } => {
                if self
                    .session_handle
                    .as_ref()
                    .is_some_and(|handle| handles.contains(handle))
                {
                    Step::End
                } else {
                    Step::Skip
                }
            }
            PersonalEvent::Forward(event) => send(&event),
        }
    }
}
