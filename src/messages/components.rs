//! A room's conversation: the message log with "Load older", and the
//! composer.
//!
//! Bodies are rendered as text nodes, never as HTML: `<b>` shows as `<b>`.

use leptos::html::Div;
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::A;

use super::api::{delete_message, edit_message, history, react, send_message};
use super::model::{merge_messages, Message};
use crate::error::AppError;
use crate::presence::api::typing;
use crate::presence::model::TYPING_EVERY_MS;
use crate::rooms::Room;
use crate::text::linkify::{self, Piece};
use crate::text::time;
use crate::ui::avatar::Avatar;
use crate::ui::icons::{Icon, IconSvg};

/// How many messages a page of history holds.
pub const PAGE: u32 = 50;

/// Waits before each automatic retry of a send that failed on the server's
/// side: about 15 s in all, longer than a Redis failover takes.
const RETRY_AFTER_MS: [u64; 6] = [500, 1_000, 2_000, 4_000, 4_000, 4_000];

/// Waits in the browser (a Promise resolved by a timer).
pub(crate) async fn pause(duration: std::time::Duration) {
    let promise = js_sys::Promise::new(&mut |resolve, _reject| {
        set_timeout(
            move || {
                let _ = resolve.call0(&wasm_bindgen::JsValue::NULL);
            },
            duration,
        );
    });
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}

/// A message typed here that the server has not (yet) acknowledged.
#[derive(Clone, Debug, PartialEq)]
struct Pending {
    client_msg_id: String,
    body: String,
    /// The id of the message it replies to.
    reply_to: Option<String>,
    failed: Option<String>,
}

/// The emoji the "React" picker offers.
const PICKER: [(&str, &str); 8] = [
    ("👍", "thumbs up"),
    ("❤️", "heart"),
    ("😂", "laughing"),
    ("🎉", "party"),
    ("😮", "surprised"),
    ("😢", "sad"),
    ("👀", "eyes"),
    ("✅", "done"),
];

/// What the messages' buttons act on: the open room's reply, edit and
/// picker state, shared by every message of the log.
#[derive(Clone, Copy)]
struct Actions {
    room_id: StoredValue<String>,
    /// The message the composer replies to.
    replying: RwSignal<Option<Message>>,
    /// The message being edited, and the edited text.
    editing: RwSignal<Option<(String, String)>>,
    /// The message whose emoji picker is open.
    picker: RwSignal<Option<String>>,
    error: RwSignal<Option<String>>,
    /// Whether the reader may delete others' messages (owner or admin).
    moderator: Signal<bool>,
    on_message: Callback<String>,
    /// Shows a message of the room (loading older history if needed).
    show: Callback<String>,
}

impl Actions {
    fn react(self, message_id: String, emoji: String, on: bool) {
        self.picker.set(None);
        spawn_local(async move {
            let answer = react(self.room_id.get_value(), message_id, emoji, on).await;
            self.error.try_set(answer.err().map(|err| err.to_string()));
        });
    }

    fn delete(self, message_id: String) {
        spawn_local(async move {
            let answer = delete_message(self.room_id.get_value(), message_id).await;
            self.error.try_set(answer.err().map(|err| err.to_string()));
        });
    }

    /// Saves the edit in progress (an unchanged or blank text just closes
    /// it).
    fn save_edit(self, original: &Message) {
        let Some((id, text)) = self.editing.get_untracked() else {
            return;
        };
        self.editing.set(None);
        if text.trim().is_empty() || text.trim() == original.body {
            return;
        }
        let base = original.edited_at.unwrap_or(0);
        spawn_local(async move {
            let answer = edit_message(self.room_id.get_value(), id, text, Some(base)).await;
            self.error.try_set(answer.err().map(|err| err.to_string()));
        });
    }
}

