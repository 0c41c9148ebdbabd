//! `cairn migrate --to URL|DIR`: copying a library between a data directory and a team
//! library without re-embedding (`cairn_core::engine::migrate`).

use std::path::Path;

use anyhow::Result;
use cairn_core::config::Config;
use cairn_core::engine::migrate as run;
use cairn_core::store::copy::CopyProgress;

/// Rows between two progress lines of a large table.
const EVERY: u64 = 10_000;

/// `cairn migrate --to URL|DIR [--json]`: progress on stderr, the summary on stdout.
pub fn migrate(data_dir: &Path, config: Config, to: &str, json: bool) -> Result<()> {
    let mut last = 0u64;
    let mut progress = |p: &CopyProgress| {
        if p.total == 0 {
            return;
        }
        if p.done == 0 {
            last = 0;
        } else if p.done == p.total || p.done >= last + EVERY {
            last = p.done;
            eprintln!("copied {}/{} {}", p.done, p.total, p.noun);
        }
    };
    let report = run(data_dir, &config, to, &mut progress)?;
    eprintln!(
        "rebuilt the indexes of {}: {} passages keyword-searchable, {} in the vector index",
        report.to, report.text_index_chunks, report.vector_index_chunks
    );
    if json {
        println!("{}", serde_json::to_string(&report)?);
        return Ok(());
    }
    println!(
        "copied {} documents ({} versions), {} passages, {} cached vectors and {} audit records \
         from {} to {} in {:.1} s, indexes rebuilt in {:.1} s; nothing was embedded",
        report.documents,
        report.versions,
        report.passages,
        report.cached_vectors,
        report.audit_records,
        report.from,
        report.to,
        report.copy_seconds,
        report.index_seconds
    );
    if report.embed_backlog > 0 {
        println!(
            "{} passages had no vector in the source: `cairn index` on the copy embeds them",
            report.embed_backlog
        );
    }
    if !report.dropped_collections.is_empty() {
        println!(
            "note: the collections {} are not kept: everyone who opens {} reads every passage",
            report.dropped_collections.join(", "),
            report.to
        );
    }
    Ok(())
}
