//! Finding `@mentions` in a message body: used by the notifications
//! feature (who to notify) and by the message view (what to highlight).

/// Mentions in a message body, as byte ranges of `@handle` (the `@`
/// included): an `@` at the start or after a character that cannot be part
/// of a handle or an email address, then 2 to 32 handle characters. Trailing
/// `.` and `-` are sentence punctuation, not part of the handle.
pub fn mention_spans(body: &str) -> Vec<std::ops::Range<usize>> {
    let is_handle_char = |c: char| c.is_ascii_alphanumeric() || "_.-".contains(c);
    let mut spans = Vec::new();
    let mut previous: Option<char> = None;
    for (at, c) in body.char_indices() {
        let starts = c == '@' && previous.is_none_or(|p| !(is_handle_char(p) || p == '@'));
        previous = Some(c);
        if !starts {
            continue;
        }
        let rest = &body[at + 1..];
        let len = rest
            .find(|c: char| !is_handle_char(c))
            .unwrap_or(rest.len());
        let handle = rest[..len].trim_end_matches(['.', '-']);
        if (2..=32).contains(&handle.len()) {
            spans.push(at..at + 1 + handle.len());
        }
    }
    spans
}

/// The distinct handles mentioned in a body, lowercased, at most
/// [`MAX_MENTIONS`] (more are not notified).
pub fn mentioned_handles(body: &str) -> Vec<String> {
    let mut handles: Vec<String> = Vec::new();
    for span in mention_spans(body) {
        let handle = body[span.start + 1..span.end].to_ascii_lowercase();
        if !handles.contains(&handle) {
            handles.push(handle);
        }
        if handles.len() == MAX_MENTIONS {
            break;
        }
    }
    handles
}

/// Mentions notified per message.
pub const MAX_MENTIONS: usize = 20;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mentions_are_found_at_the_start_and_after_spaces_or_punctuation() {
        let body = "@ann hi (@Bo.) and @cy-d, mail ann@example.com @x @";
        let spans: Vec<&str> = mention_spans(body).into_iter().map(|s| &body[s]).collect();
        assert_eq!(spans, ["@ann", "@Bo", "@cy-d"]);
    }

    #[test]
    fn mentioned_handles_are_lowercased_and_distinct() {
        assert_eq!(mentioned_handles("@Ann @ann @bo"), ["ann", "bo"]);
    }

    #[test]
    fn mentions_beyond_the_limit_are_ignored() {
        let body: String = (0..30).map(|i| format!("@user{i} ")).collect();
        assert_eq!(mentioned_handles(&body).len(), MAX_MENTIONS);
    }

    #[test]
    fn mentions_survive_multibyte_text() {
        let body = "é@ann ü @zoë";
        let spans: Vec<&str> = mention_spans(body).into_iter().map(|s| &body[s]).collect();
        // "é" is not a handle character, so "é@ann" holds a mention; "@zo"
        // stops at "ë".
        assert_eq!(spans, ["@ann", "@zo"]);
    }
}
