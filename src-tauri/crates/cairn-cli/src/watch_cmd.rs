//! `cairn watch` (follow the folders live) and `cairn bench watch` (save-to-searchable latency).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use cairn_core::config::{Config, SearchMode};
use cairn_core::engine::{Access, Engine, IndexReport, SearchRequest};
use cairn_core::reconcile::{self as service, Reconciled};
use cairn_core::watch::live::{self, Batch, FolderWatcher};
use clap::{Args, Subcommand};

/// Arguments of `cairn watch`.
#[derive(Args)]
pub struct WatchArgs {
    /// Quiet time in milliseconds that ends a burst of changes (editor saves).
    #[arg(long, default_value_t = 250)]
    debounce_ms: u64,
    /// Longest time in milliseconds a burst is collected before it is indexed.
    #[arg(long, default_value_t = 2000)]
    max_wait_ms: u64,
    /// Keep only the keyword index live; leave embeddings for `cairn index`.
    #[arg(long)]
    no_embed: bool,
    /// Print one JSON object per line: the start-up reconcile, then one per batch.
    #[arg(long)]
    json: bool,
}

/// Arguments of `cairn bench`.
#[derive(Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    what: BenchWhat,
}

#[derive(Subcommand)]
enum BenchWhat {
    /// Latency from saving a file in a watched folder to finding it with keyword search.
    Watch(BenchWatchArgs),
}

#[derive(Args)]
struct BenchWatchArgs {
    /// Files in the generated folder.
    #[arg(long, default_value_t = 10_000)]
    files: usize,
    /// Edits to measure.
    #[arg(long, default_value_t = 20)]
    edits: usize,
    /// Words per generated file.
    #[arg(long, default_value_t = 100)]
    words: usize,
    /// Also embed: the initial index is complete, and each edit's passages are embedded after
    /// it becomes keyword-searchable (reported separately).
    #[arg(long)]
    embed: bool,
    /// Where to create the temporary folder and data directory [default: the system temp dir].
    #[arg(long)]
    work_dir: Option<PathBuf>,
    /// Seed of the pseudo-random corpus and edits.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

/// Ctrl-C sets `stop` and `interrupt` (so a running embedding stops at its next batch); a
/// second Ctrl-C quits at once.
fn install_stop(interrupt: Arc<AtomicBool>) -> Arc<AtomicBool> {
    let stop = Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    let _ = ctrlc::set_handler(move || {
        interrupt.store(true, Ordering::SeqCst);
        if s.swap(true, Ordering::SeqCst) {
            eprintln!("\nstopping now");
            std::process::exit(130);
        }
        eprintln!("\nstopping after the current batch (Ctrl-C again to quit now)");
    });
    stop
}

/// One reconcile (the step shared with the desktop app, `cairn_core::service::reconcile`),
/// without progress output.
fn reconcile(
    engine: &mut Engine,
    paths: &[PathBuf],
    embed: bool,
    stop: &AtomicBool,
    activity: &AtomicBool,
) -> Result<Reconciled> {
    Ok(service::reconcile(
        engine,
        paths,
        embed,
        stop,
        activity,
        &mut |_| {},
    )?)
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e4).round() / 10.0
}

