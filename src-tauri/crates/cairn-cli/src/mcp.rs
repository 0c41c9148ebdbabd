//! `cairn mcp`: serves the knowledge base to MCP clients (AI assistants, editors) over stdio.
//!
//! Tools: `search`, `list_sources`, `read_source`, `status` and `ask`, all read-only. Each call
//! takes an engine opened with [`Access::ReadOnly`] from a small pool (an `Engine` is not
//! `Sync`), or opens one, so a long `ask` never holds up a `search`; the engines share one
//! ONNX session, and one whose catalog's vector generation moved is reopened, so results follow
//! a concurrent `cairn index`. Every engine call runs on tokio's blocking pool (`spawn_blocking`): blocking
//! work never runs on the async runtime's threads. Errors come back as MCP tool errors carrying
//! the message and what to do about it. stdout carries the protocol only; logs go to stderr.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cairn_core::catalog::{ChunkId, ChunkRecord, Filters, Generation, Marks};
use cairn_core::config::{Config, SearchMode};
use cairn_core::embed::Embedder;
use cairn_core::engine::{Access, Engine, SearchRequest, SearchResponse};
use cairn_core::Error;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::{schemars, tool, tool_handler, tool_router, Json, ServerHandler, ServiceExt};
use serde::{Deserialize, Serialize};

/// Runs the MCP server on stdin/stdout until the client disconnects.
pub fn serve(data_dir: &Path, config: Config) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let server = CairnMcp::new(data_dir.to_owned(), config);
    let result = runtime.block_on(async move {
        // Open once up front so a broken data directory shows in the client's server log; the
        // server still starts, and each tool call reports the error with its hint.
        // Loading the embedding model now lets every engine opened later share it.
        if let Err(e) = server
            .with_engine(|engine| {
                if let Err(e) = engine.embedder() {
                    tracing::warn!("cairn mcp: semantic search is unavailable: {e}");
                }
                Ok(())
            })
            .await
        {
            tracing::warn!("cairn mcp: {e}");
        }
        tracing::info!(
            "cairn mcp: serving {} on stdio",
            server.shared.data_dir.display()
        );
        let service = server.serve(rmcp::transport::stdio_pipes()).await?;
        service.waiting().await?;
        anyhow::Ok(())
    });
    // Do not wait long for an engine call still running when the client has gone.
    runtime.shutdown_timeout(Duration::from_secs(5));
    result
}

// ---- parameters and results (their doc comments become the tools' JSON schemas) -------------

/// Retrieval mode: bm25 (keywords: exact terms, names, codes), dense (semantic: paraphrases,
/// concepts) or hybrid (both, fused).
#[derive(Debug, Clone, Copy, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
#[schemars(inline)]
enum Mode {
    Bm25,
    Dense,
    Hybrid,
}

