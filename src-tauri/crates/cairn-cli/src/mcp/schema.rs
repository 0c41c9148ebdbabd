//! The MCP tools' parameters and results. Their doc comments become the tools' JSON schemas
//! (what an assistant reads), so they are written for the assistant.

use cairn_core::config::SearchMode;
use rmcp::schemars;
use serde::{Deserialize, Serialize};

/// Retrieval mode: bm25 (keywords: exact terms, names, codes), dense (semantic: paraphrases,
/// concepts) or hybrid (both, fused).
#[derive(Debug, Clone, Copy, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
#[schemars(inline)]
pub(super) enum Mode {
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
pub(super) struct SearchParams {
    /// What to look for: keywords or a natural-language question.
    pub(super) query: String,
    /// Retrieval mode: bm25 (keywords), dense (semantic) or hybrid (both). Default: hybrid (or the mode in Cairn's config).
    pub(super) mode: Option<Mode>,
    /// Number of passages to return, 1 to 50. Default: 10 (or Cairn's config).
    #[schemars(range(min = 1, max = 50))]
    pub(super) limit: Option<u32>,
    /// Only documents of this file type: text, markdown, html, pdf, docx, odt, epub, spreadsheet, csv, presentation, mail, image or code.
    #[serde(rename = "type")]
    pub(super) kind: Option<String>,
    /// Only documents under this folder (an absolute path, or one relative to a registered folder).
    pub(super) folder: Option<String>,
    /// Only documents whose full path matches this glob, e.g. `**/reports/*.pdf`.
    pub(super) path: Option<String>,
    /// Only mail messages whose sender (name or address) contains this, ignoring case.
    pub(super) from: Option<String>,
}

/// One ranked passage.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub(super) struct Passage {
    /// 1-based rank.
    pub(super) rank: usize,
    /// Absolute path of the document.
    pub(super) path: String,
    /// PDF page (1-based), when the document has pages.
    pub(super) page: Option<u32>,
    /// Heading path of the section, e.g. `Handbook > Travel > Per Diem` (empty when none).
    pub(super) heading: String,
    /// The best-matching window of the passage text.
    pub(super) snippet: String,
    /// Relevance score (higher is better; comparable within one result list only).
    pub(super) score: f32,
    /// Passage id: pass it to `read_source` to read the whole passage.
    pub(super) chunk_id: i64,
    /// Version of the document the passage belongs to (1 = first indexed).
    pub(super) version: i64,
    /// File type: text, markdown, html, pdf, docx, odt, epub, spreadsheet, csv, presentation, mail, image or code.
    pub(super) kind: String,
    /// Document title, when it has one.
    pub(super) title: Option<String>,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub(super) struct SearchResult {
    /// Mode used: bm25, dense or hybrid.
    pub(super) mode: String,
    /// Ranked passages, best first.
    pub(super) results: Vec<Passage>,
    /// Passages with embeddings (semantic search covers only these).
    pub(super) embedded_passages: u64,
    /// Searchable passages in the collection.
    pub(super) total_passages: u64,
    /// Set when results are incomplete, e.g. embeddings still being computed.
    pub(super) notice: Option<String>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub(super) struct ListSourcesParams {
    /// Only documents under this folder (an absolute path, or one relative to a registered folder).
    pub(super) folder: Option<String>,
    /// Maximum number of documents to return, 1 to 1000. Default: 100.
    #[schemars(range(min = 1, max = 1000))]
    pub(super) limit: Option<u32>,
    /// Skip this many documents first (for paging). Default: 0.
    pub(super) offset: Option<u32>,
}

/// One indexed document (its current version).
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub(super) struct Source {
    /// Absolute path of the document.
    pub(super) path: String,
    /// File type: text, markdown, html, pdf, docx, odt, epub, spreadsheet, csv, presentation, mail, image or code.
    pub(super) kind: String,
    /// Current version number (1 = first indexed).
    pub(super) version: i64,
    /// Number of passages (chunks) in the current version.
    pub(super) passages: usize,
    /// Document title, when it has one.
    pub(super) title: Option<String>,
    /// Set when the document is deprecated: the reason (such documents are left out of search).
    pub(super) deprecated: Option<String>,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub(super) struct ListSourcesResult {
    /// Documents matching the filter, in path order.
    pub(super) sources: Vec<Source>,
    /// Documents matching the filter in total (before offset and limit).
    pub(super) total: usize,
    /// Offset of the first document returned.
    pub(super) offset: usize,
    /// True when more documents follow: call again with a larger offset.
    pub(super) truncated: bool,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub(super) struct ReadSourceParams {
    /// A document path as returned by `search` or `list_sources` (absolute, or a unique path suffix such as `handbook/onboarding.md`). Give this or `chunk_id`.
    pub(super) path: Option<String>,
    /// A passage id (`chunk_id` from `search`): returns that passage. Give this or `path`.
    pub(super) chunk_id: Option<i64>,
    /// For a document: index of the first passage to return (0-based, for continuing a truncated read). Default: 0.
    pub(super) start: Option<u32>,
    /// For a document: stop adding passages after about this many characters, at most 100000 (at least one passage is always returned). Default: 12000.
    pub(super) max_chars: Option<u32>,
    /// For a chunk_id: also return a passage from an older version of its document (superseded, deleted or removed with its folder), labelled as such. Default: false, only current passages. Forgotten documents are gone either way.
    pub(super) include_history: Option<bool>,
}

/// A passage with its location.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub(super) struct PassageText {
    /// Passage id.
    pub(super) chunk_id: i64,
    /// PDF page (1-based), when the document has pages.
    pub(super) page: Option<u32>,
    /// Heading path of the section (empty when none).
    pub(super) heading: String,
    /// Byte offset where the passage starts in the version's extracted text.
    pub(super) byte_start: usize,
    /// Byte offset where the passage ends (exclusive).
    pub(super) byte_end: usize,
    /// The passage text, verbatim.
    pub(super) text: String,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub(super) struct ReadSourceResult {
    /// Absolute path of the document.
    pub(super) path: String,
    /// File type: text, markdown, html, pdf, docx, odt, epub, spreadsheet, csv, presentation, mail, image or code.
    pub(super) kind: String,
    /// Version number the passages belong to.
    pub(super) version: i64,
    /// Version status: `current`, or `superseded` / `deleted` for a passage id of an older version.
    pub(super) status: String,
    /// Document title, when it has one.
    pub(super) title: Option<String>,
    /// Set when the document is deprecated: the reason.
    pub(super) deprecated: Option<String>,
    /// The passages returned, in document order (one when reading a `chunk_id`).
    pub(super) passages: Vec<PassageText>,
    /// Passages in the document (or 1 for a `chunk_id`).
    pub(super) total_passages: usize,
    /// Index of the first passage returned.
    pub(super) start: usize,
    /// True when the document has more passages after these.
    pub(super) truncated: bool,
    /// How to read on, or other remarks.
    pub(super) note: Option<String>,
}

/// A file that could not be indexed.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub(super) struct ProblemOut {
    pub(super) path: String,
    pub(super) reason: String,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub(super) struct StatusResult {
    /// Cairn's data directory.
    pub(super) data_dir: String,
    /// Registered folders.
    pub(super) folders: Vec<String>,
    /// Documents with a current version (searchable).
    pub(super) documents: u64,
    /// Document versions ever recorded.
    pub(super) versions: u64,
    /// Searchable passages.
    pub(super) passages: u64,
    /// Passages with an embedding for the configured model.
    pub(super) embedded_passages: u64,
    /// embedded_passages / passages, 0 to 1 (semantic search covers only embedded passages).
    pub(super) embedded_fraction: f64,
    /// Passages still waiting to be embedded (`cairn index` embeds them).
    pub(super) embed_backlog: u64,
    /// Embedding model id.
    pub(super) model: String,
    /// Passages in the keyword (BM25) index.
    pub(super) text_index_passages: u64,
    /// Passages in the vector index.
    pub(super) vector_index_passages: u64,
    /// Deprecated documents, folders or patterns.
    pub(super) deprecations: usize,
    /// Pairs of near-identical passages that disagree.
    pub(super) conflicts: usize,
    /// Files that could not be indexed (first 100).
    pub(super) problems: Vec<ProblemOut>,
    /// Number of such files.
    pub(super) problems_total: usize,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub(super) struct AskParams {
    /// The question, in natural language.
    pub(super) question: String,
    /// Passages to draw the answer from, 1 to 20. Default: 5.
    #[schemars(range(min = 1, max = 20))]
    pub(super) limit: Option<u32>,
    /// Only documents under this folder (an absolute path, or one relative to a registered folder).
    pub(super) folder: Option<String>,
}

/// A source passage; `[n]` in the answer refers to the source with this `n`.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub(super) struct Citation {
    pub(super) n: usize,
    pub(super) path: String,
    pub(super) page: Option<u32>,
    pub(super) heading: String,
    pub(super) chunk_id: i64,
    pub(super) version: i64,
    /// How the answer's citations of this source were checked: `supported` (every sentence
    /// citing it is backed by the passage), `contradicted` (the passage states a different
    /// number, date or amount, or the opposite, for at least one of them: do not rely on it),
    /// `unsupported` (some are not backed: do not rely on them), or `not cited`.
    pub(super) verdict: String,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub(super) struct AskResult {
    /// The answer, with `[n]` citations into `sources`; or "I don't know …" when the knowledge
    /// base holds no good enough evidence (then `abstained` is true and `nearest` lists the
    /// closest passages).
    pub(super) answer: String,
    /// The numbered sources the answer was written from, each with its citation verdict.
    pub(super) sources: Vec<Citation>,
    /// `generative` (a language model wrote the answer from the sources) or `extractive`
    /// (sentences quoted verbatim from the sources, no model).
    pub(super) method: String,
    /// The model that wrote the answer (`local:<file>` or `remote:<url>#<model>`), if any.
    pub(super) model: Option<String>,
    /// True when Cairn answered "I don't know".
    pub(super) abstained: bool,
    /// The nearest passages, when abstained.
    pub(super) nearest: Vec<Citation>,
    /// Sentences of the answer whose citations failed the check, or that cite nothing.
    pub(super) unsupported_sentences: Vec<String>,
    /// Id of the answer's record in Cairn's audit log (`cairn audit show ID`).
    pub(super) audit_id: i64,
    /// Set when retrieval was incomplete (e.g. embeddings still being computed) or the answer
    /// model was unavailable (then the answer is extractive and this says why).
    pub(super) notice: Option<String>,
}
