//! Chunks as the derived indexes and search results read them (current ones, any status by id,
//! the state at a point in time, a passage's neighbours), the embedding cache keyed by
//! (model, hash of the embedded text), vectors as little-endian blobs, and the backlog of
//! current chunks still waiting for a vector.

use std::collections::HashMap;
use std::path::PathBuf;

use rusqlite::{params, OptionalExtension};
use serde::Serialize;

use super::{parse_heading, Catalog, ChunkId, DocId, FolderId, Generation, VersionId};
use crate::error::Result;

/// A current chunk as the derived indexes and search results need it.
#[derive(Debug, Clone, Serialize)]
pub struct ChunkRecord {
    pub id: ChunkId,
    pub doc: DocId,
    pub version: VersionId,
    pub version_seq: i64,
    #[serde(serialize_with = "crate::paths::serialize_escaped")]
    pub path: PathBuf,
    pub folder: FolderId,
    pub kind: String,
    pub mtime: i64,
    pub title: Option<String>,
    pub page: Option<u32>,
    pub heading_path: Vec<String>,
    pub start: usize,
    pub end: usize,
    pub text: String,
    /// Version status: `current`, `superseded` or `deleted`.
    pub status: String,
}

/// A chunk still waiting for its vector.
#[derive(Debug, Clone)]
pub struct PendingChunk {
    pub id: ChunkId,
    pub embed_hash: Vec<u8>,
    pub title: Option<String>,
    pub heading_path: Vec<String>,
    pub text: String,
}

