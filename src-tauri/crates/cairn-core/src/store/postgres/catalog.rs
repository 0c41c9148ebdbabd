//! [`PgCatalog`]: the catalog traits' connection, the `meta` table and generation counters,
//! counts and the integrity check, folders, documents and versions (`apply_batch` in one
//! transaction, as `catalog/documents.rs` does in SQLite).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use postgres::{Client, Row, Transaction};

use super::connect::Target;
use super::schema;
use crate::catalog::{
    Batch, BatchOutcome, CatalogStats, ChunkId, DocId, DocumentRow, Folder, FolderId, Generation,
    Integrity, KnownDoc, VersionId, VersionInfo,
};
use crate::error::{Error, Result};
use crate::store::{DocumentStore, MetaStore, StatusStore};

/// The catalog of a team library: one connection, serialised by a mutex (the traits take
/// `&self`; the `postgres` client needs `&mut`).
pub(super) struct PgCatalog {
    client: Mutex<Client>,
    pub(super) target: Target,
}

pub(super) fn key(path: &Path) -> String {
    crate::paths::to_key(path).into_owned()
}

pub(super) fn from_key(k: &str) -> PathBuf {
    crate::paths::from_key(k)
}

/// `path` plus a separator: the prefix of everything under it.
pub(super) fn prefix(path: &Path) -> String {
    format!("{}{}", key(path), std::path::MAIN_SEPARATOR)
}

pub(super) fn generation_key(which: Generation) -> &'static str {
    match which {
        Generation::Text => "text_generation",
        Generation::Vector => "vector_generation",
    }
}

pub(super) fn now() -> i64 {
    crate::catalog::now()
}

/// Adds one to a generation counter, inside the transaction that changed what it counts.
pub(super) fn bump(tx: &mut Transaction<'_>, which: Generation) -> Result<(), postgres::Error> {
    tx.execute(
        "INSERT INTO meta(key, value) VALUES ($1, '1')
         ON CONFLICT (key) DO UPDATE SET value = ((meta.value)::bigint + 1)::text",
        &[&generation_key(which)],
    )?;
    Ok(())
}

impl PgCatalog {
    pub(super) fn connect(target: &Target, writable: bool) -> Result<PgCatalog> {
        let mut client = target.connect()?;
        schema::migrate(target, &mut client)?;
        if writable {
            let got: bool = client
                .query_one("SELECT pg_try_advisory_lock($1)", &[&super::WRITER_LOCK])
                .map_err(|e| target.error(&e))?
                .get(0);
            if !got {
                return Err(Error::Locked(PathBuf::from(target.server())));
            }
        }
        Ok(PgCatalog {
            client: Mutex::new(client),
            target: target.clone(),
        })
    }

    pub(super) fn db(&self) -> MutexGuard<'_, Client> {
        self.client.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Maps a driver error to one naming the server.
    pub(super) fn e(&self) -> impl Fn(postgres::Error) -> Error + '_ {
        move |e| self.target.error(&e)
    }

    /// Runs `f` in one transaction, committed when it returns `Ok`.
    pub(super) fn tx<T>(
        &self,
        f: impl FnOnce(&mut Transaction<'_>) -> Result<T, postgres::Error>,
    ) -> Result<T> {
        let mut db = self.db();
        let mut tx = db.transaction().map_err(self.e())?;
        let out = f(&mut tx).map_err(self.e())?;
        tx.commit().map_err(self.e())?;
        Ok(out)
    }

    pub(super) fn query(
        &self,
        sql: &str,
        params: &[&(dyn postgres::types::ToSql + Sync)],
    ) -> Result<Vec<Row>> {
        self.db().query(sql, params).map_err(self.e())
    }

    pub(super) fn query_opt(
        &self,
        sql: &str,
        params: &[&(dyn postgres::types::ToSql + Sync)],
    ) -> Result<Option<Row>> {
        self.db().query_opt(sql, params).map_err(self.e())
    }

    pub(super) fn execute(
        &self,
        sql: &str,
        params: &[&(dyn postgres::types::ToSql + Sync)],
    ) -> Result<u64> {
        self.db().execute(sql, params).map_err(self.e())
    }

    fn count(&self, sql: &str, params: &[&(dyn postgres::types::ToSql + Sync)]) -> Result<u64> {
        let row = self.db().query_one(sql, params).map_err(self.e())?;
        Ok(row.get::<_, i64>(0) as u64)
    }
}

