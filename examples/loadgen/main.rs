//! A load generator for Redchat: drives a running server only through its
//! public HTTP API (CONTRACT.md) and checks every delivery.
//!
//! It signs up `--users` people, creates `--rooms` public rooms and has
//! every person join `--rooms-per-user` of them, opens `--clients` event
//! streams (spread over the people), then sends messages at a fixed
//! open-loop `--rate` for `--seconds`. Latency is measured from each send's
//! *scheduled* time to its arrival on each stream, so a slow server cannot
//! hide its queue (no coordinated omission). Every delivery is checked by
//! message id: lost, duplicated and out-of-order deliveries are counted.
//!
//! With `--baseline bare`, the same clients drive baseline (b) instead: a
//! bare in-process fan-out server (`bare.rs`), the ceiling for one process.
//! With `--baseline redis`, baseline (a): raw Redis Pub/Sub at the same rate
//! (`raw.rs`; needs `--redis-url`). With `--baseline idle`, baseline (c): a
//! process that only holds sockets (`idle.rs`), for the memory of one open
//! connection. `--idle-streams N` opens N more event streams on the server
//! under test, idle, and reports its RSS per stream (needs `--server-pid`).
//!
//!   cargo run --release --features ssr --example loadgen -- \
//!       --url http://127.0.0.1:3000 --users 50 --rooms 10 --clients 200 \
//!       --rate 100 --seconds 10 [--server-pid PID] [--redis-url redis://…]
//!
//! The server's sign-up and send limits must be raised for a run (see
//! docs/performance.md); only drive a server you started, on loopback. The
//! exit status is 1 when any delivery was lost, duplicated or out of order
//! (or a send failed, unless `--tolerate-failed-sends yes`): `make test`
//! runs a seconds-long smoke run of it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use hdrhistogram::Histogram;

mod bare;
mod idle;
mod raw;

struct Options {
    url: String,
    users: usize,
    rooms: usize,
    rooms_per_user: usize,
    clients: usize,
    rate: f64,
    seconds: f64,
    server_pid: Option<u32>,
    redis_url: Option<String>,
    /// `bare`: drive baseline (b), an in-process fan-out server, instead of
    /// `--url`; `redis`: baseline (a); `idle`: baseline (c).
    baseline: Option<String>,
    /// Pub/Sub subscribers in baseline (a): one per app process.
    subscribers: usize,
    /// Idle event streams to open and weigh (`--idle-streams`).
    idle_streams: usize,
    /// Run as baseline (c)'s socket-holding server on this address.
    serve_idle: Option<String>,
    /// Run as baseline (b)'s server, in a process of its own.
    serve_bare: bool,
    /// Loopback source addresses to spread the client connections over
    /// (127.0.0.1 up to 127.0.0.N): one address has about 28,000 ephemeral
    /// ports, so more streams than that need more addresses.
    source_addresses: u8,
    /// Report failed sends without failing the run (`--tolerate-failed-sends
    /// yes`): for rates past saturation, where the server sheds load.
    tolerate_failed_sends: bool,
}

impl Options {
    fn parse() -> Self {
        let mut options = Self {
            url: "http://127.0.0.1:3000".into(),
            users: 50,
            rooms: 10,
            rooms_per_user: 3,
            clients: 200,
            rate: 100.0,
            seconds: 10.0,
            server_pid: None,
            redis_url: None,
            baseline: None,
            subscribers: 1,
            idle_streams: 0,
            serve_idle: None,
            serve_bare: false,
            tolerate_failed_sends: false,
            source_addresses: 1,
        };
        let args: Vec<String> = std::env::args().skip(1).collect();
        for pair in args.chunks(2) {
            let (flag, value) = (pair[0].as_str(), pair.get(1).cloned().unwrap_or_default());
            let number = || {
                value
                    .parse::<f64>()
                    .unwrap_or_else(|_| panic!("{flag} needs a number"))
            };
            match flag {
                "--url" => options.url = value.clone(),
                "--users" => options.users = number() as usize,
                "--rooms" => options.rooms = number() as usize,
                "--rooms-per-user" => options.rooms_per_user = number() as usize,
                "--clients" => options.clients = number() as usize,
                "--rate" => options.rate = number(),
                "--seconds" => options.seconds = number(),
                "--server-pid" => options.server_pid = Some(number() as u32),
                "--redis-url" => options.redis_url = Some(value.clone()),
                "--baseline" => options.baseline = Some(value.clone()),
                "--subscribers" => options.subscribers = number() as usize,
                "--idle-streams" => options.idle_streams = number() as usize,
                "--serve-idle" => options.serve_idle = Some(value.clone()),
                "--serve-bare" => options.serve_bare = true,
                "--tolerate-failed-sends" => options.tolerate_failed_sends = value == "yes",
                "--source-addresses" => {
                    options.source_addresses = (number() as u8).clamp(1, 254);
                }
                other => panic!("unknown option {other}"),
            }
        }
        options.rooms_per_user = options.rooms_per_user.clamp(1, options.rooms.max(1));
        options
    }
}

