//! Baseline (b): a bare in-process fan-out server with the same endpoints
//! the load generator uses (`register`, `create_room`, `join_room`,
//! `send_message`, `GET /api/events`), but no Redis, no authentication
//! beyond a cookie naming the person, and no storage: one tokio
//! `broadcast` per room. It is the ceiling for what one Redchat process
//! could deliver with the same clients.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::extract::{Form, State};
use axum::http::{header, HeaderMap};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures::StreamExt;
use tokio::sync::broadcast;

#[derive(Default)]
struct Rooms {
    channels: HashMap<String, (broadcast::Sender<Arc<str>>, u64)>,
    members: HashMap<String, Vec<String>>,
    next_room: u64,
}

type Shared = Arc<Mutex<Rooms>>;

fn person(headers: &HeaderMap) -> String {
    headers
        .get(header::COOKIE)
        .and_then(|value| value.to_str().ok())
        .and_then(|cookies| {
            cookies
                .split(';')
                .find_map(|c| c.trim().strip_prefix("who="))
        })
        .unwrap_or("nobody")
        .to_owned()
}

async fn register(Form(form): Form<HashMap<String, String>>) -> Response {
    let who = form.get("handle").cloned().unwrap_or_default();
    (
        [(header::SET_COOKIE, format!("who={who}; Path=/"))],
        Json(serde_json::json!({ "handle": who })),
    )
        .into_response()
}

async fn create_room(State(rooms): State<Shared>) -> Json<serde_json::Value> {
    let mut rooms = rooms.lock().unwrap();
    rooms.next_room += 1;
    let id = format!("room{}", rooms.next_room);
    rooms
        .channels
        .insert(id.clone(), (broadcast::channel(4096).0, 0));
    Json(serde_json::json!({ "id": id }))
}

async fn join_room(
    State(rooms): State<Shared>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Json<serde_json::Value> {
    let room = form.get("room_id").cloned().unwrap_or_default();
    rooms
        .lock()
        .unwrap()
        .members
        .entry(person(&headers))
        .or_default()
        .push(room.clone());
    Json(serde_json::json!({ "id": room }))
}

async fn send_message(
    State(rooms): State<Shared>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let room = form.get("room_id").cloned().unwrap_or_default();
    let cmid = form.get("client_msg_id").cloned().unwrap_or_default();
    let mut rooms = rooms.lock().unwrap();
    let Some((sender, seq)) = rooms.channels.get_mut(&room) else {
        return axum::http::StatusCode::NOT_FOUND.into_response();
    };
    *seq += 1;
    let message =
        serde_json::json!({ "id": format!("{seq}-0"), "room_id": room, "client_msg_id": cmid });
    // Serialized once, shared by every listener (as Redchat's hub does).
    let _ = sender.send(Arc::from(message.to_string()));
    Json(message).into_response()
}

async fn events(State(rooms): State<Shared>, headers: HeaderMap) -> Response {
    let receivers: Vec<_> = {
        let rooms = rooms.lock().unwrap();
        rooms
            .members
            .get(&person(&headers))
            .into_iter()
            .flatten()
            .filter_map(|room| {
                rooms
                    .channels
                    .get(room)
                    .map(|(sender, _)| sender.subscribe())
            })
            .collect()
    };
    let streams = receivers.into_iter().map(|receiver| {
        tokio_stream::wrappers::BroadcastStream::new(receiver).filter_map(|item| async move {
            let json = item.ok()?;
            Some(Ok::<_, Infallible>(
                Event::default().event("message").data(&*json),
            ))
        })
    });
    Sse::new(futures::stream::select_all(streams.map(Box::pin)))
        .keep_alive(KeepAlive::default())
        .into_response()
}

/// Serves the baseline on a free loopback port; its base URL.
pub async fn serve() -> String {
    let app = Router::new()
        .route("/api/register", post(register))
        .route("/api/create_room", post(create_room))
        .route("/api/join_room", post(join_room))
        .route("/api/send_message", post(send_message))
        .route("/api/events", get(events))
        .with_state(Shared::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port");
    let addr: SocketAddr = listener.local_addr().expect("an address");
    tokio::spawn(async move {
        axum::serve(listener, app)
            .await
            .expect("the baseline server runs");
    });
    format!("http://{addr}")
}
