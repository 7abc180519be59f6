//! Abuse controls and web security, against a real Redis: rate limits,
//! cross-site requests, security headers, and bad input.

#![cfg(feature = "ssr")]

mod support;

use redis::AsyncCommands;
use support::{
    call_on, limited_settings, ok_json, person, person_on, public_room, RedisServer, ServerProcess,
    TestApp,
};

async fn spawn_limited(redis: &RedisServer) -> TestApp {
    TestApp::spawn_with(limited_settings(redis)).await
}

fn send_form<'a>(room: &'a str, cmid: &'a str) -> [(&'a str, &'a str); 3] {
    [("room_id", room), ("body", "hi"), ("client_msg_id", cmid)]
}

#[tokio::test]
async fn fifty_simultaneous_sends_through_two_processes_admit_exactly_the_burst() {
    let redis = RedisServer::start().await;
    let prefix = format!("test{}:", uuid::Uuid::new_v4().simple());
    let first = ServerProcess::start(&redis, &prefix).await;
    let second = ServerProcess::start(&redis, &prefix).await;
    let ann = person_on(&first, "ann").await;
    let room = public_room(&first, &ann, &[]).await;

    let sends = (0..50).map(|i| {
        let (ann, room) = (ann.clone(), room.clone());
        let server = if i % 2 == 0 { &first } else { &second };
        async move {
            let cmid = format!("c{i}");
            call_on(server, &ann, "send_message", &send_form(&room, &cmid)).await
        }
    });
    let responses = futures::future::join_all(sends).await;
    let admitted = responses.iter().filter(|r| r.status() == 200).count();
    assert_eq!(admitted, 5, "the shipped burst is 5 per room");
    for refused in responses.iter().filter(|r| r.status() != 200) {
        assert_eq!(refused.status(), 429);
        let retry: u64 = refused.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=2).contains(&retry), "retry after {retry}");
    }
    let history = ok_json(call_on(&first, &ann, "history", &[("room_id", &room)]).await).await;
    assert_eq!(
        history.as_array().unwrap().len(),
        5,
        "refused sends store nothing"
    );
}

#[tokio::test]
async fn a_refused_send_says_slow_down_and_when_to_try_again() {
    let redis = RedisServer::start().await;
    let app = spawn_limited(&redis).await;
    let ann = person(&app, "ann").await;
    let room = public_room(&app, &ann, &[]).await;
    for i in 0..5 {
        let cmid = format!("c{i}");
        ok_json(
            app.call(&ann, "send_message", &send_form(&room, &cmid))
                .await,
        )
        .await;
    }
    let refused = app
        .call(&ann, "send_message", &send_form(&room, "c5"))
        .await;
    assert_eq!(refused.status(), 429);
    assert_eq!(refused.headers()["retry-after"], "1");
    let body: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(body["error"], "Slow down: try again in 1 s.");
    assert_eq!(body["retry_after"], 1);

    // One per second after the burst.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    ok_json(
        app.call(&ann, "send_message", &send_form(&room, "c6"))
            .await,
    )
    .await;
}

#[tokio::test]
async fn a_user_may_send_ten_at_once_across_rooms() {
    let redis = RedisServer::start().await;
    let app = spawn_limited(&redis).await;
    let ann = person(&app, "ann").await;
    let rooms = [
        public_room(&app, &ann, &[]).await,
        public_room(&app, &ann, &[]).await,
        public_room(&app, &ann, &[]).await,
    ];
    let mut statuses = Vec::new();
    for i in 0..12 {
        let cmid = format!("c{i}");
        let room = &rooms[i % 3];
        statuses.push(
            app.call(&ann, "send_message", &send_form(room, &cmid))
                .await
                .status(),
        );
    }
    assert!(statuses[..10].iter().all(|s| *s == 200), "{statuses:?}");
    assert!(statuses[10..].iter().all(|s| *s == 429), "{statuses:?}");
    // Someone else is not affected.
    let bob = person(&app, "bob").await;
    ok_json(app.call(&bob, "join_room", &[("room_id", &rooms[0])]).await).await;
    ok_json(
        app.call(&bob, "send_message", &send_form(&rooms[0], "b1"))
            .await,
    )
    .await;
}

#[tokio::test]
async fn five_wrong_passwords_lock_the_account_for_a_while_but_not_others() {
    let redis = RedisServer::start().await;
    let app = spawn_limited(&redis).await;
    let _ann = person(&app, "ann").await;
    let _bob = person(&app, "bob").await;
    let client = TestApp::client();
    let login = |email: &'static str, password: &'static str| {
        let client = client.clone();
        let app = &app;
        async move {
            app.call(
                &client,
                "login",
                &[("email", email), ("password", password)],
            )
            .await
            .status()
            .as_u16()
        }
    };
    for _ in 0..5 {
        assert_eq!(login("ann@example.com", "wrong-password").await, 401);
    }
    assert_eq!(login("ann@example.com", "wrong-password").await, 429);
    assert_eq!(
        login("ann@example.com", support::PASSWORD).await,
        429,
        "locked even with the right password"
    );
    assert_eq!(login("bob@example.com", support::PASSWORD).await, 200);
}

#[tokio::test]
async fn sign_ups_sign_ins_room_creation_and_invitations_are_limited() {
    let redis = RedisServer::start().await;
    let app = spawn_limited(&redis).await;
    // Sign-ups from one address: 5.
    let mut people = Vec::new();
    for i in 0..5 {
        people.push(person(&app, &format!("user{i}")).await);
    }
    let refused = app
        .register(&TestApp::client(), "late@example.com", "late")
        .await;
    assert_eq!(refused.status(), 429);

    // Rooms per user: 10.
    let ann = &people[0];
    for i in 0..10 {
        let name = format!("room {i}");
        ok_json(
            app.call(ann, "create_room", &[("name", &name), ("private", "true")])
                .await,
        )
        .await;
    }
    let refused = app
        .call(
            ann,
            "create_room",
            &[("name", "one more"), ("private", "true")],
        )
        .await;
    assert_eq!(refused.status(), 429);

    // Invitations per user: 20 (to four people in five private rooms).
    let rooms: Vec<String> = ok_json(app.call(ann, "rooms", &[]).await).await["joined"]
        .as_array()
        .unwrap()
        .iter()
        .map(|joined| joined["id"].as_str().unwrap().to_owned())
        .collect();
    let mut statuses = Vec::new();
    for room in rooms.iter().take(6) {
        for handle in ["user1", "user2", "user3", "user4"] {
            statuses.push(
                app.call(ann, "invite", &[("room_id", room), ("handle", handle)])
                    .await
                    .status(),
            );
        }
    }
    assert!(statuses[..20].iter().all(|s| *s == 200), "{statuses:?}");
    assert!(statuses[20..].iter().all(|s| *s == 429), "{statuses:?}");
}

