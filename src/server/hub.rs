//! The Pub/Sub hub: one Redis Pub/Sub connection per process, fanned out in
//! memory to every event stream that process serves.
//!
//! Each Redis channel with local listeners has one tokio `broadcast`
//! channel. The first listener makes the hub `SUBSCRIBE`; when the last one
//! goes, the hub `UNSUBSCRIBE`s. A published payload is parsed once and the
//! same `Arc` is handed to every listener, so a message costs one Redis
//! delivery per process, whatever the number of browser tabs.
//!
//! The connection is supervised: when it drops, the hub reconnects with
//! backoff, subscribes again to every channel that still has listeners, and
//! sends [`HubEvent::Resync`] to all of them, because whatever was published
//! in between is lost to Pub/Sub (it is not lost to the streams, from which
//! the clients catch up). The hub never stops a listener from falling
//! behind: a `broadcast` receiver that lags loses its oldest events and is
//! told so, and the event stream turns that into a `resync` for its client.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use futures::StreamExt;
use redis::aio::{PubSubSink, PubSubStream};
use redis::cluster_async::ClusterConnection;
use redis::sentinel::SentinelClient;
use redis::{PushInfo, PushKind, RedisResult};
use tokio::sync::{broadcast, mpsc, oneshot};

use super::config::{RedisSettings, Topology};
use super::redis::is_shard_channel;

/// Events a listener receives.
#[derive(Debug, Clone)]
pub enum HubEvent {
    /// A payload published on the channel, parsed once.
    Published(Arc<Published>),
    /// Events may have been missed (the Pub/Sub connection was lost).
    Resync,
}

/// A published payload: the JSON text, and its `event` and `id` fields if
/// it has them (read once here, not once per listener).
#[derive(Debug)]
pub struct Published {
    /// The SSE event name the payload asks for (`presence`, `typing`);
    /// none for a message.
    pub event: Option<String>,
    pub id: Option<String>,
    pub json: String,
    /// The SSE frame for clients, encoded by the first stream that needs it.
    frame: std::sync::OnceLock<axum::body::Bytes>,
}

impl Published {
    /// The payload as one server-sent event (`message` unless it names
    /// another), encoded once for all the streams it goes to.
    pub(crate) fn frame(&self) -> &axum::body::Bytes {
        self.frame.get_or_init(|| {
            let name = self.event.as_deref().unwrap_or("message");
            super::frame::frame(name, self.id.as_deref(), &self.json)
        })
    }
}

/// How many events a room's broadcast holds for a listener that is behind.
/// A listener further behind than this gets a resync instead.
const CHANNEL_CAPACITY: usize = 256;
/// How long `subscribe` waits for Redis to confirm before going on (the
/// supervisor subscribes again, and resyncs, when it reconnects).
const SUBSCRIBE_TIMEOUT: Duration = Duration::from_secs(3);

enum Command {
    Subscribe(String, oneshot::Sender<()>),
    Unsubscribe(String),
}

struct Inner {
    channels: Mutex<HashMap<String, broadcast::Sender<HubEvent>>>,
    commands: mpsc::UnboundedSender<Command>,
}

/// A handle to the process's hub. Cheap to clone.
#[derive(Clone)]
pub struct Hub {
    inner: Arc<Inner>,
}

impl Hub {
    /// Starts the hub's supervisor task on the current tokio runtime, for
    /// the configured topology.
    pub(crate) fn start(settings: &RedisSettings) -> RedisResult<Self> {
        let source = match settings.topology {
            Topology::Standalone => {
                Source::Standalone(super::redis::client(settings, &settings.url)?)
            }
            Topology::Sentinel => Source::Sentinel(super::redis::sentinel_client(settings)?),
            Topology::Cluster => {
                super::redis::cluster_client(settings, None)?;
                Source::Cluster(settings.clone())
            }
        };
        Ok(Self::start_on(source))
    }

    /// Starts a hub on one standalone server.
    pub fn start_standalone(client: redis::Client) -> Self {
        Self::start_on(Source::Standalone(client))
    }

    fn start_on(source: Source) -> Self {
        let (commands, receiver) = mpsc::unbounded_channel();
        let hub = Self {
            inner: Arc::new(Inner {
                channels: Mutex::new(HashMap::new()),
                commands,
            }),
        };
        tokio::spawn(supervise(source, hub.clone(), receiver));
        hub
    }

