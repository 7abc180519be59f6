//! Runtime settings, read once at start from `Leptos.toml` and the
//! environment.
//!
//! Every setting has a default (the `Default` impls below, repeated in the
//! shipped `Leptos.toml`) and can be overridden by an environment variable
//! named `REDCHAT_<SECTION>__<KEY>`, e.g. `REDCHAT_REDIS__URL`. The file is
//! looked up at `$REDCHAT_CONFIG`, else `./Leptos.toml`; a missing file means
//! all defaults.
//!
//! Secrets never come from the file: the Redis username and password are read
//! only from `REDCHAT_REDIS_USERNAME` and `REDCHAT_REDIS_PASSWORD`.
//!
//! cargo-leptos's build settings are not here: it reads them from
//! `[package.metadata.leptos]` in `Cargo.toml`, and the server gets the
//! resulting `LEPTOS_*` variables through `leptos::config::get_configuration`.

use std::time::Duration;

use serde::Deserialize;

/// All runtime settings.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Settings {
    pub redis: RedisSettings,
    pub session: SessionSettings,
    pub auth: AuthSettings,
    pub messages: MessageSettings,
    pub limits: LimitSettings,
    pub security: SecuritySettings,
    pub metrics: MetricsSettings,
}

/// Who may read `GET /metrics`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MetricsAccess {
    /// Nobody: the route answers 404.
    Off,
    /// Clients on a loopback address (a Prometheus beside the app, or
    /// scraping through an SSH tunnel).
    #[default]
    Loopback,
    /// Requests with `Authorization: Bearer <REDCHAT_METRICS_TOKEN>`.
    Token,
}

/// The metrics route.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct MetricsSettings {
    pub access: MetricsAccess,
    /// Read from `REDCHAT_METRICS_TOKEN` only.
    #[serde(skip)]
    pub token: Option<String>,
}

/// Which kind of Redis deployment the app talks to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Topology {
    /// One server (or a managed endpoint that fails over behind one
    /// address): `redis.url`.
    #[default]
    Standalone,
    /// A primary with replicas, watched by Sentinels: `redis.sentinels`
    /// and `redis.master_name`. The app asks the Sentinels for the primary
    /// and asks again whenever the primary stops answering as one.
    Sentinel,
    /// Redis Cluster: `redis.cluster_nodes` (any few of its nodes).
    Cluster,
}

/// Where Redis is and how our keys are named.
#[derive(Clone, Deserialize)]
#[serde(default)]
pub struct RedisSettings {
    /// `standalone`, `sentinel` or `cluster`.
    pub topology: Topology,
    /// Standalone: `redis://host:port/db` or `rediss://` for TLS.
    /// Credentials belong in the environment (see the module docs), not in
    /// this URL.
    pub url: String,
    /// Sentinel: the Sentinels' addresses, `redis://host:port` each.
    pub sentinels: Vec<String>,
    /// Sentinel: the name the Sentinels monitor the primary under.
    pub master_name: String,
    /// Cluster: seed nodes, `redis://host:port` each; the rest of the
    /// cluster is discovered from them.
    pub cluster_nodes: Vec<String>,
    /// Durability: a sent message is acknowledged only once this many
    /// replicas have it (`WAIT`). 0 acknowledges once the primary has it.
    pub wait_replicas: u32,
    /// How long a send waits for those replicas before it is answered
    /// with an error (which the client retries; the retry is deduplicated).
    pub wait_timeout_ms: u64,
    /// Prepended to every key and channel the app uses, so several apps (or
    /// test runs) can share one Redis and an ACL can confine the app to it.
    pub key_prefix: String,
    /// How long to wait for a connection or a reply before giving up.
    pub timeout_ms: u64,
    /// For `rediss://`: a PEM file of the certificate authority to trust
    /// instead of the system's (a private CA, as Redis deployments often
    /// use). Empty: the system's roots.
    pub tls_ca_file: String,
    /// Read from `REDCHAT_REDIS_USERNAME` only.
    #[serde(skip)]
    pub username: Option<String>,
    /// Read from `REDCHAT_REDIS_PASSWORD` only.
    #[serde(skip)]
    pub password: Option<String>,
    /// Read from `REDCHAT_REDIS_SENTINEL_USERNAME` only.
    #[serde(skip)]
    pub sentinel_username: Option<String>,
    /// Read from `REDCHAT_REDIS_SENTINEL_PASSWORD` only.
    #[serde(skip)]
    pub sentinel_password: Option<String>,
}

