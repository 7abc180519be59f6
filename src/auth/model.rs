//! Account types shared by the server and the browser, and the rules that
//! make an input valid.
//!
//! Parse, don't validate: each input has a newtype whose `parse` is the only
//! way in, so holding an [`Email`] or a [`Handle`] means it is valid. The
//! error messages name the field, because they are shown beside the form.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::AppError;

/// A person with an account, as other people see them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// Opaque, stable id.
    pub id: String,
    /// Only present for the user themself (`me`, `register`, `login`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// The `@name` used for mentions; lowercase.
    pub handle: String,
    /// The name shown on messages and in the header.
    pub display_name: String,
}

/// One of a user's signed-in sessions, as `sessions` lists them. The
/// handle is not the session id (that stays in the cookie): it only names
/// the session for `revoke_session`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionInfo {
    pub handle: String,
    /// Unix seconds.
    pub signed_in_at: u64,
    /// The browser's `User-Agent`, shortened.
    pub user_agent: String,
    /// The client address at sign-in.
    pub address: String,
    /// Unix seconds of the last use (renewed at most once a minute); 0
    /// before the first renewal.
    #[serde(default)]
    pub last_seen: u64,
    /// Whether this is the session making the request.
    #[serde(default)]
    pub current: bool,
}

/// An email address: one `@`, at most 254 characters, no whitespace or
/// control characters. Kept as typed; compared through [`Email::normalized`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub const MAX_CHARS: usize = 254;

    pub fn parse(input: &str) -> Result<Self, AppError> {
        let invalid = |why: &str| AppError::BadRequest(format!("Email {why}."));
        if input.is_empty() {
            return Err(invalid("is required"));
        }
        if input.chars().count() > Self::MAX_CHARS {
            return Err(invalid("must be at most 254 characters"));
        }
        if input.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid("must not contain spaces or control characters"));
        }
        match input.split_once('@') {
            Some((local, domain))
                if !local.is_empty() && !domain.is_empty() && !domain.contains('@') =>
            {
                Ok(Self(input.to_owned()))
            }
            _ => Err(invalid("must look like name@example.com")),
        }
    }

    /// The form two addresses are compared in: lowercase.
    pub fn normalized(&self) -> String {
        self.0.to_lowercase()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A password: 8 to 1024 characters of any kind, used exactly as typed
/// (no trimming, no truncation, no normalization).
///
/// Deliberately not `Serialize`, and its `Debug` hides the secret.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    pub const MIN_CHARS: usize = 8;
    pub const MAX_CHARS: usize = 1024;

    /// Checks a new password against the length rules.
    pub fn parse(input: String) -> Result<Self, AppError> {
        let chars = input.chars().count();
        if chars < Self::MIN_CHARS {
            return Err(AppError::BadRequest(
                "Password must be at least 8 characters.".into(),
            ));
        }
        if chars > Self::MAX_CHARS {
            return Err(AppError::BadRequest(
                "Password must be at most 1024 characters.".into(),
            ));
        }
        Ok(Self(input))
    }

    /// Accepts a password offered at sign-in. Only the upper bound applies
    /// (it bounds the hashing work); a short password is simply wrong.
    pub fn offered(input: String) -> Result<Self, AppError> {
        if input.chars().count() > Self::MAX_CHARS {
            return Err(AppError::BadRequest(
                "Password must be at most 1024 characters.".into(),
            ));
        }
        Ok(Self(input))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// A handle, the `@name` for mentions: 2 to 32 of `a-z 0-9 _ . -`, not
/// ending in `.` or `-` (in "ask @ann." the full stop ends the sentence, so a
/// handle ending that way could never be mentioned).
/// Uppercase letters are accepted and folded to lowercase, so handles are
/// unique case-insensitively by construction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handle(String);

impl Handle {
    pub const MIN_CHARS: usize = 2;
    pub const MAX_CHARS: usize = 32;

    pub fn parse(input: &str) -> Result<Self, AppError> {
        let handle = input.trim().trim_start_matches('@').to_ascii_lowercase();
        let len = handle.chars().count();
        if !(Self::MIN_CHARS..=Self::MAX_CHARS).contains(&len) {
            return Err(AppError::BadRequest(
                "Handle must be 2 to 32 characters.".into(),
            ));
        }
        if !handle
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_.-".contains(c))
        {
            return Err(AppError::BadRequest(
                "Handle may only contain letters a-z, digits, '_', '.' and '-'.".into(),
            ));
        }
        if handle.ends_with(['.', '-']) {
            return Err(AppError::BadRequest(
                "Handle must not end with '.' or '-'.".into(),
            ));
        }
        Ok(Self(handle))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A display name: 1 to 64 characters after trimming, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisplayName(String);

impl DisplayName {
    pub const MAX_CHARS: usize = 64;

    pub fn parse(input: &str) -> Result<Self, AppError> {
        let name = input.trim();
        if name.is_empty() {
            return Err(AppError::BadRequest("Display name is required.".into()));
        }
        if name.chars().count() > Self::MAX_CHARS {
            return Err(AppError::BadRequest(
                "Display name must be at most 64 characters.".into(),
            ));
        }
        if name.chars().any(char::is_control) {
            return Err(AppError::BadRequest(
                "Display name must not contain control characters.".into(),
            ));
        }
        if has_deceptive_character(name) {
            return Err(AppError::BadRequest(
                "Display name must not contain invisible, direction-changing or line-separator characters.".into(),
            ));
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Whether a name holds a character that would let it pass for another
/// name: bidirectional overrides and isolates (U+202E turns "Ann" + "nimda"
/// into "Annadmin"), invisible characters (zero-width space, word joiner,
/// soft hyphen, byte-order mark, blank fillers and blank patterns, tag
/// characters, interlinear annotations, musical formatting), or line and paragraph
/// separators. The zero-width joiner is allowed between emoji, where it
/// builds one picture (a family, a flag), and nowhere else.
fn has_deceptive_character(name: &str) -> bool {
    let chars: Vec<char> = name.chars().collect();
    let is_emoji_part =
        |c: char| matches!(c, '\u{2600}'..='\u{27BF}' | '\u{1F000}'..='\u{1FAFF}' | '\u{FE0F}');
    chars.iter().enumerate().any(|(at, &c)| match c {
        '\u{200D}' => {
            let before = at.checked_sub(1).map(|i| chars[i]);
            let after = chars.get(at + 1).copied();
            !(before.is_some_and(is_emoji_part) && after.is_some_and(is_emoji_part))
        }
        '\u{202A}'..='\u{202E}'
        | '\u{2066}'..='\u{2069}'
        | '\u{200E}'
        | '\u{200F}'
        | '\u{061C}'
        | '\u{200B}'
        | '\u{200C}'
        | '\u{2060}'..='\u{2064}'
        | '\u{FEFF}'
        | '\u{00AD}'
        | '\u{034F}'
        | '\u{180E}'
        | '\u{115F}'
        | '\u{1160}'
        | '\u{3164}'
        | '\u{FFA0}'
        | '\u{2028}'
        | '\u{2029}'
        | '\u{2800}'
        | '\u{17B4}'
        | '\u{17B5}'
        | '\u{FFF9}'..='\u{FFFB}'
        | '\u{1D173}'..='\u{1D17A}'
        | '\u{E0000}'..='\u{E007F}' => true,
        _ => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(err: AppError) -> String {
        err.to_string()
    }

    #[test]
    fn a_plain_address_is_a_valid_email() {
        assert_eq!(
            Email::parse("ann@example.com").unwrap().as_str(),
            "ann@example.com"
        );
    }

    #[test]
    fn an_email_is_kept_as_typed_but_compared_in_lowercase() {
        let email = Email::parse("Ann@Example.COM").unwrap();
        assert_eq!(email.as_str(), "Ann@Example.COM");
        assert_eq!(email.normalized(), "ann@example.com");
    }

    #[test]
    fn an_email_without_exactly_one_at_sign_is_rejected() {
        for bad in [
            "ann.example.com",
            "ann@@example.com",
            "a@b@c",
            "@example.com",
            "ann@",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn an_email_with_whitespace_or_control_characters_is_rejected() {
        for bad in [
            "ann @example.com",
            "ann@exa\tmple.com",
            "ann@example.com\n",
            "a\u{7}@b.c",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn an_email_longer_than_254_characters_is_rejected() {
        let long = format!("{}@example.com", "a".repeat(243));
        assert_eq!(long.chars().count(), 255);
        assert!(message(Email::parse(&long).unwrap_err()).contains("254"));
        assert!(Email::parse(&long[1..]).is_ok());
    }

    #[test]
    fn an_empty_email_names_the_field() {
        assert_eq!(message(Email::parse("").unwrap_err()), "Email is required.");
    }

    #[test]
    fn a_password_of_seven_characters_is_too_short() {
        assert!(message(Password::parse("1234567".into()).unwrap_err()).starts_with("Password"));
        assert!(Password::parse("12345678".into()).is_ok());
    }

    #[test]
    fn a_password_counts_characters_not_bytes() {
        // Eight characters, 24 bytes.
        assert!(Password::parse("密码密码密码密码".into()).is_ok());
        assert!(Password::parse("密码密码密码密".into()).is_err());
    }

    #[test]
    fn a_password_is_used_verbatim_without_trimming() {
        let password = Password::parse("  spaced out  ".into()).unwrap();
        assert_eq!(password.expose(), "  spaced out  ");
    }

    #[test]
    fn a_password_longer_than_1024_characters_is_rejected_even_at_sign_in() {
        let long = "x".repeat(1025);
        assert!(Password::parse(long.clone()).is_err());
        assert!(Password::offered(long).is_err());
        assert!(Password::parse("x".repeat(1024)).is_ok());
    }

    #[test]
    fn a_short_password_may_still_be_offered_at_sign_in() {
        assert!(Password::offered("short".into()).is_ok());
    }

    #[test]
    fn a_password_never_shows_in_debug_output() {
        let password = Password::parse("hunter2hunter2".into()).unwrap();
        assert!(!format!("{password:?}").contains("hunter2"));
    }

    #[test]
    fn a_handle_is_folded_to_lowercase() {
        assert_eq!(Handle::parse("Ann_B.c-9").unwrap().as_str(), "ann_b.c-9");
    }

    #[test]
    fn a_handle_may_be_typed_with_a_leading_at_sign() {
        assert_eq!(Handle::parse("@ann").unwrap().as_str(), "ann");
    }

    #[test]
    fn a_handle_must_be_2_to_32_characters() {
        assert!(Handle::parse("a").is_err());
        assert!(Handle::parse("ab").is_ok());
        assert!(Handle::parse(&"a".repeat(32)).is_ok());
        assert!(Handle::parse(&"a".repeat(33)).is_err());
    }

    #[test]
    fn a_handle_with_other_characters_is_rejected() {
        for bad in ["ann b", "ann!", "änn", "ann/b", "a+b"] {
            assert!(Handle::parse(bad).is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn a_display_name_is_trimmed_and_keeps_any_unicode() {
        assert_eq!(DisplayName::parse("  Zoë 🚀 ").unwrap().as_str(), "Zoë 🚀");
    }

    #[test]
    fn a_display_name_may_not_hide_or_reorder_characters() {
        for bad in [
            "Ann\u{202E}nimda",
            "Ann\u{2067}x",
            "A\u{200B}nn",
            "Ann\u{FEFF}",
            "An\u{00AD}n",
            "Ann\u{2028}Admin",
            "Ann\u{2029}Bob",
            "\u{3164}",
            "Ann\u{200D}",
            "Ann\u{E0041}",
            "\u{2800}Ann",
        ] {
            assert!(DisplayName::parse(bad).is_err(), "{bad:?}");
        }
        // A joiner inside an emoji sequence builds one picture.
        assert!(DisplayName::parse("Ann \u{1F469}\u{200D}\u{1F4BB}").is_ok());
    }

    #[test]
    fn a_blank_display_name_is_rejected() {
        assert_eq!(
            message(DisplayName::parse("   ").unwrap_err()),
            "Display name is required."
        );
    }

    #[test]
    fn a_display_name_longer_than_64_characters_is_rejected() {
        assert!(DisplayName::parse(&"é".repeat(64)).is_ok());
        assert!(DisplayName::parse(&"é".repeat(65)).is_err());
    }

    #[test]
    fn a_display_name_with_control_characters_is_rejected() {
        assert!(DisplayName::parse("Ann\u{0}").is_err());
        assert!(DisplayName::parse("An\nn").is_err());
    }

    #[test]
    fn a_handle_may_not_end_like_a_sentence() {
        assert!(Handle::parse("ann.").is_err());
        assert!(Handle::parse("ann-").is_err());
        assert!(Handle::parse("ann.lee").is_ok());
    }
}
