//! `cairn`: the command-line interface over `cairn-core`.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use cairn_core::catalog::Filters;
use cairn_core::config::{default_data_dir, Config, Fusion, SearchMode};
use cairn_core::engine::{
    Access, Engine, IndexReport, Phase, Progress, SearchRequest, SearchResponse, SearchState,
};
use cairn_core::eval::{evaluate, EvalOptions};
use clap::{Args, Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};

mod ask_cmd;
mod generators;
mod mcp;
mod watch_cmd;

#[derive(Parser)]
#[command(
    name = "cairn",
    version,
    about = "Cairn: a local-first knowledge base. Folders in, cited passages out."
)]
struct Cli {
    /// Where Cairn keeps its catalog and indexes [default: the platform data directory].
    #[arg(long, global = true, env = "CAIRN_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Config file [default: config.toml in the data directory].
    #[arg(long, global = true, env = "CAIRN_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
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
    /// Verify the catalog and that the search indexes match it.
    Check {
        #[arg(long)]
        json: bool,
    },
    /// Follow the folders live: index changes as files are saved, moved and deleted.
    Watch(watch_cmd::WatchArgs),
    /// Measure performance figures (printed, for docs/benchmarks.md).
    Bench(watch_cmd::BenchArgs),
    /// Answer a question from the collection, with checked [n] citations (or "I don't know").
    Ask(ask_cmd::AskArgs),
    /// Read the log of answers: question, passages, model, latency, citation verdicts.
    Audit {
        #[command(subcommand)]
        command: ask_cmd::AuditCommand,
    },
    /// Pin facts that every generated answer's prompt includes.
    Pin {
        #[command(subcommand)]
        command: ask_cmd::PinCommand,
    },
    /// Serve the collection to AI assistants over the Model Context Protocol (stdio): tools
    /// search, list_sources, read_source, status and ask.
    Mcp,
}

#[derive(Clone, Copy, ValueEnum)]
enum ModeArg {
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
enum FusionArg {
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
struct RankArgs {
    /// Retrieval mode [default: from config, hybrid].
    #[arg(long, value_enum)]
    mode: Option<ModeArg>,
    /// Hybrid fusion method [default: from config].
    #[arg(long, value_enum)]
    fusion: Option<FusionArg>,
    /// Dense weight for weighted fusion, 0..1.
    #[arg(long)]
    alpha: Option<f32>,
    /// k for reciprocal rank fusion.
    #[arg(long)]
    rrf_k: Option<f32>,
}

/// Filters shared by `search` and `ask`.
#[derive(Args)]
pub(crate) struct FilterArgs {
    /// Only documents under this folder (repeatable).
    #[arg(long = "folder")]
    folders: Vec<PathBuf>,
    /// Only this file type: text, markdown, html, pdf, docx (repeatable).
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
    }
}

#[derive(Args)]
struct SearchArgs {
    /// What to look for.
    #[arg(required = true)]
    query: Vec<String>,
    #[command(flatten)]
    rank: RankArgs,
    /// Number of results.
    #[arg(short = 'n', long)]
    limit: Option<usize>,
    #[command(flatten)]
    filters: FilterArgs,
    /// Search the collection as it was at this date (YYYY-MM-DD or RFC 3339 time).
    #[arg(long, conflicts_with = "history")]
    as_of: Option<String>,
    /// Search every version ever indexed, labelled current / superseded / deleted.
    #[arg(long)]
    history: bool,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct EvalArgs {
    /// The dataset directory.
    #[arg(long)]
    dataset: PathBuf,
    #[command(flatten)]
    rank: RankArgs,
    /// Evaluate only the first N judged queries.
    #[arg(long)]
    max_queries: Option<usize>,
    /// Keep the indexed store in this directory (reused by later runs) instead of a temp dir.
    #[arg(long)]
    store: Option<PathBuf>,
    /// Evaluate the "I don't know" decision instead of ranking: a query is answerable when
    /// one of its relevant documents is in the corpus.
    #[arg(long)]
    abstention: bool,
    /// Abstention threshold to score [default: answer.abstain_threshold from the config].
    #[arg(long, requires = "abstention")]
    threshold: Option<f32>,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("CAIRN_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    if let Err(err) = run(cli) {
        eprintln!("error: {err:#}");
        let core = err
            .chain()
            .find_map(|e| e.downcast_ref::<cairn_core::Error>());
        if let Some(core) = core {
            eprintln!("  what to do: {}", core.hint());
            std::process::exit(if core.is_user_error() { 1 } else { 2 });
        }
        std::process::exit(1);
    }
}

fn load_config(cli: &Cli, data_dir: &Path) -> Result<Config> {
    Ok(match &cli.config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading config file {}", path.display()))?;
            Config::from_toml(&text, path)?
        }
        None => Config::load(data_dir)?,
    })
}

