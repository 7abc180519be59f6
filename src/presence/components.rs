//! The room's "Online" list (and who else is in the room).
//!
//! The page keeps the member list: loaded with `members` when the room
//! opens or the stream reopens, then changed in place by `presence` events.

use leptos::prelude::*;

use super::model::Member;
use crate::ui::avatar::Avatar;
use crate::ui::icons::{Icon, IconSvg};

/// The members pane's lists: online members under "Online", the others
/// under "Offline"; each other person with "Message" (a direct room with
/// them).
#[component]
pub fn MemberLists(
    members: RwSignal<Vec<Member>>,
    /// The reader's user id (no "Message" to oneself).
    me: String,
    /// Opens a direct room with the person of this handle.
    on_message: Callback<String>,
) -> impl IntoView {
    let me = StoredValue::new(me);
    let names = move |online: bool| {
        members.with(|list| {
            list.iter()
                .filter(|member| member.online == online)
                .map(|member| {
                    let user = &member.user;
                    view! {
                        <li title=format!("@{}", user.handle)>
                            <span class="member-avatar">
                                <Avatar user_id=user.id.clone() display_name=user.display_name.clone() small=true />
                                <span class="presence-dot" class:online=online aria-hidden="true"></span>
                            </span>
                            <span class="member-name">
                                {user.display_name.clone()}
                                <span class="handle">{format!(" @{}", user.handle)}</span>
                            </span>
                            {(me.with_value(|me| *me != user.id))
                                .then(|| view! { <MessageButton user=user.clone() on_message class="member-message" /> })}
                        </li>
                    }
                })
                .collect_view()
        })
    };
    let offline_count = move || members.with(|list| list.iter().filter(|m| !m.online).count());
    view! {
        <h3 class="list-title">"Online"</h3>
        <ul class="member-list" aria-label="Online">
            {move || names(true)}
        </ul>
        <details class="offline-members">
            <summary>"Offline (" {offline_count} ")"</summary>
            <ul class="member-list" aria-label="Offline">
                {move || names(false)}
            </ul>
        </details>
    }
}

/// "Message NAME": opens a direct room with that person (an icon button,
/// named for screen readers and in its tooltip).
#[component]
pub fn MessageButton(
    user: crate::auth::User,
    on_message: Callback<String>,
    /// Where it sits: `member-message` or `author-message`.
    class: &'static str,
) -> impl IntoView {
    let label = format!("Message {}", user.display_name);
    let handle = user.handle;
    view! {
        <button
            type="button"
            class=format!("icon-button {class}")
            aria-label=label.clone()
            title=label
            on:click=move |_| on_message.run(handle.clone())
        >
            <IconSvg icon=Icon::Chat />
        </button>
    }
}
