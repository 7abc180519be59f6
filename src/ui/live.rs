//! The browser's end of `GET /api/events`: an `EventSource`, which
//! reconnects by itself, reporting to callbacks.
//!
//! Only ever created in an effect, so only in the browser.

use serde::de::DeserializeOwned;
use wasm_bindgen::prelude::Closure;
use wasm_bindgen::JsCast;
use web_sys::{EventSource, MessageEvent};

use crate::messages::Message;
use crate::notifications::model::Notification;
use crate::presence::model::{PresenceChange, Typing};

/// What the stream tells the page.
pub enum LiveEvent {
    /// The stream is (again) open: catch up on everything.
    Opened,
    /// The stream broke; the browser is reconnecting.
    Lost,
    Message(Message),
    /// Events of this room may have been missed: catch up on it.
    Resync(String),
    Presence(PresenceChange),
    Typing(Typing),
    Notification(Notification),
    /// Notifications were read (or answered) in another tab.
    NotificationsRead,
    /// A room was read in another tab: its unread count changed.
    RoomRead(String),
}

/// An open event stream; dropping it closes the connection.
pub struct Live {
    source: EventSource,
    _handlers: Vec<Closure<dyn FnMut(web_sys::Event)>>,
}

impl Drop for Live {
    fn drop(&mut self) {
        self.source.close();
    }
}

/// Turns a raw stream event into what the page is told, if anything.
type Translate = Box<dyn Fn(&web_sys::Event) -> Option<LiveEvent>>;

#[derive(serde::Deserialize)]
struct RoomOnly {
    room_id: String,
}

/// Opens the stream. `on_event` gets every event, in order.
pub fn connect(on_event: impl Fn(LiveEvent) + 'static) -> Option<Live> {
    let source = EventSource::new("/api/events").ok()?;
    let on_event = std::rc::Rc::new(on_event);
    let mut handlers = Vec::new();
    let mut listen = |name: &str, to_event: Translate| {
        let on_event = on_event.clone();
        let closure = Closure::wrap(Box::new(move |event: web_sys::Event| {
            if let Some(event) = to_event(&event) {
                on_event(event);
            }
        }) as Box<dyn FnMut(web_sys::Event)>);
        let _ = source.add_event_listener_with_callback(name, closure.as_ref().unchecked_ref());
        handlers.push(closure);
    };
    listen("open", Box::new(|_| Some(LiveEvent::Opened)));
    listen("error", Box::new(|_| Some(LiveEvent::Lost)));
    listen("message", json(LiveEvent::Message));
    listen(
        "resync",
        json(|room: RoomOnly| LiveEvent::Resync(room.room_id)),
    );
    listen("presence", json(LiveEvent::Presence));
    listen("typing", json(LiveEvent::Typing));
    listen("notification", json(LiveEvent::Notification));
    listen(
        "notifications_read",
        Box::new(|_| Some(LiveEvent::NotificationsRead)),
    );
    listen(
        "room_read",
        json(|room: RoomOnly| LiveEvent::RoomRead(room.room_id)),
    );
    Some(Live {
        source,
        _handlers: handlers,
    })
}

/// A handler that parses the event's JSON data as `T` (and drops events
/// it cannot parse).
fn json<T: DeserializeOwned>(to_event: impl Fn(T) -> LiveEvent + 'static) -> Translate {
    Box::new(move |event| {
        let data = event.dyn_ref::<MessageEvent>()?.data().as_string()?;
        serde_json::from_str(&data).ok().map(&to_event)
    })
}
