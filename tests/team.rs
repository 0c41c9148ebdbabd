//! Team libraries, black-box: the `cairn` binary against a real PostgreSQL with pgvector
//! (started by `src-tauri/crates/cairn-core/tests/support/pg.rs`), with the real embedding
//! model. Two processes with two different local data directories share one library by URL.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

#[path = "../src-tauri/crates/cairn-core/tests/support/pg.rs"]
mod pg;

/// `cairn` on the team library `url`, with `password` in PGPASSWORD (never the keychain).
fn team(data: &Path, url: &str, password: &str, args: &[&str]) -> Output {
    Command::new(cairn_tests::cairn_bin())
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .env("CAIRN_LIBRARY", url)
        .env("PGPASSWORD", password)
        .env("CAIRN_NO_KEYCHAIN", "1")
        .env_remove("CAIRN_CONFIG")
        .output()
        .expect("cairn runs")
}

fn ok(out: Output, what: &str) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{what} failed:\nstdout:\n{stdout}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn search(data: &Path, url: &str, password: &str, mode: &str, query: &str) -> Vec<Value> {
    let out = ok(
        team(
            data,
            url,
            password,
            &["search", "--json", "--mode", mode, query],
        ),
        "search",
    );
    let v: Value = serde_json::from_str(&out).expect("search --json prints JSON");
    v["results"].as_array().cloned().unwrap_or_default()
}

fn texts(results: &[Value]) -> String {
    results
        .iter()
        .map(|r| r["snippet"].as_str().unwrap_or_default().to_owned())
        .collect::<Vec<_>>()
        .join(" | ")
}

#[test]
fn a_team_library_is_indexed_by_one_process_and_searched_by_another() {
    let db = pg::server().database();
    let tmp = tempfile::tempdir().unwrap();
    let docs = tmp.path().join("shared");
    std::fs::create_dir_all(&docs).unwrap();
    std::fs::write(
        docs.join("refunds.md"),
        "# Refunds\n\nCustomers may return goods within fourteen days of delivery for a full refund.\n",
    )
    .unwrap();
    std::fs::write(
        docs.join("travel.md"),
        "# Travel\n\nThe daily meal allowance abroad is forty euros.\n",
    )
    .unwrap();
    let (indexer, reader) = (tmp.path().join("indexer"), tmp.path().join("reader"));
    let url = db.url();
    let pw = db.password.as_str();

    ok(
        team(&indexer, &url, pw, &["add", docs.to_str().unwrap()]),
        "add",
    );
    ok(team(&indexer, &url, pw, &["index"]), "index");

    // A second process, another local data directory: same library.
    for mode in ["bm25", "dense", "hybrid"] {
        let r = search(
            &reader,
            &url,
            pw,
            mode,
            "how long do customers have to return goods",
        );
        assert!(
            r[0]["path"].as_str().unwrap().ends_with("refunds.md"),
            "{mode}: {r:?}"
        );
        assert!(texts(&r[..1]).contains("fourteen days"), "{mode}: {r:?}");
    }
    assert!(!reader.join("catalog.sqlite3").exists(), "nothing local");

    // A change: the new version is found, the old text never again.
    std::fs::write(
        docs.join("refunds.md"),
        "# Refunds\n\nCustomers may return goods within thirty days of delivery for a full refund.\n",
    )
    .unwrap();
    ok(
        team(&indexer, &url, pw, &["index"]),
        "index after the change",
    );
    for mode in ["bm25", "dense", "hybrid"] {
        let r = search(&reader, &url, pw, mode, "fourteen days return goods");
        assert!(!texts(&r).contains("fourteen"), "{mode}: stale text {r:?}");
        assert!(texts(&r).contains("thirty days"), "{mode}: {r:?}");
        let top = r
            .iter()
            .find(|h| h["path"].as_str().unwrap().ends_with("refunds.md"))
            .unwrap();
        assert_eq!(top["version"], 2, "{mode}: {top}");
    }
    let status = ok(team(&reader, &url, pw, &["status", "--json"]), "status");
    let status: Value = serde_json::from_str(&status).unwrap();
    assert_eq!(status["stats"]["current_documents"], 2, "{status}");
    assert_eq!(status["embed_backlog"], 0, "{status}");
}

