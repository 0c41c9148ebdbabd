//! Integration tests for `cairn_core::catalog` through its public API, driven the way the engine
//! drives it: a folder is registered, then indexing results arrive as [`Batch`]es (new versions,
//! renames, deletions, problems) applied with `Catalog::apply_batch`. No model files, no
//! parsing: versions and chunks are built by hand, so these run in well under a second.

use std::path::{Path, PathBuf};

use cairn_core::catalog::{
    Batch, BatchOutcome, Catalog, ChunkFilter, ChunkId, Filters, FolderId, Generation, NewChunk,
    NewVersion, OcrBacklog,
};
use cairn_core::Error;

/// A fresh catalog in a temporary directory, with one registered folder `docs/`.
struct Fixture {
    _dir: tempfile::TempDir,
    catalog: Catalog,
    folder_path: PathBuf,
    folder: FolderId,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("temp dir");
    let catalog = Catalog::open(&dir.path().join("catalog.sqlite3")).expect("open catalog");
    let folder_path = dir.path().join("docs");
    let folder = catalog.add_folder(&folder_path).expect("add folder");
    Fixture {
        _dir: dir,
        catalog,
        folder_path,
        folder,
    }
}

impl Fixture {
    fn path(&self, name: &str) -> PathBuf {
        self.folder_path.join(name)
    }

    /// A new version of `name` whose content is its passages joined, one chunk a passage.
    fn version(&self, name: &str, passages: &[&str]) -> NewVersion {
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
                    heading_path: vec!["Intro".to_owned()],
                    text: (*text).to_owned(),
                    embed_hash: *blake3::hash(text.as_bytes()).as_bytes(),
                    mail: None,
                };
                start += text.len() + 1;
                chunk
            })
            .collect();
        NewVersion {
            path: self.path(name),
            folder: self.folder,
            content_hash: *blake3::hash(content.as_bytes()).as_bytes(),
            size: content.len() as u64,
            mtime: 1_700_000_000,
            stat_ns: None,
            kind: "markdown".to_owned(),
            title: Some(name.to_owned()),
            text_len: content.len(),
            page_count: None,
            chunks,
            ocr_pages: Vec::new(),
        }
    }

    fn apply(&mut self, batch: Batch) -> BatchOutcome {
        self.catalog.apply_batch(&batch).expect("apply batch")
    }

    /// Applies new versions; returns the ids of the chunks they added.
    fn apply_versions(&mut self, versions: Vec<NewVersion>) -> Vec<ChunkId> {
        self.apply(Batch {
            versions,
            ..Batch::default()
        })
        .added_chunks
    }

    fn generations(&self) -> (u64, u64) {
        (
            self.catalog.generation(Generation::Text).unwrap(),
            self.catalog.generation(Generation::Vector).unwrap(),
        )
    }

    /// The status of every version of `name`, oldest first.
    fn statuses(&self, name: &str) -> Vec<String> {
        let history = self.catalog.history(&self.path(name)).expect("history");
        history.into_iter().map(|v| v.status).collect()
    }
}

#[test]
fn a_new_file_gets_one_current_version() {
    let mut f = fixture();
    let outcome = f.apply(Batch {
        versions: vec![f.version("a.md", &["alpha one", "alpha two"])],
        ..Batch::default()
    });
    assert_eq!(outcome.versions, 1);
    assert_eq!(outcome.added_chunks.len(), 2);
    assert!(outcome.removed_chunks.is_empty());

    assert_eq!(f.statuses("a.md"), ["current"]);
    let known = f.catalog.known_docs(f.folder).unwrap();
    let doc = &known[&f.path("a.md")];
    assert_eq!(doc.seq, 1);
    assert_eq!(doc.size, "alpha one\nalpha two".len() as u64);

    let current = f.catalog.current_chunks(&outcome.added_chunks).unwrap();
    assert_eq!(current.len(), 2);
    let first = &current[&outcome.added_chunks[0]];
    assert_eq!(first.text, "alpha one");
    assert_eq!(first.status, "current");
    assert_eq!(first.path, f.path("a.md"));
    assert_eq!(first.heading_path, ["Intro"]);
    assert_eq!((first.start, first.end), (0, 9));

    let rows = f.catalog.documents().unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!((rows[0].version, rows[0].versions), (1, 1));
    assert_eq!(rows[0].status, "current");
    assert_eq!(rows[0].folder, f.folder_path);

    let stats = f.catalog.stats("model").unwrap();
    assert_eq!(
        (stats.folders, stats.documents, stats.current_documents),
        (1, 1, 1)
    );
    assert_eq!((stats.current_chunks, stats.embedded_chunks), (2, 0));
    assert_eq!(f.catalog.current_chunk_count().unwrap(), 2);
}

