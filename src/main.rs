//! The Redchat server: load settings, connect, serve until SIGTERM or Ctrl-C.

#[cfg(feature = "ssr")]
fn main() -> std::process::ExitCode {
    // Before the runtime starts its threads.
    redchat::server::malloc::tune();
    // Rendering a page builds its whole view tree on the stack; an
    // unoptimized (debug) build needs more than the default 2 MiB for the
    // chat's room page. 8 MiB per worker, reserved, not committed.
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(8 << 20)
        .build()
    {
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
