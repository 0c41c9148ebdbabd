//! The `ask` driver, in the steps `answer/mod.rs` describes: **rewrite** a follow-up into a
//! standalone query, **retrieve** passages with their evidence ([`super::evidence`]),
//! **abstain** when the evidence is weak, **generate** (or extract) the answer, **verify** its
//! citations, **record** the attempt in the audit log (and the session).

use crate::stop::StopToken;
use std::time::{Duration, Instant};

use crate::answer::evidence::Retrieved;
use crate::answer::{
    prompt, rewrite, AbstainedBy, Answer, AnswerMode, AskRequest, Citation, GenerateOptions,
    Generator, Source, Timings,
};
use crate::audit::{AuditRecord, MessageRole, RetrievedPassage};
use crate::catalog::Filters;
use crate::cite::{self, SourceText, Verification};
use crate::config::AnswerConfig;
use crate::engine::{Engine, SearchHit};
use crate::error::{Error, Result};

/// Passages listed with an "I don't know".
const NEAREST: usize = 3;
/// Sentences embedded at most for an extractive answer.
const MAX_EXTRACT_CANDIDATES: usize = 64;

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Filters as recorded in the audit log.
fn describe_filters(f: &Filters) -> serde_json::Value {
    serde_json::json!({
        "folders": f.folders,
        "kinds": f.kinds,
        "path": f.path_glob.as_ref().map(|g| g.glob().glob().to_owned()),
        "modified_after": f.modified_after,
        "modified_before": f.modified_before,
        "tags": f.tags,
        "include_deprecated": f.include_deprecated,
    })
}

/// What the abstain-or-generate step produced.
#[derive(Default)]
struct Generated {
    text: String,
    sources: Vec<Source>,
    abstained_by: Option<AbstainedBy>,
    ttft_ms: Option<f64>,
    prompt_tokens: Option<usize>,
    completion_tokens: Option<usize>,
    tokens_per_second: Option<f64>,
    cancelled: bool,
    prompt_pins: Vec<String>,
    /// A generation that failed once the prompt was on its way: audited, then returned.
    failure: Option<Error>,
}

/// The question after the rewrite step.
struct Rewritten {
    query: String,
    how: rewrite::Rewrite,
    ms: f64,
}

impl Engine {
    /// Answers a question from the collection, with checked citations, and records it in the
    /// audit log.
    ///
    /// Weak evidence (see [`crate::answer::abstain`]) gives "I don't know" with the nearest
    /// passages, and the generator is not called. [`AnswerMode::Generative`] needs a
    /// generator: without one this returns [`Error::Generation`] (callers that want a
    /// model-free answer ask for [`AnswerMode::Extractive`]). Tokens stream to `on_token`
    /// (the extractive answer streams one quoted sentence at a time). With a session, a
    /// follow-up is rewritten into a standalone query and the exchange is appended to it.
    ///
    /// When the generator fails after [`Generator::prepare`] (the prompt, with its passages,
    /// may have reached the model), the attempt is still recorded in the audit log (empty
    /// answer, no citations, `error` set, nothing appended to the session) and its error is
    /// returned. Failures before that (no question, no generator, `prepare`) record nothing.
    pub fn ask(
        &mut self,
        req: &AskRequest,
        generator: Option<&dyn Generator>,
        cancel: &StopToken,
        on_token: &mut dyn FnMut(&str),
    ) -> Result<Answer> {
        let started = Instant::now();
        let question = req.question.trim();
        if question.is_empty() {
            return Err(Error::Invalid("the question is empty".into()));
        }
        let generator = match (req.mode, generator) {
            (AnswerMode::Generative, None) => {
                return Err(Error::generation(
                    "generative answers need a language model, and none is configured",
                ))
            }
            (AnswerMode::Generative, g) => g,
            (AnswerMode::Extractive, _) => None,
        };
        let cfg = super::answer_settings(&self.config.answer, generator);

        let rewritten = self.rewrite_step(req, question, generator, cancel)?;

        let t = Instant::now();
        let limit = if req.limit == 0 {
            cfg.sources
        } else {
            req.limit
        };
        let retrieved =
            self.retrieve_with_evidence(&rewritten.query, &req.filters, limit.max(NEAREST))?;
        let retrieval_ms = millis(t.elapsed());

        let t = Instant::now();
        let generated = if !retrieved.evidence.answerable {
            abstain_step(&retrieved, on_token)
        } else {
            let sources = retrieved
                .hits
                .iter()
                .take(limit)
                .enumerate()
                .map(|(i, h)| Source::from_hit(i + 1, h))
                .collect();
            self.generate_step(
                question,
                &rewritten.query,
                sources,
                generator,
                &cfg,
                cancel,
                on_token,
            )?
        };
        let generation_ms = millis(t.elapsed());

        let (verification, citations) = verify_step(&generated, &cfg);
        let timings = Timings {
            rewrite_ms: rewritten.ms,
            retrieval_ms,
            ttft_ms: generated.ttft_ms,
            prompt_tokens: generated.prompt_tokens,
            completion_tokens: generated.completion_tokens,
            tokens_per_second: generated.tokens_per_second,
            generation_ms,
            total_ms: millis(started.elapsed()),
        };
        self.record_step(
            req,
            question,
            rewritten,
            retrieved,
            generated,
            generator,
            verification,
            citations,
            timings,
        )
    }

