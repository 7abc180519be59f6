//! The sidebar: "Rooms" (joined rooms with unread badges, "New room" and
//! "Browse rooms") and "Direct messages" (with "New message").

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::A;
use leptos_router::hooks::use_navigate;
use leptos_router::NavigateOptions;

use super::api::{create_room, invite, join_room, public_rooms};
use super::manage::open_direct;
use super::model::{fuzzy_score, JoinedRoom, NotifyLevel, Room, RoomList};
use crate::auth::api::people;
use crate::error::AppError;
use crate::ui::icons::{Icon, IconSvg};

/// The sidebar. `rooms` is the latest `rooms()` answer; `refresh` asks
/// for a new one.
#[component]
pub fn RoomsSidebar(
    rooms: Resource<Result<RoomList, AppError>>,
    current: Signal<Option<String>>,
    refresh: Callback<()>,
) -> impl IntoView {
    let (panel, set_panel) = signal(Panel::None);
    let toggle = move |which: Panel| {
        set_panel.update(|open| *open = if *open == which { Panel::None } else { which })
    };
    view! {
        <div class="pane pane-rooms">
        <nav aria-label="Rooms">
            <h2 class="pane-title">"Rooms"</h2>
            <Transition>
                {move || {
                    rooms
                        .get()
                        .map(|list| match list {
                            Ok(list) => {
                                let empty = list.joined.is_empty();
                                view! {
                                    {empty
                                        .then(|| {
                                            view! {
                                                <p class="muted empty-rooms">
                                                    "No rooms yet. Create one with “New room”, or join a public one with “Browse rooms”."
                                                </p>
                                            }
                                        })}
                                    <ul class="room-list">
                                        {list
                                            .joined
                                            .into_iter()
                                            .map(|joined| view! { <RoomLink joined current /> })
                                            .collect_view()}
                                    </ul>
                                }
                                    .into_any()
                            }
                            Err(err) => view! { <p role="alert">{err.to_string()}</p> }.into_any(),
                        })
                }}
            </Transition>
            <div class="room-actions">
                <button type="button" class="button-secondary" on:click=move |_| toggle(Panel::Create)>
                    "New room"
                </button>
                <button
                    type="button"
                    class="button-secondary"
                    on:click=move |_| {
                        // The directory changes as others create rooms: load it afresh.
                        refresh.run(());
                        toggle(Panel::Browse);
                    }
                >
                    "Browse rooms"
                </button>
            </div>
            {move || match panel.get() {
                Panel::Create => {
                    view! { <NewRoomForm refresh on_done=Callback::new(move |()| set_panel.set(Panel::None)) /> }
                        .into_any()
                }
                Panel::Browse => {
                    view! { <BrowseRooms rooms refresh on_done=Callback::new(move |()| set_panel.set(Panel::None)) /> }
                        .into_any()
                }
                Panel::None => ().into_any(),
            }}
        </nav>
        <DirectMessages rooms current refresh />
        </div>
    }
}

/// One room in a sidebar list: its name, and its unread count unless it is
/// the room open (dimmed when the room is set to mentions only or muted).
#[component]
fn RoomLink(joined: JoinedRoom, current: Signal<Option<String>>) -> impl IntoView {
    let id = joined.room.id.clone();
    let active = Signal::derive(move || current.get().as_deref() == Some(id.as_str()));
    let quiet = joined
        .room
        .notifications
        .is_some_and(|level| level != NotifyLevel::All);
    view! {
        <li>
            <A
                href=format!("/rooms/{}", joined.room.id)
                attr:class=move || if active.get() { "room-link active" } else { "room-link" }
            >
                <span class="room-name">{joined.room.name}</span>
                {move || {
                    (joined.unread > 0 && !active.get())
                        .then(|| view! { <span class="badge" class:badge-quiet=quiet>{joined.unread}</span> })
                }}
            </A>
        </li>
    }
}

