//! Notifications, unread state across tabs, and the profile cache, against
//! a real Redis.

#![cfg(feature = "ssr")]

mod support;

use std::time::{Duration, Instant};

use redis::AsyncCommands;
use serde_json::Value;
use support::{
    call_on, ok_json, person, person_on, private_room, public_room, send_text, EventReader,
    RedisServer, ServerProcess, TestApp,
};

async fn notifications(app: &TestApp, client: &reqwest::Client) -> Value {
    ok_json(app.call(client, "notifications", &[]).await).await
}

#[tokio::test]
async fn a_mention_notifies_members_who_can_read_the_room_live_and_for_later() {
    let redis = RedisServer::start().await;
    let app = TestApp::spawn(&redis).await;
    let ann = person(&app, "ann").await;
    let bob = person(&app, "bob").await;
    let carol = person(&app, "carol").await;
    let room = public_room(&app, &ann, &[&bob]).await;
    let mut bobs_events = EventReader::open(&app, &bob).await;

    let message = send_text(&app, &ann, &room, "hi @Bob, @carol and @ann and @nobody").await;
    let live = bobs_events.next_named("notification").await.json();
    assert_eq!(live["kind"], "mention");
    assert_eq!(live["from"]["handle"], "ann");
    assert_eq!(live["room_id"], room.as_str());
    assert_eq!(live["message_id"], message["id"]);
    assert_eq!(live["text"], "hi @Bob, @carol and @ann and @nobody");
    assert_eq!(live["read"], false);

    // Stored: Bob sees it when he looks later.
    let stored = notifications(&app, &bob).await;
    assert_eq!(stored["unread"], 1);
    assert_eq!(stored["items"][0], live);
    // Carol is not in the room; Ann mentioned herself.
    assert_eq!(notifications(&app, &carol).await["unread"], 0);
    assert_eq!(notifications(&app, &ann).await["unread"], 0);
}

#[tokio::test]
async fn a_retried_send_does_not_notify_twice() {
    let redis = RedisServer::start().await;
    let app = TestApp::spawn(&redis).await;
    let ann = person(&app, "ann").await;
    let bob = person(&app, "bob").await;
    let room = public_room(&app, &ann, &[&bob]).await;
    let form = [
        ("room_id", room.as_str()),
        ("body", "@bob once"),
        ("client_msg_id", "same"),
    ];
    ok_json(app.call(&ann, "send_message", &form).await).await;
    ok_json(app.call(&ann, "send_message", &form).await).await;
    assert_eq!(notifications(&app, &bob).await["unread"], 1);
}

#[tokio::test]
async fn an_invitation_is_a_notification_that_accepting_answers_and_reports_back() {
    let redis = RedisServer::start().await;
    let app = TestApp::spawn(&redis).await;
    let ann = person(&app, "ann").await;
    let bob = person(&app, "bob").await;
    let room = private_room(&app, &ann).await;
    let mut bobs_events = EventReader::open(&app, &bob).await;
    let mut anns_events = EventReader::open(&app, &ann).await;

    ok_json(
        app.call(&ann, "invite", &[("room_id", &room), ("handle", "bob")])
            .await,
    )
    .await;
    let invite = bobs_events.next_named("notification").await.json();
    assert_eq!(invite["kind"], "invite");
    assert_eq!(invite["room_name"], "secret");
    assert_eq!(invite["from"]["handle"], "ann");
    assert!(invite.get("answer").is_none());

    ok_json(
        app.call(
            &bob,
            "respond_invite",
            &[("room_id", &room), ("accept", "true")],
        )
        .await,
    )
    .await;
    let list = notifications(&app, &bob).await;
    assert_eq!(list["unread"], 0);
    assert_eq!(list["items"][0]["answer"], "accepted");
    let accepted = anns_events.next_named("notification").await.json();
    assert_eq!(accepted["kind"], "invite_accepted");
    assert_eq!(accepted["from"]["handle"], "bob");
}

