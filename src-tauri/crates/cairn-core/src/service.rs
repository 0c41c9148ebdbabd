//! The desktop app's engine orchestration, with no UI types: a [`Library`] opens the data
//! directory in the background, owns the one writer (an [`Engine`] opened with
//! [`Access::Write`]) on its own thread, indexes the folders and then follows them live, with
//! pause, resume and cancel, and reports [`IndexProgress`] snapshots (files and passages
//! done/total, phase, rate, ETA) through a callback. Reads (search, status, history, ask) go
//! through read-only engines, so they stay responsive while the writer indexes. When another
//! process (e.g. `cairn watch`) holds the writer lock, the library works read-only and says so.
//!
//! [`reconcile`] is the one indexing step shared with `cairn watch`.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use serde::{Deserialize, Serialize};

use crate::answer::{AnswerMode, AskRequest, Generator};
use crate::audit::{AuditId, SessionId};
use crate::catalog::{DocumentRow, Filters, VersionInfo};
use crate::config::{Config, SearchMode};
use crate::embed::{Embedder, OnnxEmbedder};
use crate::engine::{Access, Engine, IndexReport, Phase, Progress, SearchRequest};
use crate::error::{Error, Result};
use crate::watch::live::{self, FolderWatcher};

// ---- the indexing step shared with `cairn watch` ------------------------------------------------

/// What one [`reconcile`] did.
#[derive(Debug, Clone, Default)]
pub struct Reconciled {
    pub report: IndexReport,
    /// Milliseconds until the keyword index was committed.
    pub keyword_ms: f64,
    /// Embedding stopped early because `interrupt` was set (files changed, a command or a
    /// pause is waiting); it resumes with the next reconcile.
    pub embedding_paused: bool,
}

/// One reconcile: mark `paths` dirty, run the keyword phase (stopped only by `stop`), then
/// embed the backlog (also stopped by `interrupt`, so fresh changes never wait behind a long
/// backlog). A missing embedding model is reported in the report, not as an error.
pub fn reconcile(
    engine: &mut Engine,
    paths: &[PathBuf],
    embed: bool,
    stop: &AtomicBool,
    interrupt: &AtomicBool,
    progress: &mut dyn FnMut(&Progress),
) -> Result<Reconciled> {
    let started = Instant::now();
    interrupt.store(false, Ordering::SeqCst);
    live::mark_dirty(engine.catalog(), paths)?;
    let mut report = engine.index_text(progress, stop)?;
    let keyword_ms = millis(started.elapsed());
    let mut embedding_paused = false;
    if embed && !report.cancelled {
        // Either flag stops the embedding at its next batch.
        let either = AtomicBool::new(false);
        let watch = || stop.load(Ordering::SeqCst) || interrupt.load(Ordering::SeqCst);
        let mut forward = |p: &Progress| {
            either.store(watch(), Ordering::SeqCst);
            progress(p)
        };
        // `embed_backlog` polls its flag between batches; keep it current from a helper thread
        // so an interrupt lands even between progress callbacks.
        let done = AtomicBool::new(false);
        let result = std::thread::scope(|s| {
            s.spawn(|| {
                while !done.load(Ordering::SeqCst) {
                    if watch() {
                        either.store(true, Ordering::SeqCst);
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
            });
            let r = engine.embed_backlog(&mut forward, &either, &mut report);
            done.store(true, Ordering::SeqCst);
            r
        });
        match result {
            Ok(()) => {}
            Err(Error::Model(m)) => report.embedding_error = Some(m),
            Err(e) => return Err(e),
        }
        if report.cancelled && !stop.load(Ordering::SeqCst) {
            report.cancelled = false;
            embedding_paused = true;
        }
    }
    Ok(Reconciled {
        report,
        keyword_ms,
        embedding_paused,
    })
}

fn millis(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e4).round() / 10.0
}

// ---- what crosses to the UI --------------------------------------------------------------------

/// An error as the UI shows it: a stable kind, the message, and what to do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct ErrorInfo {
    /// Stable machine-readable kind (`io`, `locked`, `not_found`, `internal`, ...).
    pub kind: String,
    pub message: String,
    /// What the user can do about it.
    pub hint: String,
    /// True when the user caused it and can fix it; false for internal failures.
    pub user_error: bool,
}

impl ErrorInfo {
    /// An internal failure outside the engine (a crashed task, a failed OS call).
    pub fn internal(message: impl Into<String>) -> ErrorInfo {
        ErrorInfo {
            kind: "internal".into(),
            message: message.into(),
            hint: "This is a bug in Cairn: restart the app; if it happens again, report it with the message.".into(),
            user_error: false,
        }
    }
}

impl From<&Error> for ErrorInfo {
    fn from(e: &Error) -> ErrorInfo {
        let hint = match e {
            // The CLI's hints name CLI commands; say the same in the app's words.
            Error::Locked(_) => {
                "Another Cairn process (e.g. `cairn watch` or `cairn index`) is indexing this library: the app shows it read-only until that process stops; then restart the app."
            }
            Error::Cancelled => "Re-index the library to resume where it stopped.",
            Error::Model(_) => {
                "Keyword search works without it. Install the model files (`bash models/fetch.sh`) or point Settings at an ONNX model."
            }
            Error::Generation(_) => {
                "Check the answer model in Settings (a local GGUF file, or a remote endpoint and its key), or switch the answer mode to extractive."
            }
            Error::Catalog(_) | Error::TextIndex(_) | Error::VectorIndex(_) => {
                "Re-index the library to rebuild the search indexes; if that fails, report a bug."
            }
            other => other.hint(),
        };
        ErrorInfo {
            kind: e.kind().into(),
            message: e.to_string(),
            hint: hint.into(),
            user_error: e.is_user_error(),
        }
    }
}

impl From<Error> for ErrorInfo {
    fn from(e: Error) -> ErrorInfo {
        ErrorInfo::from(&e)
    }
}

/// The phase shown by the progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "lowercase")]
pub enum ProgressPhase {
    /// Nothing to do (no folders, still opening, or a run was cancelled).
    Idle,
    Scanning,
    Parsing,
    Embedding,
    /// Everything indexed; following the folders live.
    Done,
    Paused,
    Error,
}

/// A snapshot of indexing, delivered through the [`Library`] callback.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct IndexProgress {
    pub phase: ProgressPhase,
    pub files_done: u32,
    pub files_total: u32,
    pub chunks_done: u32,
    pub chunks_total: u32,
    /// Items per second of the current phase (files while parsing, passages while embedding).
    pub rate: Option<f64>,
    /// Seconds left in the current phase at the current rate.
    pub eta_seconds: Option<f64>,
    /// The file being read.
    pub current: Option<String>,
    /// A notice or error to show next to the bar.
    pub message: Option<String>,
    /// The library accepts changes (false: read-only because another process writes it).
    pub writable: bool,
    /// The library is open (search works).
    pub ready: bool,
}

