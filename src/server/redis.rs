//! The connection to Redis, in any of its three topologies.
//!
//! [`Redis`] is the one command connection of a process, whatever the
//! topology; every feature talks to it through redis-rs's `ConnectionLike`,
//! so no feature knows which topology it runs on:
//!
//! - **standalone**: a multiplexed [`ConnectionManager`], which pipelines
//!   concurrent requests over one socket and reconnects on its own;
//! - **sentinel**: the same, to the primary the Sentinels name. redis-rs
//!   does not follow a failover by itself (it does not listen for
//!   `+switch-master`), so when a command fails the way a lost primary makes
//!   it fail (connection refused or dropped, a timeout, `READONLY` from a
//!   demoted primary), the connection is dropped and the next command asks
//!   the Sentinels again. The failed command's caller gets the error (its
//!   client retries; sends are deduplicated), never a silent retry of a
//!   command that may have run;
//! - **cluster**: redis-rs's cluster connection, which routes each command to
//!   the node owning its key's slot and follows `MOVED` and failovers.
//!
//! The connections are lazy: they are made on first use, and the server
//! starts even while Redis is down (answering 503 on `/healthz` until it is
//! up) rather than exiting and leaving an orchestrator in a restart loop.

use std::sync::{Arc, RwLock};

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClientBuilder;
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{Route, RoutingInfo, SingleNodeRoutingInfo, Slot, SlotAddr};
use redis::sentinel::{SentinelClient, SentinelNodeConnectionInfo, SentinelServerType};
use redis::{
    Cmd, ErrorKind, IntoConnectionInfo, Pipeline, RedisError, RedisFuture, RedisResult,
    ServerErrorKind, Value,
};
use tokio::sync::{Mutex, OnceCell};

use super::config::{RedisSettings, Topology};
use super::metrics::METRICS;
use crate::error::AppError;

/// The process's command connection. Cloning it is cheap and shares it.
#[derive(Clone)]
pub struct Redis {
    inner: Inner,
}

#[derive(Clone)]
enum Inner {
    Standalone(ConnectionManager),
    Sentinel(Arc<Sentinel>),
    Cluster(
        Arc<OnceCell<ClusterConnection>>,
        Arc<ClusterClientBuilderFn>,
    ),
}

type ClusterClientBuilderFn = dyn Fn() -> RedisResult<redis::cluster::ClusterClient> + Send + Sync;

/// Creates the process's command connection for the configured topology.
pub fn connect(settings: &RedisSettings) -> Result<Redis, RedisError> {
    install_tls_provider();
    let inner = match settings.topology {
        Topology::Standalone => {
            Inner::Standalone(manager(client(settings, &settings.url)?, settings)?)
        }
        Topology::Sentinel => Inner::Sentinel(Arc::new(Sentinel::new(settings)?)),
        Topology::Cluster => {
            // Checked now, so that a bad setting stops the start.
            cluster_client(settings, None)?;
            let settings = settings.clone();
            Inner::Cluster(
                Arc::new(OnceCell::new()),
                Arc::new(move || cluster_client(&settings, None)),
            )
        }
    };
    Ok(Redis { inner })
}

fn manager(client: redis::Client, settings: &RedisSettings) -> RedisResult<ConnectionManager> {
    // A request made while the connection is down waits for the reconnect
    // attempts; two (not redis-rs's six, with growing pauses) keep that wait
    // near `timeout_ms`, so requests fail fast and the next one tries again.
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(settings.timeout()))
        .set_response_timeout(Some(settings.timeout()))
        .set_number_of_retries(1)
        .set_max_delay(std::time::Duration::from_millis(200));
    ConnectionManager::new_lazy_with_config(client, config)
}

impl Redis {
    /// `WAIT`s until `replicas` replicas have every write made so far on
    /// the node that holds `key` (on a cluster, the primary of its slot).
    /// Returns how many did, which is fewer after the timeout.
    pub(crate) async fn wait_for_replicas(
        &self,
        key: &str,
        replicas: u32,
        timeout: std::time::Duration,
    ) -> RedisResult<u32> {
        let mut wait = redis::cmd("WAIT");
        wait.arg(replicas).arg(timeout.as_millis() as u64);
        self.on_primary_of(key, wait).await
    }

