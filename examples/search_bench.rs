//! The search benchmark (docs/performance.md, "Search"): what the message
//! search index costs and how fast it answers, on a Redis of its own.
//!
//! 1. The send path with and without the index, in the same run: two apps
//!    on one Redis (`messages.search_index` on and off), sending the same
//!    kind of messages over HTTP in alternating blocks; Redis CPU per send
//!    (`INFO cpu`) and the send script's time per call (`INFO
//!    commandstats`, `evalsha`).
//! 2. For each corpus size (default 100,000 and 1,000,000 messages, over
//!    20 rooms): the streams are written with `XADD` (the fields the send
//!    script writes) and indexed with the send path's own Lua; Redis memory
//!    per message (`INFO memory` deltas) for the streams and for the index;
//!    then search latency over HTTP (p50/p99) for one-word, two-word and
//!    prefix queries, in one room and across the 20.
//!
//! Text comes from a generated Zipf vocabulary (50,000 words, s = 1.07,
//! frequent words short; 3 to 22 words a message), from a fixed seed.
//!
//!   cargo run --release --features ssr --example search_bench -- [sizes=100000,1000000]
//!
//! It starts (and stops) its own `redis-server` on a free loopback port.

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use redchat::messages::model::MessageId;
use redchat::server::keys::Keys;
use support::{ok_json, RedisServer, TestApp};

const ROOMS: usize = 20;
const QUERIES: usize = 200;
const SEND_BLOCK: usize = 500;
const SEND_BLOCKS: usize = 4;

/// xorshift64*: a fixed-seed generator, enough for text.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Words ranked by frequency, and the cumulative Zipf distribution.
struct Vocabulary {
    words: Vec<String>,
    cdf: Vec<f64>,
}

impl Vocabulary {
    fn zipf(size: usize, s: f64) -> Self {
        const SYLLABLES: [&str; 40] = [
            "ka", "to", "ri", "mu", "se", "na", "lo", "pe", "di", "ga", "vo", "ne", "sa", "tu",
            "mi", "ro", "be", "ha", "ku", "le", "fa", "zo", "ti", "po", "ma", "de", "ru", "no",
            "si", "ja", "we", "ko", "li", "bu", "ze", "ta", "go", "fi", "da", "yo",
        ];
        // Rank r is r written in base 40, a syllable per digit: the 40
        // most frequent words have one syllable, the next 1,600 two.
        let word = |mut rank: usize| {
            let mut word = String::new();
            loop {
                word.push_str(SYLLABLES[rank % 40]);
                rank /= 40;
                if rank == 0 {
                    return word;
                }
                rank -= 1;
            }
        };
        let weights: Vec<f64> = (1..=size).map(|r| 1.0 / (r as f64).powf(s)).collect();
        let total: f64 = weights.iter().sum();
        let mut sum = 0.0;
        let cdf = weights
            .iter()
            .map(|w| {
                sum += w / total;
                sum
            })
            .collect();
        Self {
            words: (0..size).map(word).collect(),
            cdf,
        }
    }

    fn sample(&self, rng: &mut Rng) -> &str {
        let u = rng.unit();
        let at = self
            .cdf
            .partition_point(|p| *p < u)
            .min(self.words.len() - 1);
        &self.words[at]
    }