/// "Direct messages": the user's direct rooms, most recent first, and
/// "New message".
#[component]
fn DirectMessages(
    rooms: Resource<Result<RoomList, AppError>>,
    current: Signal<Option<String>>,
    refresh: Callback<()>,
) -> impl IntoView {
    let open = RwSignal::new(false);
    view! {
        <nav aria-label="Direct messages" class="direct-messages">
            <h2 class="pane-title">"Direct messages"</h2>
            <Transition>
                {move || {
                    rooms
                        .get()
                        .and_then(Result::ok)
                        .map(|list| {
                            view! {
                                <ul class="room-list">
                                    {list
                                        .direct
                                        .into_iter()
                                        .map(|joined| view! { <RoomLink joined current /> })
                                        .collect_view()}
                                </ul>
                            }
                        })
                }}
            </Transition>
            <div class="room-actions">
                <button
                    type="button"
                    class="button-secondary"
                    aria-expanded=move || open.get().to_string()
                    on:click=move |_| open.update(|open| *open = !*open)
                >
                    "New message"
                </button>
            </div>
            {move || {
                open.get()
                    .then(|| view! { <NewMessageForm refresh on_done=Callback::new(move |()| open.set(false)) /> })
            }}
        </nav>
    }
}

/// Opens (or creates) the direct room with these handles and goes there.
pub fn start_direct(
    handles: String,
    refresh: Callback<()>,
    on_done: Callback<()>,
    error: RwSignal<Option<String>>,
    navigate: impl Fn(&str, NavigateOptions) + 'static,
) {
    spawn_local(async move {
        let opened = open_direct(handles).await;
        enter_or_report(opened, refresh, on_done, error, navigate);
    });
}

/// How long typing must pause before people are suggested.
const SUGGEST_AFTER: std::time::Duration = std::time::Duration::from_millis(150);

/// The handle being typed: what follows the last comma, without `@`.
fn last_handle(text: &str) -> &str {
    text.rsplit(',')
        .next()
        .unwrap_or("")
        .trim()
        .trim_start_matches('@')
}

/// People suggested as a handle or name is typed (`people`: those the
/// user shares a room with first), as a list "Suggestions" of buttons;
/// picking one hands its handle to `on_pick`. Asked once typing pauses.
#[component]
fn PeopleSuggestions(
    /// What is being typed (a handle's or name's start, without `@`).
    typed: Signal<String>,
    on_pick: Callback<String>,
) -> impl IntoView {
    let suggestions = RwSignal::new(Vec::<crate::auth::User>::new());
    // Only the latest request's answer counts.
    let request = StoredValue::new(0u32);
    Effect::new(move |_| {
        let typed = typed.get();
        let this = request.get_value().wrapping_add(1);
        request.set_value(this);
        if typed.is_empty() {
            suggestions.set(Vec::new());
            return;
        }
        // Asked once typing pauses, not on every key.
        set_timeout(
            move || {
                if request.try_get_value() != Some(this) {
                    return;
                }
                spawn_local(async move {
                    let found = people(typed).await.unwrap_or_default();
                    if request.try_get_value() == Some(this) {
                        suggestions.try_set(found);
                    }
                });
            },
            SUGGEST_AFTER,
        );
    });
    move || {
        let found = suggestions.get();
        (!found.is_empty()).then(|| {
            view! {
                <ul class="suggestions" aria-label="Suggestions">
                    {found
                        .into_iter()
                        .map(|user| {
                            let handle = user.handle.clone();
                            view! {
                                <li>
                                    <button type="button" class="suggestion" on:click=move |_| on_pick.run(handle.clone())>
                                        {user.display_name}
                                        <span class="handle">{format!(" @{}", user.handle)}</span>
                                    </button>
                                </li>
                            }
                        })
                        .collect_view()}
                </ul>
            }
        })
    }
}

