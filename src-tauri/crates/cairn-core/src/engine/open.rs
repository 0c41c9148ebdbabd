//! Opening a data directory: the writer lock, model checks, lazily loaded model parts (token
//! counter, embedder, vector index), repairing lagging indexes, and `status`.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use super::Engine;
use crate::config::Config;
use crate::embed::{Embedder, OnnxEmbedder, TokenCounter};
use crate::error::{Error, Result};
use crate::store::{embedded, postgres, CatalogStore, VectorRetriever};
use serde::Serialize;

/// Status for `cairn status`.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub data_dir: PathBuf,
    pub folders: Vec<PathBuf>,
    pub stats: crate::catalog::CatalogStats,
    pub problems: Vec<crate::catalog::Problem>,
    /// Whether the OCR programs (`tesseract`, `pdftoppm`) can be started here.
    pub ocr_available: bool,
    /// Images and scanned PDFs that wait for those programs: problems, and while they are
    /// missing, documents with pages waiting for OCR.
    pub ocr_waiting: Vec<PathBuf>,
    /// Pages (an image counts once) and documents waiting for the OCR phase.
    pub ocr_backlog: crate::catalog::OcrBacklog,
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
    /// Opens the data directory for reading (creating it if needed). A reader never blocks the
    /// writer and never repairs, rebuilds or wipes an index: it serves what the writer last
    /// committed (see [`Writer`](super::Writer) for changing anything).
    pub fn open(data_dir: &Path, config: Config) -> Result<Engine> {
        Engine::open_as(data_dir, config, false)
    }

    /// Opens the catalog and the text index, and checks the embedding model: in the data
    /// directory, or in the team library `config.library` names (a PostgreSQL URL; the
    /// writer's lock is then the database's advisory lock).
    pub(crate) fn open_as(data_dir: &Path, mut config: Config, writable: bool) -> Result<Engine> {
        let (catalog, text) = match config.team_library()? {
            Some(target) => {
                let postgres::Opened { catalog, text } = postgres::open(&target, writable)?;
                (catalog, text)
            }
            None => {
                let embedded::Opened { catalog, text } = embedded::open(data_dir, writable)?;
                (catalog, text)
            }
        };
        config
            .embedding
            .follow_library(catalog.index_model()?.as_deref());
        let engine = Engine {
            data_dir: data_dir.to_owned(),
            config,
            catalog,
            text,
            vectors: None,
            embedder: OnceLock::new(),
            counter: OnceLock::new(),
            writable,
        };
        engine.check_model()?;
        Ok(engine)
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The library's catalog, through the storage seam ([`crate::store`]).
    pub fn catalog(&self) -> &dyn CatalogStore {
        self.catalog.as_ref()
    }

    pub(crate) fn model_id(&self) -> &str {
        &self.config.embedding.model_id
    }

    /// Refuses to mix vectors of two models in one index.
    pub(crate) fn check_model(&self) -> Result<()> {
        match self.catalog.index_model()? {
            Some(stored) if stored != self.config.embedding.model_id => Err(Error::ModelMismatch {
                stored,
                configured: self.config.embedding.model_id.clone(),
            }),
            Some(_) => Ok(()),
            None if self.writable => {
                self.catalog
                    .set_meta("embedding_model", &self.config.embedding.model_id)?;
                self.catalog
                    .set_meta("embedding_dim", &self.config.embedding.dim.to_string())
            }
            None => Ok(()),
        }
    }

    pub(crate) fn token_counter(&self) -> Result<&TokenCounter> {
        if let Some(c) = self.counter.get() {
            return Ok(c);
        }
        let resolved = crate::embed::resolve(&self.config.embedding)?;
        let counter = TokenCounter::load(&resolved.tokenizer)?;
        Ok(self.counter.get_or_init(|| counter))
    }

    /// The embedding model, loaded on first use.
    /// Uses this token counter instead of loading the model's tokenizer (tests and benchmarks
    /// without model files). No effect once loaded.
    pub fn share_token_counter(&self, counter: TokenCounter) {
        let _ = self.counter.set(counter);
    }

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

    /// The vector index, loaded on first use (as saved: a reader never repairs it).
    pub(crate) fn vectors(&mut self) -> Result<&mut dyn VectorRetriever> {
        if self.vectors.is_none() {
            let (model, dim) = (&self.config.embedding.model_id, self.config.embedding.dim);
            self.vectors = Some(match self.config.team_library()? {
                Some(target) => postgres::open_vectors(&target, model, dim, self.writable)?,
                None => embedded::open_vectors(&self.data_dir, model, dim)?,
            });
        }
        Ok(self.vectors.as_deref_mut().expect("just set"))
    }

    /// The embedding model if this engine has loaded it (never loads it).
    pub fn loaded_embedder(&self) -> Option<Arc<dyn Embedder>> {
        self.embedder.get().and_then(|r| r.as_ref().ok().cloned())
    }

    /// Uses an embedder already loaded by another engine on the same data directory (the
    /// desktop app's reader and asker share one ONNX session). No effect once loaded.
    /// A model of another id (e.g. loaded from a config before the library's own model was
    /// known) is not taken: the engine loads its own.
    pub fn share_embedder(&self, embedder: Arc<dyn Embedder>) {
        if embedder.model_id() != self.model_id() {
            return;
        }
        let _ = self.embedder.set(Ok(embedder));
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
        let problems = self.catalog.problems()?;
        let ocr_available = crate::parse::ocr::available();
        let mut ocr_waiting: Vec<PathBuf> = problems
            .iter()
            .filter(|p| crate::parse::ocr::waits_for_ocr(&p.reason))
            .map(|p| p.path.clone())
            .collect();
        if !ocr_available {
            ocr_waiting.extend(self.catalog.ocr_waiting_paths()?);
        }
        let vector_chunks = self.vectors()?.len();
        let vector_index_bytes = self.vectors()?.disk_bytes();
        Ok(Status {
            data_dir: self.data_dir.clone(),
            folders: self
                .catalog
                .folders()?
                .into_iter()
                .map(|f| f.path)
                .collect(),
            ocr_available,
            ocr_waiting,
            ocr_backlog: self.catalog.ocr_backlog()?,
            problems,
            model_id: model,
            embed_backlog: backlog,
            embed_rate: rate,
            embed_eta_seconds: rate.filter(|r| *r > 0.0).map(|r| backlog as f64 / r),
            catalog_bytes: self.catalog.disk_bytes(),
            text_index_bytes: self.text.disk_bytes(),
            vector_index_bytes,
            text_index_chunks: self.text.len(),
            vector_index_chunks: vector_chunks,
            deprecations: self.catalog.deprecations()?,
            conflicts: self.catalog.conflicts()?,
            tags: self.catalog.tags()?,
            stats,
        })
    }
}