    /// Runs a command that names no key on the node that holds `key`: on a
    /// cluster, the primary of its slot (redis-rs would send it to any
    /// node, replicas included); elsewhere, the one primary.
    async fn on_primary_of<T: redis::FromRedisValue>(&self, key: &str, cmd: Cmd) -> RedisResult<T> {
        match &self.inner {
            Inner::Cluster(..) => {
                let mut connection = self.cluster().await?;
                let route = Route::with_slot(Slot::for_key(key), SlotAddr::Master);
                let value = connection
                    .route_command(
                        cmd,
                        RoutingInfo::SingleNode(SingleNodeRoutingInfo::SpecificNode(route)),
                    )
                    .await?;
                Ok(redis::from_redis_value(value)?)
            }
            _ => cmd.query_async(&mut self.clone()).await,
        }
    }

    /// Every key whose name starts with `prefix`, which must contain a
    /// cluster hash tag (all such keys share its slot). On a cluster the
    /// keys of that slot are listed on its primary (`CLUSTER
    /// KEYSLOT`, `COUNTKEYSINSLOT`, then `GETKEYSINSLOT`: O(keys in the
    /// slot)); elsewhere [`Self::scan_prefix`]. For rare work only
    /// (deleting a room).
    pub(crate) async fn keys_in_tag(&self, prefix: &str) -> RedisResult<Vec<String>> {
        if self.is_cluster() {
            let slot: u16 = redis::cmd("CLUSTER")
                .arg("KEYSLOT")
                .arg(prefix)
                .query_async(&mut self.clone())
                .await?;
            let count: u64 = self
                .on_primary_of(
                    prefix,
                    redis::cmd("CLUSTER")
                        .arg("COUNTKEYSINSLOT")
                        .arg(slot)
                        .clone(),
                )
                .await?;
            let keys: Vec<String> = self
                .on_primary_of(
                    prefix,
                    redis::cmd("CLUSTER")
                        .arg("GETKEYSINSLOT")
                        .arg(slot)
                        .arg(count.max(1))
                        .clone(),
                )
                .await?;
            return Ok(keys
                .into_iter()
                .filter(|key| key.starts_with(prefix))
                .collect());
        }
        self.scan_prefix(prefix).await
    }

    /// Every key whose name starts with `prefix`: `SCAN MATCH`, 1,000 keys
    /// a step, O(every key); on a cluster on each primary in turn (found
    /// with `CLUSTER SLOTS`), since a `SCAN` cursor belongs to one node.
    /// For rare work only (a one-time backfill, deleting a room).
    pub(crate) async fn scan_prefix(&self, prefix: &str) -> RedisResult<Vec<String>> {
        let pattern = format!("{}*", glob_escape(prefix));
        let mut found = Vec::new();
        let nodes: Vec<Option<(String, u16)>> = if self.is_cluster() {
            let slots: Vec<redis::Value> = redis::cmd("CLUSTER")
                .arg("SLOTS")
                .query_async(&mut self.clone())
                .await?;
            let mut primaries: Vec<(String, u16)> = slots
                .into_iter()
                .filter_map(|range| {
                    // [start, end, [host, port, id, …], replicas…]
                    let range: Vec<redis::Value> = redis::from_redis_value(range).ok()?;
                    let primary: Vec<redis::Value> =
                        redis::from_redis_value(range.get(2)?.clone()).ok()?;
                    let host: String = redis::from_redis_value(primary.first()?.clone()).ok()?;
                    let port: u16 = redis::from_redis_value(primary.get(1)?.clone()).ok()?;
                    Some((host, port))
                })
                .collect();
            primaries.sort();
            primaries.dedup();
            primaries.into_iter().map(Some).collect()
        } else {
            vec![None]
        };
        for node in nodes {
            let mut cursor = 0u64;
            loop {
                let mut scan = redis::cmd("SCAN");
                scan.arg(cursor)
                    .arg("MATCH")
                    .arg(&pattern)
                    .arg("COUNT")
                    .arg(1000);
                let (next, page): (u64, Vec<String>) = match &node {
                    Some((host, port)) => {
                        let mut connection = self.cluster().await?;
                        let routing = RoutingInfo::SingleNode(SingleNodeRoutingInfo::ByAddress {
                            host: host.clone(),
                            port: *port,
                        });
                        redis::from_redis_value(connection.route_command(scan, routing).await?)?
                    }
                    None => scan.query_async(&mut self.clone()).await?,
                };
                found.extend(page);
                if next == 0 {
                    break;
                }
                cursor = next;
            }
        }
        Ok(found)
    }

