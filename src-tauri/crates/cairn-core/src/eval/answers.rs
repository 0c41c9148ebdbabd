//! `cairn eval --answers`: the whole `ask` path (retrieve, abstain, answer, verify citations)
//! run over questions with gold answers, scored by [`super::answer_metrics`].
//!
//! Questions come from a BEIR-layout dataset with `answers.jsonl` (`{"_id", "answers": [..]}`
//! a line, as ../shared/eval/squad-dev), indexed into a throw-away store, or from a user's
//! own file (CSV or JSONL, [`load_questions`]) asked of the user's library. A dataset query is
//! answerable when one of its relevant documents is in the corpus; a user's question when it
//! lists expected answers. Every answer is recorded in the store's audit log like any other.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::answer_metrics::{quantile, score, summarize, AnswerFacts, Scores, Summary};
use super::{build_store, read_lines, spread_sample, Dataset, EvalOptions, StoreDir};
use crate::answer::{AnswerMode, AskRequest, Generator};
use crate::config::Config;
use crate::engine::{Engine, Progress};
use crate::error::{Error, Result};
use crate::stop::StopToken;

/// A question with the answers that count as right (none: the right answer is "I don't
/// know").
#[derive(Debug, Clone, PartialEq)]
pub struct GoldQuestion {
    pub id: String,
    pub question: String,
    pub answers: Vec<String>,
    pub answerable: bool,
}

/// Figures printed by `cairn eval --answers` (the [`Summary`] keys are at the top level of
/// the JSON object).
#[derive(Debug, Clone, Serialize)]
pub struct AnswerReport {
    /// The dataset directory's or question file's name.
    pub dataset: String,
    /// `extractive` or `generative`.
    pub mode: String,
    pub model: Option<String>,
    pub endpoint: Option<String>,
    pub template_version: String,
    /// Sources given per answer (`answer.sources`).
    pub sources: usize,
    /// The reranker model, when one is configured.
    pub reranker: Option<String>,
    pub queries: usize,
    #[serde(flatten)]
    pub summary: Summary,
    /// Questions whose answer failed (the generator's error); they are left out of the scores.
    pub failed: usize,
    pub first_error: Option<String>,
    /// Time to the first token of generated answers (None for extractive ones).
    pub ttft_p50_ms: Option<f64>,
    pub ttft_p95_ms: Option<f64>,
    /// The whole `ask` call: retrieval, answer and citation check.
    pub latency_p50_ms: f64,
    pub latency_p95_ms: f64,
    pub latency_mean_ms: f64,
    /// Each question asked, in order (the app's per-question table; not in `--json`).
    #[serde(skip)]
    pub outcomes: Vec<QuestionOutcome>,
}

/// One question of an [`AnswerReport`]: what was answered and how it scored.
#[derive(Debug, Clone, PartialEq)]
pub struct QuestionOutcome {
    pub id: String,
    pub question: String,
    /// The answers that count as right (none: "I don't know" is right).
    pub expected: Vec<String>,
    /// The answer's text (empty when it failed).
    pub answer: String,
    /// None when the answer failed (see `error`).
    pub scores: Option<Scores>,
    pub error: Option<String>,
    pub audit_id: Option<i64>,
    pub total_ms: f64,
}

impl QuestionOutcome {
    /// Right: an answerable question answered with a gold answer in it, or an unanswerable
    /// one answered "I don't know".
    pub fn right(&self) -> bool {
        self.scores.as_ref().is_some_and(|s| {
            if s.answerable {
                !s.abstained && s.contained
            } else {
                s.abstained
            }
        })
    }
}

#[derive(Deserialize)]
struct GoldLine {
    #[serde(rename = "_id")]
    id: String,
    #[serde(default)]
    answers: Vec<String>,
}

