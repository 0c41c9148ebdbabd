//! Files that could not be indexed, and why (`cairn status` lists them). They are recorded by
//! [`Catalog::apply_batch`] and forgotten once the file is indexed or gone.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{path_str, Catalog, FolderId};
use crate::error::Result;

/// A file that could not be indexed, and why.
#[derive(Debug, Clone, Serialize)]
pub struct Problem {
    #[serde(serialize_with = "crate::paths::serialize_escaped")]
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
                path: crate::paths::from_key(&r.get::<_, String>(0)?),
                reason: r.get(1)?,
                at: r.get(2)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Forgets a file's problem (and that it was skipped): it no longer exists or is indexed.
    pub fn clear_problem(&self, path: &Path) -> Result<()> {
        self.conn
            .execute("DELETE FROM problems WHERE path = ?1", [path_str(path)])?;
        self.conn
            .execute("DELETE FROM skipped WHERE path = ?1", [path_str(path)])?;
        Ok(())
    }

    /// Paths under a folder with a problem or skipped as not a document.
    pub fn problem_paths(&self, folder: FolderId) -> Result<Vec<PathBuf>> {
        let mut stmt = self.conn.prepare(
            "SELECT path FROM problems WHERE folder_id = ?1
             UNION SELECT path FROM skipped WHERE folder_id = ?1",
        )?;
        let rows = stmt.query_map([folder.0], |r| r.get::<_, String>(0))?;
        Ok(rows
            .map(|r| r.map(|k| crate::paths::from_key(&k)))
            .collect::<rusqlite::Result<_>>()?)
    }

    /// Files under a folder that failed or are not documents, with the (size, ns mtime) they
    /// had then: while a file keeps that stat it is not read again.
    pub fn settled_failures(
        &self,
        folder: FolderId,
    ) -> Result<std::collections::HashMap<PathBuf, (u64, i64)>> {
        let mut stmt = self.conn.prepare(
            "SELECT path, size, stat_ns FROM problems
               WHERE folder_id = ?1 AND size IS NOT NULL AND stat_ns IS NOT NULL
             UNION ALL SELECT path, size, stat_ns FROM skipped WHERE folder_id = ?1",
        )?;
        let rows = stmt.query_map([folder.0], |r| {
            Ok((
                crate::paths::from_key(&r.get::<_, String>(0)?),
                (r.get::<_, i64>(1)? as u64, r.get::<_, i64>(2)?),
            ))
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}
