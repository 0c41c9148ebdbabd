//! `cairn add`, `cairn index`, `cairn status` and `cairn reindex`: the collection's folders
//! and the indexing runs that keep it searchable.

use std::path::Path;

use anyhow::Result;
use cairn_core::config::Config;
use cairn_core::engine::{Engine, IndexReport, Writer};

use crate::interrupt::cancel_flag;
use crate::print;
use crate::progress::Bar;

/// `cairn add DIR [--index]`.
pub fn add(data_dir: &Path, config: Config, dir: &Path, index: bool) -> Result<()> {
    let mut engine = Writer::open(data_dir, config)?;
    let abs = engine.add_folder(dir)?;
    println!("added {}", crate::print::clean_path(&abs));
    if index {
        run_index(&mut engine, false, false)?;
    } else {
        println!("run `cairn index` to index it");
    }
    Ok(())
}

/// `cairn index [--no-embed] [--json]`.
pub fn index(data_dir: &Path, config: Config, no_embed: bool, json: bool) -> Result<()> {
    let mut engine = Writer::open(data_dir, config)?;
    run_index(&mut engine, no_embed, json)
}

/// `cairn status [--json]`.
pub fn status(data_dir: &Path, config: Config, json: bool) -> Result<()> {
    let mut engine = Engine::open(data_dir, config)?;
    let status = engine.status()?;
    if json {
        println!("{}", serde_json::to_string_pretty(&status)?);
    } else {
        print::print_status(&status);
    }
    Ok(())
}

/// `cairn reindex [--embeddings]`.
pub fn reindex(data_dir: &Path, config: Config, embeddings: bool) -> Result<()> {
    if embeddings {
        Writer::adopt_configured_model(data_dir, &config)?;
    }
    let mut engine = Writer::open(data_dir, config)?;
    engine.rebuild_indexes()?;
    let s = engine.status()?;
    println!(
        "rebuilt: {} passages in the text index, {} in the vector index",
        s.text_index_chunks, s.vector_index_chunks
    );
    if s.embed_backlog > 0 {
        println!(
            "{} passages need embedding: run `cairn index`",
            s.embed_backlog
        );
    }
    Ok(())
}

/// Indexes every folder with a progress bar (Ctrl-C stops after the current batch), then
/// prints the run's report.
pub fn run_index(engine: &mut Writer, no_embed: bool, json: bool) -> Result<()> {
    let cancel = cancel_flag();
    let bar = Bar::new(!json);
    let report: IndexReport = if no_embed {
        let mut report = engine.index_text(&mut |p| bar.update(p), &cancel)?;
        if !report.cancelled {
            engine.recognise_backlog(&mut |p| bar.update(p), &cancel, &mut report)?;
        }
        report
    } else {
        engine.index(&mut |p| bar.update(p), &cancel)?
    };
    bar.finish();
    if json {
        println!("{}", serde_json::to_string(&report)?);
        return Ok(());
    }
    print::print_index_report(&report);
    Ok(())
}
