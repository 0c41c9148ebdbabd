//! Engine types → the UI's view types (`views.rs`): snippets as text runs, versions, search
//! hits, documents with their marks, answers, the editable settings; and the UI's filters → the
//! engine's [`Filters`].

use std::path::{Path, PathBuf};

use cairn_core::answer::{AbstainedBy, Answer, Citation};
use cairn_core::audit::AuditRecord;
use cairn_core::catalog::{DocumentRow, Filters, Marks, VersionInfo};
use cairn_core::config::{Config, LlmProvider};
use cairn_core::engine::{ForgetReport, SearchHit};
use cairn_core::eval::{AnswerReport, QuestionOutcome};
use cairn_core::{Error, Result};

use crate::views::*;

/// Splits a snippet into plain and highlighted runs (byte ranges → text runs, so the UI never
/// deals with byte offsets).
pub fn segments(text: &str, highlights: &[(usize, usize)]) -> Vec<Segment> {
    let mut out = Vec::new();
    let mut at = 0;
    let mut ranges: Vec<(usize, usize)> = highlights
        .iter()
        .copied()
        .filter(|&(s, e)| s < e && e <= text.len())
        .collect();
    ranges.sort();
    for (s, e) in ranges {
        if s < at || !text.is_char_boundary(s) || !text.is_char_boundary(e) {
            continue;
        }
        if s > at {
            out.push(Segment {
                text: text[at..s].to_owned(),
                hit: false,
            });
        }
        out.push(Segment {
            text: text[s..e].to_owned(),
            hit: true,
        });
        at = e;
    }
    if at < text.len() {
        out.push(Segment {
            text: text[at..].to_owned(),
            hit: false,
        });
    }
    out
}

impl From<VersionInfo> for VersionItem {
    fn from(v: VersionInfo) -> VersionItem {
        VersionItem {
            version: v.version,
            status: v.status,
            recorded_at: v.recorded_at,
            retired_at: v.retired_at,
            size: v.size,
            modified: v.mtime,
            passages: v.chunks as u32,
            passages_added: v.chunks_added as u32,
            passages_removed: v.chunks_removed as u32,
            content_hash: v.content_hash,
        }
    }
}

impl Settings {
    /// The editable settings of `config`.
    pub fn from_config(config: &Config, data_dir: &Path) -> Settings {
        Settings {
            data_dir: data_dir.display().to_string(),
            provider: config.llm.provider.as_str().into(),
            local_model: config.llm.local.model.display().to_string(),
            local_threads: config.llm.local.threads as u32,
            remote_base_url: config.llm.remote.base_url.clone(),
            remote_model: config.llm.remote.model.clone(),
            remote_api_key_env: config.llm.remote.api_key_env.clone(),
            abstain_threshold: config.answer.abstain_threshold,
            min_support: config.answer.min_support,
            answer_sources: match config.llm.provider {
                LlmProvider::Local => config.answer.local.sources,
                _ => config.answer.sources,
            } as u32,
            chunk_max_tokens: config.chunking.max_tokens as u32,
            chunk_overlap_tokens: config.chunking.overlap_tokens as u32,
            search_limit: config.search.limit as u32,
        }
    }

    /// `config` with these settings applied (validated when saved).
    pub fn apply(&self, mut config: Config) -> Result<Config> {
        config.llm.provider = match self.provider.as_str() {
            "local" => LlmProvider::Local,
            "remote" => LlmProvider::Remote,
            "none" => LlmProvider::None,
            other => {
                return Err(Error::Invalid(format!(
                    "unknown answer model provider `{other}` (local, remote or none)"
                )))
            }
        };
        config.llm.local.model = PathBuf::from(self.local_model.trim());
        config.llm.local.threads = self.local_threads as usize;
        config.llm.remote.base_url = self.remote_base_url.trim().to_owned();
        config.llm.remote.model = self.remote_model.trim().to_owned();
        config.llm.remote.api_key_env = self.remote_api_key_env.trim().to_owned();
        config.answer.abstain_threshold = self.abstain_threshold;
        config.answer.min_support = self.min_support;
        // The local model has its own (`[answer.local]`).
        match config.llm.provider {
            LlmProvider::Local => config.answer.local.sources = self.answer_sources as usize,
            _ => config.answer.sources = self.answer_sources as usize,
        }
        config.chunking.max_tokens = self.chunk_max_tokens as usize;
        config.chunking.overlap_tokens = self.chunk_overlap_tokens as usize;
        config.search.limit = self.search_limit as usize;
        Ok(config)
    }
}

