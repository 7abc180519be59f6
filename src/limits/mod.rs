//! Rate limits: how often a user may send, sign in, sign up, invite and
//! create rooms, decided in Redis so every server process shares one count.
//!
//! Public surface (server only): [`take`] and [`give_back`] with
//! the [`Limit`]s the other features name, [`client_address`], and the
//! caps on open event streams in [`streams`].

#[cfg(feature = "ssr")]
mod store;
#[cfg(feature = "ssr")]
pub mod streams;

#[cfg(feature = "ssr")]
pub(crate) use store::{
    address_of, byte_interval_ms, client_address, give_back, interval_ms, take, Limit, PerUser,
    GCRA_LUA,
};
