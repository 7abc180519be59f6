//! Text helpers that features and the UI share, compiled for the server
//! and the browser: how times read, how a message body splits into text,
//! links and mentions. A leaf: it uses nothing of the app's but
//! `std` and `js-sys`, so any module may use it.

pub mod linkify;
pub mod markdown;
pub mod mentions;
pub mod time;
