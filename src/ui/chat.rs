//! The signed-in home: the three-pane chat (rooms, conversation, members)
//! that folds to one column on a phone, kept live by the event stream.
//!
//! The life of a message on this side: the event stream delivers it (or
//! the send answer does, or a catch-up page does); [`merge_messages`] puts it
//! in place by id, once. Whenever the stream (re)opens, or the server says
//! `resync`, the open room catches up with `history(after = last id)`.

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::{Outlet, Redirect, A};
use leptos_router::hooks::{use_location, use_navigate};
use leptos_router::NavigateOptions;

use super::live::{self, LiveEvent};
use crate::auth::components::Auth;
use crate::auth::User;
use crate::messages::api::{history, mark_room_read};
use crate::messages::components::{pause, RoomView, PAGE};
use crate::messages::model::{apply_reaction, apply_update, merge_messages, MessageId};
use crate::messages::Message;
use crate::notifications::components::{desktop_notify, desktop_notify_message, NotificationFeed};
use crate::presence::api::members;
use crate::presence::components::MemberLists;
use crate::presence::model::{apply_presence, typing_text, Member, TYPING_SHOWN_MS};
use crate::rooms::api::rooms;
use crate::rooms::components::{InviteForm, RoomSwitcher, RoomsSidebar};
use crate::rooms::model::NotifyLevel;
use crate::ui::icons::{Icon, IconSvg};

/// `/` and `/rooms/:id`: the chat for a signed-in user; everyone else goes
/// to sign in.
#[component]
pub fn HomePage() -> impl IntoView {
    let auth = Auth::expect();
    // Created here, outside the Transition, not in ChatLayout: on the server
    // a Transition builds its children more than once and drops the extra
    // builds while their resources may still be loading (whose server
    // functions then run without the app's context, and whose results still
    // take a place in the page's serialized data). Made once, here, the
    // resource has the same place on the server and in the browser. For a
    // signed-out visitor it answers 401, unseen: the page redirects.
    let version = RwSignal::new(0u32);
    let room_list = Resource::new(move || version.get(), |_| rooms());
    view! {
        // The child routes render nothing (this page shows the open room
        // itself), but without an outlet the router never finished the
        // first navigation from `/`: the room opened and the address bar
        // kept `/` (leptos-rs/leptos#3605).
        <Outlet />
        <Transition>
            {move || {
                auth.user
                    .get()
                    .map(|user| match user {
                        Ok(Some(user)) => view! { <ChatLayout user version room_list /> }.into_any(),
                        Ok(None) => view! { <Redirect path="/login" /> }.into_any(),
                        Err(err) => {
                            view! { <p role="alert" class="form-error page-error">{err.to_string()}</p> }
                                .into_any()
                        }
                    })
            }}
        </Transition>
    }
}

/// Waits before asking again for a catch-up page that was refused.
const CATCH_UP_RETRY: [std::time::Duration; 3] = [
    std::time::Duration::from_secs(1),
    std::time::Duration::from_secs(2),
    std::time::Duration::from_secs(4),
];

/// How often a stream the browser gave up on is opened again.
const STREAM_RETRY: std::time::Duration = std::time::Duration::from_secs(15);

/// How long the stream may be down before the banner says so.
const BANNER_AFTER: std::time::Duration = std::time::Duration::from_secs(3);

/// How long the room list waits after an event that changed another
/// room's unread count before it is refetched (more such events within it
/// share the one refetch).
const ROOM_LIST_REFRESH_DELAY: std::time::Duration = std::time::Duration::from_secs(1);

