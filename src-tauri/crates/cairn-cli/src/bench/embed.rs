//! `cairn bench embed`: Cairn's embedding stage on a file of passages, for the comparison with
//! bare ONNX Runtime on the same passages (`scripts/bench/ort_embed.py`, run by
//! `scripts/bench.sh`). Both sides read the same JSONL, truncate at the configured
//! `max_tokens`, use the same batch size and threads, and count the same tokens.

use std::io::BufRead;
use std::time::Instant;

use anyhow::{Context, Result};
use cairn_core::config::Config;
use cairn_core::embed::{Embedder, OnnxEmbedder};
use serde::Serialize;

use crate::args::BenchEmbedArgs;

/// What one run measured.
#[derive(Debug, Serialize)]
struct EmbedFigures {
    engine: &'static str,
    passages: usize,
    /// Tokens the model saw (after truncation, with the special tokens), summed over passages.
    tokens: usize,
    seconds: f64,
    tokens_per_s: f64,
    passages_per_s: f64,
    /// CPU time of the whole process over the timed runs (every thread), divided by the runs:
    /// steadier than wall time when other programs share the cores.
    cpu_seconds: Option<f64>,
    batch_size: usize,
    batch_tokens: usize,
    max_tokens: usize,
    /// 0: ONNX Runtime's default (one per core).
    threads: usize,
    runs: usize,
}

/// Reads `{"text": …}` lines (other keys are ignored).
fn read_passages(path: &std::path::Path, limit: Option<usize>) -> Result<Vec<String>> {
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut out = Vec::new();
    for (i, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let v: serde_json::Value = serde_json::from_str(&line)
            .with_context(|| format!("{} line {}", path.display(), i + 1))?;
        let text = v["text"]
            .as_str()
            .with_context(|| format!("{} line {}: no \"text\"", path.display(), i + 1))?;
        out.push(text.to_owned());
        if limit.is_some_and(|l| out.len() >= l) {
            break;
        }
    }
    Ok(out)
}

/// Runs `cairn bench embed`.
pub fn bench_embed(config: Config, args: &BenchEmbedArgs) -> Result<()> {
    cairn_core::embed::disable_ort_telemetry();
    let cfg = &config.embedding;
    let passages = read_passages(&args.passages, args.limit)?;
    anyhow::ensure!(
        !passages.is_empty(),
        "{} holds no passages",
        args.passages.display()
    );
    let resolved = cairn_core::embed::resolve(cfg)?;
    let embedder = OnnxEmbedder::load(cfg, &resolved)?;
    let refs: Vec<&str> = passages.iter().map(String::as_str).collect();
    let tokens: usize = embedder.passage_tokens(&refs)?.iter().sum();
    // Warm-up: the first runs allocate ONNX Runtime's arena for each shape.
    embedder.embed_passages(&refs[..refs.len().min(cfg.batch_size * 2)])?;
    let runs = args.runs.max(1);
    let mut times = Vec::with_capacity(runs);
    let cpu_before = process_cpu_seconds();
    for _ in 0..runs {
        let t = Instant::now();
        let vectors = embedder.embed_passages(&refs)?;
        times.push(t.elapsed().as_secs_f64());
        anyhow::ensure!(vectors.len() == refs.len(), "embedder lost passages");
    }
    let cpu_seconds = cpu_before
        .zip(process_cpu_seconds())
        .map(|(a, b)| (b - a) / runs as f64);
    times.sort_by(f64::total_cmp);
    let seconds = times[times.len() / 2];
    let figures = EmbedFigures {
        engine: "cairn",
        passages: passages.len(),
        tokens,
        seconds,
        tokens_per_s: tokens as f64 / seconds,
        passages_per_s: passages.len() as f64 / seconds,
        cpu_seconds,
        batch_size: cfg.batch_size,
        batch_tokens: cfg.batch_tokens,
        max_tokens: cfg.max_tokens,
        threads: cfg.threads,
        runs,
    };
    if args.json {
        println!("{}", serde_json::to_string(&figures)?);
    } else {
        println!(
            "cairn embed: {} passages, {} tokens in {:.2} s (median of {}): {:.0} tokens/s, {:.1} passages/s (batch {} texts or {} padded tokens, max {} tokens, threads {})",
            figures.passages,
            figures.tokens,
            figures.seconds,
            runs,
            figures.tokens_per_s,
            figures.passages_per_s,
            figures.batch_size,
            figures.batch_tokens,
            figures.max_tokens,
            if cfg.threads == 0 { "default".to_owned() } else { cfg.threads.to_string() }
        );
    }
    Ok(())
}

/// User + system CPU seconds of this process so far, every thread included (Linux).
fn process_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces) start at state, field 3.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i)?.parse::<f64>().ok();
    // utime and stime are fields 14 and 15, in clock ticks (100 per second on Linux).
    Some((ticks(11)? + ticks(12)?) / 100.0)
}
