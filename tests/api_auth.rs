//! Accounts and sessions through HTTP against a real Redis.

#![cfg(feature = "ssr")]

mod support;

use std::time::Duration;

use redis::AsyncCommands;
use support::{error_message, RedisServer, TestApp, PASSWORD};

#[tokio::test]
async fn register_returns_the_user_and_signs_them_in() {
    let redis = RedisServer::start().await;
    let app = TestApp::spawn(&redis).await;
    let client = TestApp::client();

    let response = app.register(&client, "Ann@Example.com", "Ann").await;
    assert_eq!(response.status(), 200);
    let user: serde_json::Value = response.json().await.unwrap();
    assert_eq!(
        user["email"], "Ann@Example.com",
        "the email is stored as given"
    );
    assert_eq!(user["handle"], "ann");
    assert_eq!(user["display_name"], "Test Person");
    assert!(user["id"].as_str().is_some_and(|id| !id.is_empty()));

    let me = app.me(&client).await;
    assert_eq!(me["id"], user["id"]);
}

#[tokio::test]
async fn me_is_null_when_signed_out() {
    let redis = RedisServer::start().await;
    let app = TestApp::spawn(&redis).await;
    assert!(app.me(&TestApp::client()).await.is_null());
}

#[tokio::test]
async fn registering_a_taken_email_in_another_case_is_a_conflict() {
    let redis = RedisServer::start().await;
    let app = TestApp::spawn(&redis).await;
    assert_eq!(
        app.register(&TestApp::client(), "ann@example.com", "ann")
            .await
            .status(),
        200
    );

    let response = app
        .register(&TestApp::client(), "ANN@example.COM", "other")
        .await;
    assert_eq!(response.status(), 409);
    assert_eq!(
        error_message(response).await,
        "That email is already registered."
    );
}

#[tokio::test]
async fn registering_a_taken_handle_in_another_case_is_a_conflict() {
    let redis = RedisServer::start().await;
    let app = TestApp::spawn(&redis).await;
    assert_eq!(
        app.register(&TestApp::client(), "ann@example.com", "ann")
            .await
            .status(),
        200
    );

    let response = app
        .register(&TestApp::client(), "bob@example.com", "ANN")
        .await;
    assert_eq!(response.status(), 409);
    assert_eq!(
        error_message(response).await,
        "That handle is already taken."
    );
}

#[tokio::test]
async fn a_bad_email_is_a_bad_request_naming_the_field() {
    let redis = RedisServer::start().await;
    let app = TestApp::spawn(&redis).await;
    for email in ["no-at-sign", "two@@example.com", "spa ce@example.com", ""] {
        let response = app.register(&TestApp::client(), email, "ann").await;
        assert_eq!(response.status(), 400, "{email:?}");
        assert!(
            error_message(response).await.starts_with("Email"),
            "{email:?}"
        );
    }
}

