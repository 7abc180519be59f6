//! Message types shared by the server and the browser, and the input rules.

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};

use crate::auth::User;
use crate::error::AppError;

/// One chat message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// The Redis stream entry id (`<ms>-<seq>`): unique in the room and
    /// sorting in send order.
    pub id: String,
    pub room_id: String,
    pub author: User,
    /// As typed, without surrounding white space.
    pub body: String,
    /// Milliseconds since the epoch, by the Redis clock (the id's first part).
    pub sent_at: u64,
    /// The sender's id for this message, which makes retries idempotent.
    pub client_msg_id: String,
}

/// A message body, trimmed of surrounding white space (what is checked is
/// what is stored): 1 to 4000 characters, at most 12,000 bytes of UTF-8 and
/// at most 200 lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageBody(String);

impl MessageBody {
    pub const MAX_CHARS: usize = 4000;
    /// Enough for 4000 characters of most scripts (three bytes each).
    pub const MAX_BYTES: usize = 12_000;
    /// A long pasted log or code block fits; a wall of blank lines does not.
    pub const MAX_LINES: usize = 200;

    pub fn parse(input: String) -> Result<Self, AppError> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(AppError::BadRequest("Message body is empty.".into()));
        }
        if trimmed.chars().count() > Self::MAX_CHARS {
            return Err(AppError::BadRequest(
                "Message body must be at most 4000 characters.".into(),
            ));
        }
        if trimmed.len() > Self::MAX_BYTES {
            return Err(AppError::BadRequest(
                "Message body must be at most 12000 bytes.".into(),
            ));
        }
        if trimmed.lines().count() > Self::MAX_LINES {
            return Err(AppError::BadRequest(
                "Message body must be at most 200 lines.".into(),
            ));
        }
        Ok(Self(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// What the body costs under the per-user byte budget: its bytes.
    pub fn cost(&self) -> usize {
        self.0.len()
    }
}

/// The client's id for a message: 1 to 64 of `A-Z a-z 0-9 _ -` (a UUID fits).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientMsgId(String);

impl ClientMsgId {
    pub fn parse(input: &str) -> Result<Self, AppError> {
        let valid = (1..=64).contains(&input.len())
            && input
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if valid {
            Ok(Self(input.to_owned()))
        } else {
            Err(AppError::BadRequest(
                "client_msg_id must be 1 to 64 letters, digits, '_' or '-'.".into(),
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A message id as a client sends it: a stream id `<ms>-<seq>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MessageId {
    pub millis: u64,
    pub seq: u64,
}

impl MessageId {
    /// Parses `<ms>-<seq>`; `field` names the input in the error.
    pub fn parse(input: &str, field: &str) -> Result<Self, AppError> {
        let invalid = || {
            AppError::BadRequest(format!(
                "{field} must be a message id like 1700000000000-0."
            ))
        };
        let (millis, seq) = input.split_once('-').ok_or_else(invalid)?;
        let number = |part: &str| {
            if part.is_empty() || part.len() > 20 || !part.bytes().all(|b| b.is_ascii_digit()) {
                return Err(invalid());
            }
            part.parse::<u64>().map_err(|_| invalid())
        };
        Ok(Self {
            millis: number(millis)?,
            seq: number(seq)?,
        })
    }
}

impl std::fmt::Display for MessageId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.millis, self.seq)
    }
}

impl PartialOrd for MessageId {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for MessageId {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.millis, self.seq).cmp(&(other.millis, other.seq))
    }
}

/// Adds `incoming` messages to a room's list, which stays sorted by id and
/// holds each id once, however often or in whatever order a message
/// arrives (live event, send answer, catch-up page). Returns whether the
/// list changed.
pub fn merge_messages(
    list: &mut Vec<Message>,
    incoming: impl IntoIterator<Item = Message>,
) -> bool {
    let key = |message: &Message| MessageId::parse(&message.id, "id").ok();
    let mut changed = false;
    for message in incoming {
        let id = key(&message);
        match list.binary_search_by(|probe| key(probe).cmp(&id)) {
            Ok(_) => {}
            Err(at) => {
                list.insert(at, message);
                changed = true;
            }
        }
    }
    changed
}

/// How many messages one `history` call returns: default 50, at most 100.
pub fn history_limit(requested: Option<u32>) -> Result<usize, AppError> {
    match requested {
        None => Ok(50),
        Some(limit @ 1..=100) => Ok(limit as usize),
        Some(_) => Err(AppError::BadRequest("limit must be 1 to 100.".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_body_is_stored_trimmed_keeping_inner_white_space() {
        let body = MessageBody::parse("  hello\n  world  \n\n".into()).unwrap();
        assert_eq!(body.as_str(), "hello\n  world");
    }

    #[test]
    fn a_message_body_is_bounded_in_bytes_and_lines_too() {
        let newlines = format!("x{}", "\n".repeat(20_000));
        assert_eq!(MessageBody::parse(newlines).unwrap().as_str(), "x");
        let lines = vec!["x"; 201].join("\n");
        assert!(MessageBody::parse(lines).is_err());
        assert!(MessageBody::parse(vec!["x"; 200].join("\n")).is_ok());
        // 4000 characters of four bytes each: within the characters, over
        // the bytes.
        assert!(MessageBody::parse("\u{1F600}".repeat(4000)).is_err());
        assert!(MessageBody::parse("\u{4E00}".repeat(4000)).is_ok());
    }

    #[test]
    fn a_blank_message_body_is_rejected() {
        assert!(MessageBody::parse(" \n\t ".into()).is_err());
    }

    #[test]
    fn a_message_body_counts_characters_after_trimming() {
        let exactly = format!("  {}  ", "ü".repeat(4000));
        assert!(MessageBody::parse(exactly).is_ok());
        assert!(MessageBody::parse("ü".repeat(4001)).is_err());
    }

    #[test]
    fn a_client_message_id_is_a_short_token() {
        assert!(ClientMsgId::parse("6f1c2f7e-8a2b-4c1d-9e0f-123456789abc").is_ok());
        for bad in ["", "has space", "semi;colon", &"x".repeat(65)] {
            assert!(ClientMsgId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn message_ids_parse_and_sort_like_stream_ids() {
        let early = MessageId::parse("1700000000000-5", "after").unwrap();
        let late = MessageId::parse("1700000000001-0", "after").unwrap();
        assert!(early < late);
        assert_eq!(late.to_string(), "1700000000001-0");
    }

    #[test]
    fn a_malformed_message_id_names_the_field() {
        for bad in [
            "",
            "123",
            "-1",
            "1-",
            "a-1",
            "1-2-3",
            "99999999999999999999999-0",
        ] {
            let err = MessageId::parse(bad, "before").unwrap_err();
            assert!(err.to_string().starts_with("before"), "{bad}: {err}");
        }
    }

    fn message(id: &str) -> Message {
        Message {
            id: id.into(),
            room_id: "r".into(),
            author: User {
                id: "u".into(),
                email: None,
                handle: "ann".into(),
                display_name: "Ann".into(),
            },
            body: id.into(),
            sent_at: 0,
            client_msg_id: id.into(),
        }
    }

    fn ids(list: &[Message]) -> Vec<&str> {
        list.iter().map(|m| m.id.as_str()).collect()
    }

    #[test]
    fn merging_keeps_messages_in_id_order_and_each_once() {
        let mut list = vec![message("1-0"), message("3-0")];
        assert!(merge_messages(
            &mut list,
            [message("2-0"), message("3-0"), message("10-0")]
        ));
        assert_eq!(ids(&list), ["1-0", "2-0", "3-0", "10-0"]);
        assert!(
            !merge_messages(&mut list, [message("2-0")]),
            "a duplicate changes nothing"
        );
        assert!(merge_messages(&mut list, [message("3-1")]));
        assert_eq!(ids(&list), ["1-0", "2-0", "3-0", "3-1", "10-0"]);
    }

    #[test]
    fn the_history_limit_defaults_to_50_and_allows_1_to_100() {
        assert_eq!(history_limit(None).unwrap(), 50);
        assert_eq!(history_limit(Some(100)).unwrap(), 100);
        assert!(history_limit(Some(0)).is_err());
        assert!(history_limit(Some(101)).is_err());
    }
}