/// "New message": handles, comma-separated, with suggestions of people as
/// the last one is typed (people the user shares a room with first).
#[component]
fn NewMessageForm(refresh: Callback<()>, on_done: Callback<()>) -> impl IntoView {
    let handles = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let input = NodeRef::<leptos::html::Input>::new();
    let pick = move |handle: String| {
        handles.update(|text| {
            let kept = text
                .rsplit_once(',')
                .map_or("", |(before, _)| before)
                .trim();
            *text = if kept.is_empty() {
                format!("{handle}, ")
            } else {
                format!("{kept}, {handle}, ")
            };
        });
        if let Some(input) = input.get_untracked() {
            let _ = input.focus();
        }
    };
    let navigate = use_navigate();
    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        start_direct(
            handles.get_untracked(),
            refresh,
            on_done,
            error,
            navigate.clone(),
        );
    };
    view! {
        <form class="stack panel" aria-label="New message" on:submit=submit>
            <label for="new-message-people">"People"</label>
            <input
                id="new-message-people"
                type="text"
                required
                autocomplete="off"
                placeholder="handles, separated by commas"
                node_ref=input
                bind:value=handles
            />
            <PeopleSuggestions
                typed=Signal::derive(move || handles.with(|text| last_handle(text).to_owned()))
                on_pick=Callback::new(pick)
            />
            {move || error.get().map(|message| view! { <p role="alert" class="form-error">{message}</p> })}
            <button type="submit" class="button-primary">
                "Start"
            </button>
        </form>
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Panel {
    None,
    Create,
    Browse,
}

/// After creating or joining a room: refresh the list, close the panel and
/// open the room; or show the error. The panel may be gone by now (closed,
/// or the user signed out), hence the `try_` calls.
pub fn enter_or_report(
    result: Result<Room, AppError>,
    refresh: Callback<()>,
    on_done: Callback<()>,
    error: RwSignal<Option<String>>,
    navigate: impl Fn(&str, NavigateOptions),
) {
    match result {
        Ok(room) => {
            let _ = refresh.try_run(());
            let _ = on_done.try_run(());
            navigate(&format!("/rooms/{}", room.id), NavigateOptions::default());
        }
        Err(err) => {
            error.try_set(Some(err.to_string()));
        }
    }
}

#[component]
fn NewRoomForm(refresh: Callback<()>, on_done: Callback<()>) -> impl IntoView {
    let name = RwSignal::new(String::new());
    let private = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let navigate = use_navigate();
    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let navigate = navigate.clone();
        spawn_local(async move {
            let created = create_room(name.get_untracked(), private.get_untracked()).await;
            enter_or_report(created, refresh, on_done, error, navigate);
        });
    };
    view! {
        <form class="stack panel" on:submit=submit>
            <label for="new-room-name">"Room name"</label>
            <input id="new-room-name" type="text" required maxlength="80" bind:value=name />
            <label class="checkbox">
                <input type="checkbox" bind:checked=private />
                "Private"
            </label>
            {move || error.get().map(|message| view! { <p role="alert" class="form-error">{message}</p> })}
            <button type="submit" class="button-primary">
                "Create room"
            </button>
        </form>
    }
}

