//! The connection to Redis.
//!
//! One multiplexed [`ConnectionManager`] per process carries every command:
//! it pipelines concurrent requests over a single socket and reconnects on
//! its own after a failure. Cloning it is cheap and shares that socket.

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{IntoConnectionInfo, RedisError};

use super::config::RedisSettings;
use crate::error::AppError;

/// Creates the shared connection, with credentials from the environment.
///
/// The connection is lazy: it is made on first use, and the server starts
/// even while Redis is down (answering 503 on `/healthz` until it is up)
/// rather than exiting and leaving an orchestrator in a restart loop.
pub fn connect(settings: &RedisSettings) -> Result<ConnectionManager, RedisError> {
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(settings.timeout()))
        .set_response_timeout(Some(settings.timeout()));
    ConnectionManager::new_lazy_with_config(client(settings)?, config)
}

/// A client for the configured Redis, with credentials from the environment
/// (the hub opens its Pub/Sub connection with it).
pub fn client(settings: &RedisSettings) -> Result<redis::Client, RedisError> {
    install_tls_provider();
    let info = settings.url.as_str().into_connection_info()?;
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
pub fn install_tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Redis failures are our fault, not the client's: log the detail, answer 500.
impl From<RedisError> for AppError {
    fn from(err: RedisError) -> Self {
        AppError::internal("redis command failed", err)
    }
}