#[component]
fn ChatLayout(
    user: User,
    /// Bumped to refetch the room list.
    version: RwSignal<u32>,
    room_list: Resource<Result<crate::rooms::model::RoomList, crate::error::AppError>>,
) -> impl IntoView {
    // The open room, from the path (`/rooms/{id}`): this view is the parent
    // of both child routes, `/` and `/rooms/:id`, and stays mounted.
    let location = use_location();
    let current = Memo::new(move |_| {
        location.pathname.with(|path| {
            path.strip_prefix("/rooms/")
                .map(|id| id.trim_end_matches('/').to_owned())
                .filter(|id| !id.is_empty())
        })
    });
    let refresh = Callback::new(move |()| version.update(|v| *v += 1));
    // For events that only change another room's badge: a burst of
    // messages in rooms not shown refetches the room list once, a second
    // after the first of them, not once per message.
    let refresh_pending = StoredValue::new(false);
    let refresh_soon = move || {
        if !refresh_pending.get_value() {
            refresh_pending.set_value(true);
            set_timeout(
                move || {
                    // The chat may be gone by now (signed out).
                    refresh_pending.try_set_value(false);
                    let _ = refresh.try_run(());
                },
                ROOM_LIST_REFRESH_DELAY,
            );
        }
    };
    let messages = RwSignal::new(Vec::<Message>::new());
    // The newest id known to be in step with the stream (from catch-up pages
    // and live events, not from our own send answers, which may have
    // overtaken messages that are still to be fetched).
    let synced = RwSignal::new(None::<String>);
    let older = RwSignal::new(false);
    let live = RwSignal::new(false);
    let member_list = RwSignal::new(Vec::<Member>::new());
    // Who is typing in the open room: (user id, display name, shown until).
    let typists = RwSignal::new(Vec::<(String, String, f64)>::new());
    let feed = NotificationFeed::expect();
    let me = StoredValue::new(user.id.clone());
    let read_marks = ReadMarks::new();
    // The members pane: a column on wide screens, a drawer on narrow ones.
    let members_open = RwSignal::new(false);
    // Whether the open room's first page has arrived.
    let loaded = RwSignal::new(false);
    // The open room's unread count when it was opened, and the first
    // message it counted: the "New messages" divider goes before it.
    let unread_at_open = RwSignal::new(0u64);
    let divider_before = RwSignal::new(None::<String>);
    let switcher_open = RwSignal::new(false);
    // A room the user lost while in the chat, and how: its page says so.
    let gone = RwSignal::new(None::<(String, Gone)>);
    // A "Message" (open a direct room) that failed.
    let dm_error = RwSignal::new(None::<String>);
    // Focus follows the drawer: into it when it opens, back to its toggle
    // when it closes (were focus inside it).
    let close_members = NodeRef::<leptos::html::Button>::new();
    Effect::new(move |was_open: Option<bool>| {
        let open = members_open.get();
        if open {
            if let Some(button) = close_members.get_untracked() {
                let _ = button.focus();
            }
        } else if was_open == Some(true) {
            if let Ok(Some(toggle)) = document().query_selector(".members-toggle") {
                if let Ok(toggle) = wasm_bindgen::JsCast::dyn_into::<web_sys::HtmlElement>(toggle) {
                    let _ = toggle.focus();
                }
            }
        }
        open
    });

    let load_members = move |room_id: String| {
        spawn_local(async move {
            if let Ok(list) = members(room_id.clone()).await {
                if current.try_get_untracked().flatten().as_deref() == Some(room_id.as_str()) {
                    member_list.set(list);
                }
            }
        });
    };

    // `synced` only moves forward.
    let advance_synced = move |id: &str| {
        synced.try_update(|synced| {
            if synced
                .as_deref()
                .is_none_or(|current| is_later(id, current))
            {
                *synced = Some(id.to_owned());
            }
        });
    };

    // Catch the open room up from the last id in step with the stream (or
    // load its newest page), page by page with a cursor of its own, then mark
    // what is shown as read.
    //
    // After a gap in the stream (`again`), the messages shown may also have
    // been edited, deleted or reacted to meanwhile: the pages then start at
    // the first message shown, and `merge_messages` puts each one's
    // current state in place, so the view equals `history`'s. A refused
    // page (too many requests, a failover) is asked for again, a few times.
    let catch_up = move |room_id: String, again: bool| {
        spawn_local(async move {
            let is_open =
                |room_id: &str| current.try_get_untracked().flatten().as_deref() == Some(room_id);
            let Some(mut after) = synced.try_get_untracked() else {
                return;
            };
            if again {
                let first = messages.with_untracked(|list| {
                    list.first()
                        .and_then(|message| MessageId::parse(&message.id, "id").ok())
                });
                if let Some(first) = first {
                    after = Some(first.just_before().to_string());
                }
            }
            loop {
                let fresh = after.is_none();
                let limit = if fresh { PAGE } else { 100 };
                let mut page = history(room_id.clone(), None, after.clone(), Some(limit)).await;
                for wait in CATCH_UP_RETRY {
                    if page.is_ok() || !is_open(&room_id) {
                        break;
                    }
                    pause(wait).await;
                    page = history(room_id.clone(), None, after.clone(), Some(limit)).await;
                }
                let Ok(page) = page else {
                    return;
                };
                if !is_open(&room_id) {
                    return;
                }
                let full = page.len() == limit as usize;
                if fresh {
                    older.set(full);
                }
                let first_page = fresh && loaded.try_get_untracked() == Some(false);
                if let Some(last) = page.last() {
                    advance_synced(&last.id);
                    after = Some(last.id.clone());
                }
                messages.update(|list| {
                    merge_messages(list, page);
                });
                if first_page {
                    // Still the page's signals: `is_open` was checked above.
                    let first = messages.with_untracked(|list| {
                        first_unread(list, &me.read_value(), unread_at_open.get_untracked())
                    });
                    divider_before.set(first);
                    loaded.set(true);
                }
                if fresh || !full {
                    break;
                }
            }
            if let Some(up_to) = synced.try_get_untracked().flatten() {
                let _ = mark_room_read(room_id, up_to).await;
                let _ = refresh.try_run(());
            }
        });
    };

    // Each joined room's unread count, as last fetched. A memo, read below
    // without tracking: an effect that read the resource itself would
    // register with the page's Transition and re-run with each refetch.
    let unread_by_room = Memo::new(move |_| {
        room_list
            .get()
            .and_then(Result::ok)
            .map_or_else(Vec::new, |list| {
                list.joined
                    .into_iter()
                    .chain(list.direct)
                    .map(|joined| {
                        let loud = joined
                            .room
                            .notifications
                            .is_none_or(|level| level == NotifyLevel::All);
                        (joined.room.id, joined.unread, loud)
                    })
                    .collect::<Vec<_>>()
            })
    });

    // A new room: start from its newest page.
    Effect::new(move |_| {
        let room = current.get();
        messages.set(Vec::new());
        synced.set(None);
        older.set(false);
        loaded.set(false);
        divider_before.set(None);
        members_open.set(false);
        member_list.set(Vec::new());
        typists.set(Vec::new());
        // Read before catching up marks the room read.
        let unread = room.as_ref().and_then(|id| {
            unread_by_room.with_untracked(|rooms| {
                rooms
                    .iter()
                    .find(|(room, ..)| room == id)
                    .map(|(_, unread, _)| *unread)
            })
        });
        unread_at_open.set(unread.unwrap_or(0));
        if let Some(room) = room {
            load_members(room.clone());
            catch_up(room, false);
        }
    });

    // The event stream, for as long as this page is open (browser only:
    // effects do not run on the server).
    let on_event = move |event| match event {
        LiveEvent::Opened => {
            live.set(true);
            refresh.run(());
            feed.changed();
            if let Some(room) = current.get_untracked() {
                load_members(room.clone());
                catch_up(room, true);
            }
        }
        LiveEvent::Lost => live.set(false),
        LiveEvent::Message(message) => {
            typists.update(|list| list.retain(|(id, ..)| *id != message.author.id));
            if me.with_value(|me| message.author.id != *me) {
                let loud = room_list.with_untracked(|list| {
                    let list = list.as_ref()?.as_ref().ok()?;
                    let joined = list
                        .joined
                        .iter()
                        .find(|joined| joined.room.id == message.room_id)?;
                    (joined.room.notifications == Some(NotifyLevel::All))
                        .then(|| joined.room.name.clone())
                });
                if let Some(room_name) = loud {
                    desktop_notify_message(&message, &room_name);
                }
            }
            if current.get_untracked().as_deref() == Some(message.room_id.as_str()) {
                let room_id = message.room_id.clone();
                let up_to = message.id.clone();
                advance_synced(&up_to);
                messages.update(|list| {
                    merge_messages(list, [message]);
                });
                read_marks.mark(room_id, up_to);
            } else {
                refresh_soon();
            }
        }
        LiveEvent::Resync(room_id) => {
            refresh.run(());
            if current.get_untracked().as_deref() == Some(room_id.as_str()) {
                load_members(room_id.clone());
                catch_up(room_id, true);
            }
        }
        LiveEvent::Presence(change) => {
            if current.get_untracked().as_deref() == Some(change.room_id.as_str()) {
                member_list.update(|list| apply_presence(list, &change));
            }
        }
        LiveEvent::Typing(typing) => {
            let open = current.get_untracked().as_deref() == Some(typing.room_id.as_str());
            if open && me.with_value(|me| typing.user.id != *me) {
                let until = js_sys::Date::now() + TYPING_SHOWN_MS as f64;
                typists.update(|list| {
                    list.retain(|(id, ..)| *id != typing.user.id);
                    list.push((typing.user.id, typing.user.display_name, until));
                });
            }
        }
        LiveEvent::Notification(notification) => {
            desktop_notify(&notification);
            feed.changed();
        }
        LiveEvent::NotificationsRead => feed.changed(),
        // The open room shows no badge anyway (and this tab may be the one
        // that read it): only another room's count needs refetching.
        LiveEvent::RoomRead(room_id) => {
            if current.get_untracked().as_deref() != Some(room_id.as_str()) {
                refresh_soon();
            }
        }
        LiveEvent::RoomUpdated(room) => {
            refresh.run(());
            if current.get_untracked().as_deref() == Some(room.id.as_str()) {
                load_members(room.id);
            }
        }
        LiveEvent::RoomDeleted(room_id) => {
            gone.set(Some((room_id, Gone::Deleted)));
            refresh.run(());
        }
        LiveEvent::Removed(room_id) => {
            gone.set(Some((room_id, Gone::Removed)));
            refresh.run(());
        }
        LiveEvent::MessageUpdated(message) => {
            if current.get_untracked().as_deref() == Some(message.room_id.as_str()) {
                messages.update(|list| apply_update(list, &message));
            }
        }
        LiveEvent::Reaction(reaction) => {
            if current.get_untracked().as_deref() == Some(reaction.room_id.as_str()) {
                me.with_value(|me| messages.update(|list| apply_reaction(list, &reaction, me)));
            }
        }
    };
    // Typing indicators fade after a few seconds without news.
    Effect::new(move |_| {
        let timer = set_interval_with_handle(
            move || {
                let now = js_sys::Date::now();
                if typists.with_untracked(|list| list.iter().any(|(_, _, until)| *until <= now)) {
                    typists.update(|list| list.retain(|(_, _, until)| *until > now));
                }
            },
            std::time::Duration::from_secs(1),
        );
        on_cleanup(move || {
            if let Ok(timer) = timer {
                timer.clear();
            }
        });
    });
    let typing_line = Signal::derive(move || {
        typists.with(|list| {
            typing_text(
                &list
                    .iter()
                    .map(|(_, name, _)| name.clone())
                    .collect::<Vec<_>>(),
            )
        })
    });
    Effect::new(move |_| {
        let connect = move || me.with_value(|me| live::connect(me, on_event));
        // The connection is browser-only (not Send); the stored value keeps
        // it on this thread, and dropping it closes the stream (and hands
        // it to another tab, see `live`).
        let connection = StoredValue::new_local(connect());
        // When the device goes offline the open stream may linger without
        // delivering; close it, and open a fresh one (which catches up) when
        // the network is back. A page the browser freezes (a background tab
        // on a phone) lets its stream go too, so that another tab leads.
        let offline = window_event_listener(leptos::ev::offline, move |_| {
            connection.update_value(|open| drop(open.take()));
            live.set(false);
        });
        let online = window_event_listener(leptos::ev::online, move |_| {
            connection.update_value(|open| *open = connect());
        });
        let lifecycle = StoredValue::new_local(vec![
            on_document("freeze", move || {
                connection.update_value(|open| drop(open.take()))
            }),
            on_document("resume", move || {
                connection.update_value(|open| *open = connect())
            }),
        ]);
        // A stream the browser gave up on (refused with 429 when too many
        // are open, or a server error) is opened again now and then, as
        // the refusal's Retry-After (15 s) asks; catching up follows.
        let retry = set_interval_with_handle(
            move || {
                let given_up =
                    connection.with_value(|open| open.as_ref().is_some_and(live::Live::is_closed));
                if given_up {
                    connection.update_value(|open| *open = connect());
                }
            },
            STREAM_RETRY,
        );
        on_cleanup(move || {
            offline.remove();
            online.remove();
            lifecycle.update_value(|removers| {
                for remove in removers.drain(..) {
                    remove();
                }
            });
            if let Ok(retry) = retry {
                retry.clear();
            }
            connection.update_value(|open| drop(open.take()));
        });
    });

    // The stream has been down for a while: say so in a banner.
    let down_long = RwSignal::new(false);
    Effect::new(move |_| {
        if live.get() {
            down_long.set(false);
        } else {
            set_timeout(
                move || {
                    if live.try_get_untracked() == Some(false) {
                        down_long.try_set(true);
                    }
                },
                BANNER_AFTER,
            );
        }
    });

    // The unread total of the rooms not shown: in the page title
    // ("(3) Redchat") and as a dot on the favicon.
    let unread_total = Memo::new(move |_| {
        let open = current.get();
        unread_by_room.with(|rooms| {
            // Rooms set to mentions only or nothing stay out of the total.
            rooms
                .iter()
                .filter(|(room, _, loud)| *loud && Some(room) != open.as_ref())
                .map(|(_, unread, _)| unread)
                .sum::<u64>()
        })
    });
    Effect::new(move |_| show_unread_total(unread_total.get()));
    on_cleanup(|| show_unread_total(0));

    // Keyboard: Ctrl/Cmd+K opens the room switcher, Alt+Up/Down moves to
    // the room above or below, Escape closes the members drawer.
    let navigate = use_navigate();
    let move_room = move |step: isize| {
        let ids: Vec<String> = unread_by_room
            .with_untracked(|rooms| rooms.iter().map(|(id, ..)| id.clone()).collect());
        if ids.is_empty() {
            return;
        }
        let here = current
            .get_untracked()
            .and_then(|id| ids.iter().position(|other| *other == id));
        let count = ids.len() as isize;
        let next = match here {
            Some(index) => (index as isize + step).rem_euclid(count),
            None if step > 0 => 0,
            None => count - 1,
        };
        navigate(
            &format!("/rooms/{}", ids[next as usize]),
            NavigateOptions::default(),
        );
    };
    Effect::new(move |_| {
        let move_room = move_room.clone();
        let keys = window_event_listener(leptos::ev::keydown, move |event| {
            // A key the switcher, a menu or a form already took is theirs.
            if event.default_prevented() || switcher_open.get_untracked() {
                return;
            }
            let key = event.key();
            if (event.ctrl_key() || event.meta_key()) && key.eq_ignore_ascii_case("k") {
                event.prevent_default();
                switcher_open.set(true);
            } else if event.alt_key() && (key == "ArrowUp" || key == "ArrowDown") {
                event.prevent_default();
                move_room(if key == "ArrowUp" { -1 } else { 1 });
            } else if key == "Escape" && members_open.get_untracked() {
                members_open.set(false);
            }
        });
        on_cleanup(move || keys.remove());
    });

    // The open room as last listed (a rename changes it in place), and
    // its id: only a change of room rebuilds the view (and its draft).
    let open_room = Memo::new(move |_| {
        let id = current.get()?;
        let list = room_list.get()?.ok()?;
        list.joined
            .into_iter()
            .chain(list.direct)
            .find(|joined| joined.room.id == id)
            .map(|joined| joined.room)
    });
    let open_id =
        Memo::new(move |_| open_room.with(|room| room.as_ref().map(|room| room.id.clone())));
    // "Message": the conversation with that one person, straight from the
    // list when it is there (hidden ones are not: the server shows them
    // again), else opened (or created) by the server.
    let navigate_to_direct = use_navigate();
    let message_person = Callback::new(move |handle: String| {
        let listed = room_list.with_untracked(|list| {
            let list = list.as_ref()?.as_ref().ok()?;
            list.direct
                .iter()
                .find(|joined| {
                    joined.room.members.len() == 2
                        && joined.room.members.iter().any(|user| user.handle == handle)
                })
                .map(|joined| joined.room.id.clone())
        });
        dm_error.set(None);
        match listed {
            Some(id) => navigate_to_direct(&format!("/rooms/{id}"), NavigateOptions::default()),
            None => crate::rooms::components::start_direct(
                handle,
                refresh,
                Callback::new(|()| ()),
                dm_error,
                navigate_to_direct.clone(),
            ),
        }
    });

    view! {
        <div
            class="chat"
            class:room-open=move || current.get().is_some()
            class:members-open=move || members_open.get()
        >
            <p role="status" class="live-status" class:live=move || live.get()>
                {move || if live.get() { "Live" } else { "Reconnecting…" }}
            </p>
            {move || {
                down_long
                    .get()
                    .then(|| {
                        view! {
                            <p class="connection-banner">
                                "Connection lost. Reconnecting… New messages will appear as soon as it is back."
                            </p>
                        }
                    })
            }}
            {move || {
                dm_error
                    .get()
                    .map(|message| view! { <p role="alert" class="connection-banner">{message}</p> })
            }}
            <RoomSwitcher rooms=room_list open=switcher_open />
            <RoomsSidebar rooms=room_list current=current.into() refresh />
            <Transition>
                {move || match open_id.get() {
                    Some(_) => {
                        view! {
                            <RoomView
                                room=open_room
                                members=member_list
                                me_id=user.id.clone()
                                on_message=message_person
                                refresh
                                messages
                                older
                                current=current.into()
                                me=user.handle.clone()
                                typing_text=typing_line
                                divider_before=divider_before.into()
                                loaded=loaded.into()
                                members_open
                            />
                        }
                            .into_any()
                    }
                    // A room in the path that is not in the list (removed,
                    // deleted, left, or an old link): say so, with the way
                    // back a phone needs.
                    None if current.get().is_some() => {
                        let how = gone.get().filter(|(id, _)| current.get().as_deref() == Some(id.as_str())).map(|(_, how)| how);
                        let (title, text) = match how {
                            Some(Gone::Removed) => (
                                "You are no longer a member of this room",
                                "Its owner or an admin removed you. Pick another room from your list.",
                            ),
                            Some(Gone::Deleted) => (
                                "This room was deleted",
                                "Its owner deleted it with all its messages. Pick another room from your list.",
                            ),
                            None => (
                                "This room is not in your list",
                                "You are no longer a member of it (you left, or were removed), or it was deleted, or the link is old. Pick a room from your list.",
                            ),
                        };
                        view! {
                            <section class="pane pane-conversation" aria-label="Conversation">
                                <header class="room-header">
                                    <A href="/" attr:class="icon-button back-link" attr:aria-label="Back to rooms">
                                        <IconSvg icon=Icon::Back />
                                    </A>
                                </header>
                                <div class="empty-state">
                                    <h1>{title}</h1>
                                    <p class="muted">{text}</p>
                                </div>
                            </section>
                        }
                            .into_any()
                    }
                    None => {
                        view! {
                            <section class="pane pane-conversation" aria-label="Conversation">
                                <div class="empty-state">
                                    <h1>"Welcome, " {user.display_name.clone()}</h1>
                                    <p class="muted">
                                        "Pick a room, or create one, to start talking. Ctrl+K jumps to a room by name; Alt+Up and Alt+Down move between rooms."
                                    </p>
                                </div>
                            </section>
                        }
                            .into_any()
                    }
                }}
            </Transition>
            <aside class="pane pane-members" id="members-pane" aria-label="Members">
                <div class="pane-heading">
                    <h2 class="pane-title">"Members"</h2>
                    <button
                        type="button"
                        class="icon-button members-close"
                        aria-label="Close members"
                        node_ref=close_members
                        on:click=move |_| members_open.set(false)
                    >
                        <IconSvg icon=Icon::Close />
                    </button>
                </div>
                // Inside a Transition: `open_room` reads the rooms resource, and
                // a resource read outside one stalls server rendering.
                <Transition>
                    {move || {
                        open_room
                            .get()
                            .filter(|room| !room.is_direct())
                            .map(|room| view! { <InviteForm room_id=room.id /> })
                    }}
                </Transition>
                {move || {
                    current
                        .get()
                        .is_some()
                        .then(|| {
                            view! { <MemberLists members=member_list me=me.get_value() on_message=message_person /> }
                        })
                }}
            </aside>
        </div>
    }
}

