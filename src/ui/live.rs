//! The browser's end of `GET /api/events`, one stream per browser.
//!
//! All tabs of a browser share one stream: the tab that holds the Web Lock
//! `redchat-events:<user id>` (the *leader*) opens the `EventSource` and
//! posts every event it receives, as `[name, data]`, on the
//! `BroadcastChannel` of the same name; the other tabs (*followers*)
//! receive them there. When the leader closes (its lock is released by the
//! browser) or freezes (the page lets its stream go first, see
//! `ui::chat`), the next tab waiting for the lock becomes the leader and
//! opens a stream; every tab hears its `open` and catches up by message id
//! (`LiveEvent::Opened`), so nothing is missed or shown twice. A tab that
//! starts as a follower asks (`["hello", its id]`) whether the stream is
//! open; the leader answers `["open", that id]`, which only that tab takes
//! as its `Opened` (the stream's own `open` has no id: every tab). Without
//! Web Locks or `BroadcastChannel`, each tab opens its own stream.
//!
//! The events themselves are `crate::events::ClientEvent`. Only ever created
//! in an effect, so only in the browser.

use std::cell::RefCell;
use std::rc::Rc;

use wasm_bindgen::prelude::Closure;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{BroadcastChannel, EventSource, MessageEvent};

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
    /// A room's name, topic or settings changed (or it is a new direct
    /// room).
    RoomUpdated(crate::rooms::Room),
    /// A room of the user's was deleted.
    RoomDeleted(String),
    /// The user was removed from a room.
    Removed(String),
    /// A message was edited or deleted.
    MessageUpdated(Message),
    /// Someone reacted to a message, or took a reaction back.
    Reaction(crate::messages::model::ReactionEvent),
}

type OnEvent = Rc<dyn Fn(LiveEvent)>;

/// This tab's share of the browser's event stream; dropping it closes the
/// stream (if this tab leads) and gives up the lock.
pub struct Live {
    state: Rc<RefCell<Tab>>,
}

/// What one tab holds.
#[derive(Default)]
struct Tab {
    /// Set once the `Live` is dropped: a lock granted later is given back.
    dropped: bool,
    /// The stream, while this tab leads (or when tabs cannot share).
    source: Option<Source>,
    channel: Option<BroadcastChannel>,
    /// Resolving it releases the Web Lock (this tab stops leading).
    release: Option<js_sys::Function>,
    /// The channel's `onmessage` handler, kept alive while the tab is.
    _follower: Option<Closure<dyn FnMut(JsValue) -> JsValue>>,
}

/// An open `EventSource` and its listeners.
struct Source {
    source: EventSource,
    _handlers: Vec<Closure<dyn FnMut(web_sys::Event)>>,
}

impl Drop for Source {
    fn drop(&mut self) {
        self.source.close();
    }
}

impl Live {
    /// Whether the browser gave up on this tab's stream: `EventSource`
    /// reconnects by itself after a dropped connection, but not after an
    /// answer that is not a stream (a 429 when too many are open, a 401, a
    /// 5xx). A follower's stream is its leader's business: never closed.
    pub fn is_closed(&self) -> bool {
        self.state
            .borrow()
            .source
            .as_ref()
            .is_some_and(|source| source.source.ready_state() == EventSource::CLOSED)
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        let mut tab = self.state.borrow_mut();
        tab.dropped = true;
        tab.source = None;
        if let Some(channel) = tab.channel.take() {
            channel.set_onmessage(None);
            channel.close();
        }
        if let Some(release) = tab.release.take() {
            let _ = release.call0(&JsValue::NULL);
        }
    }
}