/// The public directory, a page at a time, filtered by name as the user
/// types ("Filter rooms"); rooms the user is in are left out.
#[component]
fn BrowseRooms(
    rooms: Resource<Result<RoomList, AppError>>,
    refresh: Callback<()>,
    on_done: Callback<()>,
) -> impl IntoView {
    let error = RwSignal::new(None::<String>);
    let filter = RwSignal::new(String::new());
    // The pages loaded for the current filter, and the next page's cursor.
    let found = RwSignal::new(Vec::<Room>::new());
    let next = RwSignal::new(None::<String>);
    let loaded = RwSignal::new(false);
    // Answers to an older filter are dropped: only the latest request counts.
    let request = StoredValue::new(0u32);
    let load = move |before: Option<String>| {
        let q = filter.get_untracked();
        let this = request.get_value().wrapping_add(1);
        request.set_value(this);
        spawn_local(async move {
            let answer = public_rooms(Some(q), before.clone(), None).await;
            if request.try_get_value() != Some(this) {
                return;
            }
            match answer {
                Ok(page) => {
                    found.try_update(|list| {
                        if before.is_none() {
                            list.clear();
                        }
                        list.extend(page.rooms);
                    });
                    next.try_set(page.next);
                    loaded.try_set(true);
                }
                Err(err) => {
                    error.try_set(Some(err.to_string()));
                }
            }
        });
    };
    Effect::new(move |_| {
        filter.track();
        load(None);
    });
    let navigate = use_navigate();
    let join = move |room_id: String| {
        let navigate = navigate.clone();
        spawn_local(async move {
            let joined = join_room(room_id).await;
            enter_or_report(joined, refresh, on_done, error, navigate);
        });
    };
    let joined_ids = move || {
        rooms
            .get()
            .and_then(Result::ok)
            .map(|list| {
                list.joined
                    .into_iter()
                    .map(|j| j.room.id)
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
    };
    view! {
        <section class="panel stack" aria-label="Public rooms">
            <label for="room-filter">"Filter rooms"</label>
            <input id="room-filter" type="search" maxlength="100" autocomplete="off" bind:value=filter />
            {move || error.get().map(|message| view! { <p role="alert" class="form-error">{message}</p> })}
            {move || {
                let joined = joined_ids();
                let open: Vec<Room> = found.get().into_iter().filter(|room| !joined.contains(&room.id)).collect();
                if open.is_empty() {
                    let empty = if !loaded.get() {
                        ""
                    } else if filter.with(String::is_empty) {
                        "No other public rooms yet."
                    } else {
                        "No public room matches."
                    };
                    return view! { <p class="muted">{empty}</p> }.into_any();
                }
                view! {
                    <ul class="directory">
                        {open
                            .into_iter()
                            .map(|room| {
                                let join = join.clone();
                                let id = room.id.clone();
                                view! {
                                    <li>
                                        <span class="room-name">{room.name}</span>
                                        <button type="button" class="button-secondary" on:click=move |_| join(id.clone())>
                                            "Join"
                                        </button>
                                    </li>
                                }
                            })
                            .collect_view()}
                    </ul>
                }
                    .into_any()
            }}
            {move || {
                next.get()
                    .map(|cursor| {
                        view! {
                            <button type="button" class="button-secondary" on:click=move |_| load(Some(cursor.clone()))>
                                "More rooms"
                            </button>
                        }
                    })
            }}
        </section>
    }
}

/// "Invite": a button opening a form that invites someone by handle.
#[component]
pub fn InviteForm(room_id: String) -> impl IntoView {
    let open = RwSignal::new(false);
    let handle = RwSignal::new(String::new());
    let status = RwSignal::new(None::<Result<String, String>>);
    let room_id = StoredValue::new(room_id);
    let invite_input = NodeRef::<leptos::html::Input>::new();
    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let who = handle.get_untracked();
        spawn_local(async move {
            let outcome = invite(room_id.get_value(), who.clone()).await;
            status.try_set(Some(match outcome {
                Ok(()) => {
                    handle.try_set(String::new());
                    Ok(format!("Invited @{}.", who.trim().trim_start_matches('@')))
                }
                Err(err) => Err(err.to_string()),
            }));
        });
    };
    view! {
        <div class="invite">
            <button type="button" class="button-secondary" on:click=move |_| open.update(|o| *o = !*o)>
                "Invite"
            </button>
            {move || {
                open.get()
                    .then(|| {
                        view! {
                            <form class="stack panel" aria-label="Invite someone" on:submit=submit>
                                <label for="invite-handle">"Handle"</label>
                                <input
                                    id="invite-handle"
                                    type="text"
                                    required
                                    autocomplete="off"
                                    node_ref=invite_input
                                    bind:value=handle
                                />
                                <PeopleSuggestions
                                    typed=Signal::derive(move || {
                                        handle.with(|text| text.trim().trim_start_matches('@').to_owned())
                                    })
                                    on_pick=Callback::new(move |picked: String| {
                                        handle.set(picked);
                                        if let Some(input) = invite_input.get_untracked() {
                                            let _ = input.focus();
                                        }
                                    })
                                />
                                {move || {
                                    status
                                        .get()
                                        .map(|status| match status {
                                            Ok(done) => {
                                                view! { <p class="hint" aria-live="polite">{done}</p> }.into_any()
                                            }
                                            Err(message) => {
                                                view! { <p role="alert" class="form-error">{message}</p> }
                                                    .into_any()
                                            }
                                        })
                                }}
                                <button type="submit" class="button-primary">
                                    "Invite"
                                </button>
                            </form>
                        }
                    })
            }}
        </div>
    }
}

/// Ctrl/Cmd+K: a dialog to jump to one of the user's rooms by typing part
/// of its name (letters in order, see [`fuzzy_score`]). Arrow keys move
/// the choice, Enter opens it, Escape or a click outside closes.
#[component]
pub fn RoomSwitcher(
    rooms: Resource<Result<RoomList, AppError>>,
    open: RwSignal<bool>,
) -> impl IntoView {
    let query = RwSignal::new(String::new());
    let selected = RwSignal::new(0usize);
    let input = NodeRef::<leptos::html::Input>::new();
    let found = Memo::new(move |_| {
        let query = query.get();
        let Some(Ok(list)) = rooms.get() else {
            return Vec::new();
        };
        let mut found: Vec<(i64, Room)> = list
            .joined
            .into_iter()
            .chain(list.direct)
            .filter_map(|joined| Some((fuzzy_score(&query, &joined.room.name)?, joined.room)))
            .collect();
        found.sort_by_key(|(score, _)| std::cmp::Reverse(*score));
        found
            .into_iter()
            .map(|(_, room)| room)
            .take(12)
            .collect::<Vec<_>>()
    });
    // Opened: start afresh, with the text box focused.
    Effect::new(move |_| {
        if open.get() {
            query.set(String::new());
            selected.set(0);
            request_animation_frame(move || {
                if let Some(input) = input.get_untracked() {
                    let _ = input.focus();
                }
            });
        }
    });
    let navigate = use_navigate();
    let go = move |room_id: &str| {
        open.set(false);
        navigate(&format!("/rooms/{room_id}"), NavigateOptions::default());
    };
    let on_key = {
        let go = go.clone();
        move |event: leptos::ev::KeyboardEvent| {
            let count = found.with_untracked(Vec::len);
            match event.key().as_str() {
                "Escape" => {
                    event.prevent_default();
                    open.set(false);
                }
                // The dialog is modal: focus stays in its one text box.
                "Tab" => event.prevent_default(),
                "ArrowDown" if count > 0 => {
                    event.prevent_default();
                    selected.update(|index| *index = (*index + 1) % count);
                }
                "ArrowUp" if count > 0 => {
                    event.prevent_default();
                    selected.update(|index| *index = (*index + count - 1) % count);
                }
                "Enter" => {
                    event.prevent_default();
                    let room = found.with_untracked(|found| {
                        found
                            .get(selected.get_untracked())
                            .map(|room| room.id.clone())
                    });
                    if let Some(room) = room {
                        go(&room);
                    }
                }
                _ => {}
            }
        }
    };
    view! {
        <Show when=move || open.get()>
            <div class="dialog-backdrop" on:click=move |_| open.set(false)></div>
            <div class="dialog switcher" role="dialog" aria-modal="true" aria-label="Switch room" on:keydown=on_key.clone()>
                <input
                    type="text"
                    node_ref=input
                    role="combobox"
                    aria-label="Room to open"
                    aria-autocomplete="list"
                    aria-expanded="true"
                    aria-controls="switcher-options"
                    aria-activedescendant=move || {
                        (!found.with(Vec::is_empty)).then(|| format!("switcher-option-{}", selected.get()))
                    }
                    placeholder="Type part of a room's name"
                    autocomplete="off"
                    prop:value=move || query.get()
                    on:input=move |event| {
                        query.set(event_target_value(&event));
                        selected.set(0);
                    }
                />
                // A listbox only while it has options (an empty one is an
                // ARIA error).
                <ul
                    class="switcher-options"
                    id="switcher-options"
                    role=move || (!found.with(Vec::is_empty)).then_some("listbox")
                    aria-label="Rooms found"
                >
                    {
                        let go = go.clone();
                        move || {
                            let go = go.clone();
                            found
                                .get()
                                .into_iter()
                                .enumerate()
                                .map(move |(index, room)| {
                                    let go = go.clone();
                                    view! {
                                        <li
                                            role="option"
                                            id=format!("switcher-option-{index}")
                                            aria-selected=move || (selected.get() == index).to_string()
                                            on:click=move |_| go(&room.id)
                                        >
                                            {room.name.clone()}
                                        </li>
                                    }
                                })
                                .collect_view()
                        }
                    }
                </ul>
                {move || found.with(Vec::is_empty).then(|| view! { <p class="muted">"No room of yours matches."</p> })}
                <p class="hint">"Up and Down choose, Enter opens, Escape closes."</p>
            </div>
        </Show>
    }
}

/// What the owner or an admin does to a member from "Room settings".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MemberAction {
    Remove,
    MakeAdmin,
    RemoveAdmin,
}