    /// Step 1, rewrite: a follow-up in a session becomes a standalone query.
    fn rewrite_step(
        &self,
        req: &AskRequest,
        question: &str,
        generator: Option<&dyn Generator>,
        cancel: &StopToken,
    ) -> Result<Rewritten> {
        let history = match req.session {
            Some(id) => {
                if !self.catalog.session_exists(id)? {
                    return Err(Error::NotFound(format!("there is no conversation {id}")));
                }
                self.catalog.messages(id)?
            }
            None => Vec::new(),
        };
        let t = Instant::now();
        let (query, how) =
            rewrite::standalone(question, &history, generator, prompt::spec(), cancel);
        Ok(Rewritten {
            query,
            how,
            ms: millis(t.elapsed()),
        })
    }

    /// Step 4, generate: the model's answer over the sources (or the extractive one without a
    /// generator).
    #[allow(clippy::too_many_arguments)]
    fn generate_step(
        &mut self,
        question: &str,
        query: &str,
        sources: Vec<Source>,
        generator: Option<&dyn Generator>,
        cfg: &AnswerConfig,
        cancel: &StopToken,
        on_token: &mut dyn FnMut(&str),
    ) -> Result<Generated> {
        let spec = prompt::spec();
        let mut out = Generated::default();
        let Some(g) = generator else {
            out.text = self.extractive_answer(query, &sources, cfg.extractive_sentences, on_token);
            out.sources = sources;
            return Ok(out);
        };
        // Nothing has been sent yet: a failure here is not an attempt to audit.
        g.prepare()?;
        let pins = self.catalog.pins()?;
        // A long passage shows the model its sentences nearest the question, not its start;
        // citations are still checked against the whole passage.
        let shown: Vec<Source> = sources
            .iter()
            .map(|s| {
                let mut s = s.clone();
                if cfg.relevant_excerpts {
                    if let Some(text) = super::extract::excerpt(query, &s, cfg.max_source_chars) {
                        s.text = text;
                    }
                }
                s
            })
            .collect();
        let messages = prompt::render_answer(
            spec,
            &shown,
            &pins,
            question,
            Some(query),
            cfg.max_source_chars,
            4,
        );
        out.prompt_pins = pins.iter().map(|p| p.text.clone()).collect();
        let opts = GenerateOptions {
            max_tokens: cfg.max_tokens,
            temperature: cfg.temperature,
            stop: spec.stop.clone(),
            seed: None,
        };
        match g.generate(&messages, &opts, cancel, on_token) {
            Ok(o) => {
                out.ttft_ms = o.time_to_first_token.map(millis);
                out.prompt_tokens = o.prompt_tokens;
                out.completion_tokens = Some(o.completion_tokens);
                out.tokens_per_second = o.tokens_per_second();
                out.cancelled = o.cancelled();
                out.text = o.text.trim().to_owned();
                if cite::parse_marks(&out.text).is_empty()
                    && cite::is_refusal(&out.text, &spec.refusal)
                {
                    out.abstained_by = Some(AbstainedBy::Model);
                }
            }
            Err(e) => out.failure = Some(e),
        }
        out.sources = sources;
        Ok(out)
    }