#[test]
fn an_edit_adds_a_version_and_supersedes_the_old_one() {
    let mut f = fixture();
    let old = f.apply_versions(vec![f.version("a.md", &["kept", "before"])]);
    let outcome = f.apply(Batch {
        versions: vec![f.version("a.md", &["kept", "after"])],
        ..Batch::default()
    });
    assert_eq!(outcome.versions, 1);
    assert_eq!(outcome.removed_chunks, old);
    assert_eq!(outcome.added_chunks.len(), 2);

    assert_eq!(f.statuses("a.md"), ["superseded", "current"]);
    let history = f.catalog.history(&f.path("a.md")).unwrap();
    assert!(history[0].retired_at.is_some());
    assert!(history[1].retired_at.is_none());
    // One passage kept, one replaced.
    assert_eq!((history[1].chunks_added, history[1].chunks_removed), (1, 1));
    assert_eq!(
        f.catalog.known_docs(f.folder).unwrap()[&f.path("a.md")].seq,
        2
    );

    // The old chunks are no longer current, but are still readable for history.
    assert!(f.catalog.current_chunks(&old).unwrap().is_empty());
    let records = f.catalog.chunk_records(&old).unwrap();
    assert!(records.values().all(|r| r.status == "superseded"));
    assert_eq!(f.catalog.current_chunk_count().unwrap(), 2);
    assert_eq!(
        f.catalog
            .integrity()
            .unwrap()
            .documents_with_two_current_versions,
        0
    );
    // Still one document.
    assert_eq!(f.catalog.documents().unwrap()[0].versions, 2);
}

#[test]
fn a_rename_moves_the_document_without_a_new_version() {
    let mut f = fixture();
    let chunks = f.apply_versions(vec![f.version("old.md", &["moving text"])]);
    let doc = f.catalog.document_id(&f.path("old.md")).unwrap();
    let before = f.generations();

    let outcome = f.apply(Batch {
        renames: vec![(f.path("old.md"), f.path("new.md"))],
        ..Batch::default()
    });
    assert_eq!((outcome.renamed, outcome.versions), (1, 0));
    assert!(outcome.added_chunks.is_empty() && outcome.removed_chunks.is_empty());

    assert!(!f.catalog.has_document(&f.path("old.md")).unwrap());
    assert!(f.catalog.has_document(&f.path("new.md")).unwrap());
    assert_eq!(f.catalog.document_id(&f.path("new.md")).unwrap(), doc);
    assert_eq!(f.statuses("new.md"), ["current"]);
    assert!(matches!(
        f.catalog.history(&f.path("old.md")),
        Err(Error::NotFound(_))
    ));
    let known = f.catalog.known_docs(f.folder).unwrap();
    assert_eq!(known.keys().collect::<Vec<_>>(), [&f.path("new.md")]);
    // The same chunks, now under the new path; the set of current chunks did not change.
    let current = f.catalog.current_chunks(&chunks).unwrap();
    assert_eq!(current[&chunks[0]].path, f.path("new.md"));
    assert_eq!(f.generations(), before);
}

#[test]
fn a_deletion_retires_the_version_and_its_chunks() {
    let mut f = fixture();
    let chunks = f.apply_versions(vec![
        f.version("gone.md", &["first", "second"]),
        f.version("stays.md", &["third"]),
    ]);
    let outcome = f.apply(Batch {
        deletions: vec![f.path("gone.md")],
        ..Batch::default()
    });
    assert_eq!(outcome.deleted, 1);
    assert_eq!(outcome.removed_chunks, chunks[..2]);

    assert_eq!(f.statuses("gone.md"), ["deleted"]);
    assert!(f.catalog.current_chunks(&chunks[..2]).unwrap().is_empty());
    assert_eq!(f.catalog.current_chunks(&chunks).unwrap().len(), 1);
    let records = f.catalog.chunk_records(&chunks[..2]).unwrap();
    assert!(records.values().all(|r| r.status == "deleted"));
    let known = f.catalog.known_docs(f.folder).unwrap();
    assert_eq!(known.keys().collect::<Vec<_>>(), [&f.path("stays.md")]);
    let rows = f.catalog.documents().unwrap();
    let statuses: Vec<(&Path, &str)> = rows
        .iter()
        .map(|r| (r.path.as_path(), r.status.as_str()))
        .collect();
    assert_eq!(
        statuses,
        [
            (f.path("gone.md").as_path(), "deleted"),
            (f.path("stays.md").as_path(), "current")
        ]
    );
    // History is kept: the document still exists.
    assert!(f.catalog.has_document(&f.path("gone.md")).unwrap());
}

