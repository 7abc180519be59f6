//! The header's "Notifications" button, its list, and desktop
//! notifications.
//!
//! [`NotificationFeed`] is shared through the context: the page's event
//! stream bumps it when a notification arrives or is read in another tab,
//! and the button refetches.

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::A;

use super::api::{mark_read, notifications};
use super::model::Notification;
use crate::rooms::api::respond_invite;
use crate::text::time;
use crate::ui::icons::{Icon, IconSvg};

/// The signed-in user's notifications, refetched whenever they may have
/// changed.
#[derive(Clone, Copy)]
pub struct NotificationFeed {
    version: RwSignal<u32>,
}

impl NotificationFeed {
    /// Creates the feed and provides it. Call once, above the header.
    pub fn provide() -> Self {
        let feed = Self {
            version: RwSignal::new(0),
        };
        provide_context(feed);
        feed
    }

    pub fn expect() -> Self {
        expect_context()
    }

    /// Something changed: refetch.
    pub fn changed(&self) {
        self.version.update(|v| *v += 1);
    }
}

/// The header button ("Notifications (3)") and, when open, the list.
///
/// Browser-only: it appears once the page is hydrated, and its list is
/// fetched from the browser. Server-rendering it would add a resource to the
/// page that depends on the `me` resource, and the order in which such
/// resources resolve on the server is not fixed, which broke hydration.
#[component]
pub fn NotificationsButton() -> impl IntoView {
    let hydrated = RwSignal::new(false);
    // Effects run only in the browser, after hydration.
    Effect::new(move |_| hydrated.set(true));
    move || {
        hydrated
            .get()
            .then(|| view! { <BrowserNotificationsButton /> })
    }
}

#[component]
fn BrowserNotificationsButton() -> impl IntoView {
    let feed = NotificationFeed::expect();
    let list = LocalResource::new(move || {
        feed.version.track();
        notifications(Some(50))
    });
    let open = RwSignal::new(false);
    let unread = move || {
        list.get()
            .and_then(Result::ok)
            .map_or(0, |list| list.unread)
    };
    let label = move || match unread() {
        0 => "Notifications".to_owned(),
        n => format!("Notifications ({n})"),
    };
    let mark_all = move |_| {
        spawn_local(async move {
            let _ = mark_read("all".into()).await;
            feed.changed();
        });
    };
    view! {
        <div
            class="notifications"
            on:keydown=move |event: leptos::ev::KeyboardEvent| {
                if event.key() == "Escape" && open.get_untracked() {
                    event.prevent_default();
                    open.set(false);
                }
            }
        >
            <button
                type="button"
                class="button-secondary bell"
                aria-label=label
                aria-expanded=move || open.get().to_string()
                on:click=move |_| open.update(|open| *open = !*open)
            >
                <IconSvg icon=Icon::Bell />
                // No `Transition` of its own: this button is rendered inside
                // the header's, and a nested one would number the page's
                // async parts differently on the server and in the browser.
                {move || {
                    let n = unread();
                    (n > 0).then(|| view! { <span class="badge" aria-hidden="true">{n}</span> })
                }}
            </button>
            <Show when=move || open.get()>
                <section class="notification-panel" aria-label="Notification list">
                    <div class="panel-actions">
                        <button type="button" class="button-secondary" on:click=mark_all>
                            "Mark all read"
                        </button>
                        <DesktopToggle />
                    </div>
                    <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                        {move || {
                            list.get()
                                .map(|result| match result {
                                    Ok(list) if list.items.is_empty() => {
                                        view! { <p class="muted">"No notifications yet. Mentions of you and invitations to rooms show up here."</p> }.into_any()
                                    }
                                    Ok(list) => {
                                        view! {
                                            <ul class="notification-items">
                                                {list.items.into_iter().map(|item| view! { <NotificationItem item /> }).collect_view()}
                                            </ul>
                                        }
                                            .into_any()
                                    }
                                    Err(err) => view! { <p role="alert" class="form-error">{err.to_string()}</p> }.into_any(),
                                })
                        }}
                    </Transition>
                </section>
            </Show>
        </div>
    }
}