    fn channels(&self) -> MutexGuard<'_, HashMap<String, broadcast::Sender<HubEvent>>> {
        // The lock guards plain map updates that cannot panic halfway;
        // a poisoned map is still consistent.
        self.inner
            .channels
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Listens to a channel. Returns once Redis has confirmed the
    /// subscription (or after a timeout, if Redis is unreachable; a resync
    /// follows the reconnection), so the caller may then read what it missed
    /// from the stream without a gap.
    pub(crate) async fn subscribe(&self, channel: &str) -> Subscription {
        let receiver = {
            let mut channels = self.channels();
            match channels.get(channel) {
                Some(sender) => sender.subscribe(),
                None => {
                    let (sender, receiver) = broadcast::channel(CHANNEL_CAPACITY);
                    channels.insert(channel.to_owned(), sender);
                    receiver
                }
            }
        };
        // The guard exists before the first await: if this future is
        // dropped while waiting, its Drop still releases the channel.
        let subscription = Subscription {
            channel: channel.to_owned(),
            receiver: Some(receiver),
            hub: self.clone(),
        };
        // Every subscriber waits for the confirmation, not only the first:
        // the supervisor answers in order, so this answer comes after Redis
        // confirmed the channel (at once if it already had).
        let (ack, confirmed) = oneshot::channel();
        if self
            .inner
            .commands
            .send(Command::Subscribe(channel.to_owned(), ack))
            .is_ok()
        {
            let _ = tokio::time::timeout(SUBSCRIBE_TIMEOUT, confirmed).await;
        }
        subscription
    }

    /// [`Hub::subscribe`], as a stream.
    pub async fn subscribe_stream(&self, channel: String) -> SubscriptionStream {
        self.subscribe(&channel).await.into_stream()
    }

    fn is_wanted(&self, channel: &str) -> bool {
        self.channels().contains_key(channel)
    }

    fn deliver(&self, channel: &str, event: HubEvent) {
        if let Some(sender) = self.channels().get(channel) {
            // An error only means every listener left meanwhile.
            let _ = sender.send(event);
        }
    }

    fn resync_all(&self) {
        for sender in self.channels().values() {
            let _ = sender.send(HubEvent::Resync);
        }
    }
}

/// One listener's place on a channel; leaving it (drop) may unsubscribe.
pub(crate) struct Subscription {
    channel: String,
    receiver: Option<broadcast::Receiver<HubEvent>>,
    hub: Hub,
}

impl Subscription {
    /// The channel's events as a stream; lagging shows as an error item.
    pub(crate) fn into_stream(mut self) -> SubscriptionStream {
        let receiver = self
            .receiver
            .take()
            .expect("a subscription has a receiver until consumed");
        SubscriptionStream {
            inner: tokio_stream::wrappers::BroadcastStream::new(receiver),
            _subscription: self,
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        drop(self.receiver.take());
        let mut channels = self.hub.channels();
        let unused = channels
            .get(&self.channel)
            .is_some_and(|sender| sender.receiver_count() == 0);
        if unused {
            channels.remove(&self.channel);
            let _ = self
                .hub
                .inner
                .commands
                .send(Command::Unsubscribe(self.channel.clone()));
        }
    }
}

/// A subscription's events. Dropping it ends the subscription.
pub struct SubscriptionStream {
    inner: tokio_stream::wrappers::BroadcastStream<HubEvent>,
    _subscription: Subscription,
}

impl futures::Stream for SubscriptionStream {
    type Item = Result<HubEvent, tokio_stream::wrappers::errors::BroadcastStreamRecvError>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        self.inner.poll_next_unpin(cx)
    }
}

/// Where the hub's Pub/Sub connection goes.
enum Source {
    Standalone(redis::Client),
    /// Asked for the primary at every (re)connection.
    Sentinel(SentinelClient),
    Cluster(RedisSettings),
}

/// One Pub/Sub connection, of either kind.
enum Connection {
    /// Standalone or Sentinel: a RESP2 Pub/Sub connection, split in two.
    Single(PubSubSink, PubSubStream),
    /// Cluster: redis-rs's cluster connection with RESP3 pushes. Room and
    /// user channels are shard channels (`SSUBSCRIBE`), held on the node
    /// that owns their slot.
    Cluster(ClusterConnection, mpsc::UnboundedReceiver<PushInfo>),
}