impl Default for RedisSettings {
    fn default() -> Self {
        Self {
            topology: Topology::Standalone,
            url: "redis://127.0.0.1:6380".into(),
            sentinels: Vec::new(),
            master_name: "redchat".into(),
            cluster_nodes: Vec::new(),
            wait_replicas: 0,
            wait_timeout_ms: 1_000,
            key_prefix: "redchat:".into(),
            timeout_ms: 2_000,
            tls_ca_file: String::new(),
            username: None,
            password: None,
            sentinel_username: None,
            sentinel_password: None,
        }
    }
}

impl RedisSettings {
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }

    pub fn wait_timeout(&self) -> Duration {
        Duration::from_millis(self.wait_timeout_ms)
    }

    /// The URL with any `user:password@` removed, for logs.
    pub fn redacted_url(&self) -> String {
        redact(&self.url)
    }

    /// Where Redis is, for logs: the URL, the Sentinels or the seed nodes,
    /// without credentials.
    pub fn describe(&self) -> String {
        let list = |urls: &[String]| {
            urls.iter()
                .map(|url| redact(url))
                .collect::<Vec<_>>()
                .join(", ")
        };
        match self.topology {
            Topology::Standalone => self.redacted_url(),
            Topology::Sentinel => format!(
                "primary \"{}\" from the Sentinels at {}",
                self.master_name,
                list(&self.sentinels)
            ),
            Topology::Cluster => format!("the cluster seeded by {}", list(&self.cluster_nodes)),
        }
    }
}

fn redact(url: &str) -> String {
    match (url.split_once("://"), url.rfind('@')) {
        (Some((scheme, _)), Some(at)) => format!("{scheme}://***@{}", &url[at + 1..]),
        _ => url.to_owned(),
    }
}

/// Written by hand so that neither the password nor a password inside the
/// URL ever reaches a log.
impl std::fmt::Debug for RedisSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisSettings")
            .field("topology", &self.topology)
            .field("url", &self.redacted_url())
            .field(
                "sentinels",
                &self
                    .sentinels
                    .iter()
                    .map(|url| redact(url))
                    .collect::<Vec<_>>(),
            )
            .field("master_name", &self.master_name)
            .field(
                "cluster_nodes",
                &self
                    .cluster_nodes
                    .iter()
                    .map(|url| redact(url))
                    .collect::<Vec<_>>(),
            )
            .field("wait_replicas", &self.wait_replicas)
            .field("wait_timeout_ms", &self.wait_timeout_ms)
            .field("key_prefix", &self.key_prefix)
            .field("timeout_ms", &self.timeout_ms)
            .field("tls_ca_file", &self.tls_ca_file)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("sentinel_username", &self.sentinel_username)
            .field(
                "sentinel_password",
                &self.sentinel_password.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// The session cookie and how long a sign-in lasts.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct SessionSettings {
    pub cookie_name: String,
    /// Send the cookie over HTTPS only. On by default; the dev and test
    /// scripts turn it off because they serve plain HTTP on loopback.
    pub cookie_secure: bool,
    /// A session unused this long is gone. Signed-in requests push the
    /// expiry (and the Redis key's TTL) forward, at most once a minute.
    pub inactivity_days: f64,
    /// A session is gone this long after sign-in, however active it is.
    pub absolute_days: f64,
    /// How long a process may use its cached copy of a session record
    /// before reading Redis again (0: no cache). See `session_store`.
    pub cache_secs: u64,
}

impl Default for SessionSettings {
    fn default() -> Self {
        Self {
            cookie_name: "redchat_session".into(),
            cookie_secure: true,
            inactivity_days: 7.0,
            absolute_days: 30.0,
            cache_secs: 60,
        }
    }
}