#[component]
fn NotificationItem(item: Notification) -> impl IntoView {
    let feed = NotificationFeed::expect();
    let error = RwSignal::new(None::<String>);
    let id = item.id.clone();
    let read_it = move || {
        let id = id.clone();
        spawn_local(async move {
            let _ = mark_read(id).await;
            feed.changed();
        });
    };
    let answer = {
        let room_id = item.room_id.clone();
        move |accept: bool| {
            let room_id = room_id.clone();
            spawn_local(async move {
                match respond_invite(room_id, accept).await {
                    Ok(()) => feed.changed(),
                    Err(err) => error.set(Some(err.to_string())),
                }
            });
        }
    };
    let accept = answer.clone();
    // A mention, a reply or a direct message opens at its message.
    let href = match &item.message_id {
        Some(message) => format!("/rooms/{}?message={message}", item.room_id),
        None => format!("/rooms/{}", item.room_id),
    };
    let link_text = if item.message_id.is_some() {
        "Open message"
    } else {
        "Open room"
    };
    let open_invite = item.is_open_invite();
    let show_link = item.kind != super::model::NotificationKind::Invite
        || item.answer.as_deref() == Some("accepted");
    view! {
        <li class="notification" class:unread=!item.read>
            <p class="headline">{item.headline()}</p>
            {(!item.text.is_empty()).then(|| view! { <p class="excerpt">{item.text.clone()}</p> })}
            <p class="muted small">
                {time::clock(item.created_at)}
                {item.answer.clone().map(|answer| format!(" · {answer}"))}
                {item
                    .expires_at
                    .filter(|_| open_invite)
                    .map(|until| format!(" · expires {}", time::day(until)))}
            </p>
            <div class="notification-actions">
                {open_invite
                    .then(|| {
                        view! {
                            <button type="button" class="button-primary" on:click=move |_| accept(true)>
                                "Accept"
                            </button>
                            <button type="button" class="button-secondary" on:click=move |_| answer(false)>
                                "Decline"
                            </button>
                        }
                    })}
                {show_link.then(|| view! { <A href=href>{link_text}</A> })}
                {(!item.read && !open_invite)
                    .then(|| {
                        let read_it = read_it.clone();
                        view! {
                            <button type="button" class="button-secondary" on:click=move |_| read_it()>
                                "Mark read"
                            </button>
                        }
                    })}
            </div>
            {move || error.get().map(|message| view! { <p role="alert" class="form-error">{message}</p> })}
        </li>
    }
}

/// "Desktop notifications": asks the browser for permission, once.
#[component]
fn DesktopToggle() -> impl IntoView {
    use web_sys::NotificationPermission;
    let permission = RwSignal::new(None::<NotificationPermission>);
    Effect::new(move |_| {
        if desktop_supported() {
            permission.set(Some(web_sys::Notification::permission()));
        }
    });
    let ask = move |_| {
        if let Ok(promise) = web_sys::Notification::request_permission() {
            spawn_local(async move {
                let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
                permission.set(Some(web_sys::Notification::permission()));
            });
        }
    };
    move || {
        (permission.get() == Some(NotificationPermission::Default)).then(|| {
            view! {
                <button type="button" class="button-secondary" on:click=ask>
                    "Desktop notifications"
                </button>
            }
        })
    }
}

/// Shows a desktop notification for a mention or an invitation, when the
/// tab is hidden and the user has allowed it. Browser only.
pub fn desktop_notify(item: &Notification) {
    use super::model::NotificationKind;
    if item.kind == NotificationKind::InviteAccepted {
        return;
    }
    if !desktop_supported()
        || !document().hidden()
        || web_sys::Notification::permission() != web_sys::NotificationPermission::Granted
    {
        return;
    }
    let options = web_sys::NotificationOptions::new();
    options.set_body(&item.text);
    // Tagged with the message, when there is one: the same message's
    // notification for a room set to "All messages" is replaced, not
    // doubled.
    options.set_tag(item.message_id.as_ref().unwrap_or(&item.id));
    let _ = web_sys::Notification::new_with_options(&item.headline(), &options);
}

/// Shows a desktop notification for a message in a room the user set to
/// "All messages" (direct rooms notify through their `direct`
/// notifications instead), on the same terms as [`desktop_notify`].
pub fn desktop_notify_message(message: &crate::messages::Message, room_name: &str) {
    if !desktop_supported()
        || !document().hidden()
        || web_sys::Notification::permission() != web_sys::NotificationPermission::Granted
    {
        return;
    }
    let options = web_sys::NotificationOptions::new();
    options.set_body(&super::model::excerpt(&message.body));
    options.set_tag(&message.id);
    let title = format!("{} in {room_name}", message.author.display_name);
    let _ = web_sys::Notification::new_with_options(&title, &options);
}

/// Whether this browser has the Notification API at all (some mobile
/// browsers do not; calling it there would throw).
fn desktop_supported() -> bool {
    js_sys::Reflect::has(&window(), &wasm_bindgen::JsValue::from_str("Notification"))
        .unwrap_or(false)
}
