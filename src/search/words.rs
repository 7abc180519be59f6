//! The words of a text, as search indexes and looks them up: Unicode word
//! boundaries (UAX #29, the `unicode-segmentation` crate), lowercased,
//! accents folded (`Café` → `cafe`: canonical decomposition with the
//! combining marks dropped).
//!
//! Scripts written without spaces split differently: UAX #29 makes each
//! Chinese or Japanese ideograph (and each hiragana) a word of its own,
//! while a run of katakana stays one word. So `東京タワー` is the words
//! `東`, `京`, `タワー`, and a query finds messages holding each of its
//! characters, adjacent or not (a unigram index: more results than a
//! dictionary-based segmenter would give, never fewer).

use std::ops::Range;

use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;
use unicode_segmentation::UnicodeSegmentation;

/// The longest word indexed, in bytes after folding: longer ones (hashes,
/// long URLs' parts) are left out of the index.
pub const MAX_WORD_BYTES: usize = 64;
/// How many distinct words of one message are indexed (the first ones):
/// a 4,000-character message has at most about 800 words; this bounds the
/// send's work at this many index writes.
pub const MAX_WORDS_PER_MESSAGE: usize = 200;

/// A word as it is indexed and searched: lowercase, accents folded.
pub fn fold(word: &str) -> String {
    word.nfd()
        .filter(|c| !is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .collect()
}

/// Each word of `text` with its byte range, folded; words too long to be
/// indexed are left out.
pub fn spans(text: &str) -> impl Iterator<Item = (Range<usize>, String)> + '_ {
    text.unicode_word_indices().filter_map(|(at, word)| {
        let folded = fold(word);
        (!folded.is_empty() && folded.len() <= MAX_WORD_BYTES)
            .then(|| (at..at + word.len(), folded))
    })
}

/// The distinct words of a message body, as indexed: in order of first
/// appearance, at most [`MAX_WORDS_PER_MESSAGE`].
pub fn index_words(body: &str) -> Vec<String> {
    let mut words: Vec<String> = Vec::new();
    for (_, word) in spans(body) {
        if !words.contains(&word) {
            words.push(word);
            if words.len() == MAX_WORDS_PER_MESSAGE {
                break;
            }
        }
    }
    words
}

/// A search query: its words, and whether the last one may be the start of
/// a longer word (it ends the query, with nothing after it, and has at
/// least two characters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    pub words: Vec<String>,
    pub last_is_prefix: bool,
}

/// The most words a query may have (each Chinese or Japanese ideograph
/// is one).
pub const MAX_QUERY_WORDS: usize = 10;

impl Query {
    /// `None` if `q` has no word at all. A word too long to be indexed
    /// is kept: no message has it, so nothing is found.
    pub fn parse(q: &str) -> Option<Self> {
        let mut words: Vec<String> = Vec::new();
        let mut end = 0;
        for (at, raw) in q.unicode_word_indices() {
            let word = fold(raw);
            if word.is_empty() {
                continue;
            }
            end = at + raw.len();
            if !words.contains(&word) {
                words.push(word);
            }
        }
        let last = words.last()?;
        let last_is_prefix = end == q.len() && last.chars().count() >= 2;
        Some(Self {
            words,
            last_is_prefix,
        })
    }

    /// The byte ranges of `body` that match the query: words equal to one
    /// of its words, or starting with the last when it is a prefix.
    pub fn highlights(&self, body: &str) -> Vec<Range<usize>> {
        let Some((last, whole)) = self.words.split_last() else {
            return Vec::new();
        };
        spans(body)
            .filter(|(_, word)| {
                whole.contains(word)
                    || word == last
                    || (self.last_is_prefix && word.starts_with(last.as_str()))
            })
            .map(|(range, _)| range)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_folded_segmented_and_distinct() {
        assert_eq!(
            index_words("The deploy-key is in VAULT; the café's Übung!"),
            ["the", "deploy", "key", "is", "in", "vault", "cafe's", "ubung"]
        );
        assert_eq!(
            index_words("東京タワーに行った"),
            ["東", "京", "タワー", "に", "行", "っ", "た"]
        );
        assert_eq!(
            index_words("**bold** `code` https://example.com/x?y=1"),
            ["bold", "code", "https", "example.com", "x", "y", "1"]
        );
        let long = "a".repeat(MAX_WORD_BYTES + 1);
        assert_eq!(index_words(&format!("{long} b")), ["b"]);
        let many: String = (0..300).map(|n| format!("w{n} ")).collect();
        assert_eq!(index_words(&many).len(), MAX_WORDS_PER_MESSAGE);
    }

    #[test]
    fn queries_end_in_a_prefix_only_when_typed_up_to_the_end() {
        let q = Query::parse("Deploy VAU").unwrap();
        assert_eq!(q.words, ["deploy", "vau"]);
        assert!(q.last_is_prefix);
        assert!(!Query::parse("deploy vau ").unwrap().last_is_prefix);
        assert!(!Query::parse("deploy vau.").unwrap().last_is_prefix);
        assert!(!Query::parse("deploy v").unwrap().last_is_prefix);
        assert_eq!(Query::parse(" !? "), None);
        let long = "x".repeat(MAX_WORD_BYTES + 1);
        assert_eq!(
            Query::parse(&format!("{long} vault")).unwrap().words.len(),
            2
        );
        let body = "The deploy key is in vault, Vaults too";
        let marked: Vec<&str> = q.highlights(body).into_iter().map(|r| &body[r]).collect();
        assert_eq!(marked, ["deploy", "vault", "Vaults"]);
    }
}
