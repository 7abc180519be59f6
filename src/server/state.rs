//! The state every request handler and server function shares.

use std::sync::Arc;

use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use leptos::prelude::use_context;
use redis::aio::ConnectionManager;

use super::config::Settings;
use super::cpu::CpuGate;
use super::keys::Keys;
use crate::error::{AppError, AppResult};

/// Cheap to clone: every field is a handle to shared data.
#[derive(Clone)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub settings: Arc<Settings>,
    /// The process's one multiplexed command connection.
    pub redis: ConnectionManager,
    pub keys: Keys,
    /// Bounds password hashing (see [`CpuGate`]).
    pub cpu: CpuGate,
}

impl AppState {
    /// Assembles the state; the Redis connection is made on first use.
    pub fn new(
        leptos_options: LeptosOptions,
        settings: Settings,
    ) -> Result<Self, redis::RedisError> {
        let redis = super::redis::connect(&settings.redis)?;
        Ok(Self {
            leptos_options,
            keys: Keys::new(&settings.redis.key_prefix),
            cpu: CpuGate::new(settings.auth.max_concurrent_hashes),
            settings: Arc::new(settings),
            redis,
        })
    }

    /// The state, inside a server function (provided by the router).
    pub fn current() -> AppResult<Self> {
        use_context::<Self>()
            .ok_or_else(|| AppError::internal("app state", "AppState is not in the context"))
    }

    /// A handle on the shared Redis connection.
    pub fn redis(&self) -> ConnectionManager {
        self.redis.clone()
    }
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}
