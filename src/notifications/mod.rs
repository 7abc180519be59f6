//! Notifications: mentions, invitations and answers to invitations, kept
//! per user in a Redis List and delivered live on the user's event stream.
//!
//! Public surface: the [`model`] types, the server functions in [`api`],
//! the header button and list in [`components`], and on the server the
//! functions other features call when something happens: [`notify_mentions`],
//! [`notify_invite`], [`answer_invite`].

pub mod api;
pub mod components;
pub mod model;

#[cfg(feature = "ssr")]
mod store;

#[cfg(feature = "ssr")]
pub(crate) use store::{
    answer_invite, mentioned_ids, notify_direct, notify_invite, notify_mentions, notify_reply,
    Mentioning,
};