/// The dataset's questions with their gold answers from `answers.jsonl`.
pub fn dataset_questions(dir: &Path, ds: &Dataset) -> Result<Vec<GoldQuestion>> {
    let path = dir.join("answers.jsonl");
    if !path.is_file() {
        return Err(Error::Invalid(format!(
            "{} has no answers.jsonl: answer evaluation needs the gold answers \
             ({{\"_id\": query id, \"answers\": [..]}} a line)",
            dir.display()
        )));
    }
    let mut golds = HashMap::new();
    for (i, line) in read_lines(&path)? {
        let g: GoldLine = serde_json::from_str(&line)
            .map_err(|e| Error::Invalid(format!("{} line {}: {e}", path.display(), i + 1)))?;
        golds.insert(g.id, g.answers);
    }
    let in_corpus: HashSet<&str> = ds.corpus.iter().map(|d| d.id.as_str()).collect();
    Ok(ds
        .queries
        .iter()
        .filter_map(|(id, text)| {
            let answers = golds.get(id)?.clone();
            let answerable =
                !answers.is_empty() && ds.qrels[id].keys().any(|d| in_corpus.contains(d.as_str()));
            Some(GoldQuestion {
                id: id.clone(),
                question: text.clone(),
                answers,
                answerable,
            })
        })
        .collect())
}

#[derive(Deserialize)]
struct UserLine {
    #[serde(default)]
    id: Option<String>,
    question: String,
    #[serde(default)]
    answers: Vec<String>,
    #[serde(default)]
    answer: Option<String>,
}

/// A user's question file: JSONL (`{"question": "...", "answers": ["..."]}` a line; `answer`
/// for one answer; `id` optional) or CSV (a header row naming a `question` column and one or
/// more `answer…` columns; answers within a cell separated by `|`). A question without
/// answers should be answered "I don't know".
pub fn load_questions(path: &Path) -> Result<Vec<GoldQuestion>> {
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let mut out = Vec::new();
    match ext.as_str() {
        "jsonl" | "json" => {
            for (i, line) in read_lines(path)? {
                let q: UserLine = serde_json::from_str(&line).map_err(|e| {
                    Error::Invalid(format!(
                        "{} line {}: {e} (expected {{\"question\": ..., \"answers\": [...]}})",
                        path.display(),
                        i + 1
                    ))
                })?;
                let mut answers = q.answers;
                answers.extend(q.answer);
                out.push(gold(
                    q.id.unwrap_or_else(|| (i + 1).to_string()),
                    q.question,
                    answers,
                ));
            }
        }
        "csv" => {
            let text = std::fs::read_to_string(path).map_err(|e| Error::io("reading", path, e))?;
            let rows =
                parse_csv(&text).map_err(|e| Error::Invalid(format!("{}: {e}", path.display())))?;
            let Some((header, rows)) = rows.split_first() else {
                return Err(Error::Invalid(format!("{} is empty", path.display())));
            };
            let col = |name: &str| {
                header
                    .iter()
                    .position(|h| h.trim().eq_ignore_ascii_case(name))
            };
            let q_col = col("question").ok_or_else(|| {
                Error::Invalid(format!(
                    "{}: the header row has no `question` column",
                    path.display()
                ))
            })?;
            let id_col = col("id");
            let answer_cols: Vec<usize> = (0..header.len())
                .filter(|i| header[*i].trim().to_ascii_lowercase().starts_with("answer"))
                .collect();
            for (i, row) in rows.iter().enumerate() {
                let cell = |c: usize| row.get(c).map(String::as_str).unwrap_or("");
                let answers = answer_cols
                    .iter()
                    .flat_map(|c| cell(*c).split('|'))
                    .map(str::to_owned)
                    .collect();
                let id = id_col.map_or_else(|| (i + 1).to_string(), |c| cell(c).to_owned());
                out.push(gold(id, cell(q_col).to_owned(), answers));
            }
        }
        _ => {
            return Err(Error::Invalid(format!(
                "{}: a question file must be .csv or .jsonl",
                path.display()
            )))
        }
    }
    out.retain(|q| !q.question.trim().is_empty());
    if out.is_empty() {
        return Err(Error::Invalid(format!(
            "{} holds no questions",
            path.display()
        )));
    }
    Ok(out)
}

fn gold(id: String, question: String, answers: Vec<String>) -> GoldQuestion {
    let answers: Vec<String> = answers
        .into_iter()
        .map(|a| a.trim().to_owned())
        .filter(|a| !a.is_empty())
        .collect();
    GoldQuestion {
        id,
        question,
        answerable: !answers.is_empty(),
        answers,
    }
}

