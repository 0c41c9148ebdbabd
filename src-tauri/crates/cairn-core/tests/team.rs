//! Team libraries on a real PostgreSQL (`support/pg.rs`): one writer at a time (the advisory
//! lock), readers that see new documents without reopening, and access control enforced by
//! the database (row-level security by collection), tried across by a client that asks for
//! another collection's passages by id, by vector and in raw SQL.

use std::path::Path;

use cairn_core::catalog::{Batch, ChunkFilter, ChunkId, FolderId, NewChunk, NewVersion};
use cairn_core::store::postgres::{self, Target};
use cairn_core::store::{CatalogStore, KeywordRetriever, VectorRetriever};
use cairn_core::Error;

mod support {
    pub mod pg;
}

const MODEL: &str = "team-model";
const DIM: usize = 3;

fn vector_of(text: &str) -> Vec<f32> {
    let v = [
        text.matches('a').count() as f32 + 1.0,
        text.matches('e').count() as f32 + 1.0,
        text.len() as f32,
    ];
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.iter().map(|x| x / n).collect()
}

fn version(folder: FolderId, dir: &Path, name: &str, text: &str) -> NewVersion {
    NewVersion {
        path: dir.join(name),
        folder,
        content_hash: *blake3::hash(text.as_bytes()).as_bytes(),
        size: text.len() as u64,
        mtime: 1_700_000_000,
        stat_ns: None,
        kind: "text".into(),
        title: Some(name.into()),
        text_len: text.len(),
        page_count: None,
        chunks: vec![NewChunk {
            ordinal: 0,
            start: 0,
            end: text.len(),
            page: None,
            heading_path: vec![],
            text: text.into(),
            embed_hash: *blake3::hash(text.as_bytes()).as_bytes(),
            mail: None,
        }],
        ocr_pages: Vec::new(),
    }
}

struct Writer {
    catalog: Box<dyn CatalogStore>,
    text: Box<dyn KeywordRetriever>,
    vectors: Box<dyn VectorRetriever>,
}

impl Writer {
    fn open(target: &Target) -> cairn_core::Result<Writer> {
        let postgres::Opened { catalog, text } = postgres::open(target, true)?;
        let vectors = postgres::open_vectors(target, MODEL, DIM, true)?;
        Ok(Writer {
            catalog,
            text,
            vectors,
        })
    }

    /// Applies new versions and embeds them, as the engine's writer does.
    fn index(&mut self, versions: Vec<NewVersion>) -> Vec<ChunkId> {
        let out = self
            .catalog
            .apply_batch(&Batch {
                versions,
                ..Batch::default()
            })
            .unwrap();
        for id in &out.removed_chunks {
            self.vectors.remove(*id).unwrap();
        }
        let rows: Vec<(Vec<u8>, Vec<f32>)> = self
            .catalog
            .pending_chunks(MODEL, 100)
            .unwrap()
            .into_iter()
            .map(|c| (c.embed_hash, vector_of(&c.text)))
            .collect();
        for (id, v) in self.catalog.store_vectors(MODEL, &rows).unwrap() {
            self.vectors.add(id, &v).unwrap();
        }
        let g = |w: &Writer, which| w.catalog.generation(which).unwrap();
        let (t, v) = (
            g(self, cairn_core::catalog::Generation::Text),
            g(self, cairn_core::catalog::Generation::Vector),
        );
        self.text.commit(t).unwrap();
        self.vectors.commit(v).unwrap();
        out.added_chunks
    }
}

struct Reader {
    catalog: Box<dyn CatalogStore>,
    text: Box<dyn KeywordRetriever>,
    vectors: Box<dyn VectorRetriever>,
}

fn reader(target: &Target) -> Reader {
    let postgres::Opened { catalog, text } = postgres::open(target, false).expect("reader");
    let vectors = postgres::open_vectors(target, MODEL, DIM, false).unwrap();
    Reader {
        catalog,
        text,
        vectors,
    }
}

