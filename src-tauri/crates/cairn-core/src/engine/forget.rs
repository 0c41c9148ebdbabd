//! `forget`: a document (or everything under a folder) is erased from the catalog, the text
//! index and the vector index, with all its versions, and the answers in the audit log that
//! drew on it are redacted; then the files are rewritten so the bytes leave the disk.
//!
//! A forgotten path that is still inside a registered folder is remembered as forgotten, so
//! the next scan does not index it again; [`Writer::unforget`] (or registering its folder
//! anew) lifts that. Forgetting a registered folder itself also stops following it.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::Writer;
use crate::catalog::Erased;
use crate::error::{Error, Result};

/// What [`Writer::forget`] did.
#[derive(Debug, Clone, Serialize)]
pub struct ForgetReport {
    /// The absolute path forgotten.
    pub target: PathBuf,
    #[serde(flatten)]
    pub erased: Erased,
    /// The target was a registered folder: it is no longer followed.
    pub folder_removed: bool,
    /// The target is inside a registered folder: scans leave it alone until
    /// `cairn unforget` (or the folder is added anew).
    pub excluded: bool,
    /// The catalog's write-ahead log was emptied; false when another process was reading
    /// (the old pages leave it at its next checkpoint).
    pub log_truncated: bool,
}

/// `path` made absolute without requiring it to exist (a forgotten file may be gone).
fn absolute(path: &Path) -> Result<PathBuf> {
    let path = &super::curation::typed_path(path);
    match path.canonicalize() {
        Ok(p) => Ok(p),
        Err(_) => std::path::absolute(path).map_err(|e| Error::io("resolving", path, e)),
    }
}

impl Writer {
    /// Erases the document at `path`, or every document under the folder `path`: every
    /// version's text and passages, their vectors and cached embeddings, problem rows, tags
    /// and deprecations, from SQLite, tantivy and usearch; redacts the audit log; rewrites the
    /// catalog (`VACUUM`, write-ahead log truncated) and both indexes (rebuilt from what is
    /// left, old segment files deleted) so no copy stays in the data directory.
    pub fn forget(&mut self, path: &Path) -> Result<ForgetReport> {
        let target = absolute(path)?;
        let folders = self.catalog.folders()?;
        let inside = folders
            .iter()
            .any(|f| target.starts_with(&f.path) && f.path != target);
        // The folder itself, and folders registered inside it, stop being followed.
        let mut folder_removed = false;
        for f in folders.iter().filter(|f| f.path.starts_with(&target)) {
            self.catalog.remove_folder(&f.path)?;
            folder_removed = true;
        }
        let exists = target.exists();
        let erased = self.catalog.erase(&target, inside)?;
        if erased.documents.is_empty()
            && erased.problems == 0
            && !folder_removed
            && !(inside && exists)
        {
            // Nothing was there: no exclusion for a path that never was in the library.
            self.catalog.unforget(&target)?;
            return Err(Error::NotFound(format!(
                "{} is not a document or folder in the collection",
                crate::paths::escaped(path)
            )));
        }
        self.rebuild_indexes()?;
        self.text.collect_garbage()?;
        let log_truncated = self.catalog.shrink()?;
        Ok(ForgetReport {
            target,
            erased,
            folder_removed,
            excluded: inside,
            log_truncated,
        })
    }

    /// Lets scans index a forgotten path again (the next `cairn index` picks it up).
    pub fn unforget(&mut self, path: &Path) -> Result<PathBuf> {
        let target = absolute(path)?;
        if self.catalog.unforget(&target)? {
            Ok(target)
        } else {
            Err(Error::NotFound(format!(
                "{} was not forgotten (forgotten paths: {})",
                crate::paths::escaped(path),
                self.catalog
                    .forgotten()?
                    .paths()
                    .iter()
                    .map(|p| crate::paths::escaped(p))
                    .collect::<Vec<_>>()
                    .join(", ")
            )))
        }
    }
}
