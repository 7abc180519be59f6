//! Property tests for the parsers and validators: whatever the input, they
//! answer (never panic), and what they accept keeps its promises.

#![cfg(feature = "ssr")]

use proptest::prelude::*;
use redchat::auth::model::{DisplayName, Email, Handle, Password};
use redchat::messages::model::{ClientMsgId, MessageBody, MessageId};
use redchat::notifications::model::MarkRead;
use redchat::rooms::model::{RoomId, RoomName};
use redchat::text::linkify::{pieces, Piece};
use redchat::text::mentions::{mention_spans, mentioned_handles};

fn any_text() -> impl Strategy<Value = String> {
    // Printable and control characters, multi-byte ones, markup, `@`s.
    prop_oneof![
        any::<String>(),
        "[ -~]{0,80}",
        "[@a-zA-Z0-9_.\\- é🚀<>\"'\u{0}\u{7}\n]{0,60}",
    ]
}

proptest! {
    #[test]
    fn an_accepted_handle_is_2_to_32_lowercase_handle_characters(input in any_text()) {
        if let Ok(handle) = Handle::parse(&input) {
            let handle = handle.as_str();
            prop_assert!((2..=32).contains(&handle.len()));
            prop_assert!(handle.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_.-".contains(c)));
        }
    }

    #[test]
    fn an_accepted_display_name_or_room_name_is_trimmed_and_free_of_control_characters(input in any_text()) {
        if let Ok(name) = DisplayName::parse(&input) {
            let name = name.as_str();
            prop_assert_eq!(name, name.trim());
            prop_assert!(!name.is_empty() && name.chars().count() <= 64);
            prop_assert!(!name.chars().any(char::is_control));
        }
        if let Ok(name) = RoomName::parse(&input) {
            let name = name.as_str();
            prop_assert!(!name.trim().is_empty() && name.chars().count() <= 80);
            prop_assert!(!name.chars().any(char::is_control));
        }
    }

    #[test]
    fn an_accepted_email_has_one_at_and_no_whitespace(input in any_text()) {
        if let Ok(email) = Email::parse(&input) {
            let email = email.as_str();
            prop_assert_eq!(email.matches('@').count(), 1);
            prop_assert!(!email.chars().any(char::is_whitespace));
        }
    }

    #[test]
    fn passwords_are_judged_by_length_only(input in any_text()) {
        let chars = input.chars().count();
        prop_assert_eq!(Password::parse(input.clone()).is_ok(), (8..=1024).contains(&chars));
    }

    #[test]
    fn a_message_body_is_kept_as_typed_without_surrounding_white_space(input in any_text()) {
        if let Ok(body) = MessageBody::parse(input.clone()) {
            prop_assert_eq!(body.as_str(), input.trim());
            prop_assert!(!body.as_str().is_empty());
            prop_assert!(body.as_str().len() <= MessageBody::MAX_BYTES);
            prop_assert!(body.as_str().lines().count() <= MessageBody::MAX_LINES);
        }
    }

    #[test]
    fn ids_parse_or_are_refused_without_panicking(input in any_text()) {
        let _ = ClientMsgId::parse(&input);
        let _ = RoomId::parse(&input);
        let _ = MessageId::parse(&input, "id");
        let _ = MarkRead::parse(&input);
    }

    #[test]
    fn a_message_id_reads_back_as_it_was_written(millis in any::<u64>(), seq in any::<u64>()) {
        let text = format!("{millis}-{seq}");
        let id = MessageId::parse(&text, "id").unwrap();
        prop_assert_eq!(id.to_string(), text);
    }

    #[test]
    fn linkified_pieces_join_back_into_the_body(body in any_text()) {
        let joined: String = pieces(&body)
            .iter()
            .map(|piece| match piece {
                Piece::Text(text) | Piece::Link(text) | Piece::Mention(text) => *text,
            })
            .collect();
        prop_assert_eq!(joined, body.clone());
        for piece in pieces(&body) {
            if let Piece::Link(link) = piece {
                prop_assert!(link.starts_with("http://") || link.starts_with("https://"));
                prop_assert!(!link.contains(['<', '>', '"', '\'']) && !link.contains(char::is_whitespace));
            }
        }
    }

    #[test]
    fn mentions_are_at_signs_followed_by_handles(body in any_text()) {
        for span in mention_spans(&body) {
            prop_assert!(body.is_char_boundary(span.start) && body.is_char_boundary(span.end));
            let mention = &body[span];
            prop_assert!(mention.starts_with('@'));
            prop_assert!(Handle::parse(&mention[1..]).is_ok(), "{}", mention);
        }
        prop_assert!(mentioned_handles(&body).len() <= 20);
    }
}