/// Encodes a vector as little-endian f32 bytes.
pub fn vector_to_blob(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// Decodes [`vector_to_blob`].
pub fn blob_to_vector(b: &[u8]) -> Vec<f32> {
    b.chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

impl Catalog {
    const CHUNK_SELECT: &'static str =
        "SELECT c.id, d.id, v.id, v.seq, d.path, d.folder_id, v.kind, v.mtime, v.title, c.page,
                c.heading, c.start, c.end, c.text, v.status
         FROM chunks c JOIN versions v ON v.id = c.version_id JOIN documents d ON d.id = v.doc_id";

    fn chunk_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ChunkRecord> {
        Ok(ChunkRecord {
            id: ChunkId(r.get(0)?),
            doc: DocId(r.get(1)?),
            version: VersionId(r.get(2)?),
            version_seq: r.get(3)?,
            path: crate::paths::from_key(&r.get::<_, String>(4)?),
            folder: FolderId(r.get(5)?),
            kind: r.get(6)?,
            mtime: r.get(7)?,
            title: r.get(8)?,
            page: r.get(9)?,
            heading_path: parse_heading(&r.get::<_, String>(10)?),
            start: r.get::<_, i64>(11)? as usize,
            end: r.get::<_, i64>(12)? as usize,
            text: r.get(13)?,
            status: r.get(14)?,
        })
    }

    /// The given chunks, if they are still current (others are silently left out: a stale
    /// derived index can never surface superseded text).
    pub fn current_chunks(&self, ids: &[ChunkId]) -> Result<HashMap<ChunkId, ChunkRecord>> {
        let mut out = HashMap::with_capacity(ids.len());
        let mut stmt = self.conn.prepare_cached(&format!(
            "{} WHERE c.id = ?1 AND v.status = 'current'",
            Self::CHUNK_SELECT
        ))?;
        for id in ids {
            if let Some(rec) = stmt.query_row([id.0], Self::chunk_row).optional()? {
                out.insert(*id, rec);
            }
        }
        Ok(out)
    }

    /// Visits every current chunk (for rebuilding the text index).
    pub fn for_each_current_chunk(
        &self,
        mut f: impl FnMut(ChunkRecord) -> Result<()>,
    ) -> Result<()> {
        let mut stmt = self.conn.prepare(&format!(
            "{} WHERE v.status = 'current' ORDER BY c.id",
            Self::CHUNK_SELECT
        ))?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            f(Self::chunk_row(row)?)?;
        }
        Ok(())
    }

    /// Visits every current chunk that has a vector for `model_id` (for rebuilding usearch).
    pub fn for_each_current_vector(
        &self,
        model_id: &str,
        mut f: impl FnMut(ChunkId, Vec<f32>) -> Result<()>,
    ) -> Result<()> {
        let mut stmt = self.conn.prepare(
            "SELECT c.id, e.vector FROM chunks c
             JOIN versions v ON v.id = c.version_id
             JOIN embeddings e ON e.model_id = ?1 AND e.hash = c.embed_hash
             WHERE v.status = 'current' ORDER BY c.id",
        )?;
        let mut rows = stmt.query([model_id])?;
        while let Some(row) = rows.next()? {
            let id = ChunkId(row.get(0)?);
            let blob: Vec<u8> = row.get(1)?;
            f(id, blob_to_vector(&blob))?;
        }
        Ok(())
    }

    /// Current chunks that have a vector for `model_id`, in id order.
    pub fn embedded_current_chunks(&self, model_id: &str) -> Result<Vec<ChunkId>> {
        let mut stmt = self.conn.prepare(
            "SELECT c.id FROM chunks c JOIN versions v ON v.id = c.version_id
             WHERE v.status = 'current' AND EXISTS
               (SELECT 1 FROM embeddings e WHERE e.model_id = ?1 AND e.hash = c.embed_hash)
             ORDER BY c.id",
        )?;
        let rows = stmt.query_map([model_id], |r| r.get::<_, i64>(0))?;
        Ok(rows
            .map(|r| r.map(ChunkId))
            .collect::<rusqlite::Result<_>>()?)
    }

    /// Current chunks whose text has a cached vector for `model_id` among `ids`.
    pub fn cached_vectors(
        &self,
        model_id: &str,
        ids: &[ChunkId],
    ) -> Result<Vec<(ChunkId, Vec<f32>)>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT e.vector FROM chunks c
             JOIN embeddings e ON e.model_id = ?1 AND e.hash = c.embed_hash
             WHERE c.id = ?2",
        )?;
        let mut out = Vec::new();
        for id in ids {
            if let Some(blob) = stmt
                .query_row(params![model_id, id.0], |r| r.get::<_, Vec<u8>>(0))
                .optional()?
            {
                out.push((*id, blob_to_vector(&blob)));
            }
        }
        Ok(out)
    }

    /// Up to `limit` current chunks without a vector for `model_id`, most recently modified
    /// documents first. Chunks sharing one text are returned once per text.
    pub fn pending_chunks(&self, model_id: &str, limit: usize) -> Result<Vec<PendingChunk>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT c.id, c.embed_hash, v.title, c.heading, c.text FROM chunks c
             JOIN versions v ON v.id = c.version_id
             WHERE v.status = 'current'
               AND NOT EXISTS (SELECT 1 FROM embeddings e
                               WHERE e.model_id = ?1 AND e.hash = c.embed_hash)
             ORDER BY v.mtime DESC, c.id
             LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![model_id, limit as i64], |r| {
            Ok(PendingChunk {
                id: ChunkId(r.get(0)?),
                embed_hash: r.get(1)?,
                title: r.get(2)?,
                heading_path: parse_heading(&r.get::<_, String>(3)?),
                text: r.get(4)?,
            })
        })?;
        let mut seen = std::collections::HashSet::new();
        let mut out = Vec::new();
        for row in rows {
            let row = row?;
            if seen.insert(row.embed_hash.clone()) {
                out.push(row);
            }
        }
        Ok(out)
    }

    /// Stores vectors (by embedded-text hash) and returns every current chunk that now has one
    /// among those hashes, for adding to the vector index.
    pub fn store_vectors(
        &mut self,
        model_id: &str,
        vectors: &[(Vec<u8>, Vec<f32>)],
    ) -> Result<Vec<(ChunkId, Vec<f32>)>> {
        let tx = self.conn.transaction()?;
        let mut ready = Vec::new();
        {
            let mut ins = tx.prepare_cached(
                "INSERT OR REPLACE INTO embeddings(model_id, hash, vector) VALUES (?1, ?2, ?3)",
            )?;
            let mut users = tx.prepare_cached(
                "SELECT c.id FROM chunks c JOIN versions v ON v.id = c.version_id
                 WHERE c.embed_hash = ?1 AND v.status = 'current'",
            )?;
            for (hash, v) in vectors {
                ins.execute(params![model_id, hash, vector_to_blob(v)])?;
                let ids = users.query_map([hash], |r| r.get::<_, i64>(0))?;
                for id in ids {
                    ready.push((ChunkId(id?), v.clone()));
                }
            }
        }
        Self::bump(&tx, Generation::Vector)?;
        tx.commit()?;
        Ok(ready)
    }

    /// The text of the passages just before and after chunk `id` in the same version (for
    /// showing a cited passage in context).
    pub fn neighbours(&self, id: ChunkId) -> Result<(Option<String>, Option<String>)> {
        let mut stmt = self.conn.prepare(
            "SELECT n.ordinal - c.ordinal, n.text FROM chunks c
             JOIN chunks n ON n.version_id = c.version_id
                          AND n.ordinal IN (c.ordinal - 1, c.ordinal + 1)
             WHERE c.id = ?1",
        )?;
        let rows = stmt.query_map([id.0], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
        })?;
        let (mut before, mut after) = (None, None);
        for row in rows {
            let (offset, text) = row?;
            if offset < 0 {
                before = Some(text);
            } else {
                after = Some(text);
            }
        }
        Ok((before, after))
    }

    /// Chunks of any status (for history and as-of search), by id.
    pub fn chunk_records(&self, ids: &[ChunkId]) -> Result<HashMap<ChunkId, ChunkRecord>> {
        let mut out = HashMap::with_capacity(ids.len());
        let mut stmt = self
            .conn
            .prepare_cached(&format!("{} WHERE c.id = ?1", Self::CHUNK_SELECT))?;
        for id in ids {
            if let Some(rec) = stmt.query_row([id.0], Self::chunk_row).optional()? {
                out.insert(*id, rec);
            }
        }
        Ok(out)
    }

    /// Chunks of the versions that were current at Unix time `at`, or of every version ever
    /// recorded when `at` is None.
    pub fn chunks_of_state(&self, at: Option<i64>) -> Result<Vec<ChunkRecord>> {
        let sql = format!(
            "{} WHERE ?1 IS NULL OR (v.created_at <= ?1 AND (v.retired_at IS NULL OR v.retired_at > ?1))",
            Self::CHUNK_SELECT
        );
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map([at], Self::chunk_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}
