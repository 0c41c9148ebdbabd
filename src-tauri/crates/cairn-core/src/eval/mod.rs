//! Evaluation on BEIR-layout test sets (corpus.jsonl, queries.jsonl, qrels/test.tsv).
//!
//! The corpus is written as one text file per document (title line, blank line, text) into a
//! throw-away folder and indexed through the ordinary pipeline, so the figures measure what a
//! user gets. [`retrieval`]: passages are ranked, then documents by their best passage
//! (`cairn eval`); [`abstention`]: the "I don't know" decision (`cairn eval --abstention`);
//! [`answers`]: the whole `ask` path against gold answers (`cairn eval --answers`), scored by
//! [`answer_metrics`].

pub mod abstention;
pub mod answer_metrics;
pub mod answers;
pub mod retrieval;

pub use abstention::{evaluate_abstention, AbstentionReport, SweepPoint, SWEEP};
pub use answers::{
    evaluate_answers, evaluate_answers_on, load_questions, AnswerReport, GoldQuestion,
    QuestionOutcome,
};
pub use retrieval::{evaluate, mrr_at, ndcg_at, recall_at, EvalReport};

use std::collections::HashMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Deserialize;

use crate::config::{Config, Fusion, SearchMode};
use crate::engine::{Progress, Writer};
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

pub(crate) fn read_lines(path: &Path) -> Result<impl Iterator<Item = (usize, String)>> {
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
    if config.team_library()?.is_some() {
        seed_team_library(config, &data_dir, &corpus_dir, progress)?;
    }
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

/// A team library that does not hold the corpus yet is filled from the embedded store of the
/// same dataset (indexed and embedded into `data_dir`, or reused from an earlier run with the
/// same `--store`) by `cairn migrate`'s copy, so the corpus is embedded once for both stores.
/// The run then indexes the team library as usual, which finds every file unchanged.
fn seed_team_library(
    config: &Config,
    data_dir: &Path,
    corpus_dir: &Path,
    progress: &mut dyn FnMut(&Progress),
) -> Result<()> {
    let empty = Writer::open(data_dir, config.clone())?
        .catalog()
        .folders()?
        .is_empty();
    if !empty {
        return Ok(());
    }
    let mut local = config.clone();
    local.library = String::new();
    let mut engine = Writer::open(data_dir, local.clone())?;
    engine.add_folder(corpus_dir)?;
    let report = engine.index(progress, &crate::stop::StopToken::new())?;
    if let Some(err) = report.embedding_error {
        return Err(Error::Model(err));
    }
    drop(engine);
    crate::engine::migrate(data_dir, &local, &config.library, &mut |_| {})?;
    Ok(())
}

/// Where an evaluation builds its store: the directory given (kept), or a temporary one
/// (removed when this is dropped).
pub(crate) struct StoreDir {
    path: PathBuf,
    _temp: Option<TempDir>,
}

impl StoreDir {
    pub(crate) fn new(given: Option<&Path>) -> Result<StoreDir> {
        Ok(match given {
            Some(p) => StoreDir {
                path: p.to_owned(),
                _temp: None,
            },
            None => {
                let t = tempfile_dir()?;
                StoreDir {
                    path: t.path().to_owned(),
                    _temp: Some(t),
                }
            }
        })
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

pub(crate) fn tempfile_dir() -> Result<TempDir> {
    let base = std::env::temp_dir().join(format!(
        "cairn-eval-{}-{}",
        std::process::id(),
        crate::catalog::now()
    ));
    std::fs::create_dir_all(&base).map_err(|e| Error::io("creating", &base, e))?;
    Ok(TempDir(base))
}

/// A directory removed on drop.
pub(crate) struct TempDir(PathBuf);

impl TempDir {
    pub(crate) fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Up to `max` indices of `0..len`, spread evenly (all of them when `max` is None or at least
/// `len`): a deterministic sample that covers the whole set, not just its first questions.
pub fn spread_sample(len: usize, max: Option<usize>) -> Vec<usize> {
    match max {
        Some(n) if n < len => (0..n).map(|i| i * len / n).collect(),
        _ => (0..len).collect(),
    }
}
