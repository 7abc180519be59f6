//! The event protocol, in one place, compiled for the server and the
//! browser: every event a browser receives on `GET /api/events`
//! ([`ClientEvent`]), and what the server publishes on Redis to get it
//! there ([`RoomEvent`] on a room's channel, [`PersonalEvent`] on a user's).
//!
//! Adding an event is one variant here plus its handling: publishers build
//! the variant, `server::sse` (the transport) frames it, and `ui::live`
//! parses it back with [`ClientEvent::parse`]. docs/api.md's event list is
//! checked against [`ClientEvent::NAMES`] by a test.

use serde::{Deserialize, Serialize};

use crate::messages::model::ReactionEvent;
use crate::messages::Message;
use crate::notifications::model::Notification;
use crate::presence::model::{PresenceChange, Typing};
use crate::rooms::Room;

/// `{ "room_id" }`: the data of events about one room as a whole.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomRef {
    pub room_id: String,
}

/// `room_read`'s data: a room was read up to a message in another tab.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomRead {
    pub room_id: String,
    pub up_to: String,
}

/// An event as a browser receives it: the SSE `event:` name is the variant's
/// name in snake case, the `data:` line its payload as JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", content = "data", rename_all = "snake_case")]
pub enum ClientEvent {
    /// A new message in one of the user's rooms. Its SSE `id:` is the
    /// message id.
    Message(Message),
    /// A member of one of the user's rooms came online or went offline.
    Presence(PresenceChange),
    /// A member is typing.
    Typing(Typing),
    /// A new notification for the user.
    Notification(Notification),
    /// The user's notifications were read or answered (in another tab).
    NotificationsRead,
    /// The user read a room (in another tab): its unread count changed.
    RoomRead(RoomRead),
    /// The server may have missed events of this room, or the user just
    /// joined it: the client catches up from `history`.
    Resync(RoomRef),
    /// A room's name, topic or settings changed, or the user's role in it;
    /// or a direct room was opened with the user (before its first message).
    /// `role` and `notifications` are set only when they are the user's own.
    RoomUpdated(Room),
    /// A room the user was in was deleted by its owner.
    RoomDeleted(RoomRef),
    /// The user was removed from a room by its owner or an admin.
    Removed(RoomRef),
    /// A message was edited or deleted: its new state (its reactions'
    /// `me` is for nobody: clients keep theirs).
    MessageUpdated(Message),
    /// Someone reacted to a message, or took a reaction back.
    Reaction(ReactionEvent),
}

impl ClientEvent {
    /// Every event name, in the order docs/api.md lists them.
    pub const NAMES: [&'static str; 12] = [
        "message",
        "presence",
        "typing",
        "notification",
        "notifications_read",
        "room_read",
        "resync",
        "room_updated",
        "room_deleted",
        "removed",
        "message_updated",
        "reaction",
    ];

    /// The SSE event name.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Message(_) => "message",
            Self::Presence(_) => "presence",
            Self::Typing(_) => "typing",
            Self::Notification(_) => "notification",
            Self::NotificationsRead => "notifications_read",
            Self::RoomRead(_) => "room_read",
            Self::Resync(_) => "resync",
            Self::RoomUpdated(_) => "room_updated",
            Self::RoomDeleted(_) => "room_deleted",
            Self::Removed(_) => "removed",
            Self::MessageUpdated(_) => "message_updated",
            Self::Reaction(_) => "reaction",
        }
    }

    /// The SSE data line: the payload as JSON (`null` for an event without
    /// one).
    pub fn data_json(&self) -> String {
        let data = match self {
            Self::Message(message) => serde_json::to_value(message),
            Self::Presence(change) => serde_json::to_value(change),
            Self::Typing(typing) => serde_json::to_value(typing),
            Self::Notification(notification) => serde_json::to_value(notification),
            Self::NotificationsRead => Ok(serde_json::Value::Null),
            Self::RoomRead(read) => serde_json::to_value(read),
            Self::Resync(room) | Self::RoomDeleted(room) | Self::Removed(room) => {
                serde_json::to_value(room)
            }
            Self::RoomUpdated(room) => serde_json::to_value(room),
            Self::MessageUpdated(message) => serde_json::to_value(message),
            Self::Reaction(reaction) => serde_json::to_value(reaction),
        };
        data.map_or_else(|_| "{}".to_owned(), |value| value.to_string())
    }

    /// An event from its SSE name and data, if both are understood
    /// (unknown names and malformed data are `None`: a newer server may
    /// send events this client does not know).
    pub fn parse(name: &str, data: &str) -> Option<Self> {
        let data: serde_json::Value = serde_json::from_str(data).ok()?;
        let data = match name {
            // Variants without a payload take none.
            "notifications_read" => serde_json::Value::Null,
            _ => data,
        };
        serde_json::from_value(serde_json::json!({ "event": name, "data": data })).ok()
    }
}

