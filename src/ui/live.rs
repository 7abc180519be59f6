//! The browser's end of `GET /api/events`: an `EventSource`, which
//! reconnects by itself, reporting to callbacks.
//!
//! Only ever created in an effect, so only in the browser.

use wasm_bindgen::prelude::Closure;
use wasm_bindgen::JsCast;
use web_sys::{EventSource, MessageEvent};

use crate::messages::Message;

/// What the stream tells the page.
pub enum LiveEvent {
    /// The stream is (again) open: catch up on everything.
    Opened,
    /// The stream broke; the browser is reconnecting.
    Lost,
    Message(Message),
    /// Events of this room may have been missed: catch up on it.
    Resync(String),
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

/// Opens the stream. `on_event` gets every event, in order.
pub fn connect(on_event: impl Fn(LiveEvent) + 'static) -> Option<Live> {
    let source = EventSource::new("/api/events").ok()?;
    let on_event = std::rc::Rc::new(on_event);
    let mut handlers = Vec::new();
    let mut listen = |name: &str, handler: Box<dyn FnMut(web_sys::Event)>| {
        let closure = Closure::wrap(handler);
        let _ = source.add_event_listener_with_callback(name, closure.as_ref().unchecked_ref());
        handlers.push(closure);
    };
    let data = |event: &web_sys::Event| {
        event
            .dyn_ref::<MessageEvent>()
            .and_then(|message| message.data().as_string())
    };
    {
        let on_event = on_event.clone();
        listen("open", Box::new(move |_| on_event(LiveEvent::Opened)));
    }
    {
        let on_event = on_event.clone();
        listen("error", Box::new(move |_| on_event(LiveEvent::Lost)));
    }
    {
        let on_event = on_event.clone();
        listen(
            "message",
            Box::new(move |event| {
                if let Some(message) =
                    data(&event).and_then(|json| serde_json::from_str(&json).ok())
                {
                    on_event(LiveEvent::Message(message));
                }
            }),
        );
    }
    {
        let on_event = on_event.clone();
        listen(
            "resync",
            Box::new(move |event| {
                #[derive(serde::Deserialize)]
                struct Resync {
                    room_id: String,
                }
                if let Some(resync) =
                    data(&event).and_then(|json| serde_json::from_str::<Resync>(&json).ok())
                {
                    on_event(LiveEvent::Resync(resync.room_id));
                }
            }),
        );
    }
    Some(Live {
        source,
        _handlers: handlers,
    })
}