/// The team store keeps no OCR backlog yet: pages without text stay unrecognised.
impl crate::store::OcrStore for PgCatalog {}

impl MetaStore for PgCatalog {
    fn meta(&self, key: &str) -> Result<Option<String>> {
        Ok(self
            .query_opt("SELECT value FROM meta WHERE key = $1", &[&key])?
            .map(|r| r.get(0)))
    }

    fn set_meta(&self, key: &str, value: &str) -> Result<()> {
        self.execute(
            "INSERT INTO meta(key, value) VALUES ($1, $2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            &[&key, &value],
        )?;
        Ok(())
    }

    fn generation(&self, which: Generation) -> Result<u64> {
        Ok(self
            .meta(generation_key(which))?
            .and_then(|v| v.parse().ok())
            .unwrap_or(0))
    }
}

impl StatusStore for PgCatalog {
    fn current_chunk_count(&self) -> Result<u64> {
        self.count("SELECT count(*) FROM chunks WHERE current", &[])
    }

    fn stats(&self, model_id: &str) -> Result<CatalogStats> {
        Ok(CatalogStats {
            folders: self.count(
                "SELECT count(*) FROM folders WHERE path NOT LIKE 'removed:%'",
                &[],
            )?,
            documents: self.count("SELECT count(*) FROM documents", &[])?,
            current_documents: self.count(
                "SELECT count(*) FROM versions WHERE status = 'current'",
                &[],
            )?,
            versions: self.count("SELECT count(*) FROM versions", &[])?,
            current_chunks: self.current_chunk_count()?,
            embedded_chunks: self.count(
                "SELECT count(*) FROM chunks c WHERE c.current AND EXISTS
                   (SELECT 1 FROM embeddings e WHERE e.model_id = $1 AND e.hash = c.embed_hash)",
                &[&model_id],
            )?,
            problems: self.count("SELECT count(*) FROM problems", &[])?,
        })
    }

    fn integrity(&self) -> Result<Integrity> {
        let doubles = self.count(
            "SELECT count(*) FROM (SELECT doc_id FROM versions WHERE status = 'current'
             GROUP BY doc_id HAVING count(*) > 1) d",
            &[],
        )?;
        let flags = self.count(
            "SELECT count(*) FROM chunks c JOIN versions v ON v.id = c.version_id
             WHERE c.current <> (v.status = 'current')",
            &[],
        )?;
        let message = if flags == 0 {
            "ok".to_owned()
        } else {
            format!("{flags} passages whose `current` flag disagrees with their version")
        };
        Ok(Integrity {
            sqlite_ok: flags == 0,
            sqlite_message: message,
            documents_with_two_current_versions: doubles,
        })
    }

    fn disk_bytes(&self) -> u64 {
        0
    }
}

/// Marks the live version of `path` with `status`; returns the chunk ids it had.
fn retire_current(
    tx: &mut Transaction<'_>,
    path: &str,
    status: &str,
) -> Result<Vec<ChunkId>, postgres::Error> {
    let Some(row) = tx.query_opt(
        "SELECT v.id FROM versions v JOIN documents d ON d.id = v.doc_id
         WHERE d.path = $1 AND v.status = 'current' FOR UPDATE OF v",
        &[&path],
    )?
    else {
        return Ok(Vec::new());
    };
    let version: i64 = row.get(0);
    tx.execute(
        "UPDATE versions SET status = $2, retired_at = $3 WHERE id = $1",
        &[&version, &status, &now()],
    )?;
    let rows = tx.query(
        "UPDATE chunks SET current = false WHERE version_id = $1 RETURNING id",
        &[&version],
    )?;
    let mut ids: Vec<ChunkId> = rows.iter().map(|r| ChunkId(r.get(0))).collect();
    ids.sort();
    Ok(ids)
}

/// The passage length BM25 normalises by (what `apply_batch` stores in `chunks.words`).
pub(super) fn words(text: &str) -> i32 {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .count()
        .min(i32::MAX as usize) as i32
}