impl IndexProgress {
    fn initial() -> IndexProgress {
        IndexProgress {
            phase: ProgressPhase::Idle,
            files_done: 0,
            files_total: 0,
            chunks_done: 0,
            chunks_total: 0,
            rate: None,
            eta_seconds: None,
            current: None,
            message: Some("Opening the library…".into()),
            writable: false,
            ready: false,
        }
    }
}

/// The library as the app shell needs it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct LibraryInfo {
    pub data_dir: String,
    /// Open (search works).
    pub ready: bool,
    pub writable: bool,
    /// Why the library is read-only, when it is.
    pub read_only_reason: Option<String>,
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
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
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
}

/// A run of snippet text, matched (`hit`) or not: rendered as text, hits inside `<mark>`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Segment {
    pub text: String,
    pub hit: bool,
}

/// One ranked passage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
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
}

/// Search results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct SearchResults {
    pub query: String,
    pub items: Vec<SearchItem>,
    pub total_passages: u32,
    pub embedded_passages: u32,
    pub notice: Option<String>,
    pub took_ms: f64,
}

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

/// A document in the library list, with its marks.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
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
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct ProblemItem {
    pub path: String,
    pub reason: String,
    pub at: i64,
}

/// Folders, documents and problems.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct LibraryContents {
    pub folders: Vec<String>,
    pub documents: Vec<DocumentItem>,
    pub problems: Vec<ProblemItem>,
    /// Pairs of passages in different documents that say nearly the same thing differently.
    pub conflicts: Vec<ConflictItem>,
}

/// Two passages that may contradict each other.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct ConflictItem {
    pub path_a: String,
    pub path_b: String,
    pub text_a: String,
    pub text_b: String,
    pub similarity: f32,
}

/// One version of a document.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
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

/// What adding a folder would index, before anything is written.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
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
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct KindCount {
    pub kind: String,
    pub files: u32,
}

/// Scans `folder` with the ingest rules of `config` and counts what would be indexed (reads
/// the first bytes of each file to detect its type; parses nothing).
pub fn preview_folder(folder: &Path, config: &Config) -> Result<FolderPreview> {
    use std::io::Read;
    let abs = folder
        .canonicalize()
        .map_err(|e| Error::io("opening folder", folder, e))?;
    let scan = crate::watch::scan(&abs, &config.ingest, &[])?;
    let mut kinds: std::collections::BTreeMap<&'static str, u32> = Default::default();
    let (mut files, mut bytes, mut unsupported) = (0u32, 0u64, 0u32);
    for f in &scan.files {
        let mut head = Vec::with_capacity(4096);
        if let Ok(file) = std::fs::File::open(&f.path) {
            let _ = file.take(4096).read_to_end(&mut head);
        }
        match crate::parse::detect(&f.path, &head) {
            Some(kind) => {
                *kinds.entry(kind.as_str()).or_default() += 1;
                files += 1;
                bytes += f.size;
            }
            None => unsupported += 1,
        }
    }
    let mut kinds: Vec<KindCount> = kinds
        .into_iter()
        .map(|(kind, files)| KindCount {
            kind: kind.into(),
            files,
        })
        .collect();
    kinds.sort_by(|a, b| b.files.cmp(&a.files).then(a.kind.cmp(&b.kind)));
    Ok(FolderPreview {
        path: abs.display().to_string(),
        kinds,
        files,
        bytes,
        unsupported,
        problems: scan
            .problems
            .into_iter()
            .take(20)
            .map(|(path, reason)| ProblemItem {
                path: path.display().to_string(),
                reason,
                at: 0,
            })
            .collect(),
    })
}

/// A question as the UI asks it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
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
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
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
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct CitationItem {
    pub n: u32,
    /// `supported`, `unsupported` or `invalid`.
    pub verdict: String,
    pub reason: Option<String>,
}

/// A cited answer (or an honest "I don't know" with the nearest passages).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
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
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct PassageContext {
    pub before: Option<String>,
    pub after: Option<String>,
}

/// A conversation.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct SessionItem {
    pub id: i64,
    pub title: String,
    pub created_at: i64,
    pub messages: u32,
}

/// One turn of a conversation.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct MessageItem {
    /// `user` or `assistant`.
    pub role: String,
    pub content: String,
    pub audit_id: Option<i64>,
    pub created_at: i64,
}

/// An audit row, as listed.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
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
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
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
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
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
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
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
    pub answer_sources: u32,
    pub chunk_max_tokens: u32,
    pub chunk_overlap_tokens: u32,
    pub search_limit: u32,
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
            answer_sources: config.answer.sources as u32,
            chunk_max_tokens: config.chunking.max_tokens as u32,
            chunk_overlap_tokens: config.chunking.overlap_tokens as u32,
            search_limit: config.search.limit as u32,
        }
    }

    /// `config` with these settings applied (validated when saved).
    pub fn apply(&self, mut config: Config) -> Result<Config> {
        use crate::config::LlmProvider;
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
        config.answer.sources = self.answer_sources as usize;
        config.chunking.max_tokens = self.chunk_max_tokens as usize;
        config.chunking.overlap_tokens = self.chunk_overlap_tokens as usize;
        config.search.limit = self.search_limit as usize;
        Ok(config)
    }
}

// ---- the service --------------------------------------------------------------------------------

/// What the [`Library`] reports.
#[derive(Debug, Clone)]
pub enum LibraryEvent {
    /// A new progress snapshot (throttled to a few per second).
    Progress(IndexProgress),
    /// Folders, documents or marks changed: lists and results should be refreshed.
    Changed,
}

type Callback = Arc<dyn Fn(LibraryEvent) + Send + Sync>;

/// A reply to a writer command.
type Reply<T> = Sender<Result<T>>;

enum Command {
    AddFolders(Vec<PathBuf>, Reply<Vec<PathBuf>>),
    RemoveFolder(PathBuf, Reply<usize>),
    Reindex(Reply<()>),
    /// Picks paused work up again (a reconcile finds what is left).
    Resume,
    Deprecate {
        path: PathBuf,
        reason: String,
        superseded_by: Option<PathBuf>,
        reply: Reply<()>,
    },
    Undeprecate(String, Reply<()>),
    Tag(PathBuf, Vec<String>, Reply<()>),
    Untag(PathBuf, Vec<String>, Reply<()>),
}