#[tokio::test]
async fn every_endpoint_is_limited_and_an_invitation_pays_before_the_handle_is_looked_up() {
    let redis = RedisServer::start().await;
    let mut settings = support::test_settings(&redis);
    let three = redchat::server::config::Rate::new(3, 1.0);
    let limits = &mut settings.limits;
    for rate in [
        &mut limits.membership_per_user,
        &mut limits.typing_per_user,
        &mut limits.reads_per_user,
        &mut limits.mark_read_per_user,
        &mut limits.account_per_user,
        &mut limits.invite_per_user,
        &mut limits.searches_per_user,
    ] {
        *rate = three;
    }
    let app = TestApp::spawn_with(settings).await;
    // One person per limit: each starts with a full allowance.
    let fresh = |n: usize| {
        let handle = format!("p{n}");
        let app = &app;
        async move { person(app, &handle).await }
    };
    let owner = fresh(0).await;
    let room = public_room(&app, &owner, &[]).await;
    let message = support::send_text(&app, &owner, &room, "hi").await;
    let message_id = message["id"].as_str().unwrap().to_owned();
    let room_form = [("room_id", room.as_str())];
    // (endpoint, form) per limit; the fourth call of each is refused.
    let cases: Vec<(&str, Vec<(&str, &str)>)> = vec![
        ("join_room", room_form.to_vec()),
        ("typing", room_form.to_vec()),
        ("history", room_form.to_vec()),
        ("members", room_form.to_vec()),
        ("online", room_form.to_vec()),
        ("rooms", vec![]),
        ("notifications", vec![]),
        ("sessions", vec![]),
        ("mark_read", vec![("id", "all")]),
        (
            "mark_room_read",
            vec![("room_id", room.as_str()), ("up_to", message_id.as_str())],
        ),
        ("update_profile", vec![("display_name", "New Name")]),
        ("sign_out_everywhere", vec![]),
    ];
    for (n, (endpoint, form)) in cases.iter().enumerate() {
        let client = fresh(n + 1).await;
        if *endpoint != "join_room" {
            ok_json(app.call(&client, "join_room", &room_form).await).await;
        }
        // (Joining paid a membership action, which limits only joins.)
        for call in 0..3 {
            let status = app.call(&client, endpoint, form).await.status();
            assert_ne!(status, 429, "{endpoint}: call {call} refused");
        }
        let refused = app.call(&client, endpoint, form).await;
        assert_eq!(refused.status(), 429, "{endpoint} is not limited");
        assert!(refused.headers().contains_key("retry-after"), "{endpoint}");
    }
    // leave_room shares join_room's limit.
    let leaver = fresh(99).await;
    for _ in 0..3 {
        assert_ne!(
            app.call(&leaver, "leave_room", &room_form).await.status(),
            429
        );
    }
    assert_eq!(
        app.call(&leaver, "leave_room", &room_form).await.status(),
        429
    );

    // The endpoints of direct rooms and room administration: each pays
    // its limit first, whatever its answer (here refusals: nobody is no
    // one, the caller is no owner, the room is no direct room).
    let nobody = [("room_id", room.as_str()), ("handle", "nobody")];
    let admin_cases: Vec<(&str, Vec<(&str, &str)>)> = vec![
        (
            "update_room",
            vec![("room_id", room.as_str()), ("topic", "t")],
        ),
        (
            "set_role",
            [nobody.as_slice(), &[("role", "admin")]].concat(),
        ),
        ("remove_member", nobody.to_vec()),
        ("delete_room", room_form.to_vec()),
        (
            "set_room_notifications",
            vec![("room_id", room.as_str()), ("level", "all")],
        ),
        ("hide_direct", room_form.to_vec()),
        ("open_direct", vec![("handles", "nobody")]),
        ("people", vec![("q", "p")]),
        ("search", vec![("q", "hi")]),
    ];
    for (n, (endpoint, form)) in admin_cases.iter().enumerate() {
        let client = fresh(200 + n).await;
        // The owner renames (paying nothing else first); the others join
        // the room first (where it matters), which pays one membership
        // action: then two calls go through, not three.
        let (caller, free_calls) = match *endpoint {
            "update_room" => (&owner, 3),
            "open_direct" | "people" | "search" => (&client, 3),
            _ => {
                ok_json(app.call(&client, "join_room", &room_form).await).await;
                (&client, 2)
            }
        };
        for call in 0..free_calls {
            let status = app.call(caller, endpoint, form).await.status();
            assert_ne!(status, 429, "{endpoint}: call {call} refused");
        }
        let refused = app.call(caller, endpoint, form).await;
        assert_eq!(refused.status(), 429, "{endpoint} is not limited");
    }

    // Probing handles costs invitations like inviting does.
    let prober = fresh(100).await;
    ok_json(app.call(&prober, "join_room", &room_form).await).await;
    for n in 0..3 {
        let handle = format!("nobody{n}");
        let status = app
            .call(
                &prober,
                "invite",
                &[("room_id", &room), ("handle", &handle)],
            )
            .await
            .status();
        assert_eq!(status, 404);
    }
    let refused = app
        .call(&prober, "invite", &[("room_id", &room), ("handle", "p0")])
        .await;
    assert_eq!(refused.status(), 429, "the fourth probe is refused");
}

#[tokio::test]
async fn a_display_name_that_could_pass_for_another_is_refused() {
    let redis = RedisServer::start().await;
    let app = TestApp::spawn(&redis).await;
    let ann = person(&app, "ann").await;
    for bad in [
        "Ann\u{202E}nimdA",
        "A\u{200B}nn",
        "Ann\u{2028}Admin",
        "\u{2067}Bob",
    ] {
        let response = app
            .call(&ann, "update_profile", &[("display_name", bad)])
            .await;
        assert_eq!(response.status(), 400, "{bad:?}");
        let form = [
            ("email", "mallory@example.com"),
            ("password", support::PASSWORD),
            ("display_name", bad),
            ("handle", "mallory"),
        ];
        let response = app.call(&TestApp::client(), "register", &form).await;
        assert_eq!(response.status(), 400, "{bad:?}");
    }
    assert_eq!(app.me(&ann).await["display_name"], "Test Person");
}