impl From<Mode> for SearchMode {
    fn from(m: Mode) -> SearchMode {
        match m {
            Mode::Bm25 => SearchMode::Bm25,
            Mode::Dense => SearchMode::Dense,
            Mode::Hybrid => SearchMode::Hybrid,
        }
    }
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
struct SearchParams {
    /// What to look for: keywords or a natural-language question.
    query: String,
    /// Retrieval mode: bm25 (keywords), dense (semantic) or hybrid (both). Default: hybrid (or the mode in Cairn's config).
    mode: Option<Mode>,
    /// Number of passages to return, 1 to 50. Default: 10 (or Cairn's config).
    #[schemars(range(min = 1, max = 50))]
    limit: Option<u32>,
    /// Only documents of this file type: text, markdown, html, pdf or docx.
    #[serde(rename = "type")]
    kind: Option<String>,
    /// Only documents under this folder (an absolute path, or one relative to a registered folder).
    folder: Option<String>,
    /// Only documents whose full path matches this glob, e.g. `**/reports/*.pdf`.
    path: Option<String>,
}

/// One ranked passage.
#[derive(Debug, Serialize, schemars::JsonSchema)]
struct Passage {
    /// 1-based rank.
    rank: usize,
    /// Absolute path of the document.
    path: String,
    /// PDF page (1-based), when the document has pages.
    page: Option<u32>,
    /// Heading path of the section, e.g. `Handbook > Travel > Per Diem` (empty when none).
    heading: String,
    /// The best-matching window of the passage text.
    snippet: String,
    /// Relevance score (higher is better; comparable within one result list only).
    score: f32,
    /// Passage id: pass it to `read_source` to read the whole passage.
    chunk_id: i64,
    /// Version of the document the passage belongs to (1 = first indexed).
    version: i64,
    /// File type: text, markdown, html, pdf or docx.
    kind: String,
    /// Document title, when it has one.
    title: Option<String>,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
struct SearchResult {
    /// Mode used: bm25, dense or hybrid.
    mode: String,
    /// Ranked passages, best first.
    results: Vec<Passage>,
    /// Passages with embeddings (semantic search covers only these).
    embedded_passages: u64,
    /// Searchable passages in the collection.
    total_passages: u64,
    /// Set when results are incomplete, e.g. embeddings still being computed.
    notice: Option<String>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
struct ListSourcesParams {
    /// Only documents under this folder (an absolute path, or one relative to a registered folder).
    folder: Option<String>,
    /// Maximum number of documents to return, 1 to 1000. Default: 100.
    #[schemars(range(min = 1, max = 1000))]
    limit: Option<u32>,
    /// Skip this many documents first (for paging). Default: 0.
    offset: Option<u32>,
}

/// One indexed document (its current version).
#[derive(Debug, Serialize, schemars::JsonSchema)]
struct Source {
    /// Absolute path of the document.
    path: String,
    /// File type: text, markdown, html, pdf or docx.
    kind: String,
    /// Current version number (1 = first indexed).
    version: i64,
    /// Number of passages (chunks) in the current version.
    passages: usize,
    /// Document title, when it has one.
    title: Option<String>,
    /// Set when the document is deprecated: the reason (such documents are left out of search).
    deprecated: Option<String>,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
struct ListSourcesResult {
    /// Documents matching the filter, in path order.
    sources: Vec<Source>,
    /// Documents matching the filter in total (before offset and limit).
    total: usize,
    /// Offset of the first document returned.
    offset: usize,
    /// True when more documents follow: call again with a larger offset.
    truncated: bool,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
struct ReadSourceParams {
    /// A document path as returned by `search` or `list_sources` (absolute, or a unique path suffix such as `handbook/onboarding.md`). Give this or `chunk_id`.
    path: Option<String>,
    /// A passage id (`chunk_id` from `search`): returns that passage. Give this or `path`.
    chunk_id: Option<i64>,
    /// For a document: index of the first passage to return (0-based, for continuing a truncated read). Default: 0.
    start: Option<u32>,
    /// For a document: stop adding passages after about this many characters, at most 100000 (at least one passage is always returned). Default: 12000.
    max_chars: Option<u32>,
}

/// A passage with its location.
#[derive(Debug, Serialize, schemars::JsonSchema)]
struct PassageText {
    /// Passage id.
    chunk_id: i64,
    /// PDF page (1-based), when the document has pages.
    page: Option<u32>,
    /// Heading path of the section (empty when none).
    heading: String,
    /// Byte offset where the passage starts in the version's extracted text.
    byte_start: usize,
    /// Byte offset where the passage ends (exclusive).
    byte_end: usize,
    /// The passage text, verbatim.
    text: String,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
struct ReadSourceResult {
    /// Absolute path of the document.
    path: String,
    /// File type: text, markdown, html, pdf or docx.
    kind: String,
    /// Version number the passages belong to.
    version: i64,
    /// Version status: `current`, or `superseded` / `deleted` for a passage id of an older version.
    status: String,
    /// Document title, when it has one.
    title: Option<String>,
    /// Set when the document is deprecated: the reason.
    deprecated: Option<String>,
    /// The passages returned, in document order (one when reading a `chunk_id`).
    passages: Vec<PassageText>,
    /// Passages in the document (or 1 for a `chunk_id`).
    total_passages: usize,
    /// Index of the first passage returned.
    start: usize,
    /// True when the document has more passages after these.
    truncated: bool,
    /// How to read on, or other remarks.
    note: Option<String>,
}

/// A file that could not be indexed.
#[derive(Debug, Serialize, schemars::JsonSchema)]
struct ProblemOut {
    path: String,
    reason: String,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
struct StatusResult {
    /// Cairn's data directory.
    data_dir: String,
    /// Registered folders.
    folders: Vec<String>,
    /// Documents with a current version (searchable).
    documents: u64,
    /// Document versions ever recorded.
    versions: u64,
    /// Searchable passages.
    passages: u64,
    /// Passages with an embedding for the configured model.
    embedded_passages: u64,
    /// embedded_passages / passages, 0 to 1 (semantic search covers only embedded passages).
    embedded_fraction: f64,
    /// Passages still waiting to be embedded (`cairn index` embeds them).
    embed_backlog: u64,
    /// Embedding model id.
    model: String,
    /// Passages in the keyword (BM25) index.
    text_index_passages: u64,
    /// Passages in the vector index.
    vector_index_passages: u64,
    /// Deprecated documents, folders or patterns.
    deprecations: usize,
    /// Pairs of near-identical passages that disagree.
    conflicts: usize,
    /// Files that could not be indexed (first 100).
    problems: Vec<ProblemOut>,
    /// Number of such files.
    problems_total: usize,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
struct AskParams {
    /// The question, in natural language.
    question: String,
    /// Passages to draw the answer from, 1 to 20. Default: 5.
    #[schemars(range(min = 1, max = 20))]
    limit: Option<u32>,
    /// Only documents under this folder (an absolute path, or one relative to a registered folder).
    folder: Option<String>,
}

/// A source passage; `[n]` in the answer refers to the source with this `n`.
#[derive(Debug, Serialize, schemars::JsonSchema)]
struct Citation {
    n: usize,
    path: String,
    page: Option<u32>,
    heading: String,
    chunk_id: i64,
    version: i64,
    /// How the answer's citations of this source were checked: `supported` (every sentence
    /// citing it is backed by the passage), `unsupported` (some are not: do not rely on them),
    /// or `not cited`.
    verdict: String,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
struct AskResult {
    /// The answer, with `[n]` citations into `sources`; or "I don't know …" when the knowledge
    /// base holds no good enough evidence (then `abstained` is true and `nearest` lists the
    /// closest passages).
    answer: String,
    /// The numbered sources the answer was written from, each with its citation verdict.
    sources: Vec<Citation>,
    /// `generative` (a language model wrote the answer from the sources) or `extractive`
    /// (sentences quoted verbatim from the sources, no model).
    method: String,
    /// The model that wrote the answer (`local:<file>` or `remote:<url>#<model>`), if any.
    model: Option<String>,
    /// True when Cairn answered "I don't know".
    abstained: bool,
    /// The nearest passages, when abstained.
    nearest: Vec<Citation>,
    /// Sentences of the answer whose citations failed the check, or that cite nothing.
    unsupported_sentences: Vec<String>,
    /// Id of the answer's record in Cairn's audit log (`cairn audit show ID`).
    audit_id: i64,
    /// Set when retrieval was incomplete (e.g. embeddings still being computed) or the answer
    /// model was unavailable (then the answer is extractive and this says why).
    notice: Option<String>,
}

// ---- the server ----------------------------------------------------------------------------

struct Held {
    engine: Engine,
    /// The catalog's vector generation when the engine was opened.
    vector_generation: u64,
}

/// Idle engines kept for the next calls; more calls at once open more engines, which are then
/// dropped.
const MAX_IDLE_ENGINES: usize = 3;

struct Shared {
    data_dir: PathBuf,
    config: Config,
    /// Engines no call is using.
    idle: Mutex<Vec<Held>>,
    /// The embedding model once an engine has loaded it, for every engine opened after.
    embedder: Mutex<Option<Arc<dyn Embedder>>>,
    /// The answer model, loaded on the first `ask`: `Ok(None)` when `llm.provider = "none"`,
    /// `Err(reason)` when it could not be loaded (answers are then extractive and say why).
    generator: std::sync::OnceLock<Result<Option<cairn_llm::BoxedGenerator>, String>>,
}

impl Shared {
    fn generator(&self) -> Result<Option<&dyn cairn_core::answer::Generator>, String> {
        let loaded = self.generator.get_or_init(|| {
            cairn_llm::from_config(&self.config).map_err(|e| format!("{e} ({})", e.hint()))
        });
        match loaded {
            Ok(Some(g)) => Ok(Some(g.as_ref() as &dyn cairn_core::answer::Generator)),
            Ok(None) => Ok(None),
            Err(e) => Err(e.clone()),
        }
    }
}

impl Shared {
    /// An idle engine, or a new one. An idle engine opened before the vector index moved on is
    /// dropped (a read-only engine loads vectors once; tantivy refreshes itself per search).
    fn checkout(&self) -> cairn_core::Result<Held> {
        loop {
            let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
            let Some(held) = idle else { break };
            if held.engine.catalog().generation(Generation::Vector)? == held.vector_generation {
                return Ok(held);
            }
        }
        let engine = Engine::open(&self.data_dir, self.config.clone(), Access::ReadOnly)?;
        if let Some(e) = self
            .embedder
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
        {
            engine.share_embedder(e);
        }
        let vector_generation = engine.catalog().generation(Generation::Vector)?;
        Ok(Held {
            engine,
            vector_generation,
        })
    }

