//! A slow file does not hold up the library: while a parser works on it (here: a worker that
//! never answers, so "slow" has no end), a write command and a cancel are served at once, the
//! worker is stopped, and the file is not judged (no problem row; it is parsed again later).
//! The library, its writer thread and the worker processes are real; this test binary is its
//! own parser worker (the test `worker_entry`, as in cairn-core's tests/isolate.rs). The same
//! stop path with the real parser on a really slow file is tested through the `cairn` binary in
//! tests/hostile.rs.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use cairn_core::parse::isolate::{register_worker, Limits, WorkerCommand};
use cairn_library::{Library, LibraryOptions, ProgressPhase};

/// Not a test of its own: the worker mode of this binary, which never answers.
#[test]
fn worker_entry() {
    if std::env::var_os("CAIRN_TEST_SLOW_WORKER").is_none()
        || !std::env::args().any(|a| a == "worker_entry")
    {
        return;
    }
    loop {
        std::thread::sleep(Duration::from_secs(60));
    }
}

/// Runs `f` on another thread and fails the test if it has not returned within `limit` (so a
/// regression fails instead of hanging the test run for the parse budget).
fn within<T: Send + 'static>(
    limit: Duration,
    what: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(limit)
        .unwrap_or_else(|_| panic!("{what} was held up by the slow file"))
}

fn wait_for(lib: &Library, what: &str, ok: impl Fn(&cairn_library::IndexProgress) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let p = lib.progress();
        if ok(&p) {
            return;
        }
        assert!(Instant::now() < deadline, "never reached {what}: {p:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_slow_file_holds_up_neither_commands_nor_cancel() {
    std::env::set_var("CAIRN_TEST_SLOW_WORKER", "1");
    let command = WorkerCommand::current_exe(&["--exact", "worker_entry", "--nocapture"]).unwrap();
    // A budget far longer than the test: only a stop can end the attempt.
    let limits = Limits {
        timeout: Duration::from_secs(3600),
        memory_bytes: 256 << 20,
    };
    assert!(register_worker(command, limits));

    let tmp = tempfile::tempdir().unwrap();
    let folder = tmp.path().join("docs");
    std::fs::create_dir(&folder).unwrap();
    std::fs::write(folder.join("notes.txt"), "The ferry leaves at noon.").unwrap();
    std::fs::write(
        folder.join("slow.html"),
        "<html><body><p>Parsed by a worker that never answers.</p></body></html>",
    )
    .unwrap();
    let options = LibraryOptions {
        embed: false,
        ..LibraryOptions::new(tmp.path().join("data"))
    };
    let lib = Library::open(options, |_| {});
    lib.add_folders(vec![folder.clone()]).unwrap();
    wait_for(&lib, "parsing", |p| p.phase == ProgressPhase::Parsing);
    // Let the worker take the file.
    std::thread::sleep(Duration::from_millis(500));

    // A write command is served while the file "parses".
    let (l, f) = (lib.clone(), folder.clone());
    within(Duration::from_secs(30), "tagging", move || {
        l.tag(f, vec!["ferries".into()])
    })
    .unwrap();

    // The run starts again after the command and meets the slow file again; cancel stops it.
    wait_for(&lib, "parsing again", |p| p.phase == ProgressPhase::Parsing);
    std::thread::sleep(Duration::from_millis(500));
    lib.cancel();
    wait_for(&lib, "cancelled", |p| {
        p.phase == ProgressPhase::Idle
            && p.message
                .as_deref()
                .is_some_and(|m| m.contains("cancelled"))
    });

    // The file parsed beside it is kept; the slow file was not judged: no problem names it.
    let contents = lib.contents().unwrap();
    assert!(
        contents
            .documents
            .iter()
            .any(|d| d.path.ends_with("notes.txt")),
        "{:?}",
        contents.documents
    );
    assert!(
        contents
            .problems
            .iter()
            .all(|p| !p.path.ends_with("slow.html")),
        "{:?}",
        contents.problems
    );
    lib.shutdown();
}
