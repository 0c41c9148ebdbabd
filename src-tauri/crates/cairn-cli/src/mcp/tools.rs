//! What the `search`, `list_sources` and `read_source` tools do with an engine: arguments
//! resolved into a search request (folders relative to the registered ones), results and
//! passages mapped to the tools' result types, documents read passage by passage.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use cairn_core::catalog::{ChunkId, ChunkRecord, Filters, Marks};
use cairn_core::engine::{Engine, SearchRequest, SearchResponse};
use cairn_core::Error;

use super::schema::{Passage, PassageText, ReadSourceResult, SearchParams};

pub(super) fn heading(h: &[String]) -> String {
    h.join(" > ")
}

pub(super) fn invalid(msg: impl Into<String>) -> Error {
    Error::Invalid(msg.into())
}

/// Resolves a folder argument: an absolute path, or one relative to a registered folder.
pub(super) fn resolve_folder(engine: &Engine, folder: &str) -> cairn_core::Result<PathBuf> {
    let p = Path::new(folder);
    if p.is_absolute() {
        return Ok(p.canonicalize().unwrap_or_else(|_| p.to_owned()));
    }
    let registered = engine.catalog().folders()?;
    for f in &registered {
        let candidate = f.path.join(p);
        if candidate.is_dir() {
            return Ok(candidate.canonicalize().unwrap_or(candidate));
        }
        if f.path.file_name() == Some(p.as_os_str()) {
            return Ok(f.path.clone());
        }
    }
    let known: Vec<String> = registered
        .iter()
        .map(|f| cairn_core::paths::escaped(&f.path))
        .collect();
    Err(Error::NotFound(format!(
        "no folder `{folder}` under the registered folders ({})",
        known.join(", ")
    )))
}

pub(super) fn search_request(
    engine: &Engine,
    p: &SearchParams,
) -> cairn_core::Result<SearchRequest> {
    let mut req = SearchRequest::new(p.query.clone(), engine.config());
    if let Some(m) = p.mode {
        req.mode = m.into();
    }
    if let Some(n) = p.limit {
        req.limit = n.clamp(1, 50) as usize;
        req.candidates = req.candidates.max(req.limit);
    }
    let mut filters = Filters::default();
    if let Some(t) = &p.kind {
        let kind = cairn_core::parse::DocKind::from_name(t).ok_or_else(|| {
            invalid(format!(
                "unknown type `{t}`: use {}",
                cairn_core::parse::DocKind::names()
            ))
        })?;
        filters.kinds.push(kind.as_str().to_owned());
    }
    if let Some(f) = &p.folder {
        filters.folders.push(resolve_folder(engine, f)?);
    }
    if let Some(g) = &p.path {
        let glob = globset::GlobBuilder::new(g)
            .literal_separator(false)
            .build()
            .map_err(|e| invalid(format!("bad path glob `{g}`: {e}")))?;
        filters.path_glob = Some(glob.compile_matcher());
    }
    filters.mail_from = p.from.clone();
    req.filters = filters;
    Ok(req)
}

/// The search's notice, or one saying the collection is empty.
pub(super) fn notice(resp: &SearchResponse) -> Option<String> {
    resp.notice.clone().or_else(|| {
        (resp.total_chunks == 0).then(|| {
            "the collection is empty: add a folder with `cairn add DIR`, then run `cairn index`"
                .to_owned()
        })
    })
}

pub(super) fn passages(resp: &SearchResponse) -> Vec<Passage> {
    resp.results
        .iter()
        .enumerate()
        .map(|(i, h)| Passage {
            rank: i + 1,
            path: cairn_core::paths::escaped(&h.path),
            page: h.page,
            heading: heading(&h.heading),
            snippet: h.snippet.text.clone(),
            score: h.score,
            chunk_id: h.chunk_id.0,
            version: h.version,
            kind: h.kind.clone(),
            title: h.title.clone(),
        })
        .collect()
}

/// The current chunks of every document (optionally under `folder`), grouped by path, each in
/// document order.
pub(super) fn current_documents(
    engine: &Engine,
    folder: Option<&Path>,
) -> cairn_core::Result<BTreeMap<PathBuf, Vec<ChunkRecord>>> {
    // TODO: a catalog query per document (and a document list without chunk text) would
    // avoid scanning every current chunk; the catalog has none yet.
    let mut docs: BTreeMap<PathBuf, Vec<ChunkRecord>> = BTreeMap::new();
    engine.catalog().for_each_current_chunk(&mut |c| {
        if folder.is_none_or(|f| c.path.starts_with(f)) {
            docs.entry(c.path.clone()).or_default().push(c);
        }
        Ok(())
    })?;
    for chunks in docs.values_mut() {
        chunks.sort_by_key(|c| (c.start, c.id));
    }
    Ok(docs)
}

