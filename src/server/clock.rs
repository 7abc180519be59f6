//! Wall-clock time for timestamps stored in Redis (`created_at`,
//! `sent_at`-style fields). Ordering never depends on it: message order
//! comes from stream ids, and expiry decisions use Redis's own clock.

/// Milliseconds since the Unix epoch (0 if the clock is before it).
pub(crate) fn now_millis() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis()
        .try_into()
        .unwrap_or(u64::MAX)
}