    /// Returns an engine after a call (a call that panicked drops its engine instead).
    fn checkin(&self, held: Held) {
        if let Some(e) = held.engine.loaded_embedder() {
            self.embedder
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get_or_insert(e);
        }
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < MAX_IDLE_ENGINES {
            idle.push(held);
        }
    }
}

#[derive(Clone)]
struct CairnMcp {
    shared: Arc<Shared>,
}

/// A tool error's text: what went wrong and what to do.
fn tool_error(e: &Error) -> String {
    let hint = match e {
        Error::Invalid(_) => "Check the tool's arguments against its input schema.",
        Error::NotFound(_) => {
            "Check the path or id; the `list_sources` and `status` tools list what Cairn knows."
        }
        e => e.hint(),
    };
    format!("{e}\nWhat to do: {hint}")
}

impl CairnMcp {
    fn new(data_dir: PathBuf, config: Config) -> CairnMcp {
        CairnMcp {
            shared: Arc::new(Shared {
                data_dir,
                config,
                idle: Mutex::new(Vec::new()),
                embedder: Mutex::new(None),
                generator: std::sync::OnceLock::new(),
            }),
        }
    }

    /// Runs `f` with the engine on the blocking pool.
    async fn with_engine<T, F>(&self, f: F) -> Result<T, String>
    where
        T: Send + 'static,
        F: FnOnce(&mut Engine) -> cairn_core::Result<T> + Send + 'static,
    {
        self.with_shared(move |_, engine| f(engine)).await
    }

