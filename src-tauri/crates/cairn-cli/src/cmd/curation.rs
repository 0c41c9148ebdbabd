//! `cairn history`, `cairn deprecate`, `cairn undeprecate`, `cairn tag`, `cairn untag` and
//! `cairn check`: looking after what is in the collection.

use std::path::{Path, PathBuf};

use anyhow::Result;
use cairn_core::config::Config;
use cairn_core::engine::{Engine, Writer};

use crate::print;

/// `cairn history PATH [--json]`.
pub fn history(data_dir: &Path, config: Config, path: &Path, json: bool) -> Result<()> {
    let engine = Engine::open(data_dir, config)?;
    let versions = engine.history(path)?;
    if json {
        println!("{}", serde_json::to_string(&versions)?);
    } else {
        print::print_history(path, &versions);
    }
    Ok(())
}

/// `cairn deprecate [PATH | --pattern GLOB] [--superseded-by DOC] --reason WHY`.
pub fn deprecate(
    data_dir: &Path,
    config: Config,
    path: Option<PathBuf>,
    pattern: Option<String>,
    superseded_by: Option<PathBuf>,
    reason: &str,
) -> Result<()> {
    let mut engine = Writer::open(data_dir, config)?;
    match (path, pattern) {
        (_, Some(p)) => {
            engine.deprecate_pattern(&p, reason)?;
            println!("deprecated every path matching {p}: {reason}");
        }
        (Some(path), None) => {
            let t = engine.deprecate(&path, superseded_by.as_deref(), reason)?;
            println!("deprecated {}: {reason}", crate::print::clean_path(&t));
        }
        (None, None) => anyhow::bail!("name a document or folder, or give --pattern"),
    }
    Ok(())
}

/// `cairn undeprecate TARGET`.
pub fn undeprecate(data_dir: &Path, config: Config, target: &str) -> Result<()> {
    let mut engine = Writer::open(data_dir, config)?;
    engine.undeprecate(target)?;
    println!("{target} is no longer deprecated");
    Ok(())
}

/// `cairn tag PATH TAG…`.
pub fn tag(data_dir: &Path, config: Config, path: &Path, tags: &[String]) -> Result<()> {
    let mut engine = Writer::open(data_dir, config)?;
    let t = engine.tag(path, tags)?;
    println!(
        "tagged {} with {}",
        crate::print::clean_path(&t),
        tags.join(", ")
    );
    Ok(())
}

/// `cairn untag PATH [TAG…]`.
pub fn untag(data_dir: &Path, config: Config, path: &Path, tags: &[String]) -> Result<()> {
    let mut engine = Writer::open(data_dir, config)?;
    let n = engine.untag(path, tags)?;
    println!("removed {n} tag(s) from {}", crate::print::clean_path(path));
    Ok(())
}

/// `cairn check [--json]`: exits with code 3 when the catalog or an index is not sound.
pub fn check(data_dir: &Path, config: Config, json: bool) -> Result<()> {
    let mut engine = Engine::open(data_dir, config)?;
    let report = engine.check()?;
    if json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print::print_check(&report);
    }
    if !report.ok {
        std::process::exit(3);
    }
    Ok(())
}
