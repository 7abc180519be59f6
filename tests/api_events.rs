//! Live delivery: the event stream, the hub and Pub/Sub, against a real Redis.

#![cfg(feature = "ssr")]

mod support;

use std::time::Duration;

use serde_json::Value;
use support::{ok_json, person, public_room, EventReader, RedisServer, TestApp};

async fn send(app: &TestApp, client: &reqwest::Client, room: &str, body: &str) -> Value {
    support::send_text(app, client, room, body).await
}

async fn pubsub_clients(redis: &RedisServer) -> usize {
    let list: String = redis::cmd("CLIENT")
        .arg("LIST")
        .arg("TYPE")
        .arg("pubsub")
        .query_async(&mut redis.connection().await)
        .await
        .unwrap();
    list.lines().count()
}

#[tokio::test]
async fn the_event_stream_needs_a_signed_in_user() {
    let redis = RedisServer::start().await;
    let app = TestApp::spawn(&redis).await;
    let response = TestApp::client()
        .get(app.url("/api/events"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
}

#[tokio::test]
async fn messages_reach_another_members_stream_in_order_with_their_ids() {
    let redis = RedisServer::start().await;
    let app = TestApp::spawn(&redis).await;
    let ann = person(&app, "ann").await;
    let bob = person(&app, "bob").await;
    let room = public_room(&app, &ann, &[&bob]).await;
    let mut events = EventReader::open(&app, &bob).await;

    let mut sent = Vec::new();
    for i in 0..3 {
        sent.push(send(&app, &ann, &room, &format!("<i>m{i}</i>")).await);
    }
    for message in &sent {
        let event = events.next_named("message").await;
        assert_eq!(
            event.id.as_deref(),
            message["id"].as_str(),
            "the SSE id is the message id"
        );
        assert_eq!(
            &event.json(),
            message,
            "the event is the Message the sender got back"
        );
    }
}

#[tokio::test]
async fn leaving_a_room_stops_its_events_at_once() {
    let redis = RedisServer::start().await;
    let app = TestApp::spawn(&redis).await;
    let ann = person(&app, "ann").await;
    let bob = person(&app, "bob").await;
    let general = public_room(&app, &ann, &[&bob]).await;
    let other = public_room(&app, &ann, &[&bob]).await;
    let mut events = EventReader::open(&app, &bob).await;

    ok_json(app.call(&bob, "leave_room", &[("room_id", &general)]).await).await;
    // The control event is processed before anything published after it.
    send(&app, &ann, &general, "after bob left").await;
    let still_there = send(&app, &ann, &other, "in the other room").await;

    let event = events.next_named("message").await;
    assert_eq!(
        event.json(),
        still_there,
        "only the other room's message arrives"
    );
}

#[tokio::test]
async fn joining_a_room_adds_it_to_open_streams() {
    let redis = RedisServer::start().await;
    let app = TestApp::spawn(&redis).await;
    let ann = person(&app, "ann").await;
    let bob = person(&app, "bob").await;
    let room = public_room(&app, &ann, &[]).await;
    let mut events = EventReader::open(&app, &bob).await;

    ok_json(app.call(&bob, "join_room", &[("room_id", &room)]).await).await;
    let resync = events.next_named("resync").await;
    assert_eq!(
        resync.json()["room_id"],
        room.as_str(),
        "the client is told to load the room"
    );
    let message = send(&app, &ann, &room, "welcome").await;
    assert_eq!(events.next_named("message").await.json(), message);
}

#[tokio::test]
async fn a_stream_never_carries_a_room_the_user_is_not_in() {
    let redis = RedisServer::start().await;
    let app = TestApp::spawn(&redis).await;
    let ann = person(&app, "ann").await;
    let eve = person(&app, "eve").await;
    let room = public_room(&app, &ann, &[]).await;
    let mut events = EventReader::open(&app, &eve).await;
    send(&app, &ann, &room, "not for eve").await;
    assert_eq!(events.next_within(Duration::from_millis(500)).await, None);
}

#[tokio::test]
async fn a_message_sent_through_one_server_reaches_a_stream_on_another() {
    let redis = RedisServer::start().await;
    let first = TestApp::spawn(&redis).await;
    let mut settings = support::test_settings(&redis);
    settings.redis.key_prefix = first.settings.redis.key_prefix.clone();
    let second = TestApp::spawn_with(settings).await;
    let ann = person(&first, "ann").await;
    let bob = person(&first, "bob").await;
    let room = public_room(&first, &ann, &[&bob]).await;

    // The session cookie works on either server: sessions live in Redis.
    let mut events = EventReader::open(&second, &bob).await;
    let message = send(&first, &ann, &room, "across servers").await;
    assert_eq!(events.next_named("message").await.json(), message);
}

#[tokio::test]
async fn a_process_holds_one_pubsub_connection_whatever_the_number_of_streams() {
    if support::needs_own_redis("counts the server's Pub/Sub clients") {
        return;
    }
    let redis = RedisServer::start().await;
    let app = TestApp::spawn(&redis).await;
    let ann = person(&app, "ann").await;
    let room = public_room(&app, &ann, &[]).await;
    let mut streams = Vec::new();
    for i in 0..5 {
        let user = person(&app, &format!("user{i}")).await;
        ok_json(app.call(&user, "join_room", &[("room_id", &room)]).await).await;
        streams.push(EventReader::open(&app, &user).await);
        streams.push(EventReader::open(&app, &user).await);
    }
    assert_eq!(pubsub_clients(&redis).await, 1);

    let message = send(&app, &ann, &room, "to all ten tabs").await;
    for stream in &mut streams {
        assert_eq!(stream.next_named("message").await.json(), message);
    }
}

#[tokio::test]
async fn after_the_pubsub_connection_drops_streams_resync_and_nothing_is_missed() {
    if support::needs_own_redis("kills every Pub/Sub client of the server") {
        return;
    }
    let redis = RedisServer::start().await;
    let app = TestApp::spawn(&redis).await;
    let ann = person(&app, "ann").await;
    let bob = person(&app, "bob").await;
    let room = public_room(&app, &ann, &[&bob]).await;
    let mut events = EventReader::open(&app, &bob).await;
    let before = send(&app, &ann, &room, "before the drop").await;
    assert_eq!(events.next_named("message").await.json(), before);

    let _: () = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("TYPE")
        .arg("pubsub")
        .query_async(&mut redis.connection().await)
        .await
        .unwrap();
    // Sent while the hub is reconnecting: Pub/Sub loses it, the stream keeps it.
    let during = send(&app, &ann, &room, "during the drop").await;

    // Control events may have been lost too, so the server ends the stream
    // (after any `resync`); the browser's EventSource reconnects at once.
    loop {
        match events.next_within(Duration::from_secs(5)).await {
            None => break,
            Some(event) if event.event == "resync" => {}
            Some(event) => assert_eq!(event.json(), during, "only a live copy of it may come"),
        }
    }
    // EventSource waits about three seconds before reconnecting; the hub is
    // back well within one (its first retry comes after 100 ms).
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let mut events = EventReader::open(&app, &bob).await;
    // What the client does whenever its stream opens: catch up from its last id.
    let caught_up = ok_json(
        app.call(
            &bob,
            "history",
            &[
                ("room_id", &room),
                ("after", before["id"].as_str().unwrap()),
            ],
        )
        .await,
    )
    .await;
    assert_eq!(caught_up.as_array().unwrap(), &vec![during]);

    let after = send(&app, &ann, &room, "after the drop").await;
    assert_eq!(events.next_named("message").await.json(), after);
    assert_eq!(
        pubsub_clients(&redis).await,
        1,
        "exactly one connection again"
    );
}

#[tokio::test]
async fn a_listener_that_falls_behind_is_told_so_and_others_get_everything() {
    use futures::StreamExt;
    use redchat::server::hub::{Hub, HubEvent};

    let redis = RedisServer::start().await;
    let hub = Hub::start_standalone(redis::Client::open(redis.admin_url()).unwrap());
    let mut slow = hub.subscribe_stream("room".into()).await;
    let mut fast = hub.subscribe_stream("room".into()).await;
    let mut conn = redis.connection().await;

    // More than a room's broadcast holds (256), while `slow` reads nothing.
    let total = 300;
    let reader = tokio::spawn(async move {
        let mut ids = Vec::new();
        while ids.len() < total {
            match fast.next().await {
                Some(Ok(HubEvent::Published(published))) => ids.push(published.id.clone().unwrap()),
                other => panic!("the fast listener got {other:?}"),
            }
        }
        ids
    });
    for i in 0..total {
        let _: i64 = redis::cmd("PUBLISH")
            .arg("room")
            .arg(format!(r#"{{"id":"{i}"}}"#))
            .query_async(&mut conn)
            .await
            .unwrap();
    }
    let ids = tokio::time::timeout(Duration::from_secs(10), reader)
        .await
        .unwrap()
        .unwrap();
    let expected: Vec<String> = (0..total).map(|i| i.to_string()).collect();
    assert_eq!(ids, expected, "the fast listener got every event, in order");

    // The slow one first learns that it lagged (its stream turns that into
    // a `resync`), then reads on from the oldest event still held.
    assert!(matches!(slow.next().await, Some(Err(_))), "lag is reported");
    assert!(matches!(
        slow.next().await,
        Some(Ok(HubEvent::Published(_)))
    ));
}

#[tokio::test]
async fn two_server_processes_on_one_redis_deliver_to_each_others_streams() {
    let redis = RedisServer::start().await;
    let prefix = format!("test{}:", uuid::Uuid::new_v4().simple());
    let first = support::ServerProcess::start(&redis, &prefix).await;
    let second = support::ServerProcess::start(&redis, &prefix).await;
    let call = |server: &support::ServerProcess,
                client: &reqwest::Client,
                endpoint: &str,
                form: &[(&str, &str)]| {
        client
            .post(server.url(&format!("/api/{endpoint}")))
            .form(form)
            .send()
    };
    let (ann, bob) = (TestApp::client(), TestApp::client());
    for (client, handle) in [(&ann, "ann"), (&bob, "bob")] {
        let email = format!("{handle}@example.com");
        let form = [
            ("email", email.as_str()),
            ("password", support::PASSWORD),
            ("display_name", handle),
            ("handle", handle),
        ];
        ok_json(call(&first, client, "register", &form).await.unwrap()).await;
    }
    let room = ok_json(
        call(
            &first,
            &ann,
            "create_room",
            &[("name", "general"), ("private", "false")],
        )
        .await
        .unwrap(),
    )
    .await;
    let room = room["id"].as_str().unwrap().to_owned();
    ok_json(
        call(&second, &bob, "join_room", &[("room_id", &room)])
            .await
            .unwrap(),
    )
    .await;

    // Bob listens on the second process, Ann on the first; Ann sends through the first.
    let mut events = EventReader::open_at(&second.url("/api/events"), &bob).await;
    let mut anns_events = EventReader::open_at(&first.url("/api/events"), &ann).await;
    let message = ok_json(
        call(
            &first,
            &ann,
            "send_message",
            &[
                ("room_id", &room),
                ("body", "hello"),
                ("client_msg_id", "c1"),
            ],
        )
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(events.next_named("message").await.json(), message);
    assert_eq!(anns_events.next_named("message").await.json(), message);
    // On a shared topology other tests' processes subscribe too (and on a
    // cluster a process holds one connection per node it listens on).
    if support::Shared::from_env().is_none() {
        assert_eq!(
            pubsub_clients(&redis).await,
            2,
            "one Pub/Sub connection per process"
        );
    }
}

#[tokio::test]
async fn an_http_client_that_stops_reading_gets_a_resync_and_slows_nobody_else() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let redis = RedisServer::start().await;
    let app = TestApp::spawn(&redis).await;
    let ann = person(&app, "ann").await;
    let carol = person(&app, "carol").await;
    // Bob's cookie, for a hand-made HTTP client with a tiny receive buffer.
    let response = app
        .register(&reqwest::Client::new(), "bob@example.com", "bob")
        .await;
    let cookie = response
        .headers()
        .get("set-cookie")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .expect("a session cookie")
        .to_owned();
    let bob = TestApp::client();
    ok_json(
        app.call(
            &bob,
            "login",
            &[
                ("email", "bob@example.com"),
                ("password", support::PASSWORD),
            ],
        )
        .await,
    )
    .await;
    let room = public_room(&app, &ann, &[&carol, &bob]).await;

    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stalled = socket.connect(app.addr).await.unwrap();
    let request = format!(
        "GET /api/events HTTP/1.1\r\nHost: {}\r\nCookie: {cookie}\r\nAccept: text/event-stream\r\n\r\n",
        app.addr
    );
    stalled.write_all(request.as_bytes()).await.unwrap();

    // Carol reads everything as it comes, in a task of her own.
    let mut carols_events = EventReader::open(&app, &carol).await;
    let total = 1500;
    let reader = tokio::spawn(async move {
        let mut ids = Vec::new();
        while ids.len() < total {
            let event = carols_events.next_named("message").await;
            ids.push(event.id.expect("message events carry their id"));
        }
        ids
    });
    // Far more than the socket buffers, the tab's queue (64) and the room's
    // broadcast (256) hold together, while Bob's client reads nothing.
    let body = "x".repeat(4000);
    let mut sent = Vec::new();
    for _ in 0..total {
        sent.push(
            send(&app, &ann, &room, &body).await["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let received = tokio::time::timeout(Duration::from_secs(30), reader)
        .await
        .expect("carol is not slowed down")
        .unwrap();
    assert_eq!(received, sent, "carol got every message, in order");

    // Bob's client reads again: somewhere in what it gets is a resync.
    let mut seen = Vec::new();
    let mut buffer = vec![0; 64 * 1024];
    let found = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            let n = stalled.read(&mut buffer).await.unwrap();
            assert!(n > 0, "the stream stays open");
            seen.extend_from_slice(&buffer[..n]);
            let text = String::from_utf8_lossy(&seen);
            if text.contains("event: resync") || text.contains("event:resync") {
                return text.contains(&room);
            }
            if seen.len() > 1 << 20 {
                // Keep the tail only: the resync names the room.
                seen.drain(..seen.len() - 64 * 1024);
            }
        }
    })
    .await
    .expect("a resync within 30 s");
    assert!(found, "the resync names the room");
}

#[tokio::test]
async fn a_stream_ends_when_its_session_expires_and_cannot_reopen() {
    let redis = RedisServer::start().await;
    let mut settings = support::test_settings(&redis);
    // Six seconds of life (the settings are in days).
    settings.session.inactivity_days = 6.0 / 86_400.0;
    settings.session.absolute_days = 6.0 / 86_400.0;
    let app = TestApp::spawn_with(settings).await;
    let ann = person(&app, "ann").await;
    let mut events = EventReader::open(&app, &ann).await;
    loop {
        match events.poll_within(Duration::from_secs(20)).await {
            support::Polled::Event(_) => continue,
            support::Polled::Closed => break,
            support::Polled::Quiet => panic!("the stream outlived its session"),
        }
    }
    let again = ann.get(app.url("/api/events")).send().await.unwrap();
    assert_eq!(again.status(), 401, "the expired session is signed out");
}

/// Opens `GET /api/events`: the stream, or the refusal's status and
/// `Retry-After`.
async fn try_stream(url: &str, client: &reqwest::Client) -> Result<EventReader, (u16, String)> {
    let response = client.get(url).send().await.unwrap();
    let status = response.status().as_u16();
    if status != 200 {
        let retry = response
            .headers()
            .get("retry-after")
            .map(|value| value.to_str().unwrap().to_owned())
            .unwrap_or_default();
        return Err((status, retry));
    }
    Ok(EventReader::from_response(response))
}

#[tokio::test]
async fn open_streams_are_capped_per_session_user_and_address_across_processes() {
    let redis = RedisServer::start().await;
    let mut settings = support::test_settings(&redis);
    settings.limits.streams_per_session = 2;
    settings.limits.streams_per_user = 3;
    settings.limits.streams_per_address = 4;
    let one = TestApp::spawn_with(settings.clone()).await;
    let two = TestApp::spawn_with(settings).await;
    let events = |app: &TestApp| app.url("/api/events");

    // Ann's first session: one stream on each process, then the third is
    // over the session's cap, wherever it is opened.
    let ann = person(&one, "ann").await;
    let first = EventReader::open_at(&events(&one), &ann).await;
    let _second = EventReader::open_at(&events(&two), &ann).await;
    let refused = try_stream(&events(&one), &ann)
        .await
        .err()
        .expect("a refusal");
    assert_eq!(refused.0, 429);
    assert!(
        refused.1.parse::<u64>().unwrap() > 0,
        "Retry-After: {refused:?}"
    );

    // A second session of Ann's: one more, then the user's cap.
    let ann_again = TestApp::client();
    ok_json(
        two.call(
            &ann_again,
            "login",
            &[
                ("email", "ann@example.com"),
                ("password", support::PASSWORD),
            ],
        )
        .await,
    )
    .await;
    let _third = EventReader::open_at(&events(&two), &ann_again).await;
    assert_eq!(
        try_stream(&events(&one), &ann_again).await.err().unwrap().0,
        429
    );

    // Bob, from the same address: one more, then the address's cap.
    let bob = person(&one, "bob").await;
    let _fourth = EventReader::open_at(&events(&one), &bob).await;
    assert_eq!(try_stream(&events(&two), &bob).await.err().unwrap().0, 429);

    // A stream that closes gives its place back at once.
    drop(first);
    let mut reopened = None;
    for _ in 0..50 {
        if let Ok(stream) = try_stream(&events(&one), &ann).await {
            reopened = Some(stream);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        reopened.is_some(),
        "the closed stream's place was given back"
    );
}

#[tokio::test]
async fn a_heartbeat_only_pushes_expiries_whatever_the_number_of_rooms() {
    use futures::StreamExt;
    if support::needs_own_redis("watches every command with MONITOR") {
        return;
    }
    let redis = RedisServer::start().await;
    let app = TestApp::spawn(&redis).await;
    let ann = person(&app, "ann").await;
    let bob = person(&app, "bob").await;
    let bob_id = app.me(&bob).await["id"].as_str().unwrap().to_owned();
    let mut rooms = Vec::new();
    for _ in 0..5 {
        rooms.push(public_room(&app, &ann, &[&bob]).await);
    }
    let _stream = EventReader::open(&app, &bob).await;
    let opened = tokio::time::Instant::now();
    // Opening put Bob in the five online sets; what follows is heartbeats.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let monitor = redis::Client::open(redis.admin_url())
        .unwrap()
        .get_async_monitor()
        .await
        .unwrap();
    let mut commands = monitor.into_on_message::<String>();
    // The first beat comes 7.5 to 15 s after opening, the next 15 s later.
    let window_end = opened + Duration::from_millis(15_500);
    let mut seen = Vec::new();
    while let Ok(Some(line)) = tokio::time::timeout_at(window_end, commands.next()).await {
        seen.push(line.to_lowercase());
    }
    let outside: Vec<&String> = seen.iter().filter(|l| !l.contains(" lua]")).collect();
    let connections = format!("user:{{{}}}:connections", bob_id.to_lowercase());
    assert!(
        outside.iter().any(|l| l.contains(&connections)),
        "a heartbeat ran: {outside:#?}"
    );
    for line in &outside {
        for room in &rooms {
            assert!(
                !line.contains(&room.to_lowercase()),
                "a beat touches no room: {line}"
            );
        }
        for verb in ["\"sadd\"", "\"srem\"", "\"smembers\"", "\"publish\""] {
            assert!(!line.contains(verb), "a beat changes no set: {line}");
        }
    }
}
