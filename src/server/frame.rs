//! One server-sent event, encoded as bytes for the wire. A leaf: the hub
//! encodes each room event with it once, and every event stream writes
//! those bytes (and encodes its own events) without either module needing
//! the other for it.

use axum::body::Bytes;

/// One server-sent event, encoded: `event:` and `id:` lines, a `data:`
/// line per line of `data`, and the blank line that ends it. The hub
/// encodes each room event once (`hub::Published::frame`); every
/// stream then writes the same bytes, with no copy of its own.
pub(crate) fn frame(event: &str, id: Option<&str>, data: &str) -> Bytes {
    let mut out = String::with_capacity(data.len() + event.len() + 32);
    for (field, value) in [("event", Some(event)), ("id", id)] {
        if let Some(value) = value {
            // A line break would end the field early (ours never have one).
            let value: String = value
                .chars()
                .filter(|c| !matches!(c, '\n' | '\r'))
                .collect();
            out.push_str(field);
            out.push_str(": ");
            out.push_str(&value);
            out.push('\n');
        }
    }
    // CR LF, LF and a lone CR all end a line in an event stream.
    let data = if data.contains('\r') {
        std::borrow::Cow::Owned(data.replace("\r\n", "\n").replace('\r', "\n"))
    } else {
        std::borrow::Cow::Borrowed(data)
    };
    for line in data.split('\n') {
        out.push_str("data: ");
        out.push_str(line);
        out.push('\n');
    }
    out.push('\n');
    Bytes::from(out)
}

#[cfg(test)]
mod tests {
    use super::frame;

    #[test]
    fn a_frame_has_its_name_id_and_data_and_ends_with_a_blank_line() {
        assert_eq!(
            &frame("message", Some("1-0"), r#"{"a":1}"#)[..],
            b"event: message\nid: 1-0\ndata: {\"a\":1}\n\n"
        );
        assert_eq!(
            &frame("resync", None, "{}")[..],
            b"event: resync\ndata: {}\n\n"
        );
    }

    #[test]
    fn line_breaks_in_data_become_data_lines_and_cannot_end_a_field() {
        assert_eq!(
            &frame("x\nid: 9", None, "a\nb\r\nc\rd")[..],
            b"event: xid: 9\ndata: a\ndata: b\ndata: c\ndata: d\n\n"
        );
    }
}