pub(super) fn deprecation(marks: &Marks, path: &Path) -> Option<String> {
    marks.deprecation(path).map(|d| match &d.superseded_by {
        Some(by) => format!("{} (superseded by {by})", d.reason),
        None => d.reason.clone(),
    })
}

pub(super) fn passage_text(c: &ChunkRecord) -> PassageText {
    PassageText {
        chunk_id: c.id.0,
        page: c.page,
        heading: heading(&c.heading_path),
        byte_start: c.start,
        byte_end: c.end,
        text: c.text.clone(),
    }
}

/// One passage by id: a current one, or with `include_history` one of an older version.
/// Forgotten passages no longer exist.
pub(super) fn read_chunk(
    engine: &Engine,
    id: i64,
    include_history: bool,
) -> cairn_core::Result<ReadSourceResult> {
    let mut records = engine.catalog().chunk_records(&[ChunkId(id)])?;
    let c = records
        .remove(&ChunkId(id))
        .ok_or_else(|| Error::NotFound(format!("no passage with chunk_id {id}")))?;
    if c.status != "current" && !include_history {
        return Err(Error::NotFound(format!(
            "passage {id} is from version {} of {}, which is {}: it is no longer in the \
             knowledge base's current text; call read_source with include_history=true to read \
             it anyway",
            c.version_seq,
            c.path.display(),
            c.status
        )));
    }
    let marks = engine.catalog().marks()?;
    let note = (c.status != "current").then(|| {
        format!(
            "this passage is from version {} of the document, which is {} (not searchable)",
            c.version_seq, c.status
        )
    });
    Ok(ReadSourceResult {
        path: cairn_core::paths::escaped(&c.path),
        kind: c.kind.clone(),
        version: c.version_seq,
        status: c.status.clone(),
        title: c.title.clone(),
        deprecated: deprecation(&marks, &c.path),
        passages: vec![passage_text(&c)],
        total_passages: 1,
        start: 0,
        truncated: false,
        note,
    })
}

pub(super) fn read_document(
    engine: &Engine,
    path: &str,
    start: usize,
    max_chars: usize,
) -> cairn_core::Result<ReadSourceResult> {
    let mut docs = current_documents(engine, None)?;
    let wanted = cairn_core::paths::resolve_shown(path);
    let wanted = wanted.as_path();
    let key = if docs.contains_key(wanted) {
        wanted.to_owned()
    } else {
        let matches: Vec<&PathBuf> = docs.keys().filter(|k| k.ends_with(wanted)).collect();
        match matches.as_slice() {
            [one] => (*one).clone(),
            [] => {
                return Err(Error::NotFound(format!(
                    "Cairn has no current document at {path}"
                )))
            }
            many => {
                let names: Vec<String> = many
                    .iter()
                    .take(10)
                    .map(|p| cairn_core::paths::escaped(p))
                    .collect();
                return Err(invalid(format!(
                    "`{path}` matches {} documents; give the full path, e.g. {}",
                    many.len(),
                    names.join(", ")
                )));
            }
        }
    };
    let chunks = docs.remove(&key).expect("key found above");
    let total = chunks.len();
    let first = chunks.first().expect("documents have chunks");
    let marks = engine.catalog().marks()?;
    let (kind, version, title) = (first.kind.clone(), first.version_seq, first.title.clone());
    let mut out = Vec::new();
    let mut used = 0;
    for c in chunks.iter().skip(start) {
        if !out.is_empty() && used + c.text.len() > max_chars {
            break;
        }
        used += c.text.len();
        out.push(passage_text(c));
    }
    let next = start + out.len();
    let truncated = next < total;
    let note = if truncated {
        Some(format!(
            "showing passages {}-{next} of {total} (about {max_chars} characters); call read_source with start={next} to continue",
            start + 1
        ))
    } else if start >= total {
        Some(format!(
            "the document has {total} passages; start={start} is past the end"
        ))
    } else {
        None
    };
    Ok(ReadSourceResult {
        path: cairn_core::paths::escaped(&key),
        kind,
        version,
        status: "current".into(),
        title,
        deprecated: deprecation(&marks, &key),
        passages: out,
        total_passages: total,
        start,
        truncated,
        note,
    })
}