impl Source {
    async fn connect(&mut self) -> RedisResult<Connection> {
        match self {
            Self::Standalone(client) => Ok(Self::single(client.get_async_pubsub().await?)),
            Self::Sentinel(sentinels) => {
                let client = sentinels.async_get_client().await?;
                Ok(Self::single(client.get_async_pubsub().await?))
            }
            Self::Cluster(settings) => {
                let (pushes, receiver) = mpsc::unbounded_channel();
                let client = super::redis::cluster_client(settings, Some(pushes))?;
                Ok(Connection::Cluster(
                    client.get_async_connection().await?,
                    receiver,
                ))
            }
        }
    }

    fn single(pubsub: redis::aio::PubSub) -> Connection {
        let (sink, stream) = pubsub.split();
        Connection::Single(sink, stream)
    }
}

impl Connection {
    async fn subscribe(&mut self, channel: &str) -> RedisResult<()> {
        within(self.subscribe_now(channel)).await
    }

    async fn subscribe_now(&mut self, channel: &str) -> RedisResult<()> {
        match self {
            Self::Single(sink, _) => sink.subscribe(channel).await,
            Self::Cluster(connection, _) if is_shard_channel(channel) => {
                connection.ssubscribe(channel).await
            }
            Self::Cluster(connection, _) => connection.subscribe(channel).await,
        }
    }

    async fn unsubscribe(&mut self, channel: &str) -> RedisResult<()> {
        within(self.unsubscribe_now(channel)).await
    }

    async fn unsubscribe_now(&mut self, channel: &str) -> RedisResult<()> {
        match self {
            Self::Single(sink, _) => sink.unsubscribe(channel).await,
            Self::Cluster(connection, _) if is_shard_channel(channel) => {
                connection.sunsubscribe(channel).await
            }
            Self::Cluster(connection, _) => connection.unsubscribe(channel).await,
        }
    }

    /// The next published message as (channel, payload); `None` once the
    /// connection (on a cluster: any of its node connections) is lost, or
    /// Redis dropped one of the `confirmed` subscriptions.
    async fn next(&mut self, confirmed: &HashSet<String>) -> Option<(String, Vec<u8>)> {
        match self {
            Self::Single(_, stream) => {
                let message = stream.next().await?;
                Some((
                    message.get_channel_name().to_owned(),
                    message.get_payload_bytes().to_vec(),
                ))
            }
            Self::Cluster(_, pushes) => loop {
                let push = pushes.recv().await?;
                match push.kind {
                    PushKind::Message | PushKind::SMessage => {
                        let mut data = push.data.into_iter();
                        let (Some(channel), Some(payload)) = (data.next(), data.next()) else {
                            continue;
                        };
                        let (Ok(channel), Ok(payload)) = (
                            redis::from_redis_value::<String>(channel),
                            redis::from_redis_value::<Vec<u8>>(payload),
                        ) else {
                            continue;
                        };
                        return Some((channel, payload));
                    }
                    // redis-rs would reconnect and subscribe again by itself,
                    // but only to the node it knew, and without telling us
                    // when; a fresh connection learns the new slot owners
                    // (after a failover) and lets us resync after it.
                    PushKind::Disconnection => return None,
                    // Redis moved the slot of a shard channel we still
                    // listen to (our own unsubscribes are confirmed the same
                    // way, but drop the channel from `confirmed` first).
                    PushKind::SUnsubscribe => {
                        let channel =
                            push.data.into_iter().next().and_then(|channel| {
                                redis::from_redis_value::<String>(channel).ok()
                            });
                        if channel.is_some_and(|channel| confirmed.contains(&channel)) {
                            return None;
                        }
                    }
                    _ => {}
                }
            },
        }
    }
}

/// Bounds a connect or (un)subscribe: a connection to a server that died
/// without closing it (a half-open socket) must not stall the hub.
async fn within<T>(work: impl std::future::Future<Output = RedisResult<T>>) -> RedisResult<T> {
    tokio::time::timeout(SUBSCRIBE_TIMEOUT, work)
        .await
        .unwrap_or_else(|_| {
            Err(redis::RedisError::from(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "Pub/Sub command timed out",
            )))
        })
}

