//! NotificationList as the API and the event stream carry them.

use serde::{Deserialize, Serialize};

use crate::auth::User;
use crate::error::AppError;

/// What a notification is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotificationKind {
    /// Someone wrote `@you` in a room you are in.
    Mention,
    /// Someone invited you to a private room.
    Invite,
    /// Someone accepted your invitation.
    InviteAccepted,
    /// A message in a direct room you are in (unless you muted it).
    Direct,
    /// Someone replied to your message.
    Reply,
}

/// One notification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    /// 32 hex digits.
    pub id: String,
    pub kind: NotificationKind,
    pub room_id: String,
    pub room_name: String,
    /// Who caused it.
    pub from: User,
    /// The mentioning message (the start of it), or empty.
    pub text: String,
    /// Milliseconds since the epoch.
    pub created_at: u64,
    pub read: bool,
    /// The mentioning message's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    /// For invitations: `accepted` or `declined` once answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer: Option<String>,
    /// For invitations: when an unanswered one lapses (ms since the epoch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<u64>,
}

impl Notification {
    /// One line for a list or a desktop notification.
    pub fn headline(&self) -> String {
        let who = &self.from.display_name;
        let room = &self.room_name;
        match self.kind {
            // A direct room has no name of its own.
            NotificationKind::Mention if room.is_empty() => format!("{who} mentioned you"),
            NotificationKind::Mention => format!("{who} mentioned you in {room}"),
            NotificationKind::Invite => format!("{who} invited you to {room}"),
            NotificationKind::InviteAccepted => format!("{who} accepted your invitation to {room}"),
            NotificationKind::Direct => format!("{who} sent you a message"),
            NotificationKind::Reply if room.is_empty() => format!("{who} replied to you"),
            NotificationKind::Reply => format!("{who} replied to you in {room}"),
        }
    }

    /// Whether this is an invitation still waiting for an answer.
    pub fn is_open_invite(&self) -> bool {
        self.kind == NotificationKind::Invite && self.answer.is_none()
    }
}

/// The answer of `notifications`: the unread count and the newest items.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationList {
    pub unread: usize,
    pub items: Vec<Notification>,
}

/// NotificationList kept per user: older ones fall off the end of the list.
pub const KEEP: usize = 100;
/// How long a user's notifications are kept after the newest one arrived.
pub const KEEP_SECS: u64 = 30 * 24 * 3600;
/// Characters of the mentioning message copied into a notification.
pub const TEXT_CHARS: usize = 200;

/// `notifications(limit)`: 1 to [`KEEP`], default 50.
pub fn notifications_limit(requested: Option<u32>) -> Result<usize, AppError> {
    match requested {
        None => Ok(50),
        Some(n @ 1..=100) => Ok(n as usize),
        Some(_) => Err(AppError::BadRequest(
            "limit must be between 1 and 100.".into(),
        )),
    }
}

/// What `mark_read` marks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MarkRead {
    All,
    One(String),
}

impl MarkRead {
    /// `all`, or a notification id (32 hex digits).
    pub fn parse(id: &str) -> Result<Self, AppError> {
        if id == "all" {
            return Ok(Self::All);
        }
        if id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(Self::One(id.to_ascii_lowercase()));
        }
        Err(AppError::BadRequest(
            "id must be a notification id or \"all\".".into(),
        ))
    }
}

/// The start of a message, for a notification's text.
pub fn excerpt(body: &str) -> String {
    match body.char_indices().nth(TEXT_CHARS) {
        Some((cut, _)) => format!("{}…", &body[..cut]),
        None => body.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mark_read_takes_all_or_an_id() {
        assert_eq!(MarkRead::parse("all").unwrap(), MarkRead::All);
        let id = "0123456789abcdef0123456789ABCDEF";
        assert_eq!(
            MarkRead::parse(id).unwrap(),
            MarkRead::One(id.to_ascii_lowercase())
        );
        for bad in ["", "ALL", "123", &"g".repeat(32), &"a".repeat(33)] {
            assert!(MarkRead::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_limit_defaults_to_50_and_stays_within_1_to_100() {
        assert_eq!(notifications_limit(None).unwrap(), 50);
        assert_eq!(notifications_limit(Some(100)).unwrap(), 100);
        assert!(notifications_limit(Some(0)).is_err());
        assert!(notifications_limit(Some(101)).is_err());
    }

    #[test]
    fn an_excerpt_cuts_long_text_on_a_character_boundary() {
        assert_eq!(excerpt("short"), "short");
        let long = "é".repeat(TEXT_CHARS + 5);
        let cut = excerpt(&long);
        assert_eq!(cut.chars().count(), TEXT_CHARS + 1);
        assert!(cut.ends_with('…'));
    }

    #[test]
    fn kinds_are_snake_case_on_the_wire() {
        assert_eq!(
            serde_json::to_string(&NotificationKind::InviteAccepted).unwrap(),
            "\"invite_accepted\""
        );
    }
}
