//! The storage seam's contract (`cairn_core::store`), as functions written against its traits
//! only and run on the embedded store (SQLite + tantivy + usearch) and on the team store
//! (PostgreSQL + pgvector, a real server started by `support/pg.rs`). Another backend passes the
//! same functions by implementing [`Backend`] for it: a fresh library, opened for writing or
//! for reading. The helpers drive the stores the way the engine's `Writer` does (apply a batch,
//! mirror it into both retrievers, commit at the catalog's generations). No model files: the
//! vectors are small and computed from the text.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use cairn_core::audit::MessageRole;
use cairn_core::catalog::{
    Batch, BatchOutcome, ChunkFilter, ChunkId, Filters, FolderId, Generation, NewChunk, NewVersion,
};
use cairn_core::store::{embedded, postgres, CatalogStore, KeywordRetriever, VectorRetriever};
use cairn_core::Error;

mod support {
    pub mod pg;
}

const DIM: usize = 4;
const MODEL: &str = "contract-model";

/// One library's stores, as the engine holds them.
struct Stores {
    catalog: Box<dyn CatalogStore>,
    text: Box<dyn KeywordRetriever>,
    vectors: Box<dyn VectorRetriever>,
}

/// How the contract reaches a backend.
trait Backend {
    /// The library's stores; `writable` for the one writer, else a reader.
    fn open(&self, writable: bool) -> Stores;
    /// A documents folder the library may register.
    fn docs(&self) -> PathBuf;
}

/// The embedded store in a temporary data directory.
struct Embedded {
    dir: tempfile::TempDir,
}

impl Embedded {
    fn new() -> Embedded {
        Embedded {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }
}

impl Backend for Embedded {
    fn open(&self, writable: bool) -> Stores {
        let data = self.dir.path().join("data");
        let embedded::Opened { catalog, text } = embedded::open(&data, writable).expect("open");
        let vectors = embedded::open_vectors(&data, MODEL, DIM).expect("open vectors");
        Stores {
            catalog,
            text,
            vectors,
        }
    }

    fn docs(&self) -> PathBuf {
        self.dir.path().join("docs")
    }
}

/// A team library: a fresh database on the test server, opened by URL as its owner.
struct Postgres {
    db: support::pg::TestDb,
    dir: tempfile::TempDir,
}

impl Postgres {
    fn new() -> Postgres {
        Postgres {
            db: support::pg::server().database(),
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }
}

impl Backend for Postgres {
    fn open(&self, writable: bool) -> Stores {
        let target = postgres::Target::parse(&self.db.url())
            .expect("url")
            .with_password(&self.db.password);
        let postgres::Opened { catalog, text } = postgres::open(&target, writable).expect("open");
        let vectors = postgres::open_vectors(&target, MODEL, DIM, writable).expect("vectors");
        Stores {
            catalog,
            text,
            vectors,
        }
    }

