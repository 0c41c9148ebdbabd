//! Calibrated abstention: deciding, before any model is called, whether the collection holds
//! enough evidence to answer.
//!
//! An absolute cosine does not transfer: MiniLM's best-match cosines for a good match sit
//! around 0.5-0.7, e5's around 0.85, and a corpus of near-duplicate manuals scores higher than
//! a mixed folder. So the dense evidence is measured against the collection itself:
//!
//! - **Calibration** (computed lazily, cached in the `answer_calibration` table, refreshed when
//!   the number of embedded passages moved by more than 10% or the model changed): up to
//!   `answer.calibration_samples` current passages, evenly spread over the collection, each
//!   give a *pseudo-query*, the first 12 words of their middle sentence, run through dense
//!   retrieval. Two scores are kept per pseudo-query: the best cosine (almost always its own
//!   passage: "the source is here") and the best cosine of any *other* passage ("related, but
//!   not the source"). Their medians are the collection's two anchors, in this model's scale.
//! - **Relative dense score**: where the question's best cosine falls between the anchors,
//!   `(cos - other median) / (best median - other median)`, clipped to 0..1
//!   ([`Calibration::relative`]). Medians of ~200 samples are stable even in small
//!   collections, where tail percentiles are not.
//! - **Coverage**: the share of the question's content words (stemmed, stop and function words
//!   removed) found in the best of the top three passages; a share, so it has no scale to
//!   drift either.
//! - **Signal** = ½ · relative dense score + ½ · coverage. Answer when it is at least
//!   `answer.abstain_threshold` ([`DEFAULT_THRESHOLD`]), else say "I don't know" and show the
//!   nearest passages.
//!
//! Both halves are scale-free, so the threshold is a position, not a cosine, and it carries
//! over to other corpora and models: another model or corpus moves the anchors along with the
//! question's score. Measured with `cairn eval --abstention`:
//! - squad-abstain (620 paragraphs of SQuAD articles 0-11; 5,696 questions on articles 0-23,
//!   2,228 unanswerable), where 0.30 was chosen as the balance point of the sweep: answers
//!   94% of answerable questions, abstains on 93% of the others (the percentile of the best
//!   cosine within the pseudo-query distribution, the first design, balanced at 94%/95%);
//! - carried over unchanged to a SciFact split whose unanswerable claims are *in-domain* (the
//!   corpus holds related abstracts, just not the one that answers): 64% / 68% (the best
//!   threshold there reaches 69% balanced accuracy), where the percentile signal gave 75% / 52%
//!   and the best squad cosine threshold (0.43) carried over as is gave 93% / 7%.
//!
//! In-domain unanswerable questions are the hard case for any retrieval-only signal; citation
//! checking is the second line of defence there.
//!
//! Without vectors (embedding not done, model missing) the signal is coverage alone, against
//! [`KEYWORD_THRESHOLD`] (best on squad-abstain: 0.54).

use serde::{Deserialize, Serialize};

use crate::cite::{content_stems, sentences};

/// Default `answer.abstain_threshold` for the signal ½ · relative dense score + ½ · coverage,
/// chosen on squad-abstain to balance answering answerable and abstaining on unanswerable
/// questions (see the module docs for the sweep and the transfer check).
pub const DEFAULT_THRESHOLD: f32 = 0.30;

/// Weight of the relative dense score in the signal (the rest is keyword coverage).
pub const DENSE_WEIGHT: f32 = 0.5;

/// Identifies how a calibration was computed; a cached one made another way is recomputed.
pub const METHOD: &str = "pseudo-query-12w/best+other/v1";

/// Share of the question's content words that the best passage must contain when only
/// keyword evidence is available.
pub const KEYWORD_THRESHOLD: f32 = 0.55;

/// Words of a pseudo-query.
pub const PSEUDO_QUERY_WORDS: usize = 12;

/// The collection's distribution of best-match scores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// [`METHOD`] when computed.
    #[serde(default)]
    pub method: String,
    pub model_id: String,
    /// Vector generation of the catalog when computed.
    pub generation: u64,
    /// Embedded current passages when computed.
    pub passages: u64,
    pub computed_at: i64,
    /// Best cosine of each pseudo-query, sorted ascending.
    pub top1: Vec<f32>,
    /// Best cosine of a passage other than the pseudo-query's own, sorted ascending: the
    /// collection's level of "related, but not the source".
    #[serde(default)]
    pub other: Vec<f32>,
}

impl Calibration {
    /// Builds a calibration from the (best, best other) scores of pseudo-queries.
    pub fn new(
        model_id: &str,
        generation: u64,
        passages: u64,
        scores: Vec<(f32, Option<f32>)>,
    ) -> Self {
        let mut top1: Vec<f32> = scores
            .iter()
            .map(|s| s.0)
            .filter(|s| s.is_finite())
            .collect();
        let mut other: Vec<f32> = scores
            .iter()
            .filter_map(|s| s.1)
            .filter(|s| s.is_finite())
            .collect();
        top1.sort_by(f32::total_cmp);
        other.sort_by(f32::total_cmp);
        Calibration {
            method: METHOD.to_owned(),
            model_id: model_id.to_owned(),
            generation,
            passages,
            computed_at: crate::catalog::now(),
            top1,
            other,
        }
    }