#[tokio::test]
async fn a_short_password_is_a_bad_request_and_creates_nothing() {
    let redis = RedisServer::start().await;
    let app = TestApp::spawn(&redis).await;
    let client = TestApp::client();
    let response = app
        .call(
            &client,
            "register",
            &[
                ("email", "ann@example.com"),
                ("password", "1234567"),
                ("display_name", "Ann"),
                ("handle", "ann"),
            ],
        )
        .await;
    assert_eq!(response.status(), 400);
    assert!(error_message(response).await.starts_with("Password"));
    assert_eq!(
        app.register(&client, "ann@example.com", "ann")
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn a_missing_field_is_a_bad_request() {
    let redis = RedisServer::start().await;
    let app = TestApp::spawn(&redis).await;
    let response = app
        .call(
            &TestApp::client(),
            "register",
            &[("email", "ann@example.com")],
        )
        .await;
    assert_eq!(response.status(), 400);
}

#[tokio::test]
async fn concurrent_sign_ups_with_one_email_create_exactly_one_account() {
    let statuses = race_sign_ups(|i| ("race@example.com".into(), format!("racer{i}"))).await;
    assert_eq!(statuses, [200, 409, 409, 409, 409, 409, 409, 409]);
}

#[tokio::test]
async fn concurrent_sign_ups_with_one_handle_create_exactly_one_account() {
    let statuses = race_sign_ups(|i| (format!("racer{i}@example.com"), "racer".into())).await;
    assert_eq!(statuses, [200, 409, 409, 409, 409, 409, 409, 409]);
}

/// Eight sign-ups at once, the i-th with `account(i)` as (email, handle);
/// their statuses, sorted.
async fn race_sign_ups(account: impl Fn(usize) -> (String, String)) -> Vec<u16> {
    let redis = RedisServer::start().await;
    let app = TestApp::spawn(&redis).await;
    let attempts = (0..8).map(|i| {
        let (email, handle) = account(i);
        let app = &app;
        async move {
            app.register(&TestApp::client(), &email, &handle)
                .await
                .status()
                .as_u16()
        }
    });
    let mut statuses = futures::future::join_all(attempts).await;
    statuses.sort_unstable();
    statuses
}

#[tokio::test]
async fn the_password_is_stored_as_an_argon2id_phc_string() {
    let redis = RedisServer::start().await;
    let app = TestApp::spawn(&redis).await;
    let user: serde_json::Value = app
        .register(&TestApp::client(), "ann@example.com", "ann")
        .await
        .json()
        .await
        .unwrap();
    let key = redchat::server::keys::Keys::new(&app.settings.redis.key_prefix)
        .user(user["id"].as_str().unwrap());
    let hash: String = redis
        .connection()
        .await
        .hget(key, "password_hash")
        .await
        .unwrap();
    assert!(
        hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{hash}"
    );
    assert!(!hash.contains(PASSWORD));
}

#[tokio::test]
async fn login_with_the_right_password_signs_in_with_a_new_session_id() {
    let redis = RedisServer::start().await;
    let app = TestApp::spawn(&redis).await;
    let client = TestApp::client();
    let before = session_cookie(&app.register(&client, "ann@example.com", "ann").await)
        .expect("register sets the session cookie");

    let response = app
        .call(
            &client,
            "login",
            &[("email", "ANN@example.com"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(response.status(), 200);
    let after = session_cookie(&response).expect("login sets the session cookie");
    assert_ne!(before, after, "the session id is cycled at login");
    let user: serde_json::Value = response.json().await.unwrap();
    assert_eq!(user["handle"], "ann");
    assert_eq!(app.me(&client).await["handle"], "ann");
    assert!(
        me_with_cookie(&app, &before).await.is_null(),
        "the old id is worthless"
    );
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_email_get_the_same_answer() {
    let redis = RedisServer::start().await;
    let app = TestApp::spawn(&redis).await;
    app.register(&TestApp::client(), "ann@example.com", "ann")
        .await;

    let client = TestApp::client();
    let wrong_password = app
        .call(
            &client,
            "login",
            &[
                ("email", "ann@example.com"),
                ("password", "not the password"),
            ],
        )
        .await;
    let unknown_email = app
        .call(
            &client,
            "login",
            &[("email", "nobody@example.com"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(wrong_password.status(), 401);
    assert_eq!(unknown_email.status(), 401);
    assert_eq!(
        error_message(wrong_password).await,
        error_message(unknown_email).await
    );
    assert!(app.me(&client).await.is_null());
}

#[tokio::test]
async fn a_password_is_used_verbatim() {
    let redis = RedisServer::start().await;
    let app = TestApp::spawn(&redis).await;
    let password = "  ünïcödé pass  ";
    let form = [
        ("email", "ann@example.com"),
        ("password", password),
        ("display_name", "Ann"),
        ("handle", "ann"),
    ];
    assert_eq!(
        app.call(&TestApp::client(), "register", &form)
            .await
            .status(),
        200
    );

    let login = |password: &'static str| {
        let app = &app;
        async move {
            app.call(
                &TestApp::client(),
                "login",
                &[("email", "ann@example.com"), ("password", password)],
            )
            .await
            .status()
        }
    };
    assert_eq!(login("  ünïcödé pass  ").await, 200);
    assert_eq!(login("ünïcödé pass").await, 401, "no trimming");
}

#[tokio::test]
async fn logout_deletes_the_session_so_an_old_cookie_is_anonymous() {
    let redis = RedisServer::start().await;
    let app = TestApp::spawn(&redis).await;
    let client = TestApp::client();
    let response = app.register(&client, "ann@example.com", "ann").await;
    let cookie = session_cookie(&response).expect("register sets the session cookie");
    let session_keys = format!("{}session:*", app.settings.redis.key_prefix);
    let mut conn = redis.connection().await;
    let keys: Vec<String> = conn.keys(&session_keys).await.unwrap();
    assert_eq!(keys.len(), 1, "one session in Redis");

    assert_eq!(app.call(&client, "logout", &[]).await.status(), 200);

    let keys: Vec<String> = conn.keys(&session_keys).await.unwrap();
    assert!(keys.is_empty(), "the session is gone from Redis: {keys:?}");
    assert!(me_with_cookie(&app, &cookie).await.is_null());
}

#[tokio::test]
async fn a_session_survives_an_app_restart() {
    if support::needs_own_redis("restarts Redis") {
        return;
    }
    let redis = RedisServer::start().await;
    let first = TestApp::spawn(&redis).await;
    let settings = first.settings.clone();
    let client = TestApp::client();
    first.register(&client, "ann@example.com", "ann").await;
    first.stop().await;

    let second = TestApp::spawn_with(settings).await;
    assert_eq!(second.me(&client).await["handle"], "ann");
}

/// For tests that edit session records in Redis behind the server's back,
/// which a process's session cache would not see (see `session_store`).
async fn spawn_without_session_cache(redis: &RedisServer) -> TestApp {
    let mut settings = support::test_settings(redis);
    settings.session.cache_secs = 0;
    TestApp::spawn_with(settings).await
}

#[tokio::test]
async fn a_session_ends_after_its_absolute_lifetime_however_active() {
    let redis = RedisServer::start().await;
    let app = spawn_without_session_cache(&redis).await;
    let client = TestApp::client();
    app.register(&client, "ann@example.com", "ann").await;
    assert_eq!(app.me(&client).await["handle"], "ann");

    // Back-date the sign-in to 31 days ago; the session was used a moment ago.
    let (key, record) = only_session(&redis, &app).await;
    let record = with_field(&record, "signed_in_at", now_secs() - 31 * 86_400);
    store_session(&redis, &key, &record).await;

    assert!(app.me(&client).await.is_null());
    let remaining: Vec<String> = redis.connection().await.keys(&key).await.unwrap();
    assert!(remaining.is_empty(), "the expired session is deleted");
}

#[tokio::test]
async fn using_a_session_pushes_its_expiry_forward() {
    let redis = RedisServer::start().await;
    let app = spawn_without_session_cache(&redis).await;
    let client = TestApp::client();
    app.register(&client, "ann@example.com", "ann").await;
    let week = 7 * 86_400;
    let (key, record) = only_session(&redis, &app).await;
    let ttl: i64 = redis.connection().await.ttl(&key).await.unwrap();
    assert!(
        (week - 60..=week).contains(&ttl),
        "a fresh session lives 7 days: {ttl}"
    );

    // Pretend the last renewal was a day ago and the key expires in an hour.
    let record = with_field(&record, "renewed_at", now_secs() - 86_400);
    store_session(&redis, &key, &record).await;
    let _: () = redis.connection().await.expire(&key, 3600).await.unwrap();

    assert_eq!(app.me(&client).await["handle"], "ann");
    let ttl: i64 = redis.connection().await.ttl(&key).await.unwrap();
    assert!(
        (week - 60..=week).contains(&ttl),
        "renewed to 7 days: {ttl}"
    );
}

#[tokio::test]
async fn a_session_never_outlives_its_absolute_lifetime() {
    let redis = RedisServer::start().await;
    let app = spawn_without_session_cache(&redis).await;
    let client = TestApp::client();
    app.register(&client, "ann@example.com", "ann").await;

    // Signed in 29.5 days ago: the renewal may only reach day 30.
    let (key, record) = only_session(&redis, &app).await;
    let record = with_field(&record, "signed_in_at", now_secs() - 29 * 86_400 - 43_200);
    let record = with_field(&record, "renewed_at", 0);
    store_session(&redis, &key, &record).await;

    assert_eq!(app.me(&client).await["handle"], "ann");
    let ttl: i64 = redis.connection().await.ttl(&key).await.unwrap();
    assert!(
        (43_200 - 60..=43_200).contains(&ttl),
        "capped at 30 days: {ttl}"
    );
}

#[tokio::test]
async fn the_session_cookie_is_http_only_lax_and_secure_when_configured() {
    let redis = RedisServer::start().await;
    let mut settings = support::test_settings(&redis);
    settings.session.cookie_secure = true;
    let app = TestApp::spawn_with(settings).await;
    let response = app
        .register(&TestApp::client(), "ann@example.com", "ann")
        .await;
    let set_cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    for attribute in ["HttpOnly", "SameSite=Lax", "Secure", "Path=/"] {
        assert!(
            set_cookie.contains(attribute),
            "{attribute} missing from {set_cookie}"
        );
    }
}

#[tokio::test]
async fn every_key_the_app_writes_starts_with_the_prefix() {
    if support::needs_own_redis("reads every key of the server") {
        return;
    }
    let redis = RedisServer::start().await;
    let app = TestApp::spawn(&redis).await;
    let client = TestApp::client();
    app.register(&client, "ann@example.com", "ann").await;
    app.call(
        &client,
        "login",
        &[("email", "ann@example.com"), ("password", PASSWORD)],
    )
    .await;
    let keys: Vec<String> = redis.connection().await.keys("*").await.unwrap();
    assert!(keys.len() >= 4, "user, two indexes, session: {keys:?}");
    for key in keys {
        assert!(key.starts_with(&app.settings.redis.key_prefix), "{key}");
    }
}

#[tokio::test]
async fn a_plain_form_post_with_a_wrong_password_redirects_back_with_the_error() {
    let redis = RedisServer::start().await;
    let app = TestApp::spawn(&redis).await;
    let response = TestApp::client()
        .post(app.url("/api/login"))
        .header("accept", "text/html")
        .header("referer", app.url("/login"))
        .form(&[("email", "ann@example.com"), ("password", "wrong password")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 302);
    let location = response.headers()["location"].to_str().unwrap();
    assert!(location.contains("/login?"), "{location}");
    assert!(location.contains("__err="), "{location}");
    let page = |url: String| async move {
        TestApp::client()
            .get(url)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    let shown = page(app.url(&location[location.find("/login").unwrap()..])).await;
    assert!(shown.contains("Wrong email or password."), "{shown}");

    // A crafted link with an error of its own: its text is never shown,
    // only the fixed text for its kind.
    use base64::Engine;
    let crafted = base64::engine::general_purpose::URL_SAFE
        .encode(r#"{"status":400,"error":"Your account is locked. Call 555-0100 now."}"#);
    let shown = page(app.url(&format!("/login?__path=/api/login&__err={crafted}"))).await;
    assert!(!shown.contains("555-0100"), "foreign text shown");
    assert!(shown.contains("Please check the form"), "{shown}");
}

#[tokio::test]
async fn the_home_page_sends_a_signed_out_visitor_to_sign_in() {
    let redis = RedisServer::start().await;
    let app = TestApp::spawn(&redis).await;
    let response = TestApp::client()
        .get(app.url("/"))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 302);
    assert_eq!(response.headers()["location"], "/login");

    let page = TestApp::client()
        .get(app.url("/login"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("Sign in"));
}

#[tokio::test]
async fn health_is_200_with_redis_and_503_without() {
    if support::needs_own_redis("stops Redis") {
        return;
    }
    let mut redis = RedisServer::start().await;
    let app = TestApp::spawn(&redis).await;
    let health = || async { reqwest::get(app.url("/healthz")).await.unwrap().status() };
    assert_eq!(health().await, 200);

    redis.stop();
    assert_eq!(health().await, 503);

    redis.restart().await;
    assert_eq!(
        health_once_settled(&app).await,
        200,
        "the app reconnects once Redis is back"
    );
}

#[tokio::test]
async fn a_body_over_the_limit_is_refused_with_413() {
    let redis = RedisServer::start().await;
    let app = TestApp::spawn(&redis).await;
    let huge = "x".repeat(redchat::router::MAX_REQUEST_BYTES + 1);
    let response = app
        .call(
            &TestApp::client(),
            "login",
            &[("email", "a@b.c"), ("password", &huge)],
        )
        .await;
    assert_eq!(response.status(), 413);
}

#[tokio::test]
async fn a_form_body_that_is_not_utf8_is_a_bad_request() {
    let redis = RedisServer::start().await;
    let app = TestApp::spawn(&redis).await;
    let response = TestApp::client()
        .post(app.url("/api/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(b"email=a%40b.c&password=\xff\xfe".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let response = TestApp::client()
        .post(app.url("/api/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(vec![b'e', b'=', 0xff, 0xfe])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
}

#[tokio::test]
async fn the_app_starts_while_redis_is_down_and_recovers_when_it_is_up() {
    if support::needs_own_redis("stops Redis") {
        return;
    }
    let mut redis = RedisServer::start().await;
    redis.stop();
    let app = TestApp::spawn(&redis).await;
    let health = || async { reqwest::get(app.url("/healthz")).await.unwrap().status() };
    assert_eq!(health().await, 503);

    redis.restart().await;
    assert_eq!(health_once_settled(&app).await, 200);
}

/// `/healthz`, asked until it answers 200 or four seconds have passed.
async fn health_once_settled(app: &TestApp) -> u16 {
    let mut status = 0;
    for _ in 0..40 {
        status = reqwest::get(app.url("/healthz"))
            .await
            .unwrap()
            .status()
            .as_u16();
        if status == 200 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    status
}

/// The one session in Redis: its key and its record as JSON text. (Text,
/// not `serde_json::Value`: the record's 128-bit id does not survive a
/// round trip through `Value`.)
async fn only_session(redis: &RedisServer, app: &TestApp) -> (String, String) {
    let mut conn = redis.connection().await;
    let pattern = format!("{}session:*", app.settings.redis.key_prefix);
    let keys: Vec<String> = conn.keys(&pattern).await.unwrap();
    assert_eq!(keys.len(), 1, "{keys:?}");
    let json: String = conn.get(&keys[0]).await.unwrap();
    (keys[0].clone(), json)
}

/// The record with one numeric session field replaced.
fn with_field(record: &str, field: &str, value: u64) -> String {
    let marker = format!("\"{field}\":");
    let start = record
        .find(&marker)
        .unwrap_or_else(|| panic!("{field} in {record}"))
        + marker.len();
    let end = start + record[start..].find(|c: char| !c.is_ascii_digit()).unwrap();
    format!("{}{value}{}", &record[..start], &record[end..])
}

/// Overwrites a session record, keeping its TTL.
async fn store_session(redis: &RedisServer, key: &str, record: &str) {
    let _: () = redis::cmd("SET")
        .arg(key)
        .arg(record)
        .arg("KEEPTTL")
        .query_async(&mut redis.connection().await)
        .await
        .unwrap();
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// `me`, asked by a client that sends exactly this session cookie.
async fn me_with_cookie(app: &TestApp, cookie: &str) -> serde_json::Value {
    let response = reqwest::Client::new()
        .post(app.url("/api/me"))
        .header(
            "cookie",
            format!("{}={cookie}", app.settings.session.cookie_name()),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// The value of the session cookie a response sets, if any.
fn session_cookie(response: &reqwest::Response) -> Option<String> {
    response
        .cookies()
        .find(|cookie| cookie.name() == "redchat_session")
        .map(|cookie| cookie.value().to_owned())
}

/// Ann signed in twice: the client that registered, and a second one.
async fn ann_on_two_devices(app: &TestApp) -> (reqwest::Client, reqwest::Client) {
    let first = support::person(app, "ann").await;
    let second = TestApp::client();
    let login = [
        ("email", "ann@example.com"),
        ("password", support::PASSWORD),
    ];
    support::ok_json(app.call(&second, "login", &login).await).await;
    (first, second)
}

#[tokio::test]
async fn signing_out_everywhere_ends_the_other_sessions_and_their_streams() {
    let redis = RedisServer::start().await;
    let app = TestApp::spawn(&redis).await;
    let (here, elsewhere) = ann_on_two_devices(&app).await;
    let mut stream = support::EventReader::open(&app, &elsewhere).await;

    let ended = support::ok_json(app.call(&here, "sign_out_everywhere", &[]).await).await;
    assert_eq!(ended, 1);
    let started = std::time::Instant::now();
    while let Some(event) = stream.next_within(Duration::from_secs(5)).await {
        assert_ne!(event.event, "message", "{event:?}");
    }
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "the stream ended at once"
    );
    assert!(app.me(&elsewhere).await.is_null());
    assert_eq!(app.me(&here).await["handle"], "ann");
    assert_eq!(
        TestApp::client()
            .get(app.url("/api/events"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
}

#[tokio::test]
async fn sessions_are_listed_and_one_can_be_revoked() {
    let redis = RedisServer::start().await;
    let app = TestApp::spawn(&redis).await;
    let (here, elsewhere) = ann_on_two_devices(&app).await;
    let list = support::ok_json(app.call(&here, "sessions", &[]).await).await;
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list.iter().filter(|s| s["current"] == true).count(), 1);
    let other = list.iter().find(|s| s["current"] == false).unwrap();
    assert!(other["address"].as_str().unwrap().starts_with("127.0.0.1"));

    let handle = other["handle"].as_str().unwrap();
    support::ok_json(
        app.call(&here, "revoke_session", &[("handle", handle)])
            .await,
    )
    .await;
    assert!(app.me(&elsewhere).await.is_null());
    assert_eq!(
        app.call(&here, "revoke_session", &[("handle", handle)])
            .await
            .status(),
        404
    );
    assert_eq!(
        app.call(&here, "revoke_session", &[("handle", "nope")])
            .await
            .status(),
        400
    );
    assert_eq!(
        app.call(&TestApp::client(), "sessions", &[]).await.status(),
        401
    );
    // Signing out takes the session off the list.
    support::ok_json(app.call(&here, "logout", &[]).await).await;
    let again = TestApp::client();
    let login = [
        ("email", "ann@example.com"),
        ("password", support::PASSWORD),
    ];
    support::ok_json(app.call(&again, "login", &login).await).await;
    let list = support::ok_json(app.call(&again, "sessions", &[]).await).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn changing_the_password_needs_the_current_one_and_ends_other_sessions() {
    let redis = RedisServer::start().await;
    let app = TestApp::spawn(&redis).await;
    let (here, elsewhere) = ann_on_two_devices(&app).await;
    let new_password = "a brand new passphrase";
    let wrong = app
        .call(
            &here,
            "change_password",
            &[
                ("current_password", "not it at all"),
                ("new_password", new_password),
            ],
        )
        .await;
    assert_eq!(wrong.status(), 401);
    let short = app
        .call(
            &here,
            "change_password",
            &[
                ("current_password", support::PASSWORD),
                ("new_password", "short"),
            ],
        )
        .await;
    assert_eq!(short.status(), 400);
    support::ok_json(
        app.call(
            &here,
            "change_password",
            &[
                ("current_password", support::PASSWORD),
                ("new_password", new_password),
            ],
        )
        .await,
    )
    .await;
    assert!(
        app.me(&elsewhere).await.is_null(),
        "the other session ended"
    );
    assert_eq!(app.me(&here).await["handle"], "ann", "this one goes on");
    let client = TestApp::client();
    let old = [
        ("email", "ann@example.com"),
        ("password", support::PASSWORD),
    ];
    assert_eq!(app.call(&client, "login", &old).await.status(), 401);
    let new = [("email", "ann@example.com"), ("password", new_password)];
    support::ok_json(app.call(&client, "login", &new).await).await;
}

#[tokio::test]
async fn a_session_idle_past_the_inactivity_limit_is_not_listed() {
    let redis = RedisServer::start().await;
    let app = TestApp::spawn(&redis).await;
    let (here, _elsewhere) = ann_on_two_devices(&app).await;
    let list = support::ok_json(app.call(&here, "sessions", &[]).await).await;
    let other = list
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["current"] == false)
        .unwrap()
        .clone();
    // Make the other sign-in eight days old and unused since.
    let eight_days_ago = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        - 8 * 86_400;
    let mut aged = other.clone();
    aged["signed_in_at"] = eight_days_ago.into();
    aged["last_seen"] = eight_days_ago.into();
    aged.as_object_mut().unwrap().remove("current");
    let mut conn = redis.connection().await;
    let keys: Vec<String> = conn
        .keys(format!("{}user:*:sessions", app.settings.redis.key_prefix))
        .await
        .unwrap();
    let _: i64 = conn
        .hset(
            &keys[0],
            other["handle"].as_str().unwrap(),
            aged.to_string(),
        )
        .await
        .unwrap();

    let list = support::ok_json(app.call(&here, "sessions", &[]).await).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["current"], true);
}

#[tokio::test]
async fn a_revoked_sign_in_cannot_send_even_from_a_cached_session() {
    let redis = RedisServer::start().await;
    let app = TestApp::spawn(&redis).await;
    let (here, elsewhere) = ann_on_two_devices(&app).await;
    let room = support::public_room(&app, &here, &[]).await;
    let form = |cmid| {
        [
            ("room_id", room.as_str()),
            ("body", "hi"),
            ("client_msg_id", cmid),
        ]
    };
    // Both sessions are in the process's session cache by now.
    support::ok_json(app.call(&elsewhere, "send_message", &form("c1")).await).await;
    support::ok_json(app.call(&here, "sign_out_everywhere", &[]).await).await;
    let refused = app.call(&elsewhere, "send_message", &form("c2")).await;
    assert_eq!(refused.status(), 401);
    assert_eq!(
        support::error_message(refused).await,
        "You are not signed in."
    );
    // The refusal signed that session out for good.
    assert!(app.me(&elsewhere).await.is_null());
    let history = support::ok_json(app.call(&here, "history", &[("room_id", &room)]).await).await;
    assert_eq!(history.as_array().unwrap().len(), 1, "nothing stored");
}