/// RFC 4180 records: commas, double-quoted fields (`""` inside is a quote, line breaks
/// allowed), CRLF or LF. Blank lines are skipped.
fn parse_csv(text: &str) -> std::result::Result<Vec<Vec<String>>, String> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.trim_start_matches('\u{feff}').chars().peekable();
    let mut line = 1;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => {
                line += (c == '\n') as usize;
                field.push(c);
            }
            (false, '"') if field.is_empty() => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\r') => {}
            (false, '\n') => {
                line += 1;
                row.push(std::mem::take(&mut field));
                if row.iter().any(|f| !f.is_empty()) {
                    rows.push(std::mem::take(&mut row));
                }
                row.clear();
            }
            (false, c) => field.push(c),
        }
    }
    if quoted {
        return Err(format!("a quoted field is not closed (line {line})"));
    }
    row.push(field);
    if row.iter().any(|f| !f.is_empty()) {
        rows.push(row);
    }
    Ok(rows)
}

/// Asks `questions` (up to `max_queries`, spread evenly) of `engine` and scores the answers.
/// `on_question(done, total)` reports progress; stopping `cancel` ends the run with
/// [`Error::Cancelled`] (the answers given so far stay in the audit log).
#[allow(clippy::too_many_arguments)]
pub fn evaluate_answers(
    engine: &mut Engine,
    name: &str,
    questions: &[GoldQuestion],
    max_queries: Option<usize>,
    generator: Option<&dyn Generator>,
    mode: AnswerMode,
    cancel: &StopToken,
    on_question: &mut dyn FnMut(usize, usize),
) -> Result<AnswerReport> {
    let picked = spread_sample(questions.len(), max_queries);
    let mut scores: Vec<Scores> = Vec::with_capacity(picked.len());
    let (mut ttft, mut latency) = (Vec::new(), Vec::new());
    let (mut failed, mut first_error) = (0usize, None::<Error>);
    let (mut model, mut endpoint) = (None, None);
    let mut outcomes = Vec::with_capacity(picked.len());
    for (done, &i) in picked.iter().enumerate() {
        if cancel.is_stopped() {
            return Err(Error::Cancelled);
        }
        on_question(done, picked.len());
        let q = &questions[i];
        let mut outcome = QuestionOutcome {
            id: q.id.clone(),
            question: q.question.clone(),
            expected: q.answers.clone(),
            answer: String::new(),
            scores: None,
            error: None,
            audit_id: None,
            total_ms: 0.0,
        };
        let req = AskRequest::new(q.question.clone(), mode);
        let answer = match engine.ask(&req, generator, cancel, &mut |_| {}) {
            Ok(a) if a.cancelled || cancel.is_stopped() => return Err(Error::Cancelled),
            Ok(a) => a,
            Err(_) if cancel.is_stopped() => return Err(Error::Cancelled),
            Err(e) => {
                failed += 1;
                tracing::warn!(question = %q.id, "answer failed: {e}");
                outcome.error = Some(e.to_string());
                outcomes.push(outcome);
                first_error.get_or_insert(e);
                continue;
            }
        };
        if answer.model_id.is_some() {
            model.clone_from(&answer.model_id);
            endpoint.clone_from(&answer.endpoint);
        }
        let facts = AnswerFacts {
            text: &answer.text,
            abstained: answer.abstained,
            sources: answer
                .sources
                .iter()
                .map(|s| (s.n, s.text.as_str()))
                .collect(),
            citations: answer
                .citations
                .iter()
                .map(|c| (c.n, c.sentence, c.verdict))
                .collect(),
            uncited: answer.sentences.iter().map(|s| s.uncited).collect(),
        };
        let scored = score(&facts, &q.answers, q.answerable);
        outcome.answer.clone_from(&answer.text);
        outcome.scores = Some(scored.clone());
        outcome.audit_id = Some(answer.audit_id.0);
        outcome.total_ms = answer.timings.total_ms;
        outcomes.push(outcome);
        scores.push(scored);
        ttft.extend(answer.timings.ttft_ms);
        latency.push(answer.timings.total_ms);
    }
    on_question(picked.len(), picked.len());
    if scores.is_empty() {
        if let Some(e) = first_error {
            return Err(e);
        }
    }
    let cfg = engine.config();
    Ok(AnswerReport {
        dataset: name.to_owned(),
        mode: mode.as_str().to_owned(),
        model: model.or_else(|| generator.map(|g| g.model_id())),
        endpoint: endpoint.or_else(|| generator.and_then(|g| g.endpoint())),
        template_version: crate::answer::prompt::spec().version.clone(),
        sources: crate::answer::answer_settings(&cfg.answer, generator).sources,
        reranker: cfg
            .rerank
            .enabled()
            .then(|| cfg.rerank.model.display().to_string()),
        queries: picked.len(),
        summary: summarize(&scores),
        failed,
        first_error: first_error.map(|e| e.to_string()),
        ttft_p50_ms: quantile(&ttft, 0.5),
        ttft_p95_ms: quantile(&ttft, 0.95),
        latency_p50_ms: quantile(&latency, 0.5).unwrap_or(0.0),
        latency_p95_ms: quantile(&latency, 0.95).unwrap_or(0.0),
        latency_mean_ms: latency.iter().sum::<f64>() / latency.len().max(1) as f64,
        outcomes,
    })
}

