//! Splitting a message body into text, web links and `@mentions`, so links
//! can be made clickable and mentions highlighted without ever rendering the
//! body as HTML.
//!
//! Only `http://` and `https://` links count: a `javascript:` or `data:` URL
//! stays plain text. Each piece is rendered as a text node or as an `<a>`
//! whose `href` is the link itself, set as an attribute (escaped by the
//! renderer), never spliced into markup.

/// A piece of a message body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece<'a> {
    Text(&'a str),
    Link(&'a str),
    /// `@handle`, the `@` included.
    Mention(&'a str),
}

/// Splits `body` into text, links and mentions, in order; joined again they
/// give `body` back exactly.
pub fn pieces(body: &str) -> Vec<Piece<'_>> {
    links(body)
        .into_iter()
        .flat_map(|piece| match piece {
            Piece::Text(text) => mentions(text),
            other => vec![other],
        })
        .collect()
}

fn mentions(text: &str) -> Vec<Piece<'_>> {
    let mut out = Vec::new();
    let mut done = 0;
    for span in crate::text::mentions::mention_spans(text) {
        if span.start > done {
            out.push(Piece::Text(&text[done..span.start]));
        }
        out.push(Piece::Mention(&text[span.clone()]));
        done = span.end;
    }
    if done < text.len() {
        out.push(Piece::Text(&text[done..]));
    }
    out
}

fn links(body: &str) -> Vec<Piece<'_>> {
    let mut out = Vec::new();
    let mut rest = body;
    while let Some(start) = next_link_start(rest) {
        let end = start
            + rest[start..]
                .find(|c: char| c.is_whitespace() || "<>\"'".contains(c))
                .unwrap_or(rest.len() - start);
        // Punctuation right after a link usually ends the sentence.
        let link = rest[start..end].trim_end_matches(['.', ',', ';', ':', '!', '?', ')', ']']);
        let end = start + link.len();
        if link.len() > "https://".len() {
            if start > 0 {
                out.push(Piece::Text(&rest[..start]));
            }
            out.push(Piece::Link(link));
        } else {
            out.push(Piece::Text(&rest[..end]));
        }
        rest = &rest[end..];
    }
    if !rest.is_empty() {
        out.push(Piece::Text(rest));
    }
    out
}

fn next_link_start(text: &str) -> Option<usize> {
    let http = text.find("http://");
    let https = text.find("https://");
    match (http, https) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn joined(pieces: &[Piece<'_>]) -> String {
        pieces
            .iter()
            .map(|piece| match piece {
                Piece::Text(text) | Piece::Link(text) | Piece::Mention(text) => *text,
            })
            .collect()
    }

    #[test]
    fn a_link_in_a_sentence_is_found_without_its_full_stop() {
        let body = "See https://example.com/a?b=1. Thanks";
        let found = pieces(body);
        assert_eq!(
            found,
            [
                Piece::Text("See "),
                Piece::Link("https://example.com/a?b=1"),
                Piece::Text(". Thanks")
            ]
        );
        assert_eq!(joined(&found), body);
    }

    #[test]
    fn only_web_links_count() {
        for body in [
            "javascript:alert(1)",
            "data:text/html,<b>x</b>",
            "ftp://example.com",
            "https://",
        ] {
            assert!(
                pieces(body).iter().all(|p| matches!(p, Piece::Text(_))),
                "{body}"
            );
        }
    }

    #[test]
    fn markup_around_a_link_ends_it() {
        let body = "<a href=\"https://evil.example\">x</a>";
        let found = pieces(body);
        assert!(found.contains(&Piece::Link("https://evil.example")));
        assert_eq!(joined(&found), body);
    }

    #[test]
    fn text_without_links_is_one_piece() {
        assert_eq!(pieces("hello ünïcode"), [Piece::Text("hello ünïcode")]);
        assert!(pieces("").is_empty());
    }

    #[test]
    fn mentions_are_split_out_of_text_but_not_out_of_links() {
        let body = "hi @ann, see https://x.example/@bob";
        let found = pieces(body);
        assert_eq!(
            found,
            [
                Piece::Text("hi "),
                Piece::Mention("@ann"),
                Piece::Text(", see "),
                Piece::Link("https://x.example/@bob"),
            ]
        );
        assert_eq!(joined(&found), body);
    }
}