/// Keeps one Pub/Sub connection alive for as long as the process runs.
async fn supervise(mut source: Source, hub: Hub, mut commands: mpsc::UnboundedReceiver<Command>) {
    let mut backoff = Duration::from_millis(100);
    loop {
        match within(source.connect()).await {
            Ok(mut connection) => {
                let mut confirmed = HashSet::new();
                match resubscribe(&hub, &mut connection, &mut confirmed).await {
                    Ok(()) => {
                        // Listeners that gave up waiting for a confirmation
                        // (Redis was down), or were cut off, may have missed
                        // events.
                        if !confirmed.is_empty() {
                            tracing::info!("Pub/Sub (re)connected; resyncing listeners");
                            hub.resync_all();
                        }
                        backoff = Duration::from_millis(100);
                        loop {
                            tokio::select! {
                                message = connection.next(&confirmed) => match message {
                                    Some((channel, payload)) => deliver(&hub, &channel, &payload),
                                    None => break,
                                },
                                command = commands.recv() => match command {
                                    Some(command) => {
                                        if run(&hub, &mut connection, &mut confirmed, command).await.is_err() {
                                            break;
                                        }
                                    }
                                    // Every hub handle is gone: the app is shutting down.
                                    None => return,
                                },
                            }
                        }
                        tracing::warn!("Pub/Sub connection lost; reconnecting");
                        super::metrics::METRICS.pubsub_reconnects.inc();
                        hub.resync_all();
                    }
                    Err(err) => tracing::warn!(%err, "Pub/Sub subscriptions failed; retrying"),
                }
            }
            Err(err) => tracing::warn!(%err, "Pub/Sub connection failed; retrying"),
        }
        // Commands that arrived meanwhile are answered, so no subscriber
        // waits out its timeout; the next connection subscribes to every
        // channel that is still wanted, whatever the commands said.
        while let Ok(command) = commands.try_recv() {
            if let Command::Subscribe(_, ack) = command {
                let _ = ack.send(());
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(2));
    }
}

/// Subscribes a fresh connection to every channel that has listeners.
async fn resubscribe(
    hub: &Hub,
    connection: &mut Connection,
    confirmed: &mut HashSet<String>,
) -> redis::RedisResult<()> {
    let wanted: Vec<String> = hub.channels().keys().cloned().collect();
    for channel in wanted {
        connection.subscribe(&channel).await?;
        confirmed.insert(channel);
    }
    Ok(())
}

/// Runs one command on this connection. `confirmed` holds the channels this
/// connection is subscribed to.
async fn run(
    hub: &Hub,
    connection: &mut Connection,
    confirmed: &mut HashSet<String>,
    command: Command,
) -> redis::RedisResult<()> {
    match command {
        // Commands run in order, and each checks the map again: a channel
        // left and rejoined meanwhile is never left unsubscribed.
        Command::Subscribe(channel, ack) => {
            if hub.is_wanted(&channel) && !confirmed.contains(&channel) {
                connection.subscribe(&channel).await?;
                confirmed.insert(channel);
            }
            let _ = ack.send(());
        }
        Command::Unsubscribe(channel) => {
            if !hub.is_wanted(&channel) && confirmed.remove(&channel) {
                connection.unsubscribe(&channel).await?;
            }
        }
    }
    Ok(())
}

fn deliver(hub: &Hub, channel: &str, payload: &[u8]) {
    #[derive(Default, serde::Deserialize)]
    struct Envelope {
        event: Option<String>,
        id: Option<String>,
    }
    let Ok(json) = std::str::from_utf8(payload) else {
        tracing::warn!(channel, "dropped a non-UTF-8 payload");
        return;
    };
    // Payloads that are not JSON objects (the profile channel carries bare
    // user ids) have neither field.
    let envelope = serde_json::from_str::<Envelope>(json).unwrap_or_default();
    let published = Published {
        event: envelope.event,
        id: envelope.id,
        json: json.to_owned(),
        frame: std::sync::OnceLock::new(),
    };
    hub.deliver(channel, HubEvent::Published(Arc::new(published)));
}