/// [`evaluate_answers`] on a BEIR-layout dataset with `answers.jsonl`, indexed into the store
/// of `opts` (a temporary one unless given).
pub fn evaluate_answers_on(
    opts: &EvalOptions,
    config: &Config,
    generator: Option<&dyn Generator>,
    mode: AnswerMode,
    progress: &mut dyn FnMut(&Progress),
    on_question: &mut dyn FnMut(usize, usize),
) -> Result<AnswerReport> {
    let ds = Dataset::load_judged(&opts.dataset)?;
    let questions = dataset_questions(&opts.dataset, &ds)?;
    let mut config = config.clone();
    config.search.mode = opts.mode;
    config.search.fusion = opts.fusion;
    config.search.alpha = opts.alpha;
    config.search.rrf_k = opts.rrf_k;
    let store = StoreDir::new(opts.store.as_deref())?;
    let (mut writer, _, _, _) = build_store(&ds, &config, store.path(), progress)?;
    let name = opts
        .dataset
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    evaluate_answers(
        &mut writer,
        &name,
        &questions,
        opts.max_queries,
        generator,
        mode,
        &StopToken::new(),
        on_question,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_quotes_and_line_breaks() {
        let rows =
            parse_csv("id,question,answer\r\n1,\"Who, then?\",\"A \"\"b\"\"|c\"\n\n2,\"x\ny\",\n")
                .unwrap();
        assert_eq!(
            rows,
            vec![
                vec!["id", "question", "answer"],
                vec!["1", "Who, then?", "A \"b\"|c"],
                vec!["2", "x\ny", ""],
            ]
        );
        assert!(parse_csv("a,\"b\n").is_err());
    }

    #[test]
    fn question_files_in_both_formats() {
        let dir = std::env::temp_dir().join(format!("cairn-questions-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let csv = dir.join("q.csv");
        std::fs::write(
            &csv,
            "question,answers,answer 2\nWhen?,1990|nineteen ninety,MCMXC\nWhat is unknown?,,\n",
        )
        .unwrap();
        let qs = load_questions(&csv).unwrap();
        assert_eq!(qs.len(), 2);
        assert_eq!(qs[0].answers, vec!["1990", "nineteen ninety", "MCMXC"]);
        assert!(qs[0].answerable && !qs[1].answerable);
        let jsonl = dir.join("q.jsonl");
        std::fs::write(
            &jsonl,
            "{\"question\": \"Where?\", \"answer\": \"Paris\"}\n\n{\"id\": \"u\", \"question\": \"Who?\", \"answers\": []}\n",
        )
        .unwrap();
        let qs = load_questions(&jsonl).unwrap();
        assert_eq!(qs[0].id, "1");
        assert_eq!(qs[0].answers, vec!["Paris"]);
        assert_eq!((qs[1].id.as_str(), qs[1].answerable), ("u", false));
        let bad = dir.join("q.txt");
        std::fs::write(&bad, "x").unwrap();
        assert!(load_questions(&bad)
            .unwrap_err()
            .to_string()
            .contains(".csv or .jsonl"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