#[test]
fn generations_advance_on_each_batch_that_changes_current_chunks() {
    let mut f = fixture();
    assert_eq!(f.generations(), (0, 0));
    f.apply_versions(vec![f.version("a.md", &["one"])]);
    assert_eq!(f.generations(), (1, 1));
    f.apply_versions(vec![f.version("a.md", &["two"])]);
    assert_eq!(f.generations(), (2, 2));
    f.apply(Batch {
        deletions: vec![f.path("a.md")],
        ..Batch::default()
    });
    assert_eq!(f.generations(), (3, 3));

    // A batch of problems only changes no chunk.
    f.apply(Batch {
        problems: vec![(f.path("bad.pdf"), f.folder, "broken".to_owned())],
        ..Batch::default()
    });
    assert_eq!(f.generations(), (3, 3));

    // Stored vectors move only the vector generation.
    f.apply_versions(vec![f.version("b.md", &["three"])]);
    assert_eq!(f.generations(), (4, 4));
    let pending = f.catalog.pending_chunks("model", 10).unwrap();
    f.catalog
        .store_vectors("model", &[(pending[0].embed_hash.clone(), vec![0.5, -1.0])])
        .unwrap();
    assert_eq!(f.generations(), (4, 5));

    // Removing the folder retires everything under it.
    f.catalog.remove_folder(&f.folder_path).unwrap();
    assert_eq!(f.generations(), (5, 6));
}

#[test]
fn problems_are_recorded_and_cleared_when_the_file_is_indexed() {
    let mut f = fixture();
    f.apply(Batch {
        problems: vec![(f.path("a.md"), f.folder, "cannot read".to_owned())],
        ..Batch::default()
    });
    let problems = f.catalog.problems().unwrap();
    assert_eq!(problems.len(), 1);
    assert_eq!(
        (problems[0].path.as_path(), problems[0].reason.as_str()),
        (f.path("a.md").as_path(), "cannot read")
    );
    assert_eq!(f.catalog.problem_paths(f.folder).unwrap(), [f.path("a.md")]);

    f.apply_versions(vec![f.version("a.md", &["readable now"])]);
    assert!(f.catalog.problems().unwrap().is_empty());
}

#[test]
fn vectors_are_cached_by_embedded_text() {
    let mut f = fixture();
    let first = f.apply_versions(vec![f.version("a.md", &["same", "other"])]);
    let pending = f.catalog.pending_chunks("model", 10).unwrap();
    assert_eq!(pending.len(), 2);
    let vectors: Vec<(Vec<u8>, Vec<f32>)> = pending
        .iter()
        .map(|p| (p.embed_hash.clone(), vec![p.text.len() as f32, 1.0]))
        .collect();
    let ready = f.catalog.store_vectors("model", &vectors).unwrap();
    assert_eq!(ready.len(), 2);
    assert!(f.catalog.pending_chunks("model", 10).unwrap().is_empty());
    assert_eq!(f.catalog.stats("model").unwrap().embedded_chunks, 2);
    assert_eq!(f.catalog.stats("another").unwrap().embedded_chunks, 0);

    // An edit keeps one passage: its new chunk reuses the cached vector.
    let second = f.apply_versions(vec![f.version("a.md", &["same", "changed"])]);
    assert_ne!(first[0], second[0]);
    let cached = f.catalog.cached_vectors("model", &second).unwrap();
    assert_eq!(cached, [(second[0], vec![4.0, 1.0])]);
    let pending = f.catalog.pending_chunks("model", 10).unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].text, "changed");

    let mut all = Vec::new();
    f.catalog
        .for_each_current_vector("model", |id, v| {
            all.push((id, v));
            Ok(())
        })
        .unwrap();
    assert_eq!(all, [(second[0], vec![4.0, 1.0])]);
}

