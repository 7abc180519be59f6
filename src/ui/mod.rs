//! Components that belong to no single feature: the page frame, the chat
//! layout the features fill in, and the small pieces every feature draws
//! with (icons, avatars).

pub mod avatar;
pub mod chat;
pub mod icons;
pub mod live;