    /// Step 6, record: the audit record (also of a failed generation, whose error is then
    /// returned) and the session's two messages.
    #[allow(clippy::too_many_arguments)]
    fn record_step(
        &self,
        req: &AskRequest,
        question: &str,
        rewritten: Rewritten,
        retrieved: Retrieved,
        generated: Generated,
        generator: Option<&dyn Generator>,
        verification: Verification,
        citations: Vec<Citation>,
        timings: Timings,
    ) -> Result<Answer> {
        let spec = prompt::spec();
        let Generated {
            text,
            sources,
            abstained_by,
            cancelled,
            prompt_pins,
            failure,
            ..
        } = generated;
        let Rewritten { query, how, .. } = rewritten;
        // The model is recorded only when it took part (rewrite or answer).
        let used = how == rewrite::Rewrite::Model || (generator.is_some() && !sources.is_empty());
        let (model_id, endpoint) = match generator {
            Some(g) if used => (Some(g.model_id()), g.endpoint()),
            _ => (None, None),
        };
        let abstained = abstained_by.is_some();
        let nearest: Vec<SearchHit> = if abstained {
            retrieved.hits.iter().take(NEAREST).cloned().collect()
        } else {
            Vec::new()
        };
        let record = AuditRecord {
            id: crate::audit::AuditId(0),
            at: crate::catalog::now(),
            session: req.session,
            question: question.to_owned(),
            rewritten_query: query.clone(),
            rewrite: how.as_str().to_owned(),
            mode: req.mode,
            filters: describe_filters(&req.filters),
            retrieved: retrieved
                .hits
                .iter()
                .enumerate()
                .map(|(i, h)| RetrievedPassage {
                    rank: i + 1,
                    chunk_id: h.chunk_id.0,
                    score: h.score,
                    path: h.path.clone(),
                    version: h.version,
                    page: h.page,
                    byte_span: (h.byte_start, h.byte_end),
                    source: sources
                        .iter()
                        .find(|s| s.chunk_id == h.chunk_id.0)
                        .map(|s| s.n),
                })
                .collect(),
            evidence: retrieved.evidence.clone(),
            template_version: spec.version.clone(),
            model_id: model_id.clone(),
            endpoint: endpoint.clone(),
            timings,
            answer: text.clone(),
            abstained,
            citations: citations.clone(),
            uncited: verification.uncited().map(|s| s.text.clone()).collect(),
            pins: prompt_pins,
            cancelled,
            error: failure.as_ref().map(|e| match e {
                Error::Generation(g) => g.message.clone(),
                other => other.to_string(),
            }),
            forgotten: Vec::new(),
        };
        let records = self.catalog.as_ref();
        if let Some(e) = failure {
            // The caller sees the generator's error, as without the audit; the record is kept
            // if it can be, and its own failure is only logged.
            if let Err(db) = records.insert_audit(&record) {
                tracing::warn!("cannot record the failed answer attempt in the audit log: {db}");
            }
            return Err(e);
        }
        let audit_id = records.insert_audit(&record)?;
        if let Some(session) = req.session {
            records.add_message(session, MessageRole::User, question, Some(&query), None)?;
            records.add_message(session, MessageRole::Assistant, &text, None, Some(audit_id))?;
        }
        Ok(Answer {
            text,
            mode: req.mode,
            citations,
            sentences: verification.sentences,
            sources,
            abstained,
            abstained_by,
            nearest,
            evidence: retrieved.evidence,
            audit_id,
            session: req.session,
            question: question.to_owned(),
            rewritten_query: query,
            template_version: spec.version.clone(),
            model_id,
            endpoint,
            timings,
            cancelled,
            notice: retrieved.notice,
        })
    }

