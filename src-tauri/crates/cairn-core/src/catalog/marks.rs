//! What the user says about documents: deprecation marks (a document, a folder or a glob
//! pattern), tags, and [`Marks`], both loaded once for matching against paths; plus conflicts,
//! pairs of current passages in different documents that say nearly the same thing.

use std::path::{Path, PathBuf};

use rusqlite::params;
use serde::Serialize;

use super::{now, path_str, Catalog, ChunkId};
use crate::error::{Error, Result};

/// A deprecation mark on a document, a folder, or a glob pattern of paths.
#[derive(Debug, Clone, Serialize)]
pub struct Deprecation {
    pub target: String,
    pub is_pattern: bool,
    pub reason: String,
    pub superseded_by: Option<String>,
    pub created_at: i64,
}

/// What a deprecation mark matches.
#[derive(Debug)]
enum MarkTarget {
    Pattern(globset::GlobMatcher),
    /// A document or folder (and everything under it).
    Path(PathBuf),
}

/// Deprecations and tags, loaded once and matched against paths.
#[derive(Debug, Default)]
pub struct Marks {
    /// Each mark with its glob (patterns) or its target as a path (documents and folders).
    deprecations: Vec<(Deprecation, MarkTarget)>,
    tags: Vec<(PathBuf, String)>,
}

impl Marks {
    /// Deprecations and tags as stored, compiled for matching (a bad pattern is an error).
    pub(crate) fn new(stored: Vec<Deprecation>, tags: Vec<(PathBuf, String)>) -> Result<Marks> {
        let mut deprecations = Vec::new();
        for d in stored {
            let glob = if d.is_pattern {
                MarkTarget::Pattern(
                    globset::GlobBuilder::new(&d.target)
                        .literal_separator(false)
                        .build()
                        .map_err(|e| Error::Invalid(format!("bad pattern `{}`: {e}", d.target)))?
                        .compile_matcher(),
                )
            } else {
                MarkTarget::Path(crate::paths::from_key(&d.target))
            };
            deprecations.push((d, glob));
        }
        Ok(Marks { deprecations, tags })
    }

    /// The deprecation that applies to `path`, if any (the most specific explicit one first).
    pub fn deprecation(&self, path: &Path) -> Option<&Deprecation> {
        self.deprecations
            .iter()
            .filter(|(_, target)| match target {
                MarkTarget::Pattern(g) => g.is_match(path),
                MarkTarget::Path(target) => path.starts_with(target),
            })
            .max_by_key(|(d, target)| (matches!(target, MarkTarget::Path(_)), d.target.len()))
            .map(|(d, _)| d)
    }

    /// Tags of `path`, its own and its folders'.
    pub fn tags_of(&self, path: &Path) -> Vec<&str> {
        self.tags
            .iter()
            .filter(|(t, _)| path.starts_with(t))
            .map(|(_, tag)| tag.as_str())
            .collect()
    }

    pub fn has_deprecations(&self) -> bool {
        !self.deprecations.is_empty()
    }
}

/// Two current passages in different documents that say nearly the same thing differently.
#[derive(Debug, Clone, Serialize)]
pub struct Conflict {
    #[serde(serialize_with = "crate::paths::serialize_escaped")]
    pub path_a: PathBuf,
    #[serde(serialize_with = "crate::paths::serialize_escaped")]
    pub path_b: PathBuf,
    pub chunk_a: ChunkId,
    pub chunk_b: ChunkId,
    pub similarity: f32,
    pub text_a: String,
    pub text_b: String,
}

impl Catalog {
    // ---- deprecation and tags -------------------------------------------------------------------

    /// Marks a document, folder (`is_pattern` false) or glob pattern deprecated.
    pub fn deprecate(
        &self,
        target: &str,
        is_pattern: bool,
        reason: &str,
        superseded_by: Option<&str>,
    ) -> Result<()> {
        self.conn.execute(
            "INSERT INTO deprecations(target, is_pattern, reason, superseded_by, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT(target) DO UPDATE SET reason = excluded.reason,
               superseded_by = excluded.superseded_by, is_pattern = excluded.is_pattern",
            params![target, is_pattern, reason, superseded_by, now()],
        )?;
        Ok(())
    }

