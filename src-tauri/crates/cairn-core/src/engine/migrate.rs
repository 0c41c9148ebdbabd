//! `cairn migrate`: copying a library between the embedded store and a team library without
//! re-embedding. The catalog's rows (folders, documents, every version, passages with their
//! spans and locators, the embeddings cache, problems, marks, sessions, pins, the audit log)
//! are copied by `store::copy` from one snapshot of the source into an empty target in one
//! transaction; then a [`Writer`] on the target rebuilds its keyword and vector indexes from
//! the copied catalog, as `cairn reindex` does.
//!
//! A new data directory is built beside its final path and renamed into place once complete,
//! so an interrupted migrate leaves no half library there; a team library is filled in one
//! transaction, and its indexes are derived (the next writer rebuilds them if the rebuild was
//! cut short). The source is never written.

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;

use super::Writer;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::store::copy::{self, CopyProgress, Place};
use crate::store::postgres::{is_postgres_url, Target};

/// What a migrate copied and built.
#[derive(Debug, Clone, Serialize)]
pub struct MigrateReport {
    pub from: String,
    pub to: String,
    /// Rows copied per table.
    pub rows: Vec<(String, u64)>,
    pub documents: u64,
    pub versions: u64,
    pub passages: u64,
    pub cached_vectors: u64,
    pub audit_records: u64,
    /// Passages in the target's keyword and vector indexes after the rebuild.
    pub text_index_chunks: u64,
    pub vector_index_chunks: u64,
    /// Passages of the target still waiting for a vector (none unless the source had some).
    pub embed_backlog: u64,
    /// Collections of a team library a data directory cannot keep.
    pub dropped_collections: Vec<String>,
    pub copy_seconds: f64,
    pub index_seconds: f64,
}

/// A directory a copy may create: absent, or empty.
fn check_new_dir(dir: &Path) -> Result<()> {
    match std::fs::read_dir(dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(Error::Invalid(format!(
                    "{} already exists and is not empty: a library is copied only into a new \
                     (or empty) directory",
                    dir.display()
                )));
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io("reading", dir, e)),
    }
}

/// The directory a copy is built in before it is renamed to `dir` (same file system).
fn staging_dir(dir: &Path) -> Result<PathBuf> {
    let name = dir
        .file_name()
        .ok_or_else(|| Error::Invalid(format!("{} is not a directory name", dir.display())))?;
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent).map_err(|e| Error::io("creating", &parent, e))?;
    Ok(parent.join(format!(
        ".{}.migrating-{}",
        name.to_string_lossy(),
        std::process::id()
    )))
}

/// Removes the staging directory unless the copy was renamed into place.
struct Staging(Option<PathBuf>);

impl Drop for Staging {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = std::fs::remove_dir_all(p);
        }
    }
}

/// Copies the library `config` opens (its team library, or `data_dir`) to `to`: a
/// `postgres://` URL of an empty team library, or a new data directory.
pub fn migrate(
    data_dir: &Path,
    config: &Config,
    to: &str,
    progress: &mut dyn FnMut(&CopyProgress),
) -> Result<MigrateReport> {
    let from = match config.team_library()? {
        Some(t) => Place::Team(Box::new(t)),
        None => Place::Dir(data_dir.to_owned()),
    };
    let to_place = if is_postgres_url(to) {
        Place::Team(Box::new(Target::parse(to)?))
    } else {
        Place::Dir(PathBuf::from(to))
    };
    match (&from, &to_place) {
        (Place::Dir(_), Place::Dir(_)) => {
            return Err(Error::Invalid(
                "both are data directories: migrate copies a data directory into a team library \
                 (--to postgres://…) or a team library (--library postgres://…) into a new \
                 directory"
                    .into(),
            ))
        }
        (Place::Team(_), Place::Team(_)) => {
            return Err(Error::Invalid(
                "both are team libraries: copy one database into another with the database's \
                 own tools (pg_dump), which keep collections and roles"
                    .into(),
            ))
        }
        _ => {}
    }
    let started = Instant::now();
    let (report, copy_seconds, out) = match &to_place {
        Place::Team(_) => {
            let report = copy::copy(&from, &to_place, &config.embedding, progress)?;
            let copy_seconds = started.elapsed().as_secs_f64();
            let mut team = config.clone();
            team.library = to.to_owned();
            (report, copy_seconds, rebuild(data_dir, team)?)
        }
        Place::Dir(dir) => {
            check_new_dir(dir)?;
            let staging = Staging(Some(staging_dir(dir)?));
            let stage = staging.0.clone().expect("set above");
            let _ = std::fs::remove_dir_all(&stage);
            let report = copy::copy(
                &from,
                &Place::Dir(stage.clone()),
                &config.embedding,
                progress,
            )?;
            let copy_seconds = started.elapsed().as_secs_f64();
            let mut local = config.clone();
            local.library = String::new();
            let out = rebuild(&stage, local)?;
            check_new_dir(dir)?;
            if dir.exists() {
                std::fs::remove_dir(dir).map_err(|e| Error::io("replacing", dir, e))?;
            }
            std::fs::rename(&stage, dir).map_err(|e| Error::io("renaming into", dir, e))?;
            let mut staging = staging;
            staging.0 = None;
            if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
                let _ = crate::durable::sync_dir(parent);
            }
            (report, copy_seconds, out)
        }
    };
    Ok(summary(
        &from,
        &to_place,
        report,
        copy_seconds,
        started,
        out,
    ))
}

/// (text index passages, vector index passages, backlog) after the rebuild.
type Built = (u64, u64, u64);

/// Opens the target as its writer and rebuilds both indexes from the copied catalog.
fn rebuild(data_dir: &Path, config: Config) -> Result<Built> {
    let mut writer = Writer::open(data_dir, config)?;
    writer.rebuild_indexes()?;
    let status = writer.status()?;
    Ok((
        status.text_index_chunks,
        status.vector_index_chunks,
        status.embed_backlog,
    ))
}

fn summary(
    from: &Place,
    to: &Place,
    report: copy::CopyReport,
    copy_seconds: f64,
    started: Instant,
    (text, vectors, backlog): Built,
) -> MigrateReport {
    MigrateReport {
        from: from.describe(),
        to: to.describe(),
        documents: report.count("documents"),
        versions: report.count("versions"),
        passages: report.count("chunks"),
        cached_vectors: report.count("embeddings"),
        audit_records: report.count("audit"),
        dropped_collections: report.dropped_collections.clone(),
        rows: report.rows,
        text_index_chunks: text,
        vector_index_chunks: vectors,
        embed_backlog: backlog,
        copy_seconds,
        index_seconds: started.elapsed().as_secs_f64() - copy_seconds,
    }
}
