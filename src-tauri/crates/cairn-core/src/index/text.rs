//! Full-text index over chunks: tantivy with BM25, English stemming and stop words.
//!
//! Fields: `chunk_id` (u64, indexed, fast), `title`, `heading`, `body`. Queries are analysed
//! with the same analyser and matched as a disjunction over the three fields, so user input
//! never hits query-syntax errors.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use tantivy::collector::TopDocs;
use tantivy::query::{BooleanQuery, Occur, Query, TermQuery, TermSetQuery};
use tantivy::schema::{
    Field, IndexRecordOption, Schema, TextFieldIndexing, TextOptions, FAST, INDEXED, STORED,
};
use tantivy::{doc, Index, IndexReader, IndexWriter, ReloadPolicy, Term};

use super::Hit;
// The analyser lives in `analysis`; re-exported at its historical path.
pub use crate::analysis::{analyze, analyzer};
use crate::catalog::{ChunkFilter, ChunkId, ChunkRecord};
use crate::durable;
use crate::error::{Error, Result};

const ANALYZER: &str = "cairn_en";

#[derive(Clone, Copy)]
struct Fields {
    chunk_id: Field,
    title: Field,
    heading: Field,
    body: Field,
}

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let text = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(ANALYZER)
            .set_index_option(IndexRecordOption::WithFreqs),
    );
    let fields = Fields {
        chunk_id: b.add_u64_field("chunk_id", INDEXED | STORED | FAST),
        title: b.add_text_field("title", text.clone()),
        heading: b.add_text_field("heading", text.clone()),
        body: b.add_text_field("body", text),
    };
    (b.build(), fields)
}

/// The tantivy index. Only the process holding the writer lock opens it writable; only
/// [`crate::store::embedded`] opens it, everything else holds a `KeywordRetriever`.
pub(crate) struct TextIndex {
    index: Index,
    reader: IndexReader,
    writer: Option<IndexWriter>,
    fields: Fields,
    /// The folder of an index on disk (fsynced after each commit).
    dir: Option<PathBuf>,
}

