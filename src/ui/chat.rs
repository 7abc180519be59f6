//! The signed-in home: a three-pane chat layout (rooms, conversation,
//! members) that collapses to one column on a phone.

use leptos::prelude::*;
use leptos_router::components::Redirect;

use crate::auth::components::Auth;
use crate::auth::User;

/// `/`: the chat for a signed-in user; everyone else goes to sign in.
#[component]
pub fn HomePage() -> impl IntoView {
    let auth = Auth::expect();
    view! {
        <Transition>
            {move || {
                auth.user
                    .get()
                    .map(|user| match user {
                        Ok(Some(user)) => view! { <ChatLayout user /> }.into_any(),
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

#[component]
fn ChatLayout(user: User) -> impl IntoView {
    view! {
        <div class="chat">
            <nav class="pane pane-rooms" aria-label="Rooms">
                <h2 class="pane-title">"Rooms"</h2>
                <p class="muted">"No rooms yet."</p>
            </nav>
            <section class="pane pane-conversation" aria-label="Conversation">
                <div class="empty-state">
                    <h1>"Welcome, " {user.display_name}</h1>
                    <p class="muted">
                        "Pick a room on the left, or create one, to start talking."
                    </p>
                </div>
            </section>
            <aside class="pane pane-members" aria-label="Members">
                <h2 class="pane-title">"Members"</h2>
            </aside>
        </div>
    }
}
