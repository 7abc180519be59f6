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
use redis::aio::PubSubSink;
use tokio::sync::{broadcast, mpsc, oneshot};

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
    /// Starts the hub's supervisor task on the current tokio runtime.
    pub fn start(client: redis::Client) -> Self {
        let (commands, receiver) = mpsc::unbounded_channel();
        let hub = Self {
            inner: Arc::new(Inner {
                channels: Mutex::new(HashMap::new()),
                commands,
            }),
        };
        tokio::spawn(supervise(client, hub.clone(), receiver));
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
    pub async fn subscribe(&self, channel: &str) -> Subscription {
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

    /// How many channels this process is subscribed to.
    pub fn channel_count(&self) -> usize {
        self.channels().len()
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
pub struct Subscription {
    channel: String,
    receiver: Option<broadcast::Receiver<HubEvent>>,
    hub: Hub,
}

impl Subscription {
    /// The channel's events as a stream; lagging shows as an error item.
    pub fn into_stream(mut self) -> SubscriptionStream {
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

/// Keeps one Pub/Sub connection alive for as long as the process runs.
async fn supervise(
    client: redis::Client,
    hub: Hub,
    mut commands: mpsc::UnboundedReceiver<Command>,
) {
    let mut backoff = Duration::from_millis(100);
    loop {
        match client.get_async_pubsub().await {
            Ok(pubsub) => {
                let (mut sink, mut stream) = pubsub.split();
                let mut confirmed = HashSet::new();
                if resubscribe(&hub, &mut sink, &mut confirmed).await.is_ok() {
                    // Listeners that gave up waiting for a confirmation (Redis
                    // was down), or were cut off, may have missed events.
                    if !confirmed.is_empty() {
                        tracing::info!("Pub/Sub (re)connected; resyncing listeners");
                        hub.resync_all();
                    }
                    backoff = Duration::from_millis(100);
                    loop {
                        tokio::select! {
                            message = stream.next() => match message {
                                Some(message) => deliver(&hub, &message),
                                None => break,
                            },
                            command = commands.recv() => match command {
                                Some(command) => {
                                    if run(&hub, &mut sink, &mut confirmed, command).await.is_err() {
                                        break;
                                    }
                                }
                                // Every hub handle is gone: the app is shutting down.
                                None => return,
                            },
                        }
                    }
                    tracing::warn!("Pub/Sub connection lost; reconnecting");
                    hub.resync_all();
                }
            }
            Err(err) => tracing::warn!(%err, "Pub/Sub connection failed; retrying"),
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(2));
    }
}

/// Subscribes a fresh connection to every channel that has listeners.
async fn resubscribe(
    hub: &Hub,
    sink: &mut PubSubSink,
    confirmed: &mut HashSet<String>,
) -> redis::RedisResult<()> {
    let wanted: Vec<String> = hub.channels().keys().cloned().collect();
    for channel in wanted {
        sink.subscribe(&channel).await?;
        confirmed.insert(channel);
    }
    Ok(())
}

/// Runs one command on this connection. `confirmed` holds the channels this
/// connection is subscribed to.
async fn run(
    hub: &Hub,
    sink: &mut PubSubSink,
    confirmed: &mut HashSet<String>,
    command: Command,
) -> redis::RedisResult<()> {
    match command {
        // Commands run in order, and each checks the map again: a channel
        // left and rejoined meanwhile is never left unsubscribed.
        Command::Subscribe(channel, ack) => {
            if hub.is_wanted(&channel) && !confirmed.contains(&channel) {
                sink.subscribe(&channel).await?;
                confirmed.insert(channel);
            }
            let _ = ack.send(());
        }
        Command::Unsubscribe(channel) => {
            if !hub.is_wanted(&channel) && confirmed.remove(&channel) {
                sink.unsubscribe(&channel).await?;
            }
        }
    }
    Ok(())
}

fn deliver(hub: &Hub, message: &redis::Msg) {
    #[derive(Default, serde::Deserialize)]
    struct Envelope {
        event: Option<String>,
        id: Option<String>,
    }
    let Ok(json) = std::str::from_utf8(message.get_payload_bytes()) else {
        tracing::warn!(
            channel = message.get_channel_name(),
            "dropped a non-UTF-8 payload"
        );
        return;
    };
    // Payloads that are not JSON objects (the profile channel carries bare
    // user ids) have neither field.
    let envelope = serde_json::from_str::<Envelope>(json).unwrap_or_default();
    let published = Published {
        event: envelope.event,
        id: envelope.id,
        json: json.to_owned(),
    };
    hub.deliver(
        message.get_channel_name(),
        HubEvent::Published(Arc::new(published)),
    );
}
