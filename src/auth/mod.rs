//! Accounts: sign-up, sign-in, sign-out, and who is signed in.
//!
//! Public surface: the [`model`] types, the server functions in [`api`], the
//! pages and header widgets in [`components`], and on the server
//! [`session::require_user_id`] for other features to authenticate with.

pub mod api;
pub mod components;
pub mod model;

#[cfg(feature = "ssr")]
mod password;
#[cfg(feature = "ssr")]
pub(crate) mod people;
#[cfg(feature = "ssr")]
mod profiles;
#[cfg(feature = "ssr")]
pub mod session;
#[cfg(feature = "ssr")]
mod store;

pub use model::User;

#[cfg(feature = "ssr")]
pub(crate) use password::warm_up as warm_up_password_hashing;
#[cfg(feature = "ssr")]
pub(crate) use profiles::{
    profile, profiles, start_invalidation as start_profile_invalidation, ProfileCache,
};
#[cfg(feature = "ssr")]
pub(crate) use store::{user_id_by_handle, user_ids_by_handles};
