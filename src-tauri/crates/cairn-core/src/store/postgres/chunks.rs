//! Chunk reads (current ones, any status by id, a past state, neighbours, filters) and the
//! embedding cache with its backlog and the abstention calibration, as `catalog/chunks.rs`
//! and `catalog/filters.rs` do in SQLite.

use std::collections::{HashMap, HashSet};

use postgres::Row;

use super::catalog::{bump, from_key, PgCatalog};
use crate::answer::abstain::Calibration;
use crate::catalog::{
    blob_to_vector, vector_to_blob, ChunkFilter, ChunkId, ChunkRecord, DocId, Filters, FolderId,
    Generation, Marks, PendingChunk, VersionId,
};
use crate::error::{Error, Result};
use crate::store::{ChunkStore, EmbeddingCache};

const CHUNK_SELECT: &str =
    "SELECT c.id, d.id, v.id, v.seq, d.path, d.folder_id, v.kind, v.mtime, v.title, c.page,
            c.heading, c.start, c.\"end\", c.text, v.status
     FROM chunks c JOIN versions v ON v.id = c.version_id JOIN documents d ON d.id = v.doc_id";

fn chunk_row(r: &Row) -> ChunkRecord {
    ChunkRecord {
        id: ChunkId(r.get(0)),
        doc: DocId(r.get(1)),
        version: VersionId(r.get(2)),
        version_seq: r.get(3),
        path: from_key(r.get(4)),
        folder: FolderId(r.get(5)),
        kind: r.get(6),
        mtime: r.get(7),
        title: r.get(8),
        page: r.get::<_, Option<i32>>(9).map(|p| p as u32),
        heading_path: serde_json::from_str(r.get(10)).unwrap_or_default(),
        start: r.get::<_, i64>(11) as usize,
        end: r.get::<_, i64>(12) as usize,
        text: r.get(13),
        status: r.get(14),
    }
}

fn raw(ids: &[ChunkId]) -> Vec<i64> {
    ids.iter().map(|i| i.0).collect()
}

impl PgCatalog {
    fn records(
        &self,
        ids: &[ChunkId],
        current_only: bool,
    ) -> Result<HashMap<ChunkId, ChunkRecord>> {
        let sql = format!(
            "{CHUNK_SELECT} WHERE c.id = ANY($1) {}",
            if current_only { "AND c.current" } else { "" }
        );
        Ok(self
            .query(&sql, &[&raw(ids)])?
            .iter()
            .map(|r| {
                let rec = chunk_row(r);
                (rec.id, rec)
            })
            .collect())
    }
}

impl ChunkStore for PgCatalog {
    fn current_chunks(&self, ids: &[ChunkId]) -> Result<HashMap<ChunkId, ChunkRecord>> {
        self.records(ids, true)
    }

    fn chunk_records(&self, ids: &[ChunkId]) -> Result<HashMap<ChunkId, ChunkRecord>> {
        self.records(ids, false)
    }

    fn for_each_current_chunk(&self, f: &mut dyn FnMut(ChunkRecord) -> Result<()>) -> Result<()> {
        // In pages by id, so a large library is never held in memory at once.
        let mut after = 0i64;
        loop {
            let rows = self.query(
                &format!("{CHUNK_SELECT} WHERE c.current AND c.id > $1 ORDER BY c.id LIMIT 2000"),
                &[&after],
            )?;
            let Some(last) = rows.last() else {
                return Ok(());
            };
            after = last.get(0);
            for r in &rows {
                f(chunk_row(r))?;
            }
        }
    }

    fn chunks_of_state(&self, at: Option<i64>) -> Result<Vec<ChunkRecord>> {
        Ok(self
            .query(
                &format!(
                    "{CHUNK_SELECT} WHERE $1::bigint IS NULL OR (v.created_at <= $1
                       AND (v.retired_at IS NULL OR v.retired_at > $1))"
                ),
                &[&at],
            )?
            .iter()
            .map(chunk_row)
            .collect())
    }

    fn neighbours(&self, id: ChunkId) -> Result<(Option<String>, Option<String>)> {
        let rows = self.query(
            "SELECT n.ordinal - c.ordinal, n.text FROM chunks c
             JOIN chunks n ON n.version_id = c.version_id
                          AND n.ordinal IN (c.ordinal - 1, c.ordinal + 1)
             WHERE c.id = $1",
            &[&id.0],
        )?;
        let (mut before, mut after) = (None, None);
        for r in rows {
            if r.get::<_, i32>(0) < 0 {
                before = Some(r.get(1));
            } else {
                after = Some(r.get(1));
            }
        }
        Ok((before, after))
    }

    fn chunk_filter(&self, filters: &Filters, marks: &Marks) -> Result<ChunkFilter> {
        if filters.filters_mail() {
            // Sender and date are kept per passage by the embedded store only (so far).
            return Err(crate::Error::Invalid(
                "mail filters (sender, sent date) are not available on a team library yet; \
                 filter by --type mail and search for the sender's name instead"
                    .into(),
            ));
        }
        let exclude_deprecated = !filters.include_deprecated && marks.has_deprecations();
        if filters.is_empty() && !exclude_deprecated {
            return Ok(ChunkFilter::All);
        }
        let rows = self.query(
            "SELECT c.id, d.path, v.kind, v.mtime FROM chunks c
             JOIN versions v ON v.id = c.version_id JOIN documents d ON d.id = v.doc_id
             WHERE c.current",
            &[],
        )?;
        let verdicts = rows.iter().map(|r| {
            let path = from_key(r.get(1));
            let ok = filters.admits(&path, r.get(2), r.get(3), marks)
                && !(exclude_deprecated && marks.deprecation(&path).is_some());
            (ChunkId(r.get(0)), ok)
        });
        Ok(ChunkFilter::from_verdicts(filters, verdicts))
    }
}