impl DocumentStore for PgCatalog {
    fn add_folder(&self, path: &Path) -> Result<FolderId> {
        let (p, pre) = (key(path), prefix(path));
        self.tx(|tx| {
            let added = tx.execute(
                "INSERT INTO folders(path, added_at) VALUES ($1, $2) ON CONFLICT (path) DO NOTHING",
                &[&p, &now()],
            )?;
            let id: i64 = tx
                .query_one("SELECT id FROM folders WHERE path = $1", &[&p])?
                .get(0);
            tx.execute(
                "UPDATE documents SET folder_id = $1
                 WHERE folder_id IN (SELECT id FROM folders WHERE path LIKE 'removed:%')
                   AND left(path, length($2)) = $2",
                &[&id, &pre],
            )?;
            if added > 0 {
                tx.execute(
                    "DELETE FROM forgotten WHERE path = $1 OR left(path, length($2)) = $2",
                    &[&p, &pre],
                )?;
            }
            Ok(FolderId(id))
        })
    }

    fn folders(&self) -> Result<Vec<Folder>> {
        Ok(self
            .query(
                "SELECT id, path FROM folders WHERE path NOT LIKE 'removed:%' ORDER BY path",
                &[],
            )?
            .iter()
            .map(|r| Folder {
                id: FolderId(r.get(0)),
                path: from_key(r.get(1)),
            })
            .collect())
    }

    fn remove_folder(&mut self, path: &Path) -> Result<usize> {
        let p = key(path);
        let found = self.query_opt("SELECT id FROM folders WHERE path = $1", &[&p])?;
        let Some(row) = found else {
            return Err(Error::NotFound(format!(
                "{} is not a folder in the collection",
                path.display()
            )));
        };
        let id: i64 = row.get(0);
        self.tx(|tx| {
            let retired = tx.execute(
                "UPDATE versions SET status = 'deleted', retired_at = $2
                 WHERE status = 'current' AND doc_id IN (SELECT id FROM documents WHERE folder_id = $1)",
                &[&id, &now()],
            )?;
            tx.execute(
                "UPDATE chunks SET current = false WHERE current AND version_id IN
                   (SELECT v.id FROM versions v JOIN documents d ON d.id = v.doc_id
                    WHERE d.folder_id = $1)",
                &[&id],
            )?;
            tx.execute("DELETE FROM problems WHERE folder_id = $1", &[&id])?;
            tx.execute("DELETE FROM skipped WHERE folder_id = $1", &[&id])?;
            tx.execute(
                "UPDATE folders SET path = 'removed:' || id || ':' || path WHERE id = $1",
                &[&id],
            )?;
            bump(tx, Generation::Text)?;
            bump(tx, Generation::Vector)?;
            Ok(retired as usize)
        })
    }

    fn known_docs(&self, folder: FolderId) -> Result<HashMap<PathBuf, KnownDoc>> {
        Ok(self
            .query(
                "SELECT d.path, d.id, v.id, v.seq, v.content_hash, v.size, v.stat_ns
                 FROM documents d JOIN versions v ON v.doc_id = d.id
                 WHERE d.folder_id = $1 AND v.status = 'current'",
                &[&folder.0],
            )?
            .iter()
            .map(|r| {
                (
                    from_key(r.get(0)),
                    KnownDoc {
                        doc: DocId(r.get(1)),
                        version: VersionId(r.get(2)),
                        seq: r.get(3),
                        content_hash: r.get(4),
                        size: r.get::<_, i64>(5) as u64,
                        stat_ns: r.get(6),
                    },
                )
            })
            .collect())
    }

    fn has_document(&self, path: &Path) -> Result<bool> {
        Ok(self
            .query_opt("SELECT 1 FROM documents WHERE path = $1", &[&key(path)])?
            .is_some())
    }

    fn touch_version(&self, version: VersionId, mtime: i64, stat_ns: Option<i64>) -> Result<()> {
        self.execute(
            "UPDATE versions SET mtime = $2, stat_ns = $3 WHERE id = $1",
            &[&version.0, &mtime, &stat_ns],
        )?;
        Ok(())
    }

    fn forget_stat(&self, version: VersionId) -> Result<()> {
        self.execute(
            "UPDATE versions SET stat_ns = NULL WHERE id = $1",
            &[&version.0],
        )?;
        Ok(())
    }

