//! End-to-end tests of `cairn watch`: the real binary, a real OS watcher on a temp folder, the
//! real embedding model. Waits are bounded polls; nothing asserts on timing.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use cairn_tests::{cairn_bin, cairn_ok, search_json};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(20);
/// The start-up reconcile loads the embedding model and embeds the initial files.
const STARTUP: Duration = Duration::from_secs(180);

/// A running `cairn watch --json`; killed when dropped.
struct Watch {
    child: Child,
    lines: Receiver<Value>,
    seen: Vec<Value>,
}

impl Watch {
    fn start(data: &Path, extra: &[&str]) -> Watch {
        let mut child = Command::new(cairn_bin())
            .arg("--data-dir")
            .arg(data)
            .args(["watch", "--json"])
            .args(extra)
            .env_remove("CAIRN_CONFIG")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("cairn watch starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let v: Value = serde_json::from_str(&line).unwrap_or_else(|e| {
                    panic!("watch --json printed a non-JSON line ({e}): {line}")
                });
                if tx.send(v).is_err() {
                    break;
                }
            }
        });
        let mut w = Watch {
            child,
            lines,
            seen: Vec::new(),
        };
        w.wait_line(STARTUP, "the start-up reconcile", |v| v["event"] == "ready");
        w
    }

    /// Waits for a printed line (already seen or new) matching `f`; returns it.
    fn wait_line(&mut self, limit: Duration, what: &str, f: impl Fn(&Value) -> bool) -> Value {
        if let Some(v) = self.seen.iter().find(|v| f(v)) {
            return v.clone();
        }
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left.max(Duration::from_millis(1))) {
                Ok(v) => {
                    self.seen.push(v.clone());
                    if f(&v) {
                        return v;
                    }
                }
                Err(_) => panic!(
                    "cairn watch never printed {what} within {limit:?}; lines so far: {:#?}",
                    self.seen
                ),
            }
        }
    }

    /// Collects the lines printed so far without waiting.
    fn drain(&mut self) {
        while let Ok(v) = self.lines.try_recv() {
            self.seen.push(v);
        }
    }

    /// Sends Ctrl-C and waits for a clean exit.
    fn interrupt(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .expect("kill runs");
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(Instant::now() < deadline, "cairn watch ignored Ctrl-C");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn paths(results: &[Value]) -> Vec<String> {
    results
        .iter()
        .map(|r| r["path"].as_str().unwrap_or("").to_owned())
        .collect()
}

/// Polls a keyword search until `ok` holds for its results; returns them.
fn search_until(data: &Path, query: &str, what: &str, ok: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let deadline = Instant::now() + WAIT;
    loop {
        let r = search_json(data, &["--mode", "bm25", query]);
        if ok(&r) {
            return r;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: not true within {WAIT:?}; `{query}` returns {:?}",
            paths(&r)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn finds(results: &[Value], file: &Path) -> bool {
    let file = file.to_string_lossy();
    paths(results).iter().any(|p| *p == file)
}

/// Waits until everything current is embedded (so the next batch's report is its own).
fn wait_embedded(data: &Path) {
    let deadline = Instant::now() + WAIT;
    loop {
        let status: Value =
            serde_json::from_str(&cairn_ok(data, &["status", "--json"])).expect("status JSON");
        if status["embed_backlog"] == 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "embedding backlog never drained: {status}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn setup(with_data_inside: bool) -> (tempfile::TempDir, PathBuf, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let notes = tmp.path().join("notes");
    std::fs::create_dir_all(&notes).unwrap();
    let notes = notes.canonicalize().unwrap();
    // The data directory may sit inside a watched folder: its own writes must not loop.
    let data = match with_data_inside {
        true => notes.join("cairn-data"),
        false => tmp.path().join("data"),
    };
    (tmp, notes, data)
}

#[test]
fn watch_follows_creates_edits_atomic_saves_moves_and_deletes() {
    let (_tmp, notes, data) = setup(true);
    // Present before the watcher starts: picked up by the start-up reconcile.
    std::fs::write(
        notes.join("start.md"),
        "# Start\n\nThe lighthouse keeper logs capybara sightings.\n",
    )
    .unwrap();
    cairn_ok(&data, &["add", notes.to_str().unwrap()]);
    let mut w = Watch::start(&data, &[]);
    let ready = w.seen[0].clone();
    assert_eq!(ready["new_versions"], 1, "{ready}");
    assert!(ready["embedding_error"].is_null(), "{ready}");
    let r = search_json(&data, &["--mode", "bm25", "capybara"]);
    assert!(finds(&r, &notes.join("start.md")), "{r:?}");

    // (1) A new file becomes searchable.
    let x = notes.join("x.md");
    std::fs::write(&x, "# Fauna\n\nA quetzal nests in the cloud forest.\n").unwrap();
    search_until(&data, "quetzal", "a created file is searchable", |r| {
        finds(r, &x)
    });

    // (2) A burst of quick saves: the last text wins, the old text is gone, and the burst
    // makes one new version (two at most if the OS splits it).
    for i in 0..5 {
        std::fs::write(
            &x,
            format!("# Fauna\n\nDraft {i}: an ocelot stalks the riverbank at dusk.\n"),
        )
        .unwrap();
        std::thread::sleep(Duration::from_millis(20));
    }
    let r = search_until(&data, "ocelot", "an edited file is searchable", |r| {
        finds(r, &x)
            && r.iter()
                .any(|h| h["snippet"].as_str().unwrap_or("").contains("Draft 4"))
    });
    let version = r
        .iter()
        .find(|h| h["path"] == x.to_str().unwrap())
        .map(|h| h["version"].as_i64().unwrap())
        .unwrap();
    assert!(
        (2..=3).contains(&version),
        "five quick saves should make one new version (at most two), got v{version}"
    );
    search_until(&data, "quetzal", "the old text is gone", |r| r.is_empty());

    // (3) Atomic-rename save: write a temp file, rename it over the target.
    let tmp_file = notes.join("x.md.tmp");
    std::fs::write(
        &tmp_file,
        "# Fauna\n\nA pangolin curls into a ball when threatened.\n",
    )
    .unwrap();
    std::fs::rename(&tmp_file, &x).unwrap();
    search_until(&data, "pangolin", "an atomic save is searchable", |r| {
        finds(r, &x) && r.len() == 1
    });
    search_until(
        &data,
        "ocelot",
        "the text before the atomic save is gone",
        |r| r.is_empty(),
    );

    // (4) Move into a subfolder under a new name: the document moves, nothing is re-embedded.
    wait_embedded(&data);
    w.drain();
    let seen_before = w.seen.len();
    std::fs::create_dir(notes.join("zoo")).unwrap();
    let moved = notes.join("zoo/renamed.md");
    std::fs::rename(&x, &moved).unwrap();
    search_until(
        &data,
        "pangolin",
        "a moved file is found at its new path",
        |r| finds(r, &moved) && !finds(r, &x),
    );
    let line = w.wait_line(WAIT, "a batch with the rename", |v| {
        v["event"] == "batch" && v["renamed"] == 1
    });
    assert_eq!(
        line["texts_embedded"], 0,
        "a move re-embeds nothing: {line}"
    );
    assert_eq!(line["new_versions"], 0, "{line}");
    assert_eq!(line["deleted"], 0, "{line}");
    w.drain();
    for l in &w.seen[seen_before..] {
        assert_eq!(l["texts_embedded"], 0, "a move re-embeds nothing: {l}");
    }

    // (5) Delete: gone from search (the version is kept as history, marked deleted).
    std::fs::remove_file(&moved).unwrap();
    search_until(&data, "pangolin", "a deleted file leaves search", |r| {
        r.is_empty()
    });
    w.wait_line(WAIT, "a batch with the deletion", |v| {
        v["event"] == "batch" && v["deleted"] == 1
    });
    let status: Value = serde_json::from_str(&cairn_ok(&data, &["status", "--json"])).unwrap();
    assert_eq!(status["stats"]["current_documents"], 1, "{status}");
    assert!(
        status["stats"]["documents"].as_u64().unwrap() >= 2,
        "deleted documents stay in history: {status}"
    );

    // The watcher did not chase its own writes into the data directory (which lies inside
    // the watched folder): every batch line names only paths outside it.
    w.drain();
    for l in &w.seen {
        for p in l["paths"].as_array().into_iter().flatten() {
            let p = p.as_str().unwrap();
            assert!(
                !Path::new(p).starts_with(&data),
                "event from the data dir: {l}"
            );
        }
    }

    // Ctrl-C stops cleanly.
    let status = w.interrupt();
    assert!(
        status.success(),
        "cairn watch exit status after Ctrl-C: {status}"
    );
}

#[test]
fn watch_skips_hidden_and_ignored_files() {
    let (_tmp, notes, data) = setup(false);
    std::fs::write(notes.join(".gitignore"), "build/\n").unwrap();
    std::fs::write(notes.join("seed.md"), "A seed note about ferns.\n").unwrap();
    cairn_ok(&data, &["add", notes.to_str().unwrap()]);
    let mut w = Watch::start(&data, &["--no-embed"]);

    std::fs::create_dir(notes.join(".hidden")).unwrap();
    std::fs::write(notes.join(".hidden/secret.md"), "A narwhal secret.\n").unwrap();
    std::fs::create_dir(notes.join("build")).unwrap();
    std::fs::write(notes.join("build/gen.md"), "Generated axolotl output.\n").unwrap();
    std::fs::write(notes.join(".draft.md.swp"), "swap narwhal bytes").unwrap();
    // A visible file after them: once it is searchable, the others have been seen too.
    let canary = notes.join("canary.md");
    std::fs::write(&canary, "The wombat digs burrows.\n").unwrap();
    search_until(&data, "wombat", "a visible file is searchable", |r| {
        finds(r, &canary)
    });
    for word in ["narwhal", "axolotl"] {
        let r = search_json(&data, &["--mode", "bm25", word]);
        assert!(r.is_empty(), "{word} must not be indexed: {r:?}");
    }
    // Hidden paths do not even wake the watcher.
    w.drain();
    for l in &w.seen {
        for p in l["paths"].as_array().into_iter().flatten() {
            let p = p.as_str().unwrap();
            assert!(
                !p.contains("/.hidden") && !p.contains(".swp"),
                "hidden path in a batch: {l}"
            );
        }
    }

    // Ignore rules are live too: un-ignoring build/ indexes what is in it.
    std::fs::write(notes.join(".gitignore"), "").unwrap();
    search_until(&data, "axolotl", "an un-ignored file is indexed", |r| {
        finds(r, &notes.join("build/gen.md"))
    });
}

#[test]
fn watch_sees_a_same_size_save_within_the_same_second() {
    // The catalog keeps whole-second mtimes: a second save of the same size in the same
    // second as an already indexed one must still be noticed.
    let (_tmp, notes, data) = setup(false);
    std::fs::write(notes.join("seed.md"), "A seed note about ferns.\n").unwrap();
    cairn_ok(&data, &["add", notes.to_str().unwrap()]);
    let mut w = Watch::start(&data, &["--no-embed", "--debounce-ms", "50"]);
    let file = notes.join("pet.md");
    let mtime = |p: &Path| {
        std::fs::metadata(p)
            .unwrap()
            .modified()
            .unwrap()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
    };
    let mut raced = false;
    for attempt in 0..10 {
        // Start early in a second, so the first save is indexed before the second ends.
        while std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_millis()
            > 100
        {
            std::thread::sleep(Duration::from_millis(5));
        }
        let (old, new) = (format!("cat{attempt}"), format!("dog{attempt}"));
        std::fs::write(&file, format!("The {old} sleeps.\n")).unwrap();
        let first = mtime(&file);
        w.drain();
        let before = w.seen.len();
        let deadline = Instant::now() + WAIT;
        while !w.seen[before..].iter().any(|v| v["new_versions"] == 1) {
            assert!(
                Instant::now() < deadline,
                "the first save was never indexed"
            );
            if let Ok(v) = w.lines.recv_timeout(Duration::from_millis(50)) {
                w.seen.push(v);
            }
        }
        std::fs::write(&file, format!("The {new} sleeps.\n")).unwrap();
        if mtime(&file) != first {
            continue; // the machine was too slow this time: try again
        }
        raced = true;
        search_until(
            &data,
            &new,
            "a same-second, same-size save is indexed",
            |r| finds(r, &file),
        );
        let r = search_json(&data, &["--mode", "bm25", &old]);
        assert!(r.is_empty(), "the older text is gone: {r:?}");
        break;
    }
    assert!(raced, "could not save twice within one second");
}
