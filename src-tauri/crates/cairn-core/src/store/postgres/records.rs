//! Problems, marks (deprecations, tags, conflicts), forgetting, and the user records
//! (sessions, messages, pins, the audit log), as `catalog/{problems,marks,forget}.rs` and
//! `audit/` do in SQLite. Audit rows also carry the database user who asked (`db_user`,
//! filled by the server with `current_user`).

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use super::catalog::{bump, from_key, key, now, prefix, PgCatalog};
use crate::audit::{
    redact_record, redact_url, AuditId, AuditRecord, AuditSummary, Message, MessageRole, Pin,
    PinId, Session, SessionId,
};
use crate::catalog::{
    ChunkId, Conflict, Deprecation, Erased, FolderId, Forgotten, Generation, Marks, Problem,
};
use crate::error::{Error, Result};
use crate::store::{ChunkStore, ForgetStore, MarkStore, ProblemStore, RecordStore};

impl ProblemStore for PgCatalog {
    fn problems(&self) -> Result<Vec<Problem>> {
        Ok(self
            .query("SELECT path, reason, at FROM problems ORDER BY path", &[])?
            .iter()
            .map(|r| Problem {
                path: from_key(r.get(0)),
                reason: r.get(1),
                at: r.get(2),
            })
            .collect())
    }

    fn clear_problem(&self, path: &Path) -> Result<()> {
        let p = key(path);
        self.execute("DELETE FROM problems WHERE path = $1", &[&p])?;
        self.execute("DELETE FROM skipped WHERE path = $1", &[&p])?;
        Ok(())
    }

    fn problem_paths(&self, folder: FolderId) -> Result<Vec<PathBuf>> {
        Ok(self
            .query(
                "SELECT path FROM problems WHERE folder_id = $1
                 UNION SELECT path FROM skipped WHERE folder_id = $1",
                &[&folder.0],
            )?
            .iter()
            .map(|r| from_key(r.get(0)))
            .collect())
    }

    fn settled_failures(&self, folder: FolderId) -> Result<HashMap<PathBuf, (u64, i64)>> {
        Ok(self
            .query(
                "SELECT path, size, stat_ns FROM problems
                   WHERE folder_id = $1 AND size IS NOT NULL AND stat_ns IS NOT NULL
                 UNION ALL SELECT path, size, stat_ns FROM skipped WHERE folder_id = $1",
                &[&folder.0],
            )?
            .iter()
            .map(|r| {
                (
                    from_key(r.get(0)),
                    (r.get::<_, i64>(1) as u64, r.get::<_, i64>(2)),
                )
            })
            .collect())
    }
}

impl MarkStore for PgCatalog {
    fn deprecate(
        &self,
        target: &str,
        is_pattern: bool,
        reason: &str,
        superseded_by: Option<&str>,
    ) -> Result<()> {
        self.execute(
            "INSERT INTO deprecations(target, is_pattern, reason, superseded_by, created_at)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (target) DO UPDATE SET reason = excluded.reason,
               superseded_by = excluded.superseded_by, is_pattern = excluded.is_pattern",
            &[&target, &is_pattern, &reason, &superseded_by, &now()],
        )?;
        Ok(())
    }

    fn undeprecate(&self, target: &str) -> Result<bool> {
        Ok(self.execute("DELETE FROM deprecations WHERE target = $1", &[&target])? > 0)
    }

    fn deprecations(&self) -> Result<Vec<Deprecation>> {
        Ok(self
            .query(
                "SELECT target, is_pattern, reason, superseded_by, created_at FROM deprecations
                 ORDER BY target",
                &[],
            )?
            .iter()
            .map(|r| Deprecation {
                target: r.get(0),
                is_pattern: r.get(1),
                reason: r.get(2),
                superseded_by: r.get(3),
                created_at: r.get(4),
            })
            .collect())
    }

    fn tag(&self, target: &Path, tags: &[String]) -> Result<()> {
        self.execute(
            "INSERT INTO tags(target, tag) SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING",
            &[&key(target), &tags],
        )?;
        Ok(())
    }

    fn untag(&self, target: &Path, tags: &[String]) -> Result<usize> {
        Ok(self.execute(
            "DELETE FROM tags WHERE target = $1 AND (cardinality($2::text[]) = 0 OR tag = ANY($2))",
            &[&key(target), &tags],
        )? as usize)
    }

    fn tags(&self) -> Result<Vec<(PathBuf, String)>> {
        Ok(self
            .query("SELECT target, tag FROM tags ORDER BY target, tag", &[])?
            .iter()
            .map(|r| (from_key(r.get(0)), r.get(1)))
            .collect())
    }

