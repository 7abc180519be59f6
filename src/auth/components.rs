//! The sign-up and sign-in pages, the header's user menu, and [`Auth`], the
//! client-side view of who is signed in.
//!
//! Forms are `ActionForm`s: before hydration they are plain form posts (the
//! server answers with a redirect back, carrying any error in the URL);
//! after hydration they call the server function without a reload.

use leptos::prelude::*;
use leptos::server::ServerActionError;
use leptos::server_fn::error::ServerFnUrlError;
use leptos::server_fn::ServerFn;
use leptos_router::components::{Redirect, A};
use leptos_router::hooks::use_query_map;

use super::api::{
    change_password, me, revoke_session, sessions, sign_out_everywhere, Login, Logout, Register,
    UpdateProfile,
};
use super::model::User;
use crate::error::AppError;
use crate::ui::avatar::Avatar;
use crate::ui::icons::{Icon, IconSvg};

/// The auth actions and the signed-in user, shared through the context.
#[derive(Clone, Copy)]
pub struct Auth {
    pub register: ServerAction<Register>,
    pub login: ServerAction<Login>,
    pub logout: ServerAction<Logout>,
    pub update_profile: ServerAction<UpdateProfile>,
    /// `me()`, fetched again whenever one of the actions completes.
    pub user: Resource<Result<Option<User>, AppError>>,
}

impl Auth {
    /// Creates the actions and the user resource and provides them. Call once,
    /// inside the `<Router>` (which carries form errors from no-JS posts).
    pub fn provide() -> Self {
        let register = ServerAction::<Register>::new();
        let login = ServerAction::<Login>::new();
        let logout = ServerAction::<Logout>::new();
        let update_profile = ServerAction::<UpdateProfile>::new();
        let user = Resource::new(
            move || {
                (
                    register.version().get(),
                    login.version().get(),
                    logout.version().get(),
                    update_profile.version().get(),
                )
            },
            |_| me(),
        );
        let auth = Self {
            register,
            login,
            logout,
            update_profile,
            user,
        };
        provide_context(auth);
        auth
    }

    pub fn expect() -> Self {
        expect_context()
    }

    /// The signed-in user, once known. Read inside a `Suspense`/`Transition`.
    pub fn current(&self) -> Option<User> {
        self.user.get().and_then(Result::ok).flatten()
    }
}

/// The text for a form's `alert`: the error of the action's last run or,
/// before any run, the kind of error a plain form post (no JavaScript) came
/// back with. That one is read from the URL, which anyone can craft, so
/// only a fixed text for its kind is shown (`AppError::from_url_message`),
/// never the message it carries.
///
/// The router reads the latter from the URL into a `ServerActionError` only
/// when `<Routes>` renders, after [`Auth::provide`] made the actions, so it
/// is read here, in the page, rather than through the action. The router
/// never removes that context, hence the check that the URL still carries it.
fn form_error<T>(
    value: MappedSignal<Option<Result<T, AppError>>>,
    path: &str,
) -> Signal<Option<String>>
where
    T: Send + Sync + 'static,
{
    let in_url = use_query_map().with_untracked(|query| query.get("__err").is_some());
    let posted = use_context::<ServerActionError>()
        .filter(|posted| in_url && posted.path() == path)
        .map(|posted| {
            ServerFnUrlError::<AppError>::decode_err(posted.err())
                .from_url_message()
                .to_owned()
        });
    Signal::derive(move || {
        value.with(|value| match value {
            Some(result) => result.as_ref().err().map(ToString::to_string),
            None => posted.clone(),
        })
    })
}

#[component]
fn FormError(message: Signal<Option<String>>) -> impl IntoView {
    move || {
        message
            .get()
            .map(|message| view! { <p role="alert" class="form-error">{message}</p> })
    }
}

/// Leaves a sign-in or sign-up page once the user is signed in.
#[component]
fn RedirectWhenSignedIn() -> impl IntoView {
    let auth = Auth::expect();
    view! {
        <Transition>
            {move || auth.current().map(|_| view! { <Redirect path="/" /> })}
        </Transition>
    }
}

