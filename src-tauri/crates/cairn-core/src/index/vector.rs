//! Vector index over chunk embeddings: usearch HNSW with cosine distance.
//!
//! Saved as `vectors.usearch` plus `vectors.json` (model id, dimension, catalog generation).
//! Both are replaced durably (temporary file, fsync, rename, fsync of the folder), so a crash
//! leaves the previous state or the new one.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use usearch::{Index, IndexOptions, MetricKind, ScalarKind};

use super::Hit;
use crate::catalog::{ChunkFilter, ChunkId};
use crate::durable;
use crate::error::{Error, Result};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
struct Meta {
    model_id: String,
    dim: usize,
    generation: u64,
}

/// The usearch index and what it reflects.
pub struct VectorIndex {
    index: Index,
    meta: Meta,
    dir: PathBuf,
    dirty: bool,
}

fn verr(e: impl std::fmt::Display) -> Error {
    Error::VectorIndex(e.to_string())
}

fn new_index(dim: usize) -> Result<Index> {
    let options = IndexOptions {
        dimensions: dim,
        metric: MetricKind::Cos,
        quantization: ScalarKind::F32,
        connectivity: 0,
        expansion_add: 0,
        expansion_search: 0,
        multi: false,
    };
    let index = Index::new(&options).map_err(verr)?;
    index.reserve(1024).map_err(verr)?;
    Ok(index)
}

impl VectorIndex {
    fn index_path(dir: &Path) -> PathBuf {
        dir.join("vectors.usearch")
    }
    fn meta_path(dir: &Path) -> PathBuf {
        dir.join("vectors.json")
    }

