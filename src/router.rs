//! The composition root: builds the axum router from the UI, the features
//! and the server infrastructure, and runs the server.
//!
//! [`router`] is what tests call: it takes a ready [`AppState`] and returns
//! the whole app, so an integration test serves exactly what production does.

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use leptos::config::get_configuration;
use leptos::prelude::provide_context;
use leptos::server_fn::error::SERVER_FN_ERROR_HEADER;
use leptos_axum::{
    file_and_error_handler_with_context, generate_route_list, AxumRouteListing, LeptosRoutes,
};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::trace::{DefaultMakeSpan, TraceLayer};
use tower_sessions::cookie::{time, SameSite};
use tower_sessions::{Expiry, Session, SessionManagerLayer};
use tracing::Level;

use crate::app::{shell, App};
use crate::error::AppError;
use crate::server::config::Settings;
use crate::server::http_security;
use crate::server::session_store::RedisSessionStore;
use crate::server::sse::{self, EventStream};
use crate::server::state::AppState;

/// Runs the server until SIGTERM or Ctrl-C, then lets in-flight requests
/// finish.
pub async fn serve() -> Result<(), Box<dyn std::error::Error>> {
    let leptos = get_configuration(None)?;
    let addr = leptos.leptos_options.site_addr;
    let settings = Settings::load()?;
    let app = Application::build(leptos.leptos_options, settings, addr).await?;
    crate::auth::warm_up_password_hashing(&app.state.cpu).await?;
    let redis = &app.state.settings.redis;
    tracing::info!(
        "Redchat is listening on http://{}, Redis: {}: {}",
        app.local_addr()?,
        redis.describe(),
        crate::server::redis::describe_live(&app.state.redis()).await
    );
    app.run_until(shutdown_signal()).await?;
    tracing::info!("Redchat stopped");
    Ok(())
}

/// The whole server, bound and ready: what `main` runs and what the
/// integration tests start (on port 0), so both serve the same wiring.
pub struct Application {
    pub state: AppState,
    listener: tokio::net::TcpListener,
    app: Router,
}

impl Application {
    /// Connects to Redis (lazily; see `AppState::new`), binds `addr` and
    /// builds the router (which starts the process's background tasks).
    pub async fn build(
        leptos_options: leptos::config::LeptosOptions,
        settings: Settings,
        addr: SocketAddr,
    ) -> Result<Self, Box<dyn std::error::Error>> {
        let described = settings.redis.describe();
        let state = AppState::new(leptos_options, settings)
            .map_err(|err| format!("bad Redis settings for {described}: {err}"))?;
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let app = router(state.clone());
        Ok(Self {
            state,
            listener,
            app,
        })
    }

    /// The address it listens on (the port chosen, for port 0).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` resolves, then ends the event streams (so
    /// graceful shutdown does not wait for them) and lets in-flight
    /// requests finish.
    pub async fn run_until(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let closing = self.state.clone();
        axum::serve(
            self.listener,
            self.app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            shutdown.await;
            closing.close_event_streams();
        })
        .await
    }
}

/// The largest request body accepted (413 beyond). The biggest legitimate
/// body, a sign-up with a 1024-character password, is a few KiB.
pub const MAX_REQUEST_BYTES: usize = 64 * 1024;

/// The whole app: pages, server functions, health check, static files.
/// Also starts the process's background tasks (the presence sweeper, the
/// profile cache's invalidation listener and the one-time word index
/// backfill of the public directory).
///
/// `leptos_routes_with_context` mounts every server function at its
/// `/api/{endpoint}` path and every page route, each with the state in the
/// Leptos context.
pub(crate) fn router(state: AppState) -> Router {
    let provide_state = {
        let state = state.clone();
        move || {
            provide_context(state.clone());
            // A page's nonce is the one its policy names, minted by the
            // security headers' layer before the render (replacing the one
            // leptos_axum provides).
            let minted = leptos::prelude::use_context::<axum::http::request::Parts>()
                .and_then(|parts| parts.extensions.get::<http_security::PageNonce>().cloned());
            if let Some(minted) = minted {
                provide_context(leptos::nonce::Nonce::from_value(minted.0));
            }
        }
    };
    let sessions = session_layer(&state);
    state.register_as_fallback();
    crate::presence::start_sweeper(&state);
    crate::rooms::start_word_index_backfill(&state);
    crate::auth::start_profile_invalidation(&state);
    Router::new()
        .route("/healthz", get(healthz))
        .route("/api/events", get(events))
        .route("/metrics", get(crate::server::metrics::metrics))
        .leptos_routes_with_context(&state, route_list(), provide_state.clone(), {
            let options = state.leptos_options.clone();
            move || page(options.clone())
        })
        .fallback(file_and_error_handler_with_context::<AppState, _>(
            provide_state,
            page,
        ))
        .layer(middleware::from_fn(error_status))
        .layer(middleware::from_fn(crate::server::metrics::count_requests))
        .layer(sessions)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            http_security::same_origin_only,
        ))
        .layer(RequestBodyLimitLayer::new(MAX_REQUEST_BYTES))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            http_security::security_headers,
        ))
        // The span at `info`, so that every line a request logs (a 500 above
        // all) names its method and path; the layer's own per-request events
        // stay at `debug`, and it logs no failures of its own: a 500 is
        // logged once, with its cause, by `WireError`'s `From`.
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(DefaultMakeSpan::new().level(Level::INFO))
                .on_failure(()),
        )
        .with_state(state)
}

