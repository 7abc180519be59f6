//! What a search answers.

use serde::{Deserialize, Serialize};

use crate::messages::Message;

/// A message a search found: the message as `history` shows it, and which
/// parts of its body matched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Found {
    #[serde(flatten)]
    pub message: Message,
    /// The room's name as the caller sees it (a direct room's: the other
    /// members' names).
    #[serde(default)]
    pub room_name: String,
    /// Byte ranges `[start, end)` of `body` (UTF-8) holding a query word,
    /// in order: what the results list highlights.
    #[serde(default)]
    pub highlights: Vec<(usize, usize)>,
}

/// The longest query, in characters.
pub const MAX_QUERY_CHARS: usize = 200;
/// Results per page unless asked otherwise, and at most.
pub const DEFAULT_LIMIT: usize = 20;
pub const MAX_LIMIT: usize = 50;
/// How many of the caller's rooms one search covers (the most recently
/// active; a search in one room names it).
pub const MAX_ROOMS: usize = 50;
