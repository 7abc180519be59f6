//! Room types shared by the server and the browser, and the input rules.

use serde::{Deserialize, Serialize};

use crate::auth::User;
use crate::error::AppError;

/// A room, as its members and the directory see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Room {
    pub id: String,
    /// For a direct room, the other members' display names, joined by ", "
    /// (so it depends on who asks).
    pub name: String,
    /// Private rooms are visible only to members and invitees. Direct rooms
    /// are private.
    pub private: bool,
    #[serde(default)]
    pub kind: RoomKind,
    /// Shown in the room header; may be empty.
    #[serde(default)]
    pub topic: String,
    /// The caller's role, when they are a member of a room of kind `room`
    /// (and the member's own, in a `room_updated` sent to them alone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    /// The caller's notification level for the room, when they are a member.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notifications: Option<NotifyLevel>,
    /// A direct room's members, the caller included.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<User>,
}

impl Room {
    pub fn is_direct(&self) -> bool {
        self.kind == RoomKind::Direct
    }

    /// Whether the caller may rename the room, set its topic and remove
    /// members.
    pub fn can_manage(&self) -> bool {
        !self.is_direct() && matches!(self.role, Some(Role::Owner | Role::Admin))
    }
}

/// A room proper, or a conversation between a fixed set of people.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoomKind {
    #[default]
    Room,
    Direct,
}

/// What a member may do in a room of kind `room`. The creator is its owner
/// (for good); the owner makes members admins and back.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Owner,
    Admin,
    #[default]
    Member,
}

impl Role {
    /// `admin` or `member`: what `set_role` can give.
    pub fn parse_settable(input: &str) -> Result<Self, AppError> {
        match input {
            "admin" => Ok(Self::Admin),
            "member" => Ok(Self::Member),
            _ => Err(AppError::BadRequest("role must be admin or member.".into())),
        }
    }
}

/// How much of a room reaches a member.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotifyLevel {
    /// A desktop notification and a badge for every message.
    #[default]
    All,
    /// A badge for mentions only; other unread messages are counted dimmed.
    Mentions,
    /// Muted: only mentions notify; the unread count is dimmed.
    None,
}

impl NotifyLevel {
    /// Rooms with more members than this default to `mentions`.
    pub const QUIET_ABOVE_MEMBERS: u64 = 50;

    pub fn parse(input: &str) -> Result<Self, AppError> {
        match input {
            "all" => Ok(Self::All),
            "mentions" => Ok(Self::Mentions),
            "none" => Ok(Self::None),
            _ => Err(AppError::BadRequest(
                "level must be all, mentions or none.".into(),
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::All => "all",
            Self::Mentions => "mentions",
            Self::None => "none",
        }
    }

    /// The level of a member who chose none: `mentions` in a room of more
    /// than [`Self::QUIET_ABOVE_MEMBERS`] (a message there would reach too
    /// many people), `all` elsewhere and in every direct room.
    pub fn default_for(kind: RoomKind, members: u64) -> Self {
        if kind == RoomKind::Room && members > Self::QUIET_ABOVE_MEMBERS {
            Self::Mentions
        } else {
            Self::All
        }
    }
}

/// A form field that may be left out, or sent, even empty: `topic=`
/// clears a topic, no `topic` leaves it be. (An `Option<String>` cannot
/// tell the two apart: the form decoder reads an empty value as `None`.)
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Provided(pub Option<String>);

impl Serialize for Provided {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match &self.0 {
            Some(value) => serializer.serialize_some(value),
            None => serializer.serialize_none(),
        }
    }
}

impl<'de> Deserialize<'de> for Provided {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(|value| Self(Some(value)))
    }
}

/// A room topic: at most 250 characters after trimming, no control
/// characters; empty clears it.
pub fn parse_topic(input: &str) -> Result<String, AppError> {
    let topic = input.trim();
    if topic.chars().count() > 250 {
        return Err(AppError::BadRequest(
            "topic must be at most 250 characters.".into(),
        ));
    }
    if topic.chars().any(char::is_control) {
        return Err(AppError::BadRequest(
            "topic must not contain control characters.".into(),
        ));
    }
    Ok(topic.to_owned())
}

/// The name of a direct room as one of its members sees it: the others'
/// display names, by name, joined by ", " (one's own name in a note to
/// oneself is not a case: a direct room has at least two people).
pub fn direct_name(members: &[User], viewer: &str) -> String {
    let mut names: Vec<&str> = members
        .iter()
        .filter(|user| user.id != viewer)
        .map(|user| user.display_name.as_str())
        .collect();
    names.sort_by_cached_key(|name| name.to_lowercase());
    names.join(", ")
}

/// A joined room, with the number of messages the user has not read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinedRoom {
    #[serde(flatten)]
    pub room: Room,
    pub unread: u64,
    /// When its newest message was sent (ms since the epoch), or when it
    /// was created: direct rooms are listed by it.
    #[serde(default)]
    pub last_at: u64,
}

/// The answer of `rooms`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomList {
    /// The caller's rooms, by name.
    pub joined: Vec<JoinedRoom>,
    /// Public rooms anyone may join, newest first.
    pub public: Vec<Room>,
    /// The caller's direct rooms not hidden, most recent activity first.
    #[serde(default)]
    pub direct: Vec<JoinedRoom>,
}