    /// Runs `f` with the shared state and the engine on the blocking pool.
    async fn with_shared<T, F>(&self, f: F) -> Result<T, String>
    where
        T: Send + 'static,
        F: FnOnce(&Shared, &mut Engine) -> cairn_core::Result<T> + Send + 'static,
    {
        let shared = self.shared.clone();
        let job = tokio::task::spawn_blocking(move || {
            let mut held = shared.checkout()?;
            let result = f(&shared, &mut held.engine);
            shared.checkin(held);
            result
        });
        match job.await {
            Ok(result) => result.map_err(|e| tool_error(&e)),
            Err(e) => Err(format!(
                "internal error: {e}\nWhat to do: retry; if it persists, report a bug (the server log on stderr has details)."
            )),
        }
    }
}

fn heading(h: &[String]) -> String {
    h.join(" > ")
}

fn invalid(msg: impl Into<String>) -> Error {
    Error::Invalid(msg.into())
}

/// Resolves a folder argument: an absolute path, or one relative to a registered folder.
fn resolve_folder(engine: &Engine, folder: &str) -> cairn_core::Result<PathBuf> {
    let p = Path::new(folder);
    if p.is_absolute() {
        return Ok(p.canonicalize().unwrap_or_else(|_| p.to_owned()));
    }
    let registered = engine.catalog().folders()?;
    for f in &registered {
        let candidate = f.path.join(p);
        if candidate.is_dir() {
            return Ok(candidate.canonicalize().unwrap_or(candidate));
        }
        if f.path.file_name() == Some(p.as_os_str()) {
            return Ok(f.path.clone());
        }
    }
    let known: Vec<String> = registered
        .iter()
        .map(|f| f.path.display().to_string())
        .collect();
    Err(Error::NotFound(format!(
        "no folder `{folder}` under the registered folders ({})",
        known.join(", ")
    )))
}

fn search_request(engine: &Engine, p: &SearchParams) -> cairn_core::Result<SearchRequest> {
    let mut req = SearchRequest::new(p.query.clone(), engine.config());
    if let Some(m) = p.mode {
        req.mode = m.into();
    }
    if let Some(n) = p.limit {
        req.limit = n.clamp(1, 50) as usize;
        req.candidates = req.candidates.max(req.limit);
    }
    let mut filters = Filters::default();
    if let Some(t) = &p.kind {
        let kind = cairn_core::parse::DocKind::from_name(t).ok_or_else(|| {
            invalid(format!(
                "unknown type `{t}`: use text, markdown, html, pdf or docx"
            ))
        })?;
        filters.kinds.push(kind.as_str().to_owned());
    }
    if let Some(f) = &p.folder {
        filters.folders.push(resolve_folder(engine, f)?);
    }
    if let Some(g) = &p.path {
        let glob = globset::GlobBuilder::new(g)
            .literal_separator(false)
            .build()
            .map_err(|e| invalid(format!("bad path glob `{g}`: {e}")))?;
        filters.path_glob = Some(glob.compile_matcher());
    }
    req.filters = filters;
    Ok(req)
}

/// The search's notice, or one saying the collection is empty.
fn notice(resp: &SearchResponse) -> Option<String> {
    resp.notice.clone().or_else(|| {
        (resp.total_chunks == 0).then(|| {
            "the collection is empty: add a folder with `cairn add DIR`, then run `cairn index`"
                .to_owned()
        })
    })
}

fn passages(resp: &SearchResponse) -> Vec<Passage> {
    resp.results
        .iter()
        .enumerate()
        .map(|(i, h)| Passage {
            rank: i + 1,
            path: h.path.display().to_string(),
            page: h.page,
            heading: heading(&h.heading),
            snippet: h.snippet.text.clone(),
            score: h.score,
            chunk_id: h.chunk_id.0,
            version: h.version,
            kind: h.kind.clone(),
            title: h.title.clone(),
        })
        .collect()
}

/// The current chunks of every document (optionally under `folder`), grouped by path, each in
/// document order.
fn current_documents(
    engine: &Engine,
    folder: Option<&Path>,
) -> cairn_core::Result<BTreeMap<PathBuf, Vec<ChunkRecord>>> {
    // TODO: a catalog query per document (and a document list without chunk text) would
    // avoid scanning every current chunk; the catalog has none yet.
    let mut docs: BTreeMap<PathBuf, Vec<ChunkRecord>> = BTreeMap::new();
    engine.catalog().for_each_current_chunk(|c| {
        if folder.is_none_or(|f| c.path.starts_with(f)) {
            docs.entry(c.path.clone()).or_default().push(c);
        }
        Ok(())
    })?;
    for chunks in docs.values_mut() {
        chunks.sort_by_key(|c| (c.start, c.id));
    }
    Ok(docs)
}

fn deprecation(marks: &Marks, path: &Path) -> Option<String> {
    marks.deprecation(path).map(|d| match &d.superseded_by {
        Some(by) => format!("{} (superseded by {by})", d.reason),
        None => d.reason.clone(),
    })
}

fn passage_text(c: &ChunkRecord) -> PassageText {
    PassageText {
        chunk_id: c.id.0,
        page: c.page,
        heading: heading(&c.heading_path),
        byte_start: c.start,
        byte_end: c.end,
        text: c.text.clone(),
    }
}

fn read_chunk(engine: &Engine, id: i64) -> cairn_core::Result<ReadSourceResult> {
    let mut records = engine.catalog().chunk_records(&[ChunkId(id)])?;
    let c = records
        .remove(&ChunkId(id))
        .ok_or_else(|| Error::NotFound(format!("no passage with chunk_id {id}")))?;
    let marks = engine.catalog().marks()?;
    let note = (c.status != "current").then(|| {
        format!(
            "this passage is from version {} of the document, which is {} (not searchable)",
            c.version_seq, c.status
        )
    });
    Ok(ReadSourceResult {
        path: c.path.display().to_string(),
        kind: c.kind.clone(),
        version: c.version_seq,
        status: c.status.clone(),
        title: c.title.clone(),
        deprecated: deprecation(&marks, &c.path),
        passages: vec![passage_text(&c)],
        total_passages: 1,
        start: 0,
        truncated: false,
        note,
    })
}

fn read_document(
    engine: &Engine,
    path: &str,
    start: usize,
    max_chars: usize,
) -> cairn_core::Result<ReadSourceResult> {
    let mut docs = current_documents(engine, None)?;
    let wanted = Path::new(path);
    let key = if docs.contains_key(wanted) {
        wanted.to_owned()
    } else {
        let matches: Vec<&PathBuf> = docs.keys().filter(|k| k.ends_with(wanted)).collect();
        match matches.as_slice() {
            [one] => (*one).clone(),
            [] => {
                return Err(Error::NotFound(format!(
                    "Cairn has no current document at {path}"
                )))
            }
            many => {
                let names: Vec<String> = many
                    .iter()
                    .take(10)
                    .map(|p| p.display().to_string())
                    .collect();
                return Err(invalid(format!(
                    "`{path}` matches {} documents; give the full path, e.g. {}",
                    many.len(),
                    names.join(", ")
                )));
            }
        }
    };
    let chunks = docs.remove(&key).expect("key found above");
    let total = chunks.len();
    let first = chunks.first().expect("documents have chunks");
    let marks = engine.catalog().marks()?;
    let (kind, version, title) = (first.kind.clone(), first.version_seq, first.title.clone());
    let mut out = Vec::new();
    let mut used = 0;
    for c in chunks.iter().skip(start) {
        if !out.is_empty() && used + c.text.len() > max_chars {
            break;
        }
        used += c.text.len();
        out.push(passage_text(c));
    }
    let next = start + out.len();
    let truncated = next < total;
    let note = if truncated {
        Some(format!(
            "showing passages {}-{next} of {total} (about {max_chars} characters); call read_source with start={next} to continue",
            start + 1
        ))
    } else if start >= total {
        Some(format!(
            "the document has {total} passages; start={start} is past the end"
        ))
    } else {
        None
    };
    Ok(ReadSourceResult {
        path: key.display().to_string(),
        kind,
        version,
        status: "current".into(),
        title,
        deprecated: deprecation(&marks, &key),
        passages: out,
        total_passages: total,
        start,
        truncated,
        note,
    })
}

/// Answers with [`Engine::ask`]: generatively with the configured model, else (provider
/// `none`, a model that cannot be loaded, or a generation that fails) extractively, saying why
/// in `notice`. The answer is recorded in the audit log: a read-only engine may append to it
/// (SQLite WAL, its own locking), also while `cairn index` holds the writer lock.
fn answer(shared: &Shared, engine: &mut Engine, p: AskParams) -> cairn_core::Result<AskResult> {
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
    let never = std::sync::atomic::AtomicBool::new(false);
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
        } else if v.all(|c| c.verdict == Verdict::Supported) {
            "supported"
        } else {
            "unsupported"
        }
    };
    let sources = answer
        .sources
        .iter()
        .map(|s| Citation {
            n: s.n,
            path: s.path.display().to_string(),
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
            path: h.path.display().to_string(),
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

#[tool_router]
impl CairnMcp {
    #[tool(
        description = "Search the local knowledge base. Returns ranked passages, each with its document path, page, heading path, snippet, score, chunk_id and version. Use read_source with a chunk_id to read a whole passage.",
        annotations(title = "Search", read_only_hint = true, open_world_hint = false)
    )]
    async fn search(
        &self,
        Parameters(p): Parameters<SearchParams>,
    ) -> Result<Json<SearchResult>, String> {
        self.with_engine(move |engine| {
            let req = search_request(engine, &p)?;
            let resp = engine.search(&req)?;
            Ok(Json(SearchResult {
                mode: resp.mode.as_str().to_owned(),
                results: passages(&resp),
                embedded_passages: resp.embedded_chunks,
                total_passages: resp.total_chunks,
                notice: notice(&resp),
            }))
        })
        .await
    }

    #[tool(
        description = "List the indexed documents (current versions), in path order: path, file type, version, number of passages, title, and a deprecation note when deprecated. Optional folder filter; paged with limit/offset.",
        annotations(title = "List sources", read_only_hint = true, open_world_hint = false)
    )]
    async fn list_sources(
        &self,
        Parameters(p): Parameters<ListSourcesParams>,
    ) -> Result<Json<ListSourcesResult>, String> {
        self.with_engine(move |engine| {
            let folder = p
                .folder
                .as_deref()
                .map(|f| resolve_folder(engine, f))
                .transpose()?;
            let docs = current_documents(engine, folder.as_deref())?;
            let marks = engine.catalog().marks()?;
            let limit = p.limit.unwrap_or(100).clamp(1, 1000) as usize;
            let offset = p.offset.unwrap_or(0) as usize;
            let total = docs.len();
            let sources = docs
                .iter()
                .skip(offset)
                .take(limit)
                .map(|(path, chunks)| {
                    let c = &chunks[0];
                    Source {
                        path: path.display().to_string(),
                        kind: c.kind.clone(),
                        version: c.version_seq,
                        passages: chunks.len(),
                        title: c.title.clone(),
                        deprecated: deprecation(&marks, path),
                    }
                })
                .collect::<Vec<_>>();
            Ok(Json(ListSourcesResult {
                truncated: offset + sources.len() < total,
                sources,
                total,
                offset,
            }))
        })
        .await
    }

