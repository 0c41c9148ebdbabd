//! `cairn bench search`: query latency (p50/p95/p99) of bm25, dense and hybrid search at a
//! given number of passages, on a generated folder (one pseudo-random note per passage) with
//! the model-free [`HashEmbedder`]: the text and vector indexes are as big as a real library's
//! of that size, without hours of embedding. Run at SciFact's size and 10× and 100× of it to see
//! how latency grows (scripts/bench.sh).

use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use cairn_core::config::{Config, SearchMode};
use cairn_core::embed::HashEmbedder;
use cairn_core::engine::{IndexReport, SearchRequest, Writer};

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
    for (name, mode) in [
        ("bm25", SearchMode::Bm25),
        ("dense", SearchMode::Dense),
        ("hybrid", SearchMode::Hybrid),
    ] {
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
    let status = engine.status()?;
    let out = serde_json::json!({
        "passages": report.chunks_added,
        "files": report.files_seen,
        "queries": a.queries,
        "generate_seconds": generate_s,
        "keyword_index_seconds": keyword_s,
        "vector_index_seconds": vectors_s,
        "latency_ms": modes,
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