    fn marks(&self) -> Result<Marks> {
        Marks::new(self.deprecations()?, self.tags()?)
    }

    fn record_conflicts(&mut self, pairs: &[(ChunkId, ChunkId, f32)]) -> Result<()> {
        let (mut a, mut b, mut s) = (Vec::new(), Vec::new(), Vec::new());
        for (x, y, sim) in pairs {
            let (x, y) = if x < y { (x, y) } else { (y, x) };
            a.push(x.0);
            b.push(y.0);
            s.push(*sim);
        }
        self.execute(
            "INSERT INTO conflicts(chunk_a, chunk_b, similarity, found_at)
             SELECT a, b, s, $4 FROM unnest($1::bigint[], $2::bigint[], $3::real[]) AS u(a, b, s)
             ON CONFLICT (chunk_a, chunk_b) DO UPDATE SET similarity = excluded.similarity,
               found_at = excluded.found_at",
            &[&a, &b, &s, &now()],
        )?;
        Ok(())
    }

    fn conflicts(&self) -> Result<Vec<Conflict>> {
        let pairs: Vec<(ChunkId, ChunkId, f32)> = self
            .query(
                "SELECT k.chunk_a, k.chunk_b, k.similarity FROM conflicts k
                 JOIN chunks ca ON ca.id = k.chunk_a JOIN chunks cb ON cb.id = k.chunk_b
                 WHERE ca.current AND cb.current ORDER BY k.similarity DESC",
                &[],
            )?
            .iter()
            .map(|r| (ChunkId(r.get(0)), ChunkId(r.get(1)), r.get(2)))
            .collect();
        let ids: Vec<ChunkId> = pairs.iter().flat_map(|(a, b, _)| [*a, *b]).collect();
        let recs = self.chunk_records(&ids)?;
        Ok(pairs
            .into_iter()
            .filter_map(|(a, b, similarity)| {
                let (ra, rb) = (recs.get(&a)?, recs.get(&b)?);
                Some(Conflict {
                    path_a: ra.path.clone(),
                    path_b: rb.path.clone(),
                    chunk_a: a,
                    chunk_b: b,
                    similarity,
                    text_a: ra.text.clone(),
                    text_b: rb.text.clone(),
                })
            })
            .collect())
    }
}

fn parse_record(id: i64, json: &str) -> Result<AuditRecord> {
    let mut rec: AuditRecord = serde_json::from_str(json)
        .map_err(|e| Error::Invalid(format!("audit row {id} is unreadable: {e}")))?;
    rec.id = AuditId(id);
    Ok(rec)
}