    /// Whether this is a cluster (a script may touch only one slot).
    /// Whether the one-time step that sets `marker` (a key set to 1 when
    /// it is done: the indexes' backfills at start) was done.
    pub(crate) async fn is_done(&self, marker: &str) -> RedisResult<bool> {
        redis::cmd("EXISTS")
            .arg(marker)
            .query_async(&mut self.clone())
            .await
    }

    /// Marks a one-time step done (see [`Self::is_done`]).
    pub(crate) async fn mark_done(&self, marker: &str) -> RedisResult<()> {
        redis::cmd("SET")
            .arg(marker)
            .arg(1)
            .query_async(&mut self.clone())
            .await
    }

    pub(crate) fn is_cluster(&self) -> bool {
        matches!(self.inner, Inner::Cluster(..))
    }

    /// Which command publishes on a channel: `SPUBLISH` on a cluster (a
    /// shard channel, delivered only inside the slot's shard), else
    /// `PUBLISH`. See [`is_shard_channel`].
    pub(crate) fn publish_command(&self, channel: &str) -> &'static str {
        if self.is_cluster() && is_shard_channel(channel) {
            "SPUBLISH"
        } else {
            "PUBLISH"
        }
    }

    /// A command publishing `payload` on `channel` (see
    /// [`Self::publish_command`]).
    pub(crate) fn publish(&self, channel: &str, payload: impl redis::ToRedisArgs) -> Cmd {
        let mut cmd = redis::cmd(self.publish_command(channel));
        cmd.arg(channel).arg(payload);
        cmd
    }

    async fn cluster(&self) -> RedisResult<ClusterConnection> {
        let Inner::Cluster(cell, build) = &self.inner else {
            unreachable!("only called on a cluster connection");
        };
        cell.get_or_try_init(|| async { build()?.get_async_connection().await })
            .await
            .cloned()
    }
}

/// A Redis glob pattern (`SCAN MATCH`) matching `text` literally.
pub(crate) fn glob_escape(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern
}

/// A channel with a hash tag (a room's or a user's) is a shard channel on a
/// cluster: published with `SPUBLISH` and read with `SSUBSCRIBE`, it stays
/// in the shard of its tag instead of being copied to every node. Channels
/// without one (the profile channel) use classic `PUBLISH`, which reaches
/// every node of the cluster.
pub(crate) fn is_shard_channel(channel: &str) -> bool {
    channel.contains('{')
}

impl ConnectionLike for Redis {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        Box::pin(async move {
            let started = std::time::Instant::now();
            let result = match &self.inner {
                Inner::Standalone(manager) => manager.clone().req_packed_command(cmd).await,
                Inner::Sentinel(sentinel) => match sentinel.primary().await {
                    Ok((generation, mut manager)) => {
                        let result = manager.req_packed_command(cmd).await;
                        sentinel.check(generation, result)
                    }
                    Err(err) => Err(err),
                },
                Inner::Cluster(..) => match self.cluster().await {
                    Ok(mut cluster) => cluster.req_packed_command(cmd).await,
                    Err(err) => Err(err),
                },
            };
            METRICS.redis_round_trip(started, &result);
            result
        })
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        Box::pin(async move {
            let started = std::time::Instant::now();
            let result = match &self.inner {
                Inner::Standalone(manager) => {
                    manager
                        .clone()
                        .req_packed_commands(pipeline, offset, count)
                        .await
                }
                Inner::Sentinel(sentinel) => match sentinel.primary().await {
                    Ok((generation, mut manager)) => {
                        let result = manager.req_packed_commands(pipeline, offset, count).await;
                        sentinel.check(generation, result)
                    }
                    Err(err) => Err(err),
                },
                Inner::Cluster(..) => match self.cluster().await {
                    Ok(mut cluster) => cluster.req_packed_commands(pipeline, offset, count).await,
                    Err(err) => Err(err),
                },
            };
            METRICS.redis_round_trip(started, &result);
            result
        })
    }

    fn get_db(&self) -> i64 {
        match &self.inner {
            Inner::Standalone(manager) => manager.get_db(),
            Inner::Sentinel(_) | Inner::Cluster(..) => 0,
        }
    }
}

