//! [`Writer`]: the one type that changes a library's documents and indexes.
//!
//! Opening a writer takes the data directory's `writer.lock` (held until the writer is dropped)
//! and repairs a lagging text index; the vector index is repaired when first used. Everything
//! that changes documents or indexes (folders, indexing, curation, rebuilds) is a method of
//! `Writer`, so a reader ([`Engine`]) cannot call it: that is a compile error, not a runtime
//! check. A writer reads like any engine (it dereferences to one).

use std::fs::File;
use std::ops::{Deref, DerefMut};
use std::path::Path;

use super::Engine;
use crate::catalog::Generation;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::store::{embedded, postgres, VectorRetriever};

/// An engine opened for writing, holding the writer lock.
///
/// ```compile_fail
/// # fn f(reader: &mut cairn_core::engine::Engine) {
/// // A reader cannot change the library:
/// reader.add_folder(std::path::Path::new("/tmp"));
/// # }
/// ```
pub struct Writer {
    engine: Engine,
    /// Whether the loaded vector index was checked against the catalog (and rebuilt if lagging).
    vectors_checked: bool,
    /// The data directory's `writer.lock` (a team library's lock is held by its catalog's
    /// connection instead).
    _lock: Option<File>,
}

impl Deref for Writer {
    type Target = Engine;
    fn deref(&self) -> &Engine {
        &self.engine
    }
}

impl DerefMut for Writer {
    fn deref_mut(&mut self) -> &mut Engine {
        &mut self.engine
    }
}

/// Takes the data directory's writer lock, or fails with [`Error::Locked`].
fn take_lock(data_dir: &Path) -> Result<File> {
    std::fs::create_dir_all(data_dir).map_err(|e| Error::io("creating", data_dir, e))?;
    let path = data_dir.join("writer.lock");
    let file = File::create(&path).map_err(|e| Error::io("creating", &path, e))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(Error::Locked(data_dir.to_owned())),
        Err(std::fs::TryLockError::Error(e)) => Err(Error::io("locking", path, e)),
    }
}

impl Writer {
    /// Opens (creating if needed) the data directory for writing: takes the writer lock,
    /// removes temporary files an interrupted writer left, then rebuilds the text index from
    /// the catalog if it lags behind.
    pub fn open(data_dir: &Path, config: Config) -> Result<Writer> {
        let lock = match config.team_library()? {
            Some(_) => None,
            None => Some(take_lock(data_dir)?),
        };
        let engine = Engine::open_as(data_dir, config, true)?;
        let mut writer = Writer {
            engine,
            vectors_checked: false,
            _lock: lock,
        };
        writer.repair_text()?;
        Ok(writer)
    }

    /// Switches the collection to the configured embedding model (drops the vector index;
    /// vectors are re-embedded by the next index run, cached ones are reused). Takes the
    /// writer lock for the change.
    pub fn adopt_configured_model(data_dir: &Path, config: &Config) -> Result<()> {
        if let Some(target) = config.team_library()? {
            let postgres::Opened { catalog, .. } = postgres::open(&target, true)?;
            catalog.set_meta("embedding_model", &config.embedding.model_id)?;
            catalog.set_meta("embedding_dim", &config.embedding.dim.to_string())?;
            // The vector table is recreated for the new model by the next writer.
            return catalog.set_meta(postgres::VECTOR_MODEL_KEY, "");
        }
        let _lock = take_lock(data_dir)?;
        let catalog = embedded::open_catalog(data_dir)?;
        catalog.set_meta("embedding_model", &config.embedding.model_id)?;
        catalog.set_meta("embedding_dim", &config.embedding.dim.to_string())?;
        embedded::drop_vectors(data_dir);
        Ok(())
    }

    /// The vector index, rebuilt from the catalog's vectors when it lags behind.
    pub(crate) fn vectors_mut(&mut self) -> Result<&mut dyn VectorRetriever> {
        if !self.vectors_checked {
            let want = self.catalog.generation(Generation::Vector)?;
            let model = self.config.embedding.model_id.clone();
            let engine = &mut self.engine;
            let v = engine.vectors()?;
            if v.generation() != want {
                tracing::info!(
                    "vector index at generation {} but catalog at {want}: rebuilding",
                    v.generation()
                );
                v.clear()?;
                let v = engine.vectors.as_deref_mut().expect("loaded above");
                engine
                    .catalog
                    .for_each_current_vector(&model, &mut |id, vec| v.add(id, &vec))?;
                v.commit(want)?;
            }
            self.vectors_checked = true;
        }
        self.engine.vectors()
    }

    /// Rebuilds the text index from the catalog when it lags behind.
    pub(crate) fn repair_text(&mut self) -> Result<()> {
        let want = self.catalog.generation(Generation::Text)?;
        if self.text.generation()? != want {
            self.rebuild_text()?;
        }
        Ok(())
    }

    pub(crate) fn rebuild_text(&mut self) -> Result<()> {
        let want = self.catalog.generation(Generation::Text)?;
        let engine = &mut self.engine;
        engine.text.clear()?;
        let text = &mut engine.text;
        engine
            .catalog
            .for_each_current_chunk(&mut |c| text.add(&c))?;
        engine.text.commit(want)
    }

    /// `cairn reindex`: rebuilds tantivy and usearch from the catalog (no re-embedding).
    pub fn rebuild_indexes(&mut self) -> Result<()> {
        self.rebuild_text()?;
        let want = self.catalog.generation(Generation::Vector)?;
        let model = self.config.embedding.model_id.clone();
        self.vectors_checked = true;
        let engine = &mut self.engine;
        engine.vectors()?.clear()?;
        let v = engine.vectors.as_deref_mut().expect("opened above");
        engine
            .catalog
            .for_each_current_vector(&model, &mut |id, vec| v.add(id, &vec))?;
        v.commit(want)
    }
}