    fn docs(&self) -> PathBuf {
        self.dir.path().join("docs")
    }
}

// ---- helpers, written against the traits -----------------------------------------------------

/// A new version of `name` under `folder`, one chunk per passage.
fn version(folder: (FolderId, &Path), name: &str, kind: &str, passages: &[&str]) -> NewVersion {
    let content = passages.join("\n");
    let mut start = 0;
    let chunks = passages
        .iter()
        .enumerate()
        .map(|(i, text)| {
            let chunk = NewChunk {
                ordinal: i as u32,
                start,
                end: start + text.len(),
                page: None,
                heading_path: vec![name.to_owned()],
                text: (*text).to_owned(),
                embed_hash: *blake3::hash(text.as_bytes()).as_bytes(),
                mail: None,
            };
            start += text.len() + 1;
            chunk
        })
        .collect();
    NewVersion {
        path: folder.1.join(name),
        folder: folder.0,
        content_hash: *blake3::hash(content.as_bytes()).as_bytes(),
        size: content.len() as u64,
        mtime: 1_700_000_000,
        stat_ns: None,
        kind: kind.to_owned(),
        title: Some(name.to_owned()),
        text_len: content.len(),
        page_count: None,
        chunks,
        ocr_pages: Vec::new(),
    }
}

/// A unit vector computed from the text (distinct texts here get distinct directions).
fn vector_of(text: &str) -> Vec<f32> {
    let count = |set: &str| text.chars().filter(|c| set.contains(*c)).count() as f32;
    let v = [
        count("aeiou") + 1.0,
        count("bcdfg") + 1.0,
        count("hjklmn") + 1.0,
        count("pqrstvwxyz") + text.len() as f32,
    ];
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.iter().map(|x| x / norm).collect()
}

/// A fresh library opened for writing, with its documents folder registered.
fn start(b: &dyn Backend) -> (Stores, PathBuf, FolderId) {
    let s = b.open(true);
    let docs = b.docs();
    let folder = s.catalog.add_folder(&docs).expect("add folder");
    (s, docs, folder)
}

/// Applies a batch to the catalog only (the retrievers lag behind).
fn apply_catalog(s: &mut Stores, batch: Batch) -> BatchOutcome {
    s.catalog.apply_batch(&batch).expect("apply batch")
}

/// Mirrors a batch's outcome into both retrievers and commits them at the catalog's
/// generations, as the writer does.
fn mirror(s: &mut Stores, outcome: &BatchOutcome) {
    for id in &outcome.removed_chunks {
        s.text.remove(*id).unwrap();
        s.vectors.remove(*id).unwrap();
    }
    let added = s.catalog.current_chunks(&outcome.added_chunks).unwrap();
    for rec in added.values() {
        s.text.add(rec).unwrap();
    }
    for (id, v) in s
        .catalog
        .cached_vectors(MODEL, &outcome.added_chunks)
        .unwrap()
    {
        s.vectors.add(id, &v).unwrap();
    }
    commit(s);
}

fn commit(s: &mut Stores) {
    let text = s.catalog.generation(Generation::Text).unwrap();
    s.text.commit(text).unwrap();
    let vectors = s.catalog.generation(Generation::Vector).unwrap();
    s.vectors.commit(vectors).unwrap();
}

fn apply(s: &mut Stores, versions: Vec<NewVersion>) -> BatchOutcome {
    let outcome = apply_catalog(
        s,
        Batch {
            versions,
            ..Batch::default()
        },
    );
    mirror(s, &outcome);
    outcome
}

/// Embeds the backlog, as the writer's phase 2 does.
fn embed(s: &mut Stores) {
    let pending = s.catalog.pending_chunks(MODEL, 100).unwrap();
    let rows: Vec<(Vec<u8>, Vec<f32>)> = pending
        .iter()
        .map(|c| (c.embed_hash.clone(), vector_of(&c.text)))
        .collect();
    for (id, v) in s.catalog.store_vectors(MODEL, &rows).unwrap() {
        s.vectors.add(id, &v).unwrap();
    }
    commit(s);
}

/// Rebuilds both retrievers from the catalog alone.
fn rebuild(s: &mut Stores) {
    s.text.clear().unwrap();
    let text = &mut s.text;
    s.catalog
        .for_each_current_chunk(&mut |c| text.add(&c))
        .unwrap();
    s.vectors.clear().unwrap();
    let vectors = &mut s.vectors;
    s.catalog
        .for_each_current_vector(MODEL, &mut |id, v| vectors.add(id, &v))
        .unwrap();
    commit(s);
}

/// The ids a keyword search returns, as the retriever has them.
fn keyword_ids(s: &Stores, query: &str, filter: &ChunkFilter) -> Vec<ChunkId> {
    let hits = s.text.search(query, 10, filter).unwrap();
    hits.iter().map(|h| h.chunk).collect()
}

/// The texts a search shows: hits re-checked against the catalog, current chunks only.
fn shown(s: &Stores, ids: &[ChunkId]) -> Vec<String> {
    let current = s.catalog.current_chunks(ids).unwrap();
    ids.iter()
        .filter_map(|id| current.get(id).map(|r| r.text.clone()))
        .collect()
}

fn keyword(s: &Stores, query: &str) -> Vec<String> {
    shown(s, &keyword_ids(s, query, &ChunkFilter::All))
}

fn dense(s: &Stores, text: &str, filter: &ChunkFilter) -> Vec<String> {
    let hits = s.vectors.search(&vector_of(text), 10, filter).unwrap();
    shown(s, &hits.iter().map(|h| h.chunk).collect::<Vec<_>>())
}

// ---- the contract ---------------------------------------------------------------------------

/// A new version makes the old one superseded in the same batch, and searches show only it.
fn a_new_version_replaces_the_old_in_one_batch(b: &dyn Backend) {
    let (mut s, docs, f) = start(b);
    let old = "refunds within fourteen days";
    let first = apply(
        &mut s,
        vec![version((f, &docs), "a.md", "markdown", &[old])],
    );
    embed(&mut s);
    assert_eq!(keyword(&s, "fourteen"), [old]);

    let new = "refunds within thirty days";
    let second = apply(
        &mut s,
        vec![version((f, &docs), "a.md", "markdown", &[new])],
    );
    assert_eq!(second.versions, 1);
    assert_eq!(second.removed_chunks, first.added_chunks);
    let history: Vec<String> = s
        .catalog
        .history(&docs.join("a.md"))
        .unwrap()
        .into_iter()
        .map(|v| v.status)
        .collect();
    assert_eq!(history, ["superseded", "current"]);
    assert!(s
        .catalog
        .current_chunks(&first.added_chunks)
        .unwrap()
        .is_empty());
    let records = s.catalog.chunk_records(&first.added_chunks).unwrap();
    assert_eq!(records[&first.added_chunks[0]].status, "superseded");
    assert!(keyword(&s, "fourteen").is_empty());
    assert_eq!(keyword(&s, "thirty"), [new]);
    embed(&mut s);
    assert_eq!(dense(&s, old, &ChunkFilter::All), [new]);
}

/// A retriever that lags behind the catalog may return an old id, never its text.
fn superseded_text_is_never_retrieved_from_a_lagging_retriever(b: &dyn Backend) {
    let (mut s, docs, f) = start(b);
    let old = "the canary sings at dawn";
    let first = apply(
        &mut s,
        vec![version((f, &docs), "a.md", "markdown", &[old])],
    );
    // The catalog moves on; the retrievers are not told (a crash between the two).
    let batch = Batch {
        versions: vec![version(
            (f, &docs),
            "a.md",
            "markdown",
            &["the sparrow sings"],
        )],
        ..Batch::default()
    };
    apply_catalog(&mut s, batch);
    let text_generation = s.catalog.generation(Generation::Text).unwrap();
    assert!(s.text.generation().unwrap() < text_generation);
    let stale = keyword_ids(&s, "canary", &ChunkFilter::All);
    if !stale.is_empty() {
        assert_eq!(
            stale, first.added_chunks,
            "a lagging retriever holds the old id"
        );
    }
    assert!(shown(&s, &stale).is_empty());
    // The writer's repair: a rebuild from the catalog reaches its generation.
    rebuild(&mut s);
    assert_eq!(s.text.generation().unwrap(), text_generation);
    assert!(keyword_ids(&s, "canary", &ChunkFilter::All).is_empty());
    assert_eq!(keyword(&s, "sparrow"), ["the sparrow sings"]);
}

/// Generations grow with what they count, and a commit records the one it reflects.
fn generations_grow_and_retrievers_record_them(b: &dyn Backend) {
    let (mut s, docs, f) = start(b);
    let generations = |s: &Stores| {
        (
            s.catalog.generation(Generation::Text).unwrap(),
            s.catalog.generation(Generation::Vector).unwrap(),
        )
    };
    let (t0, v0) = generations(&s);
    assert_eq!(
        (s.text.generation().unwrap(), s.vectors.generation()),
        (0, 0)
    );
    apply(
        &mut s,
        vec![version((f, &docs), "a.md", "markdown", &["one", "two"])],
    );
    let (t1, v1) = generations(&s);
    assert!(t1 > t0 && v1 > v0, "a new version bumps both");
    assert_eq!(s.text.generation().unwrap(), t1);
    embed(&mut s);
    let (t2, v2) = generations(&s);
    assert_eq!(t2, t1, "storing vectors leaves the text generation");
    assert!(v2 > v1, "storing vectors bumps the vector generation");
    assert_eq!(s.vectors.generation(), v2);
    assert_eq!((s.text.len(), s.vectors.len()), (2, 2));
    assert_eq!(s.catalog.current_chunk_count().unwrap(), 2);
}

/// Both retrievers can be rebuilt from the catalog alone, with the same results.
fn retrievers_rebuild_from_the_catalog_alone(b: &dyn Backend) {
    let (mut s, docs, f) = start(b);
    apply(
        &mut s,
        vec![
            version(
                (f, &docs),
                "a.md",
                "markdown",
                &["alpha river", "beta mountain"],
            ),
            version((f, &docs), "b.txt", "text", &["gamma river delta"]),
        ],
    );
    embed(&mut s);
    let before = (
        keyword(&s, "river"),
        dense(&s, "beta mountain", &ChunkFilter::All),
    );
    assert_eq!(before.0.len(), 2);
    rebuild(&mut s);
    assert_eq!(
        (
            keyword(&s, "river"),
            dense(&s, "beta mountain", &ChunkFilter::All)
        ),
        before
    );
    assert_eq!(before.1[0], "beta mountain");
}

/// An unchanged passage of an edited document reuses its vector; only new text waits.
fn unchanged_text_reuses_its_cached_vector(b: &dyn Backend) {
    let (mut s, docs, f) = start(b);
    apply(
        &mut s,
        vec![version(
            (f, &docs),
            "a.md",
            "markdown",
            &["kept text", "old text"],
        )],
    );
    embed(&mut s);
    let second = apply(
        &mut s,
        vec![version(
            (f, &docs),
            "a.md",
            "markdown",
            &["kept text", "new text"],
        )],
    );
    let cached = s
        .catalog
        .cached_vectors(MODEL, &second.added_chunks)
        .unwrap();
    assert_eq!(cached.len(), 1);
    assert_eq!(cached[0].1, vector_of("kept text"));
    let pending = s.catalog.pending_chunks(MODEL, 10).unwrap();
    let texts: Vec<&str> = pending.iter().map(|c| c.text.as_str()).collect();
    assert_eq!(texts, ["new text"]);
    embed(&mut s);
    assert!(s.catalog.pending_chunks(MODEL, 10).unwrap().is_empty());
    let embedded = s.catalog.embedded_current_chunks(MODEL).unwrap();
    assert_eq!(embedded.len(), 2);
    assert_eq!(s.vectors.len(), 2);
}

/// Filters resolved by the catalog restrict both retrievers.
fn filters_restrict_both_retrievers(b: &dyn Backend) {
    let (mut s, docs, f) = start(b);
    let out = apply(
        &mut s,
        vec![
            version((f, &docs), "a.md", "markdown", &["shared word in markdown"]),
            version((f, &docs), "b.txt", "text", &["shared word in text"]),
        ],
    );
    embed(&mut s);
    let filters = Filters {
        kinds: vec!["text".into()],
        ..Filters::default()
    };
    let marks = s.catalog.marks().unwrap();
    let filter = s.catalog.chunk_filter(&filters, &marks).unwrap();
    assert_eq!(
        shown(&s, &keyword_ids(&s, "shared", &filter)),
        ["shared word in text"]
    );
    assert_eq!(
        dense(&s, "shared word in markdown", &filter),
        ["shared word in text"]
    );
    let deny = ChunkFilter::Deny(out.added_chunks.iter().copied().collect::<HashSet<_>>());
    assert!(keyword_ids(&s, "shared", &deny).is_empty());
    assert!(dense(&s, "shared word", &deny).is_empty());
}

/// A reader sees what the writer committed (the keyword retriever after `refresh`).
fn readers_see_a_writers_commits(b: &dyn Backend) {
    let (mut w, docs, f) = start(b);
    let reader = b.open(false);
    apply(
        &mut w,
        vec![version(
            (f, &docs),
            "a.md",
            "markdown",
            &["news from the writer"],
        )],
    );
    embed(&mut w);
    reader.text.refresh().unwrap();
    assert_eq!(keyword(&reader, "writer"), ["news from the writer"]);
    assert_eq!(reader.catalog.documents().unwrap().len(), 1);
    let later = b.open(false);
    assert_eq!(
        dense(&later, "news from the writer", &ChunkFilter::All),
        ["news from the writer"]
    );
    assert_eq!(
        later.vectors.generation(),
        w.catalog.generation(Generation::Vector).unwrap()
    );
}

/// Forgetting erases a document from the catalog; rebuilt retrievers no longer hold it.
fn forgetting_erases_every_copy(b: &dyn Backend) {
    let (mut s, docs, f) = start(b);
    let out = apply(
        &mut s,
        vec![
            version(
                (f, &docs),
                "secret.md",
                "markdown",
                &["the canary password"],
            ),
            version((f, &docs), "kept.md", "markdown", &["an ordinary note"]),
        ],
    );
    embed(&mut s);
    let erased = s.catalog.erase(&docs.join("secret.md"), true).unwrap();
    assert_eq!(erased.documents, [docs.join("secret.md")]);
    assert!(s
        .catalog
        .forgotten()
        .unwrap()
        .covers(&docs.join("secret.md")));
    assert!(s.catalog.chunk_records(&out.added_chunks).unwrap().len() == 1);
    rebuild(&mut s);
    s.text.collect_garbage().unwrap();
    s.catalog.shrink().unwrap();
    assert!(keyword_ids(&s, "canary", &ChunkFilter::All).is_empty());
    assert_eq!((s.text.len(), s.vectors.len()), (1, 1));
    assert!(s.catalog.unforget(&docs.join("secret.md")).unwrap());
}

/// Conversations, messages and pinned facts are kept and read back in order.
fn records_keep_sessions_and_pins(b: &dyn Backend) {
    let s = b.open(false);
    let session = s.catalog.create_session("refunds").unwrap();
    assert!(s.catalog.session_exists(session).unwrap());
    s.catalog
        .add_message(
            session,
            MessageRole::User,
            "how long?",
            Some("refund period"),
            None,
        )
        .unwrap();
    s.catalog
        .add_message(session, MessageRole::Assistant, "fourteen days", None, None)
        .unwrap();
    let messages = s.catalog.messages(session).unwrap();
    let texts: Vec<&str> = messages.iter().map(|m| m.content.as_str()).collect();
    assert_eq!(texts, ["how long?", "fourteen days"]);
    assert_eq!(messages[0].rewritten.as_deref(), Some("refund period"));
    assert_eq!(s.catalog.sessions().unwrap().len(), 1);

    let pin = s
        .catalog
        .add_pin("the fiscal year starts in April")
        .unwrap();
    assert_eq!(
        s.catalog.pins().unwrap()[0].text,
        "the fiscal year starts in April"
    );
    s.catalog.remove_pin(pin).unwrap();
    assert!(s.catalog.pins().unwrap().is_empty());
    assert!(matches!(s.catalog.remove_pin(pin), Err(Error::NotFound(_))));
    assert!(s.catalog.audit_list(10).unwrap().is_empty());
}

// ---- both stores pass it -----------------------------------------------------------

macro_rules! backends_pass {
    ($($name:ident),* $(,)?) => {
        mod embedded_store {
            $(
                #[test]
                fn $name() {
                    super::$name(&super::Embedded::new());
                }
            )*
        }
        mod postgres_store {
            $(
                #[test]
                fn $name() {
                    super::$name(&super::Postgres::new());
                }
            )*
        }
    };
}

backends_pass!(
    a_new_version_replaces_the_old_in_one_batch,
    superseded_text_is_never_retrieved_from_a_lagging_retriever,
    generations_grow_and_retrievers_record_them,
    retrievers_rebuild_from_the_catalog_alone,
    unchanged_text_reuses_its_cached_vector,
    filters_restrict_both_retrievers,
    readers_see_a_writers_commits,
    forgetting_erases_every_copy,
    records_keep_sessions_and_pins,
);
