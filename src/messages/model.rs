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
    /// When the body was last edited (ms since the epoch), if ever.
    #[serde(default)]
    pub edited_at: Option<u64>,
    /// A deleted message keeps its id, author and time; its body is empty
    /// and it has no reactions.
    #[serde(default)]
    pub deleted: bool,
    /// In the order each emoji was first used on the message.
    #[serde(default)]
    pub reactions: Vec<Reaction>,
    /// The message this one replies to.
    #[serde(default)]
    pub reply_to: Option<ReplyRef>,
}

impl Message {
    /// A message just sent: never edited, no reactions.
    pub fn new(
        id: String,
        room_id: String,
        author: User,
        body: String,
        sent_at: u64,
        client_msg_id: String,
    ) -> Self {
        Self {
            id,
            room_id,
            author,
            body,
            sent_at,
            client_msg_id,
            edited_at: None,
            deleted: false,
            reactions: Vec::new(),
            reply_to: None,
        }
    }
}

/// One emoji's reactions to a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reaction {
    pub emoji: String,
    pub count: u64,
    /// Whether the reader is one of those who reacted.
    pub me: bool,
}

/// The message a reply answers: who wrote it and the start of its current
/// body (empty once deleted).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplyRef {
    pub id: String,
    pub author: User,
    /// At most [`REPLY_EXCERPT_CHARS`] characters of the parent's body.
    pub excerpt: String,
    #[serde(default)]
    pub deleted: bool,
}

/// How much of a parent's body a reply shows.
pub const REPLY_EXCERPT_CHARS: usize = 100;

/// The start of a body, for a reply: at most [`REPLY_EXCERPT_CHARS`]
/// characters, `…` when cut.
pub fn reply_excerpt(body: &str) -> String {
    let mut chars = body.chars();
    let head: String = chars.by_ref().take(REPLY_EXCERPT_CHARS - 1).collect();
    if chars.clone().count() > 1 {
        format!("{head}…")
    } else {
        body.to_owned()
    }
}

/// One emoji, as `react` takes it: a single grapheme cluster of at most 32
/// bytes. (The server also checks that it is an emoji.)
pub fn single_grapheme(input: &str) -> bool {
    use unicode_segmentation::UnicodeSegmentation;
    !input.is_empty() && input.len() <= 32 && input.graphemes(true).count() == 1
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

impl MessageId {
    /// The id right before this one: a page `after` it starts with this
    /// message.
    pub fn just_before(self) -> Self {
        match self.seq {
            0 => Self {
                millis: self.millis.saturating_sub(1),
                seq: u64::MAX,
            },
            seq => Self {
                millis: self.millis,
                seq: seq - 1,
            },
        }
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
            // A newer state of a message shown (from a catch-up page):
            // it replaces the old one.
            Ok(at) if is_newer(&message, &list[at]) => {
                list[at] = message;
                changed = true;
            }
            Ok(_) => {}
            Err(at) => {
                list.insert(at, message);
                changed = true;
            }
        }
    }
    changed
}

/// Whether `incoming` shows a later state of the same message than
/// `shown`: deleted since, edited since, or other reactions (a page is
/// read after the events it may overlap, so its reactions are current).
fn is_newer(incoming: &Message, shown: &Message) -> bool {
    if shown.deleted {
        return false;
    }
    incoming.deleted
        || incoming.edited_at > shown.edited_at
        || (incoming.edited_at == shown.edited_at && incoming.reactions != shown.reactions)
        || incoming.reply_to != shown.reply_to
}

/// Applies a `message_updated` event to a list: the message's body, edit
/// time and deletion (never going back to an older edit), and the
/// excerpts of the replies to it. Reactions are kept (they come as
/// `reaction` events), unless the message is deleted.
pub fn apply_update(list: &mut [Message], updated: &Message) {
    for message in list.iter_mut() {
        if message.id == updated.id {
            if message.deleted || (!updated.deleted && updated.edited_at <= message.edited_at) {
                continue;
            }
            message.body.clone_from(&updated.body);
            message.edited_at = updated.edited_at;
            message.deleted = updated.deleted;
            if updated.deleted {
                message.reactions.clear();
            }
        }
        if let Some(parent) = message
            .reply_to
            .as_mut()
            .filter(|parent| parent.id == updated.id)
        {
            parent.excerpt = if updated.deleted {
                String::new()
            } else {
                reply_excerpt(&updated.body)
            };
            parent.deleted = updated.deleted;
        }
    }
}