#[test]
fn failures_name_the_server_and_say_what_to_do() {
    let db = pg::server().database();
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let port = pg::server().port;

    let wrong = team(&data, &db.url(), "not-the-password", &["status"]);
    let err = String::from_utf8_lossy(&wrong.stderr);
    assert_eq!(wrong.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!("{}@127.0.0.1:{port}/{}", db.owner, db.name)),
        "{err}"
    );
    assert!(err.contains("PGPASSWORD"), "{err}");
    assert!(!err.contains("not-the-password"), "{err}");

    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_port = closed.local_addr().unwrap().port();
    drop(closed);
    let url = format!("postgres://someone@127.0.0.1:{dead_port}/lib?sslmode=disable");
    let down = team(&data, &url, "x", &["status"]);
    let err = String::from_utf8_lossy(&down.stderr);
    assert_eq!(down.status.code(), Some(1), "{err}");
    assert!(err.contains(&format!("127.0.0.1:{dead_port}")), "{err}");
    assert!(err.contains("running and reachable"), "{err}");

    // A database without pgvector, owned by a role that may not install it.
    db.admin("DROP EXTENSION vector");
    let missing = team(&data, &db.url(), &db.password, &["status"]);
    let err = String::from_utf8_lossy(&missing.stderr);
    assert_eq!(missing.status.code(), Some(1), "{err}");
    assert!(err.contains("pgvector"), "{err}");
    assert!(err.contains("CREATE EXTENSION vector"), "{err}");

    // A password in a config file is refused, naming the file.
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(
        data.join("config.toml"),
        format!("library = \"postgres://u:secret@127.0.0.1:{port}/x\"\n"),
    )
    .unwrap();
    let out = cairn_tests::cairn(&data, &["status"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("config.toml") && err.contains("PGPASSWORD"),
        "{err}"
    );
    assert!(!err.contains("secret"), "{err}");
}

/// `cairn` on a data directory, with `password` for a team library named by `--to`.
fn local(data: &Path, password: &str, args: &[&str]) -> Output {
    Command::new(cairn_tests::cairn_bin())
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .env_remove("CAIRN_LIBRARY")
        .env_remove("CAIRN_CONFIG")
        .env("PGPASSWORD", password)
        .env("CAIRN_NO_KEYCHAIN", "1")
        .output()
        .expect("cairn runs")
}