/// Options of [`Library::open`].
#[derive(Debug, Clone)]
pub struct LibraryOptions {
    pub data_dir: PathBuf,
    /// Quiet time that ends a burst of file changes.
    pub debounce: Duration,
    /// Longest time a burst is collected.
    pub max_wait: Duration,
    /// Embed passages (semantic search); keyword search is always live.
    pub embed: bool,
}

impl LibraryOptions {
    pub fn new(data_dir: impl Into<PathBuf>) -> LibraryOptions {
        LibraryOptions {
            data_dir: data_dir.into(),
            debounce: live::DEFAULT_DEBOUNCE,
            max_wait: live::DEFAULT_MAX_WAIT,
            embed: true,
        }
    }
}

enum OpenState {
    Opening,
    Open,
    Failed(ErrorInfo),
}

/// A read-only engine and the vector-index file state it has loaded.
struct Reader {
    engine: Engine,
    vectors_seen: Option<SystemTime>,
}

struct Inner {
    options: LibraryOptions,
    config: Mutex<Config>,
    state: Mutex<OpenState>,
    opened: Condvar,
    reader: Mutex<Option<Reader>>,
    asker: Mutex<Option<Reader>>,
    /// The embedding model, loaded once and shared by every engine.
    embedder: Mutex<Option<Arc<dyn Embedder>>>,
    writable: AtomicBool,
    read_only_reason: Mutex<Option<String>>,
    embedding_error: Mutex<Option<String>>,
    commands: Mutex<Option<Sender<Command>>>,
    paused: AtomicBool,
    cancel: AtomicBool,
    shutdown: AtomicBool,
    /// Set to make a running embedding yield (a command, pause or cancel is waiting); the
    /// watcher sets it too when files change.
    interrupt: Mutex<Arc<AtomicBool>>,
    progress: Mutex<IndexProgress>,
    last_emit: Mutex<Instant>,
    callback: Callback,
}

/// The desktop app's library: see the module documentation.
#[derive(Clone)]
pub struct Library {
    inner: Arc<Inner>,
}

/// How long a read waits for the library to open before saying so.
const OPEN_WAIT: Duration = Duration::from_secs(60);
/// Minimum time between two progress events of the same phase.
const EMIT_EVERY: Duration = Duration::from_millis(120);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn vectors_mtime(data_dir: &Path) -> Option<SystemTime> {
    std::fs::metadata(data_dir.join("vectors.json"))
        .and_then(|m| m.modified())
        .ok()
}

impl Library {
    /// Starts opening the library in the background and returns at once; `callback` receives
    /// progress snapshots and change notices (from background threads).
    pub fn open(
        options: LibraryOptions,
        callback: impl Fn(LibraryEvent) + Send + Sync + 'static,
    ) -> Library {
        let inner = Arc::new(Inner {
            options,
            config: Mutex::new(Config::default()),
            state: Mutex::new(OpenState::Opening),
            opened: Condvar::new(),
            reader: Mutex::new(None),
            asker: Mutex::new(None),
            embedder: Mutex::new(None),
            writable: AtomicBool::new(false),
            read_only_reason: Mutex::new(None),
            embedding_error: Mutex::new(None),
            commands: Mutex::new(None),
            paused: AtomicBool::new(false),
            cancel: AtomicBool::new(false),
            shutdown: AtomicBool::new(false),
            interrupt: Mutex::new(Arc::new(AtomicBool::new(false))),
            progress: Mutex::new(IndexProgress::initial()),
            last_emit: Mutex::new(Instant::now() - EMIT_EVERY),
            callback: Arc::new(callback),
        });
        let lib = Library { inner };
        let opener = lib.clone();
        std::thread::Builder::new()
            .name("cairn-open".into())
            .spawn(move || opener.open_in_background())
            .expect("spawning a thread");
        lib
    }

    pub fn data_dir(&self) -> &Path {
        &self.inner.options.data_dir
    }

    fn open_in_background(&self) {
        let inner = &self.inner;
        let dir = inner.options.data_dir.clone();
        let result = (|| -> Result<()> {
            let config = Config::load(&dir)?;
            *lock(&inner.config) = config.clone();
            let writer = match Engine::open(&dir, config.clone(), Access::Write) {
                Ok(w) => Some(w),
                Err(Error::Locked(_)) => {
                    *lock(&inner.read_only_reason) = Some(format!(
                        "Another Cairn process is indexing {}: this window is read-only until it stops.",
                        dir.display()
                    ));
                    None
                }
                Err(e) => return Err(e),
            };
            let reader = Engine::open(&dir, config, Access::ReadOnly)?;
            *lock(&inner.reader) = Some(Reader {
                engine: reader,
                vectors_seen: vectors_mtime(&dir),
            });
            let writable = writer.is_some();
            inner.writable.store(writable, Ordering::SeqCst);
            // The writer thread takes commands before anyone is told the library is open, so
            // a command sent right after opening never finds it missing.
            if let Some(writer) = writer {
                let (tx, rx) = mpsc::channel();
                *lock(&inner.commands) = Some(tx);
                let me = self.clone();
                std::thread::Builder::new()
                    .name("cairn-writer".into())
                    .spawn(move || me.writer_loop(writer, rx))
                    .map_err(|e| Error::io("starting", "the indexing thread", e))?;
            }
            *lock(&inner.state) = OpenState::Open;
            inner.opened.notify_all();
            self.update(|p| {
                p.ready = true;
                p.writable = writable;
                p.message = lock(&inner.read_only_reason).clone();
            });
            // Keyword search works from here. Load the query-side embedding model once,
            // outside any engine lock, for the reader and the asker. The writer loads its own
            // session when it embeds: a shared one would make every search wait for the
            // embedding batch in flight.
            if inner.options.embed {
                let cfg = lock(&inner.config).embedding.clone();
                match crate::embed::resolve(&cfg).and_then(|r| OnnxEmbedder::load(&cfg, &r)) {
                    Ok(e) => {
                        let e: Arc<dyn Embedder> = Arc::new(e);
                        if let Some(r) = lock(&inner.reader).as_ref() {
                            r.engine.share_embedder(e.clone());
                        }
                        *lock(&inner.embedder) = Some(e);
                    }
                    Err(e) => {
                        tracing::warn!("semantic search is off: {e}");
                        *lock(&inner.embedding_error) = Some(e.to_string());
                    }
                }
            }
            Ok(())
        })();
        if let Err(e) = result {
            tracing::error!("opening the library failed: {e}");
            *lock(&inner.state) = OpenState::Failed(ErrorInfo::from(&e));
            inner.opened.notify_all();
            self.update(|p| {
                p.phase = ProgressPhase::Error;
                p.message = Some(e.to_string());
            });
        }
        (inner.callback)(LibraryEvent::Changed);
    }