/// "Room settings", for the owner and admins: the name and topic, each
/// member's "Remove" (and for the owner "Make admin" or "Remove admin"),
/// and for the owner "Delete room", asked twice. Focus moves into it when
/// it opens; Escape closes it.
#[component]
pub fn RoomSettings(
    room: Memo<Option<Room>>,
    members: RwSignal<Vec<crate::presence::model::Member>>,
    me_id: String,
    on_close: Callback<()>,
) -> impl IntoView {
    use super::manage::{delete_room, remove_member, set_role, update_room};
    use super::model::{Provided, Role};

    let current = room.get_untracked();
    let field = |pick: fn(&Room) -> String| current.as_ref().map(pick).unwrap_or_default();
    let room_id = StoredValue::new(field(|room| room.id.clone()));
    let name = RwSignal::new(field(|room| room.name.clone()));
    let topic = RwSignal::new(field(|room| room.topic.clone()));
    let status = RwSignal::new(None::<Result<String, String>>);
    let owner =
        move || room.with(|room| room.as_ref().and_then(|room| room.role)) == Some(Role::Owner);
    let report = move |outcome: Result<String, AppError>| {
        status.try_set(Some(outcome.map_err(|err| err.to_string())));
    };
    // Only what the reader changed is sent: a rename must not put back a
    // topic another admin set meanwhile.
    let save = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let (now_name, now_topic) = room
            .with_untracked(|room| {
                room.as_ref()
                    .map(|room| (room.name.clone(), room.topic.clone()))
            })
            .unwrap_or_default();
        let new_name = Some(name.get_untracked()).filter(|new| *new != now_name);
        let new_topic = Some(topic.get_untracked()).filter(|new| *new != now_topic);
        if new_name.is_none() && new_topic.is_none() {
            status.set(Some(Ok("Nothing to change.".into())));
            return;
        }
        spawn_local(async move {
            let saved = update_room(room_id.get_value(), new_name, Provided(new_topic)).await;
            report(saved.map(|_| "Saved.".to_owned()));
        });
    };
    let act = move |handle: String, action: MemberAction| {
        spawn_local(async move {
            let room = room_id.get_value();
            let done = match action {
                MemberAction::Remove => remove_member(room, handle.clone())
                    .await
                    .map(|()| format!("Removed @{handle}.")),
                MemberAction::MakeAdmin => set_role(room, handle.clone(), "admin".into())
                    .await
                    .map(|()| format!("@{handle} is an admin.")),
                MemberAction::RemoveAdmin => set_role(room, handle.clone(), "member".into())
                    .await
                    .map(|()| format!("@{handle} is a member.")),
            };
            report(done);
        });
    };
    let confirming = RwSignal::new(false);
    let navigate = use_navigate();
    let delete = Callback::new(move |()| {
        let navigate = navigate.clone();
        spawn_local(async move {
            match delete_room(room_id.get_value()).await {
                Ok(()) => navigate("/", NavigateOptions::default()),
                Err(err) => report(Err(err)),
            }
        });
    });
    let first = NodeRef::<leptos::html::Input>::new();
    Effect::new(move |_| {
        if let Some(input) = first.get() {
            let _ = input.focus();
        }
    });
    // Escape closes, and focus goes back to the button that opened it.
    let on_key = move |event: leptos::ev::KeyboardEvent| {
        if event.key() == "Escape" {
            event.prevent_default();
            on_close.run(());
            if let Ok(Some(toggle)) = document().query_selector(".settings-toggle") {
                if let Ok(toggle) = wasm_bindgen::JsCast::dyn_into::<web_sys::HtmlElement>(toggle) {
                    let _ = toggle.focus();
                }
            }
        }
    };
    let me_id = StoredValue::new(me_id);
    // Everyone but the reader and the owner, keyed by person and role: a
    // presence change does not rebuild the buttons (and lose focus).
    let others = move || {
        members.with(|list| {
            list.iter()
                .filter(|member| {
                    me_id.with_value(|me| *me != member.user.id) && member.role != Role::Owner
                })
                .map(|member| (member.user.clone(), member.role))
                .collect::<Vec<_>>()
        })
    };
    view! {
        <section class="panel stack room-settings" aria-label="Room settings" on:keydown=on_key>
            <form class="stack" on:submit=save>
                <label for="room-settings-name">"Room name"</label>
                <input id="room-settings-name" type="text" required maxlength="80" node_ref=first bind:value=name />
                <label for="room-settings-topic">"Topic"</label>
                <input id="room-settings-topic" type="text" maxlength="250" bind:value=topic />
                <div class="row">
                    <button type="submit" class="button-primary">
                        "Save"
                    </button>
                    <button type="button" class="button-secondary" on:click=move |_| on_close.run(())>
                        "Close"
                    </button>
                </div>
            </form>
            {move || {
                status
                    .get()
                    .map(|status| match status {
                        Ok(done) => view! { <p class="hint" aria-live="polite">{done}</p> }.into_any(),
                        Err(message) => view! { <p role="alert" class="form-error">{message}</p> }.into_any(),
                    })
            }}
            <h3 class="list-title">"Members"</h3>
            <ul class="settings-members">
                <For each=others key=|(user, role)| (user.id.clone(), *role) let:member>
                    {
                        let (user, role) = member;
                        let admin = role == Role::Admin;
                        let label_id = format!("settings-member-{}", user.id);
                        let (remove, promote) = (user.handle.clone(), user.handle.clone());
                        view! {
                            <li>
                                <span class="member-name" id=label_id.clone()>
                                    {user.display_name.clone()}
                                    <span class="handle">{format!(" @{}", user.handle)}</span>
                                    {admin.then(|| view! { <span class="tag">"admin"</span> })}
                                </span>
                                {move || {
                                    let (promote, label_id) = (promote.clone(), label_id.clone());
                                    owner()
                                        .then(move || {
                                            let action = if admin { MemberAction::RemoveAdmin } else { MemberAction::MakeAdmin };
                                            view! {
                                                <button
                                                    type="button"
                                                    class="button-secondary"
                                                    aria-describedby=label_id
                                                    on:click=move |_| act(promote.clone(), action)
                                                >
                                                    {if admin { "Remove admin" } else { "Make admin" }}
                                                </button>
                                            }
                                        })
                                }}
                                <button
                                    type="button"
                                    class="button-secondary"
                                    aria-describedby=format!("settings-member-{}", user.id)
                                    on:click=move |_| act(remove.clone(), MemberAction::Remove)
                                >
                                    "Remove"
                                </button>
                            </li>
                        }
                    }
                </For>
            </ul>
            {move || {
                owner()
                    .then(|| {
                        view! {
                            <div class="danger-zone stack">
                                <button type="button" class="button-danger" on:click=move |_| confirming.set(true)>
                                    "Delete room"
                                </button>
                                {move || {
                                    confirming
                                        .get()
                                        .then(|| {
                                            view! {
                                                <p role="alert">
                                                    "Delete this room and all its messages for everyone? This cannot be undone."
                                                </p>
                                                <div class="row">
                                                    <button type="button" class="button-danger" on:click=move |_| delete.run(())>
                                                        "Delete for good"
                                                    </button>
                                                    <button type="button" class="button-secondary" on:click=move |_| confirming.set(false)>
                                                        "Cancel"
                                                    </button>
                                                </div>
                                            }
                                        })
                                }}
                            </div>
                        }
                    })
            }}
        </section>
    }
}

