//! Forgetting: erasing documents (every version, passage, cached vector, problem row, mark and
//! conflict) from the catalog, redacting the audit log's answers that drew on them, the list of
//! forgotten paths that scans leave alone, and shrinking the file so the bytes leave the disk.
//!
//! The derived indexes are rebuilt by the caller (`Writer::forget`), which holds the writer
//! lock. Deleted rows are zeroed in place (`secure_delete`, set when the catalog opens); then
//! [`Catalog::shrink`] rewrites the file (`VACUUM`) and truncates the write-ahead log, which
//! still holds the pages as they were written before.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use rusqlite::params;
use serde::Serialize;

use super::{now, path_str, Catalog, ChunkId, Generation};
use crate::error::Result;

/// What [`Catalog::erase`] removed.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Erased {
    /// The documents erased (every version of each).
    pub documents: Vec<PathBuf>,
    pub versions: usize,
    pub passages: usize,
    /// Cached vectors no other passage shares.
    pub cached_vectors: usize,
    /// Problem and skipped-file rows.
    pub problems: usize,
    /// Tags and deprecations of the erased paths (patterns are kept).
    pub marks: usize,
    /// Audit records whose answer drew on an erased document, now redacted.
    pub audit_records: usize,
    /// Chunk ids that were current (the text index held them).
    #[serde(skip)]
    pub current_chunks: Vec<ChunkId>,
}

/// The paths the user forgot: a scan leaves them (and, for a folder, everything under it)
/// alone.
#[derive(Debug, Clone, Default)]
pub struct Forgotten(Vec<PathBuf>);

impl Forgotten {
    pub(crate) fn from_paths(paths: Vec<PathBuf>) -> Forgotten {
        Forgotten(paths)
    }

    /// True when `path` is a forgotten path or lies under one.
    pub fn covers(&self, path: &Path) -> bool {
        self.0.iter().any(|f| path.starts_with(f))
    }