#[tokio::test]
async fn a_declined_invitation_is_marked_so_and_tells_nobody() {
    let redis = RedisServer::start().await;
    let app = TestApp::spawn(&redis).await;
    let ann = person(&app, "ann").await;
    let bob = person(&app, "bob").await;
    let room = private_room(&app, &ann).await;
    ok_json(
        app.call(&ann, "invite", &[("room_id", &room), ("handle", "bob")])
            .await,
    )
    .await;
    ok_json(
        app.call(
            &bob,
            "respond_invite",
            &[("room_id", &room), ("accept", "false")],
        )
        .await,
    )
    .await;
    assert_eq!(
        notifications(&app, &bob).await["items"][0]["answer"],
        "declined"
    );
    assert_eq!(notifications(&app, &ann).await["unread"], 0);
}

#[tokio::test]
async fn mark_read_marks_one_or_all_and_other_tabs_are_told() {
    let redis = RedisServer::start().await;
    let app = TestApp::spawn(&redis).await;
    let ann = person(&app, "ann").await;
    let bob = person(&app, "bob").await;
    let room = public_room(&app, &ann, &[&bob]).await;
    for text in ["@bob one", "@bob two", "@bob three"] {
        send_text(&app, &ann, &room, text).await;
    }
    let mut other_tab = EventReader::open(&app, &bob).await;
    let list = notifications(&app, &bob).await;
    assert_eq!(list["unread"], 3);
    assert_eq!(list["items"][0]["text"], "@bob three", "newest first");

    let id = list["items"][1]["id"].as_str().unwrap();
    ok_json(app.call(&bob, "mark_read", &[("id", id)]).await).await;
    other_tab.next_named("notifications_read").await;
    let list = notifications(&app, &bob).await;
    assert_eq!(list["unread"], 2);
    assert_eq!(list["items"][1]["read"], true);

    ok_json(app.call(&bob, "mark_read", &[("id", "all")]).await).await;
    assert_eq!(notifications(&app, &bob).await["unread"], 0);

    let unknown = "0".repeat(32);
    assert_eq!(
        app.call(&bob, "mark_read", &[("id", &unknown)])
            .await
            .status(),
        404
    );
    assert_eq!(
        app.call(&bob, "mark_read", &[("id", "nope")])
            .await
            .status(),
        400
    );
    // Someone else's notification is unknown to Ann.
    assert_eq!(
        app.call(&ann, "mark_read", &[("id", id)]).await.status(),
        404
    );
    assert_eq!(
        app.call(&TestApp::client(), "mark_read", &[("id", "all")])
            .await
            .status(),
        401
    );
    assert_eq!(
        app.call(&TestApp::client(), "notifications", &[])
            .await
            .status(),
        401
    );
}

#[tokio::test]
async fn the_list_keeps_the_newest_hundred_and_expires_after_thirty_days() {
    let redis = RedisServer::start().await;
    let app = TestApp::spawn(&redis).await;
    let ann = person(&app, "ann").await;
    let bob = person(&app, "bob").await;
    let room = public_room(&app, &ann, &[&bob]).await;
    for i in 0..105 {
        send_text(&app, &ann, &room, &format!("@bob number {i}")).await;
    }
    let list = ok_json(app.call(&bob, "notifications", &[("limit", "100")]).await).await;
    assert_eq!(list["unread"], 100);
    assert_eq!(list["items"].as_array().unwrap().len(), 100);
    assert_eq!(list["items"][0]["text"], "@bob number 104");
    assert_eq!(list["items"][99]["text"], "@bob number 5");
    assert_eq!(
        app.call(&bob, "notifications", &[("limit", "101")])
            .await
            .status(),
        400
    );

    let mut redis_conn = redis.connection().await;
    let keys: Vec<String> = redis_conn
        .keys(format!(
            "{}user:*:notifications",
            app.settings.redis.key_prefix
        ))
        .await
        .unwrap();
    assert_eq!(keys.len(), 1);
    let ttl: i64 = redis_conn.ttl(&keys[0]).await.unwrap();
    assert!(ttl > 29 * 24 * 3600 && ttl <= 30 * 24 * 3600, "ttl {ttl}");
}

