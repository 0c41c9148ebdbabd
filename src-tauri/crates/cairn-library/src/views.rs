//! The types that cross to the window: the UI's contract, exported to TypeScript
//! (`ui/src/bindings.ts`) through their `specta::Type` derives. Numbers are ones JavaScript holds
//! exactly and enums are strings, so engine types can change without breaking the bindings
//! (the conversions from engine types are in `convert.rs`).

use serde::{Deserialize, Serialize};

use crate::error::ErrorInfo;

/// The library as the app shell needs it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct LibraryInfo {
    pub data_dir: String,
    /// Open (search works).
    pub ready: bool,
    pub writable: bool,
    /// Why the library is read-only, when it is.
    pub read_only_reason: Option<String>,
    /// `user@host:port/db` when this is a team library (searched and asked here, indexed by
    /// the team's indexer); `None` for the personal library.
    pub team: Option<String>,
    /// Opening failed: this is why.
    pub error: Option<ErrorInfo>,
    pub folders: Vec<String>,
    pub documents: u32,
    pub passages: u32,
    pub embedded_passages: u32,
    pub problems: u32,
    /// The embedding model could not be loaded (keyword search still works).
    pub embedding_error: Option<String>,
}

/// A search as the UI asks it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, specta::Type)]
pub struct SearchQuery {
    pub query: String,
    /// `hybrid` (default), `keyword` or `semantic`.
    pub mode: Option<String>,
    /// Only these kinds (`pdf`, `markdown`, `text`, `html`, `docx`, ...).
    pub kinds: Vec<String>,
    /// Only under these folders.
    pub folders: Vec<String>,
    pub tags: Vec<String>,
    /// Show deprecated documents too (labelled).
    pub include_deprecated: bool,
    pub limit: Option<u32>,
    /// Only passages of mail messages whose sender (name or address) contains this, ignoring
    /// case; empty or null: no sender filter.
    pub mail_from: Option<String>,
}

/// A run of snippet text, matched (`hit`) or not: rendered as text, hits inside `<mark>`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct Segment {
    pub text: String,
    pub hit: bool,
}

/// One ranked passage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct SearchItem {
    pub chunk_id: i64,
    pub path: String,
    pub title: Option<String>,
    pub kind: String,
    pub page: Option<u32>,
    pub heading: Vec<String>,
    pub version: i64,
    pub score: f32,
    pub snippet: Vec<Segment>,
    /// Why it is deprecated, when it is (only with `include_deprecated`).
    pub deprecated: Option<String>,
    /// The text was recognised by OCR from an image or a scanned page (it may hold
    /// recognition errors).
    pub recognised: bool,
}

/// Search results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct SearchResults {
    pub query: String,
    pub items: Vec<SearchItem>,
    pub total_passages: u32,
    pub embedded_passages: u32,
    pub notice: Option<String>,
    pub took_ms: f64,
}

/// A document in the library list, with its marks.
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type)]
pub struct DocumentItem {
    pub path: String,
    pub folder: String,
    pub title: Option<String>,
    pub kind: String,
    /// `current`, `deprecated`, `deleted` or `superseded`.
    pub status: String,
    pub version: i64,
    pub versions: u32,
    pub size: u64,
    pub modified: i64,
    pub pages: Option<u32>,
    pub passages: u32,
    pub deprecated_reason: Option<String>,
    pub superseded_by: Option<String>,
    pub tags: Vec<String>,
}

/// A file that could not be indexed.
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type)]
pub struct ProblemItem {
    pub path: String,
    pub reason: String,
    pub at: i64,
}

/// Folders, documents and problems.
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type)]
pub struct LibraryContents {
    pub folders: Vec<String>,
    pub documents: Vec<DocumentItem>,
    pub problems: Vec<ProblemItem>,
    /// Whether the OCR programs (Tesseract, pdftoppm) can be started on this machine.
    pub ocr_available: bool,
    /// How many of the problems are images or scanned PDFs waiting for those programs.
    pub ocr_waiting: u32,
    /// Pairs of passages in different documents that say nearly the same thing differently.
    pub conflicts: Vec<ConflictItem>,
}