/// What is published on a room's channel (`{p}room:{id}:events`): the
/// variant's fields plus `"event"`, its name. The hub reads only `event`
/// (and `id`), and forwards the JSON itself as the SSE data, so each
/// payload is encoded once, by its publisher. The send script publishes
/// messages itself, in Lua, as a `Message` without `event`: a payload
/// without one is a message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum RoomEvent {
    Presence(PresenceChange),
    Typing(Typing),
    /// The room's name or topic changed, or a member's role: members
    /// refresh the header and the members pane.
    RoomUpdated(Room),
    /// A message was edited or deleted (boxed: far larger than the others).
    MessageUpdated(Box<Message>),
    /// A member left, published in the transaction that takes them out of
    /// the member set: ordered with the room's messages, so nothing sent
    /// after the leave reaches the former member (`server::sse`). Never
    /// sent to browsers.
    MemberLeft {
        room_id: String,
        user_id: String,
    },
    /// Someone joined, published in the transaction that adds them: a leave
    /// and a quick rejoin may deliver the personal `joined` before the
    /// room's `member_left`, which would mute the room just rejoined; this
    /// event, ordered after that `member_left`, unmutes it. Never sent to
    /// browsers.
    MemberJoined {
        room_id: String,
        user_id: String,
    },
}

impl RoomEvent {
    /// The JSON published on the room's channel.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The user a membership marker names, if this is one.
    pub fn member(&self) -> Option<(&str, bool)> {
        match self {
            Self::MemberLeft { user_id, .. } => Some((user_id, false)),
            Self::MemberJoined { user_id, .. } => Some((user_id, true)),
            _ => None,
        }
    }
}

/// What is published on a user's own channel (`{p}user:{id}:events`).
/// `joined`, `left` and `session_revoked` steer the user's event streams
/// (and presence); `forward` is passed on to the browser.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", content = "data", rename_all = "snake_case")]
pub enum PersonalEvent {
    /// The user joined a room: streams subscribe to it (after checking the
    /// room's member set) and send `resync` for it.
    Joined(RoomRef),
    /// The user left a room: streams drop it at once.
    Left(RoomRef),
    /// These sign-ins were revoked: their streams end.
    SessionRevoked { handles: Vec<String> },
    /// An event for the user's browsers (boxed: a notification or a
    /// message is far larger than the control events).
    Forward(Box<ClientEvent>),
}

impl PersonalEvent {
    /// The JSON published on the user's channel.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    pub fn parse(json: &str) -> Option<Self> {
        serde_json::from_str(json).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::User;

    fn user() -> User {
        User {
            id: "u1".into(),
            email: None,
            handle: "ann".into(),
            display_name: "Ann".into(),
        }
    }

