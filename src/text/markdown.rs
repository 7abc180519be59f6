//! The small Markdown that chat people type, parsed with pulldown-cmark
//! into a tree the UI turns into views (never into HTML text):
//! `*bold*` and `**bold**`, `_italic_`, `` `code` ``, fenced code blocks,
//! `> quotes`, lists and `[links](https://…)`.
//!
//! What a chat does not want from CommonMark is left as text: raw HTML
//! (`<b>` reads `<b>`), headings (`# 1` is a line about number one),
//! images, tables. A link counts only with an `http(s)` address; any other
//! stays its text. Line breaks are kept as typed. Plain text runs are then
//! split by `linkify` into text, bare web links and `@mentions`.

use pulldown_cmark::{Event, Options, Parser, Tag};

/// A piece of a formatted message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// Plain text (bare links and mentions are found in it later).
    Text(String),
    /// A line break.
    Break,
    Code(String),
    Strong(Vec<Node>),
    Emphasis(Vec<Node>),
    Strike(Vec<Node>),
    Link {
        url: String,
        children: Vec<Node>,
    },
    Paragraph(Vec<Node>),
    CodeBlock(String),
    Quote(Vec<Node>),
    List {
        ordered: bool,
        items: Vec<Vec<Node>>,
    },
}

/// Parses a message body into nodes.
pub fn parse(body: &str) -> Vec<Node> {
    let options = Options::ENABLE_STRIKETHROUGH;
    // Open containers: the node kind being filled, and its children.
    let mut stack: Vec<(Open, Vec<Node>)> = vec![(Open::Root, Vec::new())];
    for (event, range) in Parser::new_ext(body, options).into_offset_iter() {
        match event {
            Event::Start(tag) => {
                let open = match tag {
                    Tag::Paragraph => Open::Paragraph,
                    Tag::Heading { .. } => Open::Verbatim,
                    // `*x*` is bold in chats; `_x_` is italic.
                    Tag::Emphasis if body[range.clone()].starts_with('*') => Open::Strong,
                    Tag::Emphasis => Open::Emphasis,
                    Tag::Strong => Open::Strong,
                    Tag::Strikethrough => Open::Strike,
                    Tag::BlockQuote(_) => Open::Quote,
                    Tag::CodeBlock(_) => Open::CodeBlock,
                    Tag::List(start) => Open::List(start.is_some()),
                    Tag::Item => Open::Item,
                    Tag::Link { dest_url, .. } => Open::Link(dest_url.to_string()),
                    // Anything else keeps its text and no formatting.
                    _ => Open::Plain,
                };
                stack.push((open, Vec::new()));
            }
            Event::End(_) => {
                // The root is never closed: an end always has its start.
                if stack.len() > 1 {
                    if let Some((open, children)) = stack.pop() {
                        if let Some(node) = close(open, children, &body[range]) {
                            top(&mut stack).push(node);
                        }
                    }
                }
            }
            Event::Text(text) => push_text(&mut stack, &text),
            Event::Code(code) => top(&mut stack).push(Node::Code(code.to_string())),
            // Raw HTML is text: shown as typed.
            Event::Html(html) | Event::InlineHtml(html) => push_text(&mut stack, &html),
            Event::SoftBreak | Event::HardBreak => top(&mut stack).push(Node::Break),
            // A rule, a footnote, a task box…: as typed.
            _ => push_text(&mut stack, &body[range]),
        }
    }
    stack
        .into_iter()
        .next()
        .map(|(_, nodes)| nodes)
        .unwrap_or_default()
}

/// A container being filled while parsing.
enum Open {
    Root,
    Paragraph,
    Strong,
    Emphasis,
    Strike,
    Quote,
    CodeBlock,
    List(bool),
    Item,
    Link(String),
    /// A construct kept as its text (an image's alt text, a table…).
    Plain,
    /// A heading: the line as typed (`# 1` is about number one).
    Verbatim,
}

fn top(stack: &mut [(Open, Vec<Node>)]) -> &mut Vec<Node> {
    &mut stack.last_mut().expect("the root stays").1
}

/// Appends text, joining it to a text node just before it.
fn push_text(stack: &mut [(Open, Vec<Node>)], text: &str) {
    let nodes = top(stack);
    match nodes.last_mut() {
        Some(Node::Text(last)) => last.push_str(text),
        _ => nodes.push(Node::Text(text.to_owned())),
    }
}