/// The app's routes, generated once per process. Generating them renders
/// the app with resource loading switched off for the whole process
/// (`leptos_server`'s `SuppressResourceLoad` is a global flag): a page that
/// another server in the same process renders meanwhile would wait for its
/// resources forever. Production builds one router, before it serves; the
/// integration tests start many servers in one process, and a test's page
/// hung whenever another test built its router at that moment.
fn route_list() -> Vec<AxumRouteListing> {
    static ROUTES: std::sync::OnceLock<Vec<AxumRouteListing>> = std::sync::OnceLock::new();
    ROUTES.get_or_init(|| generate_route_list(App)).clone()
}

/// A page: the shell. Its Content-Security-Policy, which allows exactly
/// the inline scripts carrying this response's nonce (Leptos's hydration
/// and resource scripts), is set by `http_security::security_headers`,
/// which minted the nonce.
fn page(options: leptos::config::LeptosOptions) -> impl leptos::IntoView {
    shell(options)
}

/// Sessions in Redis behind an HttpOnly, SameSite=Lax cookie. The layer's
/// expiry is only the default for a new, anonymous session; a signed-in
/// session's expiry is set by `auth::session` (inactivity and absolute).
fn session_layer(state: &AppState) -> SessionManagerLayer<RedisSessionStore> {
    let settings = &state.settings.session;
    let inactivity = i64::try_from(settings.inactivity().as_secs()).unwrap_or(i64::MAX);
    SessionManagerLayer::new(RedisSessionStore::new(
        state.redis(),
        state.keys.clone(),
        std::time::Duration::from_secs(settings.cache_secs),
    ))
    .with_name(settings.cookie_name())
    .with_secure(settings.cookie_secure)
    .with_http_only(true)
    .with_same_site(SameSite::Lax)
    .with_path("/")
    .with_expiry(Expiry::OnInactivity(time::Duration::seconds(inactivity)))
}

/// Server functions answer every error with 500; this gives each error its
/// real status (and `Retry-After` for 429) from the [`AppError`] in the body.
/// Plain form posts are redirects, not errors, and pass untouched.
async fn error_status(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    if response.status() != StatusCode::INTERNAL_SERVER_ERROR
        || !response.headers().contains_key(SERVER_FN_ERROR_HEADER)
    {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 64 * 1024).await else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response();
    };
    if let Ok(err) = serde_json::from_slice::<AppError>(&bytes) {
        parts.status =
            StatusCode::from_u16(err.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if let Some(seconds) = err.retry_after_secs() {
            parts
                .headers
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
    }
    Response::from_parts(parts, Body::from(bytes))
}

/// `GET /api/events`: the signed-in user's event stream (401 otherwise).
/// At most `limits.streams_per_session`, `streams_per_user` and
/// `streams_per_address` open at once (429 beyond).
async fn events(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    session: Session,
) -> Result<EventStream, AppError> {
    let user_id = crate::auth::session::user_id(&state, &session)
        .await?
        .ok_or_else(AppError::not_signed_in)?;
    let handle = crate::auth::session::handle(&session).await?;
    let expires_at = crate::auth::session::expires_at(&state, &session).await?;
    // The caps first: a refused stream costs no subscription and no read
    // of the user's rooms.
    let address = crate::limits::address_of(&state, peer, &headers);
    let lease = crate::limits::streams::acquire(
        &state,
        &user_id,
        handle.as_deref().unwrap_or_default(),
        &address,
    )
    .await?;
    let opening = async {
        let personal = sse::subscribe_personal(&state.hub, &state.keys, &user_id).await;
        // Again, now that a revocation would reach the stream: one published
        // between the first check and the subscription must not be missed.
        if crate::auth::session::user_id(&state, &session)
            .await?
            .is_none()
        {
            return Err(AppError::not_signed_in());
        }
        let room_ids = crate::rooms::access::joined_room_ids(&state, &user_id).await?;
        Ok((personal, room_ids))
    };
    let (personal, room_ids) = match opening.await {
        Ok(opened) => opened,
        Err(err) => {
            lease.release(&state).await;
            return Err(err);
        }
    };
    // The user is online while this stream is open.
    let presence = crate::presence::connect(state.clone(), user_id.clone(), lease).await;
    let owner = sse::Owner {
        user_id,
        session_handle: handle,
        session_expires_at: expires_at,
    };
    Ok(sse::open(&state, personal, room_ids, owner, presence).await)
}

/// `GET /healthz`: 200 when Redis answers a PING in time, 503 otherwise.
async fn healthz(State(state): State<AppState>) -> (StatusCode, &'static str) {
    let mut redis = state.redis();
    let ping = redis::cmd("PING");
    match tokio::time::timeout(
        state.settings.redis.timeout(),
        ping.query_async::<String>(&mut redis),
    )
    .await
    {
        Ok(Ok(_)) => (StatusCode::OK, "ok"),
        Ok(Err(err)) => {
            tracing::warn!(%err, "health check: Redis failed");
            (StatusCode::SERVICE_UNAVAILABLE, "redis unavailable")
        }
        Err(_) => {
            tracing::warn!("health check: Redis timed out");
            (StatusCode::SERVICE_UNAVAILABLE, "redis unavailable")
        }
    }
}

/// Resolves on Ctrl-C or SIGTERM.
pub(crate) async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::error!(%err, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(err) => {
                tracing::error!(%err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
