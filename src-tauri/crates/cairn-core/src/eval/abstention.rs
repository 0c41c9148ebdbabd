//! The "I don't know" decision of `ask`, scored against which queries have a relevant document
//! in the corpus, with a sweep of thresholds.

use std::collections::HashSet;
use std::time::Instant;

use serde::Serialize;

use super::{build_store, Dataset, EvalOptions, StoreDir};
use crate::answer::abstain::{Calibration, Evidence};
use crate::config::Config;
use crate::engine::Progress;
use crate::error::{Error, Result};

/// One threshold of the abstention sweep.
#[derive(Debug, Clone, Serialize)]
pub struct SweepPoint {
    pub threshold: f32,
    pub answered_when_answerable: f64,
    pub abstained_when_unanswerable: f64,
    pub hit_at_10_when_answered: f64,
}

/// Figures printed by `cairn eval --abstention`.
#[derive(Debug, Clone, Serialize)]
pub struct AbstentionReport {
    pub dataset: String,
    /// The signal compared with the threshold: `calibrated` (½ relative dense score + ½
    /// keyword coverage) or `keyword-coverage` (no vectors).
    pub signal: String,
    pub threshold: f32,
    pub queries: usize,
    /// Queries with a relevant document in the corpus.
    pub answerable: usize,
    pub unanswerable: usize,
    pub answered_when_answerable: f64,
    pub abstained_when_unanswerable: f64,
    /// Among answered queries, the share with a relevant document in the top 10 passages
    /// (an answered unanswerable query is a miss).
    pub hit_at_10_when_answered: f64,
    /// The same among answered answerable queries only (retrieval quality when answering).
    pub hit_at_10_answerable_answered: f64,
    /// Mean of the two fractions above the sweep (what the default threshold balances).
    pub balanced_accuracy: f64,
    pub sweep: Vec<SweepPoint>,
    /// (quantile, best cosine) of the collection's calibration distribution.
    pub calibration: Vec<(f32, f32)>,
    /// The calibration's anchors: median best-other and median best cosine.
    pub calibration_anchors: Option<(f32, f32)>,
    pub calibration_samples: usize,
    pub docs: usize,
    pub chunks: u64,
    pub index_seconds: f64,
    pub decision_p50_ms: f64,
}

/// Thresholds reported by the abstention sweep.
pub const SWEEP: &[f32] = &[
    0.0, 0.1, 0.2, 0.25, 0.3, 0.325, 0.35, 0.375, 0.4, 0.45, 0.5, 0.6, 0.7,
];

struct Decided {
    answerable: bool,
    hit: bool,
    dense_top1: Option<f32>,
    coverage: f32,
    any: bool,
}

fn abstention_point(rows: &[Decided], cal: Option<&Calibration>, threshold: f32) -> SweepPoint {
    let (mut ans, mut ans_answered, mut unans, mut unans_abstained) = (0usize, 0, 0, 0);
    let (mut answered, mut answered_hit) = (0usize, 0);
    for r in rows {
        let e = Evidence::decide(r.dense_top1, cal, r.coverage, r.any, threshold);
        if r.answerable {
            ans += 1;
            ans_answered += e.answerable as usize;
        } else {
            unans += 1;
            unans_abstained += (!e.answerable) as usize;
        }
        if e.answerable {
            answered += 1;
            answered_hit += r.hit as usize;
        }
    }
    let frac = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    SweepPoint {
        threshold,
        answered_when_answerable: frac(ans_answered, ans),
        abstained_when_unanswerable: frac(unans_abstained, unans),
        hit_at_10_when_answered: frac(answered_hit, answered),
    }
}