/// "Notifications for this room": the reader's own level, saved at once;
/// shows the saved level again if saving fails.
#[component]
pub fn NotificationLevel(room: Memo<Option<Room>>) -> impl IntoView {
    use super::manage::set_room_notifications;

    let error = RwSignal::new(None::<String>);
    let saved = move || {
        room.with(|room| room.as_ref().and_then(|room| room.notifications))
            .unwrap_or_default()
    };
    // The select shows what the reader picks; the saved level is put back
    // when it changes (the room list is refetched after a save, here or in
    // another tab) and when a save fails.
    let put_back = RwSignal::new(());
    let change = move |event: leptos::ev::Event| {
        let level = event_target_value(&event);
        let Some(room_id) = room.with_untracked(|room| room.as_ref().map(|room| room.id.clone()))
        else {
            return;
        };
        spawn_local(async move {
            let outcome = set_room_notifications(room_id, level).await;
            if outcome.is_err() {
                put_back.try_set(());
            }
            error.try_set(outcome.err().map(|err| err.to_string()));
        });
    };
    let options = [
        (NotifyLevel::All, "All messages"),
        (NotifyLevel::Mentions, "Mentions only"),
        (NotifyLevel::None, "Nothing"),
    ];
    view! {
        <select
            class="notify-level"
            aria-label="Notifications for this room"
            prop:value=move || {
                put_back.track();
                saved().as_str()
            }
            on:change=change
        >
            {options
                .into_iter()
                .map(|(value, label)| {
                    view! {
                        <option value=value.as_str() selected=value == saved()>
                            {label}
                        </option>
                    }
                })
                .collect_view()}
        </select>
        {move || error.get().map(|message| view! { <p role="alert" class="form-error">{message}</p> })}
    }
}

/// "Hide conversation": takes a direct room out of the list until its next
/// message, and goes home.
#[component]
pub fn HideDirect(room_id: String, refresh: Callback<()>) -> impl IntoView {
    use super::manage::hide_direct;

    let navigate = use_navigate();
    let hide = move |_| {
        let (room_id, navigate) = (room_id.clone(), navigate.clone());
        spawn_local(async move {
            if hide_direct(room_id).await.is_ok() {
                let _ = refresh.try_run(());
                navigate("/", NavigateOptions::default());
            }
        });
    };
    view! {
        <button type="button" class="icon-button" aria-label="Hide conversation" title="Hide conversation" on:click=hide>
            <IconSvg icon=Icon::Close />
        </button>
    }
}
