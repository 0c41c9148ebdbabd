//! Folders, documents and their versions: registering and removing folders, what the indexer
//! knows of each live file, applying one batch of indexing results (new versions, renames,
//! deletions, problems) in a single transaction, the library list and a document's history.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use rusqlite::{params, OptionalExtension, Transaction};
use serde::Serialize;

use super::{
    heading_json, now, path_str, Catalog, ChunkId, DocId, FolderId, Generation, VersionId,
};
use crate::error::{Error, Result};

/// Lifecycle of a document version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum VersionStatus {
    /// The latest content of a live file: the only searchable status.
    Current,
    /// Replaced by a newer version of the same document.
    Superseded,
    /// The file was deleted; kept for history.
    Deleted,
}

impl VersionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            VersionStatus::Current => "current",
            VersionStatus::Superseded => "superseded",
            VersionStatus::Deleted => "deleted",
        }
    }
}

/// A folder registered with `cairn add`.
#[derive(Debug, Clone, Serialize)]
pub struct Folder {
    pub id: FolderId,
    #[serde(serialize_with = "crate::paths::serialize_escaped")]
    pub path: PathBuf,
}

/// The current version of a document, as the indexer needs it to decide what changed.
#[derive(Debug, Clone)]
pub struct KnownDoc {
    pub doc: DocId,
    pub version: VersionId,
    pub seq: i64,
    pub content_hash: Vec<u8>,
    pub size: u64,
    /// The ns mtime this content was verified against; `None` means "hash it again".
    pub stat_ns: Option<i64>,
}

/// The sender and date of the mail message a chunk belongs to (`--from`, `--sent-after`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkMail {
    /// `Name <address>` as the message's first `From:` gives it.
    pub sender: String,
    /// The message's `Date:` as Unix time (seconds).
    pub sent_at: Option<i64>,
}

/// A chunk to insert.
#[derive(Debug, Clone)]
pub struct NewChunk {
    pub ordinal: u32,
    pub start: usize,
    pub end: usize,
    pub page: Option<u32>,
    pub heading_path: Vec<String>,
    pub text: String,
    pub embed_hash: [u8; 32],
    /// For a passage of a mail message: its sender and date.
    pub mail: Option<ChunkMail>,
}

/// A new version of a document to record.
#[derive(Debug, Clone)]
pub struct NewVersion {
    pub path: PathBuf,
    pub folder: FolderId,
    pub content_hash: [u8; 32],
    pub size: u64,
    pub mtime: i64,
    /// See [`KnownDoc::stat_ns`].
    pub stat_ns: Option<i64>,
    pub kind: String,
    pub title: Option<String>,
    pub text_len: usize,
    pub page_count: Option<u32>,
    pub chunks: Vec<NewChunk>,
    /// Pages waiting for the OCR phase ([`crate::parse::ParsedDoc::ocr_pages`]).
    pub ocr_pages: Vec<u32>,
}

/// The results of indexing a batch of files, applied by [`Catalog::apply_batch`].
#[derive(Debug, Default)]
pub struct Batch {
    pub versions: Vec<NewVersion>,
    /// (old path, new path) of moved documents with unchanged content.
    pub renames: Vec<(PathBuf, PathBuf)>,
    pub deletions: Vec<PathBuf>,
    pub problems: Vec<(PathBuf, FolderId, String)>,
    /// (size, trusted ns mtime) of files in `problems` and `skipped`: they are not read again
    /// while the stat stays the same.
    pub stats: std::collections::HashMap<PathBuf, (u64, i64)>,
    /// Files that are not documents (unsupported types), remembered with their stat.
    pub skipped: Vec<(PathBuf, FolderId)>,
}

impl Batch {
    pub fn is_empty(&self) -> bool {
        self.versions.is_empty()
            && self.renames.is_empty()
            && self.deletions.is_empty()
            && self.problems.is_empty()
            && self.skipped.is_empty()
    }
}

/// What [`Catalog::apply_batch`] changed.
#[derive(Debug, Default)]
pub struct BatchOutcome {
    pub versions: usize,
    pub renamed: usize,
    pub deleted: usize,
    pub added_chunks: Vec<ChunkId>,
    pub removed_chunks: Vec<ChunkId>,
}

