//! Message latency while someone floods the server with wrong passwords.
//!
//! Sends messages at a steady rate and measures each `send_message` round
//! trip (from its scheduled time, so a stalled server cannot hide its
//! backlog), first alone, then while `--flooders` tasks post bad sign-ins
//! as fast as they are answered. Prints p50/p99/max for both and what the
//! flood got back (401: a hash was computed; 429: refused by a rate limit or
//! by the bounded hashing queue).
//!
//!   cargo run --release --features ssr --example login_flood -- \
//!       http://127.0.0.1:3000 [rate=50] [seconds=10] [flooders=64]
//!
//! Drive only a server you started (docs/security.md has the exact run).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

async fn form(
    client: &reqwest::Client,
    base: &str,
    endpoint: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    client
        .post(format!("{base}/api/{endpoint}"))
        .form(fields)
        .send()
        .await
        .expect("the server answers")
}

/// Sends `rate` messages a second for `seconds`; the latencies, sorted.
async fn measure(
    client: &reqwest::Client,
    base: &str,
    room: &str,
    rate: u32,
    seconds: u32,
) -> Vec<Duration> {
    let interval = Duration::from_secs(1) / rate;
    let start = Instant::now();
    let mut sends = Vec::new();
    for i in 0..rate * seconds {
        let scheduled = start + interval * i;
        tokio::time::sleep_until(scheduled.into()).await;
        let (client, base, room) = (client.clone(), base.to_owned(), room.to_owned());
        sends.push(tokio::spawn(async move {
            let cmid = uuid::Uuid::new_v4().to_string();
            let response = form(
                &client,
                &base,
                "send_message",
                &[
                    ("room_id", &room),
                    ("body", "ping"),
                    ("client_msg_id", &cmid),
                ],
            )
            .await;
            assert_eq!(response.status(), 200, "send_message failed");
            scheduled.elapsed()
        }));
    }
    let mut latencies = Vec::new();
    for send in sends {
        latencies.push(send.await.expect("a send task"));
    }
    latencies.sort();
    latencies
}

fn report(name: &str, latencies: &[Duration]) {
    println!(
        "{name:<22} n={:<5} p50={:>7.2} ms  p99={:>7.2} ms  max={:>7.2} ms",
        latencies.len(),
        percentile(latencies, 50.0).as_secs_f64() * 1000.0,
        percentile(latencies, 99.0).as_secs_f64() * 1000.0,
        latencies.last().copied().unwrap_or_default().as_secs_f64() * 1000.0,
    );
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let base = args
        .get(1)
        .cloned()
        .unwrap_or_else(|| "http://127.0.0.1:3000".into());
    let rate: u32 = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(50);
    let seconds: u32 = args.get(3).and_then(|a| a.parse().ok()).unwrap_or(10);
    let flooders: usize = args.get(4).and_then(|a| a.parse().ok()).unwrap_or(64);

    let sender = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let id = uuid::Uuid::new_v4().simple().to_string();
    let email = format!("flood-{id}@example.com");
    let handle = format!("f{}", &id[..12]);
    let registered = form(
        &sender,
        &base,
        "register",
        &[
            ("email", &email),
            ("password", "correct horse battery"),
            ("display_name", "Sender"),
            ("handle", &handle),
        ],
    )
    .await;
    assert_eq!(
        registered.status(),
        200,
        "register: {}",
        registered.text().await.unwrap_or_default()
    );
    let room: serde_json::Value = form(
        &sender,
        &base,
        "create_room",
        &[("name", "flood"), ("private", "true")],
    )
    .await
    .json()
    .await
    .unwrap();
    let room = room["id"].as_str().expect("a room").to_owned();

    let quiet = measure(&sender, &base, &room, rate, seconds).await;

    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut flood = Vec::new();
    for _ in 0..flooders {
        let (stop, base, email) = (stop.clone(), base.clone(), email.clone());
        flood.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut statuses: BTreeMap<u16, u64> = BTreeMap::new();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let status = form(
                    &client,
                    &base,
                    "login",
                    &[("email", &email), ("password", "wrong password!")],
                )
                .await
                .status()
                .as_u16();
                *statuses.entry(status).or_default() += 1;
            }
            statuses
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let flooded = measure(&sender, &base, &room, rate, seconds).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut totals: BTreeMap<u16, u64> = BTreeMap::new();
    for task in flood {
        for (status, count) in task.await.unwrap() {
            *totals.entry(status).or_default() += count;
        }
    }

    println!("send_message at {rate}/s for {seconds} s, {flooders} concurrent bad sign-in loops:");
    report("without flood", &quiet);
    report("during flood", &flooded);
    println!("flood answers by status: {totals:?}");
}