#[tokio::test]
async fn every_limiter_key_expires() {
    let redis = RedisServer::start().await;
    let app = spawn_limited(&redis).await;
    let ann = person(&app, "ann").await;
    let ann_id = app.me(&ann).await["id"].as_str().unwrap().to_owned();
    let room = public_room(&app, &ann, &[]).await;
    ok_json(
        app.call(&ann, "send_message", &send_form(&room, "c1"))
            .await,
    )
    .await;
    let _ = app
        .call(
            &TestApp::client(),
            "login",
            &[("email", "ann@example.com"), ("password", "wrong-password")],
        )
        .await;
    let mut conn = redis.connection().await;
    let keys: Vec<String> = conn
        .keys(format!("{}*limit:*", app.settings.redis.key_prefix))
        .await
        .unwrap();
    assert!(keys.len() >= 5, "{keys:?}");
    // The send limiters live beside the keys the send script reads.
    for (of_what, tag) in [("room", &room), ("user", &ann_id)] {
        assert!(
            keys.iter()
                .any(|key| key.contains(&format!("{of_what}:{{{tag}}}:limit:send"))),
            "no {of_what} send limiter in {keys:?}"
        );
    }
    for key in keys {
        let ttl: i64 = conn.pttl(&key).await.unwrap();
        assert!(ttl > 0, "{key} has no TTL");
    }
}

#[tokio::test]
async fn a_cross_site_post_with_a_valid_cookie_is_refused_and_changes_nothing() {
    let redis = RedisServer::start().await;
    let app = TestApp::spawn(&redis).await;
    let ann = person(&app, "ann").await;
    let form = [("name", "forged"), ("private", "false")];
    let post = |origin: Option<&'static str>, site: Option<&'static str>| {
        let mut request = ann.post(app.url("/api/create_room")).form(&form);
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        if let Some(site) = site {
            request = request.header("sec-fetch-site", site);
        }
        request.send()
    };
    let forged = post(Some("https://evil.example"), Some("cross-site"))
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    let sibling = post(None, Some("same-site")).await.unwrap();
    assert_eq!(sibling.status(), 403);
    let rooms = ok_json(app.call(&ann, "rooms", &[]).await).await;
    assert_eq!(
        rooms["joined"].as_array().unwrap().len(),
        0,
        "nothing was created"
    );

    let own = format!("http://{}", app.addr);
    let same = ann
        .post(app.url("/api/create_room"))
        .header("origin", own)
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(same.status(), 200);
    let navigated = post(None, Some("same-origin")).await.unwrap();
    assert_eq!(navigated.status(), 200);
}

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let redis = RedisServer::start().await;
    let app = TestApp::spawn(&redis).await;
    let client = TestApp::client();
    let responses = [
        client.get(app.url("/healthz")).send().await.unwrap(),
        client.post(app.url("/api/me")).send().await.unwrap(),
        client.get(app.url("/api/events")).send().await.unwrap(),
        client.get(app.url("/login")).send().await.unwrap(),
        client.get(app.url("/no/such/page")).send().await.unwrap(),
    ];
    for response in responses {
        let headers = response.headers();
        let url = response.url().clone();
        assert_eq!(headers["x-content-type-options"], "nosniff", "{url}");
        assert_eq!(headers["x-frame-options"], "DENY", "{url}");
        assert!(headers.contains_key("referrer-policy"), "{url}");
        let csp = headers["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("frame-ancestors 'none'"), "{url}: {csp}");
    }
}

#[tokio::test]
async fn a_page_allows_only_the_inline_scripts_with_its_nonce() {
    let redis = RedisServer::start().await;
    let app = TestApp::spawn(&redis).await;
    let response = TestApp::client()
        .get(app.url("/login"))
        .send()
        .await
        .unwrap();
    let csp = response.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    let nonce = csp
        .split("'nonce-")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .expect("a nonce in the page's policy")
        .to_owned();
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    let html = response.text().await.unwrap();
    let scripts = html.matches("<script").count();
    assert!(scripts > 0);
    assert_eq!(
        html.matches(&format!("nonce=\"{nonce}\"")).count(),
        scripts,
        "every inline script carries the nonce"
    );
    // A fresh nonce per response.
    let again = TestApp::client()
        .get(app.url("/login"))
        .send()
        .await
        .unwrap();
    assert!(!again.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .contains(&nonce));
}

