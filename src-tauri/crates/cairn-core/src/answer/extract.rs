//! Extractive answers: no generation at all. The best supporting sentences of the top
//! passages, quoted verbatim (whitespace collapsed), each followed by its `[n]` citation.
//!
//! A sentence's score is the share of the question's content words it contains (each word
//! weighted by how few of the candidate sentences hold it, as IDF), mixed with its embedding
//! cosine to the question when the embedder is available (weighted towards the cosine, which
//! sees paraphrases: "food per day" for "meal allowance"); a bonus goes to a sentence holding
//! the kind of answer the question asks for ([`super::answer_type`]: a date for "when"), and a
//! small one to higher-ranked sources. Ties break on source number then position, so the
//! output is deterministic. On 200 SQuAD questions the first quoted sentence holds the answer
//! 73% of the time (71% without the IDF and answer-kind terms; docs/benchmarks.md).

use std::collections::HashSet;

use super::{answer_type, Source};
use crate::cite::{collapse_ws, content_stems, normalise, sentences};

/// Weight of word overlap in a sentence's score when its embedding cosine is known.
pub const OVERLAP_WEIGHT: f32 = 0.3;

/// Added to the score of a sentence holding the kind of answer the question asks for.
pub const TYPE_WEIGHT: f32 = 0.1;

/// A sentence of a source passage that may be quoted.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// The source number.
    pub n: usize,
    /// Byte span within the source's text.
    pub span: (usize, usize),
    /// The sentence, verbatim.
    pub text: String,
    /// IDF-weighted share of the question's content words in the sentence.
    pub overlap: f32,
    /// Embedding cosine to the question, when computed.
    pub similarity: Option<f32>,
    /// Whether it holds the kind of answer the question asks for (a date for "when"; see
    /// [`super::answer_type`]), when the question says.
    pub fits: Option<bool>,
    pub score: f32,
}

/// The quotable sentences (at least four words) of `sources`, scored by word overlap.
pub fn candidates(query: &str, sources: &[Source]) -> Vec<Candidate> {
    let q = content_stems(query);
    let expected = answer_type::expected(query);
    let mut found = Vec::new();
    for s in sources {
        for (a, b) in sentences(&s.text, false) {
            let text = &s.text[a..b];
            if text.split_whitespace().count() < 4 {
                continue;
            }
            found.push((s.n, (a, b), text, content_stems(text)));
        }
    }
    // A question word found in few of the sentences tells more than one found in most.
    let n = found.len() as f32;
    let weight = |t: &String| {
        let df = found.iter().filter(|(.., st)| st.contains(t)).count() as f32;
        (1.0 + n / (df + 1.0)).ln()
    };
    let weights: Vec<(&String, f32)> = q.iter().map(|t| (t, weight(t))).collect();
    let total: f32 = weights.iter().map(|(_, w)| w).sum();
    found
        .into_iter()
        .map(|(n, span, text, stems)| {
            let overlap = if total > 0.0 {
                weights
                    .iter()
                    .filter(|(t, _)| stems.contains(*t))
                    .map(|(_, w)| w)
                    .sum::<f32>()
                    / total
            } else {
                0.0
            };
            Candidate {
                n,
                span,
                text: text.to_owned(),
                overlap,
                similarity: None,
                fits: expected.map(|k| answer_type::holds(text, query, k)),
                score: 0.0,
            }
        })
        .collect()
}

/// Sentences after the best one are quoted only when they score at least this share of it.
pub const FOLLOWER_RATIO: f32 = 0.75;

/// Scores candidates (with `similarities` in the same order, if any) and picks up to `k`:
/// the best one always, others scoring at least [`FOLLOWER_RATIO`] of it and sharing a
/// question word.
pub fn pick(mut cands: Vec<Candidate>, similarities: Option<&[f32]>, k: usize) -> Vec<Candidate> {
    for (i, c) in cands.iter_mut().enumerate() {
        c.similarity = similarities.and_then(|s| s.get(i).copied());
        let rank_bonus = 0.02 / c.n as f32;
        c.score = match c.similarity {
            Some(sim) => OVERLAP_WEIGHT * c.overlap + (1.0 - OVERLAP_WEIGHT) * sim.max(0.0),
            None => c.overlap,
        } + rank_bonus
            + if c.fits == Some(true) {
                TYPE_WEIGHT
            } else {
                0.0
            };
    }
    cands.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then(a.n.cmp(&b.n))
            .then(a.span.0.cmp(&b.span.0))
    });
    let best = cands.first().map_or(0.0, |c| c.score);
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for c in cands {
        if out.len() >= k {
            break;
        }
        if !out.is_empty() && (c.score < FOLLOWER_RATIO * best || c.overlap == 0.0) {
            continue;
        }
        if seen.insert(normalise(&c.text)) {
            out.push(c);
        }
    }
    out
}