impl TextIndex {
    /// Opens or creates the index in `dir`. With `writable`, takes tantivy's writer lock.
    pub fn open(dir: &Path, writable: bool) -> Result<TextIndex> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io("creating", dir, e))?;
        let (schema, fields) = schema();
        let index = match Index::open_in_dir(dir) {
            Ok(index) if index.schema() == schema => index,
            Ok(_) => {
                // Schema changed between versions of Cairn: the index is derived, start over.
                drop_dir_contents(dir)?;
                Index::create_in_dir(dir, schema)?
            }
            Err(_) if !dir.join("meta.json").exists() => Index::create_in_dir(dir, schema)?,
            Err(e) => return Err(e.into()),
        };
        if writable {
            // tantivy's atomic writes leave `.tmp*` files when killed midway.
            durable::remove_stale_tmp(dir, |name| name.starts_with(".tmp"));
        }
        let mut text = Self::with_index(index, fields, writable.then_some(64 * 1024 * 1024))?;
        text.dir = Some(dir.to_owned());
        Ok(text)
    }

    /// Opens the index for reading only: never creates, wipes or rebuilds it. When there is no
    /// index yet, or one of another schema (the writer rebuilds it), searches an empty one until
    /// the engine is reopened.
    pub fn open_read(dir: &Path) -> Result<TextIndex> {
        let (schema, fields) = schema();
        let mut text = match Index::open_in_dir(dir) {
            Ok(index) if index.schema() == schema => Self::with_index(index, fields, None)?,
            _ => Self::with_index(Index::create_in_ram(schema), fields, None)?,
        };
        // Only for `bytes_on_disk`: a read-only index never commits.
        text.dir = Some(dir.to_owned());
        Ok(text)
    }

    /// A writable index in memory (for one-off searches over past states).
    pub fn in_ram() -> Result<TextIndex> {
        let (schema, fields) = schema();
        Self::with_index(Index::create_in_ram(schema), fields, Some(32 * 1024 * 1024))
    }

    /// Registers the analyser and opens a reader (and a writer with that much memory).
    fn with_index(index: Index, fields: Fields, writer_memory: Option<usize>) -> Result<TextIndex> {
        index.tokenizers().register(ANALYZER, analyzer());
        let writer = match writer_memory {
            Some(bytes) => Some(index.writer_with_num_threads(1, bytes)?),
            None => None,
        };
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        Ok(TextIndex {
            index,
            reader,
            writer,
            fields,
            dir: None,
        })
    }

    fn writer(&mut self) -> Result<&mut IndexWriter> {
        self.writer
            .as_mut()
            .ok_or_else(|| Error::Invalid("the text index was opened read-only".into()))
    }

    /// The catalog generation recorded by the last commit (0 for a new index).
    pub fn generation(&self) -> Result<u64> {
        Ok(self
            .index
            .load_metas()?
            .payload
            .and_then(|p| p.parse().ok())
            .unwrap_or(0))
    }

    /// Adds a chunk (call [`TextIndex::commit`] to make it visible).
    pub fn add(&mut self, c: &ChunkRecord) -> Result<()> {
        let f = self.fields;
        let heading = c.heading_path.join(" / ");
        let title = c.title.clone().unwrap_or_default();
        self.writer()?.add_document(doc!(
            f.chunk_id => c.id.key(),
            f.title => title,
            f.heading => heading,
            f.body => c.text.as_str(),
        ))?;
        Ok(())
    }

    /// Removes a chunk.
    pub fn remove(&mut self, id: ChunkId) -> Result<()> {
        let term = Term::from_field_u64(self.fields.chunk_id, id.key());
        self.writer()?.delete_term(term);
        Ok(())
    }

    /// Removes everything (before a rebuild).
    pub fn clear(&mut self) -> Result<()> {
        self.writer()?.delete_all_documents()?;
        Ok(())
    }

    /// Commits pending changes, recording the catalog generation they reflect. tantivy fsyncs
    /// the segment files and writes `meta.json` atomically; the folder is fsynced after it, so
    /// the commit survives a power loss too.
    pub fn commit(&mut self, generation: u64) -> Result<()> {
        let writer = self.writer()?;
        let mut prepared = writer.prepare_commit()?;
        prepared.set_payload(&generation.to_string());
        prepared.commit()?;
        if let Some(dir) = &self.dir {
            durable::sync_dir(dir).map_err(|e| Error::io("syncing", dir, e))?;
        }
        self.reader.reload()?;
        Ok(())
    }

    /// Deletes the files of segments that no commit refers to any more (after a rebuild: all
    /// the old ones, with the terms of whatever was removed).
    pub fn collect_garbage(&mut self) -> Result<()> {
        self.writer()?.garbage_collect_files().wait()?;
        Ok(())
    }

    /// Re-reads the latest commit (another process may have written).
    pub fn refresh(&self) -> Result<()> {
        self.reader.reload()?;
        Ok(())
    }

    /// Number of chunks in the last commit.
    pub fn len(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    /// BM25 search restricted by `filter`.
    pub fn search(&self, query: &str, limit: usize, filter: &ChunkFilter) -> Result<Vec<Hit>> {
        let f = self.fields;
        let mut seen = HashSet::new();
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        for (term, _, _) in analyze(query) {
            if !seen.insert(term.clone()) {
                continue;
            }
            for field in [f.title, f.heading, f.body] {
                clauses.push((
                    Occur::Should,
                    Box::new(TermQuery::new(
                        Term::from_field_text(field, &term),
                        IndexRecordOption::WithFreqs,
                    )),
                ));
            }
        }
        if clauses.is_empty() {
            return Ok(Vec::new());
        }
        let text_query: Box<dyn Query> = Box::new(BooleanQuery::new(clauses));
        let id_set = |set: &HashSet<ChunkId>| -> Box<dyn Query> {
            Box::new(TermSetQuery::new(
                set.iter()
                    .map(|id| Term::from_field_u64(f.chunk_id, id.key())),
            ))
        };
        let query: Box<dyn Query> = match filter {
            ChunkFilter::All => text_query,
            ChunkFilter::Allow(set) => Box::new(BooleanQuery::new(vec![
                (Occur::Must, text_query),
                (Occur::Must, id_set(set)),
            ])),
            ChunkFilter::Deny(set) if set.is_empty() => text_query,
            ChunkFilter::Deny(set) => Box::new(BooleanQuery::new(vec![
                (Occur::Must, text_query),
                (Occur::MustNot, id_set(set)),
            ])),
        };
        let searcher = self.reader.searcher();
        let top = searcher.search(&query, &TopDocs::with_limit(limit).order_by_score())?;
        let mut hits = Vec::with_capacity(top.len());
        for (score, addr) in top {
            let column = searcher
                .segment_reader(addr.segment_ord)
                .fast_fields()
                .u64("chunk_id")?;
            if let Some(key) = column.first(addr.doc_id) {
                hits.push(Hit {
                    chunk: ChunkId::from_key(key),
                    score,
                });
            }
        }
        Ok(hits)
    }

    /// Bytes used on disk by the index's folder (0 in memory).
    pub fn bytes_on_disk(&self) -> u64 {
        self.dir.as_deref().map_or(0, dir_size)
    }
}

pub(crate) fn dir_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| match e.metadata() {
                    Ok(m) if m.is_dir() => dir_size(&e.path()),
                    Ok(m) => m.len(),
                    Err(_) => 0,
                })
                .sum()
        })
        .unwrap_or(0)
}

fn drop_dir_contents(dir: &Path) -> Result<()> {
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io("reading", dir, e))? {
        let entry = entry.map_err(|e| Error::io("reading", dir, e))?;
        let p = entry.path();
        let r = if p.is_dir() {
            std::fs::remove_dir_all(&p)
        } else {
            std::fs::remove_file(&p)
        };
        r.map_err(|e| Error::io("removing", &p, e))?;
    }
    Ok(())
}
