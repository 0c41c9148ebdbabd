//! `cairn watch`: follow the folders live, indexing each burst of changes as it settles.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use cairn_core::config::Config;
use cairn_core::engine::Reconciled;
use cairn_core::engine::Writer;
use cairn_core::stop::StopToken;
use cairn_core::watch::live::{Batch, FolderWatcher};

use crate::args::WatchArgs;
use crate::interrupt::install_stop;

/// One reconcile (the step shared with the desktop app, `cairn_core::engine::reconcile`),
/// without progress output.
pub(crate) fn reconcile(
    engine: &mut Writer,
    paths: &[PathBuf],
    embed: bool,
    stop: &StopToken,
    activity: &StopToken,
) -> Result<Reconciled> {
    Ok(cairn_core::engine::reconcile(
        engine,
        paths,
        embed,
        stop,
        activity,
        // No write commands queue up behind `cairn watch`.
        &StopToken::new(),
        &mut |_| {},
    )?)
}

/// Milliseconds, to a tenth.
pub(crate) fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e4).round() / 10.0
}

/// Runs `cairn watch`.
pub fn watch(data_dir: &Path, config: Config, args: &WatchArgs) -> Result<()> {
    let include_hidden = config.ingest.include_hidden;
    let mut engine = Writer::open(data_dir, config)?;
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
    let stop = install_stop();
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
            println!("  {}", crate::print::clean_path(f));
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
                None if stop.is_stopped() => break,
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