impl Reader {
    /// What a search shows: hits re-checked against the catalog.
    fn keyword(&self, q: &str) -> Vec<String> {
        let ids: Vec<ChunkId> = self
            .text
            .search(q, 10, &ChunkFilter::All)
            .unwrap()
            .iter()
            .map(|h| h.chunk)
            .collect();
        let recs = self.catalog.current_chunks(&ids).unwrap();
        ids.iter()
            .filter_map(|i| recs.get(i))
            .map(|r| r.text.clone())
            .collect()
    }

    fn dense_ids(&self, text: &str) -> Vec<ChunkId> {
        self.vectors
            .search(&vector_of(text), 10, &ChunkFilter::All)
            .unwrap()
            .iter()
            .map(|h| h.chunk)
            .collect()
    }
}

fn target(db: &support::pg::TestDb, user: &str, password: &str) -> Target {
    Target::parse(&db.url_as(user))
        .unwrap()
        .with_password(password)
}

#[test]
fn one_writer_at_a_time_and_readers_see_commits_without_reopening() {
    let db = support::pg::server().database();
    let owner = target(&db, &db.owner, &db.password);
    let docs = tempfile::tempdir().unwrap();
    let mut w = Writer::open(&owner).unwrap();
    let second = Writer::open(&owner);
    assert!(
        matches!(&second, Err(Error::Locked(p)) if p.to_string_lossy().contains(&db.name)),
        "a second writer is refused while the first holds the lock"
    );
    let r = reader(&owner);
    let folder = w.catalog.add_folder(docs.path()).unwrap();
    w.index(vec![version(
        folder,
        docs.path(),
        "a.txt",
        "the harbour opens at dawn",
    )]);
    assert_eq!(r.keyword("harbour"), ["the harbour opens at dawn"]);
    w.index(vec![version(
        folder,
        docs.path(),
        "a.txt",
        "the harbour opens at noon",
    )]);
    assert_eq!(
        r.keyword("harbour"),
        ["the harbour opens at noon"],
        "no reopen"
    );
    assert_eq!(r.dense_ids("the harbour opens at noon").len(), 1);
    let integrity = r.catalog.integrity().unwrap();
    assert!(integrity.sqlite_ok, "{}", integrity.sqlite_message);
    assert_eq!(integrity.documents_with_two_current_versions, 0);
    drop(w);
    let mut w = Writer::open(&owner).expect("the lock is released with the writer");
    w.index(vec![version(
        folder,
        docs.path(),
        "b.txt",
        "a second harbour",
    )]);
    assert_eq!(r.keyword("harbour").len(), 2);
}

