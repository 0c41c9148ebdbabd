//! Curation: deprecations, tags, history, and `check` (is the catalog sound, do the derived
//! indexes match it).

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{Engine, Writer};
use crate::catalog::Generation;
use crate::error::{Error, Result};

/// What `Engine::check` found.
#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    pub ok: bool,
    pub catalog: crate::catalog::Integrity,
    pub current_chunks: u64,
    pub embedded_chunks: u64,
    pub text_index_chunks: u64,
    pub vector_index_chunks: u64,
    pub text_generation: (u64, u64),
    pub vector_generation: (u64, u64),
    /// What makes the library unsound (`ok` is false when there is any).
    pub problems: Vec<String>,
    /// Derived indexes behind the catalog (an interrupted run): not damage, the next writer
    /// (`cairn index`, the app) rebuilds them from the catalog before using them.
    pub pending_repairs: Vec<String>,
}

impl Engine {
    pub(crate) fn known_path(&self, path: &Path) -> Result<PathBuf> {
        let abs = absolute(path);
        let is_doc = self.catalog.document_id(&abs)?.is_some();
        let is_folder = self
            .catalog
            .folders()?
            .iter()
            .any(|f| abs.starts_with(&f.path) || f.path.starts_with(&abs));
        if is_doc || (is_folder && abs.is_dir()) {
            Ok(abs)
        } else {
            Err(Error::NotFound(format!(
                "{} is not a document or folder in the collection",
                crate::paths::escaped(path)
            )))
        }
    }

    /// True when `path` is a document of the library with a current version (what the app's
    /// "Open" may open).
    pub fn is_current_document(&self, path: &Path) -> Result<bool> {
        Ok(self
            .catalog
            .history(path)?
            .iter()
            .any(|v| v.status == "current"))
    }

    /// The versions of the document at `path`.
    pub fn history(&self, path: &Path) -> Result<Vec<crate::catalog::VersionInfo>> {
        self.catalog.history(&absolute(path))
    }

    /// Verifies that the catalog is sound and the derived indexes match it.
    pub fn check(&mut self) -> Result<CheckReport> {
        let model = self.model_id().to_owned();
        let stats = self.catalog.stats(&model)?;
        let integrity = self.catalog.integrity()?;
        self.text.refresh()?;
        let text_gen = (
            self.text.generation()?,
            self.catalog.generation(Generation::Text)?,
        );
        let vector_len = self.vectors()?.len();
        let vector_gen = (
            self.vectors()?.generation(),
            self.catalog.generation(Generation::Vector)?,
        );
        let mut problems = Vec::new();
        if !integrity.sqlite_ok {
            problems.push(format!(
                "SQLite integrity check: {}",
                integrity.sqlite_message
            ));
        }
        if integrity.documents_with_two_current_versions > 0 {
            problems.push(format!(
                "{} documents have more than one current version",
                integrity.documents_with_two_current_versions
            ));
        }
        // An index whose generation is not the catalog's is rebuilt from the catalog by the next
        // writer (`Writer::open`, `Writer::vectors_mut`); its counts matter only when current.
        let mut pending_repairs = Vec::new();
        if text_gen.0 != text_gen.1 {
            pending_repairs.push(format!(
                "text index at generation {}, catalog at {}: rebuilt by the next index run",
                text_gen.0, text_gen.1
            ));
        } else if self.text.len() != stats.current_chunks {
            problems.push(format!(
                "text index holds {} passages, catalog has {} current",
                self.text.len(),
                stats.current_chunks
            ));
        }
        if vector_gen.0 != vector_gen.1 {
            pending_repairs.push(format!(
                "vector index at generation {}, catalog at {}: rebuilt by the next index run",
                vector_gen.0, vector_gen.1
            ));
        } else if vector_len != stats.embedded_chunks {
            problems.push(format!(
                "vector index holds {vector_len} vectors, catalog has {} embedded current passages",
                stats.embedded_chunks
            ));
        }
        Ok(CheckReport {
            ok: problems.is_empty(),
            catalog: integrity,
            current_chunks: stats.current_chunks,
            embedded_chunks: stats.embedded_chunks,
            text_index_chunks: self.text.len(),
            vector_index_chunks: vector_len,
            text_generation: text_gen,
            vector_generation: vector_gen,
            problems,
            pending_repairs,
        })
    }
}

impl Writer {
    /// Marks a document or folder deprecated (optionally superseded by another document).
    pub fn deprecate(
        &mut self,
        path: &Path,
        superseded_by: Option<&Path>,
        reason: &str,
    ) -> Result<PathBuf> {
        let target = self.known_path(path)?;
        let by = superseded_by.map(|p| self.known_path(p)).transpose()?;
        if by.as_ref() == Some(&target) {
            return Err(Error::Invalid("a document cannot supersede itself".into()));
        }
        self.catalog.deprecate(
            &crate::paths::to_key(&target),
            false,
            reason,
            by.as_ref().map(|p| crate::paths::to_key(p)).as_deref(),
        )?;
        Ok(target)
    }

    /// Deprecates every path matching a glob pattern (e.g. `**/archive/**`).
    pub fn deprecate_pattern(&mut self, pattern: &str, reason: &str) -> Result<()> {
        globset::Glob::new(pattern)
            .map_err(|e| Error::Invalid(format!("bad pattern `{pattern}`: {e}")))?;
        self.catalog.deprecate(pattern, true, reason, None)
    }

    /// Removes a deprecation mark from a path or pattern.
    pub fn undeprecate(&mut self, target: &str) -> Result<()> {
        let abs = Path::new(target)
            .canonicalize()
            .map(|p| crate::paths::to_key(&p).into_owned())
            .unwrap_or_else(|_| target.to_owned());
        if self.catalog.undeprecate(&abs)? || self.catalog.undeprecate(target)? {
            Ok(())
        } else {
            Err(Error::NotFound(format!("{target} is not deprecated")))
        }
    }

    /// Adds tags to a document or folder.
    pub fn tag(&mut self, path: &Path, tags: &[String]) -> Result<PathBuf> {
        let target = self.known_path(path)?;
        if tags.iter().any(|t| t.trim().is_empty()) {
            return Err(Error::Invalid("tags must not be empty".into()));
        }
        self.catalog.tag(&target, tags)?;
        Ok(target)
    }

    /// Removes tags (all when `tags` is empty) from a document or folder.
    pub fn untag(&mut self, path: &Path, tags: &[String]) -> Result<usize> {
        let target = path.canonicalize().unwrap_or_else(|_| path.to_owned());
        self.catalog.untag(&target, tags)
    }
}

/// The path a person means: as given, or, when that does not exist, what its `\xNN` escapes
/// name (a name that is not UTF-8, typed as Cairn shows it).
pub(super) fn typed_path(path: &Path) -> PathBuf {
    match path.to_str() {
        Some(shown) if path.symlink_metadata().is_err() => crate::paths::resolve_shown(shown),
        _ => path.to_owned(),
    }
}

/// [`typed_path`], made absolute.
fn absolute(path: &Path) -> PathBuf {
    let path = typed_path(path);
    path.canonicalize().unwrap_or(path)
}
