//! A full disk while indexing, end to end: the data directory is a small tmpfs, the folder is
//! too big for it. `cairn index` must stop with a clear error (which says the disk is full and
//! what to do), leave no temporary file and lose nothing it committed; after space is freed
//! (the tmpfs is remounted bigger) the next run completes and `cairn check` calls the library
//! sound. Mounting needs root (the test command runs as root in CI); as another user the test
//! says so and passes.

use std::path::{Path, PathBuf};
use std::process::Command;

use cairn_tests::{cairn, cairn_ok, search_json};
use serde_json::Value;

/// The JSON a command printed (a document, or one per line: the last one).
fn json(out: &str) -> Value {
    serde_json::from_str(out)
        .or_else(|_| serde_json::from_str(out.lines().last().unwrap_or("")))
        .unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// A tmpfs mounted on a folder, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Tmpfs {
        std::fs::create_dir_all(dir).unwrap();
        let opts = format!("size={size}");
        run(
            "mount",
            &["-t", "tmpfs", "-o", &opts, "tmpfs", dir.to_str().unwrap()],
        );
        Tmpfs(dir.to_owned())
    }

    fn resize(&self, size: &str) {
        let opts = format!("remount,size={size}");
        run("mount", &["-o", &opts, self.0.to_str().unwrap()]);
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

fn run(program: &str, args: &[&str]) {
    let status = Command::new(program).args(args).status().unwrap();
    assert!(status.success(), "{program} {args:?}: {status}");
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

/// Notes with distinct text (nothing for the embedding cache to share).
fn write_notes(dir: &Path, n: usize) {
    std::fs::create_dir_all(dir).unwrap();
    for i in 0..n {
        let words: Vec<String> = (0..60)
            .map(|w| format!("w{}x{}", i * 7 + w, w * 13 + i))
            .collect();
        std::fs::write(
            dir.join(format!("note-{i:04}.txt")),
            format!("Note {i} marker grebe{i}. {}.", words.join(" ")),
        )
        .unwrap();
    }
}

/// Fills the file system of `dir` with a file `ballast` until `room` bytes are left.
fn fill(dir: &Path, room: u64) {
    use std::io::Write;
    let path = dir.join("ballast");
    let mut file = std::fs::File::create(&path).unwrap();
    let block = vec![0x5a_u8; 16 << 10];
    let mut len = 0u64;
    while let Ok(n) = file.write(&block) {
        if n == 0 {
            break;
        }
        len += n as u64;
    }
    file.set_len(len.saturating_sub(room)).unwrap();
}

/// `cairn index` on a full disk: fails with the disk-full hint, no panic, no temporary file,
/// and the catalog is still sound.
fn index_fails_cleanly(data: &Path, args: &[&str], stage: &str) {
    let out = cairn(data, args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stage}: indexing should not fit");
    assert!(!stderr.contains("panicked"), "{stage}: {stderr}");
    assert!(
        stderr.contains("The disk is full: free some space"),
        "{stage}: the error should say the disk is full and what to do:\n{stderr}"
    );
    eprintln!(
        "disk full, {stage}: `cairn {}` said:\n{stderr}",
        args.join(" ")
    );
    assert_eq!(tmp_files(data), Vec::<PathBuf>::new(), "{stage}");
    // What was committed before the disk filled up is intact.
    let check = cairn(data, &["check", "--json"]);
    let report = json(&String::from_utf8_lossy(&check.stdout));
    assert_eq!(report["catalog"]["sqlite_ok"], true, "{stage}: {report}");
    assert_eq!(
        report["problems"],
        serde_json::json!([]),
        "{stage}: {report}"
    );
}

#[test]
fn a_full_disk_stops_indexing_cleanly_and_loses_nothing() {
    if !is_root() {
        eprintln!("skipped: mounting a tmpfs needs root (the test command runs as root in CI)");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let lib = tmp.path().join("library");
    let notes = 250;
    write_notes(&lib, notes);
    let data = tmp.path().join("data");
    let disk = Tmpfs::mount(&data, "384k");
    cairn_ok(&data, &["add", lib.to_str().unwrap()]);

    // The disk fills up while passages are committed (the catalog, the text index).
    index_fails_cleanly(&data, &["index"], "while committing passages");
    disk.resize("64m");
    cairn_ok(&data, &["index", "--no-embed"]);
    // It fills up again while passages are embedded (the catalog, the vector index).
    fill(&data, 512 << 10);
    index_fails_cleanly(&data, &["index"], "while embedding");
    let status = json(&cairn_ok(&data, &["status", "--json"]));
    let embedded = status["stats"]["embedded_chunks"].as_u64().unwrap();
    let current = status["stats"]["current_chunks"].as_u64().unwrap();

    // Space is freed: the next run finishes the work, embedding only what was not stored.
    std::fs::remove_file(data.join("ballast")).unwrap();
    let done = json(&cairn_ok(&data, &["index", "--json"]));
    eprintln!("disk full: {embedded} of {current} passages were embedded; the next run: {done}");
    assert_eq!(
        done["chunks_embedded"].as_u64().unwrap(),
        current - embedded,
        "{done}"
    );
    assert!(
        done["texts_embedded"].as_u64().unwrap() <= current - embedded,
        "{done}"
    );
    let report = json(&cairn_ok(&data, &["check", "--json"]));
    assert_eq!(report["ok"], true, "{report}");
    assert_eq!(report["pending_repairs"], serde_json::json!([]), "{report}");
    assert_eq!(tmp_files(&data), Vec::<PathBuf>::new());
    let status = json(&cairn_ok(&data, &["status", "--json"]));
    assert_eq!(status["stats"]["current_documents"], notes, "{status}");
    assert_eq!(status["embed_backlog"], 0, "{status}");
    for i in [0, notes / 2, notes - 1] {
        let r = search_json(&data, &["--mode", "bm25", &format!("grebe{i}")]);
        assert_eq!(r.len(), 1, "grebe{i}: {r:?}");
    }
    drop(disk);
}
