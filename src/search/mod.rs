//! Search: messages by their words, in plain Redis (no search module).
//!
//! [`words`] says what a word is; [`index`] keeps the inverted index (sorted
//! sets on each room's slot, written by the scripts that send, edit and
//! delete) and answers queries from it; [`api`] is the `search` server
//! function and [`components`] the header's search box. Rooms are found by
//! the directory's own word index (`rooms::store`), people by the handle
//! index (`auth::people`).

pub mod api;
pub mod components;
pub mod model;

#[cfg(feature = "ssr")]
pub mod backfill;
#[cfg(feature = "ssr")]
pub mod index;
#[cfg(feature = "ssr")]
pub mod words;

pub use model::Found;