#[test]
fn deprecation_marks_documents_folders_and_patterns() {
    let mut f = fixture();
    let chunks = f.apply_versions(vec![
        f.version("old.md", &["outdated"]),
        f.version("new.md", &["fresh"]),
        f.version("archive/x.md", &["archived"]),
    ]);
    let (old, new) = (f.path("old.md"), f.path("new.md"));
    f.catalog
        .deprecate(
            &old.to_string_lossy(),
            false,
            "replaced",
            Some(&new.to_string_lossy()),
        )
        .unwrap();
    f.catalog
        .deprecate("**/archive/**", true, "archived", None)
        .unwrap();

    let deprecations = f.catalog.deprecations().unwrap();
    assert_eq!(deprecations.len(), 2);
    let marks = f.catalog.marks().unwrap();
    assert!(marks.has_deprecations());
    let d = marks.deprecation(&old).expect("old.md is deprecated");
    assert_eq!(d.reason, "replaced");
    assert_eq!(d.superseded_by.as_deref(), Some(&*new.to_string_lossy()));
    assert!(marks.deprecation(&new).is_none());
    assert_eq!(
        marks.deprecation(&f.path("archive/x.md")).unwrap().reason,
        "archived"
    );

    // Search leaves deprecated documents out unless asked to include them.
    let filter = f.catalog.chunk_filter(&Filters::default(), &marks).unwrap();
    assert!(!filter.admits(chunks[0]) && filter.admits(chunks[1]) && !filter.admits(chunks[2]));
    let all = Filters {
        include_deprecated: true,
        ..Filters::default()
    };
    assert!(matches!(
        f.catalog.chunk_filter(&all, &marks).unwrap(),
        ChunkFilter::All
    ));

    // A deprecated folder covers what is under it; the most specific explicit mark wins.
    let folder = f.folder_path.to_string_lossy().into_owned();
    f.catalog
        .deprecate(&folder, false, "whole folder", None)
        .unwrap();
    let marks = f.catalog.marks().unwrap();
    assert_eq!(marks.deprecation(&new).unwrap().reason, "whole folder");
    assert_eq!(marks.deprecation(&old).unwrap().reason, "replaced");

    assert!(f.catalog.undeprecate(&folder).unwrap());
    assert!(!f.catalog.undeprecate(&folder).unwrap());
    assert!(f.catalog.undeprecate(&old.to_string_lossy()).unwrap());
    assert!(f.catalog.undeprecate("**/archive/**").unwrap());
    assert!(f.catalog.deprecations().unwrap().is_empty());
    assert!(!f.catalog.marks().unwrap().has_deprecations());
}

#[test]
fn tags_apply_to_documents_and_through_their_folders() {
    let mut f = fixture();
    let chunks = f.apply_versions(vec![
        f.version("a.md", &["tagged"]),
        f.version("sub/b.md", &["untagged"]),
    ]);
    let (a, b) = (f.path("a.md"), f.path("sub/b.md"));
    f.catalog.tag(&f.folder_path, &["team".to_owned()]).unwrap();
    f.catalog
        .tag(&a, &["draft".to_owned(), "q3".to_owned()])
        .unwrap();
    // Tagging twice is idempotent.
    f.catalog.tag(&a, &["q3".to_owned()]).unwrap();
    assert_eq!(
        f.catalog.tags().unwrap(),
        [
            (f.folder_path.clone(), "team".to_owned()),
            (a.clone(), "draft".to_owned()),
            (a.clone(), "q3".to_owned()),
        ]
    );

    let marks = f.catalog.marks().unwrap();
    let mut of_a = marks.tags_of(&a);
    of_a.sort_unstable();
    assert_eq!(of_a, ["draft", "q3", "team"]);
    assert_eq!(marks.tags_of(&b), ["team"]);

    let drafts = Filters {
        tags: vec!["draft".to_owned()],
        ..Filters::default()
    };
    let filter = f.catalog.chunk_filter(&drafts, &marks).unwrap();
    assert!(filter.admits(chunks[0]) && !filter.admits(chunks[1]));

    assert_eq!(f.catalog.untag(&a, &["q3".to_owned()]).unwrap(), 1);
    assert_eq!(f.catalog.untag(&a, &["q3".to_owned()]).unwrap(), 0);
    assert_eq!(f.catalog.untag(&a, &[]).unwrap(), 1);
    assert_eq!(
        f.catalog.tags().unwrap(),
        [(f.folder_path.clone(), "team".to_owned())]
    );
}