/// The open room. `messages` is owned by the page, which also merges live
/// events into it; `older` says whether "Load older" has more to load.
#[component]
pub fn RoomView(
    /// The room as last listed: its name, topic and the reader's role and
    /// level change in place.
    room: Memo<Option<Room>>,
    /// The room's members (the page keeps them), for the settings.
    members: RwSignal<Vec<crate::presence::model::Member>>,
    /// The reader's user id.
    me_id: String,
    /// Opens a direct room with the person of this handle.
    on_message: Callback<String>,
    /// Asks for the room list again.
    refresh: Callback<()>,
    messages: RwSignal<Vec<Message>>,
    older: RwSignal<bool>,
    /// The room open now: answers for a room left meanwhile are dropped.
    current: Signal<Option<String>>,
    /// The reader's handle, to highlight mentions of them.
    me: String,
    /// Who is typing here ("Ann is typing…"), kept by the page.
    typing_text: Signal<Option<String>>,
    /// The first message that was unread when the room opened: the "New
    /// messages" divider goes before it.
    divider_before: Signal<Option<String>>,
    /// Whether the first page has arrived (an empty room says so then).
    loaded: Signal<bool>,
    /// The members pane, a drawer on narrow screens: opened from here.
    members_open: RwSignal<bool>,
) -> impl IntoView {
    let me = StoredValue::new(me);
    let pending = RwSignal::new(Vec::<Pending>::new());
    let draft = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let log = NodeRef::<Div>::new();
    let room_id = StoredValue::new(
        room.with_untracked(|room| room.as_ref().map(|room| room.id.clone()))
            .unwrap_or_default(),
    );
    let name = move || {
        room.with(|room| {
            room.as_ref()
                .map(|room| room.name.clone())
                .unwrap_or_default()
        })
    };
    let me_id = StoredValue::new(me_id);
    let settings_open = RwSignal::new(false);
    let replying = RwSignal::new(None::<Message>);
    let composer = NodeRef::<leptos::html::Textarea>::new();
    // Mention suggestions: the `@word` being typed before the caret, the
    // members it matches, the one selected; Escape hides them until the
    // text changes.
    let caret = RwSignal::new(0usize);
    let mention_closed = RwSignal::new(false);
    let mention_selected = RwSignal::new(0usize);
    let mention = Memo::new(move |_| {
        let at = caret.get();
        draft.with(|text| typed_mention(text, at))
    });
    let suggestions = Memo::new(move |_| {
        if mention_closed.get() {
            return Vec::new();
        }
        let Some((_, query)) = mention.get() else {
            return Vec::new();
        };
        let query = query.to_lowercase();
        members.with(|list| {
            list.iter()
                .map(|member| &member.user)
                .filter(|user| me_id.with_value(|me| user.id != *me))
                .filter(|user| {
                    user.handle.starts_with(&query)
                        || user
                            .display_name
                            .to_lowercase()
                            .split_whitespace()
                            .any(|word| word.starts_with(&query))
                })
                .take(6)
                .cloned()
                .collect::<Vec<_>>()
        })
    });
    let pick_mention = move |handle: String| {
        let Some((start, _)) = mention.get_untracked() else {
            return;
        };
        let at = caret.get_untracked();
        let text = draft.get_untracked();
        let (Some(before), Some(after)) = (text.get(..start), text.get(at..)) else {
            return;
        };
        let inserted = format!("{before}@{handle} ");
        let position = inserted.len();
        draft.set(format!("{inserted}{after}"));
        caret.set(position);
        mention_selected.set(0);
        if let Some(composer) = composer.get_untracked() {
            composer.set_value(&format!("{inserted}{after}"));
            let position = u32::try_from(position).unwrap_or(u32::MAX);
            let _ = composer.set_selection_range(position, position);
            let _ = composer.focus();
        }
    };
    let note_caret = move || {
        if let Some(composer) = composer.get_untracked() {
            if let Ok(Some(at)) = composer.selection_start() {
                caret.set(at as usize);
            }
        }
    };
    // Replying puts the cursor in the composer.
    Effect::new(move |_| {
        if replying.with(Option::is_some) {
            if let Some(composer) = composer.get_untracked() {
                let _ = composer.focus();
            }
        }
    });
    let still_open = move || current.try_get_untracked().flatten() == room_id.try_get_value();

    let send = move |item: Pending| {
        spawn_local(async move {
            let mut result = send_message(
                room_id.get_value(),
                item.body.clone(),
                item.client_msg_id.clone(),
                item.reply_to.clone(),
            )
            .await;
            // A server or Redis failure (a failover, a node restarting) is
            // retried on its own for about 15 s, with the same client
            // message id, so the server stores the message at most once.
            for wait_ms in RETRY_AFTER_MS {
                if !matches!(
                    result,
                    Err(AppError::Unavailable(_) | AppError::Internal(_))
                ) {
                    break;
                }
                pause(std::time::Duration::from_millis(wait_ms)).await;
                result = send_message(
                    room_id.get_value(),
                    item.body.clone(),
                    item.client_msg_id.clone(),
                    item.reply_to.clone(),
                )
                .await;
            }
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
                // Refused for speed: nothing was stored. The text goes back
                // into the composer (unless something new was typed), and the
                // alert says when sending works again.
                Err(err @ AppError::TooManyRequests { .. }) => {
                    pending.update(|list| list.retain(|p| p.client_msg_id != item.client_msg_id));
                    if draft.get_untracked().trim().is_empty() {
                        draft.set(item.body.clone());
                    }
                    error.set(Some(err.to_string()));
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
            reply_to: replying.get_untracked().map(|parent| parent.id),
            failed: None,
        };
        replying.set(None);
        pending.update(|list| list.push(item.clone()));
        draft.set(String::new());
        send(item);
    };
    // One page at a time, whether asked for by the button or by scrolling
    // to the top; the reader keeps their place when the page lands above.
    let loading_older = RwSignal::new(false);
    let load_older = move || {
        if loading_older.get_untracked() {
            return;
        }
        loading_older.set(true);
        let first = messages.with_untracked(|list| list.first().map(|m| m.id.clone()));
        spawn_local(async move {
            let page = history(room_id.get_value(), first, None, Some(PAGE)).await;
            if let (Ok(page), true) = (page, still_open()) {
                let height_before = log.get_untracked().map(|log| log.scroll_height());
                older.set(page.len() == PAGE as usize);
                messages.update(|list| {
                    merge_messages(list, page);
                });
                request_animation_frame(move || {
                    if let (Some(log), Some(before)) = (log.get_untracked(), height_before) {
                        log.set_scroll_top(log.scroll_top() + log.scroll_height() - before);
                    }
                });
            }
            let _ = loading_older.try_set(false);
        });
    };
    // Whether the reader is at (or near) the newest message; new messages
    // keep them there. Decided on scroll, before new content changes the
    // heights.
    let at_bottom = RwSignal::new(true);
    // Messages that arrived below while the reader was scrolled up.
    let unseen = RwSignal::new(0usize);
    let on_scroll = move |_| {
        let Some(element) = log.get_untracked() else {
            return;
        };
        let distance = element.scroll_height() - element.scroll_top() - element.client_height();
        let bottom = distance < 200;
        if bottom != at_bottom.get_untracked() {
            at_bottom.set(bottom);
        }
        if bottom && unseen.get_untracked() > 0 {
            unseen.set(0);
        }
        if element.scroll_top() < 40 && older.get_untracked() {
            load_older();
        }
    };
    let jump_to_latest = move |_| {
        if let Some(element) = log.get_untracked() {
            element.set_scroll_top(element.scroll_height());
            // The button is about to go: keep focus nearby.
            let _ = element.focus();
        }
        at_bottom.set(true);
        unseen.set(0);
    };
    // Tell the room we are typing, at most once per throttle window (the
    // server throttles too).
    let last_typing = StoredValue::new(0.0_f64);
    let announce_typing = move || {
        let now = js_sys::Date::now();
        if now - last_typing.get_value() >= TYPING_EVERY_MS as f64 {
            last_typing.set_value(now);
            spawn_local(async move {
                let _ = typing(room_id.get_value()).await;
            });
        }
    };

    // Stay at the bottom when new messages arrive, unless the reader has
    // scrolled up to read older ones: then count them for "Jump to latest".
    let newest = StoredValue::new(None::<String>);
    Effect::new(move |_| {
        let arrived = messages.with(|list| {
            let before = newest.get_value();
            newest.set_value(list.last().map(|m| m.id.clone()));
            match before {
                Some(before) => list.iter().rev().take_while(|m| m.id != before).count(),
                None => 0,
            }
        });
        pending.track();
        if !at_bottom.get_untracked() {
            if arrived > 0 {
                unseen.update(|n| *n += arrived);
            }
            return;
        }
        // After the browser has laid out what just arrived.
        request_animation_frame(move || {
            if let Some(element) = log.get_untracked() {
                element.set_scroll_top(element.scroll_height());
            }
        });
    });

    // Opening a room on a phone removes the link that had focus: focus
    // goes to the room's heading rather than to the page's start.
    let heading = NodeRef::<leptos::html::H1>::new();
    Effect::new(move |_| {
        let lost = document()
            .active_element()
            .is_none_or(|active| active.tag_name().eq_ignore_ascii_case("body"));
        if let (true, Some(heading)) = (lost, heading.get()) {
            let _ = heading.focus();
        }
    });
    let empty = move || loaded.get() && messages.with(Vec::is_empty) && pending.with(Vec::is_empty);
    // A message of the room, shown and focused: older pages are loaded
    // until it is there (at most 10 of 100), then it is scrolled to.
    let show = Callback::new(move |id: String| {
        spawn_local(async move {
            for _ in 0..10 {
                let here = messages.with_untracked(|list| list.iter().any(|m| m.id == id));
                if here || !still_open() {
                    break;
                }
                let first = messages.with_untracked(|list| list.first().map(|m| m.id.clone()));
                let Ok(page) = history(room_id.get_value(), first, None, Some(100)).await else {
                    break;
                };
                if !still_open() {
                    return;
                }
                older.set(page.len() == 100);
                let ended = page.is_empty();
                messages.update(|list| {
                    merge_messages(list, page);
                });
                if ended {
                    break;
                }
            }
            request_animation_frame(move || highlight(&id));
        });
    });
    // A link to a message (`?message=<id>`, from a notification or a
    // shared link): once the first page is there, show that message.
    let query = leptos_router::hooks::use_query_map();
    Effect::new(move |shown: Option<Option<String>>| {
        let shown = shown.flatten();
        let wanted = query.with(|query| query.get("message"));
        match wanted {
            Some(id) if loaded.get() && shown.as_ref() != Some(&id) => {
                show.run(id.clone());
                Some(id)
            }
            _ => shown,
        }
    });
    let actions = Actions {
        room_id,
        replying,
        editing: RwSignal::new(None),
        picker: RwSignal::new(None),
        error,
        moderator: Signal::derive(move || {
            room.with(|room| room.as_ref().is_some_and(Room::can_manage))
        }),
        on_message,
        show,
    };
    view! {
        <section class="pane pane-conversation" aria-label=name>
            <header class="room-header">
                <A href="/" attr:class="icon-button back-link" attr:aria-label="Back to rooms">
                    <IconSvg icon=Icon::Back />
                </A>
                <h1 title=name tabindex="-1" node_ref=heading>
                    {name}
                </h1>
                {move || {
                    room.with(|room| room.as_ref().is_some_and(|room| room.private && !room.is_direct()))
                        .then(|| view! { <span class="tag">"private"</span> })
                }}
                {move || {
                    room.with(|room| room.as_ref().is_some_and(Room::is_direct))
                        .then(|| view! { <crate::rooms::components::HideDirect room_id=room_id.get_value() refresh /> })
                }}
                {move || {
                    room.with(|room| room.as_ref().is_some_and(Room::can_manage))
                        .then(|| {
                            view! {
                                <button
                                    type="button"
                                    class="icon-button settings-toggle"
                                    aria-label="Room settings"
                                    aria-expanded=move || settings_open.get().to_string()
                                    on:click=move |_| settings_open.update(|open| *open = !*open)
                                >
                                    <IconSvg icon=Icon::Settings />
                                </button>
                            }
                        })
                }}
                <button
                    type="button"
                    class="icon-button members-toggle"
                    aria-label="Members"
                    aria-controls="members-pane"
                    aria-expanded=move || members_open.get().to_string()
                    on:click=move |_| members_open.update(|open| *open = !*open)
                >
                    <IconSvg icon=Icon::People />
                </button>
                <div class="room-subheader">
                    <p class="topic">{move || room.with(|room| room.as_ref().map(|room| room.topic.clone()))}</p>
                    <crate::rooms::components::NotificationLevel room />
                </div>
            </header>
            {move || {
                (settings_open.get() && room.with(|room| room.as_ref().is_some_and(Room::can_manage)))
                    .then(|| {
                        view! {
                            <crate::rooms::components::RoomSettings
                                room
                                members
                                me_id=me_id.get_value()
                                on_close=Callback::new(move |()| settings_open.set(false))
                            />
                        }
                    })
            }}
            // Focusable, so that keyboard users can scroll it.
            <div class="log" role="log" aria-label="Messages" tabindex="0" node_ref=log on:scroll=on_scroll>
                {move || {
                    older
                        .get()
                        .then(|| {
                            view! {
                                <button type="button" class="button-secondary load-older" on:click=move |_| load_older()>
                                    "Load older"
                                </button>
                            }
                        })
                }}
                {move || {
                    empty()
                        .then(|| {
                            view! {
                                <div class="empty-state empty-room">
                                    <p>"No messages yet."</p>
                                    <p class="muted">"Say hello: what you write here reaches everyone in the room."</p>
                                </div>
                            }
                        })
                }}
                {move || {
                    let divider = divider_before.get();
                    // Opening an edit box or a picker redraws the log.
                    actions.editing.with(|editing| editing.as_ref().map(|(id, _)| id.len()));
                    actions.picker.track();
                    actions.moderator.track();
                    messages.with(|list| render_messages(list, &me.read_value(), &me_id.read_value(), divider.as_deref(), actions))
                }}
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
            // A zero-height anchor above the composer: the button floats
            // over the bottom of the log.
            <div class="jump-anchor">
                {move || {
                    let n = unseen.get();
                    (n > 0)
                        .then(|| {
                            view! {
                                <button type="button" class="jump-latest" on:click=jump_to_latest>
                                    <IconSvg icon=Icon::ArrowDown />
                                    "Jump to latest"
                                    <span class="badge">{format!("{n} new")}</span>
                                </button>
                            }
                        })
                }}
            </div>
            <p class="typing" aria-live="polite">{move || typing_text.get()}</p>
            {move || {
                replying
                    .get()
                    .map(|parent| {
                        view! {
                            <div class="replying">
                                <p>
                                    <span class="replying-to">{format!("Replying to {}", parent.author.display_name)}</span>
                                    <span class="excerpt">{super::model::reply_excerpt(&parent.body)}</span>
                                </p>
                                <button type="button" class="icon-button" aria-label="Cancel reply" title="Cancel reply" on:click=move |_| replying.set(None)>
                                    <IconSvg icon=Icon::Close />
                                </button>
                            </div>
                        }
                    })
            }}
            {move || error.get().map(|message| view! { <p role="alert" class="form-error">{message}</p> })}
            {move || {
                let found = suggestions.get();
                (!found.is_empty())
                    .then(|| {
                        let selected = mention_selected.get().min(found.len() - 1);
                        view! {
                            <ul class="mention-suggestions" role="listbox" aria-label="Mention suggestions">
                                {found
                                    .into_iter()
                                    .enumerate()
                                    .map(|(at, user)| {
                                        let handle = user.handle.clone();
                                        view! {
                                            <li
                                                role="option"
                                                aria-selected=(at == selected).to_string()
                                                class:selected=at == selected
                                                on:mousedown=move |event: leptos::ev::MouseEvent| {
                                                    event.prevent_default();
                                                    pick_mention(handle.clone());
                                                }
                                            >
                                                {user.display_name}
                                                <span class="handle">{format!(" @{}", user.handle)}</span>
                                            </li>
                                        }
                                    })
                                    .collect_view()}
                            </ul>
                        }
                    })
            }}
            <form
                class="composer"
                on:submit=move |event: leptos::ev::SubmitEvent| {
                    event.prevent_default();
                    submit();
                }
            >
                <textarea
                    aria-label="Message"
                    node_ref=composer
                    rows="2"
                    placeholder=move || format!("Message {}", name())
                    prop:value=move || draft.get()
                    on:input=move |event| {
                        draft.set(event_target_value(&event));
                        mention_closed.set(false);
                        mention_selected.set(0);
                        note_caret();
                        announce_typing();
                    }
                    on:click=move |_| note_caret()
                    on:keyup=move |event: leptos::ev::KeyboardEvent| {
                        if event.key().starts_with("Arrow") && suggestions.with_untracked(Vec::is_empty) {
                            note_caret();
                        }
                    }
                    on:keydown=move |event: leptos::ev::KeyboardEvent| {
                        let count = suggestions.with_untracked(Vec::len);
                        let key = event.key();
                        if count > 0 && !event.is_composing() {
                            match key.as_str() {
                                "ArrowDown" | "ArrowUp" => {
                                    event.prevent_default();
                                    let step = if key == "ArrowDown" { 1 } else { count - 1 };
                                    mention_selected.update(|at| *at = (*at + step) % count);
                                    return;
                                }
                                "Enter" | "Tab" => {
                                    event.prevent_default();
                                    let chosen = suggestions.with_untracked(|list| {
                                        list.get(mention_selected.get_untracked().min(count - 1)).map(|user| user.handle.clone())
                                    });
                                    if let Some(handle) = chosen {
                                        pick_mention(handle);
                                    }
                                    return;
                                }
                                "Escape" => {
                                    event.prevent_default();
                                    mention_closed.set(true);
                                    return;
                                }
                                _ => {}
                            }
                        }
                        if event.key() == "Enter" && !event.shift_key() && !event.is_composing() {
                            event.prevent_default();
                            submit();
                        } else if event.key() == "Escape" && replying.get_untracked().is_some() {
                            replying.set(None);
                        } else if event.key() == "ArrowUp" && draft.get_untracked().is_empty()
                            && !(event.alt_key() || event.ctrl_key() || event.meta_key() || event.shift_key())
                        {
                            // Up in an empty composer goes to one's last message
                            // (where editing it will start).
                            let last = log.get_untracked().and_then(|log| {
                                let mine = log.query_selector_all("article.mine").ok()?;
                                mine.get(mine.length().checked_sub(1)?)
                            });
                            if let Some(last) = last.and_then(|last| wasm_bindgen::JsCast::dyn_into::<web_sys::HtmlElement>(last).ok()) {
                                event.prevent_default();
                                let _ = last.focus();
                            }
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

/// A body as text nodes, with web links as `<a>` elements and mentions
/// highlighted (see `linkify`); a mention of `me` stands out more.
fn body_view(body: &str, me: &str) -> impl IntoView {
    nodes_view(crate::text::markdown::parse(body), me)
}

/// Formatted nodes as views: elements and text nodes only, never HTML.
fn nodes_view(nodes: Vec<crate::text::markdown::Node>, me: &str) -> AnyView {
    use crate::text::markdown::Node;
    nodes
        .into_iter()
        .map(|node| match node {
            Node::Text(text) => text_view(&text, me).into_any(),
            Node::Break => view! { <br /> }.into_any(),
            Node::Code(code) => view! { <code>{code}</code> }.into_any(),
            Node::Strong(inner) => view! { <strong>{nodes_view(inner, me)}</strong> }.into_any(),
            Node::Emphasis(inner) => view! { <em>{nodes_view(inner, me)}</em> }.into_any(),
            Node::Strike(inner) => view! { <s>{nodes_view(inner, me)}</s> }.into_any(),
            Node::Link { url, children } => view! {
                <a href=url target="_blank" rel="noopener noreferrer nofollow">
                    {nodes_view(children, me)}
                </a>
            }
            .into_any(),
            Node::Paragraph(inner) => view! { <p>{nodes_view(inner, me)}</p> }.into_any(),
            Node::CodeBlock(code) => view! { <pre><code>{code}</code></pre> }.into_any(),
            Node::Quote(inner) => {
                view! { <blockquote>{nodes_view(inner, me)}</blockquote> }.into_any()
            }
            Node::List { ordered, items } => {
                let items = items
                    .into_iter()
                    .map(|item| view! { <li>{nodes_view(item, me)}</li> })
                    .collect_view();
                if ordered {
                    view! { <ol>{items}</ol> }.into_any()
                } else {
                    view! { <ul>{items}</ul> }.into_any()
                }
            }
        })
        .collect_view()
        .into_any()
}

/// Plain text with its bare web links and `@mentions`.
fn text_view(body: &str, me: &str) -> impl IntoView {
    linkify::pieces(body)
        .into_iter()
        .map(|piece| match piece {
            Piece::Text(text) => text.to_owned().into_any(),
            Piece::Mention(mention) => {
                let mine = mention[1..].eq_ignore_ascii_case(me);
                view! { <span class="mention" class:mention-me=mine>{mention.to_owned()}</span> }
                    .into_any()
            }
            Piece::Link(url) => view! {
                <a href=url.to_owned() target="_blank" rel="noopener noreferrer nofollow">
                    {url.to_owned()}
                </a>
            }
            .into_any(),
        })
        .collect_view()
}

/// How long a run of messages by one person stays one group (one avatar,
/// one name and time): a pause longer than this starts a new group.
const GROUP_GAP_MS: u64 = 5 * 60_000;

/// Messages grouped by day ("Today", "Yesterday", a date), with the author's
/// avatar, name and time shown once per run of messages by the same
/// person, and the "New messages" divider before `divider_before`.
fn render_messages(
    list: &[Message],
    me: &str,
    me_id: &str,
    divider_before: Option<&str>,
    actions: Actions,
) -> impl IntoView {
    let on_message = actions.on_message;
    let now = time::now_millis();
    let mut previous: Option<(&str, String, u64)> = None;
    list.iter()
        .map(|message| {
            let day = time::day(message.sent_at);
            let new_day = previous.as_ref().is_none_or(|(_, d, _)| *d != day);
            let divider = divider_before == Some(message.id.as_str());
            let same_author = !new_day
                && !divider
                && previous.as_ref().is_some_and(|(author, _, at)| {
                    *author == message.author.id && message.sent_at.saturating_sub(*at) < GROUP_GAP_MS
                });
            previous = Some((message.author.id.as_str(), day, message.sent_at));
            let full_time = time::full(message.sent_at);
            view! {
                {new_day.then(|| view! { <h2 class="day-divider"><span>{time::day_label(message.sent_at, now)}</span></h2> })}
                {divider.then(|| {
                    view! {
                        <div class="unread-divider" role="separator" aria-label="New messages">
                            <span aria-hidden="true">"New messages"</span>
                        </div>
                    }
                })}
                <article
                    class="message"
                    class:continued=same_author
                    class:mine=message.author.handle == me
                    // Focusable from script (Up in an empty composer), not
                    // a tab stop.
                    tabindex="-1"
                    data-id=message.id.clone()
                    title=same_author.then(|| {
                        format!("{} @{}, {}", message.author.display_name, message.author.handle, full_time)
                    })
                >
                    {(!same_author).then(|| {
                        view! { <Avatar user_id=message.author.id.clone() display_name=message.author.display_name.clone() /> }
                    })}
                    <div class="message-main">
                        <div class="message-meta">
                            <span class="author" title=format!("@{}", message.author.handle)>
                                {message.author.display_name.clone()}
                            </span>
                            // Always read by screen readers; shown on hover and
                            // keyboard focus, so a look-alike display name
                            // cannot pass for someone else.
                            <span class="handle">{format!("@{}", message.author.handle)}</span>
                            {(!same_author && message.author.id != me_id)
                                .then(|| {
                                    view! {
                                        <crate::presence::components::MessageButton
                                            user=message.author.clone()
                                            on_message
                                            class="author-message"
                                        />
                                    }
                                })}
                            <span class="time" title=full_time.clone() aria-hidden="true">
                                {time::clock(message.sent_at)}
                            </span>
                            <span class="time-full">{full_time.clone()}</span>
                        </div>
                        {message.reply_to.clone().map(|parent| reply_quote(parent, actions))}
                        {message_body(message, me, actions)}
                        {reactions_view(message, actions)}
                    </div>
                    {message_actions(message, me_id, actions)}
                </article>
            }
        })
        .collect_view()
}

/// The quoted start of the message a reply answers: a button that shows it.
fn reply_quote(parent: super::model::ReplyRef, actions: Actions) -> impl IntoView {
    let id = parent.id.clone();
    let text = if parent.deleted {
        "Original message deleted".to_owned()
    } else {
        format!("{}: {}", parent.author.display_name, parent.excerpt)
    };
    view! {
        <button type="button" class="reply-quote" on:click=move |_| actions.show.run(id.clone())>
            <IconSvg icon=Icon::Reply />
            <span>{text}</span>
        </button>
    }
}

/// A message's body: the text with "(edited)", the deleted placeholder, or
/// the edit box while it is being edited (Enter saves, Escape cancels).
fn message_body(message: &Message, me: &str, actions: Actions) -> impl IntoView {
    if message.deleted {
        return view! { <p class="body deleted">"This message was deleted."</p> }.into_any();
    }
    let editing = actions
        .editing
        .with_untracked(|editing| editing.as_ref().is_some_and(|(id, _)| *id == message.id));
    if editing {
        let original = message.clone();
        let text = actions
            .editing
            .with_untracked(|e| e.as_ref().map(|(_, text)| text.clone()));
        let save = original.clone();
        return view! {
            <form
                class="edit-box"
                on:submit=move |event: leptos::ev::SubmitEvent| {
                    event.prevent_default();
                    actions.save_edit(&save);
                }
            >
                <textarea
                    aria-label="Edit message"
                    rows="2"
                    prop:value=text.unwrap_or_default()
                    autofocus
                    on:input=move |event| {
                        let text = event_target_value(&event);
                        actions.editing.update_untracked(|editing| {
                            if let Some((_, draft)) = editing {
                                *draft = text;
                            }
                        });
                    }
                    on:keydown=move |event: leptos::ev::KeyboardEvent| {
                        if event.key() == "Enter" && !event.shift_key() && !event.is_composing() {
                            event.prevent_default();
                            actions.save_edit(&original);
                        } else if event.key() == "Escape" {
                            event.prevent_default();
                            actions.editing.set(None);
                        }
                    }
                ></textarea>
                <div class="row">
                    <button type="submit" class="button-primary">"Save"</button>
                    <button type="button" class="button-secondary" on:click=move |_| actions.editing.set(None)>
                        "Cancel"
                    </button>
                </div>
            </form>
        }
        .into_any();
    }
    view! {
        <div class="body">
            {body_view(&message.body, me)}
            {message.edited_at.is_some().then(|| view! { <span class="edited">"(edited)"</span> })}
        </div>
    }
    .into_any()
}

/// One toggle button per emoji: "👍 2", pressed when the reader is among
/// those who reacted.
fn reactions_view(message: &Message, actions: Actions) -> impl IntoView {
    (!message.reactions.is_empty() && !message.deleted).then(|| {
        let buttons = message
            .reactions
            .iter()
            .map(|reaction| {
                let (id, emoji, me) = (message.id.clone(), reaction.emoji.clone(), reaction.me);
                view! {
                    <button
                        type="button"
                        class="reaction"
                        aria-pressed=me.to_string()
                        on:click=move |_| actions.react(id.clone(), emoji.clone(), !me)
                    >
                        {format!("{} {}", reaction.emoji, reaction.count)}
                    </button>
                }
            })
            .collect_view();
        view! { <div class="reactions">{buttons}</div> }
    })
}

/// "Reply", "React", and on one's own messages "Edit" and "Delete" (owners
/// and admins also "Delete" others'): shown on hover and keyboard focus.
/// "React" opens a small picker of common emoji.
fn message_actions(message: &Message, me_id: &str, actions: Actions) -> impl IntoView {
    if message.deleted {
        return None;
    }
    let mine = message.author.id == me_id;
    let (reply, react_id, edit, delete) = (
        message.clone(),
        message.id.clone(),
        (message.id.clone(), message.body.clone()),
        message.id.clone(),
    );
    let picker_open = actions
        .picker
        .with_untracked(|open| open.as_deref() == Some(message.id.as_str()));
    let picker_id = message.id.clone();
    let moderator = actions.moderator.get_untracked();
    Some(view! {
        <div class="message-actions">
            <button type="button" class="icon-button" aria-label="Reply" title="Reply" on:click=move |_| actions.replying.set(Some(reply.clone()))>
                <IconSvg icon=Icon::Reply />
            </button>
            <button
                type="button"
                class="icon-button"
                aria-label="React"
                title="React"
                aria-expanded=picker_open.to_string()
                on:click=move |_| {
                    let id = react_id.clone();
                    actions.picker.update(|open| *open = if open.as_deref() == Some(id.as_str()) { None } else { Some(id) });
                }
            >
                <IconSvg icon=Icon::Smile />
            </button>
            {mine
                .then(|| {
                    view! {
                        <button type="button" class="icon-button" aria-label="Edit" title="Edit" on:click=move |_| actions.editing.set(Some(edit.clone()))>
                            <IconSvg icon=Icon::Pencil />
                        </button>
                    }
                })}
            <a
                class="icon-button"
                href=format!("/rooms/{}?message={}", message.room_id, message.id)
                aria-label="Link to this message"
                title="Link to this message"
            >
                <IconSvg icon=Icon::Link />
            </a>
            {(mine || moderator)
                .then(|| {
                    view! {
                        <button type="button" class="icon-button" aria-label="Delete" title="Delete" on:click=move |_| actions.delete(delete.clone())>
                            <IconSvg icon=Icon::Trash />
                        </button>
                    }
                })}
            {picker_open
                .then(|| {
                    view! {
                        <div class="emoji-picker" role="group" aria-label="Pick a reaction">
                            {PICKER
                                .iter()
                                .map(|(emoji, name)| {
                                    let id = picker_id.clone();
                                    view! {
                                        <button
                                            type="button"
                                            class="emoji"
                                            title=*name
                                            on:click=move |_| actions.react(id.clone(), (*emoji).to_owned(), true)
                                        >
                                            {*emoji}
                                        </button>
                                    }
                                })
                                .collect_view()}
                        </div>
                    }
                })}
        </div>
    })
}

/// Scrolls a message of the log into view, focuses it and marks it for a
/// moment (browser only).
fn highlight(id: &str) {
    let Ok(Some(element)) = document().query_selector(&format!("article[data-id='{id}']")) else {
        return;
    };
    let Ok(element) = wasm_bindgen::JsCast::dyn_into::<web_sys::HtmlElement>(element) else {
        return;
    };
    element.scroll_into_view();
    let _ = element.focus();
    let _ = element.class_list().add_1("highlighted");
    set_timeout(
        move || {
            let _ = element.class_list().remove_1("highlighted");
        },
        std::time::Duration::from_secs(3),
    );
}

/// The mention being typed: where its `@` is and the letters after it,
/// when the caret (a byte offset) follows `@` and handle characters that
/// start the text or follow white space.
fn typed_mention(text: &str, caret: usize) -> Option<(usize, String)> {
    let before = text.get(..caret.min(text.len()))?;
    let at = before.rfind('@')?;
    let query = &before[at + 1..];
    let starts_word = before[..at]
        .chars()
        .next_back()
        .is_none_or(char::is_whitespace);
    let handle_like = query
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
    (starts_word && handle_like && query.len() <= 32).then(|| (at, query.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::typed_mention;

    #[test]
    fn a_mention_is_typed_after_an_at_that_starts_a_word() {
        assert_eq!(typed_mention("hi @an", 6), Some((3, "an".into())));
        assert_eq!(typed_mention("@", 1), Some((0, String::new())));
        assert_eq!(typed_mention("mail me@host", 12), None);
        assert_eq!(typed_mention("hi @ann there", 13), None);
        assert_eq!(typed_mention("hi @an", 2), None);
    }
}