/// Runs `cairn watch`.
pub fn run_watch(data_dir: &Path, config: Config, args: &WatchArgs) -> Result<()> {
    let include_hidden = config.ingest.include_hidden;
    let mut engine = Engine::open(data_dir, config, Access::Write)?;
    let folders: Vec<PathBuf> = engine
        .catalog()
        .folders()?
        .into_iter()
        .map(|f| f.path)
        .collect();
    anyhow::ensure!(
        !folders.is_empty(),
        "no folders to watch: add one with `cairn add <folder>` first"
    );
    // Watch before the start-up reconcile, so nothing saved during it is missed.
    let watcher = FolderWatcher::new(&folders, &[engine.data_dir().to_owned()])
        .context("starting the folder watcher")?
        .include_hidden(include_hidden);
    let activity = watcher.activity();
    let stop = install_stop(activity.clone());
    let debounce = Duration::from_millis(args.debounce_ms);
    let max_wait = Duration::from_millis(args.max_wait_ms.max(args.debounce_ms));
    let embed = !args.no_embed;

    let started = Instant::now();
    let r = reconcile(&mut engine, &[], embed, &stop, &activity)?;
    let total_ms = ms(started.elapsed());
    if args.json {
        print_json("ready", &r, &[], false, &[], total_ms)?;
    } else {
        let report = &r.report;
        println!(
            "watching {} folder{} ({} files); start-up reconcile in {total_ms:.0} ms: {}",
            folders.len(),
            if folders.len() == 1 { "" } else { "s" },
            report.files_seen,
            describe(&r),
        );
        for f in &folders {
            println!("  {}", f.display());
        }
        println!(
            "Ctrl-C to stop. Folders added with `cairn add` are picked up when watch restarts."
        );
        if let Some(e) = &report.embedding_error {
            println!(
                "embeddings unavailable ({e}): keyword search stays live; run `bash models/fetch.sh`"
            );
        }
    }
    let mut warned_embedding = r.report.embedding_error.is_some();
    let mut backlog = r.embedding_paused;

    loop {
        // A paused embedding resumes as soon as the folders are quiet.
        let batch = if backlog {
            match watcher.next_batch_within(debounce, max_wait, &stop, debounce) {
                Some(b) => b,
                None if stop.load(Ordering::SeqCst) => break,
                None => Batch::default(),
            }
        } else {
            match watcher.next_batch(debounce, max_wait, &stop) {
                Some(b) => b,
                None => break,
            }
        };
        for e in &batch.errors {
            eprintln!("watch: {e}");
        }
        let started = Instant::now();
        let r = match reconcile(&mut engine, &batch.paths, embed, &stop, &activity) {
            Ok(r) => r,
            Err(e) => {
                // Keep watching: the next change (or restart) reconciles again.
                eprintln!("error: {e:#}");
                continue;
            }
        };
        backlog = r.embedding_paused;
        let total_ms = ms(started.elapsed());
        if args.json {
            print_json(
                "batch",
                &r,
                &batch.paths,
                batch.rescan,
                &batch.errors,
                total_ms,
            )?;
        } else {
            let when = chrono::Local::now().format("%H:%M:%S");
            let what = if batch.rescan {
                "rescan".to_owned()
            } else {
                format!(
                    "{} path{}",
                    batch.paths.len(),
                    if batch.paths.len() == 1 { "" } else { "s" }
                )
            };
            println!(
                "{when}  {}  ({what}; searchable after {:.0} ms, done in {total_ms:.0} ms)",
                describe(&r),
                r.keyword_ms
            );
            if let Some(e) = &r.report.embedding_error {
                if !warned_embedding {
                    println!("embeddings unavailable ({e}): keyword search stays live");
                    warned_embedding = true;
                }
            }
        }
        if r.report.cancelled {
            break;
        }
    }
    if !args.json {
        println!("stopped watching");
    }
    Ok(())
}

fn print_json(
    event: &str,
    r: &Reconciled,
    paths: &[PathBuf],
    rescan: bool,
    errors: &[String],
    total_ms: f64,
) -> Result<()> {
    let mut v = serde_json::to_value(&r.report)?;
    if let Some(o) = v.as_object_mut() {
        o.insert("event".into(), event.into());
        o.insert("paths".into(), serde_json::to_value(paths)?);
        o.insert("rescan".into(), rescan.into());
        o.insert("errors".into(), serde_json::to_value(errors)?);
        o.insert("keyword_ms".into(), r.keyword_ms.into());
        o.insert("ms".into(), total_ms.into());
        o.insert("embedding_paused".into(), r.embedding_paused.into());
    }
    println!("{}", serde_json::to_string(&v)?);
    Ok(())
}

/// "1 new version, 1 renamed, 2 passages embedded" or "no changes".
fn describe(r: &Reconciled) -> String {
    let rep = &r.report;
    let mut parts = Vec::new();
    let mut count = |n: usize, one: &str, many: &str| {
        if n > 0 {
            parts.push(format!("{n} {}", if n == 1 { one } else { many }));
        }
    };
    count(rep.new_versions, "new version", "new versions");
    count(rep.renamed, "renamed", "renamed");
    count(rep.deleted, "deleted", "deleted");
    count(rep.problems, "problem", "problems");
    count(rep.texts_embedded, "passage embedded", "passages embedded");
    count(rep.chunks_reused, "vector reused", "vectors reused");
    if r.embedding_paused {
        parts.push("embedding paused for new changes".to_owned());
    }
    if parts.is_empty() {
        "no changes".to_owned()
    } else {
        parts.join(", ")
    }
}

