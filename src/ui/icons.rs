//! The app's icons: inline SVG drawn with the text colour, so they follow
//! the theme and never depend on an emoji font (Debian's Chromium has none,
//! and an emoji shows there as an empty box).
//!
//! Every icon is `aria-hidden`: the control that holds one carries the
//! accessible name ("Notifications (3)", "Back to rooms"), so a screen
//! reader reads the name once and no picture.

use leptos::prelude::*;

/// One of the icons below, drawn at 1em by default (`.icon` in the CSS).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Icon {
    Bell,
    Back,
    People,
    ChevronDown,
    ArrowDown,
    Close,
    /// A speech bubble: write to someone.
    Chat,
    /// A gear: settings.
    Settings,
    /// A curved arrow: reply.
    Reply,
    /// A smiling face: react.
    Smile,
    /// A pencil: edit.
    Pencil,
    /// A bin: delete.
    Trash,
    /// Two chain links: a link.
    Link,
}

impl Icon {
    /// The strokes of a 24×24 drawing.
    fn paths(self) -> &'static [&'static str] {
        match self {
            Self::Bell => &[
                "M6 9a6 6 0 0 1 12 0c0 6 2.5 8 2.5 8h-17S6 15 6 9",
                "M10 20.5a2.2 2.2 0 0 0 4 0",
            ],
            Self::Back => &["M20 12H5", "M11 5l-7 7 7 7"],
            Self::People => &[
                "M9.5 11a3.5 3.5 0 1 0 0-7 3.5 3.5 0 0 0 0 7",
                "M3 20v-1.5A4.5 4.5 0 0 1 7.5 14h4a4.5 4.5 0 0 1 4.5 4.5V20",
                "M16 4.3a3.5 3.5 0 0 1 0 6.4",
                "M21 20v-1.5a4.5 4.5 0 0 0-3-4.2",
            ],
            Self::ChevronDown => &["M6 9l6 6 6-6"],
            Self::ArrowDown => &["M12 4v15", "M5 12l7 7 7-7"],
            Self::Close => &["M6 6l12 12", "M18 6L6 18"],
            Self::Chat => &["M4 5h16v11H9l-5 4z"],
            Self::Reply => &["M9 14L4 9l5-5", "M4 9h10a6 6 0 0 1 6 6v4"],
            Self::Smile => &[
                "M12 21a9 9 0 1 0 0-18 9 9 0 0 0 0 18",
                "M8 14s1.5 2 4 2 4-2 4-2",
                "M9 9h.01M15 9h.01",
            ],
            Self::Pencil => &["M17 3l4 4L8 20H4v-4z"],
            Self::Link => &[
                "M10 14a4 4 0 0 0 5.7 0l3-3a4 4 0 0 0-5.7-5.7l-1 1",
                "M14 10a4 4 0 0 0-5.7 0l-3 3a4 4 0 0 0 5.7 5.7l1-1",
            ],
            Self::Trash => &["M4 7h16", "M10 11v6M14 11v6", "M6 7l1 13h10l1-13", "M9 7V4h6v3"],
            Self::Settings => &[
                "M12 15a3 3 0 1 0 0-6 3 3 0 0 0 0 6",
                "M12 2v3M12 19v3M4.9 4.9l2.1 2.1M17 17l2.1 2.1M2 12h3M19 12h3M4.9 19.1L7 17M17 7l2.1-2.1",
            ],
        }
    }
}

/// An icon, hidden from assistive technology (its control is named).
#[component]
pub fn IconSvg(icon: Icon) -> impl IntoView {
    view! {
        <svg
            class="icon"
            viewBox="0 0 24 24"
            width="20"
            height="20"
            fill="none"
            stroke="currentColor"
            stroke-width="2"
            stroke-linecap="round"
            stroke-linejoin="round"
            aria-hidden="true"
            focusable="false"
        >
            {icon.paths().iter().map(|d| view! { <path d=*d /> }).collect_view()}
        </svg>
    }
}