    pub fn paths(&self) -> &[PathBuf] {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// `path` itself, or a path under it, in SQL: `?1` is the path, `?2` the path plus a separator.
const UNDER: &str = "(path = ?1 OR substr(path, 1, length(?2)) = ?2)";

fn prefix(path: &Path) -> String {
    format!("{}{}", path_str(path), std::path::MAIN_SEPARATOR)
}

impl Catalog {
    /// Erases every document at or under `target`, in one transaction: versions, passages,
    /// conflicts, cached vectors no remaining passage uses, problem and skipped rows, tags and
    /// deprecations of those paths, and the cached abstention calibration (it was measured on
    /// their passages). Answers in the audit log that drew on them are redacted (see
    /// [`crate::audit`]). With `exclude`, `target` is remembered as forgotten so that scans
    /// leave it alone. The caller rebuilds the derived indexes.
    pub fn erase(&mut self, target: &Path, exclude: bool) -> Result<Erased> {
        let (p, pre) = (path_str(target), prefix(target));
        let tx = self.conn.transaction()?;
        let mut out = Erased::default();
        let docs: Vec<(i64, String)> = {
            let mut stmt = tx.prepare(&format!("SELECT id, path FROM documents WHERE {UNDER}"))?;
            let rows = stmt.query_map(params![p, pre], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        let mut hashes: HashSet<Vec<u8>> = HashSet::new();
        let mut all_chunks: HashSet<i64> = HashSet::new();
        for (doc, path) in &docs {
            out.documents.push(crate::paths::from_key(path));
            let mut stmt = tx.prepare_cached(
                "SELECT c.id, c.embed_hash, v.status FROM chunks c
                 JOIN versions v ON v.id = c.version_id WHERE v.doc_id = ?1",
            )?;
            let rows = stmt.query_map([doc], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, Vec<u8>>(1)?,
                    r.get::<_, String>(2)?,
                ))
            })?;
            for row in rows {
                let (id, hash, status) = row?;
                if status == "current" {
                    out.current_chunks.push(ChunkId(id));
                }
                all_chunks.insert(id);
                hashes.insert(hash);
            }
            drop(stmt);
            tx.execute(
                "DELETE FROM conflicts WHERE chunk_a IN
                   (SELECT c.id FROM chunks c JOIN versions v ON v.id = c.version_id
                    WHERE v.doc_id = ?1)
                 OR chunk_b IN
                   (SELECT c.id FROM chunks c JOIN versions v ON v.id = c.version_id
                    WHERE v.doc_id = ?1)",
                [doc],
            )?;
            tx.execute(
                "DELETE FROM chunk_mail WHERE chunk_id IN
                   (SELECT c.id FROM chunks c JOIN versions v ON v.id = c.version_id
                    WHERE v.doc_id = ?1)",
                [doc],
            )?;
            tx.execute(
                "DELETE FROM ocr_pending WHERE version_id IN
                   (SELECT id FROM versions WHERE doc_id = ?1)",
                [doc],
            )?;
            out.passages += tx.execute(
                "DELETE FROM chunks WHERE version_id IN (SELECT id FROM versions WHERE doc_id = ?1)",
                [doc],
            )?;
            out.versions += tx.execute("DELETE FROM versions WHERE doc_id = ?1", [doc])?;
            tx.execute("DELETE FROM documents WHERE id = ?1", [doc])?;
        }
        for hash in &hashes {
            out.cached_vectors += tx.execute(
                "DELETE FROM embeddings WHERE hash = ?1
                   AND NOT EXISTS (SELECT 1 FROM chunks WHERE embed_hash = ?1)",
                [hash],
            )?;
        }
        for table in ["problems", "skipped"] {
            out.problems += tx.execute(
                &format!("DELETE FROM {table} WHERE {UNDER}"),
                params![p, pre],
            )?;
        }
        let marks_under = UNDER.replace("path", "target");
        out.marks += tx.execute(
            &format!("DELETE FROM tags WHERE {marks_under}"),
            params![p, pre],
        )?;
        out.marks += tx.execute(
            &format!("DELETE FROM deprecations WHERE is_pattern = 0 AND {marks_under}"),
            params![p, pre],
        )?;
        tx.execute("DELETE FROM answer_calibration", [])?;
        let erased: HashSet<PathBuf> = out.documents.iter().cloned().collect();
        out.audit_records = crate::audit::redact_forgotten(&tx, &|path, chunk| {
            erased.contains(path) || all_chunks.contains(&chunk)
        })?;
        if exclude {
            tx.execute(
                "INSERT INTO forgotten(path, at) VALUES (?1, ?2)
                 ON CONFLICT(path) DO UPDATE SET at = excluded.at",
                params![p, now()],
            )?;
        }
        Self::bump(&tx, Generation::Text)?;
        Self::bump(&tx, Generation::Vector)?;
        tx.commit()?;
        Ok(out)
    }

    /// The forgotten paths (scans leave them alone).
    pub fn forgotten(&self) -> Result<Forgotten> {
        let mut stmt = self
            .conn
            .prepare("SELECT path FROM forgotten ORDER BY path")?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        Ok(Forgotten(
            rows.map(|r| r.map(|k| crate::paths::from_key(&k)))
                .collect::<rusqlite::Result<_>>()?,
        ))
    }

    /// Lets scans index `path` again; false when it was not forgotten.
    pub fn unforget(&self, path: &Path) -> Result<bool> {
        Ok(self
            .conn
            .execute("DELETE FROM forgotten WHERE path = ?1", [path_str(path)])?
            > 0)
    }

    /// A folder registered anew indexes everything under it again.
    pub(super) fn unforget_under(&self, folder: &Path) -> Result<()> {
        self.conn.execute(
            &format!("DELETE FROM forgotten WHERE {UNDER}"),
            params![path_str(folder), prefix(folder)],
        )?;
        Ok(())
    }

    /// Rewrites the database file without free pages (`VACUUM`) and truncates the write-ahead
    /// log, so erased rows leave the disk files. Returns false when another connection was
    /// still reading and the log could not be emptied (it is on the next checkpoint).
    pub fn shrink(&self) -> Result<bool> {
        self.conn.execute_batch("VACUUM")?;
        let busy: i64 = self
            .conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))?;
        Ok(busy == 0)
    }
}