impl SessionSettings {
    /// The cookie's name as sent: with `cookie_secure`, prefixed `__Host-`,
    /// which browsers accept only from a secure page, with `Secure`,
    /// `Path=/` and no `Domain`, so a neighbouring subdomain or a
    /// plain-HTTP page cannot plant or overwrite it.
    pub fn cookie_name(&self) -> String {
        if self.cookie_secure && !self.cookie_name.starts_with("__Host-") {
            format!("__Host-{}", self.cookie_name)
        } else {
            self.cookie_name.clone()
        }
    }

    pub fn inactivity(&self) -> Duration {
        Duration::from_secs_f64(self.inactivity_days * 86_400.0)
    }

    pub fn absolute(&self) -> Duration {
        Duration::from_secs_f64(self.absolute_days * 86_400.0)
    }
}

/// Password hashing.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct AuthSettings {
    /// How many argon2 hashes may run at once. Each takes ~19 MiB and one
    /// core for tens of milliseconds; more than the core count only queues.
    pub max_concurrent_hashes: usize,
    /// How many sign-ins may wait for a hash slot; beyond that they get 429
    /// at once instead of queueing.
    pub max_waiting_hashes: usize,
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            max_concurrent_hashes: 2,
            max_waiting_hashes: 32,
        }
    }
}

/// How long messages are kept.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct MessageSettings {
    /// Messages older than this are trimmed from a room's stream, and a
    /// room without a new message for this long loses its stream key.
    pub retention_secs: u64,
    /// At most about this many messages are kept per room (`MAXLEN ~`).
    pub max_per_room: u64,
    /// Whether sends, edits and deletes keep the message search index
    /// (`search::index`). Off, nothing is indexed and `search` answers 404.
    pub search_index: bool,
}

impl Default for MessageSettings {
    fn default() -> Self {
        Self {
            retention_secs: 30 * 86_400,
            max_per_room: 10_000,
            search_index: true,
        }
    }
}

/// One rate limit: `burst` actions at once, then `per_minute` (spread
/// evenly: one every `60 / per_minute` seconds).
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
pub struct Rate {
    pub burst: u32,
    pub per_minute: f64,
}

impl Rate {
    pub const fn new(burst: u32, per_minute: f64) -> Self {
        Self { burst, per_minute }
    }

    fn validate(&self, name: &str) -> Result<(), String> {
        if self.burst == 0 || !(self.per_minute > 0.0 && self.per_minute.is_finite()) {
            return Err(format!(
                "limits.{name} needs a burst of at least 1 and a positive per_minute"
            ));
        }
        Ok(())
    }
}

/// Abuse controls, each enforced in Redis (see `limits`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct LimitSettings {
    /// Messages per user in one room.
    pub send_per_room: Rate,
    /// Messages per user across all rooms.
    pub send_per_user: Rate,
    /// Failed sign-ins per account from one address (the strict one).
    pub login_failures_per_account: Rate,
    /// Failed sign-ins per account from all addresses together (looser:
    /// high enough that a stranger's guesses cannot lock the owner out, low
    /// enough to stop a distributed guessing run).
    pub login_failures_per_account_total: Rate,
    /// Sign-in attempts per client address.
    pub login_per_address: Rate,
    /// Sign-ups per client address.
    pub signup_per_address: Rate,
    /// Invitations sent per user.
    pub invite_per_user: Rate,
    /// Rooms created per user.
    pub create_room_per_user: Rate,
    /// Bytes of message bodies per user across all rooms: `burst` bytes at
    /// once, then `per_minute` bytes a minute (paid by the send script).
    pub send_bytes_per_user: Rate,
    /// Joins and leaves per user (each fans out to the user's streams and
    /// the room's members).
    pub membership_per_user: Rate,
    /// `typing` calls per user (the event itself is also throttled per
    /// room).
    pub typing_per_user: Rate,
    /// Reads per user: `rooms`, `history`, `members`, `online`,
    /// `notifications`, `sessions`.
    pub reads_per_user: Rate,
    /// Marks per user: `mark_read`, `mark_room_read`.
    pub mark_read_per_user: Rate,
    /// Account changes per user: `update_profile`, `revoke_session`,
    /// `sign_out_everywhere` (`change_password` counts as a sign-in).
    pub account_per_user: Rate,
    /// Edits and deletions of messages per user.
    pub edits_per_user: Rate,
    /// Reactions (and taking them back) per user.
    pub reactions_per_user: Rate,
    /// Message searches per user.
    pub searches_per_user: Rate,
    /// Open event streams (`GET /api/events`) per session, per user and
    /// per client address, across all processes; more are answered 429.
    pub streams_per_session: u32,
    pub streams_per_user: u32,
    pub streams_per_address: u32,
    /// When set, the client address is the last entry of this request
    /// header (e.g. `x-forwarded-for`), written by a proxy you run. Leave it
    /// empty when clients reach the app directly: a header from the client
    /// itself could be anything.
    pub trusted_proxy_header: String,
}

