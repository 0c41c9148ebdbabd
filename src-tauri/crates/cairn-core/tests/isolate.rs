//! Isolated parsing with real worker processes: this test binary is its own worker (the test
//! `worker_entry`, run by the pool with `--exact worker_entry`, serves requests when
//! `CAIRN_TEST_WORKER` says how). Hostile behaviour (a crash, an endless loop, a memory blow-up)
//! is played by the worker itself, so each failure mode is exercised deterministically on a
//! real process; the real parsers' hostile inputs are tested through the `cairn` binary in
//! tests/hostile.rs.

use std::path::Path;
use std::time::{Duration, Instant};

use cairn_core::parse::isolate::{serve_worker, Limits, WorkerCommand, WorkerPool};
use cairn_core::stop::StopToken;
use cairn_core::Error;

const MODE: &str = "CAIRN_TEST_WORKER";

/// Not a test of its own: the worker mode of this binary.
#[test]
fn worker_entry() {
    // Only a worker started by a pool (named on its command line) serves.
    let started_as_worker = std::env::args().any(|a| a == "worker_entry");
    let Ok(mode) = std::env::var(MODE) else {
        return;
    };
    if !started_as_worker {
        return;
    }
    match mode.as_str() {
        "serve" => std::process::exit(serve_worker()),
        // Never answers.
        "hang" => loop {
            std::thread::sleep(Duration::from_secs(60));
        },
        // Dies like a parser whose recursion overflowed the stack.
        "overflow" => {
            eprintln!(
                "\nthread 'main' has overflowed its stack\nfatal runtime error: stack overflow"
            );
            std::process::abort();
        }
        // Limits its memory like a worker, then allocates far more.
        "hog" => {
            cairn_core::parse::isolate::limit_memory(64 << 20);
            let mut v: Vec<Vec<u8>> = Vec::new();
            for _ in 0..64 {
                v.push(vec![1u8; 64 << 20]);
            }
            std::process::exit(v.len() as i32);
        }
        other => panic!("unknown worker mode {other}"),
    }
}

fn pool(mode: &str, timeout: Duration) -> WorkerPool {
    std::env::set_var(MODE, mode);
    let command = WorkerCommand::current_exe(&["--exact", "worker_entry", "--nocapture"]).unwrap();
    WorkerPool::new(
        command,
        Limits {
            timeout,
            memory_bytes: 256 << 20,
        },
    )
}

fn reason(r: cairn_core::Result<cairn_core::parse::ParsedDoc>) -> String {
    match r {
        Err(Error::Parse { reason, .. }) => reason,
        other => panic!("expected a parse failure, got {other:?}"),
    }
}

const HTML: &str = "<html><head><title>Refunds</title></head><body><h1>Refunds</h1>\
    <p>Goods may be returned within fourteen days.</p></body></html>";

// The environment variable selects the worker's mode, so these run one at a time in one test.
#[test]
fn workers_parse_and_survive_crashes_hangs_and_memory_blowups() {
    let path = Path::new("/tmp/policy.html");

    // A worker gives the same document as parsing in-process, and is reused.
    let p = pool("serve", Duration::from_secs(30));
    let expected = cairn_core::parse::parse(path, HTML.as_bytes()).unwrap();
    for _ in 0..3 {
        assert_eq!(p.parse(path, HTML.as_bytes()).unwrap(), expected);
    }
    // A parse failure is the parser's reason, and the worker lives on.
    let r = reason(p.parse(Path::new("/tmp/x.pdf"), b"%PDF-1.7 garbage"));
    assert!(!r.contains("crashed"), "{r}");
    assert_eq!(p.parse(path, HTML.as_bytes()).unwrap(), expected);

    // A worker that never answers is killed after the budget.
    let p = pool("hang", Duration::from_millis(1500));
    let t = Instant::now();
    let r = reason(p.parse(path, HTML.as_bytes()));
    assert!(r.contains("took longer than"), "{r}");
    assert!(t.elapsed() < Duration::from_secs(20));

    // A stop request ends a slow attempt at once: the worker is killed and the file is not
    // judged (Cancelled, not a parse failure).
    let p = pool("hang", Duration::from_secs(3600));
    let stop = StopToken::new();
    let stopper = stop.clone();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        stopper.stop();
    });
    let r = p.parse_until(path, HTML.as_bytes(), &stop);
    assert!(matches!(r, Err(Error::Cancelled)), "{r:?}");
    // An attempt asked to stop before it starts does not start.
    assert!(matches!(
        p.parse_until(path, HTML.as_bytes(), &stop),
        Err(Error::Cancelled)
    ));

    // A stack overflow is named as such.
    let p = pool("overflow", Duration::from_secs(30));
    let r = reason(p.parse(path, HTML.as_bytes()));
    assert_eq!(r, "parser crashed (stack overflow)");

    // Running out of its memory limit is named as such.
    let p = pool("hog", Duration::from_secs(30));
    let r = reason(p.parse(path, HTML.as_bytes()));
    assert!(r.contains("needs more than"), "{r}");

    // After all that, a healthy pool still works.
    let p = pool("serve", Duration::from_secs(30));
    assert_eq!(p.parse(path, HTML.as_bytes()).unwrap(), expected);
}