#[tokio::test]
async fn reading_a_room_in_one_tab_updates_the_others() {
    let redis = RedisServer::start().await;
    let app = TestApp::spawn(&redis).await;
    let ann = person(&app, "ann").await;
    let bob = person(&app, "bob").await;
    let room = public_room(&app, &ann, &[&bob]).await;
    let message = send_text(&app, &ann, &room, "hello").await;
    let mut other_tab = EventReader::open(&app, &bob).await;
    let id = message["id"].as_str().unwrap();
    ok_json(
        app.call(&bob, "mark_room_read", &[("room_id", &room), ("up_to", id)])
            .await,
    )
    .await;
    let read = other_tab.next_named("room_read").await.json();
    assert_eq!(read["room_id"], room.as_str());
    assert_eq!(read["up_to"], id);
    // Marking the same position again moves nothing and tells nobody.
    ok_json(
        app.call(&bob, "mark_room_read", &[("room_id", &room), ("up_to", id)])
            .await,
    )
    .await;
    assert!(other_tab
        .named_within("room_read", Duration::from_secs(1))
        .await
        .is_none());
}

#[tokio::test]
async fn a_changed_display_name_is_seen_at_once_by_another_process() {
    let redis = RedisServer::start().await;
    let prefix = format!("test{}:", uuid::Uuid::new_v4().simple());
    let first = ServerProcess::start(&redis, &prefix).await;
    let second = ServerProcess::start(&redis, &prefix).await;
    let ann = person_on(&first, "ann").await;
    let bob = person_on(&second, "bob").await;
    let room = public_room(&first, &ann, &[&bob]).await;
    let names = |members: Value| -> Vec<String> {
        members
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["user"]["display_name"].as_str().unwrap().to_owned())
            .collect()
    };
    // The second process now has Ann's profile in its cache.
    let before = ok_json(call_on(&second, &bob, "members", &[("room_id", &room)]).await).await;
    assert!(names(before).contains(&"ann".to_owned()));

    let updated = ok_json(
        call_on(
            &first,
            &ann,
            "update_profile",
            &[("display_name", "Ann Lee")],
        )
        .await,
    )
    .await;
    assert_eq!(updated["display_name"], "Ann Lee");
    let start = Instant::now();
    loop {
        let members = ok_json(call_on(&second, &bob, "members", &[("room_id", &room)]).await).await;
        if names(members).contains(&"Ann Lee".to_owned()) {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "the cache was not invalidated"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        call_on(&first, &ann, "update_profile", &[("display_name", "  ")])
            .await
            .status(),
        400
    );
}

#[tokio::test]
async fn a_mention_is_notified_once_even_when_the_send_waited_for_replicas_in_vain() {
    if support::needs_own_redis("a standalone Redis has no replica to WAIT for") {
        return;
    }
    let redis = RedisServer::start().await;
    let mut settings = support::test_settings(&redis);
    // No replica exists: every WAIT falls short, and the send answers 503
    // though the message is stored and delivered.
    settings.redis.wait_replicas = 1;
    settings.redis.wait_timeout_ms = 50;
    let app = TestApp::spawn_with(settings).await;
    let ann = person(&app, "ann").await;
    let bob = person(&app, "bob").await;
    let room = support::public_room(&app, &ann, &[&bob]).await;
    let form = [
        ("room_id", room.as_str()),
        ("body", "@bob look"),
        ("client_msg_id", "w1"),
    ];
    for _attempt in 0..2 {
        let response = app.call(&ann, "send_message", &form).await;
        assert_eq!(response.status(), 503);
    }
    let list = ok_json(app.call(&bob, "notifications", &[]).await).await;
    let mentions: Vec<_> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|item| item["kind"] == "mention")
        .collect();
    assert_eq!(mentions.len(), 1, "{list}");
}