/// How a room left the user's list while they were in the chat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Gone {
    Removed,
    Deleted,
}

/// Listens for a document event (the page lifecycle's `freeze` and
/// `resume` are fired at the document, not the window); the returned
/// function stops listening.
fn on_document(name: &'static str, handler: impl Fn() + 'static) -> Box<dyn FnOnce()> {
    use wasm_bindgen::JsCast;
    let closure = wasm_bindgen::closure::Closure::<dyn Fn()>::new(handler);
    let _ = document().add_event_listener_with_callback(name, closure.as_ref().unchecked_ref());
    Box::new(move || {
        let _ =
            document().remove_event_listener_with_callback(name, closure.as_ref().unchecked_ref());
    })
}

/// Shows the unread total in the page title ("(3) Redchat") and as a dot
/// on the favicon (browser only; nothing on the server).
fn show_unread_total(total: u64) {
    #[cfg(target_arch = "wasm32")]
    {
        let document = document();
        document.set_title(&if total == 0 {
            "Redchat".to_owned()
        } else {
            format!("({total}) Redchat")
        });
        if let Ok(Some(icon)) = document.query_selector("link[rel=icon]") {
            let href = if total == 0 {
                "/favicon.svg"
            } else {
                "/favicon-unread.svg"
            };
            let _ = icon.set_attribute("href", href);
        }
    }
    #[cfg(not(target_arch = "wasm32"))]
    let _ = total;
}

