//! `cairn bench search`: query latency (p50/p95/p99) of bm25, dense and hybrid search at a
//! given number of passages, on a generated folder (one pseudo-random note per passage) with
//! the model-free [`HashEmbedder`]: the text and vector indexes are as big as a real library's
//! of that size, without hours of embedding. Run at SciFact's size and 10× and 100× of it to see
//! how latency grows (scripts/bench.sh). With `--library postgres://…` the same on a team
//! library (an empty database); `--clients 1,4,16` measures each mode with that many
//! concurrent clients, threads with an engine (and connection) of their own.

use std::path::Path;
use std::sync::{Arc, Barrier};
use std::time::Instant;

use anyhow::{Context, Result};
use cairn_core::config::{Config, SearchMode};
use cairn_core::embed::HashEmbedder;
use cairn_core::engine::{Engine, IndexReport, SearchRequest, Writer};

use super::gen::{paragraph, stats, vocabulary, Rng, TempDir};
use crate::args::BenchSearchArgs;

pub fn bench_search(config: Config, a: &BenchSearchArgs) -> Result<()> {
    anyhow::ensure!(
        a.passages > 0 && a.queries > 0,
        "--passages and --queries must be positive"
    );
    let base = a.work_dir.clone().unwrap_or_else(std::env::temp_dir);
    let tmp = TempDir(base.join(format!("cairn-bench-search-{}", std::process::id())));
    let folder = tmp.0.join("folder");
    let data = tmp.0.join("data");
    let mut rng = Rng(a.seed.max(1));
    let vocab = vocabulary(&mut rng, 20_000);
    let per_dir = 1000;
    let t = Instant::now();
    for i in 0..a.passages {
        let dir = folder.join(format!("d{:04}", i / per_dir));
        if i % per_dir == 0 {
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("creating {}", crate::print::clean_path(&dir)))?;
        }
        let path = dir.join(format!("note-{i:07}.txt"));
        std::fs::write(&path, paragraph(&mut rng, &vocab, a.words, None))
            .with_context(|| format!("writing {}", crate::print::clean_path(&path)))?;
    }
    let generate_s = t.elapsed().as_secs_f64();

    let dim = config.embedding.dim;
    let model_id = config.embedding.model_id.clone();
    let mut engine = Writer::open(&data, config.clone())?;
    engine.share_embedder(Arc::new(HashEmbedder::new(model_id, dim)));
    engine.add_folder(&folder)?;
    let never = cairn_core::stop::StopToken::new();
    let t = Instant::now();
    let report = engine.index_text(&mut |_| {}, &never)?;
    let keyword_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let mut embedded = IndexReport::default();
    engine.embed_backlog(&mut |_| {}, &never, &mut embedded)?;
    let vectors_s = t.elapsed().as_secs_f64();

    let queries: Vec<String> = (0..a.queries)
        .map(|_| {
            (0..3)
                .map(|_| vocab[rng.below(vocab.len())].as_str())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    let mut modes = serde_json::Map::new();
    for (name, mode) in MODES {
        let mut ms = Vec::with_capacity(queries.len());
        // One warm-up query per mode (first use loads the vector index).
        let mut warm = SearchRequest::new(&queries[0], &config);
        warm.mode = mode;
        engine.search(&warm)?;
        for q in &queries {
            let mut req = SearchRequest::new(q, &config);
            req.mode = mode;
            let t = Instant::now();
            engine.search(&req)?;
            ms.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        modes.insert(name.into(), stats(&ms));
    }
    let mut by_clients = serde_json::Map::new();
    for &clients in &a.clients {
        let mut per_mode = serde_json::Map::new();
        for (name, mode) in MODES {
            let (ms, wall) = concurrent(&config, &data, &queries, clients.max(1), mode)?;
            let mut s = stats(&ms);
            s["queries_per_second"] = serde_json::json!(ms.len() as f64 / wall);
            per_mode.insert(name.into(), s);
        }
        by_clients.insert(clients.to_string(), per_mode.into());
    }
    let status = engine.status()?;
    let out = serde_json::json!({
        "passages": report.chunks_added,
        "files": report.files_seen,
        "queries": a.queries,
        "generate_seconds": generate_s,
        "keyword_index_seconds": keyword_s,
        "vector_index_seconds": vectors_s,
        "latency_ms": modes,
        "clients": by_clients,
        "keyword_passages_per_second": report.chunks_added as f64 / keyword_s,
        "embedded_passages_per_second": embedded.chunks_embedded as f64 / vectors_s,
        "text_index_bytes": status.text_index_bytes,
        "vector_index_bytes": status.vector_index_bytes,
        "catalog_bytes": status.catalog_bytes,
    });
    if a.json {
        println!("{out}");
    } else {
        println!("{}", serde_json::to_string_pretty(&out)?);
    }
    Ok(())
}

const MODES: [(&str, SearchMode); 3] = [
    ("bm25", SearchMode::Bm25),
    ("dense", SearchMode::Dense),
    ("hybrid", SearchMode::Hybrid),
];

/// Every query of `queries` asked by each of `clients` threads at once, each with an engine of
/// its own (its own connections to a team library); the latencies of all, and the wall time.
fn concurrent(
    config: &Config,
    data: &Path,
    queries: &[String],
    clients: usize,
    mode: SearchMode,
) -> Result<(Vec<f64>, f64)> {
    let start = Barrier::new(clients + 1);
    let (model_id, dim) = (config.embedding.model_id.clone(), config.embedding.dim);
    std::thread::scope(|s| {
        let threads: Vec<_> = (0..clients)
            .map(|c| {
                let (start, model_id) = (&start, model_id.clone());
                s.spawn(move || -> Result<Vec<f64>> {
                    let opened = Engine::open(data, config.clone()).and_then(|mut e| {
                        e.share_embedder(Arc::new(HashEmbedder::new(model_id, dim)));
                        let mut warm = SearchRequest::new(&queries[0], config);
                        warm.mode = mode;
                        e.search(&warm).map(|_| e)
                    });
                    start.wait();
                    let mut engine = opened?;
                    let mut ms = Vec::with_capacity(queries.len());
                    // Each client starts at another query, so they do not ask in lockstep.
                    for q in queries.iter().cycle().skip(c * 13).take(queries.len()) {
                        let mut req = SearchRequest::new(q, config);
                        req.mode = mode;
                        let t = Instant::now();
                        engine.search(&req)?;
                        ms.push(t.elapsed().as_secs_f64() * 1000.0);
                    }
                    Ok(ms)
                })
            })
            .collect();
        start.wait();
        let t = Instant::now();
        let mut all = Vec::new();
        for th in threads {
            all.extend(
                th.join()
                    .map_err(|_| anyhow::anyhow!("a client panicked"))??,
            );
        }
        Ok((all, t.elapsed().as_secs_f64()))
    })
}
