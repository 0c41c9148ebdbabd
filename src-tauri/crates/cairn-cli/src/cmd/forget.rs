//! `cairn forget PATH` and `cairn unforget PATH`: erasing a document (or a folder's documents)
//! from every store, and letting a forgotten path be indexed again.

use std::path::Path;

use anyhow::Result;
use cairn_core::config::Config;
use cairn_core::engine::Writer;

use crate::print::clean_path;

/// `cairn forget PATH [--json]`.
pub fn forget(data_dir: &Path, config: Config, path: &Path, json: bool) -> Result<()> {
    let mut engine = Writer::open(data_dir, config)?;
    let r = engine.forget(path)?;
    if json {
        println!("{}", serde_json::to_string(&r)?);
        return Ok(());
    }
    let e = &r.erased;
    let target = clean_path(&r.target);
    println!(
        "forgot {target}: {} document(s), {} version(s), {} passage(s), {} cached vector(s), \
         {} problem row(s), {} tag(s) or deprecation(s); {} audit record(s) redacted",
        e.documents.len(),
        e.versions,
        e.passages,
        e.cached_vectors,
        e.problems,
        e.marks,
        e.audit_records
    );
    for d in &e.documents {
        println!("  erased {}", clean_path(d));
    }
    if r.folder_removed {
        println!("{target} is no longer followed; `cairn add` it to index it again");
    }
    if r.excluded {
        println!(
            "{target} stays out of the index while its folder is followed; \
             `cairn unforget {target}` lets it back"
        );
    }
    if !r.log_truncated {
        println!(
            "note: another Cairn process (the app, `cairn watch`, an MCP server) was reading, \
             so the catalog's write-ahead log keeps old pages until that process closes"
        );
    }
    Ok(())
}

/// `cairn unforget PATH`.
pub fn unforget(data_dir: &Path, config: Config, path: &Path) -> Result<()> {
    let mut engine = Writer::open(data_dir, config)?;
    let p = engine.unforget(path)?;
    println!("{} may be indexed again: run `cairn index`", clean_path(&p));
    Ok(())
}
