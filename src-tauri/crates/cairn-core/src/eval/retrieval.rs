//! Ranking quality: nDCG@10, Recall@100 and MRR@10 of documents ranked by their best passage.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use serde::Serialize;

use super::{build_store, Dataset, EvalOptions, StoreDir};
use crate::config::{Config, Fusion, SearchMode};
use crate::engine::{Progress, SearchRequest};
use crate::error::Result;

/// Figures printed by `cairn eval`.
#[derive(Debug, Clone, Serialize)]
pub struct EvalReport {
    pub dataset: String,
    pub mode: String,
    pub fusion: Option<String>,
    pub ndcg_at_10: f64,
    pub recall_at_100: f64,
    pub mrr_at_10: f64,
    pub queries: usize,
    pub docs: usize,
    pub chunks: u64,
    pub index_seconds: f64,
    pub keyword_ready_seconds: f64,
    pub search_p50_ms: f64,
    pub search_p95_ms: f64,
}

/// nDCG@k with linear gains (as trec_eval / BEIR).
pub fn ndcg_at(ranked: &[String], rel: &HashMap<String, u32>, k: usize) -> f64 {
    let dcg: f64 = ranked
        .iter()
        .take(k)
        .enumerate()
        .map(|(i, d)| rel.get(d).copied().unwrap_or(0) as f64 / (i as f64 + 2.0).log2())
        .sum();
    let mut ideal: Vec<u32> = rel.values().copied().collect();
    ideal.sort_unstable_by(|a, b| b.cmp(a));
    let idcg: f64 = ideal
        .iter()
        .take(k)
        .enumerate()
        .map(|(i, g)| *g as f64 / (i as f64 + 2.0).log2())
        .sum();
    if idcg > 0.0 {
        dcg / idcg
    } else {
        0.0
    }
}

/// Fraction of relevant documents in the top k.
pub fn recall_at(ranked: &[String], rel: &HashMap<String, u32>, k: usize) -> f64 {
    if rel.is_empty() {
        return 0.0;
    }
    let found = ranked
        .iter()
        .take(k)
        .filter(|d| rel.contains_key(*d))
        .count();
    found as f64 / rel.len() as f64
}

/// Reciprocal rank of the first relevant document within the top k.
pub fn mrr_at(ranked: &[String], rel: &HashMap<String, u32>, k: usize) -> f64 {
    ranked
        .iter()
        .take(k)
        .position(|d| rel.contains_key(d))
        .map_or(0.0, |i| 1.0 / (i as f64 + 1.0))
}

/// Runs an evaluation.
pub fn evaluate(
    opts: &EvalOptions,
    config: &Config,
    progress: &mut dyn FnMut(&Progress),
) -> Result<EvalReport> {
    let ds = Dataset::load_judged(&opts.dataset)?;
    let store = StoreDir::new(opts.store.as_deref())?;
    let (mut engine, by_path, index_seconds, keyword_ready) =
        build_store(&ds, config, store.path(), progress)?;
    let mut req = SearchRequest::new(String::new(), config);
    req.mode = opts.mode;
    req.fusion = opts.fusion;
    req.alpha = opts.alpha;
    req.rrf_k = opts.rrf_k;
    req.candidates = 1000;
    let queries: Vec<&(String, String)> = ds
        .queries
        .iter()
        .take(opts.max_queries.unwrap_or(usize::MAX))
        .collect();
    let (mut ndcg, mut recall, mut mrr) = (0.0, 0.0, 0.0);
    let mut latencies = Vec::with_capacity(queries.len());
    for (qid, text) in &queries {
        req.query = text.clone();
        let t = Instant::now();
        let (hits, _) = engine.retrieve(&req)?;
        latencies.push(t.elapsed().as_secs_f64() * 1000.0);
        let ids: Vec<_> = hits.iter().map(|h| h.chunk).collect();
        let paths = engine.chunk_paths(&ids)?;
        let mut seen = HashSet::new();
        let ranked: Vec<String> = ids
            .iter()
            .filter_map(|id| paths.get(id))
            .filter_map(|p| by_path.get(p))
            .filter(|d| seen.insert((*d).clone()))
            .cloned()
            .collect();
        let rel = &ds.qrels[qid];
        ndcg += ndcg_at(&ranked, rel, 10);
        recall += recall_at(&ranked, rel, 100);
        mrr += mrr_at(&ranked, rel, 10);
    }
    let n = queries.len() as f64;
    latencies.sort_by(f64::total_cmp);
    let pct = |p: f64| latencies[((latencies.len() as f64 - 1.0) * p).round() as usize];
    let chunks = engine
        .catalog()
        .stats(&config.embedding.model_id)?
        .current_chunks;
    Ok(EvalReport {
        dataset: opts
            .dataset
            .file_name()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default(),
        mode: opts.mode.as_str().to_owned(),
        fusion: (opts.mode == SearchMode::Hybrid).then(|| match opts.fusion {
            Fusion::Rrf => format!("rrf(k={})", opts.rrf_k),
            Fusion::Weighted => format!("weighted(alpha={})", opts.alpha),
        }),
        ndcg_at_10: ndcg / n,
        recall_at_100: recall / n,
        mrr_at_10: mrr / n,
        queries: queries.len(),
        docs: ds.corpus.len(),
        chunks,
        index_seconds,
        keyword_ready_seconds: keyword_ready,
        search_p50_ms: pct(0.5),
        search_p95_ms: pct(0.95),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rel(pairs: &[(&str, u32)]) -> HashMap<String, u32> {
        pairs.iter().map(|(d, g)| (d.to_string(), *g)).collect()
    }

    fn ranked(ids: &[&str]) -> Vec<String> {
        ids.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn metrics_match_hand_computed_values() {
        let r = rel(&[("a", 1), ("c", 1)]);
        let list = ranked(&["b", "a", "c"]);
        let dcg = 1.0 / 3f64.log2() + 1.0 / 4f64.log2();
        let idcg = 1.0 + 1.0 / 3f64.log2();
        assert!((ndcg_at(&list, &r, 10) - dcg / idcg).abs() < 1e-12);
        assert_eq!(mrr_at(&list, &r, 10), 0.5);
        assert_eq!(recall_at(&list, &r, 2), 0.5);
        assert_eq!(recall_at(&list, &r, 100), 1.0);
        assert_eq!(ndcg_at(&ranked(&["a", "c"]), &r, 10), 1.0);
    }

    #[test]
    fn graded_relevance_uses_linear_gain() {
        let r = rel(&[("a", 3), ("b", 1)]);
        assert!(ndcg_at(&ranked(&["b", "a"]), &r, 10) < 1.0);
        assert_eq!(ndcg_at(&ranked(&["a", "b"]), &r, 10), 1.0);
    }
}
