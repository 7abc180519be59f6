//! A room's conversation: the message log with "Load older", and the
//! composer.
//!
//! Bodies are rendered as text nodes, never as HTML: `<b>` shows as `<b>`.

use leptos::html::Div;
use leptos::prelude::*;
use leptos::task::spawn_local;

use super::api::{history, send_message};
use super::model::{merge_messages, Message};
use crate::rooms::Room;
use crate::ui::linkify::{self, Piece};
use crate::ui::time;

/// How many messages a page of history holds.
pub const PAGE: u32 = 50;

/// A message typed here that the server has not (yet) acknowledged.
#[derive(Clone, Debug, PartialEq)]
struct Pending {
    client_msg_id: String,
    body: String,
    failed: Option<String>,
}

/// The open room. `messages` is owned by the page, which also merges live
/// events into it; `older` says whether "Load older" has more to load.
#[component]
pub fn RoomView(
    room: Room,
    messages: RwSignal<Vec<Message>>,
    older: RwSignal<bool>,
    /// The room open now: answers for a room left meanwhile are dropped.
    current: Signal<Option<String>>,
) -> impl IntoView {
    let pending = RwSignal::new(Vec::<Pending>::new());
    let draft = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let log = NodeRef::<Div>::new();
    let room_id = StoredValue::new(room.id.clone());
    let still_open = move || current.try_get_untracked().flatten() == room_id.try_get_value();

    let send = move |item: Pending| {
        spawn_local(async move {
            let result = send_message(
                room_id.get_value(),
                item.body.clone(),
                item.client_msg_id.clone(),
            )
            .await;
            // The room may have been closed meanwhile: its signals are then
            // gone or belong to another room.
            if !still_open() {
                return;
            }
            match result {
                Ok(message) => {
                    pending.update(|list| list.retain(|p| p.client_msg_id != item.client_msg_id));
                    messages.update(|list| {
                        merge_messages(list, [message]);
                    });
                    error.set(None);
                }
                Err(err) => {
                    let text = err.to_string();
                    pending.update(|list| {
                        if let Some(p) = list
                            .iter_mut()
                            .find(|p| p.client_msg_id == item.client_msg_id)
                        {
                            p.failed = Some(text.clone());
                        }
                    });
                    error.set(Some(text));
                }
            }
        });
    };
    let submit = move || {
        let body = draft.get_untracked();
        if body.trim().is_empty() {
            return;
        }
        let item = Pending {
            client_msg_id: uuid::Uuid::new_v4().to_string(),
            body,
            failed: None,
        };
        pending.update(|list| list.push(item.clone()));
        draft.set(String::new());
        send(item);
    };
    let load_older = move |_| {
        let first = messages.with_untracked(|list| list.first().map(|m| m.id.clone()));
        spawn_local(async move {
            let page = history(room_id.get_value(), first, None, Some(PAGE)).await;
            if let (Ok(page), true) = (page, still_open()) {
                older.set(page.len() == PAGE as usize);
                messages.update(|list| {
                    merge_messages(list, page);
                });
            }
        });
    };

    // Stay at the bottom when new messages arrive, unless the reader has
    // scrolled up to read older ones.
    Effect::new(move |_| {
        messages.track();
        pending.track();
        if let Some(log) = log.get() {
            let distance = log.scroll_height() - log.scroll_top() - log.client_height();
            if distance < 200 {
                log.set_scroll_top(log.scroll_height());
            }
        }
    });

    view! {
        <section class="pane pane-conversation" aria-label=room.name.clone()>
            <header class="room-header">
                <h1>{room.name.clone()}</h1>
                {room.private.then(|| view! { <span class="tag">"private"</span> })}
            </header>
            <div class="log" role="log" aria-label="Messages" node_ref=log>
                {move || {
                    older
                        .get()
                        .then(|| {
                            view! {
                                <button type="button" class="button-secondary load-older" on:click=load_older>
                                    "Load older"
                                </button>
                            }
                        })
                }}
                {move || messages.with(|list| render_messages(list))}
                {move || {
                    // A message that has arrived (live or as the answer) is
                    // shown once, as itself: its pending copy is not shown.
                    let arrived: Vec<String> = messages
                        .with(|list| list.iter().map(|m| m.client_msg_id.clone()).collect());
                    pending
                        .get()
                        .into_iter()
                        .filter(|item| !arrived.contains(&item.client_msg_id))
                        .map(|item| {
                            let retry = item.clone();
                            let failed = item.failed.is_some();
                            view! {
                                <article class="message pending" class:failed=failed>
                                    <div class="message-meta">
                                        <span class="author">"You"</span>
                                        <span class="time">{if failed { "failed" } else { "sending…" }}</span>
                                    </div>
                                    <p class="body">{item.body}</p>
                                    {failed
                                        .then(|| {
                                            view! {
                                                <button
                                                    type="button"
                                                    class="button-secondary"
                                                    on:click=move |_| {
                                                        let again = Pending { failed: None, ..retry.clone() };
                                                        pending.update(|list| {
                                                            if let Some(p) = list.iter_mut().find(|p| p.client_msg_id == again.client_msg_id) {
                                                                p.failed = None;
                                                            }
                                                        });
                                                        send(again);
                                                    }
                                                >
                                                    "Retry"
                                                </button>
                                            }
                                        })}
                                </article>
                            }
                        })
                        .collect_view()
                }}
            </div>
            {move || error.get().map(|message| view! { <p role="alert" class="form-error">{message}</p> })}
            <form
                class="composer"
                on:submit=move |event: leptos::ev::SubmitEvent| {
                    event.prevent_default();
                    submit();
                }
            >
                <textarea
                    aria-label="Message"
                    rows="2"
                    placeholder=format!("Message {}", room.name)
                    prop:value=move || draft.get()
                    on:input=move |event| draft.set(event_target_value(&event))
                    on:keydown=move |event: leptos::ev::KeyboardEvent| {
                        if event.key() == "Enter" && !event.shift_key() && !event.is_composing() {
                            event.prevent_default();
                            submit();
                        }
                    }
                ></textarea>
                <button type="submit" class="button-primary">
                    "Send"
                </button>
            </form>
        </section>
    }
}

/// A body as text nodes, with web links as `<a>` elements (see `linkify`).
fn body_view(body: &str) -> impl IntoView {
    linkify::pieces(body)
        .into_iter()
        .map(|piece| match piece {
            Piece::Text(text) => text.to_owned().into_any(),
            Piece::Link(url) => view! {
                <a href=url.to_owned() target="_blank" rel="noopener noreferrer nofollow">
                    {url.to_owned()}
                </a>
            }
            .into_any(),
        })
        .collect_view()
}

/// Messages grouped by day, with the author shown once per run of
/// messages by the same person.
fn render_messages(list: &[Message]) -> impl IntoView {
    let mut previous: Option<(&str, String)> = None;
    list.iter()
        .map(|message| {
            let day = time::day(message.sent_at);
            let new_day = previous.as_ref().is_none_or(|(_, d)| *d != day);
            let same_author = !new_day
                && previous
                    .as_ref()
                    .is_some_and(|(a, _)| *a == message.author.id);
            previous = Some((message.author.id.as_str(), day.clone()));
            view! {
                {new_day.then(|| view! { <p class="day-divider">{day}</p> })}
                <article class="message" class:continued=same_author data-id=message.id.clone()>
                    <div class="message-meta">
                        <span class="author">{message.author.display_name.clone()}</span>
                        <span class="time">{time::clock(message.sent_at)}</span>
                    </div>
                    <p class="body">{body_view(&message.body)}</p>
                </article>
            }
        })
        .collect_view()
}
