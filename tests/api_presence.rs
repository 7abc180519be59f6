//! Presence and typing against a real Redis: multi-tab, crashed processes,
//! the typing throttle, and who may ask.

#![cfg(feature = "ssr")]

mod support;

use std::time::{Duration, Instant};

use serde_json::Value;
use support::{
    call_on, ok_json, person, person_on, public_room, EventReader, RedisServer, Server,
    ServerProcess, TestApp,
};

/// The handles of the room's online members, as `online` reports them.
async fn online(server: &impl Server, client: &reqwest::Client, room: &str) -> Vec<String> {
    let users = ok_json(call_on(server, client, "online", &[("room_id", room)]).await).await;
    users
        .as_array()
        .unwrap()
        .iter()
        .map(|user| user["handle"].as_str().unwrap().to_owned())
        .collect()
}

/// Polls `online` until `done` holds for the handles, or `limit` passes;
/// how long it took.
async fn wait_for_online(
    server: &impl Server,
    client: &reqwest::Client,
    room: &str,
    limit: Duration,
    done: impl Fn(&[String]) -> bool,
) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if done(&online(server, client, room).await) {
            return Some(start.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    None
}

/// The next `presence` event about this user (people also hear themselves
/// come online), or `None` within `wait`.
async fn presence_of(events: &mut EventReader, handle: &str, wait: Duration) -> Option<Value> {
    let deadline = Instant::now() + wait;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let change = events.named_within("presence", left).await?.json();
        if change["user"]["handle"] == handle {
            return Some(change);
        }
    }
}

fn has(handles: &[String], handle: &str) -> bool {
    handles.iter().any(|h| h == handle)
}

#[tokio::test]
async fn a_user_is_online_while_any_of_their_tabs_is_open() {
    let redis = RedisServer::start().await;
    let app = TestApp::spawn(&redis).await;
    let ann = person(&app, "ann").await;
    let bob = person(&app, "bob").await;
    let room = public_room(&app, &ann, &[&bob]).await;
    let mut anns_events = EventReader::open(&app, &ann).await;
    assert!(!has(&online(&app, &ann, &room).await, "bob"));

    let first_tab = EventReader::open(&app, &bob).await;
    let second_tab = EventReader::open(&app, &bob).await;
    assert!(has(&online(&app, &ann, &room).await, "bob"));
    let change = presence_of(&mut anns_events, "bob", Duration::from_secs(5))
        .await
        .expect("bob comes online");
    assert_eq!(change["online"], true);
    assert_eq!(change["room_id"], room.as_str());

    // Closing one tab of two changes nothing, even after the grace period.
    drop(first_tab);
    tokio::time::sleep(Duration::from_secs(9)).await;
    assert!(has(&online(&app, &ann, &room).await, "bob"));

    // Closing the last one takes Bob offline, announced once.
    drop(second_tab);
    let took = wait_for_online(&app, &ann, &room, Duration::from_secs(20), |h| {
        !has(h, "bob")
    })
    .await;
    assert!(took.is_some(), "bob went offline");
    let change = presence_of(&mut anns_events, "bob", Duration::from_secs(5))
        .await
        .expect("bob goes offline");
    assert_eq!(change["online"], false);
    assert!(
        presence_of(&mut anns_events, "bob", Duration::from_secs(3))
            .await
            .is_none(),
        "one announcement per change"
    );
}

#[tokio::test]
async fn a_reload_is_not_announced_as_leaving() {
    let redis = RedisServer::start().await;
    let app = TestApp::spawn(&redis).await;
    let ann = person(&app, "ann").await;
    let bob = person(&app, "bob").await;
    let room = public_room(&app, &ann, &[&bob]).await;
    let bobs_tab = EventReader::open(&app, &bob).await;
    let mut anns_events = EventReader::open(&app, &ann).await;

    // A reload: the old stream closes and a new one opens at once.
    drop(bobs_tab);
    let _reloaded = EventReader::open(&app, &bob).await;
    assert!(
        presence_of(&mut anns_events, "bob", Duration::from_secs(9))
            .await
            .is_none(),
        "no offline-then-online flicker"
    );
    assert!(has(&online(&app, &ann, &room).await, "bob"));
}

#[tokio::test]
async fn the_users_of_a_killed_server_process_go_offline_within_a_minute() {
    let redis = RedisServer::start().await;
    let prefix = format!("test{}:", uuid::Uuid::new_v4().simple());
    let doomed = ServerProcess::start(&redis, &prefix).await;
    let survivor = ServerProcess::start(&redis, &prefix).await;
    let ann = person_on(&survivor, "ann").await;
    let bob = person_on(&survivor, "bob").await;
    let room = public_room(&survivor, &ann, &[&bob]).await;
    let _bobs_tab = EventReader::open_at(&doomed.url("/api/events"), &bob).await;
    assert!(has(&online(&survivor, &ann, &room).await, "bob"));

    // SIGKILL: the process cannot clean anything up.
    drop(doomed);
    let took = wait_for_online(&survivor, &ann, &room, Duration::from_secs(60), |h| {
        !has(h, "bob")
    })
    .await
    .expect("bob shown offline within 60 s");
    println!("offline after {took:?}");
    assert!(
        took > Duration::from_secs(5),
        "not before the connection TTL"
    );
}