#[test]
fn row_level_security_keeps_each_role_to_its_collections() {
    let server = support::pg::server();
    let db = server.database();
    let owner = target(&db, &db.owner, &db.password);
    let n = &db.name;
    let (alice, bob, carol) = (
        format!("alice_{n}"),
        format!("bob_{n}"),
        format!("carol_{n}"),
    );
    for who in [&alice, &bob, &carol] {
        server.role(who, "pw");
    }
    let docs = tempfile::tempdir().unwrap();
    let (hr, eng) = (docs.path().join("hr"), docs.path().join("eng"));
    let mut w = Writer::open(&owner).unwrap();
    let f_hr = w.catalog.add_folder(&hr).unwrap();
    let f_eng = w.catalog.add_folder(&eng).unwrap();
    let secret = "salary bands for the harbour staff";
    let hr_ids = w.index(vec![version(f_hr, &hr, "pay.txt", secret)]);
    w.index(vec![version(
        f_eng,
        &eng,
        "build.txt",
        "the harbour crane manual",
    )]);

    // The administrator's set-up (docs/team.md): collections, reader roles, a reviewer.
    let key = |p: &Path| p.to_string_lossy().into_owned();
    db.admin(&format!(
        "SELECT cairn_set_collection('{}', 'hr'); SELECT cairn_set_collection('{}', 'eng');
         CREATE ROLE hr_{n} NOLOGIN; CREATE ROLE eng_{n} NOLOGIN; CREATE ROLE review_{n} NOLOGIN;
         INSERT INTO collections VALUES ('hr', 'hr_{n}'), ('eng', 'eng_{n}');
         GRANT hr_{n} TO {alice}; GRANT eng_{n} TO {alice}; GRANT eng_{n} TO {bob};
         GRANT review_{n} TO {carol};
         INSERT INTO meta VALUES ('reviewer_role', 'review_{n}');
         SELECT cairn_grant_reader('{alice}'); SELECT cairn_grant_reader('{bob}');
         SELECT cairn_grant_reader('{carol}');",
        key(&hr),
        key(&eng)
    ));

    let a = reader(&target(&db, &alice, "pw"));
    let b = reader(&target(&db, &bob, "pw"));
    assert_eq!(a.keyword("salary"), [secret]);
    assert_eq!(a.keyword("harbour").len(), 2);
    // Bob reads across: by words, by id, by vector, by path, in raw SQL.
    assert!(b.keyword("salary").is_empty());
    assert_eq!(b.keyword("harbour"), ["the harbour crane manual"]);
    assert!(b.catalog.current_chunks(&hr_ids).unwrap().is_empty());
    assert!(b.catalog.chunk_records(&hr_ids).unwrap().is_empty());
    assert!(b.catalog.neighbours(hr_ids[0]).unwrap() == (None, None));
    assert!(!b.dense_ids(secret).contains(&hr_ids[0]));
    assert!(a.dense_ids(secret).contains(&hr_ids[0]));
    assert_eq!(b.catalog.documents().unwrap().len(), 1);
    assert!(matches!(
        b.catalog.history(&hr.join("pay.txt")),
        Err(Error::NotFound(_))
    ));
    let raw = |sql: &str| {
        let url = format!("{}&password=pw", db.url_as(&bob));
        let mut c = ::postgres::Client::connect(&url, ::postgres::NoTls).unwrap();
        c.batch_execute(sql).map_err(|e| e.to_string())
    };
    let mut c = ::postgres::Client::connect(
        &format!("{}&password=pw", db.url_as(&bob)),
        ::postgres::NoTls,
    )
    .unwrap();
    let visible: i64 = c
        .query_one(
            "SELECT count(*) FROM chunks WHERE text LIKE '%salary%'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(visible, 0);
    assert!(raw("SET row_security = off; SELECT text FROM chunks").is_err());
    assert!(raw("UPDATE collections SET reader_role = current_user").is_err());
    assert!(raw("INSERT INTO collections VALUES ('hr', current_user)").is_err());
    assert!(raw("DELETE FROM chunks").is_err());

    // Audit: each user sees their own questions, the reviewer every one.
    let ask = |who: &str, question: &str| {
        let mut c = ::postgres::Client::connect(
            &format!("{}&password=pw", db.url_as(who)),
            ::postgres::NoTls,
        )
        .unwrap();
        c.execute(
            "INSERT INTO audit(at, question, rewritten_query, mode, abstained, template_version,
                               answer, record) VALUES (1, $1, $1, 'extractive', false, 't', '', '{}')",
            &[&question],
        )
        .unwrap();
    };
    ask(&alice, "what are the salary bands?");
    ask(&bob, "how does the crane work?");
    let listed = |r: &Reader| -> Vec<String> {
        r.catalog
            .audit_list(10)
            .unwrap()
            .into_iter()
            .map(|s| s.question)
            .collect()
    };
    assert_eq!(listed(&a), ["what are the salary bands?"]);
    assert_eq!(listed(&b), ["how does the crane work?"]);
    let reviewer = reader(&target(&db, &carol, "pw"));
    assert_eq!(listed(&reviewer).len(), 2);
    let who: Vec<String> = c
        .query("SELECT db_user FROM audit", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(who, [bob.as_str()]);
}