    /// Opens the saved index in `dir` if it matches `model_id`/`dim`, else an empty one at
    /// generation 0 (which the engine then rebuilds from the catalog).
    pub fn open(dir: &Path, model_id: &str, dim: usize) -> Result<VectorIndex> {
        let fresh = || -> Result<VectorIndex> {
            Ok(VectorIndex {
                index: new_index(dim)?,
                meta: Meta {
                    model_id: model_id.to_owned(),
                    dim,
                    generation: 0,
                },
                dir: dir.to_owned(),
                dirty: false,
            })
        };
        let meta: Option<Meta> = std::fs::read(Self::meta_path(dir))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok());
        let Some(meta) = meta else {
            return fresh();
        };
        if meta.model_id != model_id || meta.dim != dim || !Self::index_path(dir).exists() {
            return fresh();
        }
        let index = new_index(dim)?;
        match index.load(&Self::index_path(dir).to_string_lossy()) {
            Ok(()) => Ok(VectorIndex {
                index,
                meta,
                dir: dir.to_owned(),
                dirty: false,
            }),
            Err(e) => {
                tracing::warn!("vector index unreadable, it will be rebuilt: {e}");
                fresh()
            }
        }
    }

    /// The catalog generation this index reflects (as last saved or rebuilt).
    pub fn generation(&self) -> u64 {
        self.meta.generation
    }

    pub fn len(&self) -> usize {
        self.index.size()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Removes every vector (before a rebuild).
    pub fn clear(&mut self) -> Result<()> {
        self.index = new_index(self.meta.dim)?;
        self.meta.generation = 0;
        self.dirty = true;
        Ok(())
    }

    /// Adds (or replaces) a chunk's vector.
    pub fn add(&mut self, id: ChunkId, vector: &[f32]) -> Result<()> {
        if vector.len() != self.meta.dim {
            return Err(Error::VectorIndex(format!(
                "vector of dimension {} for an index of dimension {}",
                vector.len(),
                self.meta.dim
            )));
        }
        if self.index.contains(id.key()) {
            self.index.remove(id.key()).map_err(verr)?;
        }
        if self.index.size() + 1 >= self.index.capacity() {
            let want = (self.index.capacity() * 2).max(1024);
            self.index.reserve(want).map_err(verr)?;
        }
        self.index.add(id.key(), vector).map_err(verr)?;
        self.dirty = true;
        Ok(())
    }

    /// Removes a chunk's vector if present.
    pub fn remove(&mut self, id: ChunkId) -> Result<()> {
        if self.index.contains(id.key()) {
            self.index.remove(id.key()).map_err(verr)?;
            self.dirty = true;
        }
        Ok(())
    }

    /// Nearest chunks by cosine similarity (score = 1 - distance, in [-1, 1]).
    pub fn search(&self, query: &[f32], limit: usize, filter: &ChunkFilter) -> Result<Vec<Hit>> {
        if self.index.size() == 0 || limit == 0 {
            return Ok(Vec::new());
        }
        self.index.change_expansion_search(limit.clamp(64, 1024));
        let matches = match filter {
            ChunkFilter::All => self.index.search(query, limit),
            _ => self
                .index
                .filtered_search(query, limit, |key| filter.admits(ChunkId::from_key(key))),
        }
        .map_err(verr)?;
        Ok(matches
            .keys
            .iter()
            .zip(matches.distances.iter())
            .map(|(k, d)| Hit {
                chunk: ChunkId::from_key(*k),
                score: 1.0 - d,
            })
            .collect())
    }

    /// Saves the index if it changed, recording `generation`. Each file is replaced durably and
    /// atomically (`durable`): written beside it, fsynced, renamed, the folder fsynced; the
    /// metadata goes last, so after a crash between the two the generations differ and the
    /// writer rebuilds. A failure (a full disk) leaves no temporary file.
    pub fn save(&mut self, generation: u64) -> Result<()> {
        if !self.dirty && generation == self.meta.generation {
            return Ok(());
        }
        std::fs::create_dir_all(&self.dir).map_err(|e| Error::io("creating", &self.dir, e))?;
        let path = Self::index_path(&self.dir);
        let tmp = durable::tmp_path(&path);
        if let Err(e) = self.write_index(&tmp) {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
        durable::commit(&tmp, &path).map_err(|e| Error::io("saving", &path, e))?;
        let meta = Meta {
            generation,
            ..self.meta.clone()
        };
        let meta_path = Self::meta_path(&self.dir);
        let bytes = serde_json::to_vec(&meta).map_err(verr)?;
        durable::write(&meta_path, &bytes).map_err(|e| Error::io("saving", &meta_path, e))?;
        self.meta = meta;
        self.dirty = false;
        Ok(())
    }

    /// Writes the usearch file to `tmp`. usearch reports a failed write without its cause and
    /// ignores the error of its final flush (where a full disk shows), so the size written is
    /// checked, and a failure with too little room left is reported as a full disk.
    fn write_index(&self, tmp: &Path) -> Result<()> {
        let expected = self.index.serialized_length() as u64;
        let full = |detail: String| {
            let source = std::io::Error::new(std::io::ErrorKind::StorageFull, detail);
            Error::io("writing", tmp, source)
        };
        let saved = self.index.save(&tmp.to_string_lossy());
        let written = std::fs::metadata(tmp).map(|m| m.len()).unwrap_or(0);
        if let Err(e) = saved {
            let _ = std::fs::remove_file(tmp);
            // The temporary file is gone: the room now free is what the write had.
            if durable::lacks_room(&self.dir, expected) {
                return Err(full(format!(
                    "no room for the vector index ({expected} bytes)"
                )));
            }
            return Err(Error::VectorIndex(format!("saving {}: {e}", tmp.display())));
        }
        if written < expected {
            return Err(full(format!(
                "only {written} of {expected} bytes reached the disk"
            )));
        }
        Ok(())
    }

    /// Removes temporary files a killed writer left in `dir` (call holding the writer lock).
    pub(crate) fn remove_stale_tmp(dir: &Path) {
        durable::remove_stale_tmp(dir, |name| {
            durable::is_tmp_of(name, "vectors.usearch")
                || durable::is_tmp_of(name, "vectors.json")
                // The names earlier builds used.
                || name == "vectors.usearch.tmp"
                || name == "vectors.json.tmp"
        });
    }

    /// Bytes the saved index uses on disk.
    pub fn bytes_on_disk(&self) -> u64 {
        std::fs::metadata(Self::index_path(&self.dir))
            .map(|m| m.len())
            .unwrap_or(0)
    }
}