/// A document and its latest version, as the library list shows it.
#[derive(Debug, Clone, Serialize)]
pub struct DocumentRow {
    pub id: DocId,
    #[serde(serialize_with = "crate::paths::serialize_escaped")]
    pub path: PathBuf,
    /// The registered folder it belongs to.
    #[serde(serialize_with = "crate::paths::serialize_escaped")]
    pub folder: PathBuf,
    /// Latest version number (1 = first seen).
    pub version: i64,
    /// Status of the latest version: `current`, `superseded`, `deleted`.
    pub status: String,
    pub kind: String,
    pub title: Option<String>,
    pub size: u64,
    pub mtime: i64,
    pub pages: Option<u32>,
    pub chunks: u64,
    /// How many versions Cairn has recorded.
    pub versions: u64,
}

/// One version in a document's history.
#[derive(Debug, Clone, Serialize)]
pub struct VersionInfo {
    pub version: i64,
    pub status: String,
    /// When Cairn recorded this version (Unix seconds).
    pub recorded_at: i64,
    /// When it stopped being current, if it did.
    pub retired_at: Option<i64>,
    pub content_hash: String,
    pub size: u64,
    pub mtime: i64,
    pub kind: String,
    pub chunks: u64,
    /// Passages new in this version, compared with the previous one.
    pub chunks_added: u64,
    /// Passages of the previous version that are gone.
    pub chunks_removed: u64,
}

impl Catalog {
    // ---- folders ------------------------------------------------------------------------------

    /// Registers a folder (idempotent); returns its id. Documents left under it by an earlier
    /// [`Catalog::remove_folder`] are adopted again, and a folder registered anew forgets that
    /// paths under it were forgotten (they are indexed again).
    pub fn add_folder(&self, path: &Path) -> Result<FolderId> {
        let added = self.conn.execute(
            "INSERT OR IGNORE INTO folders(path, added_at) VALUES (?1, ?2)",
            params![path_str(path), now()],
        )?;
        let id = FolderId(self.conn.query_row(
            "SELECT id FROM folders WHERE path = ?1",
            [path_str(path)],
            |r| r.get(0),
        )?);
        let prefix = format!("{}{}", path_str(path), std::path::MAIN_SEPARATOR);
        self.conn.execute(
            "UPDATE documents SET folder_id = ?1
             WHERE folder_id IN (SELECT id FROM folders WHERE path LIKE 'removed:%')
               AND substr(path, 1, length(?2)) = ?2",
            params![id.0, prefix],
        )?;
        if added > 0 {
            self.unforget_under(path)?;
        }
        Ok(id)
    }