/// What the senders know about each acknowledged message.
#[derive(Default)]
struct Ledger {
    /// client_msg_id -> scheduled send time.
    scheduled: HashMap<String, Instant>,
    /// Acknowledged message ids per room.
    acknowledged: HashMap<String, Vec<String>>,
    failed_sends: u64,
    /// Why sends failed: HTTP status or client error, with counts.
    failures: std::collections::BTreeMap<String, u64>,
}

/// What one event stream saw.
#[derive(Default)]
struct Seen {
    /// room -> message ids in arrival order.
    per_room: HashMap<String, Vec<String>>,
    resyncs: u64,
}

async fn call(
    client: &reqwest::Client,
    url: &str,
    endpoint: &str,
    form: &[(&str, &str)],
) -> serde_json::Value {
    let response = client
        .post(format!("{url}/api/{endpoint}"))
        .form(form)
        .send()
        .await
        .unwrap_or_else(|err| panic!("{endpoint}: {err}"));
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    assert!(status.is_success(), "{endpoint} answered {status}: {body}");
    serde_json::from_str(&body).unwrap_or(serde_json::Value::Null)
}

/// Reads one event stream until `until`, recording message ids and
/// latencies.
async fn read_stream(
    client: reqwest::Client,
    url: String,
    ledger: Arc<Mutex<Ledger>>,
    latencies: Arc<Mutex<Histogram<u64>>>,
    opened: tokio::sync::mpsc::Sender<()>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> Seen {
    let response = client
        .get(format!("{url}/api/events"))
        .send()
        .await
        .expect("the event stream opens");
    assert_eq!(response.status(), 200, "event stream");
    let _ = opened.send(()).await;
    let mut body = response.bytes_stream();
    let mut buffer: Vec<u8> = Vec::new();
    let mut seen = Seen::default();
    loop {
        let chunk = tokio::select! {
            next = body.next() => match next {
                Some(Ok(chunk)) => chunk,
                _ => return seen,
            },
            _ = stop.wait_for(|stop| *stop) => return seen,
        };
        let arrived = Instant::now();
        buffer.extend_from_slice(&chunk);
        while let Some(end) = buffer.windows(2).position(|pair| pair == b"\n\n") {
            let block: Vec<u8> = buffer.drain(..end + 2).collect();
            let block = String::from_utf8_lossy(&block);
            let (mut name, mut data) = ("message", String::new());
            for line in block.lines() {
                if let Some(value) = line.strip_prefix("event:") {
                    name = if value.trim() == "message" {
                        "message"
                    } else if value.trim() == "resync" {
                        "resync"
                    } else {
                        "other"
                    };
                } else if let Some(value) = line.strip_prefix("data:") {
                    data.push_str(value.trim_start());
                }
            }
            match name {
                "resync" => seen.resyncs += 1,
                "message" if !data.is_empty() => {
                    let Ok(message) = serde_json::from_str::<serde_json::Value>(&data) else {
                        continue;
                    };
                    let (Some(id), Some(room), Some(cmid)) = (
                        message["id"].as_str(),
                        message["room_id"].as_str(),
                        message["client_msg_id"].as_str(),
                    ) else {
                        continue;
                    };
                    if let Some(scheduled) = ledger.lock().unwrap().scheduled.get(cmid) {
                        let micros =
                            arrived.saturating_duration_since(*scheduled).as_micros() as u64;
                        let _ = latencies.lock().unwrap().record(micros.max(1));
                    }
                    seen.per_room
                        .entry(room.to_owned())
                        .or_default()
                        .push(id.to_owned());
                }
                _ => {}
            }
        }
    }
}

fn stream_id(id: &str) -> (u64, u64) {
    let (ms, seq) = id.split_once('-').unwrap_or((id, "0"));
    (ms.parse().unwrap_or(0), seq.parse().unwrap_or(0))
}

/// CPU seconds (user + system) and resident memory (KiB) of a process.
fn process_stats(pid: u32) -> Option<(f64, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rss = status
        .lines()
        .find(|line| line.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some((ticks / 100.0, rss))
}

/// Total commands processed and CPU seconds used by Redis, and its Pub/Sub
/// client count.
async fn redis_stats(url: &str) -> Option<(u64, f64, usize)> {
    let client = redis::Client::open(url).ok()?;
    let mut conn = client.get_multiplexed_async_connection().await.ok()?;
    let info: String = redis::cmd("INFO")
        .arg("all")
        .query_async(&mut conn)
        .await
        .ok()?;
    let field = |name: &str| -> Option<f64> {
        info.lines()
            .find_map(|line| line.strip_prefix(&format!("{name}:")))
            .and_then(|value| value.trim().parse().ok())
    };
    let commands = field("total_commands_processed")? as u64;
    let cpu = field("used_cpu_sys")? + field("used_cpu_user")?;
    let pubsub: String = redis::cmd("CLIENT")
        .arg("LIST")
        .arg("TYPE")
        .arg("pubsub")
        .query_async(&mut conn)
        .await
        .ok()?;
    Some((commands, cpu, pubsub.lines().count()))
}

#[tokio::main]
async fn main() {
    let options = Options::parse();
    if let Some(addr) = &options.serve_idle {
        idle::serve(addr).await;
        return;
    }
    if options.serve_bare {
        // Baseline (b) as a process of its own, for `--baseline bare-idle`.
        println!("{}", bare::serve().await.trim_start_matches("http://"));
        std::future::pending::<()>().await;
    }
    let url = match options.baseline.as_deref() {
        Some("bare") => {
            let url = bare::serve().await;
            println!("baseline (b): bare in-process fan-out server at {url}");
            url
        }
        Some("redis") => return raw_baseline(&options).await,
        Some("idle") => return idle_baseline(&options, "--serve-idle").await,
        Some("bare-idle") => return idle_baseline(&options, "--serve-bare").await,
        Some(other) => panic!("unknown baseline {other} (known: bare, redis, idle)"),
        None => options.url.trim_end_matches('/').to_owned(),
    };
    let run = uuid::Uuid::new_v4().simple().to_string();

    // People and rooms.
    let mut people = Vec::new();
    for i in 0..options.users {
        let client = reqwest::Client::builder()
            .cookie_store(true)
            .local_address(source_address(options.source_addresses, i))
            .build()
            .unwrap();
        let handle = format!("lg{}{i}", &run[..8]);
        let email = format!("{handle}@load.test");
        call(
            &client,
            &url,
            "register",
            &[
                ("email", &email),
                ("password", "load-generator"),
                ("display_name", &handle),
                ("handle", &handle),
            ],
        )
        .await;
        people.push(client);
    }
    let mut rooms = Vec::new();
    for i in 0..options.rooms {
        let name = format!("load {i}");
        let room = call(
            &people[i % people.len()],
            &url,
            "create_room",
            &[("name", &name), ("private", "false")],
        )
        .await;
        rooms.push(room["id"].as_str().expect("a room id").to_owned());
    }
    // Person i is in rooms i, i+1, ... (mod R).
    let mut membership: Vec<Vec<String>> = Vec::new();
    for (i, person) in people.iter().enumerate() {
        let mine: Vec<String> = (0..options.rooms_per_user)
            .map(|k| rooms[(i + k) % rooms.len()].clone())
            .collect();
        for room in &mine {
            call(person, &url, "join_room", &[("room_id", room)]).await;
        }
        membership.push(mine);
    }

    // Streams.
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let latencies = Arc::new(Mutex::new(
        Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap(),
    ));
    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    let (opened, mut opened_rx) = tokio::sync::mpsc::channel(options.clients.max(1));
    let mut readers = Vec::new();
    let mut subscribers: HashMap<String, usize> = HashMap::new();
    for c in 0..options.clients {
        let person = c % people.len();
        for room in &membership[person] {
            *subscribers.entry(room.clone()).or_default() += 1;
        }
        readers.push((
            person,
            tokio::spawn(read_stream(
                people[person].clone(),
                url.clone(),
                ledger.clone(),
                latencies.clone(),
                opened.clone(),
                stop_rx.clone(),
            )),
        ));
    }
    drop(opened);
    for _ in 0..options.clients {
        // A stream that fails to open ends its task (and its sender).
        if opened_rx.recv().await.is_none() {
            eprintln!("FAILED: not every event stream opened (raise the file-descriptor limit?)");
            std::process::exit(1);
        }
    }
    println!(
        "{} people, {} rooms, {} streams open",
        options.users, options.rooms, options.clients
    );
    // Idle streams on top, weighed by the server's RSS before and after.
    let _idle = if options.idle_streams > 0 {
        let pid = options
            .server_pid
            .expect("--idle-streams needs --server-pid");
        let cookie = session_cookie(&url, &run).await;
        let addr = url.trim_start_matches("http://").to_owned();
        let before = process_stats(pid).expect("the server's /proc entry").1;
        let streams = idle::open_streams(
            &addr,
            "/api/events",
            Some(&cookie),
            options.idle_streams,
            options.source_addresses,
        )
        .await;
        tokio::time::sleep(Duration::from_secs(2)).await;
        let after = process_stats(pid).expect("the server's /proc entry").1;
        println!(
            "idle streams: {} opened; server RSS {before} -> {after} KiB, {:.1} KiB per stream",
            options.idle_streams,
            (after as f64 - before as f64) / options.idle_streams as f64
        );
        streams
    } else {
        Vec::new()
    };

    let before_server = options.server_pid.and_then(process_stats);
    let before_redis = match &options.redis_url {
        Some(url) => redis_stats(url).await,
        None => None,
    };

    // Open-loop sends.
    let total = (options.rate * options.seconds).round() as u64;
    let interval = Duration::from_secs_f64(1.0 / options.rate);
    let start = Instant::now();
    let mut sends = Vec::new();
    for n in 0..total {
        let scheduled = start + interval.mul_f64(n as f64);
        tokio::time::sleep_until(scheduled.into()).await;
        let person = (n as usize * 7919) % people.len();
        let room = membership[person][n as usize % membership[person].len()].clone();
        let cmid = format!("{run}-{n}");
        ledger
            .lock()
            .unwrap()
            .scheduled
            .insert(cmid.clone(), scheduled);
        let (client, url, ledger) = (people[person].clone(), url.clone(), ledger.clone());
        sends.push(tokio::spawn(async move {
            let response = client
                .post(format!("{url}/api/send_message"))
                .form(&[
                    ("room_id", room.as_str()),
                    ("body", "load"),
                    ("client_msg_id", cmid.as_str()),
                ])
                .send()
                .await;
            let message = match response {
                Ok(response) if response.status().is_success() => response
                    .json::<serde_json::Value>()
                    .await
                    .map_err(|_| "unreadable answer".to_owned()),
                Ok(response) => Err(format!("HTTP {}", response.status().as_u16())),
                Err(err) if err.is_timeout() => Err("timeout".into()),
                Err(err) if err.is_connect() => Err("connect error".into()),
                Err(_) => Err("request error".into()),
            };
            let id = message.and_then(|m| {
                m["id"]
                    .as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| "no id".to_owned())
            });
            let mut ledger = ledger.lock().unwrap();
            match id {
                Ok(id) => ledger.acknowledged.entry(room).or_default().push(id),
                Err(why) => {
                    ledger.failed_sends += 1;
                    *ledger.failures.entry(why).or_default() += 1;
                }
            }
        }));
    }
    for send in sends {
        let _ = send.await;
    }
    let sending = start.elapsed();
    let after_server = options.server_pid.and_then(process_stats);
    let after_redis = match &options.redis_url {
        Some(url) => redis_stats(url).await,
        None => None,
    };

    // Let deliveries drain, then check every stream.
    let expected_total: usize = {
        let ledger = ledger.lock().unwrap();
        ledger
            .acknowledged
            .iter()
            .map(|(room, ids)| ids.len() * subscribers.get(room).copied().unwrap_or(0))
            .sum()
    };
    // An overloaded server may still be working off its queues: wait while
    // deliveries keep arriving (up to two minutes), and give up after 5 s
    // without one. The count includes deliveries of sends whose answer
    // failed, so reaching the expected count is not the end either: that
    // only shortens the wait for a pause to 1 s. A delivery never made by
    // then counts as lost.
    let deadline = Instant::now() + Duration::from_secs(120);
    let (mut last_count, mut last_progress) = (0, Instant::now());
    while Instant::now() < deadline {
        let count = latencies.lock().unwrap().len();
        if count > last_count {
            (last_count, last_progress) = (count, Instant::now());
        }
        let pause = if count >= expected_total as u64 { 1 } else { 5 };
        if last_progress.elapsed() >= Duration::from_secs(pause) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = stop.send(true);
    let acknowledged = std::mem::take(&mut ledger.lock().unwrap().acknowledged);
    let (mut delivered, mut lost, mut duplicated, mut reordered, mut resyncs) =
        (0u64, 0u64, 0u64, 0u64, 0u64);
    for (person, reader) in readers {
        let seen = reader.await.expect("a stream reader");
        resyncs += seen.resyncs;
        for room in &membership[person] {
            let received = seen.per_room.get(room).map(Vec::as_slice).unwrap_or(&[]);
            delivered += received.len() as u64;
            let mut unique = std::collections::HashSet::new();
            for (i, id) in received.iter().enumerate() {
                if !unique.insert(id) {
                    duplicated += 1;
                } else if i > 0 && stream_id(id) < stream_id(&received[i - 1]) {
                    reordered += 1;
                }
            }
            for id in acknowledged.get(room).map(Vec::as_slice).unwrap_or(&[]) {
                if !unique.contains(id) {
                    lost += 1;
                }
            }
        }
    }
    let histogram = latencies.lock().unwrap().clone();
    let expected = expected_total as u64;

    let ledger = ledger.lock().unwrap();
    let why: Vec<String> = ledger
        .failures
        .iter()
        .map(|(why, count)| format!("{why} x{count}"))
        .collect();
    println!(
        "sent {total} at {:.0}/s over {:.1} s ({} failed{}{})",
        options.rate,
        sending.as_secs_f64(),
        ledger.failed_sends,
        if why.is_empty() { "" } else { ": " },
        why.join(", ")
    );
    println!(
        "deliveries {delivered} ({:.0}/s), expected {expected}; lost {lost}, duplicated {duplicated}, reordered {reordered}, resyncs {resyncs}",
        delivered as f64 / sending.as_secs_f64()
    );
    print_latency(&histogram);
    if let (Some((cpu0, _)), Some((cpu1, rss))) = (before_server, after_server) {
        println!(
            "server: {:.2} CPU s while sending, RSS {} KiB ({:.1} KiB per stream)",
            cpu1 - cpu0,
            rss,
            rss as f64 / options.clients.max(1) as f64
        );
    }
    if let (Some((c0, cpu0, _)), Some((c1, cpu1, pubsub))) = (before_redis, after_redis) {
        println!(
            "redis: {:.2} CPU s, {:.2} commands per sent message, {pubsub} Pub/Sub connection(s)",
            cpu1 - cpu0,
            (c1 - c0) as f64 / total.max(1) as f64
        );
    }
    // Any delivery fault fails the run (the CI smoke run relies on this).
    let sends_failed = ledger.failed_sends > 0 && !options.tolerate_failed_sends;
    if lost + duplicated + reordered > 0 || sends_failed || delivered == 0 {
        eprintln!("FAILED: deliveries were lost, duplicated or reordered, or sends failed");
        std::process::exit(1);
    }
}

/// Signs up one more person and returns their session cookie (`name=value`)
/// for raw connections.
async fn session_cookie(url: &str, run: &str) -> String {
    let handle = format!("lgidle{}", &run[..8]);
    let email = format!("{handle}@load.test");
    let response = reqwest::Client::new()
        .post(format!("{url}/api/register"))
        .form(&[
            ("email", email.as_str()),
            ("password", "load-generator"),
            ("display_name", handle.as_str()),
            ("handle", handle.as_str()),
        ])
        .send()
        .await
        .expect("register answers");
    assert!(
        response.status().is_success(),
        "register: {}",
        response.status()
    );
    response
        .headers()
        .get("set-cookie")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .expect("a session cookie")
        .to_owned()
}

/// Baseline (a): raw Redis Pub/Sub at the same rate (see `raw.rs`).
async fn raw_baseline(options: &Options) {
    let redis_url = options
        .redis_url
        .as_deref()
        .expect("--baseline redis needs --redis-url");
    println!(
        "baseline (a): raw Redis Pub/Sub, {} channels, {} subscriber(s)",
        options.rooms, options.subscribers
    );
    let report = raw::run(
        redis_url,
        options.rooms,
        options.subscribers,
        options.rate,
        options.seconds,
    )
    .await;
    println!(
        "deliveries {} ({:.0}/s), expected {}; lost {}, duplicated {}, reordered {}",
        report.delivered,
        report.delivered as f64 / report.sending.as_secs_f64(),
        report.expected,
        report.lost,
        report.duplicated,
        report.reordered
    );
    print_latency(&report.latencies);
    if report.lost + report.duplicated + report.reordered > 0 || report.delivered == 0 {
        eprintln!("FAILED: deliveries were lost, duplicated or reordered");
        std::process::exit(1);
    }
}

/// The `i`th client's source address: 127.0.0.1 to 127.0.0.`count`, in
/// turn; none (the system's choice) when `count` is 1.
pub fn source_address(count: u8, i: usize) -> Option<std::net::IpAddr> {
    (count > 1).then(|| {
        let last = 1 + (i % usize::from(count)) as u8;
        std::net::IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, last))
    })
}

