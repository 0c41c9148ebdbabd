//! The team library's retrievers.
//!
//! Keyword: reads the catalog's own `chunks` table (current rows, `tsv` with a GIN index), so
//! `add`/`remove`/`clear` have nothing to do; `commit` records the text generation it was
//! told (in `meta`, as `keyword_generation`). Ranking is BM25 (k1 = 1.2, b = 0.75, as
//! tantivy) computed in SQL from term statistics: document frequency of each query term among
//! current passages (counted through the GIN index), the passage's term frequency (positions
//! in its `tsvector`) and length (`words`), the average length. The query's words are
//! stemmed by the same `english` configuration and OR-ed, like tantivy's query.
//!
//! Vector: a derived table `vectors(chunk_id, embedding vector(D))` with an HNSW index
//! (`vector_cosine_ops`), kept by the writer like usearch: changes are staged and written in
//! one transaction on `commit` (or before a search or count by the same handle), with the
//! generation they reflect (`vector_generation_index` in `meta`). Another model or dimension:
//! a writer recreates the table empty (generation 0), and the writer's rebuild refills it from
//! the embeddings cache.

use std::collections::HashMap;
use std::sync::Mutex;

use postgres::Client;

use super::connect::Target;
use crate::catalog::{ChunkFilter, ChunkId, ChunkRecord};
use crate::error::Result;
use crate::store::{Hit, KeywordRetriever, VectorRetriever};

const KEYWORD_GENERATION: &str = "keyword_generation";
const VECTOR_GENERATION: &str = "vector_generation_index";
/// The `meta` key naming the model and dimension the `vectors` table was built for.
pub const VECTOR_MODEL_KEY: &str = "vector_index_model";
const VECTOR_MODEL: &str = VECTOR_MODEL_KEY;

/// The filter as two id arrays for SQL: (allow, deny), NULL meaning "no restriction".
fn filter_arrays(filter: &ChunkFilter) -> (Option<Vec<i64>>, Option<Vec<i64>>) {
    match filter {
        ChunkFilter::All => (None, None),
        ChunkFilter::Allow(s) => (Some(s.iter().map(|i| i.0).collect()), None),
        ChunkFilter::Deny(s) if s.is_empty() => (None, None),
        ChunkFilter::Deny(s) => (None, Some(s.iter().map(|i| i.0).collect())),
    }
}

fn meta_u64(client: &mut Client, key: &str) -> Result<u64, postgres::Error> {
    Ok(client
        .query_opt("SELECT value FROM meta WHERE key = $1", &[&key])?
        .and_then(|r| r.get::<_, String>(0).parse().ok())
        .unwrap_or(0))
}

fn set_meta(
    client: &mut impl postgres::GenericClient,
    key: &str,
    value: &str,
) -> Result<(), postgres::Error> {
    client.execute(
        "INSERT INTO meta(key, value) VALUES ($1, $2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        &[&key, &value],
    )?;
    Ok(())
}

/// BM25 over current passages. `$1` query text, `$2` allow, `$3` deny, `$4` limit.
const BM25: &str = "
WITH terms AS MATERIALIZED (
    SELECT DISTINCT t FROM unnest(tsvector_to_array(to_tsvector('english'::regconfig, $1))) t
), q AS MATERIALIZED (
    SELECT to_tsquery('simple', string_agg(quote_literal(t), ' | ')) AS q FROM terms
), stats AS MATERIALIZED (
    SELECT greatest(count(*), 1)::float8 AS n, greatest(avg(words), 1)::float8 AS avgdl
    FROM chunks WHERE current
), df AS MATERIALIZED (
    SELECT t, (SELECT count(*) FROM chunks c
               WHERE c.current AND c.tsv @@ to_tsquery('simple', quote_literal(t)))::float8 AS df
    FROM terms
), cand AS (
    SELECT c.id, c.words, c.tsv FROM chunks c, q
    WHERE c.current AND c.tsv @@ q.q
      AND ($2::bigint[] IS NULL OR c.id = ANY($2))
      AND ($3::bigint[] IS NULL OR NOT (c.id = ANY($3)))
)
SELECT cand.id, sum(
    ln(1 + (stats.n - df.df + 0.5) / (df.df + 0.5))
    * (x.tf * 2.2) / (x.tf + 1.2 * (0.25 + 0.75 * cand.words / stats.avgdl))
)::float4 AS score
FROM cand CROSS JOIN stats
JOIN LATERAL (SELECT u.lexeme, coalesce(array_length(u.positions, 1), 1)::float8 AS tf
              FROM unnest(cand.tsv) u) x ON true
JOIN df ON df.t = x.lexeme
GROUP BY cand.id
ORDER BY score DESC, cand.id
LIMIT $4";

/// Keyword search over the catalog's own tables.
pub(super) struct PgKeyword {
    client: Mutex<Client>,
    target: Target,
    generation: u64,
}

