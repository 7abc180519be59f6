//! Redchat: real-time team chat on Leptos, axum and Redis.
//!
//! One crate, built twice by cargo-leptos: with `ssr` as the server binary
//! and with `hydrate` as the WebAssembly that makes the pages interactive.
//! Server-only modules are gated where they are declared.
//!
//! Dependency rule: UI (`app`, `ui`, feature `components`) -> features
//! (`auth`, ...) -> server infrastructure (`server`), never backwards.
//! `router` is the composition root that wires them together.

// Leptos views are deeply nested types; the chat page exceeds the default.
#![recursion_limit = "256"]

pub mod app;
pub mod auth;
pub mod error;
pub mod events;
pub mod limits;
pub mod messages;
pub mod notifications;
pub mod presence;
pub mod rooms;
pub mod search;
pub mod text;
pub mod ui;

#[cfg(feature = "ssr")]
pub mod router;
#[cfg(feature = "ssr")]
pub mod server;

/// The WebAssembly entry point: takes over the server-rendered page.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
}