    /// The extractive answer: best supporting sentences, verbatim, each cited; streamed one
    /// line at a time. Uses embedding similarity when the embedder loads, word overlap alone
    /// otherwise.
    pub(crate) fn extractive_answer(
        &mut self,
        query: &str,
        sources: &[Source],
        k: usize,
        on_token: &mut dyn FnMut(&str),
    ) -> String {
        use crate::answer::extract;
        let mut cands = extract::candidates(query, sources);
        cands.truncate(MAX_EXTRACT_CANDIDATES);
        let similarities = self.embedder().ok().and_then(|e| {
            let q = e.embed_query(query).ok()?;
            let texts: Vec<&str> = cands.iter().map(|c| c.text.as_str()).collect();
            let vs = e.embed_passages(&texts).ok()?;
            Some(
                vs.iter()
                    .map(|v| v.iter().zip(&q).map(|(a, b)| a * b).sum::<f32>())
                    .collect::<Vec<f32>>(),
            )
        });
        let picks = extract::pick(cands, similarities.as_deref(), k);
        let mut lines = extract::render(&picks);
        if lines.is_empty() {
            // No full sentence to quote (a table, a list of words): quote the best passage.
            if let Some(s) = sources.first() {
                let words: Vec<&str> = s.text.split_whitespace().take(60).collect();
                lines.push(format!("{} [{}]", words.join(" "), s.n));
            }
        }
        for (i, line) in lines.iter().enumerate() {
            if i > 0 {
                on_token("\n");
            }
            on_token(line);
        }
        lines.join("\n")
    }
}

/// Step 3, abstain: "I don't know", with why, and no model call.
fn abstain_step(retrieved: &Retrieved, on_token: &mut dyn FnMut(&str)) -> Generated {
    let why = if retrieved.hits.is_empty() {
        "Nothing in the collection matches this question."
    } else {
        "No passage in the collection answers this closely enough; the nearest ones are listed."
    };
    let text = format!("{} {why}", prompt::spec().refusal);
    on_token(&text);
    Generated {
        text,
        abstained_by: Some(AbstainedBy::Evidence),
        ..Generated::default()
    }
}

/// Step 5, verify: every citation against its passage; uncited sentences flagged.
fn verify_step(generated: &Generated, cfg: &AnswerConfig) -> (Verification, Vec<Citation>) {
    let spec = prompt::spec();
    let sources = &generated.sources;
    let checked: Vec<SourceText<'_>> = sources
        .iter()
        .map(|s| SourceText {
            n: s.n,
            text: &s.text,
            context: s.context(),
        })
        .collect();
    let mut verification = if generated.failure.is_some() {
        Verification::default()
    } else {
        cite::verify(&generated.text, &checked, cfg.min_support, &spec.refusal)
    };
    if generated.abstained_by.is_some() {
        // An "I don't know" and its explanation cite nothing, by design.
        for s in &mut verification.sentences {
            s.uncited = false;
        }
    }
    let citations: Vec<Citation> = verification
        .citations
        .iter()
        .map(|c| {
            let s = sources.iter().find(|s| s.n == c.n);
            Citation {
                n: c.n,
                sentence: c.sentence,
                verdict: c.verdict,
                support: c.support,
                reason: c.reason.clone(),
                path: s.map(|s| s.path.clone()),
                version: s.map(|s| s.version),
                page: s.and_then(|s| s.page),
                byte_span: s.map(|s| s.byte_span),
                chunk_id: s.map(|s| s.chunk_id),
            }
        })
        .collect();
    (verification, citations)
}