    /// Blocks until the library is open (or failed to open).
    fn wait_open(&self) -> Result<(), ErrorInfo> {
        let inner = &self.inner;
        let mut state = lock(&inner.state);
        let deadline = Instant::now() + OPEN_WAIT;
        loop {
            match &*state {
                OpenState::Open => return Ok(()),
                OpenState::Failed(e) => return Err(e.clone()),
                OpenState::Opening => {}
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(ErrorInfo {
                    kind: "opening".into(),
                    message: "the library is still opening".into(),
                    hint: "Wait a moment and try again.".into(),
                    user_error: true,
                });
            }
            state = inner
                .opened
                .wait_timeout(state, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    /// Runs `f` on the shared read-only engine (reloading the vector index when the writer
    /// saved a newer one).
    fn read<T>(&self, f: impl FnOnce(&mut Engine) -> Result<T>) -> Result<T, ErrorInfo> {
        self.wait_open()?;
        let mut guard = lock(&self.inner.reader);
        let reader = guard
            .as_mut()
            .ok_or_else(|| ErrorInfo::internal("the library has no reader"))?;
        refresh(reader, &self.inner.options.data_dir);
        Ok(f(&mut reader.engine)?)
    }

    /// Sends a command to the writer thread and waits for its reply.
    fn write<T>(&self, make: impl FnOnce(Reply<T>) -> Command) -> Result<T, ErrorInfo> {
        self.wait_open()?;
        let tx = lock(&self.inner.commands)
            .clone()
            .ok_or_else(|| ErrorInfo::from(Error::Locked(self.inner.options.data_dir.clone())))?;
        let (reply, answer) = mpsc::channel();
        tx.send(make(reply))
            .map_err(|_| ErrorInfo::internal("the indexing thread has stopped"))?;
        // A running embedding yields to the command at its next batch.
        lock(&self.inner.interrupt).store(true, Ordering::SeqCst);
        let result = answer
            .recv()
            .map_err(|_| ErrorInfo::internal("the indexing thread has stopped"))?;
        Ok(result?)
    }

    // ---- state -------------------------------------------------------------------------------

    /// The latest progress snapshot.
    pub fn progress(&self) -> IndexProgress {
        lock(&self.inner.progress).clone()
    }

    /// The library's state and counts (does not wait for it to open).
    pub fn info(&self) -> LibraryInfo {
        let inner = &self.inner;
        let mut info = LibraryInfo {
            data_dir: inner.options.data_dir.display().to_string(),
            ready: false,
            writable: inner.writable.load(Ordering::SeqCst),
            read_only_reason: lock(&inner.read_only_reason).clone(),
            error: None,
            folders: Vec::new(),
            documents: 0,
            passages: 0,
            embedded_passages: 0,
            problems: 0,
            embedding_error: lock(&inner.embedding_error).clone(),
        };
        match &*lock(&inner.state) {
            OpenState::Opening => return info,
            OpenState::Failed(e) => {
                info.error = Some(e.clone());
                return info;
            }
            OpenState::Open => info.ready = true,
        }
        if let Ok((folders, stats)) = self.read(|e| {
            let model = e.config().embedding.model_id.clone();
            Ok((e.catalog().folders()?, e.catalog().stats(&model)?))
        }) {
            info.folders = folders
                .into_iter()
                .map(|f| f.path.display().to_string())
                .collect();
            info.documents = stats.current_documents as u32;
            info.passages = stats.current_chunks as u32;
            info.embedded_passages = stats.embedded_chunks as u32;
            info.problems = stats.problems as u32;
        }
        info
    }

    // ---- writer commands ---------------------------------------------------------------------

    /// Adds folders (they must exist) and indexes them; returns their absolute paths.
    pub fn add_folders(&self, paths: Vec<PathBuf>) -> Result<Vec<PathBuf>, ErrorInfo> {
        self.write(|r| Command::AddFolders(paths, r))
    }

    /// Stops following a folder; its documents leave search (history is kept).
    pub fn remove_folder(&self, path: PathBuf) -> Result<usize, ErrorInfo> {
        self.write(|r| Command::RemoveFolder(path, r))
    }

    /// Re-scans every folder and embeds what is missing (also resumes a cancelled run).
    pub fn reindex(&self) -> Result<(), ErrorInfo> {
        self.write(Command::Reindex)
    }

    pub fn deprecate(
        &self,
        path: PathBuf,
        reason: String,
        superseded_by: Option<PathBuf>,
    ) -> Result<(), ErrorInfo> {
        self.write(|reply| Command::Deprecate {
            path,
            reason,
            superseded_by,
            reply,
        })
    }

    pub fn undeprecate(&self, target: String) -> Result<(), ErrorInfo> {
        self.write(|r| Command::Undeprecate(target, r))
    }

    pub fn tag(&self, path: PathBuf, tags: Vec<String>) -> Result<(), ErrorInfo> {
        self.write(|r| Command::Tag(path, tags, r))
    }

    pub fn untag(&self, path: PathBuf, tags: Vec<String>) -> Result<(), ErrorInfo> {
        self.write(|r| Command::Untag(path, tags, r))
    }

    /// Pauses indexing at the next batch (the folders are still watched; search works).
    pub fn pause(&self) {
        self.inner.paused.store(true, Ordering::SeqCst);
        self.inner.cancel.store(true, Ordering::SeqCst);
        lock(&self.inner.interrupt).store(true, Ordering::SeqCst);
        self.update(|p| {
            p.phase = ProgressPhase::Paused;
            p.rate = None;
            p.eta_seconds = None;
        });
    }

    pub fn resume(&self) {
        self.inner.paused.store(false, Ordering::SeqCst);
        if let Some(tx) = lock(&self.inner.commands).as_ref() {
            let _ = tx.send(Command::Resume);
        }
    }

    /// Stops the running index at its next batch; committed work is kept. Re-index resumes.
    pub fn cancel(&self) {
        self.inner.paused.store(false, Ordering::SeqCst);
        self.inner.cancel.store(true, Ordering::SeqCst);
        lock(&self.inner.interrupt).store(true, Ordering::SeqCst);
    }

    /// Stops the writer thread (at the end of the current batch).
    pub fn shutdown(&self) {
        self.inner.shutdown.store(true, Ordering::SeqCst);
        self.inner.cancel.store(true, Ordering::SeqCst);
        lock(&self.inner.interrupt).store(true, Ordering::SeqCst);
    }

    // ---- reads -------------------------------------------------------------------------------

    /// Ranked passages for a query.
    pub fn search(&self, q: &SearchQuery) -> Result<SearchResults, ErrorInfo> {
        let started = Instant::now();
        self.read(|engine| {
            let mut req = SearchRequest::new(q.query.clone(), engine.config());
            req.mode = match q.mode.as_deref() {
                None | Some("") | Some("hybrid") => req.mode,
                Some("keyword") | Some("bm25") => SearchMode::Bm25,
                Some("semantic") | Some("dense") => SearchMode::Dense,
                Some(other) => {
                    return Err(Error::Invalid(format!(
                        "unknown search mode `{other}` (hybrid, keyword or semantic)"
                    )))
                }
            };
            if let Some(limit) = q.limit {
                req.limit = (limit as usize).clamp(1, 200);
            }
            req.filters = filters(&q.kinds, &q.folders, &q.tags, q.include_deprecated);
            // The writer may be merging segments at this moment: one retry hides that race.
            let resp = match engine.search(&req) {
                Err(Error::TextIndex(e)) => {
                    tracing::debug!("search retried after a text index error: {e}");
                    engine.search(&req)?
                }
                other => other?,
            };
            Ok(SearchResults {
                query: q.query.clone(),
                items: resp.results.iter().map(search_item).collect(),
                total_passages: resp.total_chunks as u32,
                embedded_passages: resp.embedded_chunks as u32,
                notice: resp
                    .notice
                    .map(|n| n.replace("with `cairn index`", "in the background")),
                took_ms: millis(started.elapsed()),
            })
        })
    }

    /// Folders, documents (with deprecation and tags), problems and conflicts.
    pub fn contents(&self) -> Result<LibraryContents, ErrorInfo> {
        self.read(|engine| {
            let catalog = engine.catalog();
            let marks = catalog.marks()?;
            let documents = catalog
                .documents()?
                .into_iter()
                .map(|d| document_item(d, &marks))
                .collect();
            Ok(LibraryContents {
                folders: catalog
                    .folders()?
                    .into_iter()
                    .map(|f| f.path.display().to_string())
                    .collect(),
                documents,
                problems: catalog
                    .problems()?
                    .into_iter()
                    .map(|p| ProblemItem {
                        path: p.path.display().to_string(),
                        reason: p.reason,
                        at: p.at,
                    })
                    .collect(),
                conflicts: catalog
                    .conflicts()?
                    .into_iter()
                    .take(50)
                    .map(|c| ConflictItem {
                        path_a: c.path_a.display().to_string(),
                        path_b: c.path_b.display().to_string(),
                        text_a: c.text_a,
                        text_b: c.text_b,
                        similarity: c.similarity,
                    })
                    .collect(),
            })
        })
    }

    /// What adding `folder` would index.
    pub fn preview_folder(&self, folder: &Path) -> Result<FolderPreview, ErrorInfo> {
        Ok(preview_folder(folder, &self.config())?)
    }

    /// The versions of a document, oldest first.
    pub fn history(&self, path: &Path) -> Result<Vec<VersionItem>, ErrorInfo> {
        self.read(|e| {
            Ok(e.history(path)?
                .into_iter()
                .map(VersionItem::from)
                .collect())
        })
    }

    /// Answers a question (see [`Engine::ask`]); tokens stream to `on_token`. Runs on its own
    /// read-only engine so searches stay quick while a model writes.
    pub fn ask(
        &self,
        input: &AskInput,
        generator: Option<&dyn Generator>,
        cancel: &AtomicBool,
        on_token: &mut dyn FnMut(&str),
    ) -> Result<AnswerView, ErrorInfo> {
        self.wait_open()?;
        let mode = match input.mode.as_str() {
            "generative" => AnswerMode::Generative,
            "extractive" => AnswerMode::Extractive,
            other => {
                return Err(Error::Invalid(format!(
                    "unknown answer mode `{other}` (generative or extractive)"
                ))
                .into())
            }
        };
        let mut req = AskRequest::new(input.question.clone(), mode);
        req.session = input.session.map(SessionId);
        req.filters = filters(&input.kinds, &input.folders, &[], false);
        let mut guard = lock(&self.inner.asker);
        if guard.is_none() {
            let config = lock(&self.inner.config).clone();
            let engine = Engine::open(&self.inner.options.data_dir, config, Access::ReadOnly)?;
            if let Some(e) = lock(&self.inner.embedder).clone() {
                engine.share_embedder(e);
            }
            *guard = Some(Reader {
                engine,
                vectors_seen: vectors_mtime(&self.inner.options.data_dir),
            });
        }
        let asker = guard.as_mut().expect("opened above");
        refresh(asker, &self.inner.options.data_dir);
        if req.session.is_none() {
            // Every question starts or continues a conversation the user can come back to.
            let title: String = input.question.trim().chars().take(80).collect();
            req.session = Some(asker.engine.new_session(&title)?);
        }
        let answer = asker.engine.ask(&req, generator, cancel, on_token)?;
        Ok(answer_view(answer))
    }

    /// The text just before and after a passage (a citation shown in context).
    pub fn passage_context(&self, chunk_id: i64) -> Result<PassageContext, ErrorInfo> {
        self.read(|e| {
            let (before, after) = e.catalog().neighbours(crate::catalog::ChunkId(chunk_id))?;
            Ok(PassageContext { before, after })
        })
    }

    pub fn sessions(&self) -> Result<Vec<SessionItem>, ErrorInfo> {
        self.read(|e| {
            Ok(e.sessions()?
                .into_iter()
                .map(|s| SessionItem {
                    id: s.id.0,
                    title: s.title,
                    created_at: s.created_at,
                    messages: s.messages as u32,
                })
                .collect())
        })
    }

    pub fn session_messages(&self, id: i64) -> Result<Vec<MessageItem>, ErrorInfo> {
        self.read(|e| {
            Ok(e.session_messages(SessionId(id))?
                .into_iter()
                .map(|m| MessageItem {
                    role: match m.role {
                        crate::audit::MessageRole::User => "user".into(),
                        crate::audit::MessageRole::Assistant => "assistant".into(),
                    },
                    content: m.content,
                    audit_id: m.audit_id.map(|a| a.0),
                    created_at: m.created_at,
                })
                .collect())
        })
    }

    pub fn audit_list(&self, limit: u32) -> Result<Vec<AuditItem>, ErrorInfo> {
        self.read(|e| {
            Ok(e.audit_list(limit as usize)?
                .into_iter()
                .map(|a| AuditItem {
                    id: a.id.0,
                    at: a.at,
                    question: a.question,
                    mode: a.mode,
                    abstained: a.abstained,
                    model_id: a.model_id,
                    template_version: a.template_version,
                    error: a.error,
                })
                .collect())
        })
    }

    pub fn audit_detail(&self, id: i64) -> Result<AuditDetail, ErrorInfo> {
        self.read(|e| {
            let r = e.audit_record(AuditId(id))?;
            Ok(AuditDetail {
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
                        path: p.path.display().to_string(),
                        version: p.version,
                        page: p.page,
                        score: p.score,
                        source: p.source.map(|s| s as u32),
                    })
                    .collect(),
                citations: r
                    .citations
                    .iter()
                    .map(|c| CitationItem {
                        n: c.n as u32,
                        verdict: c.verdict.as_str().into(),
                        reason: c.reason.clone(),
                    })
                    .collect(),
                total_ms: r.timings.total_ms,
                pins: r.pins,
                error: r.error,
            })
        })
    }

    /// Writes the whole audit log as JSON to `dest` (a file), or to
    /// `<data dir>/exports/audit-<time>.json`; returns the file written.
    pub fn audit_export(&self, dest: Option<PathBuf>) -> Result<PathBuf, ErrorInfo> {
        let records = self.read(|e| e.audit_export())?;
        let path = dest.unwrap_or_else(|| {
            let stamp = chrono::Local::now().format("%Y%m%d-%H%M%S");
            self.inner
                .options
                .data_dir
                .join("exports")
                .join(format!("audit-{stamp}.json"))
        });
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| Error::io("creating", dir, e))?;
        }
        let json = serde_json::to_vec_pretty(&records)
            .map_err(|e| ErrorInfo::internal(format!("writing the audit log as JSON: {e}")))?;
        std::fs::write(&path, json).map_err(|e| Error::io("writing", &path, e))?;
        Ok(path)
    }

    /// The editable settings.
    pub fn settings(&self) -> Settings {
        Settings::from_config(&lock(&self.inner.config), &self.inner.options.data_dir)
    }

    /// The configuration in force.
    pub fn config(&self) -> Config {
        lock(&self.inner.config).clone()
    }

    /// Validates and saves settings to config.toml. Answer settings apply to the next question;
    /// chunking applies to files indexed from now on.
    pub fn save_settings(&self, settings: &Settings) -> Result<Settings, ErrorInfo> {
        let config = settings.apply(self.config())?;
        config.save(&self.inner.options.data_dir)?;
        *lock(&self.inner.config) = config;
        // The asker picks up the new answer settings when it reopens.
        *lock(&self.inner.asker) = None;
        Ok(self.settings())
    }

    // ---- the writer thread -------------------------------------------------------------------

    /// Replaces the progress snapshot and reports it (throttled, except phase changes).
    fn update(&self, f: impl FnOnce(&mut IndexProgress)) {
        let snapshot = {
            let mut p = lock(&self.inner.progress);
            let before = p.phase;
            f(&mut p);
            let mut last = lock(&self.inner.last_emit);
            if p.phase == before && last.elapsed() < EMIT_EVERY {
                return;
            }
            *last = Instant::now();
            p.clone()
        };
        (self.inner.callback)(LibraryEvent::Progress(snapshot));
    }

    fn writer_loop(&self, mut engine: Engine, rx: Receiver<Command>) {
        let inner = &self.inner;
        let mut watcher = self.make_watcher(&engine);
        let mut full = true;
        let mut backlog = false;
        let mut cancelled = false;
        loop {
            if inner.shutdown.load(Ordering::SeqCst) {
                return;
            }
            // Commands first: they are what the user is waiting for.
            let mut changed_folders = false;
            while let Ok(cmd) = rx.try_recv() {
                let (refold, reindex) = self.handle(&mut engine, cmd);
                changed_folders |= refold;
                if reindex {
                    full = true;
                    cancelled = false;
                }
            }
            if changed_folders {
                watcher = self.make_watcher(&engine);
            }
            if inner.paused.load(Ordering::SeqCst) {
                match rx.recv_timeout(Duration::from_millis(150)) {
                    Ok(cmd) => {
                        let (refold, reindex) = self.handle(&mut engine, cmd);
                        if refold {
                            watcher = self.make_watcher(&engine);
                        }
                        full |= reindex;
                    }
                    Err(RecvTimeoutError::Timeout) => {}
                    Err(RecvTimeoutError::Disconnected) => return,
                }
                continue;
            }
            if full || (backlog && !cancelled) {
                full = false;
                backlog = self.run_reconcile(&mut engine, &[], &mut cancelled);
                continue;
            }
            let stop = &inner.shutdown;
            let batch = match &watcher {
                Some(w) => w.next_batch_within(
                    inner.options.debounce,
                    inner.options.max_wait,
                    stop,
                    Duration::from_millis(150),
                ),
                None => {
                    match rx.recv_timeout(Duration::from_millis(150)) {
                        Ok(cmd) => {
                            let (refold, reindex) = self.handle(&mut engine, cmd);
                            if refold {
                                watcher = self.make_watcher(&engine);
                            }
                            full |= reindex;
                        }
                        Err(RecvTimeoutError::Timeout) => {}
                        Err(RecvTimeoutError::Disconnected) => return,
                    }
                    None
                }
            };
            if let Some(batch) = batch {
                for e in &batch.errors {
                    tracing::warn!("watch: {e}");
                }
                cancelled = false;
                let paths = if batch.rescan {
                    Vec::new()
                } else {
                    batch.paths
                };
                backlog = self.run_reconcile(&mut engine, &paths, &mut cancelled);
            }
        }
    }

    /// Watches the registered folders (None when there are none or the watch fails).
    fn make_watcher(&self, engine: &Engine) -> Option<FolderWatcher> {
        let folders: Vec<PathBuf> = engine
            .catalog()
            .folders()
            .ok()?
            .into_iter()
            .map(|f| f.path)
            .collect();
        if folders.is_empty() {
            self.update(|p| {
                p.phase = ProgressPhase::Idle;
                p.message = None;
            });
            return None;
        }
        match FolderWatcher::new(&folders, &[engine.data_dir().to_owned()]) {
            Ok(w) => {
                let w = w.include_hidden(engine.config().ingest.include_hidden);
                *lock(&self.inner.interrupt) = w.activity();
                Some(w)
            }
            Err(e) => {
                tracing::warn!("cannot watch the folders live: {e}");
                self.update(|p| {
                    p.message = Some(format!(
                        "Changes are not followed live ({e}); use Re-index after editing files."
                    ))
                });
                None
            }
        }
    }

    /// Runs a command; returns (folders changed, a full reconcile is due).
    fn handle(&self, engine: &mut Engine, cmd: Command) -> (bool, bool) {
        let changed = |ok: bool| {
            if ok {
                (self.inner.callback)(LibraryEvent::Changed);
            }
        };
        match cmd {
            Command::AddFolders(paths, reply) => {
                let r: Result<Vec<PathBuf>> = paths.iter().map(|p| engine.add_folder(p)).collect();
                let ok = r.is_ok();
                let _ = reply.send(r);
                changed(ok);
                (ok, ok)
            }
            Command::RemoveFolder(path, reply) => {
                let r = engine.remove_folder(&path);
                let ok = r.is_ok();
                let _ = reply.send(r);
                changed(ok);
                (ok, false)
            }
            Command::Reindex(reply) => {
                let _ = reply.send(Ok(()));
                (false, true)
            }
            Command::Resume => (false, true),
            Command::Deprecate {
                path,
                reason,
                superseded_by,
                reply,
            } => {
                let r = engine
                    .deprecate(&path, superseded_by.as_deref(), &reason)
                    .map(|_| ());
                changed(r.is_ok());
                let _ = reply.send(r);
                (false, false)
            }
            Command::Undeprecate(target, reply) => {
                let r = engine.undeprecate(&target);
                changed(r.is_ok());
                let _ = reply.send(r);
                (false, false)
            }
            Command::Tag(path, tags, reply) => {
                let r = engine.tag(&path, &tags).map(|_| ());
                changed(r.is_ok());
                let _ = reply.send(r);
                (false, false)
            }
            Command::Untag(path, tags, reply) => {
                let r = engine.untag(&path, &tags).map(|_| ());
                changed(r.is_ok());
                let _ = reply.send(r);
                (false, false)
            }
        }
    }

    /// One reconcile with progress; returns true when embedding work is left (it yielded).
    fn run_reconcile(&self, engine: &mut Engine, paths: &[PathBuf], cancelled: &mut bool) -> bool {
        let inner = &self.inner;
        if engine.catalog().folders().is_ok_and(|f| f.is_empty()) {
            self.update(|s| {
                *s = IndexProgress {
                    phase: ProgressPhase::Idle,
                    message: Some("No folders yet: add one to start.".into()),
                    writable: true,
                    ready: true,
                    ..IndexProgress::initial()
                }
            });
            return false;
        }
        inner.cancel.store(false, Ordering::SeqCst);
        let interrupt = lock(&inner.interrupt).clone();
        let mut meter = Meter::default();
        let embed = inner.options.embed;
        let me = self.clone();
        let mut on_progress = |p: &Progress| {
            let (rate, eta) = meter.observe(p);
            me.update(|s| {
                s.phase = match p.phase {
                    Phase::Scanning => ProgressPhase::Scanning,
                    Phase::Parsing => ProgressPhase::Parsing,
                    Phase::Embedding => ProgressPhase::Embedding,
                    Phase::Done => ProgressPhase::Done,
                };
                if p.phase == Phase::Embedding {
                    // Keep the file counts of the text phase; passages are the embedding's.
                    s.chunks_done = p.chunks_done as u32;
                    s.chunks_total = p.chunks_total as u32;
                } else if p.phase != Phase::Done {
                    s.files_done = p.files_done as u32;
                    s.files_total = p.files_total as u32;
                    s.chunks_done = p.chunks_done as u32;
                    s.chunks_total = p.chunks_total.max(p.chunks_done) as u32;
                }
                s.rate = rate;
                s.eta_seconds = eta;
                s.current = p.current.as_ref().map(|c| c.display().to_string());
                s.message = None;
            });
        };
        let result = reconcile(
            engine,
            paths,
            embed,
            &inner.cancel,
            &interrupt,
            &mut on_progress,
        );
        let changed = match &result {
            Ok(r) => {
                let rep = &r.report;
                rep.new_versions + rep.renamed + rep.deleted + rep.problems + rep.texts_embedded > 0
            }
            Err(_) => false,
        };
        let left = match result {
            Ok(r) => {
                if let Some(e) = &r.report.embedding_error {
                    *lock(&inner.embedding_error) = Some(e.clone());
                }
                let paused = inner.paused.load(Ordering::SeqCst);
                // A pause stops the run like a cancel, but the work resumes with `resume`.
                *cancelled = r.report.cancelled && !paused;
                self.update(|s| {
                    s.rate = None;
                    s.eta_seconds = None;
                    s.current = None;
                    if paused {
                        s.phase = ProgressPhase::Paused;
                        s.message = Some("Paused.".into());
                    } else if r.report.cancelled {
                        s.phase = ProgressPhase::Idle;
                        s.message = Some(
                            "Indexing cancelled; committed work is kept. Re-index to resume."
                                .into(),
                        );
                    } else if r.embedding_paused {
                        // Yielded to a command or fresh changes: resumes right away.
                    } else {
                        s.phase = ProgressPhase::Done;
                        s.files_done = s.files_total;
                        s.chunks_done = s.chunks_total;
                        s.message = r.report.embedding_error.as_ref().map(|e| {
                            format!("Semantic search is off ({e}); keyword search works.")
                        });
                    }
                });
                r.embedding_paused || (paused && r.report.cancelled)
            }
            Err(e) => {
                tracing::error!("indexing failed: {e}");
                self.update(|s| {
                    s.phase = ProgressPhase::Error;
                    s.message = Some(format!("{e} — {}", ErrorInfo::from(&e).hint));
                    s.rate = None;
                    s.eta_seconds = None;
                });
                false
            }
        };
        if changed {
            (inner.callback)(LibraryEvent::Changed);
        }
        left
    }
}