/// Runs every query of a dataset through retrieval and the abstention decision of
/// [`Engine::ask`] (no generator needed). A query is answerable when one of its relevant
/// documents is in the corpus. `threshold` defaults to `answer.abstain_threshold`.
pub fn evaluate_abstention(
    opts: &EvalOptions,
    config: &Config,
    threshold: Option<f32>,
    progress: &mut dyn FnMut(&Progress),
) -> Result<AbstentionReport> {
    let ds = Dataset::load_judged(&opts.dataset)?;
    let mut config = config.clone();
    config.search.mode = opts.mode;
    config.search.fusion = opts.fusion;
    config.search.alpha = opts.alpha;
    config.search.rrf_k = opts.rrf_k;
    let threshold = threshold.unwrap_or(config.answer.abstain_threshold);
    if !(0.0..=1.0).contains(&threshold) {
        return Err(Error::Invalid(format!(
            "the abstention threshold must be between 0 and 1, not {threshold}"
        )));
    }
    let store = StoreDir::new(opts.store.as_deref())?;
    let (mut engine, by_path, index_seconds, _) =
        build_store(&ds, &config, store.path(), progress)?;
    let in_corpus: HashSet<&str> = ds.corpus.iter().map(|d| d.id.as_str()).collect();
    let calibration = engine.abstention_calibration()?;
    let queries: Vec<&(String, String)> = ds
        .queries
        .iter()
        .take(opts.max_queries.unwrap_or(usize::MAX))
        .collect();
    let mut rows = Vec::with_capacity(queries.len());
    let mut latencies = Vec::with_capacity(queries.len());
    let filters = crate::catalog::Filters::default();
    for (qid, text) in &queries {
        let rel = &ds.qrels[qid];
        let t = Instant::now();
        let r = engine.retrieve_with_evidence(text, &filters, 10)?;
        latencies.push(t.elapsed().as_secs_f64() * 1000.0);
        let hit = r
            .hits
            .iter()
            .filter_map(|h| by_path.get(&h.path))
            .any(|d| rel.contains_key(d));
        rows.push(Decided {
            answerable: rel.keys().any(|d| in_corpus.contains(d.as_str())),
            hit,
            dense_top1: r.evidence.dense_top1,
            coverage: r.evidence.coverage,
            any: !r.hits.is_empty(),
        });
    }
    let chosen = abstention_point(&rows, calibration.as_ref(), threshold);
    let sweep = SWEEP
        .iter()
        .map(|t| abstention_point(&rows, calibration.as_ref(), *t))
        .collect();
    let answered_answerable: Vec<&Decided> = rows
        .iter()
        .filter(|r| {
            r.answerable
                && Evidence::decide(
                    r.dense_top1,
                    calibration.as_ref(),
                    r.coverage,
                    r.any,
                    threshold,
                )
                .answerable
        })
        .collect();
    let hit_answerable = if answered_answerable.is_empty() {
        0.0
    } else {
        answered_answerable.iter().filter(|r| r.hit).count() as f64
            / answered_answerable.len() as f64
    };
    latencies.sort_by(f64::total_cmp);
    let answerable = rows.iter().filter(|r| r.answerable).count();
    let chunks = engine
        .catalog()
        .stats(&config.embedding.model_id)?
        .current_chunks;
    Ok(AbstentionReport {
        dataset: opts
            .dataset
            .file_name()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default(),
        signal: if calibration.is_some() {
            "calibrated".into()
        } else {
            "keyword-coverage".into()
        },
        threshold,
        queries: rows.len(),
        answerable,
        unanswerable: rows.len() - answerable,
        answered_when_answerable: chosen.answered_when_answerable,
        abstained_when_unanswerable: chosen.abstained_when_unanswerable,
        hit_at_10_when_answered: chosen.hit_at_10_when_answered,
        hit_at_10_answerable_answered: hit_answerable,
        balanced_accuracy: (chosen.answered_when_answerable + chosen.abstained_when_unanswerable)
            / 2.0,
        sweep,
        calibration: calibration
            .as_ref()
            .map(|c| c.quantiles())
            .unwrap_or_default(),
        calibration_anchors: calibration.as_ref().map(|c| c.anchors()),
        calibration_samples: calibration.as_ref().map_or(0, |c| c.top1.len()),
        docs: ds.corpus.len(),
        chunks,
        index_seconds,
        decision_p50_ms: latencies.get(latencies.len() / 2).copied().unwrap_or(0.0),
    })
}