impl EmbeddingCache for PgCatalog {
    fn for_each_current_vector(
        &self,
        model_id: &str,
        f: &mut dyn FnMut(ChunkId, Vec<f32>) -> Result<()>,
    ) -> Result<()> {
        let mut after = 0i64;
        loop {
            let rows = self.query(
                "SELECT c.id, e.vector FROM chunks c
                 JOIN embeddings e ON e.model_id = $1 AND e.hash = c.embed_hash
                 WHERE c.current AND c.id > $2 ORDER BY c.id LIMIT 2000",
                &[&model_id, &after],
            )?;
            let Some(last) = rows.last() else {
                return Ok(());
            };
            after = last.get(0);
            for r in &rows {
                f(ChunkId(r.get(0)), blob_to_vector(r.get(1)))?;
            }
        }
    }

    fn cached_vectors(&self, model_id: &str, ids: &[ChunkId]) -> Result<Vec<(ChunkId, Vec<f32>)>> {
        let rows = self.query(
            "SELECT c.id, e.vector FROM chunks c
             JOIN embeddings e ON e.model_id = $1 AND e.hash = c.embed_hash
             WHERE c.id = ANY($2)",
            &[&model_id, &raw(ids)],
        )?;
        let found: HashMap<i64, Vec<f32>> = rows
            .iter()
            .map(|r| (r.get(0), blob_to_vector(r.get(1))))
            .collect();
        Ok(ids
            .iter()
            .filter_map(|id| found.get(&id.0).map(|v| (*id, v.clone())))
            .collect())
    }

    fn pending_chunks(&self, model_id: &str, limit: usize) -> Result<Vec<PendingChunk>> {
        let rows = self.query(
            "SELECT c.id, c.embed_hash, v.title, c.heading, c.text FROM chunks c
             JOIN versions v ON v.id = c.version_id
             WHERE c.current
               AND NOT EXISTS (SELECT 1 FROM embeddings e
                               WHERE e.model_id = $1 AND e.hash = c.embed_hash)
             ORDER BY v.mtime DESC, c.id
             LIMIT $2",
            &[&model_id, &(limit.min(i64::MAX as usize) as i64)],
        )?;
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        for r in rows {
            let hash: Vec<u8> = r.get(1);
            if seen.insert(hash.clone()) {
                out.push(PendingChunk {
                    id: ChunkId(r.get(0)),
                    embed_hash: hash,
                    title: r.get(2),
                    heading_path: serde_json::from_str(r.get(3)).unwrap_or_default(),
                    text: r.get(4),
                });
            }
        }
        Ok(out)
    }

    fn store_vectors(
        &mut self,
        model_id: &str,
        vectors: &[(Vec<u8>, Vec<f32>)],
    ) -> Result<Vec<(ChunkId, Vec<f32>)>> {
        let hashes: Vec<&[u8]> = vectors.iter().map(|(h, _)| h.as_slice()).collect();
        let blobs: Vec<Vec<u8>> = vectors.iter().map(|(_, v)| vector_to_blob(v)).collect();
        let rows = self.tx(|tx| {
            tx.execute(
                "INSERT INTO embeddings(model_id, hash, vector)
                 SELECT $1, h, v FROM unnest($2::bytea[], $3::bytea[]) AS u(h, v)
                 ON CONFLICT (model_id, hash) DO UPDATE SET vector = excluded.vector",
                &[&model_id, &hashes, &blobs],
            )?;
            let rows = tx.query(
                "SELECT id, embed_hash FROM chunks WHERE current AND embed_hash = ANY($1)
                 ORDER BY id",
                &[&hashes],
            )?;
            bump(tx, Generation::Vector)?;
            Ok(rows)
        })?;
        let by_hash: HashMap<&[u8], &Vec<f32>> =
            vectors.iter().map(|(h, v)| (h.as_slice(), v)).collect();
        Ok(rows
            .iter()
            .filter_map(|r| {
                let hash: &[u8] = r.get(1);
                by_hash.get(hash).map(|v| (ChunkId(r.get(0)), (*v).clone()))
            })
            .collect())
    }

    fn embedded_current_chunks(&self, model_id: &str) -> Result<Vec<ChunkId>> {
        Ok(self
            .query(
                "SELECT c.id FROM chunks c WHERE c.current AND EXISTS
                   (SELECT 1 FROM embeddings e WHERE e.model_id = $1 AND e.hash = c.embed_hash)
                 ORDER BY c.id",
                &[&model_id],
            )?
            .iter()
            .map(|r| ChunkId(r.get(0)))
            .collect())
    }

    fn calibration(&self, model_id: &str) -> Result<Option<Calibration>> {
        Ok(self
            .query_opt(
                "SELECT data FROM answer_calibration WHERE model_id = $1",
                &[&model_id],
            )?
            .and_then(|r| serde_json::from_str(r.get(0)).ok()))
    }

    fn store_calibration(&self, c: &Calibration) -> Result<()> {
        let data = serde_json::to_string(c).map_err(|e| Error::Invalid(e.to_string()))?;
        self.execute(
            "INSERT INTO answer_calibration(model_id, generation, passages, computed_at, data)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (model_id) DO UPDATE SET generation = excluded.generation,
               passages = excluded.passages, computed_at = excluded.computed_at,
               data = excluded.data",
            &[
                &c.model_id,
                &(c.generation as i64),
                &(c.passages as i64),
                &c.computed_at,
                &data,
            ],
        )?;
        Ok(())
    }
}