    /// Removes a deprecation mark; false when there was none.
    pub fn undeprecate(&self, target: &str) -> Result<bool> {
        Ok(self
            .conn
            .execute("DELETE FROM deprecations WHERE target = ?1", [target])?
            > 0)
    }

    pub fn deprecations(&self) -> Result<Vec<Deprecation>> {
        let mut stmt = self.conn.prepare(
            "SELECT target, is_pattern, reason, superseded_by, created_at FROM deprecations
             ORDER BY target",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(Deprecation {
                target: r.get(0)?,
                is_pattern: r.get(1)?,
                reason: r.get(2)?,
                superseded_by: r.get(3)?,
                created_at: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Adds tags to a document or folder path.
    pub fn tag(&self, target: &Path, tags: &[String]) -> Result<()> {
        for t in tags {
            self.conn.execute(
                "INSERT OR IGNORE INTO tags(target, tag) VALUES (?1, ?2)",
                params![path_str(target), t],
            )?;
        }
        Ok(())
    }

    /// Removes tags (all of them when `tags` is empty); returns how many were removed.
    pub fn untag(&self, target: &Path, tags: &[String]) -> Result<usize> {
        if tags.is_empty() {
            return Ok(self
                .conn
                .execute("DELETE FROM tags WHERE target = ?1", [path_str(target)])?);
        }
        let mut n = 0;
        for t in tags {
            n += self.conn.execute(
                "DELETE FROM tags WHERE target = ?1 AND tag = ?2",
                params![path_str(target), t],
            )?;
        }
        Ok(n)
    }

    /// All (target, tag) pairs.
    pub fn tags(&self) -> Result<Vec<(PathBuf, String)>> {
        let mut stmt = self
            .conn
            .prepare("SELECT target, tag FROM tags ORDER BY target, tag")?;
        let rows = stmt.query_map([], |r| {
            Ok((
                crate::paths::from_key(&r.get::<_, String>(0)?),
                r.get::<_, String>(1)?,
            ))
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Loads deprecations and tags for matching.
    pub fn marks(&self) -> Result<Marks> {
        Marks::new(self.deprecations()?, self.tags()?)
    }

    // ---- conflicts ------------------------------------------------------------------------------

    /// Records near-duplicate passage pairs (ids ordered so each pair is stored once).
    pub fn record_conflicts(&mut self, pairs: &[(ChunkId, ChunkId, f32)]) -> Result<()> {
        let tx = self.conn.transaction()?;
        {
            let mut stmt = tx.prepare_cached(
                "INSERT OR REPLACE INTO conflicts(chunk_a, chunk_b, similarity, found_at)
                 VALUES (?1, ?2, ?3, ?4)",
            )?;
            for (a, b, sim) in pairs {
                let (a, b) = if a < b { (a, b) } else { (b, a) };
                stmt.execute(params![a.0, b.0, sim, now()])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Conflicts whose passages are both still current.
    pub fn conflicts(&self) -> Result<Vec<Conflict>> {
        let mut stmt = self.conn.prepare(
            "SELECT k.chunk_a, k.chunk_b, k.similarity FROM conflicts k
             JOIN chunks ca ON ca.id = k.chunk_a JOIN versions va ON va.id = ca.version_id
             JOIN chunks cb ON cb.id = k.chunk_b JOIN versions vb ON vb.id = cb.version_id
             WHERE va.status = 'current' AND vb.status = 'current'
             ORDER BY k.similarity DESC",
        )?;
        let pairs: Vec<(ChunkId, ChunkId, f32)> = stmt
            .query_map([], |r| {
                Ok((ChunkId(r.get(0)?), ChunkId(r.get(1)?), r.get(2)?))
            })?
            .collect::<rusqlite::Result<_>>()?;
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
