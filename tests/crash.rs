//! Crash safety, end to end with the real binary, real files and the real embedding model:
//! `cairn index` is killed with SIGKILL at pseudo-random points (scanning, parsing in workers,
//! committing, embedding, saving the indexes) while the folder keeps changing. After every kill
//! `cairn check` must call the library sound; at the end a full run completes, embeds exactly
//! the backlog (nothing committed is embedded again) and leaves no temporary file.
//!
//! `CAIRN_KILL_ROUNDS` sets the number of kills (30 in the test command; the long run in
//! docs/benchmarks.md used 300).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use cairn_tests::{cairn, cairn_bin, cairn_ok, search_json, write_docx, write_pdf};
use serde_json::Value;

/// The JSON a command printed (a document, or one per line: the last one).
fn json(out: &str) -> Value {
    serde_json::from_str(out)
        .or_else(|_| serde_json::from_str(out.lines().last().unwrap_or("")))
        .unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
}

/// A small deterministic random number generator (no dependency needed).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

const NOTES: usize = 240;

fn write_note(lib: &Path, i: usize, rev: usize) {
    std::fs::write(
        lib.join(format!("note-{i:03}.txt")),
        format!(
            "Note {i} revision {rev}. Sensor array {i} reported marker osprey{i}r{rev}. \
             The crew calibrated the instruments, logged the tide tables and compared the \
             readings with revision {rev} of the survey protocol for site {i}."
        ),
    )
    .unwrap();
}

/// Notes, plus Markdown, PDF and DOCX files (parsed in worker processes).
fn write_library(lib: &Path) {
    std::fs::create_dir_all(lib).unwrap();
    for i in 0..NOTES {
        write_note(lib, i, 0);
    }
    for i in 0..20 {
        let line = format!("Harbour log {i}: the pilot boat met vessel heron{i} at dawn.");
        write_pdf(
            &lib.join(format!("log-{i:02}.pdf")),
            &[&[&line], &["Page two."]],
        )
        .unwrap();
        let text = format!("Minutes {i}: the council approved bridge repair plover{i}.");
        write_docx(
            &lib.join(format!("minutes-{i:02}.docx")),
            &[("Heading1", "Minutes"), ("", &text)],
        )
        .unwrap();
        std::fs::write(
            lib.join(format!("guide-{i:02}.md")),
            format!("# Guide {i}\n\n## Safety\n\nWear a harness near cliff sandpiper{i}.\n"),
        )
        .unwrap();
    }
}

/// Temporary files anywhere under `dir` (ours end in `.tmp`, tantivy's start with `.tmp`).
fn tmp_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if path.is_dir() {
            out.extend(tmp_files(&path));
        } else if name.ends_with(".tmp") || name.starts_with(".tmp") {
            out.push(path);
        }
    }
    out
}