impl ForgetStore for PgCatalog {
    fn erase(&mut self, target: &Path, exclude: bool) -> Result<Erased> {
        let (p, pre) = (key(target), prefix(target));
        self.tx(|tx| {
            let mut out = Erased::default();
            let docs = tx.query(
                "SELECT id, path FROM documents WHERE path = $1 OR left(path, length($2)) = $2
                 ORDER BY path",
                &[&p, &pre],
            )?;
            let doc_ids: Vec<i64> = docs.iter().map(|r| r.get(0)).collect();
            out.documents = docs.iter().map(|r| from_key(r.get(1))).collect();
            let chunks = tx.query(
                "SELECT c.id, c.current FROM chunks c JOIN versions v ON v.id = c.version_id
                 WHERE v.doc_id = ANY($1)",
                &[&doc_ids],
            )?;
            let all_chunks: HashSet<i64> = chunks.iter().map(|r| r.get(0)).collect();
            out.current_chunks = chunks
                .iter()
                .filter(|r| r.get::<_, bool>(1))
                .map(|r| ChunkId(r.get(0)))
                .collect();
            let ids: Vec<i64> = all_chunks.iter().copied().collect();
            tx.execute(
                "DELETE FROM conflicts WHERE chunk_a = ANY($1) OR chunk_b = ANY($1)",
                &[&ids],
            )?;
            if tx
                .query_one("SELECT to_regclass('vectors') IS NOT NULL", &[])?
                .get::<_, bool>(0)
            {
                tx.execute("DELETE FROM vectors WHERE chunk_id = ANY($1)", &[&ids])?;
            }
            let hashes = tx.query(
                "DELETE FROM chunks WHERE id = ANY($1) RETURNING embed_hash",
                &[&ids],
            )?;
            out.passages = hashes.len();
            let hashes: Vec<Vec<u8>> = hashes
                .iter()
                .map(|r| r.get::<_, Vec<u8>>(0))
                .collect::<HashSet<_>>()
                .into_iter()
                .collect();
            out.versions =
                tx.execute("DELETE FROM versions WHERE doc_id = ANY($1)", &[&doc_ids])? as usize;
            tx.execute("DELETE FROM documents WHERE id = ANY($1)", &[&doc_ids])?;
            out.cached_vectors = tx.execute(
                "DELETE FROM embeddings e WHERE e.hash = ANY($1)
                   AND NOT EXISTS (SELECT 1 FROM chunks c WHERE c.embed_hash = e.hash)",
                &[&hashes],
            )? as usize;
            for table in ["problems", "skipped"] {
                out.problems += tx.execute(
                    &format!("DELETE FROM {table} WHERE path = $1 OR left(path, length($2)) = $2"),
                    &[&p, &pre],
                )? as usize;
            }
            out.marks += tx.execute(
                "DELETE FROM tags WHERE target = $1 OR left(target, length($2)) = $2",
                &[&p, &pre],
            )? as usize;
            out.marks += tx.execute(
                "DELETE FROM deprecations WHERE NOT is_pattern
                   AND (target = $1 OR left(target, length($2)) = $2)",
                &[&p, &pre],
            )? as usize;
            tx.execute("DELETE FROM answer_calibration", &[])?;
            let erased: HashSet<PathBuf> = out.documents.iter().cloned().collect();
            let gone =
                |path: &Path, chunk: i64| erased.contains(path) || all_chunks.contains(&chunk);
            for r in tx.query(
                "SELECT id, record::text FROM audit ORDER BY id FOR UPDATE",
                &[],
            )? {
                let id: i64 = r.get(0);
                let Ok(mut rec) = parse_record(id, r.get(1)) else {
                    continue;
                };
                if !redact_record(&mut rec, &gone) {
                    continue;
                }
                let json = serde_json::to_string(&rec).unwrap_or_default();
                tx.execute(
                    "UPDATE audit SET answer = $2, record = $3::text::jsonb WHERE id = $1",
                    &[&id, &rec.answer, &json],
                )?;
                tx.execute(
                    "UPDATE messages SET content = $2 WHERE audit_id = $1 AND role = 'assistant'",
                    &[&id, &rec.answer],
                )?;
                out.audit_records += 1;
            }
            if exclude {
                tx.execute(
                    "INSERT INTO forgotten(path, at) VALUES ($1, $2)
                     ON CONFLICT (path) DO UPDATE SET at = excluded.at",
                    &[&p, &now()],
                )?;
            }
            bump(tx, Generation::Text)?;
            bump(tx, Generation::Vector)?;
            Ok(out)
        })
    }

    fn forgotten(&self) -> Result<Forgotten> {
        let paths: Vec<PathBuf> = self
            .query("SELECT path FROM forgotten ORDER BY path", &[])?
            .iter()
            .map(|r| from_key(r.get(0)))
            .collect();
        Ok(Forgotten::from_paths(paths))
    }

    fn unforget(&self, path: &Path) -> Result<bool> {
        Ok(self.execute("DELETE FROM forgotten WHERE path = $1", &[&key(path)])? > 0)
    }

    /// Deleted rows leave the table files at the next vacuum; `VACUUM` runs now where the
    /// role may (the table owner, i.e. the writer). Write-ahead log segments and backups are
    /// the server's to rotate (docs/team.md).
    fn shrink(&self) -> Result<bool> {
        let mut db = self.db();
        Ok(db
            .batch_execute("VACUUM chunks, versions, documents, embeddings, audit, messages")
            .is_ok())
    }
}

impl RecordStore for PgCatalog {
    fn create_session(&self, title: &str) -> Result<SessionId> {
        Ok(SessionId(
            self.query(
                "INSERT INTO sessions(created_at, title) VALUES ($1, $2) RETURNING id",
                &[&now(), &title],
            )?[0]
                .get(0),
        ))
    }

    fn session_exists(&self, id: SessionId) -> Result<bool> {
        Ok(self
            .query_opt("SELECT 1 FROM sessions WHERE id = $1", &[&id.0])?
            .is_some())
    }

    fn sessions(&self) -> Result<Vec<Session>> {
        Ok(self
            .query(
                "SELECT s.id, s.title, s.created_at,
                        (SELECT count(*) FROM messages m WHERE m.session_id = s.id)
                 FROM sessions s ORDER BY s.id",
                &[],
            )?
            .iter()
            .map(|r| Session {
                id: SessionId(r.get(0)),
                title: r.get(1),
                created_at: r.get(2),
                messages: r.get::<_, i64>(3) as u64,
            })
            .collect())
    }

