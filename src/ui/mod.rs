//! Components that belong to no single feature: the page frame and the
//! chat layout the features fill in.

pub mod chat;
pub mod live;
