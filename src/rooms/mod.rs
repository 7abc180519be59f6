//! Rooms: create, list, join, leave.
//!
//! Public surface: the [`model`] types, the server functions in [`api`], and
//! on the server [`access`], the membership checks other features authorize
//! with.

pub mod api;
pub mod components;
pub mod model;

#[cfg(feature = "ssr")]
pub mod access;
#[cfg(feature = "ssr")]
mod store;

pub use model::Room;