#[tokio::test]
async fn members_lists_everyone_with_their_online_flag() {
    let redis = RedisServer::start().await;
    let app = TestApp::spawn(&redis).await;
    let ann = person(&app, "ann").await;
    let bob = person(&app, "bob").await;
    let room = public_room(&app, &ann, &[&bob]).await;
    let _anns_tab = EventReader::open(&app, &ann).await;
    let members = ok_json(app.call(&bob, "members", &[("room_id", &room)]).await).await;
    let members: Vec<(String, bool)> = members
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["user"]["handle"].as_str().unwrap().to_owned(),
                m["online"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        members,
        [("ann".to_owned(), true), ("bob".to_owned(), false)]
    );
}

#[tokio::test]
async fn leaving_a_room_takes_an_online_user_out_of_its_online_list() {
    let redis = RedisServer::start().await;
    let app = TestApp::spawn(&redis).await;
    let ann = person(&app, "ann").await;
    let bob = person(&app, "bob").await;
    let room = public_room(&app, &ann, &[&bob]).await;
    let _bobs_tab = EventReader::open(&app, &bob).await;
    let mut anns_events = EventReader::open(&app, &ann).await;
    assert!(has(&online(&app, &ann, &room).await, "bob"));

    ok_json(app.call(&bob, "leave_room", &[("room_id", &room)]).await).await;
    let change = presence_of(&mut anns_events, "bob", Duration::from_secs(5)).await;
    assert_eq!(change.expect("bob leaves")["online"], false);
    assert!(!has(&online(&app, &ann, &room).await, "bob"));

    // Joining again while online puts him back at once.
    ok_json(app.call(&bob, "join_room", &[("room_id", &room)]).await).await;
    let change = presence_of(&mut anns_events, "bob", Duration::from_secs(5)).await;
    assert_eq!(change.expect("bob is back")["online"], true);
}

#[tokio::test]
async fn typing_is_announced_at_most_once_per_three_seconds_and_never_stored() {
    let redis = RedisServer::start().await;
    let app = TestApp::spawn(&redis).await;
    let ann = person(&app, "ann").await;
    let bob = person(&app, "bob").await;
    let room = public_room(&app, &ann, &[&bob]).await;
    let mut bobs_events = EventReader::open(&app, &bob).await;

    for _ in 0..5 {
        ok_json(app.call(&ann, "typing", &[("room_id", &room)]).await).await;
    }
    let typing = bobs_events.next_named("typing").await.json();
    assert_eq!(typing["user"]["handle"], "ann");
    assert_eq!(typing["room_id"], room.as_str());
    assert!(
        bobs_events
            .named_within("typing", Duration::from_millis(2500))
            .await
            .is_none(),
        "throttled"
    );
    tokio::time::sleep(Duration::from_millis(700)).await;
    ok_json(app.call(&ann, "typing", &[("room_id", &room)]).await).await;
    bobs_events.next_named("typing").await;

    let history = ok_json(app.call(&bob, "history", &[("room_id", &room)]).await).await;
    assert_eq!(history, Value::Array(Vec::new()), "nothing stored");
}

#[tokio::test]
async fn only_members_may_see_presence_or_announce_typing() {
    let redis = RedisServer::start().await;
    let app = TestApp::spawn(&redis).await;
    let ann = person(&app, "ann").await;
    let former = person(&app, "fay").await;
    let outsider = person(&app, "otto").await;
    let invitee = person(&app, "ivy").await;
    let public = public_room(&app, &ann, &[&former]).await;
    ok_json(
        app.call(&former, "leave_room", &[("room_id", &public)])
            .await,
    )
    .await;
    let private = support::private_room(&app, &ann).await;
    ok_json(
        app.call(&ann, "invite", &[("room_id", &private), ("handle", "ivy")])
            .await,
    )
    .await;
    let anonymous = TestApp::client();

    for endpoint in ["members", "online", "typing"] {
        let status = |client: &reqwest::Client, room: &str| {
            let (client, room) = (client.clone(), room.to_owned());
            let app = &app;
            async move {
                app.call(&client, endpoint, &[("room_id", &room)])
                    .await
                    .status()
                    .as_u16()
            }
        };
        assert_eq!(
            status(&anonymous, &public).await,
            401,
            "{endpoint} anonymous"
        );
        assert_eq!(status(&ann, &public).await, 200, "{endpoint} member");
        assert_eq!(
            status(&outsider, &public).await,
            403,
            "{endpoint} outsider, public"
        );
        assert_eq!(
            status(&former, &public).await,
            403,
            "{endpoint} former member"
        );
        assert_eq!(
            status(&outsider, &private).await,
            404,
            "{endpoint} outsider, private"
        );
        assert_eq!(status(&invitee, &private).await, 403, "{endpoint} invitee");
        assert_eq!(
            status(&ann, "nonsense").await,
            404,
            "{endpoint} bad room id"
        );
    }
}
