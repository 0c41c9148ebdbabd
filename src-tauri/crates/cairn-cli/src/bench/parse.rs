//! `cairn bench parse`: how fast files are parsed, per kind (files/s, MB/s), in this process,
//! as a parse worker runs them, then the OCR phase's recognition of what waits for it. The figures of docs/benchmarks.md.

use std::collections::BTreeMap;
use std::time::Instant;

use anyhow::{Context, Result};

use crate::args::BenchParseArgs;

/// Parses like the keyword phase, then recognises what waits for OCR like the OCR phase:
/// recognised pages replace the empty ones, their text follows the text layer's.
fn parse_and_recognise(
    path: &std::path::Path,
    bytes: &[u8],
) -> cairn_core::Result<cairn_core::parse::ParsedDoc> {
    let mut doc = cairn_core::parse::parse(path, bytes)?;
    for page in std::mem::take(&mut doc.ocr_pages) {
        let recognised = cairn_core::parse::ocr::recognise(bytes, page).map_err(|reason| {
            cairn_core::Error::Parse {
                path: path.to_owned(),
                reason,
            }
        })?;
        let base = doc.text.len() + 2;
        doc.text.push_str("\n\n");
        doc.text.push_str(&recognised.text);
        for p in recognised.pages {
            doc.pages.retain(|old| old.number != p.number);
            doc.pages.push(cairn_core::parse::Page {
                number: p.number,
                start: base + p.start,
                end: base + p.end,
            });
        }
    }
    Ok(doc)
}

/// Runs `cairn bench parse`.
pub fn bench_parse(args: &BenchParseArgs) -> Result<()> {
    let repeat = args.repeat.max(1);
    // kind → (files, bytes, seconds, pages)
    let mut kinds: BTreeMap<String, (usize, u64, f64, usize)> = BTreeMap::new();
    let mut files = Vec::new();
    for path in &args.files {
        let bytes =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        let start = Instant::now();
        let mut result = None;
        for _ in 0..repeat {
            result = Some(parse_and_recognise(path, &bytes));
        }
        let secs = start.elapsed().as_secs_f64() / repeat as f64;
        let shown = cairn_core::paths::escaped(path);
        match result.expect("repeat >= 1") {
            Ok(doc) => {
                let e = kinds.entry(doc.kind.as_str().to_owned()).or_default();
                e.0 += 1;
                e.1 += bytes.len() as u64;
                e.2 += secs;
                e.3 += doc.pages.len();
                files.push(serde_json::json!({
                    "path": shown, "kind": doc.kind.as_str(), "bytes": bytes.len(),
                    "seconds": secs, "pages": doc.pages.len(), "sections": doc.sections.len(),
                    "text": args.text.then_some(doc.text),
                }));
            }
            Err(e) => files.push(serde_json::json!({
                "path": shown, "bytes": bytes.len(), "seconds": secs, "error": e.to_string(),
            })),
        }
    }
    let per_kind: Vec<serde_json::Value> = kinds
        .iter()
        .map(|(kind, (n, bytes, secs, pages))| {
            let secs = secs.max(1e-9);
            serde_json::json!({
                "kind": kind, "files": n, "bytes": bytes, "seconds": secs, "pages": pages,
                "files_per_s": *n as f64 / secs,
                "mb_per_s": *bytes as f64 / 1_048_576.0 / secs,
                "pages_per_s": *pages as f64 / secs,
            })
        })
        .collect();
    if args.json {
        let out = serde_json::json!({ "kinds": per_kind, "files": files, "repeat": repeat });
        println!("{}", serde_json::to_string(&out)?);
        return Ok(());
    }
    println!(
        "{:<14} {:>6} {:>10} {:>10} {:>9} {:>9}",
        "kind", "files", "files/s", "MB/s", "pages", "pages/s"
    );
    for k in &per_kind {
        println!(
            "{:<14} {:>6} {:>10.1} {:>10.2} {:>9} {:>9.2}",
            k["kind"].as_str().unwrap_or(""),
            k["files"],
            k["files_per_s"].as_f64().unwrap_or(0.0),
            k["mb_per_s"].as_f64().unwrap_or(0.0),
            k["pages"],
            k["pages_per_s"].as_f64().unwrap_or(0.0),
        );
    }
    for f in files.iter().filter(|f| f.get("error").is_some()) {
        println!(
            "failed: {} ({})",
            f["path"].as_str().unwrap_or(""),
            f["error"].as_str().unwrap_or("")
        );
    }
    Ok(())
}
