//! Baseline (a): raw Redis Pub/Sub, publisher to subscriber, at the same
//! rate as a Redchat run: what Redis alone costs in latency, the floor
//! under anything built on it.
//!
//! One connection `PUBLISH`es a message-sized JSON payload to one of
//! `rooms` channels at the scheduled times (open loop, as the HTTP sends),
//! and `subscribers` Pub/Sub connections (one per app process it stands
//! for) are subscribed to every channel. Latency runs from the scheduled
//! time to the arrival at each subscriber; every payload carries a sequence
//! number, so losses, duplicates and reorderings are counted as in the main
//! run.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use futures::StreamExt;
use hdrhistogram::Histogram;

pub struct Report {
    pub latencies: Histogram<u64>,
    pub delivered: u64,
    pub expected: u64,
    pub lost: u64,
    pub duplicated: u64,
    pub reordered: u64,
    pub sending: Duration,
}

pub async fn run(
    redis_url: &str,
    rooms: usize,
    subscribers: usize,
    rate: f64,
    seconds: f64,
) -> Report {
    let client = redis::Client::open(redis_url).expect("a valid --redis-url");
    let run = uuid::Uuid::new_v4().simple().to_string();
    let channels: Vec<String> = (0..rooms.max(1))
        .map(|i| format!("baseline:{run}:room:{i}"))
        .collect();
    let total = (rate * seconds).round() as u64;
    let start = Instant::now() + Duration::from_millis(500);
    let mut readers = Vec::new();
    for _ in 0..subscribers.max(1) {
        let mut pubsub = client
            .get_async_pubsub()
            .await
            .expect("a Pub/Sub connection");
        for channel in &channels {
            pubsub.subscribe(channel).await.expect("subscribed");
        }
        readers.push(tokio::spawn(async move {
            let mut stream = pubsub.into_on_message();
            let mut latencies = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap();
            let mut seen = HashSet::new();
            let (mut last, mut duplicated, mut reordered) = (None::<u64>, 0u64, 0u64);
            let deadline = start + Duration::from_secs_f64(seconds) + Duration::from_secs(5);
            while seen.len() < total as usize {
                let Ok(Some(message)) =
                    tokio::time::timeout_at(deadline.into(), stream.next()).await
                else {
                    break;
                };
                let arrived = Instant::now();
                let payload: serde_json::Value =
                    serde_json::from_slice(message.get_payload_bytes()).unwrap_or_default();
                let Some(n) = payload["seq"].as_u64() else {
                    continue;
                };
                if !seen.insert(n) {
                    duplicated += 1;
                    continue;
                }
                if last.is_some_and(|last| n < last) {
                    reordered += 1;
                }
                last = Some(n);
                let scheduled = start + Duration::from_secs_f64(n as f64 / rate);
                let micros = arrived.saturating_duration_since(scheduled).as_micros() as u64;
                let _ = latencies.record(micros.max(1));
            }
            (latencies, seen.len() as u64, duplicated, reordered)
        }));
    }
    let mut publisher = client
        .get_multiplexed_async_connection()
        .await
        .expect("a connection");
    // About the size of a stored message as the send script publishes it.
    let body = "load";
    for n in 0..total {
        let scheduled = start + Duration::from_secs_f64(n as f64 / rate);
        tokio::time::sleep_until(scheduled.into()).await;
        let channel = &channels[n as usize % channels.len()];
        let payload = serde_json::json!({
            "seq": n, "id": format!("{}-0", 1_700_000_000_000u64 + n),
            "room_id": channel, "body": body, "client_msg_id": format!("{run}-{n}"),
            "sent_at": 1_700_000_000_000u64 + n,
            "author": { "id": run, "handle": "loadgen", "display_name": "loadgen" },
        });
        // In order, from one task (so the subscribers' order check means
        // something). A PUBLISH that runs late does not move the schedule:
        // the next one's latency still counts from its own scheduled time.
        let _: Result<i64, _> = redis::cmd("PUBLISH")
            .arg(channel)
            .arg(payload.to_string())
            .query_async(&mut publisher)
            .await;
    }
    let sending = start.elapsed();
    let mut report = Report {
        latencies: Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap(),
        delivered: 0,
        expected: total * subscribers.max(1) as u64,
        lost: 0,
        duplicated: 0,
        reordered: 0,
        sending,
    };
    for reader in readers {
        let (latencies, delivered, duplicated, reordered) = reader.await.expect("a reader");
        report.latencies.add(&latencies).unwrap();
        report.delivered += delivered;
        report.lost += total - delivered;
        report.duplicated += duplicated;
        report.reordered += reordered;
    }
    report
}