/// What "Forget" erased.
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type)]
pub struct ForgetSummary {
    pub path: String,
    pub documents: u32,
    pub versions: u32,
    pub passages: u32,
    /// Answers in the audit log whose text from it was redacted.
    pub audit_records: u32,
    /// The path is still in a followed folder: it stays out of the index.
    pub excluded: bool,
    /// It was a followed folder: it is no longer followed.
    pub folder_removed: bool,
}

/// Two passages that may contradict each other.
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type)]
pub struct ConflictItem {
    pub path_a: String,
    pub path_b: String,
    pub text_a: String,
    pub text_b: String,
    pub similarity: f32,
}

/// One version of a document.
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type)]
pub struct VersionItem {
    pub version: i64,
    pub status: String,
    pub recorded_at: i64,
    pub retired_at: Option<i64>,
    pub size: u64,
    pub modified: i64,
    pub passages: u32,
    pub passages_added: u32,
    pub passages_removed: u32,
    pub content_hash: String,
}

/// What adding a folder would index, before anything is written.
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type)]
pub struct FolderPreview {
    pub path: String,
    /// Files Cairn can read, by kind (`pdf`, `markdown`, ...), most first.
    pub kinds: Vec<KindCount>,
    pub files: u32,
    pub bytes: u64,
    /// Files skipped because their type is not supported.
    pub unsupported: u32,
    /// Paths the scan could not use, with the reason (first 20).
    pub problems: Vec<ProblemItem>,
}

/// How many files of one kind.
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type)]
pub struct KindCount {
    pub kind: String,
    pub files: u32,
}

/// A question as the UI asks it.
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type)]
pub struct AskInput {
    pub question: String,
    /// `generative` or `extractive`.
    pub mode: String,
    /// Continue this conversation.
    pub session: Option<i64>,
    pub kinds: Vec<String>,
    pub folders: Vec<String>,
}

/// A numbered source of an answer: what a citation chip opens.
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type)]
pub struct SourceItem {
    pub n: u32,
    pub chunk_id: i64,
    pub path: String,
    pub title: Option<String>,
    pub version: i64,
    pub page: Option<u32>,
    pub heading: Vec<String>,
    pub text: String,
    pub score: f32,
}

/// A checked citation.
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type)]
pub struct CitationItem {
    pub n: u32,
    /// `supported`, `unsupported`, `contradicted` (the passage states a different number, date
    /// or amount, or the opposite) or `invalid`.
    pub verdict: String,
    pub reason: Option<String>,
}

/// A cited answer (or an honest "I don't know" with the nearest passages).
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type)]
pub struct AnswerView {
    pub text: String,
    pub mode: String,
    pub abstained: bool,
    /// `evidence` (no model was called) or `model`.
    pub abstained_by: Option<String>,
    pub sources: Vec<SourceItem>,
    pub citations: Vec<CitationItem>,
    /// Sentences that carry no citation.
    pub uncited: Vec<String>,
    pub nearest: Vec<SearchItem>,
    pub session: Option<i64>,
    pub audit_id: i64,
    pub question: String,
    pub rewritten_query: String,
    pub model_id: Option<String>,
    pub template_version: String,
    pub total_ms: f64,
    pub ttft_ms: Option<f64>,
    pub cancelled: bool,
    pub notice: Option<String>,
}

/// The passages around a cited one, in the same version of its document.
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type)]
pub struct PassageContext {
    pub before: Option<String>,
    pub after: Option<String>,
}

/// A conversation.
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type)]
pub struct SessionItem {
    pub id: i64,
    pub title: String,
    pub created_at: i64,
    pub messages: u32,
}

/// One turn of a conversation.
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type)]
pub struct MessageItem {
    /// `user` or `assistant`.
    pub role: String,
    pub content: String,
    pub audit_id: Option<i64>,
    pub created_at: i64,
}

/// An audit row, as listed.
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type)]
pub struct AuditItem {
    pub id: i64,
    pub at: i64,
    pub question: String,
    pub mode: String,
    pub abstained: bool,
    pub model_id: Option<String>,
    pub template_version: String,
    /// Set when the generation failed (no answer came back): its message.
    pub error: Option<String>,
}

/// A passage recorded as retrieved for an answer.
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type)]
pub struct RetrievedItem {
    pub rank: u32,
    pub path: String,
    pub version: i64,
    pub page: Option<u32>,
    pub score: f32,
    /// Its number in the prompt, when it was a source.
    pub source: Option<u32>,
}