fn cancel_flag() -> Arc<AtomicBool> {
    let flag = Arc::new(AtomicBool::new(false));
    let f = flag.clone();
    let _ = ctrlc::set_handler(move || {
        if f.swap(true, Ordering::SeqCst) {
            eprintln!("\nstopping now");
            std::process::exit(130);
        }
        eprintln!(
            "\nstopping after the current batch (committed work is kept; Ctrl-C again to quit now)"
        );
    });
    flag
}

fn run(cli: Cli) -> Result<()> {
    let data_dir = cli.data_dir.clone().unwrap_or_else(default_data_dir);
    let config = load_config(&cli, &data_dir)?;
    match cli.command {
        Command::Add { dir, index } => {
            let mut engine = Engine::open(&data_dir, config, Access::Write)?;
            let abs = engine.add_folder(&dir)?;
            println!("added {}", abs.display());
            if index {
                run_index(&mut engine, false, false)?;
            } else {
                println!("run `cairn index` to index it");
            }
        }
        Command::Index { no_embed, json } => {
            let mut engine = Engine::open(&data_dir, config, Access::Write)?;
            run_index(&mut engine, no_embed, json)?;
        }
        Command::Search(args) => {
            let mut engine = Engine::open(&data_dir, config, Access::ReadOnly)?;
            let req = search_request(&args, engine.config())?;
            let resp = engine.search(&req)?;
            if args.json {
                print_search_json(&resp)?;
            } else {
                print_search(&resp);
            }
        }
        Command::Status { json } => {
            let mut engine = Engine::open(&data_dir, config, Access::ReadOnly)?;
            let status = engine.status()?;
            if json {
                println!("{}", serde_json::to_string_pretty(&status)?);
            } else {
                print_status(&status);
            }
        }
        Command::Reindex { embeddings } => {
            if embeddings {
                Engine::adopt_configured_model(&data_dir, &config)?;
            }
            let mut engine = Engine::open(&data_dir, config, Access::Write)?;
            engine.rebuild_indexes()?;
            let s = engine.status()?;
            println!(
                "rebuilt: {} passages in the text index, {} in the vector index",
                s.text_index_chunks, s.vector_index_chunks
            );
            if s.embed_backlog > 0 {
                println!(
                    "{} passages need embedding: run `cairn index`",
                    s.embed_backlog
                );
            }
        }
        Command::Eval(args) => {
            let s = &config.search;
            let opts = EvalOptions {
                dataset: args.dataset.clone(),
                mode: args.rank.mode.map_or(s.mode, Into::into),
                fusion: args.rank.fusion.map_or(s.fusion, Into::into),
                alpha: args.rank.alpha.unwrap_or(s.alpha),
                rrf_k: args.rank.rrf_k.unwrap_or(s.rrf_k),
                max_queries: args.max_queries,
                store: args.store.clone(),
            };
            let bar = Bar::new(!args.json);
            if args.abstention {
                let report = cairn_core::eval::evaluate_abstention(
                    &opts,
                    &config,
                    args.threshold,
                    &mut |p| bar.update(p),
                )?;
                bar.finish();
                ask_cmd::print_abstention(&report, args.json)?;
                return Ok(());
            }
            let report = evaluate(&opts, &config, &mut |p| bar.update(p))?;
            bar.finish();
            if args.json {
                println!("{}", serde_json::to_string(&report)?);
            } else {
                println!("dataset        {}", report.dataset);
                println!(
                    "mode           {}{}",
                    report.mode,
                    report
                        .fusion
                        .as_deref()
                        .map(|f| format!(" ({f})"))
                        .unwrap_or_default()
                );
                println!(
                    "docs           {} ({} passages)",
                    report.docs, report.chunks
                );
                println!("queries        {}", report.queries);
                println!("nDCG@10        {:.4}", report.ndcg_at_10);
                println!("Recall@100     {:.4}", report.recall_at_100);
                println!("MRR@10         {:.4}", report.mrr_at_10);
                println!(
                    "index          {:.1} s (keyword-searchable after {:.1} s)",
                    report.index_seconds, report.keyword_ready_seconds
                );
                println!(
                    "search latency p50 {:.1} ms, p95 {:.1} ms",
                    report.search_p50_ms, report.search_p95_ms
                );
            }
        }
        Command::Demo { dir } => {
            let mut engine = Engine::open(&data_dir, config, Access::Write)?;
            let abs = engine.add_folder(&dir)?;
            println!(
                "Cairn demo: indexing {} (data in {})",
                abs.display(),
                data_dir.display()
            );
            run_index(&mut engine, false, false)?;
            println!(
                "\nType a question or keywords and press Enter (empty line or Ctrl-D to quit)."
            );
            let stdin = std::io::stdin();
            loop {
                print!("search> ");
                std::io::stdout().flush()?;
                let mut line = String::new();
                if stdin.lock().read_line(&mut line)? == 0 || line.trim().is_empty() {
                    break;
                }
                let req = SearchRequest::new(line.trim(), engine.config());
                match engine.search(&req) {
                    Ok(resp) => print_search(&resp),
                    Err(e) => eprintln!("error: {e}\n  what to do: {}", e.hint()),
                }
            }
        }
        Command::History { path, json } => {
            let engine = Engine::open(&data_dir, config, Access::ReadOnly)?;
            let versions = engine.history(&path)?;
            if json {
                println!("{}", serde_json::to_string(&versions)?);
            } else {
                println!("{}", path.display());
                for v in &versions {
                    let when = fmt_time(v.recorded_at);
                    let until = v
                        .retired_at
                        .map(|t| format!(" until {}", fmt_time(t)))
                        .unwrap_or_default();
                    println!(
                        "  v{:<3} {:<10} {when}{until}  {}  {} bytes  {} passages (+{} −{})",
                        v.version,
                        v.status,
                        v.content_hash,
                        v.size,
                        v.chunks,
                        v.chunks_added,
                        v.chunks_removed
                    );
                }
            }
        }
        Command::Deprecate {
            path,
            pattern,
            superseded_by,
            reason,
        } => {
            let mut engine = Engine::open(&data_dir, config, Access::Write)?;
            match (path, pattern) {
                (_, Some(p)) => {
                    engine.deprecate_pattern(&p, &reason)?;
                    println!("deprecated every path matching {p}: {reason}");
                }
                (Some(path), None) => {
                    let t = engine.deprecate(&path, superseded_by.as_deref(), &reason)?;
                    println!("deprecated {}: {reason}", t.display());
                }
                (None, None) => anyhow::bail!("name a document or folder, or give --pattern"),
            }
        }
        Command::Undeprecate { target } => {
            let mut engine = Engine::open(&data_dir, config, Access::Write)?;
            engine.undeprecate(&target)?;
            println!("{target} is no longer deprecated");
        }
        Command::Tag { path, tags } => {
            let mut engine = Engine::open(&data_dir, config, Access::Write)?;
            let t = engine.tag(&path, &tags)?;
            println!("tagged {} with {}", t.display(), tags.join(", "));
        }
        Command::Untag { path, tags } => {
            let mut engine = Engine::open(&data_dir, config, Access::Write)?;
            let n = engine.untag(&path, &tags)?;
            println!("removed {n} tag(s) from {}", path.display());
        }
        Command::Check { json } => {
            let mut engine = Engine::open(&data_dir, config, Access::ReadOnly)?;
            let report = engine.check()?;
            if json {
                println!("{}", serde_json::to_string(&report)?);
            } else if report.ok {
                println!(
                    "ok: catalog sound; {} current passages, text index {}, vector index {} ({} embedded)",
                    report.current_chunks, report.text_index_chunks, report.vector_index_chunks, report.embedded_chunks
                );
            } else {
                for p in &report.problems {
                    println!("problem: {p}");
                }
                println!("run `cairn index` (repairs lagging indexes) or `cairn reindex`");
            }
            if !report.ok {
                std::process::exit(3);
            }
        }
        Command::Watch(args) => watch_cmd::run_watch(&data_dir, config, &args)?,
        Command::Bench(args) => watch_cmd::run_bench(&data_dir, config, &args)?,
        Command::Ask(args) => ask_cmd::run_ask(&data_dir, config, &args)?,
        Command::Audit { command } => ask_cmd::run_audit(&data_dir, config, &command)?,
        Command::Pin { command } => ask_cmd::run_pin(&data_dir, config, &command)?,
        Command::Mcp => mcp::serve(&data_dir, config)?,
        Command::Config => {
            print!("{}", toml::to_string_pretty(&config)?);
        }
    }
    Ok(())
}

