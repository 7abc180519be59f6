//! The Redchat server: load settings, connect, serve until SIGTERM or Ctrl-C.

#[cfg(feature = "ssr")]
#[tokio::main]
async fn main() -> std::process::ExitCode {
    redchat::server::telemetry::init();
    match redchat::router::serve().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!("redchat stopped: {err}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// The browser build has no `main`; its entry point is `redchat::hydrate`.
#[cfg(not(feature = "ssr"))]
fn main() {}