    /// Fraction (0..=1) of pseudo-queries whose best score is below `score`, interpolated
    /// linearly between neighbouring samples.
    pub fn percentile(&self, score: f32) -> f32 {
        let s = &self.top1;
        match s.len() {
            0 => return 1.0,
            1 => return if score >= s[0] { 1.0 } else { 0.0 },
            _ => {}
        }
        if score <= s[0] {
            return 0.0;
        }
        if score >= s[s.len() - 1] {
            return 1.0;
        }
        let i = s.partition_point(|x| *x <= score);
        let (lo, hi) = (s[i - 1], s[i]);
        let frac = if hi > lo {
            (score - lo) / (hi - lo)
        } else {
            0.0
        };
        ((i - 1) as f32 + frac) / (s.len() - 1) as f32
    }

    /// Whether this calibration still describes a collection of `passages` embedded passages
    /// for `model_id`.
    pub fn is_fresh(&self, model_id: &str, passages: u64) -> bool {
        let drift = (self.passages as f64 - passages as f64).abs() / passages.max(1) as f64;
        self.method == METHOD && self.model_id == model_id && drift <= 0.10 && !self.top1.is_empty()
    }

    /// The two anchors: median best-other score and median best score.
    pub fn anchors(&self) -> (f32, f32) {
        let median = |s: &[f32]| if s.is_empty() { 0.0 } else { s[s.len() / 2] };
        (median(&self.other), median(&self.top1))
    }

    /// Where `score` falls between the collection's "related, not the source" level (0) and
    /// its "the source is here" level (1), clipped to 0..=1. Falls back to the percentile when
    /// the two levels (nearly) coincide.
    pub fn relative(&self, score: f32) -> f32 {
        let (lo, hi) = self.anchors();
        if hi - lo < 0.02 {
            return self.percentile(score);
        }
        ((score - lo) / (hi - lo)).clamp(0.0, 1.0)
    }

    /// A few quantiles, for display.
    pub fn quantiles(&self) -> Vec<(f32, f32)> {
        let s = &self.top1;
        if s.is_empty() {
            return Vec::new();
        }
        [0.01f32, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9]
            .iter()
            .map(|q| (*q, s[((s.len() - 1) as f32 * q).round() as usize]))
            .collect()
    }
}

/// The pseudo-query made from a passage: the first [`PSEUDO_QUERY_WORDS`] words of its middle
/// sentence among those with at least six words (None for passages without one).
pub fn pseudo_query(text: &str) -> Option<String> {
    let candidates: Vec<&str> = sentences(text, false)
        .into_iter()
        .map(|(s, e)| &text[s..e])
        .filter(|s| s.split_whitespace().count() >= 6)
        .collect();
    let sentence = candidates.get(candidates.len() / 2)?;
    let words: Vec<&str> = sentence
        .split_whitespace()
        .take(PSEUDO_QUERY_WORDS)
        .collect();
    Some(words.join(" "))
}

/// Which signal decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Basis {
    /// ½ · relative dense score (between the calibration's anchors) + ½ · coverage.
    Calibrated,
    /// Share of the question's content words in the best passage (no vectors available).
    KeywordCoverage,
    /// Nothing matched at all.
    NoResults,
    /// Abstention is off (threshold 0).
    Disabled,
}

/// The evidence behind an answer-or-abstain decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    pub basis: Basis,
    /// Best dense cosine among current passages passing the filters.
    pub dense_top1: Option<f32>,
    /// Its position between the calibration's anchors (0..1).
    pub relative: Option<f32>,
    /// Share of the question's content words found in the best of the top passages.
    pub coverage: f32,
    /// The value compared with the threshold (see [`Basis`]).
    pub signal: f32,
    pub threshold: f32,
    /// True: answer; false: say "I don't know".
    pub answerable: bool,
}

impl Evidence {
    /// Applies the decision rule to the measured values.
    pub fn decide(
        dense_top1: Option<f32>,
        calibration: Option<&Calibration>,
        coverage: f32,
        any_results: bool,
        threshold: f32,
    ) -> Evidence {
        let relative = match (dense_top1, calibration) {
            (Some(s), Some(c)) => Some(c.relative(s)),
            _ => None,
        };
        let (basis, signal, limit) = if !any_results {
            (Basis::NoResults, 0.0, threshold.max(f32::MIN_POSITIVE))
        } else if threshold <= 0.0 {
            (Basis::Disabled, relative.unwrap_or(coverage), 0.0)
        } else if let Some(r) = relative {
            (
                Basis::Calibrated,
                DENSE_WEIGHT * r + (1.0 - DENSE_WEIGHT) * coverage,
                threshold,
            )
        } else {
            (Basis::KeywordCoverage, coverage, KEYWORD_THRESHOLD)
        };
        Evidence {
            basis,
            dense_top1,
            relative,
            coverage,
            signal,
            threshold: limit,
            answerable: any_results && signal >= limit,
        }
    }
}

