//! The OCR backlog (`ocr_pending`, migration 8): the pages of current versions that wait for
//! recognition, and adding a page's recognised passages to its version.
//!
//! Recognised text becomes part of the version it was found in: its passages are appended to
//! the version's extracted text (after a blank line, so byte spans keep indexing one text:
//! `text_len` grows with them), numbered after its last passage, on the page they came from.

use std::path::PathBuf;

use rusqlite::params;
use serde::Serialize;

use super::{heading_json, Catalog, ChunkId, FolderId, Generation, NewChunk, VersionId};
use crate::error::Result;

/// One item of OCR work: a page of a current version.
#[derive(Debug, Clone)]
pub struct OcrWork {
    pub version: VersionId,
    /// The PDF page, or 0: every page of an image.
    pub page: u32,
    pub path: PathBuf,
    pub folder: FolderId,
    /// The version's kind (`pdf`, `image`).
    pub kind: String,
    pub title: Option<String>,
    /// The content the version was read from; a file that no longer has it is read anew by
    /// the next keyword phase (which drops this work).
    pub content_hash: Vec<u8>,
}

/// How much OCR work waits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct OcrBacklog {
    /// Items (PDF pages; an image counts once).
    pub pages: u64,
    /// Documents they belong to.
    pub documents: u64,
}

impl Catalog {
    /// Every item of OCR work, most recently modified documents first, then page by page.
    pub fn ocr_work(&self) -> Result<Vec<OcrWork>> {
        let mut stmt = self.conn.prepare(
            "SELECT o.version_id, o.page, d.path, v.kind, v.title, v.content_hash, d.folder_id
             FROM ocr_pending o JOIN versions v ON v.id = o.version_id AND v.status = 'current'
             JOIN documents d ON d.id = v.doc_id
             ORDER BY v.mtime DESC, v.id, o.page",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(OcrWork {
                version: VersionId(r.get(0)?),
                page: r.get(1)?,
                path: crate::paths::from_key(&r.get::<_, String>(2)?),
                kind: r.get(3)?,
                title: r.get(4)?,
                content_hash: r.get(5)?,
                folder: FolderId(r.get(6)?),
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// How many items and documents wait for OCR.
    pub fn ocr_backlog(&self) -> Result<OcrBacklog> {
        Ok(self.conn.query_row(
            "SELECT COUNT(*), COUNT(DISTINCT o.version_id) FROM ocr_pending o
             JOIN versions v ON v.id = o.version_id AND v.status = 'current'",
            [],
            |r| {
                Ok(OcrBacklog {
                    pages: r.get::<_, i64>(0)? as u64,
                    documents: r.get::<_, i64>(1)? as u64,
                })
            },
        )?)
    }

    /// The documents with pages waiting for OCR.
    pub fn ocr_waiting_paths(&self) -> Result<Vec<PathBuf>> {
        let mut stmt = self.conn.prepare(
            "SELECT DISTINCT d.path FROM ocr_pending o
             JOIN versions v ON v.id = o.version_id AND v.status = 'current'
             JOIN documents d ON d.id = v.doc_id ORDER BY d.path",
        )?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        rows.map(|p| Ok(crate::paths::from_key(&p?)))
            .collect::<Result<_>>()
    }

    /// Adds the passages recognised for `work` to its version and removes the work, in one
    /// transaction. `chunks`' spans index the recognised text (`text_len` bytes long); they are
    /// moved to the end of the version's text. Returns the new passages, none when the version
    /// is no longer current or the work was already done.
    pub fn add_recognised(
        &mut self,
        work: &OcrWork,
        chunks: &[NewChunk],
        text_len: usize,
    ) -> Result<Vec<ChunkId>> {
        let tx = self.conn.transaction()?;
        let pending = tx.execute(
            "DELETE FROM ocr_pending WHERE version_id = ?1 AND page = ?2
               AND version_id IN (SELECT id FROM versions WHERE status = 'current')",
            params![work.version.0, work.page],
        )?;
        if pending == 0 {
            return Ok(Vec::new());
        }
        let mut added = Vec::with_capacity(chunks.len());
        if !chunks.is_empty() {
            let (old_len, next_ordinal): (i64, i64) = tx.query_row(
                "SELECT v.text_len, (SELECT COALESCE(MAX(ordinal) + 1, 0) FROM chunks
                                     WHERE version_id = v.id)
                 FROM versions v WHERE v.id = ?1",
                [work.version.0],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            let base = if old_len > 0 { old_len + 2 } else { 0 };
            let mut stmt = tx.prepare_cached(
                "INSERT INTO chunks(version_id, ordinal, start, end, page, heading, text, embed_hash)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?;
            for c in chunks {
                stmt.execute(params![
                    work.version.0,
                    next_ordinal + i64::from(c.ordinal),
                    base + c.start as i64,
                    base + c.end as i64,
                    c.page,
                    heading_json(&c.heading_path),
                    c.text,
                    &c.embed_hash[..]
                ])?;
                added.push(ChunkId(tx.last_insert_rowid()));
            }
            drop(stmt);
            let last_page = chunks.iter().filter_map(|c| c.page).max();
            tx.execute(
                "UPDATE versions SET text_len = ?2, chunk_count = chunk_count + ?3,
                   page_count = MAX(COALESCE(page_count, 0), COALESCE(?4, 0))
                 WHERE id = ?1",
                params![
                    work.version.0,
                    base + text_len as i64,
                    chunks.len() as i64,
                    last_page
                ],
            )?;
            Self::bump(&tx, Generation::Text)?;
            Self::bump(&tx, Generation::Vector)?;
        }
        tx.commit()?;
        Ok(added)
    }

    /// Removes OCR work of versions that are no longer current.
    pub(super) fn drop_stale_ocr(tx: &rusqlite::Transaction<'_>) -> Result<()> {
        tx.execute(
            "DELETE FROM ocr_pending WHERE version_id NOT IN
               (SELECT id FROM versions WHERE status = 'current')",
            [],
        )?;
        Ok(())
    }
}