/// Rate and ETA of the current phase.
#[derive(Default)]
struct Meter {
    phase: Option<Phase>,
    started: Option<Instant>,
    done_at_start: usize,
}

impl Meter {
    fn observe(&mut self, p: &Progress) -> (Option<f64>, Option<f64>) {
        let (done, total) = match p.phase {
            Phase::Embedding => (p.chunks_done, p.chunks_total),
            _ => (p.files_done, p.files_total),
        };
        if self.phase != Some(p.phase) {
            self.phase = Some(p.phase);
            self.started = Some(Instant::now());
            self.done_at_start = done;
            return (None, None);
        }
        let elapsed = self.started.map_or(0.0, |s| s.elapsed().as_secs_f64());
        let moved = done.saturating_sub(self.done_at_start);
        if elapsed < 0.5 || moved == 0 {
            return (None, None);
        }
        let rate = moved as f64 / elapsed;
        let eta = (total.saturating_sub(done)) as f64 / rate;
        (Some(rate), Some(eta))
    }
}

/// Reloads the vector index of a read-only engine when the writer saved a newer one.
fn refresh(reader: &mut Reader, data_dir: &Path) {
    let now = vectors_mtime(data_dir);
    if now != reader.vectors_seen {
        reader.engine.reload_vectors();
        reader.vectors_seen = now;
    }
}

