//! The MCP server's engine pool: read-only engines kept for the next calls (an `Engine` is not
//! `Sync`, so each call takes one of its own), reopened when the catalog's vector index moved
//! on, all sharing one embedding model; and the answer model, loaded on the first `ask`.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use cairn_core::catalog::Generation;
use cairn_core::config::Config;
use cairn_core::embed::Embedder;
use cairn_core::engine::{Access, Engine};

pub(super) struct Held {
    pub(super) engine: Engine,
    /// The catalog's vector generation when the engine was opened.
    vector_generation: u64,
}

/// Idle engines kept for the next calls; more calls at once open more engines, which are then
/// dropped.
const MAX_IDLE_ENGINES: usize = 3;

pub(super) struct Shared {
    pub(super) data_dir: PathBuf,
    config: Config,
    /// Engines no call is using.
    idle: Mutex<Vec<Held>>,
    /// The embedding model once an engine has loaded it, for every engine opened after.
    embedder: Mutex<Option<Arc<dyn Embedder>>>,
    /// The answer model, loaded on the first `ask`: `Ok(None)` when `llm.provider = "none"`,
    /// `Err(reason)` when it could not be loaded (answers are then extractive and say why).
    generator: std::sync::OnceLock<Result<Option<cairn_llm::BoxedGenerator>, String>>,
}

impl Shared {
    /// No engines yet, the answer model not loaded.
    pub(super) fn new(data_dir: PathBuf, config: Config) -> Shared {
        Shared {
            data_dir,
            config,
            idle: Mutex::new(Vec::new()),
            embedder: Mutex::new(None),
            generator: std::sync::OnceLock::new(),
        }
    }

    pub(super) fn generator(&self) -> Result<Option<&dyn cairn_core::answer::Generator>, String> {
        let loaded = self.generator.get_or_init(|| {
            cairn_llm::from_config(&self.config).map_err(|e| format!("{e} ({})", e.hint()))
        });
        match loaded {
            Ok(Some(g)) => Ok(Some(g.as_ref() as &dyn cairn_core::answer::Generator)),
            Ok(None) => Ok(None),
            Err(e) => Err(e.clone()),
        }
    }
}

impl Shared {
    /// An idle engine, or a new one. An idle engine opened before the vector index moved on is
    /// dropped (a read-only engine loads vectors once; tantivy refreshes itself per search).
    pub(super) fn checkout(&self) -> cairn_core::Result<Held> {
        loop {
            let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
            let Some(held) = idle else { break };
            if held.engine.catalog().generation(Generation::Vector)? == held.vector_generation {
                return Ok(held);
            }
        }
        let engine = Engine::open(&self.data_dir, self.config.clone(), Access::ReadOnly)?;
        if let Some(e) = self
            .embedder
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
        {
            engine.share_embedder(e);
        }
        let vector_generation = engine.catalog().generation(Generation::Vector)?;
        Ok(Held {
            engine,
            vector_generation,
        })
    }

    /// Returns an engine after a call (a call that panicked drops its engine instead).
    pub(super) fn checkin(&self, held: Held) {
        if let Some(e) = held.engine.loaded_embedder() {
            self.embedder
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get_or_insert(e);
        }
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < MAX_IDLE_ENGINES {
            idle.push(held);
        }
    }
}
