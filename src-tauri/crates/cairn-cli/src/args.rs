//! The command line's argument types (clap derive): the top-level [`Cli`], its [`Command`]s and
//! the argument groups they share, with their conversion into engine types (search mode and
//! fusion, filters). Their doc comments are the help text.

use std::path::PathBuf;

use anyhow::{Context, Result};
use cairn_core::catalog::Filters;
use cairn_core::config::{Fusion, SearchMode};
use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(
    name = "cairn",
    version,
    about = "Cairn: a local-first knowledge base. Folders in, cited passages out."
)]
pub(crate) struct Cli {
    /// Where Cairn keeps its catalog and indexes [default: the platform data directory].
    #[arg(long, global = true, env = "CAIRN_DATA_DIR")]
    pub(crate) data_dir: Option<PathBuf>,
    /// A team library to use instead of the data directory: a PostgreSQL URL,
    /// postgres://USER@HOST:PORT/DB[?sslmode=require] (docs/team.md). The password comes from
    /// PGPASSWORD or the OS keychain.
    #[arg(long, global = true, env = "CAIRN_LIBRARY", value_name = "URL")]
    pub(crate) library: Option<String>,
    /// Config file [default: config.toml in the data directory].
    #[arg(long, global = true, env = "CAIRN_CONFIG")]
    pub(crate) config: Option<PathBuf>,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Subcommand)]