    #[tool(
        description = "Read from the knowledge base: give a chunk_id (from search) to get that passage's full text, or a document path to get its passages in order (long documents are truncated at max_chars, with a note on how to continue). Each passage comes with its page, heading path and byte span in the document's extracted text.",
        annotations(title = "Read source", read_only_hint = true, open_world_hint = false)
    )]
    async fn read_source(
        &self,
        Parameters(p): Parameters<ReadSourceParams>,
    ) -> Result<Json<ReadSourceResult>, String> {
        self.with_engine(move |engine| {
            match (p.chunk_id, p.path.as_deref()) {
                (Some(id), None) => read_chunk(engine, id),
                (None, Some(path)) => {
                    let max_chars = p.max_chars.unwrap_or(12_000).clamp(1, 100_000);
                    read_document(
                        engine,
                        path,
                        p.start.unwrap_or(0) as usize,
                        max_chars as usize,
                    )
                }
                _ => Err(invalid("give exactly one of `path` or `chunk_id`")),
            }
            .map(Json)
        })
        .await
    }

    #[tool(
        description = "Status of the knowledge base: registered folders, document and passage counts, how much is embedded for semantic search, index sizes, and files that could not be indexed (problems).",
        annotations(title = "Status", read_only_hint = true, open_world_hint = false)
    )]
    async fn status(&self) -> Result<Json<StatusResult>, String> {
        self.with_engine(|engine| {
            let s = engine.status()?;
            let st = &s.stats;
            Ok(Json(StatusResult {
                data_dir: s.data_dir.display().to_string(),
                folders: s.folders.iter().map(|f| f.display().to_string()).collect(),
                documents: st.current_documents,
                versions: st.versions,
                passages: st.current_chunks,
                embedded_passages: st.embedded_chunks,
                embedded_fraction: if st.current_chunks == 0 {
                    0.0
                } else {
                    st.embedded_chunks as f64 / st.current_chunks as f64
                },
                embed_backlog: s.embed_backlog,
                model: s.model_id.clone(),
                text_index_passages: s.text_index_chunks,
                vector_index_passages: s.vector_index_chunks,
                deprecations: s.deprecations.len(),
                conflicts: s.conflicts.len(),
                problems_total: s.problems.len(),
                problems: s
                    .problems
                    .iter()
                    .take(100)
                    .map(|p| ProblemOut {
                        path: p.path.display().to_string(),
                        reason: p.reason.clone(),
                    })
                    .collect(),
            }))
        })
        .await
    }

