//! Retrieval: the ranked passage a search returns ([`SearchHit`]), fusing BM25 and dense
//! rankings, and building snippets.

use std::collections::{HashMap, HashSet};

use serde::Serialize;

use crate::catalog::ChunkId;
use crate::config::Fusion;
use crate::index::Hit;

/// One ranked passage.
#[derive(Debug, Clone, Serialize)]
pub struct SearchHit {
    pub chunk_id: ChunkId,
    #[serde(serialize_with = "crate::paths::serialize_escaped")]
    pub path: std::path::PathBuf,
    pub page: Option<u32>,
    pub heading: Vec<String>,
    pub snippet: Snippet,
    pub score: f32,
    /// Version number of the document this passage belongs to (1 = first seen).
    pub version: i64,
    pub kind: String,
    pub title: Option<String>,
    pub byte_start: usize,
    pub byte_end: usize,
    pub text: String,
    /// Version status: `current`, or `superseded` / `deleted` in history searches.
    pub status: String,
    /// Set when the document is deprecated (only returned when asked for).
    pub deprecated: Option<crate::catalog::Deprecation>,
}

/// Reciprocal rank fusion: each list contributes `1 / (k + rank)` (rank from 1).
pub fn rrf(lists: &[&[Hit]], k: f32) -> Vec<Hit> {
    let mut scores: HashMap<ChunkId, f32> = HashMap::new();
    for list in lists {
        for (i, hit) in list.iter().enumerate() {
            *scores.entry(hit.chunk).or_default() += 1.0 / (k + i as f32 + 1.0);
        }
    }
    sorted(scores)
}

/// Weighted sum of min-max normalised scores: `alpha * dense + (1 - alpha) * bm25`.
/// A chunk missing from one list gets 0 from it.
pub fn weighted(bm25: &[Hit], dense: &[Hit], alpha: f32) -> Vec<Hit> {
    let mut scores: HashMap<ChunkId, f32> = HashMap::new();
    for (list, w) in [(bm25, 1.0 - alpha), (dense, alpha)] {
        let max = list
            .iter()
            .map(|h| h.score)
            .fold(f32::NEG_INFINITY, f32::max);
        let min = list.iter().map(|h| h.score).fold(f32::INFINITY, f32::min);
        let span = max - min;
        for hit in list {
            let norm = if span > f32::EPSILON {
                (hit.score - min) / span
            } else {
                1.0
            };
            *scores.entry(hit.chunk).or_default() += w * norm;
        }
    }
    sorted(scores)
}

/// Fuses two rankings with the configured method.
pub fn fuse(bm25: &[Hit], dense: &[Hit], fusion: Fusion, alpha: f32, rrf_k: f32) -> Vec<Hit> {
    match fusion {
        Fusion::Rrf => rrf(&[bm25, dense], rrf_k),
        Fusion::Weighted => weighted(bm25, dense, alpha),
    }
}

fn sorted(scores: HashMap<ChunkId, f32>) -> Vec<Hit> {
    let mut hits: Vec<Hit> = scores
        .into_iter()
        .map(|(chunk, score)| Hit { chunk, score })
        .collect();
    hits.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.chunk.cmp(&b.chunk)));
    hits
}

/// A passage excerpt with the byte ranges (within `text`) of matched query terms.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Snippet {
    pub text: String,
    pub highlights: Vec<(usize, usize)>,
}

