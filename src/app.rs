//! The root component, the HTML shell and the routes.

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::components::{ParentRoute, Route, Router, Routes, A};
use leptos_router::{path, SsrMode};

use crate::auth::components::{Auth, SignInPage, SignUpPage, UserMenu};
use crate::notifications::components::{NotificationFeed, NotificationsButton};
use crate::search::components::SearchBox;
use crate::ui::chat::HomePage;

/// The document around the app, rendered on the server only.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1, interactive-widget=resizes-content" />
                <meta name="color-scheme" content="light dark" />
                <link rel="icon" href="/favicon.svg" type="image/svg+xml" />
                <AutoReload options=options.clone() />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    // Effects run only in the browser, after hydration: the marker tells
    // browser tests (and curious people) that the page is interactive.
    Effect::new(|| {
        if let Some(body) = document().body() {
            let _ = body.set_attribute("data-hydrated", "true");
        }
    });
    view! {
        <Stylesheet id="leptos" href="/pkg/redchat.css" />
        <Title text="Redchat" />
        <Router>
            <Frame />
        </Router>
    }
}

/// Everything inside the router: the header and the routed page.
#[component]
fn Frame() -> impl IntoView {
    Auth::provide();
    NotificationFeed::provide();
    // Async SSR: the pages read the session before the first byte is sent,
    // so a signed-out visitor gets a real 302 instead of a client redirect.
    view! {
        <header class="site-header">
            <A href="/" attr:class="brand">
                "Redchat"
            </A>
            <UserMenu>
                <SearchBox />
                <NotificationsButton />
            </UserMenu>
        </header>
        <main class="site-main">
            <Routes fallback=|| view! { <p class="not-found">"Page not found."</p> }>
                // One parent for the home and a room: moving between rooms
                // (or back to the list on a phone) keeps the chat, its room
                // list and its event stream; only the open room changes.
                <ParentRoute path=path!("") view=HomePage ssr=SsrMode::Async>
                    // Async on the children too: the matched leaf's mode is
                    // the page's (the whole page, its CSP nonce header and a
                    // signed-out visitor's 302 before the first byte).
                    <Route path=path!("") view=|| () ssr=SsrMode::Async />
                    <Route path=path!("rooms/:id") view=|| () ssr=SsrMode::Async />
                </ParentRoute>
                <Route path=path!("/login") view=SignInPage ssr=SsrMode::Async />
                <Route path=path!("/signup") view=SignUpPage ssr=SsrMode::Async />
            </Routes>
        </main>
    }
}