/// A page of the public directory (`public_rooms`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectoryPage {
    /// Newest first.
    pub rooms: Vec<Room>,
    /// The `before` of the next page, if there is one.
    pub next: Option<String>,
}

/// The words of a room name the directory filter matches: lowercased runs
/// of letters and digits, each at most 32 characters, each once, at most
/// 8 of them.
pub fn name_words(name: &str) -> Vec<String> {
    let mut words: Vec<String> = Vec::new();
    for word in name
        .split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
    {
        let word: String = word.to_lowercase().chars().take(32).collect();
        if !words.contains(&word) {
            words.push(word);
        }
        if words.len() == 8 {
            break;
        }
    }
    words
}

/// Where a user stands with a room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    Member,
    /// Invited and not yet answered: may see the room and join it.
    Invited,
    Outsider,
}

/// A room name: 1 to 80 characters after trimming, any Unicode except
/// control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomName(String);

impl RoomName {
    pub const MAX_CHARS: usize = 80;

    pub fn parse(input: &str) -> Result<Self, AppError> {
        let name = input.trim();
        if name.is_empty() {
            return Err(AppError::BadRequest("Room name is required.".into()));
        }
        if name.chars().count() > Self::MAX_CHARS {
            return Err(AppError::BadRequest(
                "Room name must be at most 80 characters.".into(),
            ));
        }
        if name.chars().any(char::is_control) {
            return Err(AppError::BadRequest(
                "Room name must not contain control characters.".into(),
            ));
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A room id as it arrives from a client: 32 lowercase hex digits. Anything
/// else cannot name a room, so it is answered like an unknown room (404).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomId(String);

impl RoomId {
    pub fn parse(input: &str) -> Result<Self, AppError> {
        let valid = input.len() == 32
            && input
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if valid {
            Ok(Self(input.to_owned()))
        } else {
            Err(no_such_room())
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The one answer for a room that does not exist or that the caller may not
/// know exists.
pub fn no_such_room() -> AppError {
    AppError::NotFound("No such room.".into())
}

/// How well `query` matches a room name for the room switcher, or `None`
/// when it does not: every character of the query must appear in the name
/// in order (case-insensitive), "gnrl" finds "General". Higher is better: a
/// match at the start of the name or of a word, and characters that follow
/// each other, score more; a shorter name wins a tie.
pub fn fuzzy_score(query: &str, name: &str) -> Option<i64> {
    let name: Vec<char> = name.chars().flat_map(char::to_lowercase).collect();
    let mut score = 0i64;
    let mut from = 0;
    let mut last: Option<usize> = None;
    for wanted in query.chars().flat_map(char::to_lowercase) {
        if wanted.is_whitespace() {
            continue;
        }
        let found = from + name[from..].iter().position(|c| *c == wanted)?;
        let word_start = found == 0 || !name[found - 1].is_alphanumeric();
        score += match (word_start, last.is_some_and(|last| last + 1 == found)) {
            (true, _) => 10,
            (false, true) => 5,
            (false, false) => 1,
        };
        last = Some(found);
        from = found + 1;
    }
    Some(score * 1000 - name.len() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_switcher_matches_letters_in_order_and_prefers_word_starts() {
        assert!(fuzzy_score("gnrl", "General").is_some());
        assert!(fuzzy_score("GEN", "general chat").is_some());
        assert_eq!(fuzzy_score("lrng", "General"), None);
        assert_eq!(fuzzy_score("x", "General"), None);
        let rank = |query: &str| {
            let mut names = ["Random", "Design reviews", "dev"];
            names.sort_by_key(|name| std::cmp::Reverse(fuzzy_score(query, name)));
            names[0]
        };
        assert_eq!(rank("dr"), "Design reviews");
        assert_eq!(rank("dev"), "dev");
        assert_eq!(rank("ra"), "Random");
    }

    #[test]
    fn a_name_splits_into_lowercase_words_once_each() {
        assert_eq!(
            name_words("Rust & Redis: rust-lang café"),
            ["rust", "redis", "lang", "café"]
        );
        assert!(name_words("!!!").is_empty());
    }

    #[test]
    fn a_room_name_is_trimmed_and_keeps_any_unicode() {
        assert_eq!(RoomName::parse("  Café ☕ ").unwrap().as_str(), "Café ☕");
    }

    #[test]
    fn a_blank_room_name_is_rejected() {
        assert_eq!(
            RoomName::parse(" \t ").unwrap_err().to_string(),
            "Room name is required."
        );
    }

    #[test]
    fn a_room_name_may_have_80_characters_but_not_81() {
        assert!(RoomName::parse(&"ж".repeat(80)).is_ok());
        assert!(RoomName::parse(&"ж".repeat(81)).is_err());
    }

    #[test]
    fn a_room_name_with_a_line_break_inside_is_rejected() {
        assert!(RoomName::parse("one\ntwo").is_err());
    }

    #[test]
    fn a_room_id_is_32_lowercase_hex_digits() {
        assert!(RoomId::parse("0123456789abcdef0123456789abcdef").is_ok());
        for bad in [
            "",
            "0123",
            "0123456789ABCDEF0123456789abcdef",
            "../../etc/passwd",
            "{x}",
        ] {
            assert_eq!(RoomId::parse(bad).unwrap_err().status(), 404, "{bad}");
        }
    }
}