fn parse_date(s: &str, end_of_day: bool) -> Result<i64> {
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

fn search_request(args: &SearchArgs, config: &Config) -> Result<SearchRequest> {
    let mut req = SearchRequest::new(args.query.join(" "), config);
    if let Some(m) = args.rank.mode {
        req.mode = m.into();
    }
    if let Some(f) = args.rank.fusion {
        req.fusion = f.into();
    }
    if let Some(a) = args.rank.alpha {
        anyhow::ensure!((0.0..=1.0).contains(&a), "--alpha must be between 0 and 1");
        req.alpha = a;
    }
    if let Some(k) = args.rank.rrf_k {
        req.rrf_k = k;
    }
    if let Some(n) = args.limit {
        req.limit = n.max(1);
        req.candidates = req.candidates.max(n);
    }
    let filters = args.filters.build()?;
    if let Some(t) = &args.as_of {
        let at = chrono::DateTime::parse_from_rfc3339(t)
            .map(|d| d.timestamp())
            .or_else(|_| parse_date(t, true))?;
        req.state = SearchState::AsOf(at);
    } else if args.history {
        req.state = SearchState::History;
    }
    req.filters = filters;
    Ok(req)
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
            format!("unknown --type `{t}`: use text, markdown, html, pdf or docx")
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

fn print_search_json(resp: &SearchResponse) -> Result<()> {
    let results: Vec<serde_json::Value> = resp
        .results
        .iter()
        .map(|h| {
            serde_json::json!({
                "path": h.path,
                "page": h.page,
                "heading": h.heading.join(" > "),
                "snippet": h.snippet.text,
                "score": h.score,
                "chunk_id": h.chunk_id,
                "version": h.version,
                "status": h.status,
                "deprecated": h.deprecated.as_ref().map(|d| serde_json::json!({
                    "reason": d.reason, "superseded_by": d.superseded_by,
                })),
                "kind": h.kind,
                "byte_span": [h.byte_start, h.byte_end],
            })
        })
        .collect();
    let out = serde_json::json!({
        "results": results,
        "mode": resp.mode,
        "embedded_chunks": resp.embedded_chunks,
        "total_chunks": resp.total_chunks,
        "notice": resp.notice,
    });
    println!("{}", serde_json::to_string(&out)?);
    Ok(())
}

fn highlight(s: &cairn_core::retrieve::Snippet, color: bool) -> String {
    if !color {
        return s.text.clone();
    }
    let mut out = String::new();
    let mut at = 0;
    for (a, b) in &s.highlights {
        if *a < at || *b > s.text.len() {
            continue;
        }
        out.push_str(&s.text[at..*a]);
        out.push_str("\x1b[1;33m");
        out.push_str(&s.text[*a..*b]);
        out.push_str("\x1b[0m");
        at = *b;
    }
    out.push_str(&s.text[at..]);
    out
}

fn print_search(resp: &SearchResponse) {
    let color = std::io::stdout().is_terminal();
    if let Some(n) = &resp.notice {
        println!("note: {n}");
    }
    if resp.results.is_empty() {
        println!("no matching passages");
        return;
    }
    for (i, h) in resp.results.iter().enumerate() {
        let mut loc = h.path.display().to_string();
        if let Some(p) = h.page {
            loc.push_str(&format!(" (page {p})"));
        }
        let mut label = String::new();
        if h.status != "current" {
            label.push_str(&format!(" [{}]", h.status.to_uppercase()));
        }
        if let Some(d) = &h.deprecated {
            label.push_str(&format!(" [DEPRECATED: {}", d.reason));
            if let Some(by) = &d.superseded_by {
                label.push_str(&format!("; superseded by {by}"));
            }
            label.push(']');
        }
        println!(
            "{:>2}. {loc}  [score {:.3}, v{}]{label}",
            i + 1,
            h.score,
            h.version
        );
        if !h.heading.is_empty() {
            println!("    § {}", h.heading.join(" > "));
        }
        println!("    {}", highlight(&h.snippet, color));
    }
}

fn human_bytes(b: u64) -> String {
    match b {
        b if b >= 1 << 30 => format!("{:.1} GiB", b as f64 / (1u64 << 30) as f64),
        b if b >= 1 << 20 => format!("{:.1} MiB", b as f64 / (1u64 << 20) as f64),
        b if b >= 1 << 10 => format!("{:.1} KiB", b as f64 / 1024.0),
        b => format!("{b} B"),
    }
}

fn print_status(s: &cairn_core::engine::Status) {
    println!("data directory  {}", s.data_dir.display());
    println!("folders         {}", s.folders.len());
    for f in &s.folders {
        println!("  {}", f.display());
    }
    let st = &s.stats;
    println!(
        "documents       {} current ({} known, {} versions)",
        st.current_documents, st.documents, st.versions
    );
    println!("passages        {}", st.current_chunks);
    println!(
        "embedded        {} of {} ({:.0}%) with {}",
        st.embedded_chunks,
        st.current_chunks,
        100.0 * st.embedded_chunks as f64 / st.current_chunks.max(1) as f64,
        s.model_id
    );
    if s.embed_backlog > 0 {
        let eta = s
            .embed_eta_seconds
            .map(|e| format!(", ETA {}", fmt_duration(e)))
            .unwrap_or_default();
        println!(
            "backlog         {} passages to embed{eta} (run `cairn index`)",
            s.embed_backlog
        );
    }
    println!(
        "indexes         catalog {}, text {} ({} passages), vectors {} ({} passages)",
        human_bytes(s.catalog_bytes),
        human_bytes(s.text_index_bytes),
        s.text_index_chunks,
        human_bytes(s.vector_index_bytes),
        s.vector_index_chunks
    );
    if !s.deprecations.is_empty() {
        println!("deprecated      {}", s.deprecations.len());
        for d in &s.deprecations {
            let by = d
                .superseded_by
                .as_ref()
                .map(|b| format!(" (superseded by {b})"))
                .unwrap_or_default();
            let kind = if d.is_pattern { "pattern " } else { "" };
            println!("  {kind}{}: {}{by}", d.target, d.reason);
        }
    }
    if !s.tags.is_empty() {
        println!("tags            {}", s.tags.len());
        for (p, t) in &s.tags {
            println!("  {}: {t}", p.display());
        }
    }
    if !s.conflicts.is_empty() {
        println!("conflicts       {} (near-identical passages that differ; resolve by editing or deprecating one)", s.conflicts.len());
        for c in s.conflicts.iter().take(20) {
            println!(
                "  {:.2}  {}  <>  {}",
                c.similarity,
                c.path_a.display(),
                c.path_b.display()
            );
        }
    }
    println!("problems        {}", s.problems.len());
    for p in &s.problems {
        println!("  {}: {}", p.path.display(), p.reason);
    }
}

fn fmt_time(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .map(|d| d.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|| t.to_string())
}

fn fmt_duration(secs: f64) -> String {
    let s = secs.round() as u64;
    if s >= 3600 {
        format!("{}h{:02}m", s / 3600, (s % 3600) / 60)
    } else if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

/// A progress bar on a terminal; silent otherwise.
struct Bar {
    bar: ProgressBar,
    phase: std::cell::Cell<Option<Phase>>,
}

impl Bar {
    fn new(visible: bool) -> Bar {
        let bar = if visible && std::io::stderr().is_terminal() {
            ProgressBar::new(0)
        } else {
            ProgressBar::hidden()
        };
        bar.enable_steady_tick(Duration::from_millis(200));
        Bar {
            bar,
            phase: std::cell::Cell::new(None),
        }
    }

    fn update(&self, p: &Progress) {
        if self.phase.get() != Some(p.phase) {
            self.phase.set(Some(p.phase));
            let (template, len) = match p.phase {
                Phase::Scanning => ("{spinner} scanning folders…".to_owned(), 0),
                Phase::Parsing => (
                    "{spinner} reading  [{bar:30}] {pos}/{len} files  {per_sec}  ETA {eta}  {msg}"
                        .to_owned(),
                    p.files_total,
                ),
                Phase::Embedding => (
                    "{spinner} embedding [{bar:30}] {pos}/{len} passages  {per_sec}  ETA {eta}"
                        .to_owned(),
                    p.chunks_total,
                ),
                Phase::Done => ("{msg}".to_owned(), 0),
            };
            self.bar.reset();
            self.bar.set_style(
                ProgressStyle::with_template(&template)
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            self.bar.set_length(len as u64);
        }
        match p.phase {
            Phase::Parsing => {
                self.bar.set_position(p.files_done as u64);
                if let Some(c) = &p.current {
                    let name = c.file_name().map(|n| n.to_string_lossy().into_owned());
                    self.bar.set_message(name.unwrap_or_default());
                }
            }
            Phase::Embedding => self.bar.set_position(p.chunks_done as u64),
            _ => {}
        }
    }

    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

fn run_index(engine: &mut Engine, no_embed: bool, json: bool) -> Result<()> {
    let cancel = cancel_flag();
    let bar = Bar::new(!json);
    let report: IndexReport = if no_embed {
        engine.index_text(&mut |p| bar.update(p), &cancel)?
    } else {
        engine.index(&mut |p| bar.update(p), &cancel)?
    };
    bar.finish();
    if json {
        println!("{}", serde_json::to_string(&report)?);
        return Ok(());
    }
    println!(
        "{} files seen: {} new versions, {} unchanged, {} renamed, {} deleted, {} unsupported, {} problems",
        report.files_seen,
        report.new_versions,
        report.files_unchanged,
        report.renamed,
        report.deleted,
        report.files_unsupported,
        report.problems
    );
    println!(
        "keyword search ready after {:.1} s; {} passages added, {} vectors reused, {} embedded",
        report.keyword_ready_seconds,
        report.chunks_added,
        report.chunks_reused,
        report.texts_embedded
    );
    if let Some(e) = &report.embedding_error {
        println!("embeddings skipped: {e}\n  keyword search works; run `bash models/fetch.sh`, then `cairn index`");
    }
    if report.cancelled {
        println!("stopped early: run `cairn index` again to resume");
    }
    if report.problems > 0 {
        println!("see `cairn status` for the files that could not be indexed");
    }
    Ok(())
}