    fn messages(&self, session: SessionId) -> Result<Vec<Message>> {
        Ok(self
            .query(
                "SELECT id, role, content, rewritten, audit_id, created_at FROM messages
                 WHERE session_id = $1 ORDER BY id",
                &[&session.0],
            )?
            .iter()
            .map(|r| Message {
                id: r.get(0),
                role: if r.get::<_, &str>(1) == "user" {
                    MessageRole::User
                } else {
                    MessageRole::Assistant
                },
                content: r.get(2),
                rewritten: r.get(3),
                audit_id: r.get::<_, Option<i64>>(4).map(AuditId),
                created_at: r.get(5),
            })
            .collect())
    }

    fn add_message(
        &self,
        session: SessionId,
        role: MessageRole,
        content: &str,
        rewritten: Option<&str>,
        audit_id: Option<AuditId>,
    ) -> Result<()> {
        self.execute(
            "INSERT INTO messages(session_id, role, content, rewritten, audit_id, created_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
            &[
                &session.0,
                &role.as_str(),
                &content,
                &rewritten,
                &audit_id.map(|a| a.0),
                &now(),
            ],
        )?;
        Ok(())
    }

    fn add_pin(&self, text: &str) -> Result<PinId> {
        Ok(PinId(
            self.query(
                "INSERT INTO pins(text, created_at) VALUES ($1, $2) RETURNING id",
                &[&text, &now()],
            )?[0]
                .get(0),
        ))
    }

    fn pins(&self) -> Result<Vec<Pin>> {
        Ok(self
            .query("SELECT id, text, created_at FROM pins ORDER BY id", &[])?
            .iter()
            .map(|r| Pin {
                id: PinId(r.get(0)),
                text: r.get(1),
                created_at: r.get(2),
            })
            .collect())
    }

    fn remove_pin(&self, id: PinId) -> Result<()> {
        if self.execute("DELETE FROM pins WHERE id = $1", &[&id.0])? == 0 {
            return Err(Error::NotFound(format!("there is no pinned fact {id}")));
        }
        Ok(())
    }

    fn insert_audit(&self, record: &AuditRecord) -> Result<AuditId> {
        let mut rec = record.clone();
        rec.endpoint = rec.endpoint.as_deref().map(redact_url);
        rec.model_id = rec.model_id.as_deref().map(redact_url);
        rec.error = rec.error.as_deref().map(redact_url);
        let json = serde_json::to_string(&rec).map_err(|e| Error::Invalid(e.to_string()))?;
        let row = self.query(
            "INSERT INTO audit(at, session_id, question, rewritten_query, mode, abstained,
                               model_id, endpoint, template_version, answer, record)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::text::jsonb) RETURNING id",
            &[
                &rec.at,
                &rec.session.map(|s| s.0),
                &rec.question,
                &rec.rewritten_query,
                &rec.mode.as_str(),
                &rec.abstained,
                &rec.model_id,
                &rec.endpoint,
                &rec.template_version,
                &rec.answer,
                &json,
            ],
        )?;
        Ok(AuditId(row[0].get(0)))
    }

    fn audit_list(&self, limit: usize) -> Result<Vec<AuditSummary>> {
        Ok(self
            .query(
                "SELECT id, at, session_id, question, mode, abstained, model_id,
                        template_version, record->>'error'
                 FROM audit ORDER BY id DESC LIMIT $1",
                &[&(limit.min(i64::MAX as usize) as i64)],
            )?
            .iter()
            .map(|r| AuditSummary {
                id: AuditId(r.get(0)),
                at: r.get(1),
                session: r.get::<_, Option<i64>>(2).map(SessionId),
                question: r.get(3),
                mode: r.get(4),
                abstained: r.get(5),
                model_id: r.get(6),
                template_version: r.get(7),
                error: r.get(8),
            })
            .collect())
    }

    fn audit_record(&self, id: AuditId) -> Result<AuditRecord> {
        match self.query_opt("SELECT record::text FROM audit WHERE id = $1", &[&id.0])? {
            Some(r) => parse_record(id.0, r.get(0)),
            None => Err(Error::NotFound(format!("there is no audit record {id}"))),
        }
    }

    fn audit_export(&self) -> Result<Vec<AuditRecord>> {
        self.query("SELECT id, record::text FROM audit ORDER BY id", &[])?
            .iter()
            .map(|r| parse_record(r.get(0), r.get(1)))
            .collect()
    }
}