/// `/signup`: email, password, display name and handle.
#[component]
pub fn SignUpPage() -> impl IntoView {
    let auth = Auth::expect();
    let error = form_error(auth.register.value(), Register::PATH);
    let pending = auth.register.pending();
    view! {
        <RedirectWhenSignedIn />
        <section class="auth-card">
            <h1>"Create your account"</h1>
            <ActionForm action=auth.register attr:class="stack">
                <label for="signup-email">"Email"</label>
                <input id="signup-email" type="email" name="email" required autocomplete="email" />
                <label for="signup-password">"Password"</label>
                <input
                    id="signup-password"
                    type="password"
                    name="password"
                    required
                    minlength="8"
                    autocomplete="new-password"
                />
                <label for="signup-display-name">"Display name"</label>
                <input
                    id="signup-display-name"
                    type="text"
                    name="display_name"
                    required
                    maxlength="64"
                    autocomplete="nickname"
                />
                <label for="signup-handle">"Handle"</label>
                <input
                    id="signup-handle"
                    type="text"
                    name="handle"
                    required
                    minlength="2"
                    maxlength="32"
                    pattern="@?[A-Za-z0-9_.\\-]{2,32}"
                    autocapitalize="none"
                    spellcheck="false"
                />
                <p class="hint">"Your @name for mentions: letters, digits, _ . -"</p>
                <FormError message=error />
                <button type="submit" class="button-primary" prop:disabled=move || pending.get()>
                    "Create account"
                </button>
            </ActionForm>
            <p class="switch">"Already have an account? " <A href="/login">"Sign in instead"</A></p>
        </section>
    }
}

/// `/login`: email and password.
#[component]
pub fn SignInPage() -> impl IntoView {
    let auth = Auth::expect();
    let error = form_error(auth.login.value(), Login::PATH);
    let pending = auth.login.pending();
    view! {
        <RedirectWhenSignedIn />
        <section class="auth-card">
            <h1>"Sign in to Redchat"</h1>
            <ActionForm action=auth.login attr:class="stack">
                <label for="login-email">"Email"</label>
                <input id="login-email" type="email" name="email" required autocomplete="email" />
                <label for="login-password">"Password"</label>
                <input
                    id="login-password"
                    type="password"
                    name="password"
                    required
                    autocomplete="current-password"
                />
                <FormError message=error />
                <button type="submit" class="button-primary" prop:disabled=move || pending.get()>
                    "Sign in"
                </button>
            </ActionForm>
            <p class="switch">"New to Redchat? " <A href="/signup">"Create an account instead"</A></p>
        </section>
    }
}