    fn every_client_event() -> Vec<ClientEvent> {
        vec![
            ClientEvent::Message(Message::new(
                "1-0".into(),
                "r".into(),
                user(),
                "hi".into(),
                1,
                "c".into(),
            )),
            ClientEvent::Presence(PresenceChange {
                room_id: "r".into(),
                user: user(),
                online: true,
            }),
            ClientEvent::Typing(Typing {
                room_id: "r".into(),
                user: user(),
            }),
            ClientEvent::Notification(Notification {
                id: "n".into(),
                kind: crate::notifications::model::NotificationKind::Mention,
                room_id: "r".into(),
                room_name: "general".into(),
                from: user(),
                text: "@ann".into(),
                created_at: 1,
                read: false,
                message_id: None,
                answer: None,
                expires_at: None,
            }),
            ClientEvent::NotificationsRead,
            ClientEvent::RoomRead(RoomRead {
                room_id: "r".into(),
                up_to: "1-0".into(),
            }),
            ClientEvent::Resync(RoomRef {
                room_id: "r".into(),
            }),
            ClientEvent::RoomUpdated(Room {
                id: "r".into(),
                name: "general".into(),
                private: false,
                kind: crate::rooms::model::RoomKind::Room,
                topic: "plans".into(),
                role: Some(crate::rooms::model::Role::Admin),
                notifications: None,
                members: Vec::new(),
            }),
            ClientEvent::RoomDeleted(RoomRef {
                room_id: "r".into(),
            }),
            ClientEvent::Removed(RoomRef {
                room_id: "r".into(),
            }),
            ClientEvent::MessageUpdated(Message {
                edited_at: Some(2),
                ..Message::new(
                    "1-0".into(),
                    "r".into(),
                    user(),
                    "hi!".into(),
                    1,
                    "c".into(),
                )
            }),
            ClientEvent::Reaction(ReactionEvent {
                room_id: "r".into(),
                message_id: "1-0".into(),
                emoji: "👍".into(),
                user: user(),
                on: true,
                count: 1,
            }),
        ]
    }

    #[test]
    fn every_client_event_round_trips_through_its_name_and_data() {
        let events = every_client_event();
        let names: Vec<&str> = events.iter().map(ClientEvent::name).collect();
        assert_eq!(
            names,
            ClientEvent::NAMES,
            "NAMES lists every variant, in order"
        );
        for event in events {
            let parsed = ClientEvent::parse(event.name(), &event.data_json());
            assert_eq!(parsed.as_ref(), Some(&event), "{}", event.name());
        }
    }

    #[test]
    fn room_events_carry_their_name_beside_the_fields() {
        let typing = RoomEvent::Typing(Typing {
            room_id: "r".into(),
            user: user(),
        });
        let json: serde_json::Value = serde_json::from_str(&typing.to_json()).unwrap();
        assert_eq!(json["event"], "typing");
        assert_eq!(json["room_id"], "r");
        // The browser parses the same JSON as the event's data.
        assert!(ClientEvent::parse("typing", &typing.to_json()).is_some());
        let left = RoomEvent::MemberLeft {
            room_id: "r".into(),
            user_id: "u1".into(),
        };
        let back: RoomEvent = serde_json::from_str(&left.to_json()).unwrap();
        assert_eq!(back.member(), Some(("u1", false)));
    }

    #[test]
    fn personal_events_round_trip() {
        for event in [
            PersonalEvent::Joined(RoomRef {
                room_id: "r".into(),
            }),
            PersonalEvent::SessionRevoked {
                handles: vec!["h".into()],
            },
            PersonalEvent::Forward(Box::new(ClientEvent::NotificationsRead)),
        ] {
            assert_eq!(PersonalEvent::parse(&event.to_json()), Some(event));
        }
    }

    #[test]
    fn docs_api_md_describes_every_event() {
        let docs = include_str!("../docs/api.md");
        for name in ClientEvent::NAMES {
            assert!(
                docs.contains(&format!("- `{name}`:")),
                "docs/api.md has no entry for the `{name}` event"
            );
        }
    }

    #[test]
    fn an_unknown_or_malformed_event_is_ignored() {
        assert_eq!(ClientEvent::parse("no_such_event", "{}"), None);
        assert_eq!(ClientEvent::parse("message", "not json"), None);
        assert_eq!(ClientEvent::parse("message", "{}"), None);
    }
}