impl Default for LimitSettings {
    fn default() -> Self {
        Self {
            send_per_room: Rate::new(5, 60.0),
            send_per_user: Rate::new(10, 600.0),
            login_failures_per_account: Rate::new(5, 1.0 / 3.0),
            login_failures_per_account_total: Rate::new(50, 50.0 / 15.0),
            login_per_address: Rate::new(20, 20.0),
            signup_per_address: Rate::new(5, 5.0 / 60.0),
            invite_per_user: Rate::new(20, 20.0 / 60.0),
            create_room_per_user: Rate::new(10, 10.0 / 60.0),
            send_bytes_per_user: Rate::new(100_000, 600_000.0),
            membership_per_user: Rate::new(30, 30.0),
            typing_per_user: Rate::new(30, 120.0),
            reads_per_user: Rate::new(120, 600.0),
            mark_read_per_user: Rate::new(60, 300.0),
            edits_per_user: Rate::new(30, 60.0),
            reactions_per_user: Rate::new(60, 120.0),
            searches_per_user: Rate::new(20, 60.0),
            account_per_user: Rate::new(10, 10.0),
            streams_per_session: 10,
            streams_per_user: 30,
            streams_per_address: 200,
            trusted_proxy_header: String::new(),
        }
    }
}

impl LimitSettings {
    fn validate(&self) -> Result<(), String> {
        self.send_per_room.validate("send_per_room")?;
        self.send_per_user.validate("send_per_user")?;
        self.login_failures_per_account
            .validate("login_failures_per_account")?;
        self.login_failures_per_account_total
            .validate("login_failures_per_account_total")?;
        self.login_per_address.validate("login_per_address")?;
        self.signup_per_address.validate("signup_per_address")?;
        self.invite_per_user.validate("invite_per_user")?;
        self.create_room_per_user.validate("create_room_per_user")?;
        self.send_bytes_per_user.validate("send_bytes_per_user")?;
        self.membership_per_user.validate("membership_per_user")?;
        self.typing_per_user.validate("typing_per_user")?;
        self.reads_per_user.validate("reads_per_user")?;
        self.mark_read_per_user.validate("mark_read_per_user")?;
        self.edits_per_user.validate("edits_per_user")?;
        self.reactions_per_user.validate("reactions_per_user")?;
        self.searches_per_user.validate("searches_per_user")?;
        self.account_per_user.validate("account_per_user")?;
        if self.send_bytes_per_user.burst < 12_000 {
            // A message of the largest size could never be sent.
            return Err("limits.send_bytes_per_user needs a burst of at least 12000 bytes".into());
        }
        if self.streams_per_session == 0
            || self.streams_per_session > self.streams_per_user
            || self.streams_per_user > self.streams_per_address
        {
            return Err("limits.streams_per_session, streams_per_user and streams_per_address must be at least 1 and each at most the next".into());
        }
        Ok(())
    }
}

/// Cross-site request checks.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct SecuritySettings {
    /// Origins (`https://chat.example.com`) allowed to send state-changing
    /// requests. Empty: the request's own `Host`, over http or https.
    pub allowed_origins: Vec<String>,
}

