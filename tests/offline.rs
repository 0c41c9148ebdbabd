//! Proven offline: add, index, search and a local-model answer run inside a network namespace
//! without interfaces, under a syscall tracer, and make no connection attempt at all (no
//! AF_INET/AF_INET6 socket is connected or sent to). With a remote endpoint configured, the
//! only address contacted is that endpoint's. Nothing is written outside the data directory
//! (ONNX Runtime's telemetry would create ~/.cache/Microsoft).
//!
//! Needs `strace` (scripts/setup.sh installs it) and, for the namespace, root or unprivileged
//! user namespaces; without a namespace the tracer alone is the proof.

use std::path::{Path, PathBuf};
use std::process::Command;

use cairn_tests::cairn_bin;

/// Runs `cairn ARGS` traced (and in a fresh network namespace when possible); returns the
/// trace's lines about network sockets and whether a namespace was used.
fn traced(data: &Path, home: &Path, args: &[&str]) -> (Vec<String>, bool) {
    let log = data.with_extension(format!("trace-{}", args[0]));
    let mut strace: Vec<String> = [
        "strace",
        "--seccomp-bpf",
        "-f",
        "-qq",
        "-e",
        "trace=connect,sendto,sendmsg,sendmmsg",
        "-o",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    strace.push(log.display().to_string());
    strace.push(cairn_bin().display().to_string());
    strace.push("--data-dir".into());
    strace.push(data.display().to_string());
    strace.extend(args.iter().map(|s| s.to_string()));
    let namespace = Command::new("unshare")
        .args(["-n", "true"])
        .status()
        .is_ok_and(|s| s.success());
    let mut cmd = if namespace {
        let mut c = Command::new("unshare");
        c.arg("-n").arg("--").args(&strace);
        c
    } else {
        let mut c = Command::new(&strace[0]);
        c.args(&strace[1..]);
        c
    };
    let out = cmd
        .env("HOME", home)
        .env("XDG_CACHE_HOME", home.join(".cache"))
        .env_remove("CAIRN_CONFIG")
        .env_remove("ORT_DISABLE_TELEMETRY")
        .output()
        .expect("strace runs (apt-get install strace; scripts/setup.sh does)");
    assert!(
        out.status.success(),
        "cairn {args:?} failed under strace: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let trace = std::fs::read_to_string(&log).unwrap();
    let net = trace
        .lines()
        .filter(|l| l.contains("AF_INET") || l.contains("sin_port") || l.contains("sin6_port"))
        .map(str::to_owned)
        .collect();
    (net, namespace)
}

/// Every file under `dir`, relative.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(dir).unwrap().to_path_buf());
            }
        }
    }
    out
}

#[test]
fn add_index_search_and_a_local_answer_make_no_connection() {
    let tmp = tempfile::tempdir().unwrap();
    let docs = tmp.path().join("docs");
    std::fs::create_dir_all(&docs).unwrap();
    std::fs::write(
        docs.join("keeper.md"),
        "# Lighthouse\n\nThe lighthouse keeper logs fog signals every night at nine.\n",
    )
    .unwrap();
    cairn_tests::write_pdf(
        &docs.join("harbour.pdf"),
        &[&["The harbour master opens the gates at dawn."]],
    )
    .unwrap();
    let home = tmp.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let data = tmp.path().join("data");
    let mut namespaced = true;
    for args in [
        vec!["add", docs.to_str().unwrap()],
        vec!["index"],
        vec!["search", "fog signals"],
        vec![
            "ask",
            "--provider",
            "local",
            "When does the keeper log fog signals?",
        ],
    ] {
        let (net, ns) = traced(&data, &home, &args);
        namespaced &= ns;
        assert!(
            net.is_empty(),
            "cairn {args:?} tried the network:\n{}",
            net.join("\n")
        );
    }
    println!("traced in a network namespace: {namespaced}");
    let written = files_under(&home);
    assert!(
        written.is_empty(),
        "written outside the data directory: {written:?}"
    );
}

#[test]
fn with_a_remote_endpoint_only_that_endpoint_is_contacted() {
    let tmp = tempfile::tempdir().unwrap();
    let docs = tmp.path().join("docs");
    std::fs::create_dir_all(&docs).unwrap();
    std::fs::write(
        docs.join("keeper.txt"),
        "The keeper logs fog signals at nine.\n",
    )
    .unwrap();
    let home = tmp.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let data = tmp.path().join("data");
    cairn_tests::cairn_ok(&data, &["add", docs.to_str().unwrap()]);
    cairn_tests::cairn_ok(&data, &["index"]);
    // A loopback port nothing listens on: the attempt is what is traced (the answer fails).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let log = tmp.path().join("remote.trace");
    let out = Command::new("strace")
        .args(["--seccomp-bpf", "-f", "-qq", "-e", "trace=connect", "-o"])
        .arg(&log)
        .arg(cairn_bin())
        .arg("--data-dir")
        .arg(&data)
        .args(["ask", "--base-url", &format!("http://127.0.0.1:{port}/v1")])
        .args(["--model", "any", "When are fog signals logged?"])
        .env("HOME", &home)
        .env_remove("CAIRN_CONFIG")
        .env_remove("ORT_DISABLE_TELEMETRY")
        .output()
        .expect("strace runs");
    let trace = std::fs::read_to_string(&log).unwrap();
    let connects: Vec<&str> = trace.lines().filter(|l| l.contains("AF_INET")).collect();
    assert!(
        !connects.is_empty(),
        "no attempt to reach the endpoint: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let endpoint = format!("sin_port=htons({port}), sin_addr=inet_addr(\"127.0.0.1\")");
    for c in &connects {
        assert!(c.contains(&endpoint), "a connection to something else: {c}");
    }
}