/// Share of the query's content words found in the best of `passages`.
pub fn coverage<'a>(query: &str, passages: impl IntoIterator<Item = &'a str>) -> f32 {
    let q = content_stems(query);
    if q.is_empty() {
        return 0.0;
    }
    passages
        .into_iter()
        .map(|p| {
            let ps = content_stems(p);
            q.iter().filter(|t| ps.contains(*t)).count() as f32 / q.len() as f32
        })
        .fold(0.0, f32::max)
}

pub(crate) fn load(
    conn: &rusqlite::Connection,
    model_id: &str,
) -> crate::Result<Option<Calibration>> {
    use rusqlite::OptionalExtension;
    let data: Option<String> = conn
        .query_row(
            "SELECT data FROM answer_calibration WHERE model_id = ?1",
            [model_id],
            |r| r.get(0),
        )
        .optional()?;
    Ok(data.and_then(|d| serde_json::from_str(&d).ok()))
}

pub(crate) fn store(conn: &rusqlite::Connection, c: &Calibration) -> crate::Result<()> {
    let data = serde_json::to_string(c).map_err(|e| crate::Error::Invalid(e.to_string()))?;
    conn.execute(
        "INSERT INTO answer_calibration(model_id, generation, passages, computed_at, data)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT(model_id) DO UPDATE SET generation = excluded.generation,
           passages = excluded.passages, computed_at = excluded.computed_at, data = excluded.data",
        rusqlite::params![
            c.model_id,
            c.generation as i64,
            c.passages as i64,
            c.computed_at,
            data
        ],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_interpolates_within_the_distribution() {
        let c = Calibration::new(
            "m",
            1,
            5,
            [0.5, 0.1, 0.3, 0.2, 0.4].map(|s| (s, None)).to_vec(),
        );
        assert_eq!(c.percentile(0.05), 0.0);
        assert_eq!(c.percentile(0.6), 1.0);
        assert!((c.percentile(0.3) - 0.5).abs() < 1e-6);
        assert!((c.percentile(0.25) - 0.375).abs() < 1e-6);
        assert!(c.is_fresh("m", 5) && !c.is_fresh("m", 7) && !c.is_fresh("x", 5));
    }

    #[test]
    fn relative_score_runs_between_the_anchors() {
        let c = Calibration::new(
            "m",
            1,
            3,
            vec![(0.7, Some(0.2)), (0.8, Some(0.3)), (0.9, Some(0.4))],
        );
        assert_eq!(c.anchors(), (0.3, 0.8));
        assert!((c.relative(0.55) - 0.5).abs() < 1e-6);
        assert_eq!(c.relative(0.1), 0.0);
        assert_eq!(c.relative(0.95), 1.0);
    }

    #[test]
    fn pseudo_query_is_a_sentence_prefix() {
        let text = "Title line. The refund window is fourteen days from the date of delivery \
                    for all goods bought online. Short one. Groceries must be reported on the \
                    same day they arrive.";
        let q = pseudo_query(text).unwrap();
        assert_eq!(q.split_whitespace().count(), PSEUDO_QUERY_WORDS.min(10));
        assert!(q.starts_with("Groceries"), "{q}");
        assert!(pseudo_query("Too short.").is_none());
    }

    #[test]
    fn decision_uses_calibrated_evidence_then_keywords() {
        let c = Calibration::new(
            "m",
            1,
            3,
            vec![(0.5, Some(0.1)), (0.6, Some(0.2)), (0.7, Some(0.3))],
        );
        // Anchors 0.2 and 0.6.
        let e = Evidence::decide(Some(0.3), Some(&c), 0.2, true, 0.3);
        assert!(!e.answerable && e.basis == Basis::Calibrated, "{e:?}");
        assert!((e.signal - 0.225).abs() < 1e-6, "{e:?}");
        let e = Evidence::decide(Some(0.5), Some(&c), 0.2, true, 0.3);
        assert!(e.answerable, "{e:?}");
        let e = Evidence::decide(Some(0.6), Some(&c), 0.0, true, 0.3);
        assert!(e.answerable, "a close dense match alone answers: {e:?}");
        let e = Evidence::decide(Some(0.1), Some(&c), 0.5, true, 0.3);
        assert!(!e.answerable, "half the words alone do not: {e:?}");
        let e = Evidence::decide(None, None, 0.7, true, 0.3);
        assert!(e.answerable && e.basis == Basis::KeywordCoverage);
        let e = Evidence::decide(None, None, 0.7, false, 0.05);
        assert!(!e.answerable && e.basis == Basis::NoResults);
        let e = Evidence::decide(Some(0.1), Some(&c), 0.0, true, 0.0);
        assert!(e.answerable && e.basis == Basis::Disabled);
    }
}