impl Settings {
    /// Reads `$REDCHAT_CONFIG` (which must exist when set) or else
    /// `./Leptos.toml` (optional), then the `REDCHAT_*` environment, then the
    /// secret variables, and checks the result.
    pub fn load() -> Result<Self, config::ConfigError> {
        let (path, required) = match std::env::var("REDCHAT_CONFIG") {
            Ok(path) => (path, true),
            Err(_) => ("Leptos.toml".to_owned(), false),
        };
        let mut settings: Settings = config::Config::builder()
            .add_source(config::File::new(&path, config::FileFormat::Toml).required(required))
            .add_source(
                config::Environment::with_prefix("REDCHAT")
                    .prefix_separator("_")
                    .separator("__")
                    .try_parsing(true)
                    .list_separator(",")
                    .with_list_parse_key("security.allowed_origins")
                    .with_list_parse_key("redis.sentinels")
                    .with_list_parse_key("redis.cluster_nodes"),
            )
            .build()?
            .try_deserialize()?;
        settings.redis.username = non_empty_env("REDCHAT_REDIS_USERNAME");
        settings.redis.password = non_empty_env("REDCHAT_REDIS_PASSWORD");
        settings.redis.sentinel_username = non_empty_env("REDCHAT_REDIS_SENTINEL_USERNAME");
        settings.redis.sentinel_password = non_empty_env("REDCHAT_REDIS_SENTINEL_PASSWORD");
        settings.metrics.token = non_empty_env("REDCHAT_METRICS_TOKEN");
        settings.validate().map_err(config::ConfigError::Message)?;
        Ok(settings)
    }

    /// Refuses settings that would break the app in a confusing way later.
    pub fn validate(&self) -> Result<(), String> {
        if self.redis.key_prefix.is_empty() {
            return Err("redis.key_prefix must not be empty".into());
        }
        if self.redis.key_prefix.contains(['{', '}']) {
            // Its hash tag would put every key in one cluster slot.
            return Err("redis.key_prefix must not contain braces".into());
        }
        if self.redis.wait_replicas > 0 && self.redis.wait_timeout_ms >= self.redis.timeout_ms {
            // The WAIT would be cut off by the reply timeout first.
            return Err("redis.wait_timeout_ms must be below redis.timeout_ms".into());
        }
        if self.metrics.access == MetricsAccess::Token && self.metrics.token.is_none() {
            return Err("metrics.access = \"token\" needs REDCHAT_METRICS_TOKEN".into());
        }
        if self.session.cookie_secure {
            if let Some(plain) = self
                .security
                .allowed_origins
                .iter()
                .find(|origin| !origin.to_ascii_lowercase().starts_with("https://"))
            {
                return Err(format!(
                    "security.allowed_origins: {plain} is not https://, but session.cookie_secure is on"
                ));
            }
        }
        match self.redis.topology {
            Topology::Sentinel if self.redis.sentinels.is_empty() => {
                return Err("redis.topology = \"sentinel\" needs redis.sentinels".into());
            }
            Topology::Sentinel if self.redis.master_name.is_empty() => {
                return Err("redis.topology = \"sentinel\" needs redis.master_name".into());
            }
            Topology::Cluster if self.redis.cluster_nodes.is_empty() => {
                return Err("redis.topology = \"cluster\" needs redis.cluster_nodes".into());
            }
            _ => {}
        }
        let tls = |url: &String| url.starts_with("rediss://");
        if self.redis.topology != Topology::Standalone
            && (!self.redis.tls_ca_file.is_empty()
                || self.redis.sentinels.iter().any(tls)
                || self.redis.cluster_nodes.iter().any(tls))
        {
            // Not wired through to the Sentinels' primaries or the cluster's
            // nodes yet; refused rather than silently sent in plain text.
            return Err(
                "TLS (rediss://, redis.tls_ca_file) works with the standalone topology only".into(),
            );
        }
        let session = &self.session;
        // Fractions of a day are allowed (0.5 is twelve hours), down to a
        // second, which only tests use.
        if !(1.0 / 86_400.0..=MAX_SESSION_DAYS).contains(&session.inactivity_days) {
            return Err(format!(
                "session.inactivity_days must be more than 0 and at most {MAX_SESSION_DAYS}"
            ));
        }
        if !(session.inactivity_days..=MAX_SESSION_DAYS).contains(&session.absolute_days) {
            return Err(format!(
                "session.absolute_days must be at least inactivity_days and at most {MAX_SESSION_DAYS}"
            ));
        }
        // Longer would let a copy outlive its record's renewals by too much
        // (and mini-moka refuses more than 1,000 years).
        if session.cache_secs > 3_600 {
            return Err("session.cache_secs must be 0 to 3600".into());
        }
        let max_retention = MAX_SESSION_DAYS as u64 * 86_400;
        if !(1..=max_retention).contains(&self.messages.retention_secs) {
            return Err(format!(
                "messages.retention_secs must be 1 to {max_retention} (ten years)"
            ));
        }
        self.limits.validate()?;
        if self.messages.max_per_room == 0 {
            return Err("messages.max_per_room must be at least 1".into());
        }
        if self.auth.max_waiting_hashes == 0 {
            return Err("auth.max_waiting_hashes must be at least 1".into());
        }
        if self.auth.max_concurrent_hashes == 0 {
            return Err("auth.max_concurrent_hashes must be at least 1".into());
        }
        Ok(())
    }
}