/// Applies a `reaction` event: the emoji's new count, and `me` when the
/// reader is the one who reacted.
pub fn apply_reaction(list: &mut [Message], event: &ReactionEvent, me: &str) {
    let Some(message) = list.iter_mut().find(|m| m.id == event.message_id) else {
        return;
    };
    match message
        .reactions
        .iter_mut()
        .position(|r| r.emoji == event.emoji)
    {
        Some(at) if event.count == 0 => {
            message.reactions.remove(at);
        }
        Some(at) => {
            let reaction = &mut message.reactions[at];
            reaction.count = event.count;
            if event.user.id == me {
                reaction.me = event.on;
            }
        }
        None if event.count > 0 => message.reactions.push(Reaction {
            emoji: event.emoji.clone(),
            count: event.count,
            me: event.user.id == me && event.on,
        }),
        None => {}
    }
}

/// The `reaction` event: someone reacted (`on`) or took a reaction back,
/// and the emoji's count now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReactionEvent {
    pub room_id: String,
    pub message_id: String,
    pub emoji: String,
    pub user: User,
    pub on: bool,
    pub count: u64,
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

    #[test]
    fn updates_and_reactions_apply_in_place_and_never_go_back() {
        let mut list = vec![message("1-0"), message("2-0")];
        list[1].reply_to = Some(ReplyRef {
            id: "1-0".into(),
            author: list[0].author.clone(),
            excerpt: "1-0".into(),
            deleted: false,
        });
        let edited = Message {
            body: "new".into(),
            edited_at: Some(5),
            ..message("1-0")
        };
        apply_update(&mut list, &edited);
        assert_eq!(
            (
                list[0].body.as_str(),
                list[1].reply_to.as_ref().unwrap().excerpt.as_str()
            ),
            ("new", "new")
        );
        let older = Message {
            body: "old".into(),
            edited_at: Some(4),
            ..message("1-0")
        };
        apply_update(&mut list, &older);
        assert_eq!(list[0].body, "new", "an older edit never wins");
        let event = ReactionEvent {
            room_id: "r".into(),
            message_id: "1-0".into(),
            emoji: "👍".into(),
            user: list[0].author.clone(),
            on: true,
            count: 1,
        };
        apply_reaction(&mut list, &event, "u");
        assert_eq!(
            list[0].reactions,
            [Reaction {
                emoji: "👍".into(),
                count: 1,
                me: true
            }]
        );
        apply_reaction(
            &mut list,
            &ReactionEvent {
                on: false,
                count: 0,
                ..event
            },
            "u",
        );
        assert!(list[0].reactions.is_empty());
        let deleted = Message {
            deleted: true,
            body: String::new(),
            edited_at: Some(6),
            ..message("1-0")
        };
        apply_update(&mut list, &deleted);
        assert!(list[0].deleted && list[1].reply_to.as_ref().unwrap().deleted);
        // A page read later replaces a shown message only with a newer state.
        let mut shown = vec![message("3-0")];
        let newer = Message {
            edited_at: Some(1),
            body: "x".into(),
            ..message("3-0")
        };
        assert!(merge_messages(&mut shown, [newer]));
        assert!(!merge_messages(&mut shown, [message("3-0")]));
        assert_eq!(shown[0].body, "x");
    }

    #[test]
    fn the_id_just_before_and_a_reply_excerpt() {
        let id = MessageId::parse("5-0", "id").unwrap();
        assert_eq!(id.just_before().to_string(), format!("4-{}", u64::MAX));
        assert_eq!(
            MessageId::parse("5-3", "id")
                .unwrap()
                .just_before()
                .to_string(),
            "5-2"
        );
        assert_eq!(reply_excerpt("short"), "short");
        let long = reply_excerpt(&"ж".repeat(150));
        assert_eq!(long.chars().count(), REPLY_EXCERPT_CHARS);
        assert!(long.ends_with('…'));
        assert!(single_grapheme("👍") && single_grapheme("👨‍👩‍👧") && !single_grapheme("👍👍"));
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
            edited_at: None,
            deleted: false,
            reactions: Vec::new(),
            reply_to: None,
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
