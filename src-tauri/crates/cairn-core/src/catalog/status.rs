//! Counts for `cairn status` and the consistency check behind `cairn check`: SQLite's own
//! integrity check plus the catalog's invariants.

use std::path::Path;

use serde::Serialize;

use super::Catalog;
use crate::error::Result;

/// Counts for `cairn status`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CatalogStats {
    pub folders: u64,
    pub documents: u64,
    pub current_documents: u64,
    pub versions: u64,
    pub current_chunks: u64,
    pub embedded_chunks: u64,
    pub problems: u64,
}

/// Result of [`Catalog::integrity`].
#[derive(Debug, Clone, Serialize)]
pub struct Integrity {
    pub sqlite_ok: bool,
    pub sqlite_message: String,
    pub documents_with_two_current_versions: u64,
}

impl Catalog {
    // ---- status -------------------------------------------------------------------------------

    /// Bytes the database and its write-ahead log use on disk.
    pub fn disk_bytes(&self) -> u64 {
        let size = |p: &Path| std::fs::metadata(p).map_or(0, |m| m.len());
        let mut wal = self.path.clone().into_os_string();
        wal.push("-wal");
        size(&self.path) + size(Path::new(&wal))
    }

    /// Number of current passages (cheap: no look-up of vectors).
    pub fn current_chunk_count(&self) -> Result<u64> {
        Ok(self.conn.query_row(
            "SELECT COUNT(*) FROM chunks c JOIN versions v ON v.id = c.version_id
             WHERE v.status = 'current'",
            [],
            |r| r.get::<_, i64>(0),
        )? as u64)
    }

    pub fn stats(&self, model_id: &str) -> Result<CatalogStats> {
        let one = |sql: &str| -> Result<u64> {
            Ok(self.conn.query_row(sql, [], |r| r.get::<_, i64>(0))? as u64)
        };
        Ok(CatalogStats {
            folders: one("SELECT COUNT(*) FROM folders WHERE path NOT LIKE 'removed:%'")?,
            documents: one("SELECT COUNT(*) FROM documents")?,
            current_documents: one("SELECT COUNT(*) FROM versions WHERE status = 'current'")?,
            versions: one("SELECT COUNT(*) FROM versions")?,
            current_chunks: one(
                "SELECT COUNT(*) FROM chunks c JOIN versions v ON v.id = c.version_id
                 WHERE v.status = 'current'",
            )?,
            embedded_chunks: self.conn.query_row(
                "SELECT COUNT(*) FROM chunks c JOIN versions v ON v.id = c.version_id
                 WHERE v.status = 'current' AND EXISTS
                   (SELECT 1 FROM embeddings e WHERE e.model_id = ?1 AND e.hash = c.embed_hash)",
                [model_id],
                |r| r.get::<_, i64>(0),
            )? as u64,
            problems: one("SELECT COUNT(*) FROM problems")?,
        })
    }

    // ---- consistency ----------------------------------------------------------------------------

    /// SQLite's own integrity check plus the catalog's invariants.
    pub fn integrity(&self) -> Result<Integrity> {
        let message: String = self
            .conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
        let doubles: i64 = self.conn.query_row(
            "SELECT COUNT(*) FROM (SELECT doc_id FROM versions WHERE status = 'current'
             GROUP BY doc_id HAVING COUNT(*) > 1)",
            [],
            |r| r.get(0),
        )?;
        Ok(Integrity {
            sqlite_ok: message == "ok",
            sqlite_message: message,
            documents_with_two_current_versions: doubles as u64,
        })
    }
}
