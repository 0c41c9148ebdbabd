//! Opening a data directory: the writer lock, model checks, lazily loaded model parts (token
//! counter, embedder, vector index), repairing lagging indexes, and `status`.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use super::{file_size, Access, Engine};
use crate::catalog::{Catalog, Generation};
use crate::config::Config;
use crate::embed::{Embedder, OnnxEmbedder, TokenCounter};
use crate::error::{Error, Result};
use crate::index::text::TextIndex;
use crate::index::vector::VectorIndex;
use serde::Serialize;

/// Status for `cairn status`.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub data_dir: PathBuf,
    pub folders: Vec<PathBuf>,
    pub stats: crate::catalog::CatalogStats,
    pub problems: Vec<crate::catalog::Problem>,
    pub model_id: String,
    pub embed_backlog: u64,
    pub embed_rate: Option<f64>,
    pub embed_eta_seconds: Option<f64>,
    pub catalog_bytes: u64,
    pub text_index_bytes: u64,
    pub vector_index_bytes: u64,
    pub text_index_chunks: u64,
    pub vector_index_chunks: u64,
    pub deprecations: Vec<crate::catalog::Deprecation>,
    pub conflicts: Vec<crate::catalog::Conflict>,
    pub tags: Vec<(PathBuf, String)>,
}

