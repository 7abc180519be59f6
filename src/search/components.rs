//! The header's search box: "Search messages" (role `searchbox`), its
//! answers in a list "Search results", each a link to the message in its
//! room (`/rooms/<id>?message=<id>`, which the room view scrolls to and
//! highlights).

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::A;

use super::api::search;
use super::model::{Found, DEFAULT_LIMIT};
use crate::text::time;

/// How long typing must pause before a search is asked.
const SEARCH_AFTER: std::time::Duration = std::time::Duration::from_millis(300);

/// The search box, once hydrated (it needs the browser; like the bell,
/// it is not part of the server's HTML).
#[component]
pub fn SearchBox() -> impl IntoView {
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    move || hydrated.get().then(|| view! { <BrowserSearchBox /> })
}

/// What the results panel shows.
#[derive(Clone, Debug, PartialEq)]
enum Results {
    Searching,
    /// `q`: the query these answer ("More results" asks it again);
    /// `error`: a next page that failed (the list stays).
    Found {
        q: String,
        items: Vec<Found>,
        more: bool,
        error: Option<String>,
    },
    Failed(String),
}

impl Results {
    /// What the live region says of it, for screen readers.
    fn announcement(&self) -> String {
        match self {
            Self::Searching => "Searching…".into(),
            Self::Found {
                error: Some(message),
                ..
            }
            | Self::Failed(message) => message.clone(),
            Self::Found { items, .. } if items.is_empty() => "No messages found.".into(),
            Self::Found { items, .. } if items.len() == 1 => "1 message found.".into(),
            Self::Found { items, .. } => format!("{} messages found.", items.len()),
        }
    }
}

/// The list of a search's answers (a new one, or one more page).
fn answered(
    q: String,
    before: Option<String>,
    answer: Result<Vec<Found>, crate::error::AppError>,
    shown: Option<Results>,
) -> Results {
    match (answer, shown) {
        (Ok(next), Some(Results::Found { mut items, .. })) if before.is_some() => {
            let more = next.len() == DEFAULT_LIMIT;
            items.extend(next);
            Results::Found {
                q,
                items,
                more,
                error: None,
            }
        }
        (Err(err), Some(Results::Found { items, more, .. })) if before.is_some() => {
            Results::Found {
                q,
                items,
                more,
                error: Some(err.to_string()),
            }
        }
        (Ok(items), _) => Results::Found {
            q,
            more: items.len() == DEFAULT_LIMIT,
            items,
            error: None,
        },
        (Err(err), _) => Results::Failed(err.to_string()),
    }
}