/// Everything recorded about one answer, or one failed attempt at one.
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type)]
pub struct AuditDetail {
    pub id: i64,
    pub at: i64,
    pub question: String,
    pub rewritten_query: String,
    pub mode: String,
    pub answer: String,
    pub abstained: bool,
    pub model_id: Option<String>,
    pub endpoint: Option<String>,
    pub template_version: String,
    pub retrieved: Vec<RetrievedItem>,
    pub citations: Vec<CitationItem>,
    pub total_ms: f64,
    pub pins: Vec<String>,
    /// Set when the generation failed: the prompt with the sources in `retrieved` was sent
    /// (or being sent) to `model_id` at `endpoint`, `answer` is empty. The message.
    pub error: Option<String>,
}

/// The settings the app edits (the rest of config.toml is kept as it is).
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type)]
pub struct Settings {
    pub data_dir: String,
    /// `local`, `remote` or `none`.
    pub provider: String,
    /// A GGUF file; empty = the bundled default model.
    pub local_model: String,
    pub local_threads: u32,
    pub remote_base_url: String,
    pub remote_model: String,
    /// The name of the variable / keychain entry holding the API key (never the key).
    pub remote_api_key_env: String,
    pub abstain_threshold: f32,
    pub min_support: f32,
    /// Sources per answer: `answer.local.sources` when the provider is `local`, else
    /// `answer.sources`.
    pub answer_sources: u32,
    pub chunk_max_tokens: u32,
    pub chunk_overlap_tokens: u32,
    pub search_limit: u32,
}

/// An answer evaluation as the Evaluate view asks it: the user's question file (CSV or JSONL
/// with expected answers) asked of the library in each mode.
#[derive(Debug, Clone, Default, Serialize, Deserialize, specta::Type)]
pub struct EvaluateInput {
    /// The question file.
    pub path: String,
    /// `extractive` and/or `generative` (the configured answer model), in this order.
    pub modes: Vec<String>,
    /// Ask at most this many questions, spread evenly over the file.
    pub max_questions: Option<u32>,
}

/// Where an evaluation is: `done` of `total` questions in `mode`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct EvaluateProgress {
    pub mode: String,
    pub done: u32,
    pub total: u32,
}

/// An evaluation's result: one table row per mode.
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type)]
pub struct EvaluationView {
    /// The question file's name.
    pub file: String,
    /// Questions in the file.
    pub questions: u32,
    pub modes: Vec<ModeResult>,
}

/// The metrics of one answer mode over the questions asked (as `cairn eval --answers`).
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type)]
pub struct ModeResult {
    pub mode: String,
    pub model: Option<String>,
    pub template_version: String,
    pub sources: u32,
    pub asked: u32,
    pub answerable: u32,
    pub unanswerable: u32,
    pub exact_match: f64,
    pub f1: f64,
    /// An expected answer appears in the answer (answerable questions).
    pub answer_contained: f64,
    /// An expected answer appears in one of the sources given.
    pub answer_in_sources: f64,
    pub answered_when_answerable: f64,
    pub abstained_when_unanswerable: Option<f64>,
    pub citation_precision: Option<f64>,
    pub citation_recall: Option<f64>,
    pub unsupported_sentence_rate: Option<f64>,
    pub ttft_p50_ms: Option<f64>,
    pub latency_p50_ms: f64,
    pub latency_p95_ms: f64,
    /// Questions whose answer failed (left out of the figures), and the first error.
    pub failed: u32,
    pub first_error: Option<String>,
    pub rows: Vec<EvalRow>,
}

/// One question of a [`ModeResult`].
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type)]
pub struct EvalRow {
    pub id: String,
    pub question: String,
    /// The expected answers (none: "I don't know" is expected).
    pub expected: Vec<String>,
    pub answer: String,
    /// `right` (an expected answer is in it, or "I don't know" when none was expected),
    /// `wrong`, `abstained` (an answer was expected) or `failed`.
    pub outcome: String,
    pub f1: f64,
    pub citations: u32,
    /// Citations whose passage holds an expected answer or supports their sentence.
    pub good_citations: u32,
    pub sentences: u32,
    pub unsupported_sentences: u32,
    pub error: Option<String>,
    /// The answer's audit record.
    pub audit_id: Option<i64>,
    pub total_ms: f64,
}
