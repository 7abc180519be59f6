//! The test harness: a real `redis-server` on a free port with a temporary
//! directory, and the real app served on port 0.
//!
//! Nothing is mocked: requests go over HTTP through the same `router()` that
//! production serves, and the data lands in a Redis this harness started (and
//! stops when dropped).

#![allow(dead_code)]

use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use redchat::router::Application;
use redchat::server::config::{Rate, Settings};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A `redis-server` process of our own, or, when the suite runs against a
/// Sentinel set or a cluster (`REDCHAT_TEST_TOPOLOGY`), the shared topology
/// that the test command started for this run (scripts/redis-topology.sh).
/// Tests keep apart by key prefix either way.
pub struct RedisServer {
    child: Option<Child>,
    pub port: u16,
    dir: tempfile::TempDir,
    /// Started with the shipped ACL (`deploy/redis/users.acl`): the app
    /// connects as its confined user, the harness as `admin`.
    acl: bool,
    shared: Option<Shared>,
}

/// A topology started outside the test process, shared by its tests.
#[derive(Clone, Debug)]
pub enum Shared {
    /// Primary on `base`, Sentinels on `base + 10 ..= base + 12`.
    Sentinel { base: u16 },
    /// Nodes on `base + 20 ..= base + 25`.
    Cluster { base: u16 },
}

impl Shared {
    /// What `REDCHAT_TEST_TOPOLOGY` (and `REDCHAT_TOPOLOGY_BASE_PORT`, as
    /// for the script) ask for.
    pub fn from_env() -> Option<Self> {
        let base = std::env::var("REDCHAT_TOPOLOGY_BASE_PORT")
            .ok()
            .and_then(|port| port.parse().ok())
            .unwrap_or(7100);
        match std::env::var("REDCHAT_TEST_TOPOLOGY").as_deref() {
            Ok("sentinel") => Some(Self::Sentinel { base }),
            Ok("cluster") => Some(Self::Cluster { base }),
            Ok("standalone") | Err(_) => None,
            Ok(other) => panic!("unknown REDCHAT_TEST_TOPOLOGY {other}"),
        }
    }

    fn urls(base: u16, ports: std::ops::RangeInclusive<u16>) -> Vec<String> {
        ports
            .map(|offset| format!("redis://127.0.0.1:{}", base + offset))
            .collect()
    }

    /// Points Redis settings at this topology.
    pub fn configure(&self, redis: &mut redchat::server::config::RedisSettings) {
        use redchat::server::config::Topology;
        match *self {
            Self::Sentinel { base } => {
                redis.topology = Topology::Sentinel;
                redis.sentinels = Self::urls(base, 10..=12);
                redis.master_name = "redchat".into();
            }
            Self::Cluster { base } => {
                redis.topology = Topology::Cluster;
                redis.cluster_nodes = Self::urls(base, 20..=22);
            }
        }
    }
}

/// For a test that stops, restarts or inspects a whole Redis server (its
/// clients, all its keys): true, after saying so, when the suite runs on a
/// shared topology where that would disturb the other tests. Those tests
/// run in the standalone passes of the test command.
pub fn needs_own_redis(why: &str) -> bool {
    let shared = Shared::from_env();
    if let Some(shared) = &shared {
        eprintln!("skipped on the shared {shared:?}: {why}");
    }
    shared.is_some()
}

/// The passwords the harness puts into the shipped ACL file.
const APP_USER: (&str, &str) = ("redchat", "app-secret");
const ADMIN_USER: (&str, &str) = ("admin", "admin-secret");

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("a free loopback port")
}

impl RedisServer {
    /// Starts a fresh server and waits until it answers PING. With
    /// `REDCHAT_TEST_REDIS_ACL` set, every test runs against the shipped ACL.
    pub async fn start() -> Self {
        if let Some(shared) = Shared::from_env() {
            let port = match shared {
                Shared::Sentinel { base } => base,
                Shared::Cluster { base } => base + 20,
            };
            return Self {
                child: None,
                port,
                dir: tempfile::tempdir().expect("a temporary directory"),
                acl: false,
                shared: Some(shared),
            };
        }
        Self::start_with(std::env::var_os("REDCHAT_TEST_REDIS_ACL").is_some()).await
    }

    /// Starts a fresh server with the shipped ACL, whatever the environment.
    pub async fn start_with_acl() -> Self {
        Self::start_with(true).await
    }