fn filters(kinds: &[String], folders: &[String], tags: &[String], deprecated: bool) -> Filters {
    Filters {
        folders: folders.iter().map(PathBuf::from).collect(),
        kinds: kinds.to_vec(),
        tags: tags.to_vec(),
        include_deprecated: deprecated,
        ..Filters::default()
    }
}

fn search_item(h: &crate::engine::SearchHit) -> SearchItem {
    SearchItem {
        chunk_id: h.chunk_id.0,
        path: h.path.display().to_string(),
        title: h.title.clone(),
        kind: h.kind.clone(),
        page: h.page,
        heading: h.heading.clone(),
        version: h.version,
        score: h.score,
        snippet: segments(&h.snippet.text, &h.snippet.highlights),
        deprecated: h.deprecated.as_ref().map(|d| d.reason.clone()),
    }
}

fn document_item(d: DocumentRow, marks: &crate::catalog::Marks) -> DocumentItem {
    let dep = marks.deprecation(&d.path);
    let status = if d.status == "current" && dep.is_some() {
        "deprecated".to_owned()
    } else {
        d.status.clone()
    };
    DocumentItem {
        path: d.path.display().to_string(),
        folder: d.folder.display().to_string(),
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

fn answer_view(a: crate::answer::Answer) -> AnswerView {
    AnswerView {
        text: a.text,
        mode: a.mode.as_str().into(),
        abstained: a.abstained,
        abstained_by: a.abstained_by.map(|b| match b {
            crate::answer::AbstainedBy::Evidence => "evidence".into(),
            crate::answer::AbstainedBy::Model => "model".into(),
        }),
        sources: a
            .sources
            .iter()
            .map(|s| SourceItem {
                n: s.n as u32,
                chunk_id: s.chunk_id,
                path: s.path.display().to_string(),
                title: s.title.clone(),
                version: s.version,
                page: s.page,
                heading: s.heading.clone(),
                text: s.text.clone(),
                score: s.score,
            })
            .collect(),
        citations: a
            .citations
            .iter()
            .map(|c| CitationItem {
                n: c.n as u32,
                verdict: c.verdict.as_str().into(),
                reason: c.reason.clone(),
            })
            .collect(),
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

    #[test]
    fn library_indexes_a_folder_and_searches_while_following_it() {
        let dir = tempfile::tempdir().unwrap();
        let docs = dir.path().join("docs");
        std::fs::create_dir_all(&docs).unwrap();
        std::fs::write(
            docs.join("a.md"),
            "# Refunds\n\nRefunds are paid within 14 days.\n",
        )
        .unwrap();
        let mut options = LibraryOptions::new(dir.path().join("data"));
        options.embed = false;
        options.debounce = Duration::from_millis(50);
        let phases = Arc::new(Mutex::new(Vec::new()));
        let seen = phases.clone();
        let lib = Library::open(options, move |e| {
            if let LibraryEvent::Progress(p) = e {
                lock(&seen).push(p.phase);
            }
        });
        lib.add_folders(vec![docs.clone()]).unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        let query = SearchQuery {
            query: "refunds".into(),
            mode: Some("keyword".into()),
            ..SearchQuery::default()
        };
        loop {
            assert!(Instant::now() < deadline, "not indexed in time");
            if lib.progress().phase == ProgressPhase::Done
                && lib.search(&query).is_ok_and(|r| !r.items.is_empty())
            {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let res = lib.search(&query).unwrap();
        assert!(res.items[0].path.ends_with("a.md"));
        assert!(res.items[0].snippet.iter().any(|s| s.hit));
        let contents = lib.contents().unwrap();
        assert_eq!(contents.documents.len(), 1);
        assert_eq!(contents.documents[0].status, "current");

        // Pause and resume: the phase says so; search keeps working meanwhile.
        lib.pause();
        assert_eq!(lib.progress().phase, ProgressPhase::Paused);
        assert!(!lib.search(&query).unwrap().items.is_empty());
        lib.resume();

        // Live: a new file becomes searchable without a command.
        std::fs::write(docs.join("b.txt"), "Zebras migrate in winter.\n").unwrap();
        let zebra = SearchQuery {
            query: "zebras".into(),
            mode: Some("keyword".into()),
            ..SearchQuery::default()
        };
        loop {
            assert!(
                Instant::now() < deadline,
                "live change not searchable in time"
            );
            if lib.search(&zebra).is_ok_and(|r| !r.items.is_empty()) {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }

        // Deprecation takes the document out of results.
        lib.deprecate(docs.join("a.md"), "old policy".into(), None)
            .unwrap();
        assert!(lib.search(&query).unwrap().items.is_empty());
        let contents = lib.contents().unwrap();
        let a = contents
            .documents
            .iter()
            .find(|d| d.path.ends_with("a.md"))
            .unwrap();
        assert_eq!(a.status, "deprecated");

        // A second library on the same data directory is read-only, and says so.
        let mut options = LibraryOptions::new(dir.path().join("data"));
        options.embed = false;
        let other = Library::open(options, |_| {});
        assert!(other.search(&zebra).is_ok());
        let info = other.info();
        assert!(!info.writable);
        assert!(info.read_only_reason.is_some());
        assert_eq!(other.reindex().unwrap_err().kind, "locked");

        // Removing the folder empties the library; adding it again brings the documents back
        // with their history.
        lib.remove_folder(docs.clone()).unwrap();
        assert!(lib.search(&zebra).unwrap().items.is_empty());
        assert!(lib.contents().unwrap().documents.is_empty());
        assert!(lib.info().folders.is_empty());
        lib.add_folders(vec![docs.clone()]).unwrap();
        loop {
            assert!(
                Instant::now() < deadline,
                "re-added folder not searchable in time"
            );
            if lib.search(&zebra).is_ok_and(|r| !r.items.is_empty()) {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let b = lib
            .contents()
            .unwrap()
            .documents
            .into_iter()
            .find(|d| d.path.ends_with("b.txt"))
            .unwrap();
        assert_eq!(b.status, "current");
        assert!(lock(&phases).contains(&ProgressPhase::Done));
        lib.shutdown();
    }
}