    #[tool(
        description = "Answer a question from the knowledge base, citing sources: the answer carries [n] markers that refer to the returned sources (path, page, heading, chunk_id), and every citation is checked against its passage (see each source's verdict and unsupported_sentences). Written by the configured language model, or extractive (sentences quoted verbatim) when none is available; says \"I don't know\" with the nearest passages when the knowledge base holds no good evidence.",
        annotations(title = "Ask", read_only_hint = true, open_world_hint = false)
    )]
    async fn ask(&self, Parameters(p): Parameters<AskParams>) -> Result<Json<AskResult>, String> {
        self.with_shared(move |shared, engine| answer(shared, engine, p).map(Json))
            .await
    }
}

#[tool_handler(
    name = "cairn",
    instructions = "Cairn is the user's local knowledge base: their own documents (PDF, Word, HTML, Markdown, text), indexed on this machine. Use `search` to find passages, `read_source` to read a passage (by chunk_id) or a document (by path), `list_sources` to see what is indexed, `status` for coverage and problems, and `ask` for a short cited answer. Cite passages by path (and page) when you use them."
)]
impl ServerHandler for CairnMcp {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemas_are_objects_with_described_fields() {
        let tools = CairnMcp::tool_router().list_all();
        let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
        for want in ["search", "list_sources", "read_source", "status", "ask"] {
            assert!(names.contains(&want), "{names:?}");
        }
        let search = tools.iter().find(|t| t.name == "search").unwrap();
        let schema = serde_json::Value::Object((*search.input_schema).clone());
        assert_eq!(schema["type"], "object");
        assert_eq!(schema["required"], serde_json::json!(["query"]));
        assert!(schema["properties"]["type"]["description"]
            .as_str()
            .unwrap()
            .contains("pdf"));
        assert!(search.output_schema.is_some());
    }
}