    async fn start_with(acl: bool) -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let mut server = Self {
            child: None,
            port: free_port(),
            dir,
            acl,
            shared: None,
        };
        server.launch().await;
        server
    }

    /// The shipped ACL file, with test passwords for its placeholders and
    /// the test key prefixes (`test…:`) for the production one.
    fn write_acl_file(&self) -> std::path::PathBuf {
        let shipped = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/redis/users.acl");
        let text = std::fs::read_to_string(shipped).expect("deploy/redis/users.acl");
        let text = text
            .replace("#CHANGE_ME_APP_SHA256", &format!(">{}", APP_USER.1))
            .replace("#CHANGE_ME_ADMIN_SHA256", &format!(">{}", ADMIN_USER.1))
            .replace("~redchat:*", "~test*")
            .replace("&redchat:*", "&test*");
        let path = self.dir.path().join("users.acl");
        std::fs::write(&path, text).expect("the ACL file is written");
        path
    }

    /// The app's Redis user name and password, when the ACL is on.
    pub fn app_credentials(&self) -> Option<(String, String)> {
        self.acl
            .then(|| (APP_USER.0.to_owned(), APP_USER.1.to_owned()))
    }

    /// A URL for the harness itself: as `admin` when the ACL is on.
    pub fn admin_url(&self) -> String {
        if self.acl {
            format!(
                "redis://{}:{}@127.0.0.1:{}",
                ADMIN_USER.0, ADMIN_USER.1, self.port
            )
        } else {
            self.url()
        }
    }

    async fn launch(&mut self) {
        let mut command = Command::new("redis-server");
        if self.acl {
            let acl_file = self.write_acl_file();
            command.arg("--aclfile").arg(acl_file);
        }
        let child = command
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1"])
            .args(["--dir", self.dir.path().to_str().expect("utf-8 temp path")])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server must be installed (the test command installs it)");
        self.child = Some(child);
        let client = redis::Client::open(self.admin_url()).expect("a valid Redis URL");
        for _ in 0..100 {
            if let Ok(mut conn) = client.get_multiplexed_async_connection().await {
                if redis::cmd("PING")
                    .query_async::<String>(&mut conn)
                    .await
                    .is_ok()
                {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("redis-server did not start on port {}", self.port);
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Kills the server (SIGKILL: nothing is saved). Not on a shared
    /// topology (see [`needs_own_redis`]).
    pub fn stop(&mut self) {
        assert!(
            self.shared.is_none(),
            "a shared topology is not stopped by a test"
        );
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port.
    pub async fn restart(&mut self) {
        self.stop();
        self.launch().await;
    }

    /// Points Redis settings at this server (or shared topology), with the
    /// app's credentials when the ACL is on.
    pub fn configure(&self, settings: &mut redchat::server::config::RedisSettings) {
        settings.url = self.url();
        if let Some(shared) = &self.shared {
            shared.configure(settings);
        }
        if let Some((username, password)) = self.app_credentials() {
            settings.username = Some(username);
            settings.password = Some(password);
        }
    }

    /// The same, as the environment of a server process.
    pub fn env(&self) -> Vec<(String, String)> {
        let mut settings = redchat::server::config::RedisSettings::default();
        self.configure(&mut settings);
        let mut env = vec![
            ("REDCHAT_REDIS__URL".to_owned(), settings.url),
            (
                "REDCHAT_REDIS__TOPOLOGY".to_owned(),
                format!("{:?}", settings.topology).to_lowercase(),
            ),
        ];
        if !settings.sentinels.is_empty() {
            env.push((
                "REDCHAT_REDIS__SENTINELS".into(),
                settings.sentinels.join(","),
            ));
        }
        if !settings.cluster_nodes.is_empty() {
            env.push((
                "REDCHAT_REDIS__CLUSTER_NODES".into(),
                settings.cluster_nodes.join(","),
            ));
        }
        if let Some((username, password)) = self.app_credentials() {
            env.push(("REDCHAT_REDIS_USERNAME".into(), username));
            env.push(("REDCHAT_REDIS_PASSWORD".into(), password));
        }
        env
    }

    /// A connection for looking at what the app stored (as `admin` when the
    /// ACL is on): the app's own connection type, so that on a cluster each
    /// command goes to the node holding its key.
    pub async fn connection(&self) -> redchat::server::redis::Redis {
        let mut settings = redchat::server::config::RedisSettings::default();
        self.configure(&mut settings);
        if self.acl {
            settings.username = Some(ADMIN_USER.0.to_owned());
            settings.password = Some(ADMIN_USER.1.to_owned());
        }
        redchat::server::redis::connect(&settings).expect("valid test Redis settings")
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if self.shared.is_none() {
            self.stop();
        }
    }
}

/// Settings for a test app on this Redis, under a key prefix of its own.
pub fn test_settings(redis: &RedisServer) -> Settings {
    let mut redis_settings = redchat::server::config::RedisSettings::default();
    redis.configure(&mut redis_settings);
    settings_on(redis_settings)
}

/// Test settings (a key prefix of their own, plain-HTTP cookies, limits out
/// of the way) on any Redis settings, e.g. a topology a test started.
pub fn settings_on(redis: redchat::server::config::RedisSettings) -> Settings {
    let mut settings = Settings {
        redis,
        ..Settings::default()
    };
    settings.redis.key_prefix = format!("test{}:", uuid::Uuid::new_v4().simple());
    settings.redis.timeout_ms = 500;
    // The harness speaks plain HTTP, where browsers and reqwest drop Secure cookies.
    settings.session.cookie_secure = false;
    // Tests send and sign up far faster than people do; the rate-limit
    // tests use `limited_settings`.
    let plenty = Rate::new(1_000_000, 60_000_000.0);
    let limits = &mut settings.limits;
    for rate in [
        &mut limits.send_per_room,
        &mut limits.send_per_user,
        &mut limits.login_failures_per_account,
        &mut limits.login_failures_per_account_total,
        &mut limits.login_per_address,
        &mut limits.signup_per_address,
        &mut limits.invite_per_user,
        &mut limits.create_room_per_user,
        &mut limits.membership_per_user,
        &mut limits.typing_per_user,
        &mut limits.reads_per_user,
        &mut limits.mark_read_per_user,
        &mut limits.edits_per_user,
        &mut limits.reactions_per_user,
        &mut limits.searches_per_user,
        &mut limits.account_per_user,
    ] {
        *rate = plenty;
    }
    // Bytes, not actions: a test sends megabytes.
    limits.send_bytes_per_user = Rate::new(1_000_000_000, 60_000_000_000.0);
    limits.streams_per_session = 100_000;
    limits.streams_per_user = 100_000;
    limits.streams_per_address = 100_000;
    settings
}

/// [`test_settings`] with the shipped rate limits.
pub fn limited_settings(redis: &RedisServer) -> Settings {
    let mut settings = test_settings(redis);
    settings.limits = redchat::server::config::LimitSettings::default();
    settings
}

/// The app, served on a loopback port until stopped.
pub struct TestApp {
    pub addr: SocketAddr,
    pub settings: Settings,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl TestApp {
    pub async fn spawn(redis: &RedisServer) -> Self {
        Self::spawn_with(test_settings(redis)).await
    }

    pub async fn spawn_with(settings: Settings) -> Self {
        redchat::server::telemetry::init();
        let leptos_options = leptos::config::LeptosOptions::builder()
            .output_name("redchat")
            .site_root("target/site")
            .build();
        // The same wiring as `main`, on a port of its own.
        let app = Application::build(
            leptos_options,
            settings.clone(),
            "127.0.0.1:0".parse().expect("an address"),
        )
        .await
        .expect("valid settings and a loopback port");
        let addr = app.local_addr().expect("a local address");
        let (shutdown, signal) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            app.run_until(async move {
                let _ = signal.await;
            })
            .await
            .expect("the test server runs");
        });
        Self {
            addr,
            settings,
            shutdown: Some(shutdown),
            task: Some(task),
        }
    }

    /// Stops serving and waits for the server task to end.
    pub async fn stop(mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// A browser-like client with its own cookie jar.
    pub fn client() -> reqwest::Client {
        reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            // A stalled request fails its test instead of hanging the run.
            // Event streams are read with their own deadlines, so only
            // connecting and the response head are bounded here.
            .connect_timeout(Duration::from_secs(10))
            .read_timeout(Duration::from_secs(60))
            .build()
            .expect("an HTTP client")
    }

    /// Calls a server function the way the contract says: form-encoded POST
    /// to `/api/{endpoint}`.
    pub async fn call(
        &self,
        client: &reqwest::Client,
        endpoint: &str,
        form: &[(&str, &str)],
    ) -> reqwest::Response {
        client
            .post(self.url(&format!("/api/{endpoint}")))
            .form(form)
            .send()
            .await
            .expect("the app answers")
    }

    pub async fn register(
        &self,
        client: &reqwest::Client,
        email: &str,
        handle: &str,
    ) -> reqwest::Response {
        self.call(
            client,
            "register",
            &[
                ("email", email),
                ("password", PASSWORD),
                ("display_name", "Test Person"),
                ("handle", handle),
            ],
        )
        .await
    }

    pub async fn me(&self, client: &reqwest::Client) -> serde_json::Value {
        let response = self.call(client, "me", &[]).await;
        assert_eq!(response.status(), 200, "me answers 200");
        response.json().await.expect("me answers JSON")
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

/// The password every test account uses.
pub const PASSWORD: &str = "correct horse battery staple";

/// The JSON error body's message.
pub async fn error_message(response: reqwest::Response) -> String {
    let body: serde_json::Value = response.json().await.expect("errors are JSON");
    body["error"].as_str().unwrap_or_default().to_owned()
}

/// What [`EventReader::poll_within`] saw.
pub enum Polled {
    Event(SseEvent),
    Quiet,
    Closed,
}

/// One server-sent event.
#[derive(Debug, Clone, PartialEq)]
pub struct SseEvent {
    pub event: String,
    pub id: Option<String>,
    pub data: String,
}

impl SseEvent {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.data).expect("event data is JSON")
    }
}

/// Reads `GET /api/events` as a browser's EventSource would.
pub struct EventReader {
    body: std::pin::Pin<Box<dyn futures::Stream<Item = reqwest::Result<bytes::Bytes>> + Send>>,
    /// Raw bytes: a chunk may end inside a multi-byte character.
    buffer: Vec<u8>,
}

impl EventReader {
    /// Opens the stream (the server has subscribed once this returns).
    pub async fn open(app: &TestApp, client: &reqwest::Client) -> Self {
        Self::open_at(&app.url("/api/events"), client).await
    }

    /// Opens the stream at this URL, or says why not.
    pub async fn try_open_at(url: &str, client: &reqwest::Client) -> Result<Self, String> {
        let response = client
            .get(url)
            .send()
            .await
            .map_err(|err| err.to_string())?;
        if response.status() != 200 {
            return Err(format!("event stream status {}", response.status()));
        }
        Ok(Self {
            body: Box::pin(response.bytes_stream()),
            buffer: Vec::new(),
        })
    }

    /// The stream of a response already known to be one (status 200).
    pub fn from_response(response: reqwest::Response) -> Self {
        Self {
            body: Box::pin(response.bytes_stream()),
            buffer: Vec::new(),
        }
    }

    /// Opens the stream at this URL.
    pub async fn open_at(url: &str, client: &reqwest::Client) -> Self {
        let response = client
            .get(url)
            .send()
            .await
            .expect("the event stream opens");
        assert_eq!(response.status(), 200, "event stream status");
        Self {
            body: Box::pin(response.bytes_stream()),
            buffer: Vec::new(),
        }
    }

    /// The next event, nothing within `wait`, or the end of the stream (the
    /// server went away): for clients that outlive servers.
    pub async fn poll_within(&mut self, wait: Duration) -> Polled {
        use futures::StreamExt;
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if let Some(event) = self.take_event() {
                return Polled::Event(event);
            }
            match tokio::time::timeout_at(deadline, self.body.next()).await {
                Err(_) => return Polled::Quiet,
                Ok(None | Some(Err(_))) => return Polled::Closed,
                Ok(Some(Ok(chunk))) => self.buffer.extend_from_slice(&chunk),
            }
        }
    }

    /// The first whole event in the buffer, if any.
    fn take_event(&mut self) -> Option<SseEvent> {
        while let Some(end) = self.buffer.windows(2).position(|pair| pair == b"\n\n") {
            let block: Vec<u8> = self.buffer.drain(..end + 2).collect();
            let block = String::from_utf8(block).expect("events are UTF-8");
            let mut event = SseEvent {
                event: "message".into(),
                id: None,
                data: String::new(),
            };
            let mut has_data = false;
            for line in block.lines() {
                if let Some(value) = line.strip_prefix("event:") {
                    event.event = value.trim().to_owned();
                } else if let Some(value) = line.strip_prefix("id:") {
                    event.id = Some(value.trim().to_owned());
                } else if let Some(value) = line.strip_prefix("data:") {
                    event
                        .data
                        .push_str(value.strip_prefix(' ').unwrap_or(value));
                    has_data = true;
                }
            }
            if has_data {
                return Some(event);
            }
        }
        None
    }

    /// The next event (keep-alive comments skipped), or `None` if none comes
    /// within `wait`.
    pub async fn next_within(&mut self, wait: Duration) -> Option<SseEvent> {
        use futures::StreamExt;
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if let Some(event) = self.take_event() {
                return Some(event);
            }
            let chunk = tokio::time::timeout_at(deadline, self.body.next())
                .await
                .ok()??;
            self.buffer
                .extend_from_slice(&chunk.expect("the stream stays readable"));
        }
    }

    /// The next event, which must come within five seconds.
    pub async fn next(&mut self) -> SseEvent {
        self.next_within(Duration::from_secs(5))
            .await
            .expect("an event within 5 s")
    }

    /// The next event named `name`, skipping others, or `None` if none
    /// comes within `wait`.
    pub async fn named_within(&mut self, name: &str, wait: Duration) -> Option<SseEvent> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let event = self.next_within(left).await?;
            if event.event == name {
                return Some(event);
            }
        }
    }

    /// The next event named `name`, skipping others, within five seconds.
    pub async fn next_named(&mut self, name: &str) -> SseEvent {
        loop {
            let event = self.next().await;
            if event.event == name {
                return event;
            }
        }
    }
}

