//! The app's "Connect to a team library", against a real PostgreSQL with pgvector
//! (cairn-core's `tests/support/pg.rs`): "Test connection" names what is wrong (password,
//! server, no library yet, no collection), "Connect" switches the running library to the team
//! library (search sees the team's passages of the reader's collections only; indexing is not
//! this app's), the password never reaches config.toml, and the app goes back to the personal
//! library.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use cairn_core::config::Config;
use cairn_core::engine::Writer;
use cairn_core::stop::StopToken;
use cairn_core::store::postgres::Target;
use cairn_library::{Library, LibraryOptions, SearchQuery, TeamForm, TeamInput};

#[path = "../../cairn-core/tests/support/pg.rs"]
mod pg;

fn form(url_db: &pg::TestDb, user: &str) -> TeamForm {
    TeamForm {
        host: "127.0.0.1".into(),
        port: pg::server().port,
        database: url_db.name.clone(),
        user: user.into(),
        ssl_mode: "disable".into(),
        ca_file: String::new(),
        cert_file: String::new(),
        key_file: String::new(),
    }
}

fn input(form: TeamForm, password: &str) -> TeamInput {
    TeamInput {
        form,
        password: password.into(),
        remember: true,
    }
}

/// The team's indexer: the owner role adds both folders and indexes them (keyword phase).
fn index_as_owner(db: &pg::TestDb, folders: &[&Path]) -> Vec<PathBuf> {
    Target::parse(&db.url())
        .unwrap()
        .remember_password(&db.password, false);
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        library: db.url(),
        ..Config::default()
    };
    let mut w = Writer::open(dir.path(), config).unwrap();
    let added = folders.iter().map(|f| w.add_folder(f).unwrap()).collect();
    w.index_text(&mut |_| {}, &StopToken::new()).unwrap();
    added
}

fn open(data: &Path) -> Library {
    let mut options = LibraryOptions::new(data);
    options.embed = false;
    wait_ready(Library::open(options, |_| {}))
}

fn wait_ready(lib: Library) -> Library {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !lib.info().ready {
        assert!(lib.info().error.is_none(), "{:?}", lib.info().error);
        assert!(Instant::now() < deadline, "the library did not open");
        std::thread::sleep(Duration::from_millis(50));
    }
    lib
}

fn found(lib: &Library, query: &str) -> Vec<String> {
    let q = SearchQuery {
        query: query.into(),
        mode: Some("keyword".into()),
        ..SearchQuery::default()
    };
    lib.search(&q)
        .unwrap()
        .items
        .into_iter()
        .map(|i| i.path)
        .collect()
}