/// Picks the window of about `max_chars` bytes of `text` with the most distinct query terms
/// and marks the matches. Falls back to the start of the text.
pub fn snippet(text: &str, query: &str, max_chars: usize) -> Snippet {
    let query_terms: HashSet<String> = crate::index::text::analyze(query)
        .into_iter()
        .map(|(t, _, _)| t)
        .collect();
    let tokens: Vec<(String, usize, usize)> = crate::index::text::analyze(text)
        .into_iter()
        .filter(|(t, _, _)| query_terms.contains(t))
        .collect();
    let (mut start, mut best) = (0usize, 0usize);
    for (i, (_, s, _)) in tokens.iter().enumerate() {
        let window_end = s + max_chars;
        let distinct: HashSet<&str> = tokens[i..]
            .iter()
            .take_while(|(_, ts, te)| *ts < window_end && *te <= window_end)
            .map(|(t, _, _)| t.as_str())
            .collect();
        if distinct.len() > best {
            best = distinct.len();
            start = *s;
        }
    }
    // Back up to a word boundary shortly before the first match, for context.
    if start > 0 {
        let back = floor_char(text, start.saturating_sub(max_chars / 6));
        start = if back == 0 {
            0
        } else {
            text[back..start]
                .find(char::is_whitespace)
                .map_or(start, |i| back + i + 1)
        };
    }
    let mut end = floor_char(text, (start + max_chars).min(text.len()));
    if end < text.len() {
        if let Some(ws) = text[start..end].rfind(char::is_whitespace) {
            if ws > max_chars / 2 {
                end = start + ws;
            }
        }
    }
    // Collapse whitespace runs, keeping a map from old to new offsets for the highlights.
    let prefix = if start > 0 { "…" } else { "" };
    let mut out = String::from(prefix);
    let mut map = Vec::with_capacity(end - start + 1);
    let mut last_space = true;
    for (i, c) in text[start..end].char_indices() {
        let at = out.len();
        map.extend(std::iter::repeat_n(at, c.len_utf8()));
        debug_assert_eq!(map.len(), i + c.len_utf8());
        if c.is_whitespace() {
            if !last_space {
                out.push(' ');
            }
            last_space = true;
        } else {
            out.push(c);
            last_space = false;
        }
    }
    map.push(out.len());
    let trimmed = out.trim_end().len();
    out.truncate(trimmed);
    if end < text.len() {
        out.push('…');
    }
    let highlights = tokens
        .iter()
        .filter(|(_, s, e)| *s >= start && *e <= end)
        .map(|(_, s, e)| (map[s - start], map[e - start]))
        .collect();
    Snippet {
        text: out,
        highlights,
    }
}

fn floor_char(text: &str, mut i: usize) -> usize {
    while i > 0 && !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(id: i64, score: f32) -> Hit {
        Hit {
            chunk: ChunkId(id),
            score,
        }
    }

    #[test]
    fn rrf_rewards_agreement() {
        let a = [h(1, 9.0), h(2, 5.0), h(3, 1.0)];
        let b = [h(2, 0.9), h(3, 0.8), h(4, 0.1)];
        let fused = rrf(&[&a, &b], 60.0);
        assert_eq!(fused[0].chunk, ChunkId(2));
        assert_eq!(fused.len(), 4);
    }

    #[test]
    fn weighted_respects_alpha() {
        let bm = [h(1, 10.0), h(2, 1.0)];
        let dn = [h(2, 0.9), h(1, 0.1)];
        assert_eq!(weighted(&bm, &dn, 0.0)[0].chunk, ChunkId(1));
        assert_eq!(weighted(&bm, &dn, 1.0)[0].chunk, ChunkId(2));
    }

    #[test]
    fn snippet_keeps_the_start_and_collapses_whitespace() {
        let s = snippet(
            "Recette du gâteau:   mélanger\n\nla crème fraîche.",
            "crème",
            240,
        );
        assert_eq!(s.text, "Recette du gâteau: mélanger la crème fraîche.");
        let (a, b) = s.highlights[0];
        assert_eq!(&s.text[a..b], "crème");
    }

    #[test]
    fn snippet_centres_on_matches_and_marks_them() {
        let text = format!(
            "{} The refund window is fourteen days from delivery. {}",
            "filler words ".repeat(40),
            "more filler ".repeat(40)
        );
        let s = snippet(&text, "refund days", 120);
        assert!(s.text.contains("refund window"), "{}", s.text);
        assert_eq!(s.highlights.len(), 2);
        for (a, b) in &s.highlights {
            let word = &s.text[*a..*b];
            assert!(word == "refund" || word == "days", "{word}");
        }
    }
}