pub(crate) enum Command {
    /// Add a folder to the collection (indexed by `cairn index`).
    Add {
        /// The folder.
        dir: PathBuf,
        /// Index right away.
        #[arg(long)]
        index: bool,
    },
    /// Index all folders: keyword search is ready first, embeddings fill in after. Ctrl-C
    /// stops safely; run again to resume.
    Index {
        /// Only the text phase (skip embeddings for now).
        #[arg(long)]
        no_embed: bool,
        /// Print the run's report as one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Search the collection.
    Search(SearchArgs),
    /// Show folders, documents, versions, chunks, problems, index sizes and the embedding backlog.
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Rebuild the search indexes from the catalog (no re-embedding).
    Reindex {
        /// Switch the collection to the embedding model in the config (re-embeds on next index).
        #[arg(long)]
        embeddings: bool,
    },
    /// Evaluate retrieval on a BEIR-layout dataset (corpus.jsonl, queries.jsonl, qrels/test.tsv).
    Eval(EvalArgs),
    /// Index a folder and answer searches typed at the prompt: the quickest way to try Cairn.
    Demo {
        /// The folder to index.
        dir: PathBuf,
    },
    /// Print the configuration in effect (defaults filled in), as TOML.
    Config,
    /// List the versions of a document: when, hash, size, passages and what changed.
    History {
        path: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Mark a document or folder (or a path pattern) deprecated: excluded from retrieval by
    /// default, labelled wherever it appears.
    Deprecate {
        /// The document or folder (omit with --pattern).
        path: Option<PathBuf>,
        /// Deprecate every path matching this glob, e.g. '**/archive/**'.
        #[arg(long, conflicts_with = "path")]
        pattern: Option<String>,
        /// The document that replaces it.
        #[arg(long)]
        superseded_by: Option<PathBuf>,
        /// Why (shown with the document).
        #[arg(long)]
        reason: String,
    },
    /// Remove a deprecation mark (a path or a pattern).
    Undeprecate { target: String },
    /// Tag a document or folder.
    Tag {
        path: PathBuf,
        #[arg(required = true)]
        tags: Vec<String>,
    },
    /// Remove tags from a document or folder (all tags when none are named).
    Untag { path: PathBuf, tags: Vec<String> },
    /// Erase a document, or every document under a folder, from Cairn: all versions, passages,
    /// vectors and problem rows, from the catalog and both indexes; answers in the audit log
    /// that used it are redacted. A path inside a followed folder is not indexed again until
    /// `cairn unforget`; forgetting a followed folder stops following it.
    Forget {
        /// The document or folder.
        path: PathBuf,
        /// Print what was erased as one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Let a forgotten path be indexed again (by the next `cairn index`).
    Unforget { path: PathBuf },
    /// Verify the catalog and that the search indexes match it.
    Check {
        #[arg(long)]
        json: bool,
    },
    /// Follow the folders live: index changes as files are saved, moved and deleted.
    Watch(WatchArgs),
    /// Measure performance figures (printed, for docs/benchmarks.md).
    Bench(BenchArgs),
    /// Answer a question from the collection, with checked [n] citations (or "I don't know").
    Ask(AskArgs),
    /// Read the log of answers: question, passages, model, latency, citation verdicts.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Pin facts that every generated answer's prompt includes.
    Pin {
        #[command(subcommand)]
        command: PinCommand,
    },
    /// A team library's collections, reader roles and audit (with --library postgres://…):
    /// wrappers over the server's own access control (docs/team.md).
    Team {
        #[command(subcommand)]
        command: TeamCommand,
    },
    /// Serve the collection to AI assistants over the Model Context Protocol (stdio): tools
    /// search, list_sources, read_source, status and ask.
    Mcp,
    /// Copy this library into another store without re-embedding: a data directory into an
    /// empty team library (--to postgres://…), or a team library (--library postgres://…,
    /// as the role that owns its tables) into a new directory. Every version, passage, cached
    /// vector, mark, pin and audit record is copied in one transaction; the target's indexes
    /// are rebuilt from it. The source is only read.
    Migrate {
        /// The target: postgres://USER@HOST:PORT/DB (an empty database) or a new directory.
        #[arg(long, value_name = "URL|DIR")]
        to: String,
        /// Print what was copied as one JSON object.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum ModeArg {
    Bm25,
    Dense,
    Hybrid,
}

impl From<ModeArg> for SearchMode {
    fn from(m: ModeArg) -> SearchMode {
        match m {
            ModeArg::Bm25 => SearchMode::Bm25,
            ModeArg::Dense => SearchMode::Dense,
            ModeArg::Hybrid => SearchMode::Hybrid,
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum FusionArg {
    Rrf,
    Weighted,
}

impl From<FusionArg> for Fusion {
    fn from(f: FusionArg) -> Fusion {
        match f {
            FusionArg::Rrf => Fusion::Rrf,
            FusionArg::Weighted => Fusion::Weighted,
        }
    }
}

#[derive(Args)]
pub(crate) struct RankArgs {
    /// Retrieval mode [default: from config, hybrid].
    #[arg(long, value_enum)]
    pub(crate) mode: Option<ModeArg>,
    /// Hybrid fusion method [default: from config].
    #[arg(long, value_enum)]
    pub(crate) fusion: Option<FusionArg>,
    /// Dense weight for weighted fusion, 0..1.
    #[arg(long)]
    pub(crate) alpha: Option<f32>,
    /// k for reciprocal rank fusion.
    #[arg(long)]
    pub(crate) rrf_k: Option<f32>,
}

/// Filters shared by `search` and `ask`.
#[derive(Args)]
pub(crate) struct FilterArgs {
    /// Only documents under this folder (repeatable).
    #[arg(long = "folder")]
    folders: Vec<PathBuf>,
    /// Only this file type: text, markdown, html, pdf, docx, odt, epub, spreadsheet (xlsx, xls,
    /// ods), csv, presentation (pptx, odp), mail (eml, mbox), image, code (repeatable).
    #[arg(long = "type")]
    types: Vec<String>,
    /// Only paths matching this glob, e.g. '**/reports/*.pdf'.
    #[arg(long)]
    path: Option<String>,
    /// Only documents modified on or after this date (YYYY-MM-DD).
    #[arg(long)]
    after: Option<String>,
    /// Only documents modified on or before this date (YYYY-MM-DD).
    #[arg(long)]
    before: Option<String>,
    /// Only documents with this tag (repeatable: all must match).
    #[arg(long = "tag")]
    tags: Vec<String>,
    /// Also use deprecated documents (labelled as such).
    #[arg(long)]
    include_deprecated: bool,
    /// Only mail messages whose sender (name or address) contains this, ignoring case.
    #[arg(long = "from", value_name = "SENDER")]
    mail_from: Option<String>,
    /// Only mail messages sent on or after this date (YYYY-MM-DD, UTC).
    #[arg(long)]
    sent_after: Option<String>,
    /// Only mail messages sent on or before this date (YYYY-MM-DD, UTC).
    #[arg(long)]
    sent_before: Option<String>,
}

impl FilterArgs {
    /// Resolves the arguments into engine filters (paths canonicalised, dates parsed).
    pub(crate) fn build(&self) -> Result<Filters> {
        build_filters(
            &self.folders,
            &self.types,
            self.path.as_deref(),
            self.after.as_deref(),
            self.before.as_deref(),
            &self.tags,
            self.include_deprecated,
        )
        .and_then(|mut filters| {
            filters.mail_from = self.mail_from.clone();
            if let Some(a) = &self.sent_after {
                filters.sent_after = Some(parse_date(a, false)?);
            }
            if let Some(b) = &self.sent_before {
                filters.sent_before = Some(parse_date(b, true)?);
            }
            Ok(filters)
        })
    }
}

#[derive(Args)]
pub(crate) struct SearchArgs {
    /// What to look for.
    #[arg(required = true)]
    pub(crate) query: Vec<String>,
    #[command(flatten)]
    pub(crate) rank: RankArgs,
    /// Number of results.
    #[arg(short = 'n', long)]
    pub(crate) limit: Option<usize>,
    #[command(flatten)]
    pub(crate) filters: FilterArgs,
    /// Search the collection as it was at this date (YYYY-MM-DD or RFC 3339 time).
    #[arg(long, conflicts_with = "history")]
    pub(crate) as_of: Option<String>,
    /// Search every version ever indexed, labelled current / superseded / deleted.
    #[arg(long)]
    pub(crate) history: bool,
    /// Print one JSON object.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Args)]
pub(crate) struct EvalArgs {
    /// The dataset directory (BEIR layout; with --answers also answers.jsonl).
    #[arg(long, required_unless_present = "questions")]
    pub(crate) dataset: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) rank: RankArgs,
    /// Evaluate only N queries: the first N for ranking and abstention, N spread evenly over
    /// the set for --answers.
    #[arg(long)]
    pub(crate) max_queries: Option<usize>,
    /// Keep the indexed store in this directory (reused by later runs) instead of a temp dir.
    #[arg(long)]
    pub(crate) store: Option<PathBuf>,
    /// Evaluate the "I don't know" decision instead of ranking: a query is answerable when
    /// one of its relevant documents is in the corpus.
    #[arg(long, conflicts_with = "answers")]
    pub(crate) abstention: bool,
    /// Abstention threshold to score [default: answer.abstain_threshold from the config].
    #[arg(long, requires = "abstention")]
    pub(crate) threshold: Option<f32>,
    /// Evaluate answers: run each question through `ask` and score the answer against the
    /// gold answers (exact match, F1, answer contained, abstention, citations, latency).
    #[arg(long)]
    pub(crate) answers: bool,
    /// With --answers: your own questions (CSV with `question` and `answer` columns, or JSONL
    /// with "question" and "answers"), asked of your library instead of a dataset.
    #[arg(long, requires = "answers", conflicts_with = "dataset")]
    pub(crate) questions: Option<PathBuf>,
    /// With --answers: answer without a model (sentences quoted from the sources).
    #[arg(long, requires = "answers", conflicts_with_all = ["provider", "model", "base_url"])]
    pub(crate) extractive: bool,
    #[command(flatten)]
    pub(crate) llm: crate::generators::LlmArgs,
    /// With --answers: source passages per answer [default: answer.sources, or
    /// answer.local.sources for a local model].
    #[arg(short = 'n', long, requires = "answers")]
    pub(crate) sources: Option<usize>,
    /// Print one JSON object.
    #[arg(long)]
    pub(crate) json: bool,
}

/// Arguments of `cairn watch`.
#[derive(Args)]
pub(crate) struct WatchArgs {
    /// Quiet time in milliseconds that ends a burst of changes (editor saves).
    #[arg(long, default_value_t = 250)]
    pub(crate) debounce_ms: u64,
    /// Longest time in milliseconds a burst is collected before it is indexed.
    #[arg(long, default_value_t = 2000)]
    pub(crate) max_wait_ms: u64,
    /// Keep only the keyword index live; leave embeddings for `cairn index`.
    #[arg(long)]
    pub(crate) no_embed: bool,
    /// Print one JSON object per line: the start-up reconcile, then one per batch.
    #[arg(long)]
    pub(crate) json: bool,
}

/// Arguments of `cairn bench`.
#[derive(Args)]
pub(crate) struct BenchArgs {
    #[command(subcommand)]
    pub(crate) what: BenchWhat,
}

#[derive(Subcommand)]
pub(crate) enum BenchWhat {
    /// Latency from saving a file in a watched folder to finding it with keyword search.
    Watch(BenchWatchArgs),
    /// Cairn's embedding stage on a JSONL file of passages (`{"text": …}` per line): tokens/s,
    /// to compare with bare ONNX Runtime on the same file (scripts/bench.sh).
    Embed(BenchEmbedArgs),
    /// Query latency of bm25, dense and hybrid search at a number of passages (generated notes,
    /// model-free vectors): run at 1×, 10× and 100× a collection's size to see the growth.
    Search(BenchSearchArgs),
    /// Parse speed of files (in this process, as a parse worker would), per kind; with
    /// `--text`, the extracted text too (OCR accuracy checks).
    Parse(BenchParseArgs),
}

#[derive(Args)]
pub(crate) struct BenchSearchArgs {
    /// Passages (one generated note each).
    #[arg(long, default_value_t = 15_000)]
    pub(crate) passages: usize,
    /// Queries per mode.
    #[arg(long, default_value_t = 200)]
    pub(crate) queries: usize,
    /// Words per note.
    #[arg(long, default_value_t = 50)]
    pub(crate) words: usize,
    /// Where to create the temporary folder and data directory [default: the system temp dir].
    #[arg(long)]
    pub(crate) work_dir: Option<PathBuf>,
    /// Seed of the pseudo-random notes and queries.
    #[arg(long, default_value_t = 7)]
    pub(crate) seed: u64,
    /// Also measure with this many concurrent clients (threads with an engine and connections
    /// of their own), e.g. `--clients 1,4,16`.
    #[arg(long, value_delimiter = ',')]
    pub(crate) clients: Vec<usize>,
    /// Print one JSON object.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Args)]
pub(crate) struct BenchEmbedArgs {
    /// JSONL file, one `{"text": …}` per line.
    #[arg(long)]
    pub(crate) passages: PathBuf,
    /// Only the first N passages.
    #[arg(long)]
    pub(crate) limit: Option<usize>,
    /// Timed runs (the median is reported), after one warm-up.
    #[arg(long, default_value_t = 3)]
    pub(crate) runs: usize,
    /// Print one JSON object.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Args)]
pub(crate) struct BenchParseArgs {
    /// Files to parse.
    #[arg(required = true)]
    pub(crate) files: Vec<PathBuf>,
    /// Times each file is parsed.
    #[arg(long, default_value_t = 1)]
    pub(crate) repeat: usize,
    /// Include each file's extracted text in the JSON.
    #[arg(long)]
    pub(crate) text: bool,
    /// Print one JSON object.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Args)]
pub(crate) struct BenchWatchArgs {
    /// Files in the generated folder.
    #[arg(long, default_value_t = 10_000)]
    pub(crate) files: usize,
    /// Edits to measure.
    #[arg(long, default_value_t = 20)]
    pub(crate) edits: usize,
    /// Words per generated file.
    #[arg(long, default_value_t = 100)]
    pub(crate) words: usize,
    /// Also embed: the initial index is complete, and each edit's passages are embedded after
    /// it becomes keyword-searchable (reported separately).
    #[arg(long)]
    pub(crate) embed: bool,
    /// Where to create the temporary folder and data directory [default: the system temp dir].
    #[arg(long)]
    pub(crate) work_dir: Option<PathBuf>,
    /// Seed of the pseudo-random corpus and edits.
    #[arg(long, default_value_t = 42)]
    pub(crate) seed: u64,
    /// Print one JSON object.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Args)]
pub(crate) struct AskArgs {
    /// The question.
    #[arg(required = true)]
    pub(crate) question: Vec<String>,
    /// Answer without a model: the best supporting sentences, quoted verbatim and cited.
    #[arg(long, conflicts_with_all = ["provider", "model", "base_url"])]
    pub(crate) extractive: bool,
    #[command(flatten)]
    pub(crate) llm: crate::generators::LlmArgs,
    /// Continue this conversation (follow-ups are rewritten into standalone questions).
    #[arg(long, conflicts_with = "new_session")]
    pub(crate) session: Option<i64>,
    /// Start a conversation; its id is printed, pass it to --session next time.
    #[arg(long)]
    pub(crate) new_session: bool,
    /// Number of source passages [default: answer.sources from the config].
    #[arg(short = 'n', long)]
    pub(crate) sources: Option<usize>,
    #[command(flatten)]
    pub(crate) filters: FilterArgs,
    /// Print the answer as one JSON object (no streaming).
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Subcommand)]
pub(crate) enum AuditCommand {
    /// The latest answers (and failed attempts), newest first.
    List {
        #[arg(short = 'n', long, default_value_t = 20)]
        limit: usize,
        #[arg(long)]
        json: bool,
    },
    /// Everything recorded about one answer or failed attempt.
    Show {
        id: i64,
        #[arg(long)]
        json: bool,
    },
    /// Every record, oldest first, as a JSON array.
    Export {
        /// Accepted for symmetry: the export is always JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
pub(crate) enum TeamCommand {
    /// The collections: their folders, reader roles and the passages you may read.
    Collections {
        #[arg(long)]
        json: bool,
    },
    /// Put a folder (its path as the indexer added it) and its documents in a collection
    /// (the library's owner only).
    Assign { folder: String, collection: String },
    /// Let a role (a user or a group) read a collection (the library's owner only).
    Grant { collection: String, role: String },
    /// Stop a role reading a collection through its grant (the library's owner only).
    Revoke { collection: String, role: String },
    /// The answers asked of the library, with the database user who asked: every user's for
    /// the reviewer role, your own otherwise.
    Audit {
        #[arg(short = 'n', long, default_value_t = 20)]
        limit: i64,
        #[arg(long)]
        json: bool,
        /// Every row, oldest first, with its full record, as a JSON array.
        #[arg(long)]
        export: bool,
    },
}

#[derive(Subcommand)]
pub(crate) enum PinCommand {
    /// Pin a fact.
    Add {
        #[arg(required = true)]
        text: Vec<String>,
    },
    /// List pinned facts.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Unpin a fact by its id.
    Remove { id: i64 },
}

/// A date (YYYY-MM-DD) as a Unix time: its first second, or its last with `end_of_day`.
pub(crate) fn parse_date(s: &str, end_of_day: bool) -> Result<i64> {
    let d = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .with_context(|| format!("`{s}` is not a date in the form YYYY-MM-DD"))?;
    let t = if end_of_day {
        d.and_hms_opt(23, 59, 59)
    } else {
        d.and_hms_opt(0, 0, 0)
    }
    .expect("valid time");
    Ok(t.and_utc().timestamp())
}

/// Search filters from the command-line flags shared by `search` and `ask`.
fn build_filters(
    folders: &[PathBuf],
    types: &[String],
    path: Option<&str>,
    after: Option<&str>,
    before: Option<&str>,
    tags: &[String],
    include_deprecated: bool,
) -> Result<Filters> {
    let mut filters = Filters::default();
    for f in folders {
        filters.folders.push(
            f.canonicalize()
                .with_context(|| format!("--folder {}", f.display()))?,
        );
    }
    for t in types {
        let kind = cairn_core::parse::DocKind::from_name(t).with_context(|| {
            format!(
                "unknown --type `{t}`: use {}",
                cairn_core::parse::DocKind::names()
            )
        })?;
        filters.kinds.push(kind.as_str().to_owned());
    }
    if let Some(g) = path {
        let glob = globset::GlobBuilder::new(g)
            .literal_separator(false)
            .build()
            .with_context(|| format!("bad --path glob `{g}`"))?;
        filters.path_glob = Some(glob.compile_matcher());
    }
    if let Some(a) = after {
        filters.modified_after = Some(parse_date(a, false)?);
    }
    if let Some(b) = before {
        filters.modified_before = Some(parse_date(b, true)?);
    }
    filters.tags = tags.to_vec();
    filters.include_deprecated = include_deprecated;
    Ok(filters)
}