    pub fn folders(&self) -> Result<Vec<Folder>> {
        let mut stmt = self.conn.prepare(
            "SELECT id, path FROM folders WHERE path NOT LIKE 'removed:%' ORDER BY path",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(Folder {
                id: FolderId(r.get(0)?),
                path: crate::paths::from_key(&r.get::<_, String>(1)?),
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    // ---- documents and versions ---------------------------------------------------------------

    /// Current (live) documents under a folder, keyed by path.
    pub fn known_docs(&self, folder: FolderId) -> Result<HashMap<PathBuf, KnownDoc>> {
        let mut stmt = self.conn.prepare(
            "SELECT d.path, d.id, v.id, v.seq, v.content_hash, v.size, v.stat_ns
             FROM documents d JOIN versions v ON v.doc_id = d.id
             WHERE d.folder_id = ?1 AND v.status = 'current'
               AND v.seq = (SELECT MAX(seq) FROM versions WHERE doc_id = d.id)",
        )?;
        let rows = stmt.query_map([folder.0], |r| {
            Ok((
                crate::paths::from_key(&r.get::<_, String>(0)?),
                KnownDoc {
                    doc: DocId(r.get(1)?),
                    version: VersionId(r.get(2)?),
                    seq: r.get(3)?,
                    content_hash: r.get(4)?,
                    size: r.get::<_, i64>(5)? as u64,
                    stat_ns: r.get(6)?,
                },
            ))
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// True when a document (live or not) has this path.
    pub fn has_document(&self, path: &Path) -> Result<bool> {
        Ok(self
            .conn
            .query_row(
                "SELECT 1 FROM documents WHERE path = ?1",
                [path_str(path)],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }

    /// Records that an unchanged file's modification time moved (no new version).
    pub fn touch_version(
        &self,
        version: VersionId,
        mtime: i64,
        stat_ns: Option<i64>,
    ) -> Result<()> {
        self.conn.execute(
            "UPDATE versions SET mtime = ?2, stat_ns = ?3 WHERE id = ?1",
            params![version.0, mtime, stat_ns],
        )?;
        Ok(())
    }

    /// Makes the next reconcile hash this version's file instead of trusting its stat.
    pub fn forget_stat(&self, version: VersionId) -> Result<()> {
        self.conn.execute(
            "UPDATE versions SET stat_ns = NULL WHERE id = ?1",
            [version.0],
        )?;
        Ok(())
    }

    /// Applies one batch of indexing results in a single transaction: new versions (the
    /// previous current version of each document becomes superseded), renames and deletions.
    /// Returns the chunk ids that left the searchable set and the ids that joined it.
    pub fn apply_batch(&mut self, batch: &Batch) -> Result<BatchOutcome> {
        let tx = self.conn.transaction()?;
        let mut outcome = BatchOutcome::default();
        let t = now();
        for (old, new) in &batch.renames {
            tx.execute(
                "UPDATE documents SET path = ?2 WHERE path = ?1",
                params![path_str(old), path_str(new)],
            )?;
            outcome.renamed += 1;
        }
        for path in &batch.deletions {
            let removed = Self::retire_current(&tx, path, VersionStatus::Deleted)?;
            outcome.removed_chunks.extend(removed);
            outcome.deleted += 1;
        }
        for v in &batch.versions {
            let removed = Self::retire_current(&tx, &v.path, VersionStatus::Superseded)?;
            outcome.removed_chunks.extend(removed);
            tx.execute(
                "INSERT OR IGNORE INTO documents(folder_id, path, created_at) VALUES (?1, ?2, ?3)",
                params![v.folder.0, path_str(&v.path), t],
            )?;
            let doc: i64 = tx.query_row(
                "SELECT id FROM documents WHERE path = ?1",
                [path_str(&v.path)],
                |r| r.get(0),
            )?;
            let seq: i64 = tx.query_row(
                "SELECT COALESCE(MAX(seq), 0) + 1 FROM versions WHERE doc_id = ?1",
                [doc],
                |r| r.get(0),
            )?;
            tx.execute(
                "INSERT INTO versions(doc_id, seq, status, content_hash, size, mtime, kind, title,
                                      text_len, page_count, chunk_count, created_at, stat_ns)
                 VALUES (?1, ?2, 'current', ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                params![
                    doc,
                    seq,
                    &v.content_hash[..],
                    v.size as i64,
                    v.mtime,
                    v.kind,
                    v.title,
                    v.text_len as i64,
                    v.page_count,
                    v.chunks.len() as i64,
                    t,
                    v.stat_ns
                ],
            )?;
            let version = tx.last_insert_rowid();
            let mut stmt = tx.prepare_cached(
                "INSERT INTO chunks(version_id, ordinal, start, end, page, heading, text, embed_hash)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?;
            for c in &v.chunks {
                stmt.execute(params![
                    version,
                    c.ordinal,
                    c.start as i64,
                    c.end as i64,
                    c.page,
                    heading_json(&c.heading_path),
                    c.text,
                    &c.embed_hash[..]
                ])?;
                let id = tx.last_insert_rowid();
                if let Some(mail) = &c.mail {
                    tx.prepare_cached(
                        "INSERT INTO chunk_mail(chunk_id, sender, sent_at) VALUES (?1, ?2, ?3)",
                    )?
                    .execute(params![id, mail.sender, mail.sent_at])?;
                }
                outcome.added_chunks.push(ChunkId(id));
            }
            drop(stmt);
            for page in &v.ocr_pages {
                tx.prepare_cached(
                    "INSERT OR IGNORE INTO ocr_pending(version_id, page) VALUES (?1, ?2)",
                )?
                .execute(params![version, page])?;
            }
            tx.execute("DELETE FROM problems WHERE path = ?1", [path_str(&v.path)])?;
            tx.execute("DELETE FROM skipped WHERE path = ?1", [path_str(&v.path)])?;
            outcome.versions += 1;
        }
        for (path, folder, reason) in &batch.problems {
            let stat = batch.stats.get(path);
            tx.execute(
                "INSERT INTO problems(path, folder_id, reason, at, size, stat_ns)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT(path) DO UPDATE SET reason = excluded.reason, at = excluded.at,
                   size = excluded.size, stat_ns = excluded.stat_ns",
                params![
                    path_str(path),
                    folder.0,
                    reason,
                    t,
                    stat.map(|s| s.0 as i64),
                    stat.map(|s| s.1)
                ],
            )?;
        }
        for (path, folder) in &batch.skipped {
            match batch.stats.get(path) {
                Some((size, stat_ns)) => tx.execute(
                    "INSERT INTO skipped(path, folder_id, size, stat_ns) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT(path) DO UPDATE SET size = excluded.size, stat_ns = excluded.stat_ns",
                    params![path_str(path), folder.0, *size as i64, stat_ns],
                )?,
                None => tx.execute("DELETE FROM skipped WHERE path = ?1", [path_str(path)])?,
            };
        }
        if !outcome.added_chunks.is_empty() || !outcome.removed_chunks.is_empty() {
            Self::bump(&tx, Generation::Text)?;
            Self::bump(&tx, Generation::Vector)?;
        }
        tx.commit()?;
        Ok(outcome)
    }

    /// Marks the live version of `path` with `status`; returns the chunk ids it had.
    fn retire_current(
        tx: &Transaction<'_>,
        path: &Path,
        status: VersionStatus,
    ) -> Result<Vec<ChunkId>> {
        let current: Option<i64> = tx
            .query_row(
                "SELECT v.id FROM versions v JOIN documents d ON d.id = v.doc_id
                 WHERE d.path = ?1 AND v.status = 'current'",
                [path_str(path)],
                |r| r.get(0),
            )
            .optional()?;
        let Some(version) = current else {
            return Ok(Vec::new());
        };
        tx.execute(
            "UPDATE versions SET status = ?2, retired_at = ?3 WHERE id = ?1",
            params![version, status.as_str(), now()],
        )?;
        // Its pages waiting for OCR are not recognised any more.
        tx.execute("DELETE FROM ocr_pending WHERE version_id = ?1", [version])?;
        let mut stmt = tx.prepare_cached("SELECT id FROM chunks WHERE version_id = ?1")?;
        let ids = stmt.query_map([version], |r| Ok(ChunkId(r.get(0)?)))?;
        Ok(ids.collect::<rusqlite::Result<_>>()?)
    }

    /// Every document with its latest version, for the desktop app's library list.
    pub fn documents(&self) -> Result<Vec<DocumentRow>> {
        let mut stmt = self.conn.prepare(
            "SELECT d.id, d.path, f.path, v.seq, v.status, v.kind, v.title, v.size, v.mtime,
                    v.page_count, v.chunk_count,
                    (SELECT COUNT(*) FROM versions WHERE doc_id = d.id)
             FROM documents d JOIN folders f ON f.id = d.folder_id AND f.path NOT LIKE 'removed:%'
             JOIN versions v ON v.doc_id = d.id
             WHERE v.seq = (SELECT MAX(seq) FROM versions WHERE doc_id = d.id)
             ORDER BY d.path",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(DocumentRow {
                id: DocId(r.get(0)?),
                path: crate::paths::from_key(&r.get::<_, String>(1)?),
                folder: crate::paths::from_key(&r.get::<_, String>(2)?),
                version: r.get(3)?,
                status: r.get(4)?,
                kind: r.get(5)?,
                title: r.get(6)?,
                size: r.get::<_, i64>(7)? as u64,
                mtime: r.get(8)?,
                pages: r.get(9)?,
                chunks: r.get::<_, i64>(10)? as u64,
                versions: r.get::<_, i64>(11)? as u64,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Forgets a folder: its documents' current versions become `deleted` (history is kept),
    /// its problems are dropped and it is no longer scanned. The caller rebuilds the derived
    /// indexes. Returns how many documents were retired.
    pub fn remove_folder(&mut self, path: &Path) -> Result<usize> {
        let tx = self.conn.transaction()?;
        let id: i64 = tx
            .query_row(
                "SELECT id FROM folders WHERE path = ?1",
                [path_str(path)],
                |r| r.get(0),
            )
            .optional()?
            .ok_or_else(|| {
                Error::NotFound(format!(
                    "{} is not a folder in the collection",
                    path.display()
                ))
            })?;
        let retired = tx.execute(
            "UPDATE versions SET status = 'deleted', retired_at = ?2
             WHERE status = 'current' AND doc_id IN (SELECT id FROM documents WHERE folder_id = ?1)",
            params![id, now()],
        )?;
        tx.execute("DELETE FROM problems WHERE folder_id = ?1", [id])?;
        tx.execute("DELETE FROM skipped WHERE folder_id = ?1", [id])?;
        Self::drop_stale_ocr(&tx)?;
        // The row stays as a tombstone (documents keep their history and reference it) and
        // its documents are adopted again if the folder is re-added.
        tx.execute(
            "UPDATE folders SET path = 'removed:' || id || ':' || path WHERE id = ?1",
            [id],
        )?;
        Self::bump(&tx, Generation::Text)?;
        Self::bump(&tx, Generation::Vector)?;
        tx.commit()?;
        Ok(retired)
    }

    /// The document at `path` (live or not).
    pub fn document_id(&self, path: &Path) -> Result<Option<DocId>> {
        Ok(self
            .conn
            .query_row(
                "SELECT id FROM documents WHERE path = ?1",
                [path_str(path)],
                |r| Ok(DocId(r.get(0)?)),
            )
            .optional()?)
    }

    /// Every version of the document at `path`, oldest first, with what changed.
    pub fn history(&self, path: &Path) -> Result<Vec<VersionInfo>> {
        let doc = self.document_id(path)?.ok_or_else(|| {
            Error::NotFound(format!("Cairn has no document at {}", path.display()))
        })?;
        let mut stmt = self.conn.prepare(
            "SELECT id, seq, status, created_at, retired_at, content_hash, size, mtime, kind,
                    chunk_count FROM versions WHERE doc_id = ?1 ORDER BY seq",
        )?;
        let rows: Vec<(i64, VersionInfo)> = stmt
            .query_map([doc.0], |r| {
                let hash: Vec<u8> = r.get(5)?;
                Ok((
                    r.get(0)?,
                    VersionInfo {
                        version: r.get(1)?,
                        status: r.get(2)?,
                        recorded_at: r.get(3)?,
                        retired_at: r.get(4)?,
                        content_hash: hash.iter().take(8).map(|b| format!("{b:02x}")).collect(),
                        size: r.get::<_, i64>(6)? as u64,
                        mtime: r.get(7)?,
                        kind: r.get(8)?,
                        chunks: r.get::<_, i64>(9)? as u64,
                        chunks_added: 0,
                        chunks_removed: 0,
                    },
                ))
            })?
            .collect::<rusqlite::Result<_>>()?;
        let mut hashes = self
            .conn
            .prepare("SELECT embed_hash FROM chunks WHERE version_id = ?1")?;
        let mut prev: std::collections::HashSet<Vec<u8>> = Default::default();
        let mut out = Vec::with_capacity(rows.len());
        for (id, mut info) in rows {
            let cur: std::collections::HashSet<Vec<u8>> = hashes
                .query_map([id], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            info.chunks_added = cur.difference(&prev).count() as u64;
            info.chunks_removed = prev.difference(&cur).count() as u64;
            prev = cur;
            out.push(info);
        }
        Ok(out)
    }
}
