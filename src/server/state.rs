//! The state every request handler and server function shares.

use std::sync::Arc;

use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use leptos::prelude::use_context;
use tokio::sync::watch;

use super::config::Settings;
use super::cpu::CpuGate;
use super::hub::Hub;
use super::keys::Keys;
use super::redis::Redis;
use crate::error::{AppError, AppResult};

/// See [`AppState::current`].
static FIRST: std::sync::OnceLock<AppState> = std::sync::OnceLock::new();

/// Cheap to clone: every field is a handle to shared data.
#[derive(Clone)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub settings: Arc<Settings>,
    /// The process's one multiplexed command connection.
    pub redis: Redis,
    pub keys: Keys,
    /// Bounds password hashing (see [`CpuGate`]).
    pub(crate) cpu: CpuGate,
    /// The process's one Pub/Sub connection, fanned out to event streams.
    pub hub: Hub,
    /// Public profiles, cached in this process (the one piece of a
    /// feature's data the shared state holds; see `auth::profiles`).
    pub(crate) profiles: crate::auth::ProfileCache,
    /// Turns true when the server shuts down; event streams end then, so
    /// graceful shutdown does not wait on them forever.
    shutdown: Arc<watch::Sender<bool>>,
}

impl AppState {
    /// Assembles the state and starts the Pub/Sub hub; the command
    /// connection is made on first use. Call inside a tokio runtime.
    pub(crate) fn new(
        leptos_options: LeptosOptions,
        settings: Settings,
    ) -> Result<Self, redis::RedisError> {
        let redis = super::redis::connect(&settings.redis)?;
        let hub = Hub::start(&settings.redis)?;
        Ok(Self {
            hub,
            shutdown: Arc::new(watch::channel(false).0),
            leptos_options,
            keys: Keys::new(&settings.redis.key_prefix),
            cpu: CpuGate::new(
                settings.auth.max_concurrent_hashes,
                settings.auth.max_waiting_hashes,
            ),
            profiles: crate::auth::ProfileCache::new(),
            settings: Arc::new(settings),
            redis,
        })
    }

    /// The state, inside a server function (provided by the router).
    ///
    /// Falls back to the process's first state when the reactive context
    /// has none: during server rendering, a resource's server function was
    /// seen (intermittently, on page reloads) running without the state in
    /// its context, which failed the render and then the page's hydration.
    /// The cause was a resource created inside a Transition, which the
    /// server builds more than once and disposes of while it loads; server
    /// functions also read the state before their first `.await` now.
    /// A process serves one app, so the first state is the right one; only
    /// a test process that runs several apps could pick another's.
    pub(crate) fn current() -> AppResult<Self> {
        if let Some(state) = use_context::<Self>() {
            return Ok(state);
        }
        // Should no longer happen since the room list's resource moved out
        // of the home page's Transition (ui::chat); logged so it is seen.
        tracing::warn!("AppState missing from the reactive context; using the process's");
        FIRST
            .get()
            .cloned()
            .ok_or_else(|| AppError::internal("app state", "AppState is not in the context"))
    }

    /// Remembers this state as the process's fallback (see [`Self::current`]);
    /// the first one registered stays.
    pub(crate) fn register_as_fallback(&self) {
        let _ = FIRST.set(self.clone());
    }

    /// Ends every open event stream (at shutdown).
    pub(crate) fn close_event_streams(&self) {
        self.shutdown.send_replace(true);
    }

    /// What an event stream watches to know the server is shutting down.
    pub(crate) fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }

    /// A handle on the shared Redis connection.
    pub(crate) fn redis(&self) -> Redis {
        self.redis.clone()
    }
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}
