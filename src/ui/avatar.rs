//! Generated avatars: a person's initials on a colour derived from their
//! user id, so people can be told apart at a glance and keep their colour
//! when they rename themselves.
//!
//! The twelve colours are classes (`avatar-c0` … `avatar-c11` in the CSS),
//! not inline styles: the page's Content-Security-Policy allows no inline
//! style. Each is dark enough for white initials to have a contrast of at
//! least 4.5:1, in both themes (the unit tests check the ratios).

use leptos::prelude::*;

/// The avatar palette (sRGB), in the CSS's order.
pub const PALETTE: [(u8, u8, u8); 12] = [
    (0xb4, 0x23, 0x18), // red
    (0xb4, 0x53, 0x09), // orange
    (0x8a, 0x5a, 0x00), // amber
    (0x3f, 0x6e, 0x0c), // lime
    (0x15, 0x80, 0x3d), // green
    (0x0f, 0x76, 0x6e), // teal
    (0x0e, 0x74, 0x90), // cyan
    (0x1d, 0x4e, 0xd8), // blue
    (0x43, 0x38, 0xca), // indigo
    (0x6d, 0x28, 0xd9), // violet
    (0xa2, 0x1c, 0xaf), // fuchsia
    (0xbe, 0x18, 0x5d), // pink
];

/// Which colour a user gets: a hash of their id (FNV-1a), so it is the
/// same on every page and for every viewer.
pub fn colour_index(user_id: &str) -> usize {
    let hash = user_id.bytes().fold(0x811c_9dc5_u32, |hash, byte| {
        (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193)
    });
    hash as usize % PALETTE.len()
}

/// Up to two initials: the first letter of the first two words of the
/// display name, upper-cased ("ann lee" → "AL"); a name without letters
/// keeps its first character.
pub fn initials(display_name: &str) -> String {
    let mut words = display_name
        .split_whitespace()
        .filter_map(|word| word.chars().find(|c| c.is_alphanumeric()));
    let initials: String = words.by_ref().take(2).map(upper).collect();
    if initials.is_empty() {
        display_name.chars().take(1).collect()
    } else {
        initials
    }
}

/// A letter in upper case. In the browser JavaScript's `toUpperCase` does
/// it: Rust's would add its Unicode case table (several KiB) to the bundle.
fn upper(letter: char) -> String {
    #[cfg(target_arch = "wasm32")]
    {
        String::from(js_sys::JsString::from(letter.to_string()).to_upper_case())
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        letter.to_uppercase().collect()
    }
}

/// A round avatar. Decorative (`aria-hidden`): the name it stands for is
/// always written beside it or in its control's accessible name.
#[component]
pub fn Avatar(
    user_id: String,
    display_name: String,
    /// `small` (members list), or the default size (messages, header).
    #[prop(optional)]
    small: bool,
) -> impl IntoView {
    let class = format!(
        "avatar avatar-c{}{}",
        colour_index(&user_id),
        if small { " avatar-small" } else { "" }
    );
    view! {
        <span class=class aria-hidden="true">
            {initials(&display_name)}
        </span>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// WCAG relative luminance of an sRGB colour.
    fn luminance((r, g, b): (u8, u8, u8)) -> f64 {
        let channel = |c: u8| {
            let c = f64::from(c) / 255.0;
            if c <= 0.039_28 {
                c / 12.92
            } else {
                ((c + 0.055) / 1.055).powf(2.4)
            }
        };
        0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)
    }

    #[test]
    fn white_initials_are_readable_on_every_colour() {
        for colour in PALETTE {
            let ratio = 1.05 / (luminance(colour) + 0.05);
            assert!(ratio >= 4.5, "{colour:?}: {ratio:.2}");
        }
    }

    #[test]
    fn initials_come_from_the_first_two_words() {
        assert_eq!(initials("ann lee"), "AL");
        assert_eq!(initials("Ann"), "A");
        assert_eq!(initials("  Zoë  van Dyk "), "ZV");
        assert_eq!(initials("émile"), "É");
        assert_eq!(initials("🙂"), "🙂");
        assert_eq!(initials("(bob) smith"), "BS");
    }

    #[test]
    fn a_user_keeps_their_colour() {
        assert_eq!(colour_index("u1"), colour_index("u1"));
        let spread: std::collections::HashSet<usize> = (0..100)
            .map(|i| colour_index(&format!("user{i}")))
            .collect();
        assert!(spread.len() >= 10, "ids spread over the palette");
    }
}