/// A connection to the primary the Sentinels name, asked for again after a
/// failure that a failover would explain.
struct Sentinel {
    settings: RedisSettings,
    /// Asks the Sentinels; one question at a time.
    sentinels: Mutex<SentinelClient>,
    /// The current primary's connection and its generation (so a late
    /// failure on an old primary does not drop a newer one).
    current: RwLock<Option<(u64, ConnectionManager)>>,
}

impl Sentinel {
    fn new(settings: &RedisSettings) -> RedisResult<Self> {
        Ok(Self {
            settings: settings.clone(),
            sentinels: Mutex::new(sentinel_client(settings)?),
            current: RwLock::new(None),
        })
    }

    fn current(&self) -> Option<(u64, ConnectionManager)> {
        self.current
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// The primary's connection, asking the Sentinels if there is none.
    async fn primary(&self) -> RedisResult<(u64, ConnectionManager)> {
        if let Some(current) = self.current() {
            return Ok(current);
        }
        let mut sentinels = self.sentinels.lock().await;
        // Someone else may have asked while we waited for the lock.
        if let Some(current) = self.current() {
            return Ok(current);
        }
        // Names the primary only once it answers ROLE as one.
        let client = sentinels.async_get_client().await?;
        tracing::info!(
            primary = %client.get_connection_info().addr(),
            "Sentinel named the Redis primary"
        );
        let manager = manager(client, &self.settings)?;
        let mut current = self
            .current
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let generation = GENERATION.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        *current = Some((generation, manager.clone()));
        Ok((generation, manager))
    }

    /// Passes a result on; first forgets the primary if the error says it
    /// may no longer be one.
    fn check<T>(&self, generation: u64, result: RedisResult<T>) -> RedisResult<T> {
        if let Err(err) = &result {
            if lost_primary(err) {
                let mut current = self
                    .current
                    .write()
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                if current.as_ref().is_some_and(|(g, _)| *g == generation) {
                    tracing::warn!(%err, "Redis primary lost; asking the Sentinels again");
                    *current = None;
                }
            }
        }
        result
    }
}

static GENERATION: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Errors after which the connection may be talking to a former primary
/// (or to nothing).
fn lost_primary(err: &RedisError) -> bool {
    err.is_io_error()
        || err.is_connection_refusal()
        || err.is_connection_dropped()
        || err.is_timeout()
        || matches!(
            err.kind(),
            ErrorKind::Server(ServerErrorKind::ReadOnly | ServerErrorKind::MasterDown)
        )
}

/// A client that resolves the primary through the Sentinels.
pub(crate) fn sentinel_client(settings: &RedisSettings) -> RedisResult<SentinelClient> {
    let mut node = redis::RedisConnectionInfo::default();
    if let Some(username) = &settings.username {
        node = node.set_username(username);
    }
    if let Some(password) = &settings.password {
        node = node.set_password(password);
    }
    let sentinels = settings
        .sentinels
        .iter()
        .map(|url| {
            let info = url.as_str().into_connection_info()?;
            let mut credentials = info.redis_settings().clone();
            if let Some(username) = &settings.sentinel_username {
                credentials = credentials.set_username(username);
            }
            if let Some(password) = &settings.sentinel_password {
                credentials = credentials.set_password(password);
            }
            Ok(info.set_redis_settings(credentials))
        })
        .collect::<RedisResult<Vec<_>>>()?;
    SentinelClient::build(
        sentinels,
        settings.master_name.clone(),
        Some(SentinelNodeConnectionInfo::default().set_redis_connection_info(node)),
        SentinelServerType::Master,
    )
}

/// A cluster client for the seed nodes, with RESP3 and a push sender when
/// it is for Pub/Sub (the hub's).
pub(crate) fn cluster_client(
    settings: &RedisSettings,
    pushes: Option<tokio::sync::mpsc::UnboundedSender<redis::PushInfo>>,
) -> RedisResult<redis::cluster::ClusterClient> {
    let mut builder = ClusterClientBuilder::new(settings.cluster_nodes.iter().map(String::as_str))
        .connection_timeout(settings.timeout())
        .response_timeout(settings.timeout());
    if let Some(username) = &settings.username {
        builder = builder.username(username);
    }
    if let Some(password) = &settings.password {
        builder = builder.password(password);
    }
    if let Some(pushes) = pushes {
        builder = builder
            .use_protocol(redis::ProtocolVersion::RESP3)
            .push_sender(pushes);
    }
    builder.build()
}

/// A client for a standalone server at `url`, with credentials from the
/// environment (the hub opens its Pub/Sub connection with it too).
pub(crate) fn client(settings: &RedisSettings, url: &str) -> Result<redis::Client, RedisError> {
    install_tls_provider();
    let info = url.into_connection_info()?;
    let mut credentials = info.redis_settings().clone();
    if let Some(username) = &settings.username {
        credentials = credentials.set_username(username);
    }
    if let Some(password) = &settings.password {
        credentials = credentials.set_password(password);
    }
    let info = info.set_redis_settings(credentials);
    if settings.tls_ca_file.is_empty() {
        return redis::Client::open(info);
    }
    // `rediss://` with a private certificate authority.
    let root_cert = std::fs::read(&settings.tls_ca_file).map_err(|err| {
        RedisError::from((
            redis::ErrorKind::InvalidClientConfig,
            "cannot read redis.tls_ca_file",
            err.to_string(),
        ))
    })?;
    redis::Client::build_with_tls(
        info,
        redis::TlsCertificates {
            client_tls: None,
            root_cert: Some(root_cert),
        },
    )
}

/// rustls needs one process-wide crypto provider; redis-rs leaves the
/// choice to the application. Installing it twice is harmless.
pub(crate) fn install_tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// What the process is really talking to, for the startup log: the server's
/// version, mode and role from `HELLO` (without a protocol version it only
/// describes, it does not switch protocols), and how many replicas are in
/// sync (`WAIT`, 100 ms at most) or, on a cluster, how many shards serve
/// slots (`CLUSTER INFO`). All three are allowed to the app's ACL user
/// (`INFO` and `ROLE` are `@dangerous`). Never fails: a Redis that is down at
/// start is said so, since the server starts anyway.
pub(crate) async fn describe_live(redis: &Redis) -> String {
    let hello: RedisResult<std::collections::HashMap<String, Value>> =
        redis.on_primary_of("", redis::cmd("HELLO")).await;
    let hello = match hello {
        Ok(hello) => hello,
        Err(err) => return format!("not reachable yet ({err})"),
    };
    let field = |name: &str| match hello.get(name) {
        Some(Value::BulkString(bytes)) => String::from_utf8_lossy(bytes).into_owned(),
        Some(Value::SimpleString(text)) => text.clone(),
        _ => "?".to_owned(),
    };
    let server = format!(
        "Redis {} ({} mode, role {})",
        field("version"),
        field("mode"),
        field("role")
    );
    let extent = if redis.is_cluster() {
        let mut cluster_info = redis::cmd("CLUSTER");
        cluster_info.arg("INFO");
        let info: RedisResult<String> = redis.on_primary_of("", cluster_info).await;
        info.map(|info| {
            let get = |name: &str| {
                info.lines()
                    .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))
                    .unwrap_or("?")
                    .trim()
                    .to_owned()
            };
            format!(
                "cluster state {}, {} shards serving slots, {} nodes known",
                get("cluster_state"),
                get("cluster_size"),
                get("cluster_known_nodes")
            )
        })
    } else {
        // More replicas than any deployment has, so that WAIT asks each one
        // for its offset (`REPLCONF GETACK`) and counts those in sync
        // within 100 ms.
        let timeout = std::time::Duration::from_millis(100);
        let replicas = redis.wait_for_replicas("", 100, timeout).await;
        replicas.map(|count| format!("{count} replica(s) in sync"))
    };
    match extent {
        Ok(extent) => format!("{server}, {extent}"),
        Err(err) => format!("{server} ({err})"),
    }
}

/// Redis failures are not the client's fault. Those that pass (a timeout
/// under overload, a lost connection, a failover under way) answer 503, which
/// clients retry (the composer does, with the same client message id); the
/// rest answer 500. The detail is logged either way.
impl From<RedisError> for AppError {
    fn from(err: RedisError) -> Self {
        if lost_primary(&err) {
            tracing::warn!(%err, "redis unavailable");
            return AppError::Unavailable("The server is busy or restarting; try again.".into());
        }
        AppError::internal("redis command failed", err)
    }
}