/// The node a closed container makes (`source`: its Markdown, for a link
/// that is not allowed).
fn close(open: Open, children: Vec<Node>, source: &str) -> Option<Node> {
    Some(match open {
        Open::Root => return None,
        Open::Paragraph => Node::Paragraph(children),
        Open::Strong => Node::Strong(children),
        Open::Emphasis => Node::Emphasis(children),
        Open::Strike => Node::Strike(children),
        Open::Quote => Node::Quote(children),
        Open::CodeBlock => Node::CodeBlock(text_of(&children)),
        Open::List(ordered) => Node::List {
            ordered,
            items: children
                .into_iter()
                .map(|item| match item {
                    Node::Paragraph(inner) => inner,
                    other => vec![other],
                })
                .collect(),
        },
        Open::Item => Node::Paragraph(unwrap_paragraphs(children)),
        Open::Link(url) if url.starts_with("https://") || url.starts_with("http://") => {
            Node::Link { url, children }
        }
        // Not a web address: the text as typed.
        Open::Link(_) => Node::Text(source.to_owned()),
        Open::Plain => Node::Text(text_of(&children)),
        Open::Verbatim => Node::Paragraph(vec![Node::Text(source.trim_end().to_owned())]),
    })
}

/// A list item's paragraphs, run together (a chat list item is a line).
fn unwrap_paragraphs(children: Vec<Node>) -> Vec<Node> {
    let mut out = Vec::new();
    for child in children {
        match child {
            Node::Paragraph(inner) => out.extend(inner),
            other => out.push(other),
        }
    }
    out
}

/// The text of some nodes, without formatting.
fn text_of(nodes: &[Node]) -> String {
    let mut text = String::new();
    for node in nodes {
        match node {
            Node::Text(part) | Node::Code(part) | Node::CodeBlock(part) => text.push_str(part),
            Node::Break => text.push('\n'),
            Node::Strong(inner)
            | Node::Emphasis(inner)
            | Node::Strike(inner)
            | Node::Paragraph(inner)
            | Node::Quote(inner) => text.push_str(&text_of(inner)),
            Node::Link { children, .. } => text.push_str(&text_of(children)),
            Node::List { items, .. } => {
                for item in items {
                    text.push_str(&text_of(item));
                }
            }
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(value: &str) -> Node {
        Node::Text(value.into())
    }

    #[test]
    fn bold_italic_and_code_as_chat_people_type_them() {
        assert_eq!(
            parse("*bold* **strong** _italic_ `code`"),
            [Node::Paragraph(vec![
                Node::Strong(vec![text("bold")]),
                text(" "),
                Node::Strong(vec![text("strong")]),
                text(" "),
                Node::Emphasis(vec![text("italic")]),
                text(" "),
                Node::Code("code".into()),
            ])]
        );
    }

    #[test]
    fn raw_html_stays_text_everywhere() {
        let attack = "<img src=x onerror=alert(1)>";
        for body in [
            attack.to_owned(),
            format!("`{attack}`"),
            format!("> {attack}"),
            format!("```\n{attack}\n```"),
            format!("*{attack}*"),
            format!("- {attack}"),
        ] {
            let flat = text_of(&parse(&body));
            assert!(flat.contains(attack), "{body:?} gave {flat:?}");
        }
    }

    #[test]
    fn only_web_links_are_links() {
        assert_eq!(
            parse("[site](https://example.com)"),
            [Node::Paragraph(vec![Node::Link {
                url: "https://example.com".into(),
                children: vec![text("site")],
            }])]
        );
        assert_eq!(
            parse("[x](javascript:alert(1))"),
            [Node::Paragraph(vec![text("[x](javascript:alert(1))")])]
        );
    }

    #[test]
    fn quotes_lists_code_blocks_and_line_breaks() {
        assert_eq!(
            parse("> quoted"),
            [Node::Quote(vec![Node::Paragraph(vec![text("quoted")])])]
        );
        assert_eq!(
            parse("- one\n- two"),
            [Node::List {
                ordered: false,
                items: vec![vec![text("one")], vec![text("two")]],
            }]
        );
        assert_eq!(
            parse("```\nlet x = 1;\n```"),
            [Node::CodeBlock("let x = 1;\n".into())]
        );
        assert_eq!(
            parse("one\ntwo"),
            [Node::Paragraph(vec![text("one"), Node::Break, text("two")])]
        );
        assert_eq!(
            parse("# 1 thing"),
            [Node::Paragraph(vec![text("# 1 thing")])]
        );
    }
}