/// The header's right side: `children` (the app puts the notifications
/// button there), then the user menu: a button with the user's avatar and
/// display name that opens a panel holding "Edit name", "Account" and
/// "Sign out".
///
/// The button is a disclosure (`aria-expanded`), not an ARIA menu: the
/// panel holds forms, which a `menu` role would hide from screen readers'
/// reading mode. Escape or a click elsewhere closes it. Before hydration
/// (or without JavaScript) the panel is shown while focus is inside the
/// menu (`:focus-within` in the CSS), so "Sign out" works as a plain form
/// post.
#[component]
pub fn UserMenu(
    /// Shown first while someone is signed in (the app puts the
    /// notifications button here; this feature does not know of it).
    #[prop(optional)]
    children: Option<ChildrenFn>,
) -> impl IntoView {
    let children = StoredValue::new(children);
    let auth = Auth::expect();
    let editing = RwSignal::new(false);
    let open = RwSignal::new(false);
    // Set in the browser only, after hydration: from then on `open` drives
    // the panel, not focus.
    let enhanced = RwSignal::new(false);
    let menu = NodeRef::<leptos::html::Div>::new();
    let button = NodeRef::<leptos::html::Button>::new();
    Effect::new(move |_| {
        enhanced.set(true);
        // A click outside the menu closes it.
        let outside = window_event_listener(leptos::ev::pointerdown, move |event| {
            let inside = menu.get_untracked().is_some_and(|menu| {
                event
                    .target()
                    .and_then(|target| wasm_bindgen::JsCast::dyn_into::<web_sys::Node>(target).ok())
                    .is_some_and(|node| menu.contains(Some(&node)))
            });
            if !inside && open.get_untracked() {
                open.set(false);
                editing.set(false);
            }
        });
        on_cleanup(move || outside.remove());
    });
    let close_and_refocus = move || {
        open.set(false);
        editing.set(false);
        if let Some(button) = button.get_untracked() {
            let _ = button.focus();
        }
    };
    // Close the form (and the menu) once a save went through.
    Effect::new(move |_| {
        if matches!(auth.update_profile.value().get(), Some(Ok(_))) {
            editing.set(false);
            open.set(false);
        }
    });
    let save_error = move || {
        auth.update_profile
            .value()
            .get()
            .and_then(Result::err)
            .map(|err| err.to_string())
    };
    view! {
        <Transition>
            {move || {
                auth.current()
                    .map(|user| {
                        let current_name = StoredValue::new(user.display_name.clone());
                        view! {
                            <div class="user-menu">
                                {children.with_value(|children| children.as_ref().map(|children| children()))}
                                <div
                                    class="menu"
                                    class:enhanced=move || enhanced.get()
                                    class:open=move || open.get()
                                    node_ref=menu
                                    on:keydown=move |event: leptos::ev::KeyboardEvent| {
                                        if event.key() == "Escape" && open.get_untracked() {
                                            event.prevent_default();
                                            close_and_refocus();
                                        }
                                    }
                                >
                                    <button
                                        type="button"
                                        class="menu-button"
                                        node_ref=button
                                        aria-label=format!("{} (user menu)", user.display_name)
                                        aria-expanded=move || open.get().to_string()
                                        aria-controls="user-menu-panel"
                                        title=format!("@{}", user.handle)
                                        on:click=move |_| {
                                            open.update(|open| *open = !*open);
                                            editing.set(false);
                                        }
                                    >
                                        <Avatar user_id=user.id.clone() display_name=user.display_name.clone() />
                                        <span class="user-name">{user.display_name.clone()}</span>
                                        <IconSvg icon=Icon::ChevronDown />
                                    </button>
                                    <div class="menu-panel" id="user-menu-panel">
                                        // Not the display name again: the button shows it.
                                        <p class="menu-who muted">{format!("Signed in as @{}", user.handle)}</p>
                                        <Show
                                            when=move || editing.get()
                                            fallback=move || {
                                                view! {
                                                    <button
                                                        type="button"
                                                        class="menu-item"
                                                        on:click=move |_| editing.set(true)
                                                    >
                                                        "Edit name"
                                                    </button>
                                                    <AccountButton />
                                                }
                                            }
                                        >
                                            <ActionForm action=auth.update_profile attr:class="inline-form">
                                                <input
                                                    type="text"
                                                    name="display_name"
                                                    aria-label="Display name"
                                                    required
                                                    maxlength="64"
                                                    value=current_name.get_value()
                                                />
                                                <button type="submit" class="button-primary">
                                                    "Save"
                                                </button>
                                                <button
                                                    type="button"
                                                    class="button-secondary"
                                                    on:click=move |_| editing.set(false)
                                                >
                                                    "Cancel"
                                                </button>
                                            </ActionForm>
                                            {move || save_error().map(|message| view! { <p role="alert" class="form-error">{message}</p> })}
                                        </Show>
                                        <ActionForm action=auth.logout>
                                            <button type="submit" class="menu-item">
                                                "Sign out"
                                            </button>
                                        </ActionForm>
                                    </div>
                                </div>
                            </div>
                        }
                    })
            }}
        </Transition>
    }
}

/// "Account": the user's signed-in sessions (with "Revoke" and "Sign out
/// everywhere else") and the password change form.
#[component]
fn AccountButton() -> impl IntoView {
    let open = RwSignal::new(false);
    view! {
        <div class="account">
            <button
                type="button"
                class="menu-item"
                aria-expanded=move || open.get().to_string()
                on:click=move |_| open.update(|open| *open = !*open)
            >
                "Account"
            </button>
            <Show when=move || open.get()>
                <AccountPanel />
            </Show>
        </div>
    }
}