/// The oldest of the `unread` newest messages written by others (the
/// reader's own messages are never unread), if any are unread.
fn first_unread(list: &[Message], me: &str, unread: u64) -> Option<String> {
    let unread = usize::try_from(unread).unwrap_or(usize::MAX);
    if unread == 0 {
        return None;
    }
    list.iter()
        .rev()
        .filter(|message| message.author.id != me)
        .take(unread)
        .last()
        .map(|message| message.id.clone())
}

/// Whether message id `id` comes after `than` in its room (an id that does
/// not parse comes before every other).
fn is_later(id: &str, than: &str) -> bool {
    let parse = |id: &str| MessageId::parse(id, "id").ok();
    parse(id) > parse(than)
}

/// The fewest milliseconds between two read marks of one tab.
const READ_MARK_GAP_MS: u64 = 1_000;

/// Marks rooms read as live messages arrive in the open one, without a
/// request per message: in a busy room every reader's tab would otherwise
/// post once per delivery. One `mark_room_read` at a time, at most one a
/// second; ids that arrive meanwhile fold into the newest for their room
/// (the server only ever moves a read mark forward).
#[derive(Clone, Copy)]
struct ReadMarks {
    /// The newest id to mark read, per room, not yet sent.
    due: StoredValue<Vec<(String, String)>>,
    sending: StoredValue<bool>,
}