#[test]
fn the_app_connects_to_a_team_library_and_back() {
    // No Secret Service on a test machine: "remember" falls back to this run's memory.
    std::env::set_var("CAIRN_NO_KEYCHAIN", "1");
    std::env::remove_var("PGPASSWORD");
    let server = pg::server();
    let db = server.database();
    let tmp = tempfile::tempdir().unwrap();
    let (hr, eng) = (tmp.path().join("hr"), tmp.path().join("eng"));
    std::fs::create_dir_all(&hr).unwrap();
    std::fs::create_dir_all(&eng).unwrap();
    std::fs::write(
        hr.join("leave.md"),
        "# Leave\n\nParental leave lasts sixteen weeks at full pay.\n",
    )
    .unwrap();
    std::fs::write(
        eng.join("deploy.md"),
        "# Deploys\n\nProduction deploys need two approvals and a parental rollback plan.\n",
    )
    .unwrap();
    let added = index_as_owner(&db, &[&hr, &eng]);

    // The administrator: hr to the hr collection, alice reads it; bob reads nothing.
    let pid = std::process::id();
    let (alice, bob) = (format!("alice_{pid}"), format!("bob_{pid}"));
    server.role(&alice, "alice-pw");
    server.role(&bob, "bob-pw");
    db.admin(&format!(
        "SELECT cairn_set_collection('{}', 'hr');
         CREATE ROLE hr_readers_{pid} NOLOGIN;
         INSERT INTO collections(name, reader_role) VALUES ('hr', 'hr_readers_{pid}');
         GRANT hr_readers_{pid} TO {alice};
         SELECT cairn_grant_reader('{alice}'); SELECT cairn_grant_reader('{bob}');",
        added[0].display()
    ));

    let data = tmp.path().join("app");
    let lib = open(&data);
    assert_eq!(lib.info().team, None);

    // Test connection: each failure by its kind, the password never in the message.
    let wrong = cairn_library::test_team(&input(form(&db, &alice), "not-it")).unwrap_err();
    assert_eq!(wrong.kind, "team_auth", "{wrong:?}");
    assert!(wrong.hint.contains("password"), "{wrong:?}");
    assert!(!wrong.message.contains("not-it"), "{wrong:?}");
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut down = form(&db, &alice);
    down.port = closed.local_addr().unwrap().port();
    drop(closed);
    let down = cairn_library::test_team(&input(down, "alice-pw")).unwrap_err();
    assert_eq!(down.kind, "team_unreachable", "{down:?}");
    let mut tls = form(&db, &alice);
    tls.ssl_mode = "require".into();
    let tls = cairn_library::test_team(&input(tls, "alice-pw")).unwrap_err();
    assert_eq!(tls.kind, "team_tls", "{tls:?}");
    let mut blank = form(&db, &alice);
    blank.database.clear();
    let blank = cairn_library::test_team(&input(blank, "")).unwrap_err();
    assert_eq!(blank.kind, "team_form", "{blank:?}");

    let ok = cairn_library::test_team(&input(form(&db, &alice), "alice-pw")).unwrap();
    assert_eq!(ok.status, "ready", "{ok:?}");
    assert_eq!(ok.collections, vec!["hr".to_owned()]);
    assert!(!ok.owner && !ok.reviewer);
    assert_eq!(ok.passages, 1);
    let none = cairn_library::test_team(&input(form(&db, &bob), "bob-pw")).unwrap();
    assert_eq!(none.status, "no_collection", "{none:?}");
    let refused = lib
        .connect_team(&input(form(&db, &bob), "bob-pw"))
        .err()
        .expect("no collection, no connection");
    assert_eq!(refused.kind, "team_no_collection");
    assert_eq!(lib.info().team, None, "the running library is untouched");

    // An empty database: not a library yet, and its owner may create one.
    let empty = server.database();
    let fresh = input(form(&empty, &empty.owner), &empty.password);
    let check = cairn_library::test_team(&fresh).unwrap();
    assert_eq!(
        (check.status.as_str(), check.may_create),
        ("not_a_library", true)
    );
    let created = cairn_library::create_team(&fresh).unwrap();
    assert_eq!(created.status, "ready", "{created:?}");
    assert!(created.owner);

    // Connect as alice: the app now reads the team library, hr only.
    let (team, connected) = lib
        .connect_team(&input(form(&db, &alice), "alice-pw"))
        .unwrap();
    assert_eq!(connected.password_kept, "session");
    assert!(connected.keychain_error.is_some());
    let team = wait_ready(team);
    let info = team.info();
    let server_name = format!("{alice}@127.0.0.1:{}/{}", server.port, db.name);
    assert_eq!(info.team.as_deref(), Some(server_name.as_str()));
    assert!(!info.writable);
    assert!(info.read_only_reason.unwrap().contains("cairn watch"));
    assert_eq!(info.documents, 1);
    let hits = found(&team, "parental");
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert!(hits[0].ends_with("leave.md"), "{hits:?}");
    let write = team.add_folders(vec![tmp.path().to_owned()]).unwrap_err();
    assert_eq!(write.kind, "team_read_only");
    let config = std::fs::read_to_string(data.join("config.toml")).unwrap();
    assert!(config.contains(&format!("{alice}@127.0.0.1")), "{config}");
    assert!(!config.contains("alice-pw"), "{config}");
    assert_eq!(team.team_form(), Some(form(&db, &alice)));

    // Back to the personal library: the team's passages are gone from search.
    let personal = wait_ready(team.use_personal(true).unwrap());
    assert_eq!(personal.info().team, None);
    assert!(personal.info().writable);
    assert!(found(&personal, "parental").is_empty());
    let config = std::fs::read_to_string(data.join("config.toml")).unwrap();
    assert!(!config.contains("postgres://"), "{config}");
    // The password was forgotten: connecting again without it fails by its kind.
    let again = personal
        .connect_team(&input(form(&db, &alice), ""))
        .err()
        .expect("no password known");
    assert_eq!(again.kind, "team_auth", "{again:?}");
    personal.shutdown();
}
