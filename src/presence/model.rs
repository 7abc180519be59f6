//! Presence and typing, as the API and the event stream carry them.

use serde::{Deserialize, Serialize};

use crate::auth::User;

/// How often one user may announce typing in one room.
pub const TYPING_EVERY_MS: u64 = 3_000;
/// How long a typing indicator stays without a fresh announcement.
pub const TYPING_SHOWN_MS: u64 = 6_000;

/// A member of a room (`members`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub user: User,
    pub online: bool,
    /// `owner`, `admin` or `member` (`member` in a direct room).
    #[serde(default)]
    pub role: crate::rooms::model::Role,
}

/// The `presence` event: a member came online or went offline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PresenceChange {
    pub room_id: String,
    pub user: User,
    pub online: bool,
}

/// The `typing` event: a member is typing in a room.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Typing {
    pub room_id: String,
    pub user: User,
}

/// Online members first, then by display name (case-insensitive).
pub fn sort_members(members: &mut [Member]) {
    members.sort_by_cached_key(|member| {
        (
            !member.online,
            member.user.display_name.to_lowercase(),
            member.user.id.clone(),
        )
    });
}

/// Applies a presence change to a member list: the member's flag changes,
/// or a member not yet listed (just joined) is added.
pub fn apply_presence(members: &mut Vec<Member>, change: &PresenceChange) {
    match members
        .iter_mut()
        .find(|member| member.user.id == change.user.id)
    {
        Some(member) => {
            member.online = change.online;
            member.user = change.user.clone();
        }
        None => members.push(Member {
            user: change.user.clone(),
            online: change.online,
            role: crate::rooms::model::Role::Member,
        }),
    }
    sort_members(members);
}

/// "Ann is typing…", "Ann and Bo are typing…", "3 people are typing…".
pub fn typing_text(names: &[String]) -> Option<String> {
    match names {
        [] => None,
        [one] => Some(format!("{one} is typing…")),
        [one, two] => Some(format!("{one} and {two} are typing…")),
        more => Some(format!("{} people are typing…", more.len())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: &str, name: &str) -> User {
        User {
            id: id.into(),
            email: None,
            handle: id.into(),
            display_name: name.into(),
        }
    }

    fn member(id: &str, name: &str, online: bool) -> Member {
        Member {
            user: user(id, name),
            online,
            role: crate::rooms::model::Role::Member,
        }
    }

    #[test]
    fn online_members_come_first_then_by_name() {
        let mut members = vec![
            member("1", "zed", true),
            member("2", "Ann", false),
            member("3", "bo", true),
        ];
        sort_members(&mut members);
        let names: Vec<_> = members
            .iter()
            .map(|m| m.user.display_name.as_str())
            .collect();
        assert_eq!(names, ["bo", "zed", "Ann"]);
    }

    #[test]
    fn a_presence_change_flips_a_listed_member() {
        let mut members = vec![member("1", "Ann", false)];
        apply_presence(
            &mut members,
            &PresenceChange {
                room_id: "r".into(),
                user: user("1", "Ann"),
                online: true,
            },
        );
        assert_eq!(members, vec![member("1", "Ann", true)]);
    }

    #[test]
    fn a_presence_change_of_a_new_member_adds_them() {
        let mut members = vec![member("1", "Ann", true)];
        apply_presence(
            &mut members,
            &PresenceChange {
                room_id: "r".into(),
                user: user("2", "Bo"),
                online: true,
            },
        );
        assert_eq!(members.len(), 2);
    }

    #[test]
    fn typing_text_names_one_or_two_and_counts_more() {
        assert_eq!(typing_text(&[]), None);
        assert_eq!(typing_text(&["Ann".into()]).unwrap(), "Ann is typing…");
        assert_eq!(
            typing_text(&["Ann".into(), "Bo".into()]).unwrap(),
            "Ann and Bo are typing…"
        );
        assert_eq!(
            typing_text(&["A".into(), "B".into(), "C".into()]).unwrap(),
            "3 people are typing…"
        );
    }
}
