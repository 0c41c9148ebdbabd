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
}