/// Runs `cairn bench`.
pub fn run_bench(_data_dir: &Path, config: Config, args: &BenchArgs) -> Result<()> {
    match &args.what {
        BenchWhat::Watch(a) => bench_watch(config, a),
    }
}

/// A small deterministic generator (xorshift64*), so the benchmark needs no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Pronounceable pseudo-words, so every file has varied vocabulary.
fn vocabulary(rng: &mut Rng, n: usize) -> Vec<String> {
    const ONSETS: [&str; 16] = [
        "b", "c", "d", "f", "g", "l", "m", "n", "p", "r", "s", "t", "v", "br", "st", "tr",
    ];
    const VOWELS: [&str; 6] = ["a", "e", "i", "o", "u", "ou"];
    (0..n)
        .map(|_| {
            let syllables = 2 + rng.below(2);
            (0..syllables)
                .map(|_| {
                    format!(
                        "{}{}",
                        ONSETS[rng.below(ONSETS.len())],
                        VOWELS[rng.below(VOWELS.len())]
                    )
                })
                .collect::<String>()
        })
        .collect()
}

fn paragraph(rng: &mut Rng, vocab: &[String], words: usize, extra: Option<&str>) -> String {
    let mut s = String::new();
    for i in 0..words {
        if i > 0 {
            s.push(if i % 12 == 0 { '\n' } else { ' ' });
        }
        s.push_str(&vocab[rng.below(vocab.len())]);
    }
    if let Some(e) = extra {
        s.push(' ');
        s.push_str(e);
    }
    s.push('\n');
    s
}

/// Removes the benchmark's temporary directory, even on error.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn stats(values: &[f64]) -> serde_json::Value {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    serde_json::json!({
        "p50": percentile(&v, 50.0),
        "p95": percentile(&v, 95.0),
        "max": v.last().copied().unwrap_or(0.0),
    })
}

