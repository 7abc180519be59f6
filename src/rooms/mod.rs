//! Rooms: create, list, join, leave; direct rooms; administration.
//!
//! Public surface: the [`model`] types, the server functions in [`api`]
//! and [`manage`], and on the server [`access`], the membership checks
//! other features authorize with.

pub mod api;
pub mod components;
pub mod manage;
pub mod model;

#[cfg(feature = "ssr")]
pub mod access;
#[cfg(feature = "ssr")]
mod admin;
#[cfg(feature = "ssr")]
mod store;

pub use model::Room;

/// Starts, in the background, the one-time indexing of the words of public
/// rooms created before the directory's name filter existed, of the
/// handles of accounts made before the handle index existed, and of the
/// messages sent before the search index existed.
#[cfg(feature = "ssr")]
pub(crate) fn start_word_index_backfill(state: &crate::server::state::AppState) {
    let state = state.clone();
    tokio::spawn(async move {
        if let Err(err) = store::backfill_word_index(&state).await {
            tracing::warn!(?err, "could not index the public rooms' words");
        }
        if let Err(err) = crate::auth::people::backfill_handle_index(&state).await {
            tracing::warn!(?err, "could not index the handles");
        }
        if let Err(err) = crate::auth::people::backfill_name_index(&state).await {
            tracing::warn!(?err, "could not index the names");
        }
        if let Err(err) = crate::search::backfill::backfill(&state).await {
            tracing::warn!(?err, "could not index the rooms' messages for search");
        }
    });
}