#[test]
fn removing_a_folder_keeps_history_and_re_adding_adopts_it() {
    let mut f = fixture();
    f.apply_versions(vec![f.version("a.md", &["kept"])]);
    assert_eq!(f.catalog.remove_folder(&f.folder_path).unwrap(), 1);
    assert!(f.catalog.folders().unwrap().is_empty());
    assert_eq!(f.statuses("a.md"), ["deleted"]);
    assert!(matches!(
        f.catalog.remove_folder(&f.folder_path),
        Err(Error::NotFound(_))
    ));

    let again = f.catalog.add_folder(&f.folder_path).unwrap();
    assert_ne!(again, f.folder);
    assert_eq!(f.catalog.folders().unwrap()[0].path, f.folder_path);
    // The document belongs to the folder again (its history with it); no version is current
    // until the next reconcile indexes the file.
    let rows = f.catalog.documents().unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].status, "deleted");
    assert!(f.catalog.known_docs(again).unwrap().is_empty());
}

#[test]
fn reopening_keeps_everything_and_meta() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("catalog.sqlite3");
    {
        let catalog = Catalog::open(&path).unwrap();
        catalog.add_folder(&dir.path().join("docs")).unwrap();
        catalog.set_meta("embedding_model", "m1").unwrap();
    }
    let catalog = Catalog::open(&path).unwrap();
    assert_eq!(catalog.path(), path);
    assert_eq!(catalog.folders().unwrap().len(), 1);
    assert_eq!(catalog.index_model().unwrap().as_deref(), Some("m1"));
    assert_eq!(catalog.meta("missing").unwrap(), None);
    let integrity = catalog.integrity().unwrap();
    assert!(integrity.sqlite_ok, "{}", integrity.sqlite_message);
}

#[test]
fn typed_ids_print_and_serialize_as_their_integer() {
    let id = ChunkId(42);
    assert_eq!(id.to_string(), "42");
    assert_eq!(serde_json::to_string(&id).unwrap(), "42");
    assert_eq!(ChunkId::from_key(id.key()), id);
    let session = cairn_core::audit::SessionId(7);
    assert_eq!(session.to_string(), "7");
    assert_eq!(
        serde_json::from_str::<cairn_core::audit::SessionId>("7").unwrap(),
        session
    );
}

/// The OCR backlog: pages listed with a version wait until `add_recognised` appends their
/// passages to that version (spans after its text, page kept, generations bumped); done work
/// is not done twice; a new version drops the old one's work, which then adds nothing.
#[test]
fn ocr_work_joins_its_version_and_leaves_with_it() {
    let mut f = fixture();
    let mut v = f.version("scan.pdf", &["page one text"]);
    v.ocr_pages = vec![2, 3];
    f.apply_versions(vec![v]);
    let work = f.catalog.ocr_work().unwrap();
    assert_eq!(work.iter().map(|w| w.page).collect::<Vec<_>>(), [2, 3]);
    assert_eq!(work[0].path, f.path("scan.pdf"));
    assert_eq!(
        f.catalog.ocr_backlog().unwrap(),
        OcrBacklog {
            pages: 2,
            documents: 1
        }
    );
    let before = f.generations();
    let chunk = NewChunk {
        ordinal: 0,
        start: 0,
        end: 7,
        page: Some(2),
        heading_path: vec!["recognised text (OCR)".to_owned()],
        text: "puffins".to_owned(),
        embed_hash: *blake3::hash(b"puffins").as_bytes(),
        mail: None,
    };
    let added = f
        .catalog
        .add_recognised(&work[0], std::slice::from_ref(&chunk), 7)
        .unwrap();
    assert_eq!(added.len(), 1);
    let after = f.generations();
    assert!(after.0 > before.0 && after.1 > before.1);
    let rec = &f.catalog.current_chunks(&added).unwrap()[&added[0]];
    let len = "page one text".len();
    assert_eq!((rec.start, rec.end, rec.page), (len + 2, len + 9, Some(2)));
    assert_eq!(rec.text, "puffins");
    assert!(f
        .catalog
        .add_recognised(&work[0], std::slice::from_ref(&chunk), 7)
        .unwrap()
        .is_empty());
    assert_eq!(f.catalog.ocr_backlog().unwrap().pages, 1);
    assert!(f.catalog.integrity().unwrap().sqlite_ok);

    f.apply_versions(vec![f.version("scan.pdf", &["page one changed"])]);
    assert_eq!(f.catalog.ocr_backlog().unwrap(), OcrBacklog::default());
    assert!(f.catalog.ocr_work().unwrap().is_empty());
    assert!(f
        .catalog
        .add_recognised(&work[1], &[chunk], 7)
        .unwrap()
        .is_empty());
    assert!(f.catalog.current_chunks(&added).unwrap().is_empty());
}