/// `cairn check --json`, asserting it calls the library sound.
fn assert_sound(data: &Path, when: &str) -> Value {
    let out = cairn(data, &["check", "--json"]);
    let report = json(&String::from_utf8_lossy(&out.stdout));
    assert!(
        out.status.success() && report["ok"] == true,
        "{when}: `cairn check` finds the library unsound: {report}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    report
}

#[test]
fn killing_the_indexer_at_random_points_loses_nothing() {
    let rounds: u64 = std::env::var("CAIRN_KILL_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30);
    let tmp = tempfile::tempdir().unwrap();
    let lib = tmp.path().join("library");
    write_library(&lib);
    let data = tmp.path().join("data");
    cairn_ok(&data, &["add", lib.to_str().unwrap()]);
    let mut rng = Lcg(0x5eed);
    let (mut hit_running, mut pending, mut left_tmp, mut completed) = (0, 0, 0, 0);
    for round in 0..rounds {
        if round > 0 {
            // Change the collection between crashes so every run has work to interrupt:
            // edits always, and now and then a rename and a deletion.
            for _ in 0..25 {
                write_note(&lib, rng.next() as usize % NOTES, round as usize);
            }
        }
        if round % 4 == 3 {
            let a = lib.join(format!("note-{:03}.txt", rng.next() as usize % NOTES));
            if a.exists() {
                let _ = std::fs::rename(&a, a.with_extension("md"));
            }
            let b = format!("note-{:03}.txt", rng.next() as usize % NOTES);
            let _ = std::fs::remove_file(lib.join(b));
        }
        let mut child = Command::new(cairn_bin())
            .arg("--data-dir")
            .arg(&data)
            .args(["index", "--json"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Spread the kills from the scan to the end of embedding.
        std::thread::sleep(Duration::from_millis(30 + rng.next() % 1500));
        match child.try_wait().unwrap() {
            None => hit_running += 1,
            Some(status) => {
                assert!(status.success(), "round {round}: index failed: {status}");
                completed += 1;
            }
        }
        let _ = child.kill(); // SIGKILL: no chance to clean up
        let _ = child.wait();
        left_tmp += usize::from(!tmp_files(&data).is_empty());
        let report = assert_sound(&data, &format!("after kill {round}"));
        let repairs = report["pending_repairs"]
            .as_array()
            .unwrap_or_else(|| panic!("{report}"));
        pending += usize::from(!repairs.is_empty());
    }
    eprintln!(
        "crash test: {rounds} SIGKILLs, {hit_running} hit a running indexer ({completed} runs \
         had finished), {pending} left an index to repair, {left_tmp} left a temporary file; \
         `cairn check` found the library sound after every one"
    );
    assert!(
        hit_running * 2 >= rounds,
        "most kills should hit a running indexer"
    );

    // Finish the text phase; the embedding phase must then embed exactly the backlog.
    cairn_ok(&data, &["index", "--no-embed"]);
    let status = json(&cairn_ok(&data, &["status", "--json"]));
    let backlog = status["embed_backlog"].as_u64().unwrap();
    let embedded_before = status["stats"]["embedded_chunks"].as_u64().unwrap();
    let done = json(&cairn_ok(&data, &["index", "--json"]));
    eprintln!(
        "crash test: resumed with {embedded_before} passages embedded and a backlog of \
         {backlog}; the final run stored vectors for {} passages, computing {} (the rest shared \
         a text already embedded)",
        done["chunks_embedded"], done["texts_embedded"]
    );
    assert_eq!(done["chunks_embedded"].as_u64().unwrap(), backlog, "{done}");
    assert!(
        done["texts_embedded"].as_u64().unwrap() <= backlog,
        "{done}"
    );
    assert_eq!(done["new_versions"], 0);
    let report = assert_sound(&data, "after the final run");
    assert_eq!(report["pending_repairs"], serde_json::json!([]), "{report}");
    assert_eq!(tmp_files(&data), Vec::<PathBuf>::new());
    let again = json(&cairn_ok(&data, &["index", "--json"]));
    assert_eq!(again["texts_embedded"], 0, "{again}");

    // Every live file is indexed once, under its current content.
    let live = std::fs::read_dir(&lib).unwrap().count() as u64;
    let status = json(&cairn_ok(&data, &["status", "--json"]));
    assert_eq!(status["stats"]["current_documents"].as_u64().unwrap(), live);
    for (query, file) in [("heron7", "log-07.pdf"), ("plover3", "minutes-03.docx")] {
        let r = search_json(&data, &["--mode", "bm25", query]);
        assert!(
            r.len() == 1 && r[0]["path"].as_str().unwrap().ends_with(file),
            "{query}: {r:?}"
        );
    }
    for i in [7, 101, 222] {
        let Some(path) = ["txt", "md"]
            .map(|ext| lib.join(format!("note-{i:03}.{ext}")))
            .into_iter()
            .find(|p| p.exists())
        else {
            continue;
        };
        let text = std::fs::read_to_string(&path).unwrap();
        let marker = text
            .split_whitespace()
            .find(|w| w.starts_with("osprey"))
            .unwrap();
        let marker = marker.trim_end_matches('.');
        let r = search_json(&data, &["--mode", "bm25", marker]);
        assert_eq!(r.len(), 1, "{marker}: {r:?}");
    }
}
