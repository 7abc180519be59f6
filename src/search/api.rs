//! The `search` server function.

use leptos::prelude::*;

use super::model::Found;
use crate::error::AppError;

/// Messages holding every word of `q` (the last may be the start of a
/// word), newest first: in `room_id`, or in the caller's rooms and direct
/// rooms (the [`MAX_ROOMS`](super::model::MAX_ROOMS) most recently
/// active). `before` (a message id) gives the next page; `limit` defaults
/// to 20 (at most 50).
#[server(endpoint = "search")]
pub async fn search(
    q: String,
    #[server(default)] room_id: Option<String>,
    #[server(default)] before: Option<String>,
    #[server(default)] limit: Option<u32>,
) -> Result<Vec<Found>, AppError> {
    use futures::future::try_join_all;

    use super::index::{self, Search};
    use super::model::{DEFAULT_LIMIT, MAX_LIMIT, MAX_QUERY_CHARS, MAX_ROOMS};
    use super::words::{Query, MAX_QUERY_WORDS};
    use crate::auth::session::caller;
    use crate::limits::PerUser;
    use crate::messages::model::MessageId;
    use crate::messages::store;
    use crate::rooms::access::{joined_room_ids, member_room, name_for};
    use crate::rooms::model::RoomId;

    let (state, user_id) = caller(PerUser::Search).await?;
    if !state.settings.messages.search_index {
        return Err(AppError::NotFound(
            "Search is turned off on this server.".into(),
        ));
    }
    if q.trim().is_empty() || q.chars().count() > MAX_QUERY_CHARS {
        return Err(AppError::BadRequest(format!(
            "q must be 1 to {MAX_QUERY_CHARS} characters."
        )));
    }
    let query = Query::parse(&q)
        .ok_or_else(|| AppError::BadRequest("q must hold at least one word.".into()))?;
    if query.words.len() > MAX_QUERY_WORDS {
        return Err(AppError::BadRequest(format!(
            "q must be at most {MAX_QUERY_WORDS} words."
        )));
    }
    let limit = match limit {
        None => DEFAULT_LIMIT,
        Some(limit) if (1..=MAX_LIMIT as u32).contains(&limit) => limit as usize,
        Some(_) => {
            return Err(AppError::BadRequest(format!(
                "limit must be 1 to {MAX_LIMIT}."
            )))
        }
    };
    let before = before
        .filter(|before| !before.is_empty())
        .map(|before| MessageId::parse(&before, "before"))
        .transpose()?;
    let rooms = match room_id.filter(|room| !room.is_empty()) {
        // One room: 404 or 403 as for its history.
        Some(room) => {
            let room = RoomId::parse(&room)?;
            member_room(&state, &room, &user_id).await?;
            vec![room.as_str().to_owned()]
        }
        None => {
            let mut rooms = joined_room_ids(&state, &user_id).await?;
            if rooms.len() > MAX_ROOMS {
                rooms = index::by_activity(&state.redis(), &state.keys, rooms).await?;
                rooms.truncate(MAX_ROOMS);
            }
            rooms
        }
    };
    let search = Search {
        caller: &user_id,
        rooms: &rooms,
        query: &query,
        before,
        limit,
    };
    let page = index::find(&state.redis(), &state.keys, search).await?;
    if let Some(more) = page.more_before {
        // The search spent its budget before it knew the whole page: a
        // short page is not the end. Clients continue `before` this id.
        if let (Some(response), Ok(value)) = (
            use_context::<leptos_axum::ResponseOptions>(),
            axum::http::HeaderValue::from_str(&more.to_string()),
        ) {
            response.insert_header(
                axum::http::HeaderName::from_static("x-search-more-before"),
                value,
            );
        }
    }
    let hits = page.hits;
    let by_room = index::by_room(&hits);
    // Per room (concurrently): its name, then the messages found.
    let found = try_join_all(by_room.iter().map(|(room, ids)| {
        let state = state.clone();
        let user_id = user_id.clone();
        async move {
            let room = RoomId::parse(room)?;
            // Left since the index was read: nothing of it.
            let shown = match member_room(&state, &room, &user_id).await {
                Err(AppError::Forbidden(_) | AppError::NotFound(_)) => {
                    return Ok((String::new(), Vec::new()))
                }
                other => other?,
            };
            let name = name_for(&state, shown, &user_id).await?;
            let messages = store::by_ids(&state, &room, ids, &user_id).await?;
            Ok::<_, AppError>((name, messages))
        }
    }))
    .await?;
    let mut messages: std::collections::HashMap<(String, String), _> = found
        .into_iter()
        .flat_map(|(name, messages)| messages.into_iter().map(move |m| (name.clone(), m)))
        .map(|(name, message)| {
            (
                (message.room_id.clone(), message.id.clone()),
                (name, message),
            )
        })
        .collect();
    Ok(hits
        .iter()
        .filter_map(|hit| messages.remove(&(hit.room.clone(), hit.id.to_string())))
        .filter(|(_, message)| !message.deleted)
        .map(|(room_name, message)| Found {
            room_name,
            highlights: query
                .highlights(&message.body)
                .into_iter()
                .map(|range| (range.start, range.end))
                .collect(),
            message,
        })
        .collect())
}
