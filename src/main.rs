//! The Redchat server: load settings, connect, serve until SIGTERM or Ctrl-C.

#[cfg(feature = "ssr")]
fn main() -> std::process::ExitCode {
    // Before the runtime starts its threads.
    redchat::server::malloc::tune();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("redchat: cannot start the async runtime: {err}");
            return std::process::ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        redchat::server::telemetry::init();
        match redchat::router::serve().await {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(err) => {
                tracing::error!("redchat stopped: {err}");
                std::process::ExitCode::FAILURE
            }
        }
    })
}

/// The browser build has no `main`; its entry point is `redchat::hydrate`.
#[cfg(not(feature = "ssr"))]
fn main() {}