impl Engine {
    /// Opens (creating if needed) the data directory with `config`.
    pub fn open(data_dir: &Path, config: Config, access: Access) -> Result<Engine> {
        std::fs::create_dir_all(data_dir).map_err(|e| Error::io("creating", data_dir, e))?;
        let lock = match access {
            Access::Write => {
                let path = data_dir.join("writer.lock");
                let file = File::create(&path).map_err(|e| Error::io("creating", &path, e))?;
                match file.try_lock() {
                    Ok(()) => Some(file),
                    Err(std::fs::TryLockError::WouldBlock) => {
                        return Err(Error::Locked(data_dir.to_owned()))
                    }
                    Err(std::fs::TryLockError::Error(e)) => {
                        return Err(Error::io("locking", path, e))
                    }
                }
            }
            Access::ReadOnly => None,
        };
        let catalog = Catalog::open(&data_dir.join("catalog.sqlite3"))?;
        let text = TextIndex::open(&data_dir.join("text"), access == Access::Write)?;
        let mut engine = Engine {
            data_dir: data_dir.to_owned(),
            config,
            catalog,
            text,
            vectors: None,
            embedder: OnceLock::new(),
            counter: OnceLock::new(),
            access,
            _lock: lock,
        };
        engine.check_model()?;
        if access == Access::Write {
            engine.repair_text()?;
        }
        Ok(engine)
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    fn model_id(&self) -> &str {
        &self.config.embedding.model_id
    }

    /// Refuses to mix vectors of two models in one index.
    fn check_model(&self) -> Result<()> {
        match self.catalog.index_model()? {
            Some(stored) if stored != self.config.embedding.model_id => Err(Error::ModelMismatch {
                stored,
                configured: self.config.embedding.model_id.clone(),
            }),
            Some(_) => Ok(()),
            None if self.access == Access::Write => {
                self.catalog
                    .set_meta("embedding_model", &self.config.embedding.model_id)?;
                self.catalog
                    .set_meta("embedding_dim", &self.config.embedding.dim.to_string())
            }
            None => Ok(()),
        }
    }

    /// Switches the collection to the configured embedding model (drops the vector index;
    /// vectors are re-embedded by the next index run, cached ones are reused).
    pub fn adopt_configured_model(data_dir: &Path, config: &Config) -> Result<()> {
        let catalog = Catalog::open(&data_dir.join("catalog.sqlite3"))?;
        catalog.set_meta("embedding_model", &config.embedding.model_id)?;
        catalog.set_meta("embedding_dim", &config.embedding.dim.to_string())?;
        let _ = std::fs::remove_file(data_dir.join("vectors.json"));
        Ok(())
    }

    fn token_counter(&self) -> Result<&TokenCounter> {
        if let Some(c) = self.counter.get() {
            return Ok(c);
        }
        let resolved = crate::embed::resolve(&self.config.embedding)?;
        let counter = TokenCounter::load(&resolved.tokenizer)?;
        Ok(self.counter.get_or_init(|| counter))
    }

    /// The embedding model, loaded on first use.
    pub fn embedder(&self) -> Result<Arc<dyn Embedder>> {
        self.embedder
            .get_or_init(|| {
                crate::embed::resolve(&self.config.embedding)
                    .and_then(|r| OnnxEmbedder::load(&self.config.embedding, &r))
                    .map(|e| Arc::new(e) as Arc<dyn Embedder>)
                    .map_err(|e| e.to_string())
            })
            .clone()
            .map_err(Error::Model)
    }

    fn vectors(&mut self) -> Result<&mut VectorIndex> {
        if self.vectors.is_none() {
            let mut v = VectorIndex::open(
                &self.data_dir,
                &self.config.embedding.model_id,
                self.config.embedding.dim,
            )?;
            if self.access == Access::Write {
                let want = self.catalog.generation(Generation::Vector)?;
                if v.generation() != want {
                    tracing::info!(
                        "vector index at generation {} but catalog at {want}: rebuilding",
                        v.generation()
                    );
                    v.clear()?;
                    let model = self.config.embedding.model_id.clone();
                    self.catalog
                        .for_each_current_vector(&model, |id, vec| v.add(id, &vec))?;
                    v.save(want)?;
                }
            }
            self.vectors = Some(v);
        }
        Ok(self.vectors.as_mut().expect("just set"))
    }

    /// Rebuilds the text index from the catalog when it lags behind.
    fn repair_text(&mut self) -> Result<()> {
        let want = self.catalog.generation(Generation::Text)?;
        if self.text.generation()? != want {
            self.rebuild_text()?;
        }
        Ok(())
    }

    fn rebuild_text(&mut self) -> Result<()> {
        let want = self.catalog.generation(Generation::Text)?;
        self.text.clear()?;
        let text = &mut self.text;
        self.catalog.for_each_current_chunk(|c| text.add(&c))?;
        self.text.commit(want)
    }

    /// `cairn reindex`: rebuilds tantivy and usearch from the catalog (no re-embedding).
    pub fn rebuild_indexes(&mut self) -> Result<()> {
        self.rebuild_text()?;
        let want = self.catalog.generation(Generation::Vector)?;
        let model = self.config.embedding.model_id.clone();
        let v = self.vectors()?;
        v.clear()?;
        let catalog = &self.catalog;
        let v = self.vectors.as_mut().expect("opened above");
        catalog.for_each_current_vector(&model, |id, vec| v.add(id, &vec))?;
        v.save(want)
    }


    /// The embedding model if this engine has loaded it (never loads it).
    pub fn loaded_embedder(&self) -> Option<Arc<dyn Embedder>> {
        self.embedder.get().and_then(|r| r.as_ref().ok().cloned())
    }

    /// Uses an embedder already loaded by another engine on the same data directory (the
    /// desktop app's reader and asker share one ONNX session). No effect once loaded.
    pub fn share_embedder(&self, embedder: Arc<dyn Embedder>) {
        let _ = self.embedder.set(Ok(embedder));
    }

    /// A read-only engine keeps the vector index it loaded; this drops it so the next
    /// search loads the one the writer saved since.
    pub fn reload_vectors(&mut self) {
        if self.access == Access::ReadOnly {
            self.vectors = None;
        }
    }

    /// Everything `cairn status` shows.
    pub fn status(&mut self) -> Result<Status> {
        let model = self.model_id().to_owned();
        let stats = self.catalog.stats(&model)?;
        let backlog = stats.current_chunks.saturating_sub(stats.embedded_chunks);
        let rate: Option<f64> = self
            .catalog
            .meta("embed_rate")?
            .and_then(|r| r.parse().ok());
        let vector_chunks = self.vectors()?.len() as u64;
        Ok(Status {
            data_dir: self.data_dir.clone(),
            folders: self
                .catalog
                .folders()?
                .into_iter()
                .map(|f| f.path)
                .collect(),
            problems: self.catalog.problems()?,
            model_id: model,
            embed_backlog: backlog,
            embed_rate: rate,
            embed_eta_seconds: rate.filter(|r| *r > 0.0).map(|r| backlog as f64 / r),
            catalog_bytes: file_size(&self.data_dir.join("catalog.sqlite3"))
                + file_size(&self.data_dir.join("catalog.sqlite3-wal")),
            text_index_bytes: TextIndex::disk_bytes(&self.data_dir.join("text")),
            vector_index_bytes: VectorIndex::disk_bytes(&self.data_dir),
            text_index_chunks: self.text.len(),
            vector_index_chunks: vector_chunks,
            deprecations: self.catalog.deprecations()?,
            conflicts: self.catalog.conflicts()?,
            tags: self.catalog.tags()?,
            stats,
        })
    }
}