impl ReadMarks {
    fn new() -> Self {
        let marks = Self {
            due: StoredValue::new(Vec::new()),
            sending: StoredValue::new(false),
        };
        // Leaving the chat (another page, signing out) must not lose what
        // was read meanwhile: send what is due at once. Cleanups run before
        // the stored values are disposed.
        on_cleanup(move || {
            for (room_id, up_to) in marks
                .due
                .try_update_value(std::mem::take)
                .unwrap_or_default()
            {
                spawn_local(async move {
                    let _ = mark_room_read(room_id, up_to).await;
                });
            }
        });
        marks
    }

    fn mark(self, room_id: String, up_to: String) {
        self.due.update_value(|due| {
            match due.iter_mut().find(|(room, _)| *room == room_id) {
                // A late or repeated event never moves a due mark back.
                Some((_, due)) if is_later(due, &up_to) => {}
                Some((_, due)) => *due = up_to,
                None => due.push((room_id, up_to)),
            }
        });
        if self.sending.get_value() {
            return;
        }
        self.sending.set_value(true);
        spawn_local(async move {
            // Ends when nothing is due, or when the page that owns the marks
            // is gone (its stored values are disposed; the cleanup above sent
            // what was due). A stuck request holds the marks back only until
            // the server's Redis timeout answers it.
            while let Some(due) = self.due.try_update_value(std::mem::take) {
                if due.is_empty() {
                    break;
                }
                for (room_id, up_to) in due {
                    let _ = mark_room_read(room_id, up_to).await;
                }
                pause(std::time::Duration::from_millis(READ_MARK_GAP_MS)).await;
            }
            self.sending.try_set_value(false);
        });
    }
}