/// The sentences of `source` that share most with `query` (IDF-weighted overlap, plus the
/// answer-kind bonus), kept in their order within `max_chars`, a left-out stretch marked
/// `[…]`: what a long passage shows a model instead of its first `max_chars`. None when the
/// passage fits, when no sentence shares a question word, or when the best one alone is too
/// long (the caller cuts the passage as before).
pub fn excerpt(query: &str, source: &Source, max_chars: usize) -> Option<String> {
    const GAP: &str = "[…]";
    if source.text.trim().len() <= max_chars {
        return None;
    }
    let bonus = |c: &Candidate| {
        c.overlap
            + if c.fits == Some(true) {
                TYPE_WEIGHT
            } else {
                0.0
            }
    };
    let mut cands = candidates(query, std::slice::from_ref(source));
    cands.sort_by(|a, b| bonus(b).total_cmp(&bonus(a)).then(a.span.0.cmp(&b.span.0)));
    if cands.first().is_none_or(|c| c.overlap == 0.0) {
        return None;
    }
    let mut kept = Vec::new();
    let mut used = 0;
    for c in &cands {
        let len = c.text.len() + GAP.len() + 2;
        if used + len <= max_chars {
            used += len;
            kept.push(c.span);
        }
    }
    if kept.is_empty() {
        return None;
    }
    kept.sort_unstable();
    let text = &source.text;
    let mut out = String::with_capacity(used);
    let mut end = 0;
    for (a, b) in kept {
        if !text[end..a].trim().is_empty() {
            out.push_str(GAP);
            out.push(' ');
        } else if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(text[a..b].trim());
        out.push(' ');
        end = b;
    }
    if !text[end..].trim().is_empty() {
        out.push_str(GAP);
    }
    Some(collapse_ws(out.trim_end()))
}

/// The answer text: one quoted sentence a line, each followed by its citation.
pub fn render(picks: &[Candidate]) -> Vec<String> {
    picks
        .iter()
        .map(|c| format!("{} [{}]", collapse_ws(&c.text), c.n))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src(n: usize, text: &str) -> Source {
        Source {
            n,
            chunk_id: n as i64,
            path: "/x".into(),
            version: 1,
            page: None,
            heading: vec![],
            title: None,
            byte_span: (100, 100 + text.len()),
            score: 1.0,
            text: text.into(),
        }
    }

    #[test]
    fn picks_the_sentences_that_answer_deterministically() {
        let sources = [
            src(
                1,
                "Welcome to the shop. Customers may return goods within fourteen days of \
                 delivery for a full refund. Opening hours are nine to five.",
            ),
            src(
                2,
                "Perishable groceries cannot be refunded and must be reported the same day.",
            ),
        ];
        let q = "How many days do customers have to return goods for a refund?";
        let a = pick(candidates(q, &sources), None, 2);
        let b = pick(candidates(q, &sources), None, 2);
        assert_eq!(a, b);
        assert_eq!(a[0].n, 1);
        assert!(a[0].text.starts_with("Customers may return goods"));
        let (s, e) = a[0].span;
        assert_eq!(&sources[0].text[s..e], a[0].text);
        let lines = render(&a);
        assert!(lines[0].ends_with("refund. [1]"), "{lines:?}");
    }

    #[test]
    fn a_long_passage_is_cut_to_the_sentences_nearest_the_question() {
        let text = "The company was founded in a small garage by two friends. \
                    Its first product was a kit for hobbyists and schools. \
                    Sales grew quickly through the next decade everywhere. \
                    The headquarters moved to Cupertino in the year 1993. \
                    Today it employs thousands of people around the world.";
        let s = src(1, text);
        let e = excerpt("Where did the headquarters move?", &s, 120).unwrap();
        assert_eq!(
            e,
            "[…] The headquarters moved to Cupertino in the year 1993. […]"
        );
        // Two sentences fit: both kept in the passage's order.
        let e = excerpt(
            "When was the company founded and the headquarters moved?",
            &s,
            140,
        )
        .unwrap();
        assert!(
            e.starts_with("The company was founded") && e.contains("[…] The headquarters"),
            "{e}"
        );
        // A passage that fits, or shares no question word, is left to the caller.
        assert_eq!(excerpt("headquarters", &s, 1000), None);
        assert_eq!(excerpt("zebra stripes", &s, 120), None);
    }
}