/// The real server binary, started as its own OS process on a free port.
pub struct ServerProcess {
    child: Child,
    pub addr: SocketAddr,
}

impl ServerProcess {
    /// Starts `redchat` against this Redis under this key prefix and waits
    /// until its health check answers 200.
    pub async fn start(redis: &RedisServer, key_prefix: &str) -> Self {
        Self::start_with_env(redis, key_prefix, &[]).await
    }

    /// [`Self::start`] with more settings in the environment.
    pub async fn start_with_env(
        redis: &RedisServer,
        key_prefix: &str,
        env: &[(&str, &str)],
    ) -> Self {
        Self::start_on(redis.env(), key_prefix, env).await
    }

    /// [`Self::start`] at log level `info`, its log (stderr) written to `log`.
    pub async fn start_logging_to(redis: &RedisServer, key_prefix: &str, log: &Path) -> Self {
        let file = std::fs::File::create(log).expect("the log file is created");
        Self::launch(
            redis.env(),
            key_prefix,
            &[("RUST_LOG", "info")],
            file.into(),
        )
        .await
    }

    /// Starts `redchat` with these Redis settings (as environment variables).
    pub async fn start_on(
        redis_env: Vec<(String, String)>,
        key_prefix: &str,
        env: &[(&str, &str)],
    ) -> Self {
        Self::launch(redis_env, key_prefix, env, Stdio::inherit()).await
    }