impl PgKeyword {
    pub(super) fn open(target: &Target) -> Result<PgKeyword> {
        let mut client = target.connect()?;
        let generation = meta_u64(&mut client, KEYWORD_GENERATION).map_err(|e| target.error(&e))?;
        Ok(PgKeyword {
            client: Mutex::new(client),
            target: target.clone(),
            generation,
        })
    }

    fn db(&self) -> std::sync::MutexGuard<'_, Client> {
        self.client.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl KeywordRetriever for PgKeyword {
    fn search(&self, query: &str, limit: usize, filter: &ChunkFilter) -> Result<Vec<Hit>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let (allow, deny) = filter_arrays(filter);
        let rows = self
            .db()
            .query(BM25, &[&query, &allow, &deny, &(limit as i64)])
            .map_err(|e| self.target.error(&e))?;
        Ok(rows
            .iter()
            .map(|r| Hit {
                chunk: ChunkId(r.get(0)),
                score: r.get(1),
            })
            .collect())
    }

    fn len(&self) -> u64 {
        self.db()
            .query_one("SELECT count(*) FROM chunks WHERE current", &[])
            .map(|r| r.get::<_, i64>(0) as u64)
            .unwrap_or(0)
    }

    fn generation(&self) -> Result<u64> {
        Ok(self.generation)
    }

    fn refresh(&self) -> Result<()> {
        Ok(())
    }

    fn add(&mut self, _chunk: &ChunkRecord) -> Result<()> {
        Ok(())
    }

    fn remove(&mut self, _id: ChunkId) -> Result<()> {
        Ok(())
    }

    fn clear(&mut self) -> Result<()> {
        Ok(())
    }

    fn commit(&mut self, generation: u64) -> Result<()> {
        let target = self.target.clone();
        set_meta(&mut *self.db(), KEYWORD_GENERATION, &generation.to_string())
            .map_err(|e| target.error(&e))?;
        self.generation = generation;
        Ok(())
    }

    fn collect_garbage(&mut self) -> Result<()> {
        Ok(())
    }

    fn disk_bytes(&self) -> u64 {
        0
    }
}

/// pgvector's text form of a vector.
fn literal(v: &[f32]) -> String {
    let mut s = String::with_capacity(v.len() * 10 + 2);
    s.push('[');
    for (i, x) in v.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        let x = if x.is_finite() { *x } else { 0.0 };
        s.push_str(&x.to_string());
    }
    s.push(']');
    s
}

struct VectorState {
    client: Client,
    /// Staged changes: a vector to write, or `None` to delete.
    staged: HashMap<i64, Option<Vec<f32>>>,
    /// The table exists for this model and dimension.
    ready: bool,
}

/// Vector search in a pgvector HNSW index.
pub(super) struct PgVectors {
    state: Mutex<VectorState>,
    target: Target,
    dim: usize,
    generation: u64,
}

