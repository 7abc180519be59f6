//! The browser's end of `GET /api/events`: an `EventSource`, which
//! reconnects by itself, reporting to callbacks. The events themselves are
//! `crate::events::ClientEvent`.
//!
//! Only ever created in an effect, so only in the browser.

use wasm_bindgen::prelude::Closure;
use wasm_bindgen::JsCast;
use web_sys::{EventSource, MessageEvent};

use crate::events::ClientEvent;
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

impl Live {
    /// Whether the browser gave up on the stream: `EventSource` reconnects
    /// by itself after a dropped connection, but not after an answer that
    /// is not a stream (a 429 when too many are open, a 401, a 5xx).
    pub fn is_closed(&self) -> bool {
        self.source.ready_state() == EventSource::CLOSED
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        self.source.close();
    }
}

/// Opens the stream. `on_event` gets every event, in order.
pub fn connect(on_event: impl Fn(LiveEvent) + 'static) -> Option<Live> {
    let source = EventSource::new("/api/events").ok()?;
    let on_event = std::rc::Rc::new(on_event);
    let mut handlers = Vec::new();
    let mut listen = |name: &'static str| {
        let on_event = on_event.clone();
        let closure = Closure::wrap(Box::new(move |event: web_sys::Event| {
            if let Some(event) = translate(name, &event) {
                on_event(event);
            }
        }) as Box<dyn FnMut(web_sys::Event)>);
        let _ = source.add_event_listener_with_callback(name, closure.as_ref().unchecked_ref());
        handlers.push(closure);
    };
    listen("open");
    listen("error");
    for name in ClientEvent::NAMES {
        listen(name);
    }
    Some(Live {
        source,
        _handlers: handlers,
    })
}

/// What the page is told of one raw stream event, if anything (events it
/// cannot parse are dropped).
fn translate(name: &str, event: &web_sys::Event) -> Option<LiveEvent> {
    match name {
        "open" => return Some(LiveEvent::Opened),
        "error" => return Some(LiveEvent::Lost),
        _ => {}
    }
    let data = event.dyn_ref::<MessageEvent>()?.data().as_string()?;
    Some(match ClientEvent::parse(name, &data)? {
        ClientEvent::Message(message) => LiveEvent::Message(message),
        ClientEvent::Presence(change) => LiveEvent::Presence(change),
        ClientEvent::Typing(typing) => LiveEvent::Typing(typing),
        ClientEvent::Notification(notification) => LiveEvent::Notification(notification),
        ClientEvent::NotificationsRead => LiveEvent::NotificationsRead,
        ClientEvent::RoomRead(read) => LiveEvent::RoomRead(read.room_id),
        ClientEvent::Resync(room) => LiveEvent::Resync(room.room_id),
    })
}
