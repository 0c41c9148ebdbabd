//! The `ask` tool: a cited answer with the configured model, or an extractive one that says
//! why, mapped to the tool's result (sources with verdicts, unsupported sentences).

use std::collections::HashSet;

use cairn_core::catalog::Filters;
use cairn_core::engine::Engine;
use cairn_core::Error;

use super::pool::Shared;
use super::schema::{AskParams, AskResult, Citation};
use super::tools::{heading, resolve_folder};

/// Answers with [`Engine::ask`]: generatively with the configured model, else (provider
/// `none`, a model that cannot be loaded, or a generation that fails) extractively, saying why
/// in `notice`. The answer is recorded in the audit log: a read-only engine may append to it
/// (SQLite WAL, its own locking), also while `cairn index` holds the writer lock.
pub(super) fn answer(
    shared: &Shared,
    engine: &mut Engine,
    p: AskParams,
) -> cairn_core::Result<AskResult> {
    use cairn_core::answer::{AnswerMode, AskRequest};
    use cairn_core::cite::Verdict;

    let mut filters = Filters::default();
    if let Some(f) = &p.folder {
        filters.folders.push(resolve_folder(engine, f)?);
    }
    let limit = p.limit.map_or(0, |n| n.clamp(1, 20) as usize);
    let request = |mode| {
        let mut req = AskRequest::new(p.question.clone(), mode);
        req.filters = filters.clone();
        req.limit = limit;
        req
    };
    // MCP calls are not cancelled midway; the client simply stops waiting.
    let never = cairn_core::stop::StopToken::new();
    let mut why_extractive = None;
    let answer = match shared.generator() {
        Ok(Some(g)) => {
            match engine.ask(
                &request(AnswerMode::Generative),
                Some(g),
                &never,
                &mut |_| {},
            ) {
                Err(Error::Generation(e)) => {
                    tracing::warn!("cairn mcp: the answer model failed: {e}");
                    why_extractive = Some(format!(
                        "the answer model failed ({}; {}), so this answer is extractive",
                        e.message, e.hint
                    ));
                    engine.ask(&request(AnswerMode::Extractive), None, &never, &mut |_| {})?
                }
                other => other?,
            }
        }
        Ok(None) => {
            why_extractive = Some(
                "no answer model is configured (llm.provider = \"none\"), so this answer is extractive"
                    .into(),
            );
            engine.ask(&request(AnswerMode::Extractive), None, &never, &mut |_| {})?
        }
        Err(reason) => {
            why_extractive = Some(format!(
                "the answer model could not be loaded ({reason}), so this answer is extractive"
            ));
            engine.ask(&request(AnswerMode::Extractive), None, &never, &mut |_| {})?
        }
    };
    let verdict = |n: usize| {
        let mut v = answer.citations.iter().filter(|c| c.n == n).peekable();
        if v.peek().is_none() {
            "not cited"
        } else {
            let verdicts: Vec<Verdict> = v.map(|c| c.verdict).collect();
            if verdicts.contains(&Verdict::Contradicted) {
                "contradicted"
            } else if verdicts.iter().all(|v| *v == Verdict::Supported) {
                "supported"
            } else {
                "unsupported"
            }
        }
    };
    let sources = answer
        .sources
        .iter()
        .map(|s| Citation {
            n: s.n,
            path: cairn_core::paths::escaped(&s.path),
            page: s.page,
            heading: heading(&s.heading),
            chunk_id: s.chunk_id,
            version: s.version,
            verdict: verdict(s.n).into(),
        })
        .collect();
    let nearest = answer
        .nearest
        .iter()
        .enumerate()
        .map(|(i, h)| Citation {
            n: i + 1,
            path: cairn_core::paths::escaped(&h.path),
            page: h.page,
            heading: heading(&h.heading),
            chunk_id: h.chunk_id.0,
            version: h.version,
            verdict: "nearest".into(),
        })
        .collect();
    let bad: HashSet<usize> = answer
        .citations
        .iter()
        .filter(|c| c.verdict != Verdict::Supported)
        .map(|c| c.sentence)
        .collect();
    let unsupported_sentences = answer
        .sentences
        .iter()
        .enumerate()
        .filter(|(i, s)| s.uncited || bad.contains(i))
        .map(|(_, s)| s.text.clone())
        .collect();
    let notice = match (why_extractive, answer.notice.clone()) {
        (Some(a), Some(b)) => Some(format!("{a}; {b}")),
        (a, b) => a.or(b),
    };
    Ok(AskResult {
        answer: answer.text,
        sources,
        method: answer.mode.as_str().into(),
        model: answer.model_id,
        abstained: answer.abstained,
        nearest,
        unsupported_sentences,
        audit_id: answer.audit_id.0,
        notice,
    })
}
