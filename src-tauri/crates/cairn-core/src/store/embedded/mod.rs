//! The embedded store: a data directory holding `catalog.sqlite3` (SQLite, WAL), `text/`
//! (tantivy) and `vectors.usearch` + `vectors.json` (usearch). The only code that opens the
//! concrete [`Catalog`], [`TextIndex`] and [`VectorIndex`]; everything else reaches them
//! through the traits. `catalog.rs` implements the catalog traits over [`Catalog`]'s own
//! methods; the retrievers' implementations are here.

use std::path::Path;

mod catalog;
pub(crate) mod copy;

use super::{CatalogStore, Hit, KeywordRetriever, VectorRetriever};
use crate::catalog::{Catalog, ChunkFilter, ChunkId, ChunkRecord};
use crate::error::{Error, Result};
use crate::index::text::TextIndex;
use crate::index::vector::VectorIndex;

/// A library's catalog and keyword retriever, as the engine holds them.
pub struct Opened {
    pub catalog: Box<dyn CatalogStore>,
    pub text: Box<dyn KeywordRetriever>,
}

/// Opens the store in `data_dir` (creating it if needed). `writable`: the caller holds the
/// writer lock; temporary files a killed writer left are removed and the keyword index is
/// opened for writing. A reader's keyword index is never created, wiped or rebuilt.
///
/// The engine's `Engine::open` and `Writer::open` call this (the writer after taking
/// `writer.lock`); it is public for the storage contract tests (`tests/store.rs`).
pub fn open(data_dir: &Path, writable: bool) -> Result<Opened> {
    std::fs::create_dir_all(data_dir).map_err(|e| Error::io("creating", data_dir, e))?;
    if writable {
        VectorIndex::remove_stale_tmp(data_dir);
    }
    let catalog = open_catalog(data_dir)?;
    let text_dir = data_dir.join("text");
    let text = if writable {
        TextIndex::open(&text_dir, true)?
    } else {
        TextIndex::open_read(&text_dir)?
    };
    Ok(Opened {
        catalog,
        text: Box::new(text),
    })
}

/// The catalog alone (creating and migrating it as needed).
pub(crate) fn open_catalog(data_dir: &Path) -> Result<Box<dyn CatalogStore>> {
    Ok(Box::new(Catalog::open(&data_dir.join("catalog.sqlite3"))?))
}

/// The vector retriever as saved, or an empty one at generation 0 when there is none or it was
/// built for another model or dimension.
pub fn open_vectors(
    data_dir: &Path,
    model_id: &str,
    dim: usize,
) -> Result<Box<dyn VectorRetriever>> {
    Ok(Box::new(VectorIndex::open(data_dir, model_id, dim)?))
}

/// Drops the saved vector retriever (switching models: the next writer rebuilds it).
pub(crate) fn drop_vectors(data_dir: &Path) {
    let _ = std::fs::remove_file(data_dir.join("vectors.json"));
}

/// A keyword retriever in memory, for scoring a past state's passages once.
pub(crate) fn scratch_keyword() -> Result<Box<dyn KeywordRetriever>> {
    Ok(Box::new(TextIndex::in_ram()?))
}

impl KeywordRetriever for TextIndex {
    fn search(&self, query: &str, limit: usize, filter: &ChunkFilter) -> Result<Vec<Hit>> {
        TextIndex::search(self, query, limit, filter)
    }
    fn len(&self) -> u64 {
        TextIndex::len(self)
    }
    fn generation(&self) -> Result<u64> {
        TextIndex::generation(self)
    }
    fn refresh(&self) -> Result<()> {
        TextIndex::refresh(self)
    }
    fn add(&mut self, chunk: &ChunkRecord) -> Result<()> {
        TextIndex::add(self, chunk)
    }
    fn remove(&mut self, id: ChunkId) -> Result<()> {
        TextIndex::remove(self, id)
    }
    fn clear(&mut self) -> Result<()> {
        TextIndex::clear(self)
    }
    fn commit(&mut self, generation: u64) -> Result<()> {
        TextIndex::commit(self, generation)
    }
    fn collect_garbage(&mut self) -> Result<()> {
        TextIndex::collect_garbage(self)
    }
    fn disk_bytes(&self) -> u64 {
        TextIndex::bytes_on_disk(self)
    }
}

impl VectorRetriever for VectorIndex {
    fn search(&self, query: &[f32], limit: usize, filter: &ChunkFilter) -> Result<Vec<Hit>> {
        VectorIndex::search(self, query, limit, filter)
    }
    fn len(&self) -> u64 {
        VectorIndex::len(self) as u64
    }
    fn generation(&self) -> u64 {
        VectorIndex::generation(self)
    }
    fn add(&mut self, id: ChunkId, vector: &[f32]) -> Result<()> {
        VectorIndex::add(self, id, vector)
    }
    fn remove(&mut self, id: ChunkId) -> Result<()> {
        VectorIndex::remove(self, id)
    }
    fn clear(&mut self) -> Result<()> {
        VectorIndex::clear(self)
    }
    fn commit(&mut self, generation: u64) -> Result<()> {
        VectorIndex::save(self, generation)
    }
    fn disk_bytes(&self) -> u64 {
        VectorIndex::bytes_on_disk(self)
    }
}

#[cfg(test)]
mod tests {
    /// The layering rule "the engine reaches storage only through the seam": outside this
    /// module (and the concrete types' own files), no code of the crate opens a concrete
    /// store. Unit tests (after `#[cfg(test)]`) may.
    #[test]
    fn only_the_embedded_store_opens_the_concrete_stores() {
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = vec![src.clone()];
        let mut offenders = Vec::new();
        let mut checked = 0;
        while let Some(p) = files.pop() {
            if p.is_dir() {
                files.extend(std::fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
                continue;
            }
            let rel = p
                .strip_prefix(&src)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            let own = rel.starts_with("store/embedded/")
                || rel.starts_with("catalog/")
                || rel.starts_with("index/");
            if own || !rel.ends_with(".rs") {
                continue;
            }
            checked += 1;
            let text = std::fs::read_to_string(&p).unwrap();
            // Code only: comments may name the types, unit tests may open them.
            let code: String = text
                .split("#[cfg(test)]")
                .next()
                .unwrap_or("")
                .lines()
                .filter(|l| !l.trim_start().starts_with("//"))
                .flat_map(|l| [l, "\n"])
                .collect();
            // A needle ending in a name matches the whole name (`Catalog`, not `CatalogStats`).
            let uses = |needle: &str| {
                code.match_indices(needle).any(|(at, _)| {
                    let next = code[at + needle.len()..].chars().next();
                    needle.ends_with(':') || !next.is_some_and(|c| c.is_alphanumeric() || c == '_')
                })
            };
            for needle in [
                "catalog::Catalog",
                "Catalog::open",
                "text::TextIndex",
                "TextIndex::",
                "vector::VectorIndex",
                "VectorIndex::",
            ] {
                if uses(needle) {
                    offenders.push(format!("{rel}: {needle}"));
                }
            }
        }
        assert!(
            checked > 50,
            "only {checked} source files found under {src:?}"
        );
        assert!(
            offenders.is_empty(),
            "concrete stores opened outside store::embedded: {offenders:?}"
        );
    }
}