#[component]
fn AccountPanel() -> impl IntoView {
    let version = RwSignal::new(0u32);
    // Created on click, in the browser only: no hydration order to keep.
    let list = LocalResource::new(move || {
        version.track();
        sessions()
    });
    let message = RwSignal::new(None::<Result<String, String>>);
    let report = move |outcome: Result<String, AppError>| {
        message.set(Some(outcome.map_err(|err| err.to_string())));
        version.update(|v| *v += 1);
    };
    let revoke = move |handle: String| {
        leptos::task::spawn_local(async move {
            report(
                revoke_session(handle)
                    .await
                    .map(|()| "Signed out.".to_owned()),
            );
        });
    };
    let everywhere = move |_| {
        leptos::task::spawn_local(async move {
            report(
                sign_out_everywhere()
                    .await
                    .map(|n| format!("Signed out {n} other session(s).")),
            );
        });
    };
    let (current_password, new_password) =
        (RwSignal::new(String::new()), RwSignal::new(String::new()));
    let change = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let (current, new) = (
            current_password.get_untracked(),
            new_password.get_untracked(),
        );
        leptos::task::spawn_local(async move {
            let outcome = change_password(current, new).await;
            if outcome.is_ok() {
                current_password.set(String::new());
                new_password.set(String::new());
            }
            report(
                outcome.map(|()| "Password changed; other sessions were signed out.".to_owned()),
            );
        });
    };
    view! {
        <section class="account-panel" aria-label="Account">
            <h2>"Sessions"</h2>
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || {
                    list.get()
                        .map(|result| match result {
                            Ok(items) => {
                                view! {
                                    <ul class="session-list" aria-label="Sessions">
                                        {items
                                            .into_iter()
                                            .map(|item| {
                                                let handle = item.handle.clone();
                                                view! {
                                                    <li>
                                                        <span class="session-agent">{item.user_agent.clone()}</span>
                                                        <span class="muted small">
                                                            {format!(" · {} · ", item.address)}
                                                            {crate::text::time::clock(item.signed_in_at * 1000)}
                                                        </span>
                                                        {if item.current {
                                                            view! { <span class="tag">"this browser"</span> }.into_any()
                                                        } else {
                                                            view! {
                                                                <button
                                                                    type="button"
                                                                    class="button-secondary"
                                                                    on:click=move |_| revoke(handle.clone())
                                                                >
                                                                    "Revoke"
                                                                </button>
                                                            }
                                                                .into_any()
                                                        }}
                                                    </li>
                                                }
                                            })
                                            .collect_view()}
                                    </ul>
                                }
                                    .into_any()
                            }
                            Err(err) => view! { <p role="alert" class="form-error">{err.to_string()}</p> }.into_any(),
                        })
                }}
            </Suspense>
            <button type="button" class="button-secondary" on:click=everywhere>
                "Sign out everywhere else"
            </button>
            <h2>"Change password"</h2>
            <form class="password-form" on:submit=change>
                <label>
                    "Current password"
                    <input
                        type="password"
                        autocomplete="current-password"
                        required
                        prop:value=move || current_password.get()
                        on:input=move |event| current_password.set(event_target_value(&event))
                    />
                </label>
                <label>
                    "New password"
                    <input
                        type="password"
                        autocomplete="new-password"
                        required
                        minlength="8"
                        prop:value=move || new_password.get()
                        on:input=move |event| new_password.set(event_target_value(&event))
                    />
                </label>
                <button type="submit" class="button-primary">
                    "Change password"
                </button>
            </form>
            {move || {
                message
                    .get()
                    .map(|outcome| match outcome {
                        Ok(text) => view! { <p class="muted" aria-live="polite">{text}</p> }.into_any(),
                        Err(text) => view! { <p role="alert" class="form-error">{text}</p> }.into_any(),
                    })
            }}
        </section>
    }
}