/// Raw form bodies, so invalid UTF-8 and odd encodings reach the server.
async fn post_raw(app: &TestApp, client: &reqwest::Client, endpoint: &str, body: String) -> u16 {
    client
        .post(app.url(&format!("/api/{endpoint}")))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn bad_input_to_any_endpoint_is_answered_with_a_4xx_never_a_500() {
    let redis = RedisServer::start().await;
    let app = TestApp::spawn(&redis).await;
    let ann = person(&app, "ann").await;
    let room = public_room(&app, &ann, &[]).await;
    let message = support::send_text(&app, &ann, &room, "hello").await;
    let message_id = message["id"].as_str().unwrap().to_owned();
    let endpoints: Vec<(&str, Vec<(&str, String)>)> = vec![
        (
            "register",
            vec![
                ("email", "x@example.com".into()),
                ("password", support::PASSWORD.into()),
                ("display_name", "X".into()),
                ("handle", "xx".into()),
            ],
        ),
        (
            "login",
            vec![
                ("email", "ann@example.com".into()),
                ("password", support::PASSWORD.into()),
            ],
        ),
        (
            "create_room",
            vec![("name", "room".into()), ("private", "false".into())],
        ),
        ("join_room", vec![("room_id", room.clone())]),
        ("leave_room", vec![("room_id", room.clone())]),
        (
            "invite",
            vec![("room_id", room.clone()), ("handle", "ann".into())],
        ),
        (
            "respond_invite",
            vec![("room_id", room.clone()), ("accept", "true".into())],
        ),
        ("members", vec![("room_id", room.clone())]),
        ("online", vec![("room_id", room.clone())]),
        ("typing", vec![("room_id", room.clone())]),
        (
            "send_message",
            vec![
                ("room_id", room.clone()),
                ("body", "hi".into()),
                ("client_msg_id", "c1".into()),
            ],
        ),
        (
            "history",
            vec![
                ("room_id", room.clone()),
                ("before", message_id.clone()),
                ("after", message_id.clone()),
                ("limit", "10".into()),
            ],
        ),
        (
            "mark_room_read",
            vec![("room_id", room.clone()), ("up_to", message_id.clone())],
        ),
        ("notifications", vec![("limit", "10".into())]),
        ("mark_read", vec![("id", "all".into())]),
        ("update_profile", vec![("display_name", "Ann".into())]),
        ("revoke_session", vec![("handle", "0".repeat(32))]),
        (
            "change_password",
            vec![
                ("current_password", "wrong-password".into()),
                ("new_password", "another-password".into()),
            ],
        ),
    ];
    let encode =
        |value: &str| -> String { form_urlencoded::byte_serialize(value.as_bytes()).collect() };
    // Values as they go on the wire (already encoded).
    let bad_values: Vec<String> = vec![
        String::new(),
        "%FF%FE%00".into(),
        encode("\u{0}\u{7}\u{1b}[31m"),
        encode(&"9".repeat(10_000)),
        encode(&"é".repeat(5_000)),
        "true%00".into(),
        "-1".into(),
        encode("../../etc/passwd"),
        encode("<script>alert(1)</script>"),
        encode("[]"),
    ];
    let mut failures = Vec::new();
    for (endpoint, fields) in &endpoints {
        let valid = |skip: Option<&str>| -> Vec<String> {
            fields
                .iter()
                .filter(|(name, _)| Some(*name) != skip)
                .map(|(name, value)| format!("{name}={}", encode(value)))
                .collect()
        };
        let mut bodies = vec![String::new(), "%%%".into(), "=&=&".into()];
        for (name, _) in fields {
            bodies.push(valid(Some(name)).join("&"));
            for bad in &bad_values {
                let mut parts = valid(Some(name));
                parts.push(format!("{name}={bad}"));
                bodies.push(parts.join("&"));
            }
        }
        for body in bodies {
            let status = post_raw(&app, &ann, endpoint, body.clone()).await;
            if status >= 500 {
                failures.push(format!(
                    "{endpoint} {status} {}",
                    &body[..body.len().min(80)]
                ));
            }
        }
    }
    assert!(failures.is_empty(), "5xx answers:\n{}", failures.join("\n"));
}

#[tokio::test]
async fn under_the_shipped_acl_the_app_works_and_its_user_may_not_do_anything_dangerous() {
    let redis = RedisServer::start_with_acl().await;
    let app = TestApp::spawn(&redis).await;
    let ann = person(&app, "ann").await;
    let bob = person(&app, "bob").await;
    let room = public_room(&app, &ann, &[&bob]).await;
    let mut bobs_events = support::EventReader::open(&app, &bob).await;
    let sent = support::send_text(&app, &ann, &room, "hello @bob").await;
    assert_eq!(bobs_events.next_named("message").await.json(), sent);
    assert_eq!(
        bobs_events.next_named("notification").await.json()["kind"],
        "mention"
    );

    let (user, password) = redis.app_credentials().unwrap();
    let url = format!("redis://{user}:{password}@127.0.0.1:{}", redis.port);
    let mut as_app = redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let refused = |result: redis::RedisResult<redis::Value>| match result {
        Err(err) => err.to_string().to_lowercase().contains("noperm"),
        Ok(_) => false,
    };
    for command in [
        redis::cmd("FLUSHALL"),
        redis::Cmd::new().arg("CONFIG").arg("GET").arg("*").clone(),
        redis::Cmd::new().arg("KEYS").arg("*").clone(),
        redis::Cmd::new().arg("ACL").arg("LIST").clone(),
        redis::cmd("SAVE"),
        redis::Cmd::new().arg("GET").arg("someone-else:key").clone(),
        redis::Cmd::new()
            .arg("PUBLISH")
            .arg("someone-else:channel")
            .arg("x")
            .clone(),
    ] {
        let result = command.query_async(&mut as_app).await;
        assert!(refused(result.clone()), "{command:?} answered {result:?}");
    }
    let default_user = redis::Client::open(redis.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await;
    let anonymous_ping = match default_user {
        Ok(mut conn) => redis::cmd("PING")
            .query_async::<String>(&mut conn)
            .await
            .is_ok(),
        Err(_) => false,
    };
    assert!(!anonymous_ping, "the default user is off");
}

#[tokio::test]
async fn guesses_sent_all_at_once_cannot_outrun_the_failure_limit() {
    let redis = RedisServer::start().await;
    let app = spawn_limited(&redis).await;
    let _ann = person(&app, "ann").await;
    let guesses = (0..15).map(|i| {
        let app = &app;
        async move {
            let password = format!("wrong guess {i}");
            app.call(
                &TestApp::client(),
                "login",
                &[("email", "ann@example.com"), ("password", &password)],
            )
            .await
            .status()
            .as_u16()
        }
    });
    let statuses = futures::future::join_all(guesses).await;
    assert_eq!(
        statuses.iter().filter(|s| **s == 401).count(),
        5,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        10,
        "{statuses:?}"
    );
}

#[tokio::test]
async fn sign_in_attempts_are_limited_per_address_and_a_trusted_proxy_names_it() {
    let redis = RedisServer::start().await;
    let mut settings = limited_settings(&redis);
    settings.limits.login_failures_per_account = redchat::server::config::Rate::new(1000, 1000.0);
    settings.limits.trusted_proxy_header = "x-forwarded-for".into();
    let app = TestApp::spawn_with(settings).await;
    let attempt = |forwarded: &'static str| {
        let app = &app;
        async move {
            TestApp::client()
                .post(app.url("/api/login"))
                .header("x-forwarded-for", forwarded)
                .form(&[
                    ("email", "nobody@example.com"),
                    ("password", "wrong-password"),
                ])
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    // The proxy appends the real address last; what the client wrote
    // before it does not matter.
    for i in 0..20 {
        let status = attempt(if i % 2 == 0 {
            "1.1.1.1, 10.0.0.7"
        } else {
            "2.2.2.2, 10.0.0.7"
        })
        .await;
        assert_eq!(status, 401);
    }
    assert_eq!(attempt("3.3.3.3, 10.0.0.7").await, 429, "20 per address");
    assert_eq!(
        attempt("10.0.0.8").await,
        401,
        "another address is not affected"
    );
}

#[tokio::test]
async fn a_retry_of_a_stored_message_is_answered_even_when_the_limit_is_used_up() {
    let redis = RedisServer::start().await;
    let app = spawn_limited(&redis).await;
    let ann = person(&app, "ann").await;
    let room = public_room(&app, &ann, &[]).await;
    let first = ok_json(
        app.call(&ann, "send_message", &send_form(&room, "c0"))
            .await,
    )
    .await;
    for i in 1..5 {
        let cmid = format!("c{i}");
        ok_json(
            app.call(&ann, "send_message", &send_form(&room, &cmid))
                .await,
        )
        .await;
    }
    assert_eq!(
        app.call(&ann, "send_message", &send_form(&room, "c5"))
            .await
            .status(),
        429
    );
    let retried = ok_json(
        app.call(&ann, "send_message", &send_form(&room, "c0"))
            .await,
    )
    .await;
    assert_eq!(retried, first);
}

/// A `redis-server` that speaks only TLS, with a certificate from a
/// throwaway certificate authority; killed when dropped.
struct TlsRedis {
    child: std::process::Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Drop for TlsRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl TlsRedis {
    async fn start() -> Self {
        use std::process::{Command, Stdio};
        let dir = tempfile::tempdir().unwrap();
        let path = |name: &str| dir.path().join(name).to_str().unwrap().to_owned();
        std::fs::write(path("san.ext"), "subjectAltName=IP:127.0.0.1\n").unwrap();
        let ec = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
        ];
        let steps: Vec<Vec<String>> = vec![
            [
                &["req", "-x509"][..],
                &ec[..],
                &["-subj", "/CN=Redchat test CA", "-days", "1"],
            ]
            .concat()
            .iter()
            .map(|s| s.to_string())
            .chain([
                "-keyout".into(),
                path("ca.key"),
                "-out".into(),
                path("ca.crt"),
            ])
            .collect(),
            [&["req"][..], &ec[..], &["-subj", "/CN=127.0.0.1"]]
                .concat()
                .iter()
                .map(|s| s.to_string())
                .chain([
                    "-keyout".into(),
                    path("redis.key"),
                    "-out".into(),
                    path("redis.csr"),
                ])
                .collect(),
            vec![
                "x509".into(),
                "-req".into(),
                "-in".into(),
                path("redis.csr"),
                "-CA".into(),
                path("ca.crt"),
                "-CAkey".into(),
                path("ca.key"),
                "-CAcreateserial".into(),
                "-days".into(),
                "1".into(),
                "-extfile".into(),
                path("san.ext"),
                "-out".into(),
                path("redis.crt"),
            ],
        ];
        for args in steps {
            let status = Command::new("openssl")
                .args(&args)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .expect("openssl is installed");
            assert!(status.success(), "openssl {args:?}");
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("redis-server")
            .args([
                "--port",
                "0",
                "--tls-port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
            ])
            .args([
                "--tls-cert-file",
                &path("redis.crt"),
                "--tls-key-file",
                &path("redis.key"),
            ])
            .args([
                "--tls-ca-cert-file",
                &path("ca.crt"),
                "--tls-auth-clients",
                "no",
            ])
            .args([
                "--dir",
                dir.path().to_str().unwrap(),
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        Self { child, port, dir }
    }
}

#[tokio::test]
async fn the_app_talks_to_redis_over_tls_with_a_private_certificate_authority() {
    let tls = TlsRedis::start().await;
    let mut settings = redchat::server::config::Settings::default();
    settings.redis.url = format!("rediss://127.0.0.1:{}", tls.port);
    settings.redis.tls_ca_file = tls.dir.path().join("ca.crt").to_str().unwrap().to_owned();
    settings.redis.key_prefix = "tls:".into();
    settings.session.cookie_secure = false;
    let app = TestApp::spawn_with(settings).await;
    assert_eq!(
        TestApp::client()
            .get(app.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let ann = person(&app, "ann").await;
    let bob = person(&app, "bob").await;
    let room = public_room(&app, &ann, &[&bob]).await;
    let mut bobs_events = support::EventReader::open(&app, &bob).await;
    let sent = support::send_text(&app, &ann, &room, "over TLS").await;
    assert_eq!(bobs_events.next_named("message").await.json(), sent);
}

#[tokio::test]
async fn every_endpoint_answers_anonymous_members_outsiders_and_former_members_as_it_should() {
    let redis = RedisServer::start().await;
    let app = TestApp::spawn(&redis).await;
    let member = person(&app, "ann").await;
    let outsider = person(&app, "otto").await;
    let former = person(&app, "fay").await;
    let _cid = person(&app, "cid").await;
    let anonymous = TestApp::client();
    let public = public_room(&app, &member, &[&former]).await;
    let private = support::private_room(&app, &member).await;
    let message = support::send_text(&app, &member, &public, "hello").await;
    let message_id = message["id"].as_str().unwrap().to_owned();
    ok_json(
        app.call(&former, "leave_room", &[("room_id", &public)])
            .await,
    )
    .await;

    // Room endpoints: (name, extra fields). Member 200; outsider of a public
    // room 403 (join_room: 200); outsider of a private room 404; former
    // member 403; anonymous 401.
    let room_endpoints: Vec<(&str, Vec<(&str, &str)>)> = vec![
        ("members", vec![]),
        ("online", vec![]),
        ("typing", vec![]),
        ("history", vec![]),
        (
            "send_message",
            vec![("body", "hi"), ("client_msg_id", "m1")],
        ),
        ("mark_room_read", vec![("up_to", message_id.as_str())]),
        ("invite", vec![("handle", "cid")]),
    ];
    for (endpoint, extra) in &room_endpoints {
        let check = |client, room| status_in_room(&app, client, endpoint, room, extra);
        assert_eq!(
            check(&anonymous, &public).await,
            401,
            "{endpoint} anonymous"
        );
        assert_eq!(
            check(&outsider, &public).await,
            403,
            "{endpoint} outsider, public"
        );
        assert_eq!(
            check(&outsider, &private).await,
            404,
            "{endpoint} outsider, private"
        );
        assert_eq!(
            check(&former, &public).await,
            403,
            "{endpoint} former member"
        );
        assert_eq!(check(&member, &public).await, 200, "{endpoint} member");
    }
    // Joining and leaving: anyone signed in, for a public room; a private
    // room does not exist for outsiders.
    for endpoint in ["join_room", "leave_room"] {
        let check = |client, room| status_in_room(&app, client, endpoint, room, &[]);
        assert_eq!(
            check(&anonymous, &public).await,
            401,
            "{endpoint} anonymous"
        );
        assert_eq!(check(&outsider, &private).await, 404, "{endpoint} private");
        assert_eq!(
            check(&former, &public).await,
            200,
            "{endpoint} former member"
        );
    }
    let answer = [("accept", "true")];
    let check = |client, room| status_in_room(&app, client, "respond_invite", room, &answer);
    assert_eq!(check(&anonymous, &private).await, 401);
    assert_eq!(check(&outsider, &private).await, 404);
    assert_eq!(
        check(&member, &private).await,
        404,
        "no invitation to answer"
    );

    // The caller's own things: anonymous 401, signed in 200.
    let own: Vec<(&str, Vec<(&str, &str)>)> = vec![
        ("rooms", vec![]),
        ("notifications", vec![]),
        ("mark_read", vec![("id", "all")]),
        ("sessions", vec![]),
        ("sign_out_everywhere", vec![]),
        ("update_profile", vec![("display_name", "Otto")]),
        ("create_room", vec![("name", "mine"), ("private", "false")]),
    ];
    for (endpoint, form) in &own {
        assert_eq!(
            app.call(&anonymous, endpoint, form).await.status(),
            401,
            "{endpoint} anonymous"
        );
        assert_eq!(
            app.call(&outsider, endpoint, form).await.status(),
            200,
            "{endpoint} signed in"
        );
    }
    assert_eq!(
        app.call(&anonymous, "revoke_session", &[("handle", &"0".repeat(32))])
            .await
            .status(),
        401
    );
    assert_eq!(
        app.call(
            &anonymous,
            "change_password",
            &[
                ("current_password", "whatever1"),
                ("new_password", "whatever2")
            ]
        )
        .await
        .status(),
        401
    );
    assert!(app.me(&anonymous).await.is_null());
}

async fn status_in_room(
    app: &TestApp,
    client: &reqwest::Client,
    endpoint: &str,
    room: &str,
    extra: &[(&str, &str)],
) -> u16 {
    let mut form = vec![("room_id", room)];
    form.extend_from_slice(extra);
    app.call(client, endpoint, &form).await.status().as_u16()
}

#[tokio::test]
async fn with_secure_cookies_hsts_is_sent_the_cookie_is_host_prefixed_and_only_https_origins_pass()
{
    let redis = RedisServer::start().await;
    let plain = TestApp::spawn(&redis).await;
    let mut settings = support::test_settings(&redis);
    settings.session.cookie_secure = true;
    let secure = TestApp::spawn_with(settings).await;
    let get = |app: &TestApp| TestApp::client().get(app.url("/healthz")).send();
    let plain = get(&plain).await.unwrap();
    assert!(!plain.headers().contains_key("strict-transport-security"));
    let secure = get(&secure).await.unwrap();
    assert_eq!(
        secure.headers()["strict-transport-security"],
        "max-age=31536000; includeSubDomains"
    );

    // The session cookie is `__Host-` prefixed: Secure, Path=/, no Domain.
    let secure_app = TestApp::spawn_with({
        let mut settings = support::test_settings(&redis);
        settings.session.cookie_secure = true;
        settings
    })
    .await;
    let signed_up = secure_app
        .register(&TestApp::client(), "host@example.com", "hostprefix")
        .await;
    assert_eq!(signed_up.status(), 200);
    let cookie = signed_up.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(cookie.starts_with("__Host-redchat_session="), "{cookie}");
    assert!(
        cookie.contains("Secure") && cookie.contains("Path=/"),
        "{cookie}"
    );
    assert!(!cookie.contains("Domain"), "{cookie}");

    // A plain-HTTP origin is refused, even for the server's own host.
    let host = secure_app.addr.to_string();
    let post = |origin: String| {
        TestApp::client()
            .post(secure_app.url("/api/register"))
            .header("origin", origin)
            .form(&[
                (
                    "email",
                    format!("{}@example.com", uuid::Uuid::new_v4().simple()),
                ),
                ("password", support::PASSWORD.into()),
                ("display_name", "Origin".into()),
                (
                    "handle",
                    format!("o{}", &uuid::Uuid::new_v4().simple().to_string()[..12]),
                ),
            ])
            .send()
    };
    assert_eq!(post(format!("http://{host}")).await.unwrap().status(), 403);
    assert_eq!(post(format!("https://{host}")).await.unwrap().status(), 200);
}

#[tokio::test]
async fn a_strangers_wrong_guesses_do_not_lock_the_owner_out() {
    let redis = RedisServer::start().await;
    let mut settings = limited_settings(&redis);
    settings.limits.trusted_proxy_header = "x-forwarded-for".into();
    let app = TestApp::spawn_with(settings).await;
    let _ann = person(&app, "ann").await;
    let login = |from: &'static str, password: &'static str| {
        let app = &app;
        async move {
            TestApp::client()
                .post(app.url("/api/login"))
                .header("x-forwarded-for", from)
                .form(&[("email", "ann@example.com"), ("password", password)])
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    for _ in 0..5 {
        assert_eq!(login("203.0.113.9", "wrong-password").await, 401);
    }
    assert_eq!(
        login("203.0.113.9", "wrong-password").await,
        429,
        "the guesser is stopped"
    );
    assert_eq!(
        login("198.51.100.7", support::PASSWORD).await,
        200,
        "the owner is not"
    );
}

#[tokio::test]
async fn metrics_are_served_in_prometheus_text_only_to_whom_the_setting_allows() {
    let redis = RedisServer::start().await;
    // Loopback (the default): the harness's client is on 127.0.0.1.
    let app = TestApp::spawn(&redis).await;
    let ann = person(&app, "ann").await;
    let room = public_room(&app, &ann, &[]).await;
    support::send_text(&app, &ann, &room, "counted").await;
    let text = TestApp::client()
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(text.status(), 200);
    let text = text.text().await.unwrap();
    for metric in [
        "redchat_http_requests_total{endpoint=\"/api/send_message\",status=\"200\"}",
        "redchat_messages_sent_total",
        "redchat_deliveries_total",
        "redchat_event_streams_open",
        "redchat_resyncs_total",
        "redchat_redis_round_trips_total",
        "redchat_pubsub_reconnects_total",
        "redchat_send_seconds_bucket",
        "redchat_redis_seconds_bucket",
    ] {
        assert!(text.contains(metric), "{metric} missing from:\n{text}");
    }

    // Through a reverse proxy on the same host the peer is loopback too,
    // but the request says it was forwarded: not a local client.
    let proxied = TestApp::client()
        .get(app.url("/metrics"))
        .header("x-forwarded-for", "203.0.113.9")
        .send()
        .await
        .unwrap();
    assert_eq!(proxied.status(), 404);

    let mut off = support::test_settings(&redis);
    off.metrics.access = redchat::server::config::MetricsAccess::Off;
    let off = TestApp::spawn_with(off).await;
    let status = TestApp::client()
        .get(off.url("/metrics"))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 404);

    let mut token = support::test_settings(&redis);
    token.metrics.access = redchat::server::config::MetricsAccess::Token;
    token.metrics.token = Some("s3cret-token".into());
    let token = TestApp::spawn_with(token).await;
    let get = |bearer: Option<&str>| {
        let mut request = TestApp::client().get(token.url("/metrics"));
        if let Some(bearer) = bearer {
            request = request.bearer_auth(bearer);
        }
        request.send()
    };
    assert_eq!(get(None).await.unwrap().status(), 404);
    assert_eq!(get(Some("wrong")).await.unwrap().status(), 404);
    assert_eq!(get(Some("s3cret-token")).await.unwrap().status(), 200);
}

/// Whether `key` matches `pattern`, where `*` stands for any run of
/// characters but `:` (one segment of a key name).
fn glob(pattern: &str, key: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == key,
        Some((head, tail)) => {
            let Some(rest) = key.strip_prefix(head) else {
                return false;
            };
            (0..=rest.len())
                .filter(|end| rest.is_char_boundary(*end))
                .take_while(|end| !rest[..*end].contains(':'))
                .any(|end| glob(tail, &rest[end..]))
        }
    }
}

/// The keys that may live without a TTL, each with the bound docs/redis.md
/// gives it: one per account, one per room, or entries that are pruned.
const BOUNDED_WITHOUT_TTL: &[&str] = &[
    "user:{*}",              // one per account
    "user_by_email:*",       // one per account
    "user_by_handle:*",      // one per account
    "user:{*}:rooms",        // one entry per room joined
    "room:{*}",              // one per room
    "room:{*}:members",      // one entry per member
    "room:{*}:read",         // one entry per member (leaving removes it)
    "room:{*}:online",       // members online now (pruned by the sweeper)
    "rooms:public",          // one entry per public room
    "rooms:public:words",    // one entry per distinct word of public rooms' names
    "rooms:public:word:*",   // one entry per public room with the word
    "rooms:public:indexed",  // one key: the word index backfill is done
    "presence",              // users with a live connection (pruned)
    "room:{*}:admins",       // members only (leaving removes them)
    "room:{*}:notify",       // one entry per member who chose (leaving removes it)
    "direct:*",              // one per set of people who opened a direct room
    "user:{*}:hidden",       // one entry per direct room hidden
    "users:handles",         // one entry per account
    "users:handles:indexed", // one key: the handle index backfill is done
    "users:names",           // one entry per word of each account's name
    "users:names:indexed",   // one key: the name index backfill is done
    "rooms:search:indexed",  // one key: the message index backfill is done
];

#[tokio::test]
async fn after_a_day_of_use_every_key_has_a_ttl_or_a_documented_bound() {
    if support::needs_own_redis("walks the whole keyspace") {
        return;
    }
    let redis = RedisServer::start().await;
    let app = TestApp::spawn(&redis).await;
    let prefix = app.settings.redis.key_prefix.clone();
    // A bit of everything: accounts, rooms public and private, invitations
    // answered and not, messages with mentions, typing, read marks, a
    // leave, event streams opened and closed, sessions, rate limits.
    let ann = person(&app, "ann").await;
    let bob = person(&app, "bob").await;
    let carol = person(&app, "carol").await;
    let public = public_room(&app, &ann, &[&bob]).await;
    let private = support::private_room(&app, &ann).await;
    for handle in ["bob", "carol"] {
        ok_json(
            app.call(&ann, "invite", &[("room_id", &private), ("handle", handle)])
                .await,
        )
        .await;
    }
    ok_json(
        app.call(
            &bob,
            "respond_invite",
            &[("room_id", &private), ("accept", "true")],
        )
        .await,
    )
    .await;
    let events = support::EventReader::open(&app, &bob).await;
    let sent = support::send_text(&app, &ann, &public, "hello @bob").await;
    support::send_text(&app, &bob, &private, "hi").await;
    app.call(&bob, "typing", &[("room_id", &public)]).await;
    let up_to = sent["id"].as_str().unwrap();
    app.call(
        &bob,
        "mark_room_read",
        &[("room_id", &public), ("up_to", up_to)],
    )
    .await;
    app.call(&bob, "mark_read", &[("id", "all")]).await;
    // Direct rooms, roles, levels, a removal, a deletion.
    let direct = ok_json(
        app.call(&ann, "open_direct", &[("handles", "bob,carol")])
            .await,
    )
    .await;
    let direct = direct["id"].as_str().unwrap().to_owned();
    support::send_text(&app, &bob, &direct, "hi both").await;
    ok_json(
        app.call(&carol, "hide_direct", &[("room_id", &direct)])
            .await,
    )
    .await;
    ok_json(
        app.call(
            &ann,
            "set_room_notifications",
            &[("room_id", &direct), ("level", "none")],
        )
        .await,
    )
    .await;
    ok_json(
        app.call(
            &ann,
            "set_role",
            &[("room_id", &public), ("handle", "bob"), ("role", "admin")],
        )
        .await,
    )
    .await;
    ok_json(
        app.call(
            &ann,
            "update_room",
            &[("room_id", &public), ("topic", "Hello")],
        )
        .await,
    )
    .await;
    ok_json(app.call(&carol, "join_room", &[("room_id", &public)]).await).await;
    ok_json(
        app.call(
            &bob,
            "remove_member",
            &[("room_id", &public), ("handle", "carol")],
        )
        .await,
    )
    .await;
    ok_json(app.call(&ann, "people", &[("q", "b")]).await).await;
    // Edits, reactions, a reply and a deletion.
    let said = support::send_text(&app, &ann, &direct, "to edit").await;
    let said = said["id"].as_str().unwrap();
    let change = [("room_id", direct.as_str()), ("message_id", said)];
    ok_json(
        app.call(
            &ann,
            "edit_message",
            &[change.as_slice(), &[("body", "edited")]].concat(),
        )
        .await,
    )
    .await;
    ok_json(
        app.call(
            &bob,
            "react",
            &[change.as_slice(), &[("emoji", "👍"), ("on", "true")]].concat(),
        )
        .await,
    )
    .await;
    ok_json(
        app.call(
            &bob,
            "send_message",
            &[
                ("room_id", direct.as_str()),
                ("body", "re"),
                ("client_msg_id", "re1"),
                ("reply_to", said),
            ],
        )
        .await,
    )
    .await;
    ok_json(app.call(&ann, "delete_message", &change).await).await;
    ok_json(app.call(&bob, "search", &[("q", "re")]).await).await;
    let doomed = ok_json(
        app.call(
            &ann,
            "create_room",
            &[("name", "doomed"), ("private", "false")],
        )
        .await,
    )
    .await;
    ok_json(
        app.call(
            &ann,
            "delete_room",
            &[("room_id", doomed["id"].as_str().unwrap())],
        )
        .await,
    )
    .await;
    ok_json(app.call(&bob, "leave_room", &[("room_id", &public)]).await).await;
    app.call(&carol, "logout", &[]).await;
    drop(events);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;

    let (walked, unbounded) = unbounded_keys(redis.connection().await, &prefix).await;
    assert!(walked > 20, "the scenario wrote {walked} keys");
    assert!(
        unbounded.is_empty(),
        "keys with neither a TTL nor a bound: {unbounded:?}"
    );
}

/// Walks every key under `pattern`'s prefix (`KEYS`: a test's own Redis;
/// on a cluster redis-rs asks every primary) and returns how many there
/// were and the names, past each key's app prefix (up to its first `:`),
/// of those with neither a TTL nor a bound in [`BOUNDED_WITHOUT_TTL`].
async fn unbounded_keys(conn: redchat::server::redis::Redis, prefix: &str) -> (usize, Vec<String>) {
    use futures::StreamExt;
    let mut keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query_async(&mut conn.clone())
        .await
        .unwrap();
    keys.sort();
    let walked = keys.len();
    let unbounded = futures::stream::iter(keys)
        .map(|key| {
            let mut conn = conn.clone();
            async move {
                let ttl: i64 = conn.pttl(&key).await.unwrap();
                (ttl, key)
            }
        })
        .buffered(64)
        .filter_map(|(ttl, key)| async move {
            let name = key.split_once(':').map_or(key.as_str(), |(_, name)| name);
            let bounded = BOUNDED_WITHOUT_TTL
                .iter()
                .any(|pattern| glob(pattern, name));
            (ttl == -1 && !bounded).then_some(key)
        })
        .collect()
        .await;
    (walked, unbounded)
}

/// Not a test of its own: `make test` runs it after whole suites, on the
/// Redis they shared: after the integration tests against the Sentinel set
/// and the cluster (every test's keys, under its own `test…:` prefix), and
/// after the browser tests and the load run (`e2e:` and `load:`), with
/// `REDCHAT_KEYSPACE_URL` naming that Redis.
#[tokio::test]
#[ignore = "run by make test after a whole suite"]
async fn after_the_whole_suite_every_key_has_a_ttl_or_a_documented_bound() {
    let conn = match std::env::var("REDCHAT_KEYSPACE_URL") {
        Ok(url) => {
            let settings = redchat::server::config::RedisSettings {
                url,
                ..Default::default()
            };
            redchat::server::redis::connect(&settings).unwrap()
        }
        Err(_) => {
            assert!(
                std::env::var_os("REDCHAT_TEST_TOPOLOGY").is_some(),
                "set REDCHAT_KEYSPACE_URL or REDCHAT_TEST_TOPOLOGY"
            );
            RedisServer::start().await.connection().await
        }
    };
    let (walked, unbounded) = unbounded_keys(conn, "").await;
    eprintln!("walked {walked} keys left by the suite");
    assert!(walked > 100, "a whole suite left only {walked} keys");
    assert!(
        unbounded.is_empty(),
        "{} keys with neither a TTL nor a bound: {:?}",
        unbounded.len(),
        &unbounded[..unbounded.len().min(50)]
    );
}

#[tokio::test]
async fn a_genuine_500_is_logged_once_with_its_cause_and_the_startup_log_names_the_redis() {
    let redis = RedisServer::start().await;
    let prefix = format!("test{}:", uuid::Uuid::new_v4().simple());
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("redchat.log");
    let server = ServerProcess::start_logging_to(&redis, &prefix, &log).await;
    let started = std::fs::read_to_string(&log).unwrap();
    let listening = started
        .lines()
        .find(|line| line.contains("Redchat is listening"))
        .unwrap_or_else(|| panic!("no startup line in {started}"));
    // What Redis answered, not only what the settings say.
    assert!(listening.contains("Redis 7."), "{listening}");
    assert!(listening.contains("role master"), "{listening}");

    // A fault no input can cause: the user's room set holds a string.
    let ann = person_on(&server, "ann").await;
    let me = ok_json(call_on(&server, &ann, "me", &[]).await).await;
    let keys = redchat::server::keys::Keys::new(&prefix);
    let mut admin = redis.connection().await;
    let _: () = admin
        .set(keys.user_rooms(me["id"].as_str().unwrap()), "not a set")
        .await
        .unwrap();
    let response = call_on(&server, &ann, "rooms", &[]).await;
    assert_eq!(response.status(), 500);
    let body = response.text().await.unwrap();
    assert!(!body.contains("WRONGTYPE"), "the cause stays on the server");

    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let text = std::fs::read_to_string(&log).unwrap();
    let logged: Vec<&str> = text.lines().filter(|l| l.contains("WRONGTYPE")).collect();
    assert_eq!(logged.len(), 1, "logged once: {logged:#?}");
    let errors: Vec<&str> = text.lines().filter(|l| l.contains("ERROR")).collect();
    assert_eq!(errors.len(), 1, "and nothing else logs it: {errors:#?}");
    let line = logged[0];
    assert!(line.contains("ERROR"), "{line}");
    assert!(line.contains("internal error"), "{line}");
    assert!(line.contains("redis command failed"), "the context: {line}");
    assert!(line.contains("/api/rooms"), "the request's path: {line}");
    eprintln!("{listening}\n{line}");
}
