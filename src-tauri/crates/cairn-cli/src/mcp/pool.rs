//! The MCP server's shared state: read-only engines from cairn-core's [`ReaderPool`] (an
//! `Engine` is not `Sync`, so each call checks one out; the pool's one staleness rule reopens
//! engines the writer has moved past, and all share one embedding model), and the answer model,
//! loaded on the first `ask`.

use std::path::{Path, PathBuf};

use cairn_core::config::Config;
use cairn_core::engine::ReaderPool;

pub(super) struct Shared {
    pub(super) pool: ReaderPool,
    config: Config,
    /// The answer model, loaded on the first `ask`: `Ok(None)` when `llm.provider = "none"`,
    /// `Err(reason)` when it could not be loaded (answers are then extractive and say why).
    generator: std::sync::OnceLock<Result<Option<cairn_llm::BoxedGenerator>, String>>,
}

impl Shared {
    /// No engines yet, the answer model not loaded.
    pub(super) fn new(data_dir: PathBuf, config: Config) -> Shared {
        Shared {
            pool: ReaderPool::new(&data_dir, config.clone()),
            config,
            generator: std::sync::OnceLock::new(),
        }
    }

    pub(super) fn data_dir(&self) -> &Path {
        self.pool.data_dir()
    }

    pub(super) fn generator(&self) -> Result<Option<&dyn cairn_core::answer::Generator>, String> {
        let loaded = self.generator.get_or_init(|| {
            cairn_llm::from_config(&self.config)
                .map_err(|e| format!("{e} ({})", crate::hints::hint(&e)))
        });
        match loaded {
            Ok(Some(g)) => Ok(Some(g.as_ref() as &dyn cairn_core::answer::Generator)),
            Ok(None) => Ok(None),
            Err(e) => Err(e.clone()),
        }
    }
}