    fn apply_batch(&mut self, batch: &Batch) -> Result<BatchOutcome> {
        self.tx(|tx| apply(tx, batch))
    }

    fn documents(&self) -> Result<Vec<DocumentRow>> {
        Ok(self
            .query(
                "SELECT d.id, d.path, f.path, v.seq, v.status, v.kind, v.title, v.size, v.mtime,
                        v.page_count, v.chunk_count,
                        (SELECT count(*) FROM versions WHERE doc_id = d.id)
                 FROM documents d JOIN folders f ON f.id = d.folder_id AND f.path NOT LIKE 'removed:%'
                 JOIN versions v ON v.doc_id = d.id
                 WHERE v.seq = (SELECT max(seq) FROM versions WHERE doc_id = d.id)
                 ORDER BY d.path",
                &[],
            )?
            .iter()
            .map(|r| DocumentRow {
                id: DocId(r.get(0)),
                path: from_key(r.get(1)),
                folder: from_key(r.get(2)),
                version: r.get(3),
                status: r.get(4),
                kind: r.get(5),
                title: r.get(6),
                size: r.get::<_, i64>(7) as u64,
                mtime: r.get(8),
                pages: r.get::<_, Option<i32>>(9).map(|p| p as u32),
                chunks: r.get::<_, i64>(10) as u64,
                versions: r.get::<_, i64>(11) as u64,
            })
            .collect())
    }

    fn document_id(&self, path: &Path) -> Result<Option<DocId>> {
        Ok(self
            .query_opt("SELECT id FROM documents WHERE path = $1", &[&key(path)])?
            .map(|r| DocId(r.get(0))))
    }

    fn history(&self, path: &Path) -> Result<Vec<VersionInfo>> {
        let doc = self.document_id(path)?.ok_or_else(|| {
            Error::NotFound(format!("Cairn has no document at {}", path.display()))
        })?;
        let rows = self.query(
            "SELECT v.id, v.seq, v.status, v.created_at, v.retired_at, v.content_hash, v.size,
                    v.mtime, v.kind, v.chunk_count,
                    ARRAY(SELECT c.embed_hash FROM chunks c WHERE c.version_id = v.id)
             FROM versions v WHERE v.doc_id = $1 ORDER BY v.seq",
            &[&doc.0],
        )?;
        let mut prev: std::collections::HashSet<Vec<u8>> = Default::default();
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let hash: Vec<u8> = r.get(5);
            let cur: std::collections::HashSet<Vec<u8>> =
                r.get::<_, Vec<Vec<u8>>>(10).into_iter().collect();
            out.push(VersionInfo {
                version: r.get(1),
                status: r.get(2),
                recorded_at: r.get(3),
                retired_at: r.get(4),
                content_hash: hash.iter().take(8).map(|b| format!("{b:02x}")).collect(),
                size: r.get::<_, i64>(6) as u64,
                mtime: r.get(7),
                kind: r.get(8),
                chunks: r.get::<_, i64>(9) as u64,
                chunks_added: cur.difference(&prev).count() as u64,
                chunks_removed: prev.difference(&cur).count() as u64,
            });
            prev = cur;
        }
        Ok(out)
    }
}