    async fn launch(
        redis_env: Vec<(String, String)>,
        key_prefix: &str,
        env: &[(&str, &str)],
        stderr: Stdio,
    ) -> Self {
        // The free port may be taken between its choice and the child's
        // bind (by another test's server): then the child exits ("address
        // already in use"), and whatever took the port answered `/healthz`.
        // A child that is gone is started again on another port.
        let mut stderr = Some(stderr);
        for _ in 0..3 {
            let mut server = Self::launch_once(
                redis_env.clone(),
                key_prefix,
                env,
                stderr.take().unwrap_or_else(Stdio::inherit),
            )
            .await;
            tokio::time::sleep(Duration::from_millis(50)).await;
            if matches!(server.child.try_wait(), Ok(None)) {
                return server;
            }
        }
        panic!("the redchat process kept exiting at start");
    }

    async fn launch_once(
        redis_env: Vec<(String, String)>,
        key_prefix: &str,
        env: &[(&str, &str)],
        stderr: Stdio,
    ) -> Self {
        let port = free_port();
        let addr: SocketAddr = format!("127.0.0.1:{port}")
            .parse()
            .expect("a socket address");
        // (Set for the integration tests; an example that borrows this
        // harness, examples/search_bench.rs, never starts a process.)
        let binary = option_env!("CARGO_BIN_EXE_redchat").unwrap_or("target/release/redchat");
        let mut command = Command::new(binary);
        command.envs(redis_env);
        let child = command
            .env("LEPTOS_OUTPUT_NAME", "redchat")
            .env("LEPTOS_SITE_ROOT", "target/site")
            .env("LEPTOS_SITE_PKG_DIR", "pkg")
            .env("LEPTOS_SITE_ADDR", addr.to_string())
            .env("LEPTOS_RELOAD_PORT", free_port().to_string())
            .env("REDCHAT_REDIS__KEY_PREFIX", key_prefix)
            .env("REDCHAT_SESSION__COOKIE_SECURE", "false")
            // Several test people sign up from 127.0.0.1 in a moment.
            .env("REDCHAT_LIMITS__SIGNUP_PER_ADDRESS__BURST", "1000")
            .env("RUST_LOG", "warn")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("the redchat binary starts");
        let server = Self { child, addr };
        for _ in 0..100 {
            if let Ok(response) = reqwest::get(server.url("/healthz")).await {
                if response.status() == 200 {
                    return server;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the redchat process did not become healthy on {addr}");
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A signed-in client: a fresh account with this handle.
pub async fn person(app: &TestApp, handle: &str) -> reqwest::Client {
    let client = TestApp::client();
    let response = app
        .register(&client, &format!("{handle}@example.com"), handle)
        .await;
    assert_eq!(response.status(), 200);
    client
}

/// The JSON of a response that must be 200.
pub async fn ok_json(response: reqwest::Response) -> serde_json::Value {
    let status = response.status();
    let body = response.text().await.unwrap();
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

/// Anything serving the app over HTTP: an in-process [`TestApp`] or a
/// [`ServerProcess`].
pub trait Server {
    fn url(&self, path: &str) -> String;
}

impl Server for TestApp {
    fn url(&self, path: &str) -> String {
        TestApp::url(self, path)
    }
}

impl Server for ServerProcess {
    fn url(&self, path: &str) -> String {
        ServerProcess::url(self, path)
    }
}

/// Calls a server function on any server.
pub async fn call_on(
    server: &impl Server,
    client: &reqwest::Client,
    endpoint: &str,
    form: &[(&str, &str)],
) -> reqwest::Response {
    client
        .post(server.url(&format!("/api/{endpoint}")))
        .form(form)
        .send()
        .await
        .expect("the server answers")
}

/// A signed-in client of any server: a fresh account with this handle.
pub async fn person_on(server: &impl Server, handle: &str) -> reqwest::Client {
    let client = TestApp::client();
    let email = format!("{handle}@example.com");
    let form = [
        ("email", email.as_str()),
        ("password", PASSWORD),
        ("display_name", handle),
        ("handle", handle),
    ];
    ok_json(call_on(server, &client, "register", &form).await).await;
    client
}

/// A public room "general" created by `owner` and joined by `members`.
pub async fn public_room(
    server: &impl Server,
    owner: &reqwest::Client,
    members: &[&reqwest::Client],
) -> String {
    let room = ok_json(
        call_on(
            server,
            owner,
            "create_room",
            &[("name", "general"), ("private", "false")],
        )
        .await,
    )
    .await;
    let id = room["id"].as_str().expect("a room id").to_owned();
    for member in members {
        ok_json(call_on(server, member, "join_room", &[("room_id", &id)]).await).await;
    }
    id
}

/// A private room "secret" created by `owner`.
pub async fn private_room(server: &impl Server, owner: &reqwest::Client) -> String {
    let room = ok_json(
        call_on(
            server,
            owner,
            "create_room",
            &[("name", "secret"), ("private", "true")],
        )
        .await,
    )
    .await;
    room["id"].as_str().expect("a room id").to_owned()
}

/// Sends a message with a fresh client message id; the stored message.
pub async fn send_text(
    server: &impl Server,
    client: &reqwest::Client,
    room: &str,
    body: &str,
) -> serde_json::Value {
    let cmid = uuid::Uuid::new_v4().to_string();
    ok_json(
        call_on(
            server,
            client,
            "send_message",
            &[("room_id", room), ("body", body), ("client_msg_id", &cmid)],
        )
        .await,
    )
    .await
}