fn non_empty_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|value| !value.is_empty())
}

/// Ten years: far beyond any sensible session, far below any date overflow.
const MAX_SESSION_DAYS: f64 = 3650.0;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_valid() {
        assert_eq!(Settings::default().validate(), Ok(()));
    }

    #[test]
    fn the_shipped_settings_file_says_what_the_defaults_are() {
        let shipped: Settings = config::Config::builder()
            .add_source(config::File::new("Leptos.toml", config::FileFormat::Toml))
            .build()
            .and_then(config::Config::try_deserialize)
            .expect("Leptos.toml parses");
        assert_eq!(shipped.validate(), Ok(()));
        let defaults = Settings::default();
        assert_eq!(shipped.redis.url, defaults.redis.url);
        assert_eq!(
            shipped.messages.retention_secs,
            defaults.messages.retention_secs
        );
        assert_eq!(
            shipped.auth.max_waiting_hashes,
            defaults.auth.max_waiting_hashes
        );
        let pairs = [
            (shipped.limits.send_per_room, defaults.limits.send_per_room),
            (shipped.limits.send_per_user, defaults.limits.send_per_user),
            (
                shipped.limits.login_failures_per_account,
                defaults.limits.login_failures_per_account,
            ),
            (
                shipped.limits.login_failures_per_account_total,
                defaults.limits.login_failures_per_account_total,
            ),
            (
                shipped.limits.login_per_address,
                defaults.limits.login_per_address,
            ),
            (
                shipped.limits.signup_per_address,
                defaults.limits.signup_per_address,
            ),
            (
                shipped.limits.invite_per_user,
                defaults.limits.invite_per_user,
            ),
            (
                shipped.limits.create_room_per_user,
                defaults.limits.create_room_per_user,
            ),
        ];
        for (file, code) in pairs {
            assert_eq!(file.burst, code.burst);
            assert!(
                (file.per_minute - code.per_minute).abs() < 1e-6,
                "{file:?} {code:?}"
            );
        }
    }

    #[test]
    fn a_zero_inactivity_or_a_shorter_absolute_lifetime_is_refused() {
        let mut settings = Settings::default();
        settings.session.inactivity_days = 0.0;
        assert!(settings.validate().is_err());
        settings.session.inactivity_days = 7.0;
        settings.session.absolute_days = 6.0;
        assert!(settings.validate().is_err());
    }

    #[test]
    fn an_empty_key_prefix_is_refused() {
        let mut settings = Settings::default();
        settings.redis.key_prefix.clear();
        assert!(settings.validate().is_err());
    }

    #[test]
    fn credentials_never_show_in_debug_output() {
        let mut settings = Settings::default();
        settings.redis.url = "redis://app:url-secret@cache:6379/0".into();
        settings.redis.password = Some("env-secret".into());
        let debug = format!("{settings:?}");
        assert!(
            !debug.contains("url-secret") && !debug.contains("env-secret"),
            "{debug}"
        );
        assert!(debug.contains("redis://***@cache:6379/0"), "{debug}");
    }
}