/// [`DocumentStore::apply_batch`]'s transaction.
fn apply(tx: &mut Transaction<'_>, batch: &Batch) -> Result<BatchOutcome, postgres::Error> {
    let mut outcome = BatchOutcome::default();
    let t = now();
    for (old, new) in &batch.renames {
        tx.execute(
            "UPDATE documents SET path = $2 WHERE path = $1",
            &[&key(old), &key(new)],
        )?;
        outcome.renamed += 1;
    }
    for path in &batch.deletions {
        outcome
            .removed_chunks
            .extend(retire_current(tx, &key(path), "deleted")?);
        outcome.deleted += 1;
    }
    let insert_chunks = tx.prepare(
        "INSERT INTO chunks(version_id, collection, ordinal, start, \"end\", page, heading,
                            title, text, embed_hash, words)
         SELECT $1::bigint, $11::text, * FROM unnest($2::int[], $3::bigint[], $4::bigint[], $5::int[], $6::text[],
                                  $7::text[], $8::text[], $9::bytea[], $10::int[])
         RETURNING id",
    )?;
    for v in &batch.versions {
        let path = key(&v.path);
        outcome
            .removed_chunks
            .extend(retire_current(tx, &path, "superseded")?);
        // A document belongs to its folder's collection, and its passages with it.
        let row = tx.query_one(
            "INSERT INTO documents(folder_id, path, created_at, collection)
             VALUES ($1, $2, $3, (SELECT collection FROM folders WHERE id = $1))
             ON CONFLICT (path) DO UPDATE SET path = excluded.path RETURNING id, collection",
            &[&v.folder.0, &path, &t],
        )?;
        let (doc, collection): (i64, String) = (row.get(0), row.get(1));
        let version: i64 = tx
            .query_one(
                "INSERT INTO versions(doc_id, seq, status, content_hash, size, mtime, kind, title,
                                      text_len, page_count, chunk_count, created_at, stat_ns)
                 VALUES ($1, (SELECT coalesce(max(seq), 0) + 1 FROM versions WHERE doc_id = $1),
                         'current', $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
                 RETURNING id",
                &[
                    &doc,
                    &&v.content_hash[..],
                    &(v.size as i64),
                    &v.mtime,
                    &v.kind,
                    &v.title,
                    &(v.text_len as i64),
                    &v.page_count.map(|p| p as i32),
                    &(v.chunks.len() as i64),
                    &t,
                    &v.stat_ns,
                ],
            )?
            .get(0);
        let title = v.title.clone().unwrap_or_default();
        let c = &v.chunks;
        let ordinals: Vec<i32> = c.iter().map(|c| c.ordinal as i32).collect();
        let starts: Vec<i64> = c.iter().map(|c| c.start as i64).collect();
        let ends: Vec<i64> = c.iter().map(|c| c.end as i64).collect();
        let pages: Vec<Option<i32>> = c.iter().map(|c| c.page.map(|p| p as i32)).collect();
        let headings: Vec<String> = c
            .iter()
            .map(|c| serde_json::to_string(&c.heading_path).unwrap_or_else(|_| "[]".into()))
            .collect();
        let titles: Vec<&str> = c.iter().map(|_| title.as_str()).collect();
        let texts: Vec<&str> = c.iter().map(|c| c.text.as_str()).collect();
        let hashes: Vec<&[u8]> = c.iter().map(|c| &c.embed_hash[..]).collect();
        let counts: Vec<i32> = c.iter().map(|c| words(&c.text)).collect();
        let ids = tx.query(
            &insert_chunks,
            &[
                &version,
                &ordinals,
                &starts,
                &ends,
                &pages,
                &headings,
                &titles,
                &texts,
                &hashes,
                &counts,
                &collection,
            ],
        )?;
        let mut ids: Vec<ChunkId> = ids.iter().map(|r| ChunkId(r.get(0))).collect();
        ids.sort();
        outcome.added_chunks.extend(ids);
        tx.execute("DELETE FROM problems WHERE path = $1", &[&path])?;
        tx.execute("DELETE FROM skipped WHERE path = $1", &[&path])?;
        outcome.versions += 1;
    }
    for (path, folder, reason) in &batch.problems {
        let stat = batch.stats.get(path);
        tx.execute(
            "INSERT INTO problems(path, folder_id, reason, at, size, stat_ns)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (path) DO UPDATE SET reason = excluded.reason, at = excluded.at,
               size = excluded.size, stat_ns = excluded.stat_ns",
            &[
                &key(path),
                &folder.0,
                reason,
                &t,
                &stat.map(|s| s.0 as i64),
                &stat.map(|s| s.1),
            ],
        )?;
    }
    for (path, folder) in &batch.skipped {
        match batch.stats.get(path) {
            Some((size, stat_ns)) => tx.execute(
                "INSERT INTO skipped(path, folder_id, size, stat_ns) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (path) DO UPDATE SET size = excluded.size, stat_ns = excluded.stat_ns",
                &[&key(path), &folder.0, &(*size as i64), stat_ns],
            )?,
            None => tx.execute("DELETE FROM skipped WHERE path = $1", &[&key(path)])?,
        };
    }
    if !outcome.added_chunks.is_empty() || !outcome.removed_chunks.is_empty() {
        bump(tx, Generation::Text)?;
        bump(tx, Generation::Vector)?;
    }
    Ok(outcome)
}
