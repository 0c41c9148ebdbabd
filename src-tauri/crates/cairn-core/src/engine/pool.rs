//! [`ReaderPool`]: read-only engines for concurrent callers (the CLI, the MCP server, the
//! desktop app), sharing one embedding model.
//!
//! A caller checks an engine out, uses it, and the guard checks it back in when dropped. One
//! staleness rule serves everyone: an idle engine opened before the catalog's text or vector
//! generation moved on is dropped and a fresh one opened, so a reader never serves an index the
//! writer has since replaced. The embedding model, once any engine has loaded it, is handed to
//! every engine opened after (one ONNX session per process).

use std::ops::{Deref, DerefMut};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use super::Engine;
use crate::catalog::Generation;
use crate::config::Config;
use crate::embed::Embedder;
use crate::error::Result;

/// Idle engines kept by default; more callers at once open more engines, dropped afterwards.
const DEFAULT_IDLE: usize = 3;

/// A pool of read-only engines over one data directory.
pub struct ReaderPool {
    data_dir: PathBuf,
    config: Config,
    max_idle: usize,
    idle: Mutex<Vec<Idle>>,
    embedder: Mutex<Option<Arc<dyn Embedder>>>,
}

struct Idle {
    engine: Engine,
    generations: (u64, u64),
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn generations(engine: &Engine) -> Result<(u64, u64)> {
    let c = engine.catalog();
    Ok((
        c.generation(Generation::Text)?,
        c.generation(Generation::Vector)?,
    ))
}

impl ReaderPool {
    pub fn new(data_dir: &Path, config: Config) -> ReaderPool {
        ReaderPool {
            data_dir: data_dir.to_owned(),
            config,
            max_idle: DEFAULT_IDLE,
            idle: Mutex::new(Vec::new()),
            embedder: Mutex::new(None),
        }
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Uses an embedding model loaded elsewhere (e.g. by the writer) for every engine.
    pub fn share_embedder(&self, embedder: Arc<dyn Embedder>) {
        lock(&self.embedder).get_or_insert(embedder);
    }

    /// The embedding model if any engine of the pool has loaded it.
    pub fn loaded_embedder(&self) -> Option<Arc<dyn Embedder>> {
        lock(&self.embedder).clone()
    }

    /// Drops every idle engine (e.g. after the library was replaced).
    pub fn clear(&self) {
        lock(&self.idle).clear();
    }

    /// An up-to-date idle engine, or a newly opened one.
    pub fn checkout(&self) -> Result<PooledEngine<'_>> {
        loop {
            let popped = lock(&self.idle).pop();
            let Some(idle) = popped else { break };
            if generations(&idle.engine)? == idle.generations {
                return Ok(PooledEngine {
                    pool: self,
                    engine: Some(idle.engine),
                    generations: idle.generations,
                });
            }
        }
        let engine = Engine::open(&self.data_dir, self.config.clone())?;
        if let Some(e) = self.loaded_embedder() {
            engine.share_embedder(e);
        }
        let generations = generations(&engine)?;
        Ok(PooledEngine {
            pool: self,
            engine: Some(engine),
            generations,
        })
    }

    fn checkin(&self, engine: Engine, generations: (u64, u64)) {
        if let Some(e) = engine.loaded_embedder() {
            self.share_embedder(e);
        }
        let mut idle = lock(&self.idle);
        if idle.len() < self.max_idle {
            idle.push(Idle {
                engine,
                generations,
            });
        }
    }
}

/// An engine checked out of a [`ReaderPool`]; returned to it when dropped (an engine whose
/// call panicked is dropped with the unwinding instead).
pub struct PooledEngine<'a> {
    pool: &'a ReaderPool,
    engine: Option<Engine>,
    generations: (u64, u64),
}

impl Deref for PooledEngine<'_> {
    type Target = Engine;
    fn deref(&self) -> &Engine {
        self.engine.as_ref().expect("present until dropped")
    }
}

impl DerefMut for PooledEngine<'_> {
    fn deref_mut(&mut self) -> &mut Engine {
        self.engine.as_mut().expect("present until dropped")
    }
}

impl Drop for PooledEngine<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            return;
        }
        if let Some(engine) = self.engine.take() {
            self.pool.checkin(engine, self.generations);
        }
    }
}
