//! Baseline (c): a server that only holds event-stream sockets, for the
//! memory one open connection costs at the least (a tokio task, a socket, a
//! small buffer), to compare with what an idle Redchat stream costs.
//!
//! It runs as its own process (`loadgen --serve-idle 127.0.0.1:0` prints
//! its address), so that its RSS is its own and not the load generator's.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Accepts connections forever; answers any request with the head of an
/// event stream and then holds the socket until the client closes it.
pub async fn serve(addr: &str) {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .expect("a loopback address");
    println!("{}", listener.local_addr().expect("an address"));
    loop {
        let Ok((mut socket, _)) = listener.accept().await else {
            continue;
        };
        tokio::spawn(async move {
            let mut request = [0u8; 1024];
            let mut read = 0;
            while !request[..read].windows(4).any(|w| w == b"\r\n\r\n") {
                match socket.read(&mut request[read..]).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => read += n,
                }
                if read == request.len() {
                    return;
                }
            }
            let head = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\n\r\n";
            if socket.write_all(head).await.is_err() {
                return;
            }
            // Hold it: wait for the client to close.
            let mut byte = [0u8; 1];
            let _ = socket.read(&mut byte).await;
        });
    }
}

/// Opens `clients` raw event-stream connections to `addr` (plain HTTP/1.1
/// over TCP, the cheapest client) and keeps them until dropped.
pub async fn open_streams(
    addr: &str,
    path: &str,
    cookie: Option<&str>,
    clients: usize,
    source_addresses: u8,
) -> Vec<tokio::net::TcpStream> {
    let server = tokio::net::lookup_host(addr)
        .await
        .ok()
        .and_then(|mut found| found.next())
        .expect("the server's address resolves");
    let mut streams = Vec::with_capacity(clients);
    let started = Instant::now();
    for i in 0..clients {
        // From 127.0.0.1, .2, ... in turn (see `--source-addresses`).
        let socket = if server.is_ipv4() {
            tokio::net::TcpSocket::new_v4()
        } else {
            tokio::net::TcpSocket::new_v6()
        }
        .expect("a socket");
        if let Some(source) = super::source_address(source_addresses, i) {
            socket
                .bind(std::net::SocketAddr::new(source, 0))
                .expect("a loopback source address (IPv4 servers only)");
        }
        let mut stream = socket
            .connect(server)
            .await
            .expect("a connection (raise the file-descriptor limit for many clients)");
        let cookie = cookie
            .map(|c| format!("Cookie: {c}\r\n"))
            .unwrap_or_default();
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {addr}\r\n{cookie}Accept: text/event-stream\r\n\r\n"
        );
        stream
            .write_all(request.as_bytes())
            .await
            .expect("the request is sent");
        // Wait for the response head: the server has set the stream up.
        let mut head = Vec::new();
        let mut buffer = [0u8; 4096];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = tokio::time::timeout(Duration::from_secs(30), stream.read(&mut buffer))
                .await
                .expect("the stream answers within 30 s")
                .expect("the stream is readable");
            assert!(n > 0, "the server closed the stream");
            head.extend_from_slice(&buffer[..n]);
        }
        assert!(
            head.starts_with(b"HTTP/1.1 200"),
            "event stream: {}",
            String::from_utf8_lossy(&head[..head.len().min(80)])
        );
        streams.push(stream);
    }
    eprintln!(
        "{clients} streams opened in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    streams
}