/// The engine's filters for the UI's kinds, folders, tags and deprecated switch.
pub(crate) fn filters(
    kinds: &[String],
    folders: &[String],
    tags: &[String],
    deprecated: bool,
) -> Filters {
    Filters {
        folders: folders.iter().map(PathBuf::from).collect(),
        kinds: kinds.to_vec(),
        tags: tags.to_vec(),
        include_deprecated: deprecated,
        ..Filters::default()
    }
}

pub(crate) fn search_item(h: &SearchHit) -> SearchItem {
    SearchItem {
        chunk_id: h.chunk_id.0,
        path: cairn_core::paths::escaped(&h.path),
        title: h.title.clone(),
        kind: h.kind.clone(),
        page: h.page,
        heading: h.heading.clone(),
        version: h.version,
        score: h.score,
        snippet: segments(&h.snippet.text, &h.snippet.highlights),
        deprecated: h.deprecated.as_ref().map(|d| d.reason.clone()),
        recognised: h
            .heading
            .iter()
            .any(|part| part == cairn_core::parse::ocr::OCR_HEADING),
    }
}

pub(crate) fn document_item(d: DocumentRow, marks: &Marks) -> DocumentItem {
    let dep = marks.deprecation(&d.path);
    let status = if d.status == "current" && dep.is_some() {
        "deprecated".to_owned()
    } else {
        d.status.clone()
    };
    DocumentItem {
        path: cairn_core::paths::escaped(&d.path),
        folder: cairn_core::paths::escaped(&d.folder),
        title: d.title,
        kind: d.kind,
        status,
        version: d.version,
        versions: d.versions as u32,
        size: d.size,
        modified: d.mtime,
        pages: d.pages,
        passages: d.chunks as u32,
        deprecated_reason: dep.map(|x| x.reason.clone()),
        superseded_by: dep.and_then(|x| x.superseded_by.clone()),
        tags: marks
            .tags_of(&d.path)
            .into_iter()
            .map(String::from)
            .collect(),
    }
}

pub(crate) fn answer_view(a: Answer) -> AnswerView {
    AnswerView {
        text: a.text,
        mode: a.mode.as_str().into(),
        abstained: a.abstained,
        abstained_by: a.abstained_by.map(|b| match b {
            AbstainedBy::Evidence => "evidence".into(),
            AbstainedBy::Model => "model".into(),
        }),
        sources: a
            .sources
            .iter()
            .map(|s| SourceItem {
                n: s.n as u32,
                chunk_id: s.chunk_id,
                path: cairn_core::paths::escaped(&s.path),
                title: s.title.clone(),
                version: s.version,
                page: s.page,
                heading: s.heading.clone(),
                text: s.text.clone(),
                score: s.score,
            })
            .collect(),
        citations: a.citations.iter().map(CitationItem::from).collect(),
        uncited: a
            .sentences
            .iter()
            .filter(|s| s.uncited)
            .map(|s| s.text.clone())
            .collect(),
        nearest: a.nearest.iter().map(search_item).collect(),
        session: a.session.map(|s| s.0),
        audit_id: a.audit_id.0,
        question: a.question,
        rewritten_query: a.rewritten_query,
        model_id: a.model_id,
        template_version: a.template_version,
        total_ms: a.timings.total_ms,
        ttft_ms: a.timings.ttft_ms,
        cancelled: a.cancelled,
        notice: a.notice,
    }
}