    fn message(&self, rng: &mut Rng) -> String {
        let n = 3 + rng.below(20);
        (0..n)
            .map(|_| self.sample(rng))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

/// One `INFO` field as a number.
async fn info(redis: &redchat::server::redis::Redis, section: &str, field: &str) -> f64 {
    let text: String = redis::cmd("INFO")
        .arg(section)
        .query_async(&mut redis.clone())
        .await
        .expect("INFO");
    let needle = format!("{field}:");
    text.lines()
        .find_map(|line| line.strip_prefix(&needle))
        .map_or(0.0, |value| value.trim().parse().unwrap_or(0.0))
}

/// `(calls, usec)` of `EVALSHA` so far.
async fn evalsha(redis: &redchat::server::redis::Redis) -> (f64, f64) {
    let text: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(&mut redis.clone())
        .await
        .expect("INFO");
    let line = text
        .lines()
        .find_map(|line| line.strip_prefix("cmdstat_evalsha:"))
        .unwrap_or("");
    let field = |name: &str| {
        line.split(',')
            .find_map(|part| part.strip_prefix(name))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0)
    };
    (field("calls="), field("usec="))
}

async fn cpu(redis: &redchat::server::redis::Redis) -> f64 {
    info(redis, "cpu", "used_cpu_user").await + info(redis, "cpu", "used_cpu_sys").await
}

/// A signed-up client of `app` and its user id.
async fn sign_up(app: &TestApp, handle: &str) -> (reqwest::Client, String) {
    let client = TestApp::client();
    let me = ok_json(
        app.register(&client, &format!("{handle}@example.com"), handle)
            .await,
    )
    .await;
    let id = me["id"].as_str().expect("a user id").to_owned();
    (client, id)
}

async fn create_room(app: &TestApp, client: &reqwest::Client, name: &str) -> String {
    let room = ok_json(
        app.call(
            client,
            "create_room",
            &[("name", name), ("private", "false")],
        )
        .await,
    )
    .await;
    room["id"].as_str().expect("a room id").to_owned()
}

/// Part 1: Redis CPU per send, with and without the index.
async fn send_cost(redis: &RedisServer, vocabulary: &Vocabulary) {
    let conn = redis.connection().await;
    let mut apps = Vec::new();
    for index in [false, true] {
        let mut settings = support::test_settings(redis);
        settings.messages.search_index = index;
        let app = TestApp::spawn_with(settings).await;
        let (client, _) = sign_up(&app, if index { "indexed" } else { "plain" }).await;
        let room = create_room(&app, &client, "bench").await;
        apps.push((index, app, client, room));
    }
    let mut rng = Rng(7);
    // (sends, Redis CPU seconds, evalsha calls, evalsha usec) per mode.
    let mut totals = [(0usize, 0.0, 0.0, 0.0); 2];
    for block in 0..SEND_BLOCKS * 2 {
        let (index, app, client, room) = &apps[block % 2];
        let bodies: Vec<String> = (0..SEND_BLOCK)
            .map(|_| vocabulary.message(&mut rng))
            .collect();
        let (cpu_before, (calls_before, usec_before)) = (cpu(&conn).await, evalsha(&conn).await);
        for body in &bodies {
            let cmid = uuid::Uuid::new_v4().to_string();
            ok_json(
                app.call(
                    client,
                    "send_message",
                    &[("room_id", room), ("body", body), ("client_msg_id", &cmid)],
                )
                .await,
            )
            .await;
        }
        let (calls_after, usec_after) = evalsha(&conn).await;
        let total = &mut totals[usize::from(*index)];
        total.0 += SEND_BLOCK;
        total.1 += cpu(&conn).await - cpu_before;
        total.2 += calls_after - calls_before;
        total.3 += usec_after - usec_before;
    }
    println!(
        "## Send path ({} sends each, alternating blocks of {SEND_BLOCK})\n",
        SEND_BLOCK * SEND_BLOCKS
    );
    println!("| index | Redis CPU per send (µs) | EVALSHA calls per send | EVALSHA µs per send |");
    println!("|---|---|---|---|");
    for (index, (sends, cpu, calls, usec)) in [false, true].iter().zip(totals) {
        println!(
            "| {} | {:.1} | {:.2} | {:.1} |",
            if *index { "on" } else { "off" },
            cpu * 1e6 / sends as f64,
            calls / sends as f64,
            usec / sends as f64
        );
    }
    println!();
    for (_, app, _, _) in apps {
        app.stop().await;
    }
}

/// The 16 bytes of 32 hex digits, behind a marker byte: how the send script
/// stores author ids and client message ids (`messages::store::pack_id`).
fn packed(hex: &str) -> Vec<u8> {
    let hex: String = hex.chars().filter(|c| *c != '-').collect();
    let mut bytes = vec![if hex.len() == 32 { 0u8 } else { 1 }];
    for pair in hex.as_bytes().chunks(2) {
        let digit = |b: u8| (b as char).to_digit(16).unwrap_or(0) as u8;
        bytes.push(digit(pair[0]) << 4 | digit(pair[1]));
    }
    bytes
}

/// Part 2: one corpus size.
async fn corpus(redis: &RedisServer, vocabulary: &Vocabulary, size: usize) {
    let conn = redis.connection().await;
    let () = redis::cmd("FLUSHALL")
        .query_async(&mut conn.clone())
        .await
        .expect("FLUSHALL");
    let mut settings = support::test_settings(redis);
    // The shipped prefix: key names are part of what each index key costs.
    settings.redis.key_prefix = "redchat:".into();
    let prefix = settings.redis.key_prefix.clone();
    let retention_ms = settings.messages.retention_secs * 1000;
    let app = TestApp::spawn_with(settings).await;
    let (client, user_id) = sign_up(&app, "searcher").await;
    let mut rooms = Vec::new();
    for n in 0..ROOMS {
        rooms.push(create_room(&app, &client, &format!("room {n}")).await);
    }
    let keys = Keys::new(&prefix);
    let mut rng = Rng(42 + size as u64);
    let author = packed(&user_id);
    let per_room = size / ROOMS;
    let memory = || async { info(&conn, "memory", "used_memory").await };

    // The streams.
    let started = Instant::now();
    let before = memory().await;
    let mut corpus: Vec<Vec<(MessageId, String)>> = Vec::new();
    for room in &rooms {
        let stream = format!("{prefix}room:{{{room}}}:messages");
        let mut kept = Vec::with_capacity(per_room);
        for chunk in 0..per_room.div_ceil(1000) {
            let n = 1000.min(per_room - chunk * 1000);
            let bodies: Vec<String> = (0..n).map(|_| vocabulary.message(&mut rng)).collect();
            let mut pipe = redis::pipe();
            for body in &bodies {
                pipe.cmd("XADD")
                    .arg(&stream)
                    .arg("*")
                    .arg("author")
                    .arg(&author)
                    .arg("body")
                    .arg(body)
                    .arg("cmid")
                    .arg(packed(&uuid::Uuid::new_v4().to_string()));
            }
            let ids: Vec<String> = pipe.query_async(&mut conn.clone()).await.expect("XADD");
            for (id, body) in ids.iter().zip(bodies) {
                kept.push((MessageId::parse(id, "id").expect("a stream id"), body));
            }
        }
        corpus.push(kept);
    }
    let streams = memory().await - before;
    let text_bytes: usize = corpus.iter().flatten().map(|(_, body)| body.len()).sum();
    let written = started.elapsed();

    // The index, by the send path's Lua.
    let started = Instant::now();
    let before = memory().await;
    let keys_before: u64 = redis::cmd("DBSIZE")
        .query_async(&mut conn.clone())
        .await
        .expect("DBSIZE");
    for (room, messages) in rooms.iter().zip(&corpus) {
        redchat::search::index::index_existing(&conn, &keys, room, messages, retention_ms)
            .await
            .expect("indexed");
    }
    let index = memory().await - before;
    let keys_after: u64 = redis::cmd("DBSIZE")
        .query_async(&mut conn.clone())
        .await
        .expect("DBSIZE");
    let postings: usize = corpus
        .iter()
        .flatten()
        .map(|(_, body)| redchat::search::words::index_words(body).len())
        .sum();
    let indexed = started.elapsed();

    println!("## {size} messages ({ROOMS} rooms of {per_room})\n");
    println!("| | bytes per message |");
    println!("|---|---|");
    println!(
        "| message text (body only) | {:.0} |",
        text_bytes as f64 / size as f64
    );
    println!(
        "| stream (`XADD`, all fields) | {:.0} |",
        streams / size as f64
    );
    println!("| search index | {:.0} |", index / size as f64);
    println!(
        "\n{postings} index entries ({:.1} per message, {:.1} bytes each) in {} index keys; written in {:.0} s, indexed in {:.0} s.\n",
        postings as f64 / size as f64,
        index / postings as f64,
        keys_after - keys_before,
        written.as_secs_f64(),
        indexed.as_secs_f64()
    );

    // Latency, over HTTP, as a client sees it.
    println!("| query | scope | p50 (ms) | p99 (ms) | results (mean) |");
    println!("|---|---|---|---|---|");
    for kind in ["one word", "two words", "prefix (3 letters)"] {
        for scope in ["one room", "20 rooms"] {
            let mut times = Vec::with_capacity(QUERIES);
            let mut results = 0usize;
            for _ in 0..QUERIES {
                let room = rng.below(ROOMS);
                let (_, body) = &corpus[room][rng.below(per_room)];
                let words: Vec<&str> = body.split(' ').collect();
                let first = words[rng.below(words.len())];
                let q = match kind {
                    "one word" => format!("{first} "),
                    "two words" => format!("{first} {} ", words[rng.below(words.len())]),
                    _ => {
                        let long = words.iter().find(|w| w.len() >= 4).unwrap_or(&first);
                        long[..3.min(long.len())].to_owned()
                    }
                };
                let mut form = vec![("q", q.as_str())];
                if scope == "one room" {
                    form.push(("room_id", rooms[room].as_str()));
                }
                let started = Instant::now();
                let found = ok_json(app.call(&client, "search", &form).await).await;
                times.push(started.elapsed());
                results += found.as_array().map_or(0, Vec::len);
            }
            times.sort();
            println!(
                "| {kind} | {scope} | {} | {} | {:.1} |",
                ms(percentile(&times, 50.0)),
                ms(percentile(&times, 99.0)),
                results as f64 / QUERIES as f64
            );
        }
    }
    println!();
    app.stop().await;
}

#[tokio::main]
async fn main() {
    let sizes: Vec<usize> = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "100000,1000000".into())
        .split(',')
        .map(|n| n.trim().parse().expect("sizes: comma-separated numbers"))
        .collect();
    let redis = RedisServer::start().await;
    let vocabulary = Vocabulary::zipf(50_000, 1.07);
    println!("# Search benchmark\n");
    send_cost(&redis, &vocabulary).await;
    for size in sizes {
        corpus(&redis, &vocabulary, size).await;
    }
}
