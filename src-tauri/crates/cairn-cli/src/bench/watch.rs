//! `cairn bench watch`: the latency from saving a file in a watched folder to finding it with
//! keyword search, measured on a generated folder of pseudo-random notes.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use cairn_core::config::{Config, SearchMode};
use cairn_core::engine::{IndexReport, SearchRequest, Writer};
use cairn_core::watch::live::{self, FolderWatcher};

use super::gen::{paragraph, stats, vocabulary, Rng, TempDir};
use crate::args::BenchWatchArgs;
use crate::cmd::watch::{ms, reconcile};
use crate::interrupt::install_stop;

pub fn bench_watch(config: Config, a: &BenchWatchArgs) -> Result<()> {
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
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("creating {}", crate::print::clean_path(&dir)))?;
        }
        let path = dir.join(format!("note-{i:05}.txt"));
        std::fs::write(&path, paragraph(&mut rng, &vocab, a.words, None))
            .with_context(|| format!("writing {}", crate::print::clean_path(&path)))?;
        files.push(path);
    }
    say(format!(
        "generated {} files of {} words in {}",
        a.files,
        a.words,
        crate::print::clean_path(&folder)
    ));

    let mut engine = Writer::open(&data, config)?;
    let folder = engine.add_folder(&folder)?;
    let files: Vec<PathBuf> = files
        .iter()
        .map(|f| folder.join(f.strip_prefix(tmp.0.join("folder")).unwrap_or(f)))
        .collect();
    let never = cairn_core::stop::StopToken::new();
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
    let stop = install_stop();
    // Let the watcher settle (inotify watches are in place once `new` returns).
    std::thread::sleep(Duration::from_millis(200));

    let mut latency = Vec::new();
    let mut wait_ms = Vec::new();
    let mut index_ms = Vec::new();
    let mut search_ms = Vec::new();
    let mut embedded_ms = Vec::new();
    for e in 0..a.edits {
        if stop.is_stopped() {
            break;
        }
        let file = &files[rng.below(files.len())];
        let token = format!("edit{e}x{:08x}", rng.next() as u32);
        let body = paragraph(&mut rng, &vocab, a.words, Some(&token));
        let t0 = Instant::now();
        std::fs::write(file, body)
            .with_context(|| format!("writing {}", crate::print::clean_path(file)))?;
        let deadline = t0 + Duration::from_secs(30);
        let mut req = SearchRequest::new(token.clone(), engine.config());
        req.mode = SearchMode::Bm25;
        req.limit = 3;
        let (hit_at, batch_at, indexed_ms, searched_ms) = loop {
            anyhow::ensure!(
                Instant::now() < deadline,
                "edit {e} of {} was not searchable within 30 s",
                crate::print::clean_path(file)
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