/// Joins the browser's event stream for this user. `on_event` gets every
/// event, in order.
pub fn connect(user_id: &str, on_event: impl Fn(LiveEvent) + 'static) -> Option<Live> {
    let on_event: OnEvent = Rc::new(on_event);
    let state = Rc::new(RefCell::new(Tab::default()));
    let name = format!("redchat-events:{user_id}");
    let locks = web_sys::window()
        .and_then(|window| js_sys::Reflect::get(&window.navigator(), &"locks".into()).ok())
        .filter(|locks| !locks.is_undefined() && !locks.is_null());
    let channel = BroadcastChannel::new(&name).ok();
    let (Some(locks), Some(channel)) = (locks, channel) else {
        // No sharing: a stream of this tab's own.
        state.borrow_mut().source = Some(open_source(on_event, None)?);
        mark("own");
        return Some(Live { state });
    };
    mark("follower");

    // This tab, for the answer to its `hello` (only it catches up then).
    let me = uuid::Uuid::new_v4().simple().to_string();
    // Follower side: events from the leader.
    let follower = {
        let on_event = on_event.clone();
        let state = Rc::downgrade(&state);
        let me = me.clone();
        Closure::wrap(Box::new(move |event: JsValue| {
            let Some(state) = state.upgrade() else {
                return JsValue::UNDEFINED;
            };
            let Some((name, data)) = event
                .dyn_ref::<MessageEvent>()
                .and_then(|event| unpack(&event.data()))
            else {
                return JsValue::UNDEFINED;
            };
            let tab = state.borrow();
            match (&tab.source, name.as_str()) {
                // A new tab asks whether the stream is open: the answer
                // names it, so the other tabs do not catch up again.
                (Some(source), "hello") => {
                    if source.source.ready_state() == EventSource::OPEN {
                        if let Some(channel) = &tab.channel {
                            let _ = channel.post_message(&pack("open", &data));
                        }
                    }
                }
                (Some(_), _) | (None, "hello") => {}
                (None, "open") if !data.is_empty() && data != me => {}
                (None, _) => {
                    drop(tab);
                    if let Some(event) = translate(&name, &data) {
                        on_event(event);
                    }
                }
            }
            JsValue::UNDEFINED
        }) as Box<dyn FnMut(JsValue) -> JsValue>)
    };
    channel.set_onmessage(Some(follower.as_ref().unchecked_ref()));
    let _ = channel.post_message(&pack("hello", &me));

    // Leader side: granted the lock, open the stream and hold the lock
    // until this tab lets go (a promise that resolves on release).
    // Handed to the browser for good (`once_into_js`): the request may be
    // granted long after this tab let go of its `Live` (a follower that
    // reconnected leaves its old request queued), and a closure freed by
    // then would throw. The dead `Weak` then gives the lock straight back.
    let granted = {
        let state = Rc::downgrade(&state);
        let on_event = on_event.clone();
        Closure::once_into_js(move |_lock: JsValue| -> JsValue {
            let Some(state) = state.upgrade() else {
                return js_sys::Promise::resolve(&JsValue::NULL).into();
            };
            if state.borrow().dropped {
                return js_sys::Promise::resolve(&JsValue::NULL).into();
            }
            let channel = state.borrow().channel.clone();
            let source = open_source(on_event.clone(), channel);
            let mut release = None;
            let held = js_sys::Promise::new(&mut |resolve, _reject| release = Some(resolve));
            let mut tab = state.borrow_mut();
            tab.source = source;
            tab.release = release;
            mark("leader");
            held.into()
        })
    };
    let requested = js_sys::Reflect::get(&locks, &"request".into())
        .ok()
        .and_then(|request| request.dyn_into::<js_sys::Function>().ok())
        .map(|request| request.call2(&locks, &name.as_str().into(), &granted));
    {
        let mut tab = state.borrow_mut();
        tab.channel = Some(channel);
        tab._follower = Some(follower);
    }
    if !matches!(requested, Some(Ok(_))) {
        // The lock could not be asked for: a stream of this tab's own.
        let mut tab = state.borrow_mut();
        if let Some(channel) = tab.channel.take() {
            channel.set_onmessage(None);
            channel.close();
        }
        drop(tab);
        state.borrow_mut().source = Some(open_source(on_event, None)?);
        mark("own");
    }
    Some(Live { state })
}

/// Says on the page's `<body data-stream="…">` what this tab's part in the
/// stream is: `leader`, `follower` or `own` (for tests and the curious).
fn mark(role: &str) {
    if let Some(body) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.body())
    {
        let _ = body.set_attribute("data-stream", role);
    }
}

/// Opens the stream; every event goes to `on_event` and, when this tab
/// leads others, to the `channel` too.
fn open_source(on_event: OnEvent, channel: Option<BroadcastChannel>) -> Option<Source> {
    let source = EventSource::new("/api/events").ok()?;
    let mut handlers = Vec::new();
    let mut listen = |name: &'static str| {
        let on_event = on_event.clone();
        let channel = channel.clone();
        let closure = Closure::wrap(Box::new(move |event: web_sys::Event| {
            let data = event
                .dyn_ref::<MessageEvent>()
                .and_then(|event| event.data().as_string())
                .unwrap_or_default();
            if let Some(channel) = &channel {
                let _ = channel.post_message(&pack(name, &data));
            }
            if let Some(event) = translate(name, &data) {
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
    Some(Source {
        source,
        _handlers: handlers,
    })
}

/// An event as posted on the channel: `[name, data]`.
fn pack(name: &str, data: &str) -> JsValue {
    js_sys::Array::of2(&name.into(), &data.into()).into()
}

fn unpack(value: &JsValue) -> Option<(String, String)> {
    let array = value.dyn_ref::<js_sys::Array>()?;
    Some((array.get(0).as_string()?, array.get(1).as_string()?))
}

/// What the page is told of one raw stream event, if anything (events it
/// cannot parse are dropped).
fn translate(name: &str, data: &str) -> Option<LiveEvent> {
    match name {
        "open" => return Some(LiveEvent::Opened),
        "error" => return Some(LiveEvent::Lost),
        _ => {}
    }
    Some(match ClientEvent::parse(name, data)? {
        ClientEvent::Message(message) => LiveEvent::Message(message),
        ClientEvent::Presence(change) => LiveEvent::Presence(change),
        ClientEvent::Typing(typing) => LiveEvent::Typing(typing),
        ClientEvent::Notification(notification) => LiveEvent::Notification(notification),
        ClientEvent::NotificationsRead => LiveEvent::NotificationsRead,
        ClientEvent::RoomRead(read) => LiveEvent::RoomRead(read.room_id),
        ClientEvent::Resync(room) => LiveEvent::Resync(room.room_id),
        ClientEvent::RoomUpdated(room) => LiveEvent::RoomUpdated(room),
        ClientEvent::RoomDeleted(room) => LiveEvent::RoomDeleted(room.room_id),
        ClientEvent::Removed(room) => LiveEvent::Removed(room.room_id),
        ClientEvent::MessageUpdated(message) => LiveEvent::MessageUpdated(message),
        ClientEvent::Reaction(reaction) => LiveEvent::Reaction(reaction),
    })
}