/// Baseline (c): the RSS of a process that only holds `--clients` sockets
/// (`--serve-idle`); or, for comparison, of baseline (b)'s server holding
/// that many idle event streams (`--serve-bare`).
async fn idle_baseline(options: &Options, serve: &str) {
    use tokio::io::AsyncBufReadExt;
    let mut child = tokio::process::Command::new(std::env::current_exe().expect("this program"))
        .args([serve, "127.0.0.1:0"])
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the idle server starts");
    let pid = child.id().expect("a pid");
    let mut lines = tokio::io::BufReader::new(child.stdout.take().expect("its stdout")).lines();
    let addr = lines
        .next_line()
        .await
        .expect("its address")
        .expect("its address");
    let cookie = if serve == "--serve-bare" {
        // One person in one room, so each stream listens to something.
        let client = reqwest::Client::builder()
            .cookie_store(true)
            .build()
            .unwrap();
        let url = format!("http://{addr}");
        let form = [
            ("handle", "idle"),
            ("email", "idle@load.test"),
            ("password", "x"),
            ("display_name", "idle"),
        ];
        call(&client, &url, "register", &form).await;
        let room = call(
            &client,
            &url,
            "create_room",
            &[("name", "idle"), ("private", "false")],
        )
        .await;
        let room = room["id"].as_str().expect("a room id").to_owned();
        call(&client, &url, "join_room", &[("room_id", &room)]).await;
        Some("who=idle")
    } else {
        None
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let before = process_stats(pid).expect("its /proc entry").1;
    let streams = idle::open_streams(
        &addr,
        "/api/events",
        cookie,
        options.clients,
        options.source_addresses,
    )
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = process_stats(pid).expect("its /proc entry").1;
    let what = if serve == "--serve-bare" {
        "baseline (b) as its own process"
    } else {
        "baseline (c)"
    };
    println!(
        "{what}: {} idle connections; RSS {before} -> {after} KiB, {:.1} KiB per connection",
        streams.len(),
        (after as f64 - before as f64) / streams.len().max(1) as f64
    );
}

/// The latency line every run prints (scripts/bench.sh parses it).
fn print_latency(histogram: &Histogram<u64>) {
    let ms = |q: f64| histogram.value_at_quantile(q) as f64 / 1000.0;
    println!(
        "latency ms: p50 {:.2}  p99 {:.2}  p99.9 {:.2}  max {:.2}",
        ms(0.5),
        ms(0.99),
        ms(0.999),
        histogram.max() as f64 / 1000.0
    );
}
