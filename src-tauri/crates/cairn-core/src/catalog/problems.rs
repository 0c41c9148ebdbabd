//! Files that could not be indexed, and why (`cairn status` lists them). They are recorded by
//! [`Catalog::apply_batch`] and forgotten once the file is indexed or gone.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{path_str, Catalog, FolderId};
use crate::error::Result;

/// A file that could not be indexed, and why.
#[derive(Debug, Clone, Serialize)]
pub struct Problem {
    pub path: PathBuf,
    pub reason: String,
    pub at: i64,
}

impl Catalog {
    pub fn problems(&self) -> Result<Vec<Problem>> {
        let mut stmt = self
            .conn
            .prepare("SELECT path, reason, at FROM problems ORDER BY path")?;
        let rows = stmt.query_map([], |r| {
            Ok(Problem {
                path: PathBuf::from(r.get::<_, String>(0)?),
                reason: r.get(1)?,
                at: r.get(2)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Forgets problems of files that no longer exist or are now indexed.
    pub fn clear_problem(&self, path: &Path) -> Result<()> {
        self.conn
            .execute("DELETE FROM problems WHERE path = ?1", [path_str(path)])?;
        Ok(())
    }

    /// Known problem paths under a folder.
    pub fn problem_paths(&self, folder: FolderId) -> Result<Vec<PathBuf>> {
        let mut stmt = self
            .conn
            .prepare("SELECT path FROM problems WHERE folder_id = ?1")?;
        let rows = stmt.query_map([folder.0], |r| r.get::<_, String>(0))?;
        Ok(rows
            .map(|r| r.map(PathBuf::from))
            .collect::<rusqlite::Result<_>>()?)
    }
}
