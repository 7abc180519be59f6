//! Indexing the messages sent before the search index existed: once per
//! deployment, in the background at start (as the handle index is). Every
//! room's stream is found by `SCAN` (on every primary of a cluster) and its
//! kept messages are indexed a batch at a time, by their current bodies.
//! Indexing is idempotent, so a restart midway just does it again. An
//! edit racing the backfill of its own page of messages could leave that
//! message under a word it lost, until it expires: accepted for a
//! one-time step. Turning the index off (`messages.search_index`) drops
//! the marker, so turning it on again indexes what was sent meanwhile.

use crate::error::AppResult;
use crate::rooms::model::RoomId;
use crate::server::state::AppState;

/// Indexes every room's kept messages, unless done before (a marker key).
pub(crate) async fn backfill(state: &AppState) -> AppResult<()> {
    let keys = &state.keys;
    let settings = &state.settings.messages;
    if !settings.search_index {
        // Messages sent from now on are not indexed: the next start with
        // the index on indexes everything again.
        let _: i64 = redis::cmd("DEL")
            .arg(keys.search_indexed())
            .query_async(&mut state.redis())
            .await?;
        return Ok(());
    }
    if state.redis().is_done(&keys.search_indexed()).await? {
        return Ok(());
    }
    let lead = keys.room("");
    let lead = lead.trim_end_matches(['{', '}']);
    let retention_ms = settings.retention_secs.saturating_mul(1000);
    let mut rooms = 0;
    for key in state.redis().scan_prefix(lead).await? {
        let Some(room) = key
            .strip_prefix(lead)
            .and_then(|rest| rest.strip_prefix('{'))
            .and_then(|rest| rest.strip_suffix("}:messages"))
        else {
            continue;
        };
        let Ok(room_id) = RoomId::parse(room) else {
            continue;
        };
        // A page at a time, each indexed right after it is read: an edit
        // or delete racing the backfill has a window of one page.
        let mut after = None;
        while let Some((bodies, last)) =
            crate::messages::store::bodies_after(state, &room_id, after, 500).await?
        {
            super::index::index_existing(&state.redis(), keys, room, &bodies, retention_ms).await?;
            after = Some(last);
        }
        rooms += 1;
    }
    state.redis().mark_done(&keys.search_indexed()).await?;
    tracing::info!(rooms, "indexed the rooms' messages for search");
    Ok(())
}