#[component]
fn BrowserSearchBox() -> impl IntoView {
    let text = RwSignal::new(String::new());
    let results = RwSignal::new(None::<Results>);
    // Whether the results show. Closing hides them: focusing the box again
    // shows the last results.
    let open = RwSignal::new(false);
    // Only the latest request's answer counts.
    let request = StoredValue::new(0u32);
    let ask = move |q: String, before: Option<String>| {
        let this = request.get_value().wrapping_add(1);
        request.set_value(this);
        if before.is_none() {
            results.set(Some(Results::Searching));
        }
        open.set(true);
        spawn_local(async move {
            let answer = search(q.clone(), None, before.clone(), None).await;
            if request.try_get_value() != Some(this) {
                return;
            }
            results.try_update(|shown| *shown = Some(answered(q, before, answer, shown.take())));
        });
    };
    // Searches as one types, once typing pauses (two characters at least).
    Effect::new(move |_| {
        let q = text.get();
        let this = request.get_value().wrapping_add(1);
        request.set_value(this);
        if q.trim().chars().count() < 2 {
            results.set(None);
            open.set(false);
            return;
        }
        set_timeout(
            move || {
                if request.try_get_value() == Some(this) {
                    ask(q, None);
                }
            },
            SEARCH_AFTER,
        );
    });
    // Opening a result (or any other navigation) closes the list.
    let location = leptos_router::hooks::use_location();
    Effect::new(move |previous: Option<(String, String)>| {
        let now = (location.pathname.get(), location.search.get());
        if previous.is_some_and(|previous| previous != now) {
            open.set(false);
        }
        now
    });
    let input = NodeRef::<leptos::html::Input>::new();
    view! {
        <div
            class="search"
            on:keydown=move |event: leptos::ev::KeyboardEvent| {
                if event.key() == "Escape" && open.get_untracked() {
                    event.prevent_default();
                    open.set(false);
                    if let Some(input) = input.get_untracked() {
                        let _ = input.focus();
                    }
                }
            }
        >
            <form
                role="search"
                on:submit=move |event| {
                    event.prevent_default();
                    let q = text.get_untracked();
                    if !q.trim().is_empty() {
                        ask(q, None);
                    }
                }
            >
                <input
                    type="search"
                    node_ref=input
                    aria-label="Search messages"
                    // Names the results only while they exist.
                    aria-controls=move || results.with(Option::is_some).then_some("search-panel")
                    placeholder="Search"
                    maxlength="200"
                    autocomplete="off"
                    prop:value=move || text.get()
                    on:input=move |event| text.set(event_target_value(&event))
                    on:focus=move |_| open.set(results.get_untracked().is_some())
                />
            </form>
            // Always in the page, so screen readers announce each answer.
            <p class="search-status" aria-live="polite">
                {move || results.with(|shown| shown.as_ref().map(Results::announcement))}
            </p>
            {move || {
                results
                    .get()
                    .map(|shown| {
                        view! {
                            <section class="search-panel" id="search-panel" aria-label="Search" hidden=move || !open.get()>
                                {match shown {
                                    Results::Searching => view! { <p class="muted">"Searching…"</p> }.into_any(),
                                    Results::Failed(message) => {
                                        view! { <p role="alert" class="form-error">{message}</p> }.into_any()
                                    }
                                    Results::Found { items, .. } if items.is_empty() => {
                                        view! { <p class="muted">"No messages found."</p> }.into_any()
                                    }
                                    Results::Found { q, items, more, error } => {
                                        let next = items.last().map(|last| last.message.id.clone());
                                        view! {
                                            <ul class="search-results" aria-label="Search results">
                                                {items
                                                    .into_iter()
                                                    .map(|found| view! { <SearchResult found /> })
                                                    .collect_view()}
                                            </ul>
                                            {more
                                                .then(|| {
                                                    view! {
                                                        <button
                                                            type="button"
                                                            class="button-secondary"
                                                            on:click=move |_| ask(q.clone(), next.clone())
                                                        >
                                                            "More results"
                                                        </button>
                                                    }
                                                })}
                                            {error.map(|message| view! { <p class="form-error">{message}</p> })}
                                        }
                                            .into_any()
                                    }
                                }}
                            </section>
                        }
                    })
            }}
        </div>
    }
}

/// One result: a link to the message, with its room, author, time, and its
/// body with the matching words marked.
#[component]
fn SearchResult(found: Found) -> impl IntoView {
    let Found {
        message,
        room_name,
        highlights,
    } = found;
    let href = format!("/rooms/{}?message={}", message.room_id, message.id);
    let body = marked(&message.body, &highlights);
    view! {
        <li>
            <A href=href>
                <span class="search-meta">
                    <span class="search-room">{room_name}</span>
                    <span class="search-author">{message.author.display_name.clone()}</span>
                    <time class="muted small">{time::day(message.sent_at)} " " {time::clock(message.sent_at)}</time>
                </span>
                <span class="search-body">
                    {body
                        .into_iter()
                        .map(|(text, mark)| {
                            if mark { view! { <mark>{text}</mark> }.into_any() } else { text.into_any() }
                        })
                        .collect_view()}
                </span>
            </A>
        </li>
    }
}

/// The body cut into runs, each marked or not, from the server's byte
/// ranges (ranges out of order, overlapping or off a character boundary
/// are skipped rather than trusted).
fn marked(body: &str, highlights: &[(usize, usize)]) -> Vec<(String, bool)> {
    let mut runs = Vec::new();
    let mut at = 0;
    for &(start, end) in highlights {
        if start < at || end <= start || end > body.len() {
            continue;
        }
        let (Some(before), Some(word)) = (body.get(at..start), body.get(start..end)) else {
            continue;
        };
        if !before.is_empty() {
            runs.push((before.to_owned(), false));
        }
        runs.push((word.to_owned(), true));
        at = end;
    }
    if at < body.len() {
        runs.push((body[at..].to_owned(), false));
    }
    runs
}

#[cfg(test)]
mod tests {
    use super::marked;

    #[test]
    fn the_body_is_cut_at_the_highlights_and_bad_ranges_are_skipped() {
        let body = "the deploy key é vault";
        let runs = marked(body, &[(4, 10), (3, 5), (15, 16), (18, 23), (30, 40)]);
        assert_eq!(
            runs,
            [
                ("the ".into(), false),
                ("deploy".into(), true),
                (" key é ".into(), false),
                ("vault".into(), true)
            ]
        );
    }
}