fn json(out: String) -> Value {
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

/// What identifies a hit across stores: the passage, its document and its span.
fn keys(results: &[Value]) -> Vec<String> {
    results
        .iter()
        .map(|r| format!("{} {} {}", r["chunk_id"], r["path"], r["byte_span"]))
        .collect()
}

const QUERIES: &[&str] = &[
    "how long do customers have to return goods",
    "daily meal allowance abroad",
    "how often must passwords be rotated",
];

#[test]
fn a_library_moves_to_a_team_library_and_back_without_embedding_again() {
    let db = pg::server().database();
    let (url, pw) = (db.url(), db.password.clone());
    let tmp = tempfile::tempdir().unwrap();
    let docs = tmp.path().join("shared");
    std::fs::create_dir_all(&docs).unwrap();
    let write = |name: &str, text: &str| std::fs::write(docs.join(name), text).unwrap();
    write(
        "refunds.md",
        "# Refunds\n\nCustomers may return goods within fourteen days of delivery for a full refund.\n",
    );
    write(
        "travel.md",
        "# Travel\n\nThe daily meal allowance abroad is forty euros.\n",
    );
    write(
        "security.md",
        "# Passwords\n\nPasswords are rotated every ninety days; a reused password is refused.\n",
    );
    let home = tmp.path().join("home");
    let run = |args: &[&str]| ok(local(&home, &pw, args), &args.join(" "));
    run(&["add", docs.to_str().unwrap()]);
    run(&["index"]);
    // A second version, so the copy carries history and a superseded text.
    write(
        "refunds.md",
        "# Refunds\n\nCustomers may return goods within thirty days of delivery for a full refund.\n",
    );
    run(&["index"]);
    run(&["pin", "add", "The office closes at six."]);
    run(&[
        "ask",
        "--extractive",
        "what is the daily meal allowance abroad?",
    ]);
    let search_home = |mode: &str, q: &str| {
        json(run(&["search", "--json", "--mode", mode, q]))["results"]
            .as_array()
            .cloned()
            .unwrap()
    };
    let mut before = Vec::new();
    for mode in ["bm25", "dense", "hybrid"] {
        for q in QUERIES {
            before.push((mode, *q, search_home(mode, q)));
        }
    }

    // Into the team library: progress on stderr, the source untouched.
    let out = local(&home, &pw, &["migrate", "--to", &url]);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    let summary = ok(out, "migrate --to postgres://");
    assert!(err.contains("copied 4/4 passages"), "{err}");
    assert!(err.contains("copied 3/3 documents"), "{err}");
    assert!(summary.contains("nothing was embedded"), "{summary}");
    for (mode, q, hits) in &before {
        assert_eq!(keys(&search_home(mode, q)), keys(hits), "source changed");
    }

    // The team library: same passages, nothing left to embed or index.
    let reader = tmp.path().join("reader");
    let t = |args: &[&str]| ok(team(&reader, &url, &pw, args), &args.join(" "));
    let status = json(t(&["status", "--json"]));
    assert_eq!(status["embed_backlog"], 0, "{status}");
    assert_eq!(status["stats"]["current_chunks"], 3, "{status}");
    assert_eq!(status["vector_index_chunks"], 3, "{status}");
    let indexed = json(t(&["index", "--json"]));
    assert_eq!(indexed["new_versions"], 0, "{indexed}");
    assert_eq!(indexed["chunks_embedded"], 0, "{indexed}");
    assert_eq!(indexed["texts_embedded"], 0, "{indexed}");
    for (mode, q, hits) in &before {
        let got = search(&reader, &url, &pw, mode, q);
        assert_eq!(keys(&got[..1]), keys(&hits[..1]), "{mode} {q}: {got:?}");
        if *mode == "dense" {
            assert_eq!(keys(&got), keys(hits), "{q}");
        }
    }
    let fourteen = search(&reader, &url, &pw, "bm25", "fourteen days");
    assert!(!texts(&fourteen).contains("fourteen"), "{fourteen:?}");
    let refunds = docs.join("refunds.md");
    let history = json(t(&["history", "--json", refunds.to_str().unwrap()]));
    assert_eq!(history.as_array().map(Vec::len), Some(2), "{history}");
    assert!(t(&["pin", "list"]).contains("office closes at six"));
    let audit = json(t(&["audit", "list", "--json"]));
    assert_eq!(audit.as_array().map(Vec::len), Some(1), "{audit}");

    // A library is copied only into an empty one.
    let again = local(&home, &pw, &["migrate", "--to", &url]);
    let err = String::from_utf8_lossy(&again.stderr);
    assert_eq!(again.status.code(), Some(1), "{err}");
    assert!(err.contains("not empty"), "{err}");
    let full = tmp.path().join("full");
    std::fs::create_dir_all(&full).unwrap();
    std::fs::write(full.join("notes.txt"), "mine").unwrap();
    let refused = team(
        &reader,
        &url,
        &pw,
        &["migrate", "--to", full.to_str().unwrap()],
    );
    assert_eq!(refused.status.code(), Some(1));
    assert_eq!(std::fs::read_dir(&full).unwrap().count(), 1, "untouched");

    // And back into a new directory: the same results as the original, nothing embedded.
    let back = tmp.path().join("back");
    t(&["migrate", "--to", back.to_str().unwrap()]);
    let leftovers: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains("migrating"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    let b = |args: &[&str]| ok(local(&back, &pw, args), &args.join(" "));
    for (mode, q, hits) in &before {
        let got = json(b(&["search", "--json", "--mode", mode, q]))["results"]
            .as_array()
            .cloned()
            .unwrap();
        assert_eq!(keys(&got), keys(hits), "{mode} {q}");
    }
    let indexed = json(b(&["index", "--json"]));
    assert_eq!(indexed["new_versions"], 0, "{indexed}");
    assert_eq!(indexed["chunks_embedded"], 0, "{indexed}");
    assert!(b(&["pin", "list"]).contains("office closes at six"));
    let audit = json(b(&["audit", "list", "--json"]));
    assert_eq!(audit.as_array().map(Vec::len), Some(1), "{audit}");
}

#[test]
fn eval_on_a_team_library_reuses_the_embedded_stores_vectors() {
    let db = pg::server().database();
    let (url, pw) = (db.url(), db.password.clone());
    let tmp = tempfile::tempdir().unwrap();
    let ds = tmp.path().join("ds");
    std::fs::create_dir_all(ds.join("qrels")).unwrap();
    let docs = [
        (
            "d1",
            "Glaciers",
            "Alpine glaciers are retreating because summers are warmer.",
        ),
        (
            "d2",
            "Volcanoes",
            "Volcanic ash clouds can ground aircraft for days.",
        ),
        (
            "d3",
            "Reefs",
            "Coral reefs bleach when the sea is unusually hot.",
        ),
    ];
    let corpus: String = docs
        .iter()
        .map(|(id, t, x)| {
            format!(
                "{}\n",
                serde_json::json!({"_id": id, "title": t, "text": x})
            )
        })
        .collect();
    std::fs::write(ds.join("corpus.jsonl"), corpus).unwrap();
    std::fs::write(
        ds.join("queries.jsonl"),
        "{\"_id\":\"q1\",\"text\":\"why is ice melting in the mountains\"}\n\
         {\"_id\":\"q2\",\"text\":\"volcanic ash and flights\"}\n",
    )
    .unwrap();
    std::fs::write(
        ds.join("qrels/test.tsv"),
        "query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\t1\n",
    )
    .unwrap();
    let store = tmp.path().join("store");
    let home = tmp.path().join("home");
    let eval = |mode: &str| {
        let args = [
            "eval",
            "--dataset",
            ds.to_str().unwrap(),
            "--store",
            store.to_str().unwrap(),
            "--mode",
            mode,
            "--json",
        ];
        json(ok(team(&home, &url, &pw, &args), "eval --library"))
    };
    let dense = eval("dense");
    assert!(dense["ndcg_at_10"].as_f64().unwrap() > 0.99, "{dense}");
    assert_eq!(dense["chunks"], 3, "{dense}");
    // The team library was filled from the embedded store built under --store.
    assert!(store.join("data/catalog.sqlite3").is_file());
    let status = json(ok(team(&home, &url, &pw, &["status", "--json"]), "status"));
    assert_eq!(status["stats"]["current_documents"], 3, "{status}");
    assert_eq!(status["embed_backlog"], 0, "{status}");
    // A second run finds the team library filled and uses it as it is.
    let hybrid = eval("hybrid");
    assert!(hybrid["ndcg_at_10"].as_f64().unwrap() > 0.99, "{hybrid}");
    assert_eq!(hybrid["chunks"], 3, "{hybrid}");
}

#[test]
fn collections_and_grants_from_the_cli_with_two_roles() {
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
        "# Deploys\n\nProduction deploys need two approvals and a rollback plan.\n",
    )
    .unwrap();
    let (owner_dir, alice_dir) = (tmp.path().join("owner"), tmp.path().join("alice"));
    let (url, pw) = (db.url(), db.password.as_str());
    let pid = std::process::id();
    let (alice, carol) = (format!("alice_{pid}"), format!("carol_{pid}"));
    server.role(&alice, "alice-pw");
    server.role(&carol, "carol-pw");
    let alice_url = db.url_as(&alice);
    let hr_path = std::fs::canonicalize(&hr).unwrap();
    let hr_arg = hr_path.to_str().unwrap();

    for dir in [&hr, &eng] {
        ok(
            team(&owner_dir, &url, pw, &["add", dir.to_str().unwrap()]),
            "add",
        );
    }
    ok(team(&owner_dir, &url, pw, &["index"]), "index");
    let list = ok(team(&owner_dir, &url, pw, &["team", "collections"]), "list");
    assert!(list.contains("default") && list.contains(hr_arg), "{list}");

    let moved = ok(
        team(&owner_dir, &url, pw, &["team", "assign", hr_arg, "hr"]),
        "assign",
    );
    assert!(moved.contains("collection hr"), "{moved}");
    let unknown = team(&owner_dir, &url, pw, &["team", "assign", "/nowhere", "hr"]);
    let err = String::from_utf8_lossy(&unknown.stderr);
    assert_eq!(unknown.status.code(), Some(1), "{err}");
    assert!(err.contains("/nowhere") && err.contains(hr_arg), "{err}");
    ok(
        team(&owner_dir, &url, pw, &["team", "grant", "hr", &alice]),
        "grant",
    );

    // Alice reads hr only, and may not grant herself eng.
    let r = search(
        &alice_dir,
        &alice_url,
        "alice-pw",
        "bm25",
        "parental leave deploys approvals",
    );
    assert_eq!(r.len(), 1, "{r:?}");
    assert!(texts(&r).contains("sixteen weeks"), "{r:?}");
    let denied = team(
        &alice_dir,
        &alice_url,
        "alice-pw",
        &["team", "grant", "default", &alice],
    );
    let err = String::from_utf8_lossy(&denied.stderr);
    assert_eq!(denied.status.code(), Some(1), "{err}");
    assert!(err.contains("only the library's owner"), "{err}");
    assert!(
        err.contains("what to do:") && err.contains("administrator"),
        "{err}"
    );
    let seen: Value = serde_json::from_str(&ok(
        team(
            &alice_dir,
            &alice_url,
            "alice-pw",
            &["team", "collections", "--json"],
        ),
        "collections as alice",
    ))
    .unwrap();
    let passages = |name: &str| {
        seen.as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .map(|c| c["passages"].as_i64().unwrap())
    };
    assert_eq!(passages("hr"), Some(1), "{seen}");
    assert_eq!(passages("default"), Some(0), "{seen}");

    // The audit: alice sees her own answer; the reviewer sees everyone's, with who asked.
    ok(
        team(
            &alice_dir,
            &alice_url,
            "alice-pw",
            &["ask", "--extractive", "how long is parental leave?"],
        ),
        "ask as alice",
    );
    db.admin(&format!(
        "CREATE ROLE auditors_{pid} NOLOGIN; GRANT auditors_{pid} TO {carol};
         INSERT INTO meta VALUES ('reviewer_role', 'auditors_{pid}');
         SELECT cairn_grant_reader('{carol}');"
    ));
    let own = ok(
        team(&alice_dir, &alice_url, "alice-pw", &["team", "audit"]),
        "audit as alice",
    );
    assert!(
        own.contains("your own answers") && own.contains(&alice),
        "{own}"
    );
    let carol_url = db.url_as(&carol);
    let all: Value = serde_json::from_str(&ok(
        team(
            &tmp.path().join("carol"),
            &carol_url,
            "carol-pw",
            &["team", "audit", "--export"],
        ),
        "export as the reviewer",
    ))
    .unwrap();
    let rows = all.as_array().unwrap();
    assert_eq!(rows.len(), 1, "{all}");
    assert_eq!(rows[0]["db_user"], alice.as_str());
    assert!(rows[0]["record"].is_object(), "{all}");

    // Revoked: alice reads nothing of hr any more.
    let out = ok(
        team(&owner_dir, &url, pw, &["team", "revoke", "hr", &alice]),
        "revoke",
    );
    assert!(out.contains("no longer"), "{out}");
    let r = search(&alice_dir, &alice_url, "alice-pw", "bm25", "parental leave");
    assert!(r.is_empty(), "{r:?}");
}
