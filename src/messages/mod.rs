//! Messages: sending, history, and read positions.
//!
//! A room's messages live in a Redis Stream, whose entry ids are the message
//! ids: they sort in send order and page history in both directions. Each
//! send also publishes the message on the room's Pub/Sub channel, in the
//! same atomic script, so live order equals stored order.
//!
//! Public surface: the [`model`] types, the server functions in [`api`],
//! and on the server [`unread::counts`] for the room list.

pub mod api;
pub mod components;
pub mod model;

#[cfg(feature = "ssr")]
mod lifecycle;
#[cfg(feature = "ssr")]
pub(crate) mod store;
#[cfg(feature = "ssr")]
pub mod unread;

pub use model::Message;