fn bench_watch(config: Config, a: &BenchWatchArgs) -> Result<()> {
    anyhow::ensure!(
        a.files > 0 && a.edits > 0,
        "--files and --edits must be positive"
    );
    let base = a.work_dir.clone().unwrap_or_else(std::env::temp_dir);
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let tmp = TempDir(base.join(format!("cairn-bench-{}-{stamp}", std::process::id())));
    let folder = tmp.0.join("folder");
    let data = tmp.0.join("data");
    let say = |s: String| {
        if !a.json {
            println!("{s}");
        }
    };

    let mut rng = Rng(a.seed.max(1));
    let vocab = vocabulary(&mut rng, 5000);
    let per_dir = 100;
    let mut files = Vec::with_capacity(a.files);
    for i in 0..a.files {
        let dir = folder.join(format!("d{:03}", i / per_dir));
        if i % per_dir == 0 {
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let path = dir.join(format!("note-{i:05}.txt"));
        std::fs::write(&path, paragraph(&mut rng, &vocab, a.words, None))
            .with_context(|| format!("writing {}", path.display()))?;
        files.push(path);
    }
    say(format!(
        "generated {} files of {} words in {}",
        a.files,
        a.words,
        folder.display()
    ));

    let mut engine = Engine::open(&data, config, Access::Write)?;
    let folder = engine.add_folder(&folder)?;
    let files: Vec<PathBuf> = files
        .iter()
        .map(|f| folder.join(f.strip_prefix(tmp.0.join("folder")).unwrap_or(f)))
        .collect();
    let never = AtomicBool::new(false);
    let t = Instant::now();
    let initial = engine.index_text(&mut |_| {}, &never)?;
    let index_s = t.elapsed().as_secs_f64();
    let files_per_s = initial.files_seen as f64 / index_s.max(1e-9);
    say(format!(
        "initial keyword index: {} files in {index_s:.1} s ({files_per_s:.0} files/s), {} passages",
        initial.files_seen, initial.chunks_added
    ));
    let mut embed_s = None;
    if a.embed {
        let t = Instant::now();
        let mut rep = IndexReport::default();
        engine.embed_backlog(&mut |_| {}, &never, &mut rep)?;
        embed_s = Some(t.elapsed().as_secs_f64());
        say(format!(
            "initial embedding: {} passages in {:.1} s",
            rep.texts_embedded,
            t.elapsed().as_secs_f64()
        ));
    }

    let watcher = FolderWatcher::new(std::slice::from_ref(&folder), std::slice::from_ref(&data))?;
    let activity = watcher.activity();
    let stop = install_stop(activity.clone());
    // Let the watcher settle (inotify watches are in place once `new` returns).
    std::thread::sleep(Duration::from_millis(200));

    let mut latency = Vec::new();
    let mut wait_ms = Vec::new();
    let mut index_ms = Vec::new();
    let mut search_ms = Vec::new();
    let mut embedded_ms = Vec::new();
    for e in 0..a.edits {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        let file = &files[rng.below(files.len())];
        let token = format!("edit{e}x{:08x}", rng.next() as u32);
        let body = paragraph(&mut rng, &vocab, a.words, Some(&token));
        let t0 = Instant::now();
        std::fs::write(file, body).with_context(|| format!("writing {}", file.display()))?;
        let deadline = t0 + Duration::from_secs(30);
        let mut req = SearchRequest::new(token.clone(), engine.config());
        req.mode = SearchMode::Bm25;
        req.limit = 3;
        let (hit_at, batch_at, indexed_ms, searched_ms) = loop {
            anyhow::ensure!(
                Instant::now() < deadline,
                "edit {e} of {} was not searchable within 30 s",
                file.display()
            );
            let Some(batch) =
                watcher.next_batch(live::DEFAULT_DEBOUNCE, live::DEFAULT_MAX_WAIT, &stop)
            else {
                anyhow::bail!("stopped");
            };
            let batch_at = t0.elapsed();
            let r = reconcile(&mut engine, &batch.paths, false, &stop, &activity)?;
            let t = Instant::now();
            let resp = engine.search(&req)?;
            if resp.results.iter().any(|h| &h.path == file) {
                break (t0.elapsed(), batch_at, r.keyword_ms, ms(t.elapsed()));
            }
        };
        latency.push(ms(hit_at));
        wait_ms.push(ms(batch_at));
        index_ms.push(indexed_ms);
        search_ms.push(searched_ms);
        if a.embed {
            let mut rep = IndexReport::default();
            engine.embed_backlog(&mut |_| {}, &never, &mut rep)?;
            embedded_ms.push(ms(t0.elapsed()));
        }
        if !a.json {
            println!(
                "  edit {:>3}: searchable after {:>6.1} ms (batch ready {:>6.1} ms, reconcile {:>6.1} ms, search {:>5.1} ms){}",
                e + 1,
                ms(hit_at),
                ms(batch_at),
                indexed_ms,
                searched_ms,
                embedded_ms
                    .last()
                    .filter(|_| a.embed)
                    .map(|m| format!(", embedded after {m:.1} ms"))
                    .unwrap_or_default()
            );
        }
        // A pause like a person's between saves, so edits are separate bursts.
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = serde_json::json!({
        "benchmark": "watch",
        "files": a.files,
        "words_per_file": a.words,
        "edits": latency.len(),
        "debounce_ms": live::DEFAULT_DEBOUNCE.as_millis() as u64,
        "initial_index_seconds": index_s,
        "initial_files_per_second": files_per_s,
        "initial_embed_seconds": embed_s,
        "save_to_searchable_ms": stats(&latency),
        "batch_ready_ms": stats(&wait_ms),
        "reconcile_ms": stats(&index_ms),
        "search_ms": stats(&search_ms),
        "save_to_embedded_ms": a.embed.then(|| stats(&embedded_ms)),
        "note": "latency = write of one file to its unique token found by keyword (BM25) search; \
                 embedding is not part of it (see save_to_embedded_ms with --embed)",
    });
    if a.json {
        println!("{}", serde_json::to_string(&out)?);
    } else {
        let s = &out["save_to_searchable_ms"];
        println!(
            "save → keyword-searchable over {} edits in a {}-file folder: p50 {} ms, p95 {} ms, max {} ms",
            latency.len(),
            a.files,
            s["p50"],
            s["p95"],
            s["max"]
        );
        println!(
            "  of which (p50): batch ready {} ms (debounce {} ms), reconcile (scan + index + commit) {} ms, search {} ms",
            out["batch_ready_ms"]["p50"],
            live::DEFAULT_DEBOUNCE.as_millis(),
            out["reconcile_ms"]["p50"],
            out["search_ms"]["p50"]
        );
        if a.embed {
            let s = &out["save_to_embedded_ms"];
            println!(
                "save → embedded (semantic search): p50 {} ms, p95 {} ms",
                s["p50"], s["p95"]
            );
        } else {
            println!("embeddings are not part of this measurement (add --embed to include them)");
        }
    }
    Ok(())
}
