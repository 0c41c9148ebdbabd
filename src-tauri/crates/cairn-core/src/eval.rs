//! Retrieval evaluation on BEIR-layout test sets (corpus.jsonl, queries.jsonl, qrels/test.tsv).
//!
//! The corpus is written as one text file per document (title line, blank line, text) into a
//! throw-away folder and indexed through the ordinary pipeline, so the figures measure what a
//! user gets. Passages are ranked, then documents are ranked by their best passage.

use std::collections::{HashMap, HashSet};
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::answer::abstain::{Calibration, Evidence};
use crate::config::{Config, Fusion, SearchMode};
use crate::engine::{Progress, SearchRequest, Writer};
use crate::error::{Error, Result};

/// A BEIR-layout dataset in memory.
#[derive(Debug, Default)]
pub struct Dataset {
    pub corpus: Vec<CorpusDoc>,
    pub queries: Vec<(String, String)>,
    /// query id -> (doc id -> graded relevance > 0)
    pub qrels: HashMap<String, HashMap<String, u32>>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct CorpusDoc {
    #[serde(rename = "_id")]
    pub id: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub text: String,
}

#[derive(Deserialize)]
struct QueryLine {
    #[serde(rename = "_id")]
    id: String,
    text: String,
}

fn read_lines(path: &Path) -> Result<impl Iterator<Item = (usize, String)>> {
    let file = std::fs::File::open(path).map_err(|e| Error::io("opening", path, e))?;
    Ok(std::io::BufReader::new(file)
        .lines()
        .map_while(|l| l.ok())
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty()))
}

impl Dataset {
    /// [`Dataset::load`], refusing a dataset with no judged query to evaluate.
    pub fn load_judged(dir: &Path) -> Result<Dataset> {
        let ds = Dataset::load(dir)?;
        if ds.queries.is_empty() {
            return Err(Error::Invalid(format!(
                "{} has no judged queries",
                dir.display()
            )));
        }
        Ok(ds)
    }

    /// Loads a dataset directory; only queries with judgements are kept.
    pub fn load(dir: &Path) -> Result<Dataset> {
        let need = |name: &str| {
            let p = dir.join(name);
            if p.exists() {
                Ok(p)
            } else {
                Err(Error::Invalid(format!(
                    "{} is not a BEIR dataset: {name} is missing",
                    dir.display()
                )))
            }
        };
        let corpus_path = need("corpus.jsonl")?;
        let queries_path = need("queries.jsonl")?;
        let qrels_path = need("qrels/test.tsv")?;
        let mut ds = Dataset::default();
        for (i, line) in read_lines(&corpus_path)? {
            let doc: CorpusDoc = serde_json::from_str(&line).map_err(|e| {
                Error::Invalid(format!("{} line {}: {e}", corpus_path.display(), i + 1))
            })?;
            ds.corpus.push(doc);
        }
        for (i, line) in read_lines(&qrels_path)? {
            let cols: Vec<&str> = line.split('\t').collect();
            if i == 0 && cols.first() == Some(&"query-id") {
                continue;
            }
            if cols.len() < 3 {
                return Err(Error::Invalid(format!(
                    "{} line {}: expected 3 tab-separated columns",
                    qrels_path.display(),
                    i + 1
                )));
            }
            let score: i64 = cols[2].trim().parse().unwrap_or(0);
            if score > 0 {
                ds.qrels
                    .entry(cols[0].to_owned())
                    .or_default()
                    .insert(cols[1].to_owned(), score as u32);
            }
        }
        for (i, line) in read_lines(&queries_path)? {
            let q: QueryLine = serde_json::from_str(&line).map_err(|e| {
                Error::Invalid(format!("{} line {}: {e}", queries_path.display(), i + 1))
            })?;
            if ds.qrels.contains_key(&q.id) {
                ds.queries.push((q.id, q.text));
            }
        }
        Ok(ds)
    }
}

/// What to evaluate.
#[derive(Debug, Clone)]
pub struct EvalOptions {
    pub dataset: PathBuf,
    pub mode: SearchMode,
    pub fusion: Fusion,
    pub alpha: f32,
    pub rrf_k: f32,
    /// Use at most this many judged queries (all when None).
    pub max_queries: Option<usize>,
    /// Keep the throw-away store here instead of a temporary directory (for reuse).
    pub store: Option<PathBuf>,
}

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

fn file_name_for(id: &str) -> String {
    let safe: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    // A hash suffix keeps ids that sanitise to the same name apart.
    let h = blake3::hash(id.as_bytes()).to_hex();
    format!("{safe}-{}.txt", &h[..8])
}

/// Indexes a dataset into a store (a temporary one unless given) and returns an engine on it
/// with the map from document path to dataset id.
pub fn build_store(
    ds: &Dataset,
    config: &Config,
    store: &Path,
    progress: &mut dyn FnMut(&Progress),
) -> Result<(Writer, HashMap<PathBuf, String>, f64, f64)> {
    let corpus_dir = store.join("corpus");
    std::fs::create_dir_all(&corpus_dir).map_err(|e| Error::io("creating", &corpus_dir, e))?;
    let mut by_path = HashMap::new();
    for doc in &ds.corpus {
        let path = corpus_dir.join(file_name_for(&doc.id));
        if !path.exists() {
            let body = if doc.title.trim().is_empty() {
                doc.text.clone()
            } else {
                format!("{}\n\n{}", doc.title.trim(), doc.text)
            };
            std::fs::write(&path, body).map_err(|e| Error::io("writing", &path, e))?;
        }
        by_path.insert(path, doc.id.clone());
    }
    let data_dir = store.join("data");
    let mut engine = Writer::open(&data_dir, config.clone())?;
    let abs = engine.add_folder(&corpus_dir)?;
    let by_path = by_path
        .into_iter()
        .map(|(p, id)| (abs.join(p.file_name().expect("file name")), id))
        .collect();
    let started = Instant::now();
    let report = engine.index(progress, &crate::stop::StopToken::new())?;
    if let Some(err) = report.embedding_error {
        return Err(Error::Model(err));
    }
    Ok((
        engine,
        by_path,
        started.elapsed().as_secs_f64(),
        report.keyword_ready_seconds,
    ))
}

/// Runs an evaluation.
pub fn evaluate(
    opts: &EvalOptions,
    config: &Config,
    progress: &mut dyn FnMut(&Progress),
) -> Result<EvalReport> {
    let ds = Dataset::load_judged(&opts.dataset)?;
    let tmp;
    let store = match &opts.store {
        Some(s) => s.clone(),
        None => {
            tmp = tempfile_dir()?;
            tmp.path().to_owned()
        }
    };
    let (mut engine, by_path, index_seconds, keyword_ready) =
        build_store(&ds, config, &store, progress)?;
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
    let tmp;
    let store = match &opts.store {
        Some(s) => s.clone(),
        None => {
            tmp = tempfile_dir()?;
            tmp.path().to_owned()
        }
    };
    let (mut engine, by_path, index_seconds, _) = build_store(&ds, &config, &store, progress)?;
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

fn tempfile_dir() -> Result<TempDir> {
    let base = std::env::temp_dir().join(format!(
        "cairn-eval-{}-{}",
        std::process::id(),
        crate::catalog::now()
    ));
    std::fs::create_dir_all(&base).map_err(|e| Error::io("creating", &base, e))?;
    Ok(TempDir(base))
}

/// A directory removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
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