impl PgVectors {
    pub(super) fn open(
        target: &Target,
        model_id: &str,
        dim: usize,
        writable: bool,
    ) -> Result<PgVectors> {
        let mut client = target.connect()?;
        let err = |e: postgres::Error| target.error(&e);
        let wanted = format!("{model_id}#{dim}");
        let stored: Option<String> = client
            .query_opt("SELECT value FROM meta WHERE key = $1", &[&VECTOR_MODEL])
            .map_err(err)?
            .map(|r| r.get(0));
        let exists: bool = client
            .query_one("SELECT to_regclass('vectors') IS NOT NULL", &[])
            .map_err(err)?
            .get(0);
        let mut ready = exists && stored.as_deref() == Some(wanted.as_str());
        if !ready && writable {
            let mut tx = client.transaction().map_err(err)?;
            tx.batch_execute(&format!(
                "DROP TABLE IF EXISTS vectors;
                 CREATE TABLE vectors (
                     chunk_id bigint PRIMARY KEY REFERENCES chunks(id) ON DELETE CASCADE,
                     embedding vector({dim}) NOT NULL
                 );
                 CREATE INDEX vectors_hnsw ON vectors USING hnsw (embedding vector_cosine_ops);
                 ALTER TABLE vectors ENABLE ROW LEVEL SECURITY;
                 CREATE POLICY by_collection ON vectors FOR SELECT
                     USING (EXISTS (SELECT 1 FROM chunks c WHERE c.id = vectors.chunk_id));
                 DO $grant$ DECLARE r record; BEGIN
                     FOR r IN SELECT DISTINCT grantee FROM information_schema.role_table_grants
                              WHERE table_name = 'chunks' AND privilege_type = 'SELECT'
                                AND grantee <> current_user LOOP
                         EXECUTE format('GRANT SELECT ON vectors TO %I', r.grantee);
                     END LOOP;
                 END $grant$;"
            ))
            .map_err(err)?;
            set_meta(&mut tx, VECTOR_MODEL, &wanted).map_err(err)?;
            set_meta(&mut tx, VECTOR_GENERATION, "0").map_err(err)?;
            tx.commit().map_err(err)?;
            ready = true;
        }
        let generation = if ready {
            meta_u64(&mut client, VECTOR_GENERATION).map_err(err)?
        } else {
            0
        };
        Ok(PgVectors {
            state: Mutex::new(VectorState {
                client,
                staged: HashMap::new(),
                ready,
            }),
            target: target.clone(),
            dim,
            generation,
        })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, VectorState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Writes the staged changes in one transaction (with `generation`, when given).
    fn flush(&self, state: &mut VectorState, generation: Option<u64>) -> Result<()> {
        if !state.ready || (state.staged.is_empty() && generation.is_none()) {
            return Ok(());
        }
        let err = |e: postgres::Error| self.target.error(&e);
        let staged = std::mem::take(&mut state.staged);
        let (mut gone, mut ids, mut vectors) = (Vec::new(), Vec::new(), Vec::new());
        for (id, v) in staged {
            match v {
                Some(v) => {
                    ids.push(id);
                    vectors.push(literal(&v));
                }
                None => gone.push(id),
            }
        }
        let mut tx = state.client.transaction().map_err(err)?;
        if !gone.is_empty() {
            tx.execute("DELETE FROM vectors WHERE chunk_id = ANY($1)", &[&gone])
                .map_err(err)?;
        }
        // Chunks erased meanwhile are skipped (the join), never an error. In slices, so a
        // rebuild of a large library is many short statements in one transaction.
        for (ids, vectors) in ids.chunks(1000).zip(vectors.chunks(1000)) {
            tx.execute(
                "INSERT INTO vectors(chunk_id, embedding)
                 SELECT u.id, u.v::vector FROM unnest($1::bigint[], $2::text[]) AS u(id, v)
                 JOIN chunks c ON c.id = u.id
                 ON CONFLICT (chunk_id) DO UPDATE SET embedding = excluded.embedding",
                &[&ids, &vectors],
            )
            .map_err(err)?;
        }
        if let Some(g) = generation {
            set_meta(&mut tx, VECTOR_GENERATION, &g.to_string()).map_err(err)?;
        }
        tx.commit().map_err(err)
    }
}

impl VectorRetriever for PgVectors {
    fn search(&self, query: &[f32], limit: usize, filter: &ChunkFilter) -> Result<Vec<Hit>> {
        let mut state = self.state();
        if !state.ready || limit == 0 {
            return Ok(Vec::new());
        }
        self.flush(&mut state, None)?;
        let (allow, deny) = filter_arrays(filter);
        let rows = state
            .client
            .query(
                "SELECT chunk_id, (1 - (embedding <=> $1::text::vector))::float4
                 FROM vectors
                 WHERE ($2::bigint[] IS NULL OR chunk_id = ANY($2))
                   AND ($3::bigint[] IS NULL OR NOT (chunk_id = ANY($3)))
                 ORDER BY embedding <=> $1::text::vector
                 LIMIT $4",
                &[&literal(query), &allow, &deny, &(limit as i64)],
            )
            .map_err(|e| self.target.error(&e))?;
        let mut hits: Vec<Hit> = rows
            .iter()
            .map(|r| Hit {
                chunk: ChunkId(r.get(0)),
                score: r.get(1),
            })
            .collect();
        // relaxed_order may return near-ties out of order.
        hits.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.chunk.cmp(&b.chunk)));
        Ok(hits)
    }

    fn len(&self) -> u64 {
        let mut state = self.state();
        if !state.ready || self.flush(&mut state, None).is_err() {
            return 0;
        }
        state
            .client
            .query_one("SELECT count(*) FROM vectors", &[])
            .map(|r| r.get::<_, i64>(0) as u64)
            .unwrap_or(0)
    }

    fn generation(&self) -> u64 {
        self.generation
    }

    fn add(&mut self, id: ChunkId, vector: &[f32]) -> Result<()> {
        if vector.len() != self.dim {
            return Err(crate::Error::VectorIndex(format!(
                "a vector of {} dimensions for an index of {}",
                vector.len(),
                self.dim
            )));
        }
        self.state().staged.insert(id.0, Some(vector.to_vec()));
        Ok(())
    }

    fn remove(&mut self, id: ChunkId) -> Result<()> {
        self.state().staged.insert(id.0, None);
        Ok(())
    }

    fn clear(&mut self) -> Result<()> {
        let target = self.target.clone();
        let mut state = self.state();
        state.staged.clear();
        if state.ready {
            let mut tx = state.client.transaction().map_err(|e| target.error(&e))?;
            tx.batch_execute("TRUNCATE vectors")
                .map_err(|e| target.error(&e))?;
            set_meta(&mut tx, VECTOR_GENERATION, "0").map_err(|e| target.error(&e))?;
            tx.commit().map_err(|e| target.error(&e))?;
        }
        drop(state);
        self.generation = 0;
        Ok(())
    }

    fn commit(&mut self, generation: u64) -> Result<()> {
        let mut state = self.state();
        self.flush(&mut state, Some(generation))?;
        drop(state);
        self.generation = generation;
        Ok(())
    }

    fn disk_bytes(&self) -> u64 {
        0
    }
}