/// Everything recorded about one answer, as the audit screen shows it.
pub(crate) fn audit_detail(r: AuditRecord) -> AuditDetail {
    AuditDetail {
        id: r.id.0,
        at: r.at,
        question: r.question,
        rewritten_query: r.rewritten_query,
        mode: r.mode.as_str().into(),
        answer: r.answer,
        abstained: r.abstained,
        model_id: r.model_id,
        endpoint: r.endpoint,
        template_version: r.template_version,
        retrieved: r
            .retrieved
            .into_iter()
            .map(|p| RetrievedItem {
                rank: p.rank as u32,
                path: cairn_core::paths::escaped(&p.path),
                version: p.version,
                page: p.page,
                score: p.score,
                source: p.source.map(|s| s as u32),
            })
            .collect(),
        citations: r.citations.iter().map(CitationItem::from).collect(),
        total_ms: r.timings.total_ms,
        pins: r.pins,
        error: r.error,
    }
}

impl From<&Citation> for CitationItem {
    fn from(c: &Citation) -> CitationItem {
        CitationItem {
            n: c.n as u32,
            verdict: c.verdict.as_str().into(),
            reason: c.reason.clone(),
        }
    }
}

/// What a forget erased, for the window.
pub(crate) fn forget_summary(r: &ForgetReport) -> ForgetSummary {
    ForgetSummary {
        path: r.target.display().to_string(),
        documents: r.erased.documents.len() as u32,
        versions: r.erased.versions as u32,
        passages: r.erased.passages as u32,
        audit_records: r.erased.audit_records as u32,
        excluded: r.excluded,
        folder_removed: r.folder_removed,
    }
}

/// One mode of an answer evaluation, with its per-question rows.
pub fn mode_result(r: AnswerReport) -> ModeResult {
    let s = &r.summary;
    ModeResult {
        mode: r.mode.clone(),
        model: r.model.clone(),
        template_version: r.template_version.clone(),
        sources: r.sources as u32,
        asked: r.queries as u32,
        answerable: s.answerable as u32,
        unanswerable: s.unanswerable as u32,
        exact_match: s.exact_match,
        f1: s.f1,
        answer_contained: s.answer_contained,
        answer_in_sources: s.answer_in_sources,
        answered_when_answerable: s.answered_when_answerable,
        abstained_when_unanswerable: s.abstained_when_unanswerable,
        citation_precision: s.citation_precision,
        citation_recall: s.citation_recall,
        unsupported_sentence_rate: s.unsupported_sentence_rate,
        ttft_p50_ms: r.ttft_p50_ms,
        latency_p50_ms: r.latency_p50_ms,
        latency_p95_ms: r.latency_p95_ms,
        failed: r.failed as u32,
        first_error: r.first_error.clone(),
        rows: r.outcomes.into_iter().map(eval_row).collect(),
    }
}

fn eval_row(o: QuestionOutcome) -> EvalRow {
    let outcome = match &o.scores {
        None => "failed",
        _ if o.right() => "right",
        Some(s) if s.answerable && s.abstained => "abstained",
        Some(_) => "wrong",
    };
    let s = o.scores.clone().unwrap_or_default();
    EvalRow {
        outcome: outcome.into(),
        f1: s.f1,
        citations: s.citations as u32,
        good_citations: s.good_citations as u32,
        sentences: s.sentences as u32,
        unsupported_sentences: s.unsupported_sentences as u32,
        id: o.id,
        question: o.question,
        expected: o.expected,
        answer: o.answer,
        error: o.error,
        audit_id: o.audit_id,
        total_ms: o.total_ms,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_split_text_at_highlights() {
        let s = segments("the refund policy is 14 days", &[(4, 10), (21, 23)]);
        let texts: Vec<(&str, bool)> = s.iter().map(|s| (s.text.as_str(), s.hit)).collect();
        assert_eq!(
            texts,
            vec![
                ("the ", false),
                ("refund", true),
                (" policy is ", false),
                ("14", true),
                (" days", false)
            ]
        );
    }

    #[test]
    fn segments_ignore_bad_ranges() {
        let s = segments("héllo", &[(1, 2), (0, 99), (3, 2)]);
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].text, "héllo");
        assert!(!s[0].hit);
    }
}
