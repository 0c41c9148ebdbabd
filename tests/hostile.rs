//! A hostile folder through the real `cairn` binary: files that crash, hang or blow up parsers,
//! links that lead out of the folder or into the system, special files. Indexing must end with
//! every file indexed or reported with a reason, nothing from outside the folder, and a second
//! run that changes nothing.

use std::path::Path;
use std::process::Command;

use cairn_tests::{cairn_ok, search_json, write_hostile_folder};
use serde_json::Value;

fn problems(data: &Path) -> Vec<(String, String)> {
    problems_in(&serde_json::from_str(&cairn_ok(data, &["status", "--json"])).unwrap())
}

/// (path, reason) of each problem in `cairn status --json`'s output.
fn problems_in(status: &Value) -> Vec<(String, String)> {
    status["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["path"].as_str().unwrap_or_default().to_owned(),
                p["reason"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// (current documents, versions, problems) from `cairn status --json`: what a run that
/// changes nothing leaves as it was.
fn counts(status_json: &str) -> (Value, Value, Option<usize>) {
    let v: Value = serde_json::from_str(status_json).unwrap();
    (
        v["stats"]["current_documents"].clone(),
        v["stats"]["versions"].clone(),
        v["problems"].as_array().map(|a| a.len()),
    )
}

fn reason_of<'a>(problems: &'a [(String, String)], name: &str) -> &'a str {
    problems
        .iter()
        .find(|(p, _)| p.ends_with(name))
        .map(|(_, r)| r.as_str())
        .unwrap_or_else(|| panic!("no problem reported for {name}: {problems:?}"))
}

#[test]
fn a_hostile_folder_is_indexed_or_reported_and_nothing_leaks() {
    let tmp = tempfile::tempdir().unwrap();
    let (lib, outside) = write_hostile_folder(tmp.path()).unwrap();
    let data = tmp.path().join("data");
    cairn_ok(&data, &["add", lib.to_str().unwrap()]);
    let started = std::time::Instant::now();
    let out = cairn_ok(&data, &["index"]);
    println!(
        "cairn index took {:.1} s:\n{out}",
        started.elapsed().as_secs_f64()
    );

    // The good documents are searchable, the linked copy only once.
    let hits = search_json(&data, &["--mode", "bm25", "lighthouse"]);
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert!(hits[0]["path"].as_str().unwrap().ends_with("good.md"));
    let pdf = search_json(&data, &["--mode", "bm25", "harbour"]);
    assert_eq!(pdf.len(), 1, "{pdf:?}");

    // Parsers that crash or recurse without end are isolated: reported, the run goes on.
    let p = problems(&data);
    for (path, reason) in &p {
        println!("problem: {path}: {reason}");
    }
    for name in ["self-xobject.pdf", "cyclic-pages.pdf"] {
        let r = reason_of(&p, name);
        assert!(!r.is_empty(), "{name}: {r}");
    }
    // The form that draws itself is refused before extraction, not by a crashing worker.
    assert!(reason_of(&p, "self-xobject.pdf").contains("draws itself"));
    assert!(reason_of(&p, "deep-nesting.pdf").contains("256 deep"));
    // Links out of the folder and into the system are not followed.
    assert!(
        reason_of(&p, "passwd-link.txt").contains("system files")
            || reason_of(&p, "passwd-link.txt").contains("outside")
    );
    assert!(reason_of(&p, "environ-link.txt").contains("system files"));
    assert!(reason_of(&p, "outside-dir").contains("outside"));
    assert!(reason_of(&p, "pipe.txt").contains("not a regular file"));
    // Too deeply nested HTML is refused at once instead of costing the parser minutes.
    assert!(reason_of(&p, "deep.html").contains("deep"));
    for canary in ["zebracanary", "root:x:0"] {
        assert!(
            search_json(&data, &["--mode", "bm25", canary]).is_empty(),
            "{canary} leaked into the index"
        );
    }
    assert!(outside.join("secret.txt").exists());

    // A second run changes nothing.
    let before = cairn_ok(&data, &["status", "--json"]);
    cairn_ok(&data, &["index"]);
    let after = cairn_ok(&data, &["status", "--json"]);
    let docs = counts;
    assert_eq!(docs(&before), docs(&after));
    let check = Command::new(cairn_tests::cairn_bin())
        .arg("--data-dir")
        .arg(&data)
        .arg("check")
        .output()
        .unwrap();
    assert!(check.status.success(), "{check:?}");
}

/// Runs `cairn` and returns its stdout and the peak resident memory (MB) of it and the
/// parse workers it ran (Linux folds reaped descendants into a child's `ru_maxrss`).
#[cfg(unix)]
// wait4 reaps the child (std's wait would lose its rusage).
#[allow(unsafe_code, clippy::zombie_processes)]
fn cairn_measured(data: &Path, args: &[&str]) -> (String, f64) {
    use std::io::Read;
    let mut child = Command::new(cairn_tests::cairn_bin())
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .env_remove("CAIRN_CONFIG")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    let mut status = 0;
    // SAFETY: wait4 reaps our own child and fills a zeroed rusage; std never waits on it after.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
    assert_eq!(pid, child.id() as libc::pid_t);
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "cairn {args:?}: {status}\n{out}"
    );
    (out, usage.ru_maxrss as f64 / 1024.0)
}

/// The counts in `cairn index`'s summary line: (seen, new, unchanged, unsupported, problems).
fn index_counts(out: &str) -> (u64, u64, u64, u64, u64) {
    let line = out
        .lines()
        .find(|l| l.contains("files seen"))
        .unwrap_or_else(|| panic!("no summary in {out}"));
    let n = |label: &str| -> u64 {
        let before = line.split(label).next().unwrap();
        before
            .trim_end()
            .rsplit([' ', ':', ','])
            .find(|w| !w.is_empty())
            .unwrap()
            .parse()
            .unwrap_or_else(|_| panic!("{label} in {line}"))
    };
    (
        n(" files seen"),
        n(" new versions"),
        n(" unchanged"),
        n(" unsupported"),
        n(" problems"),
    )
}

/// The generator's thousand-and-more hostile files through the real binary: no crash, no hang,
/// every file indexed or reported, memory under the bound, a second run that changes nothing.
#[cfg(unix)]
#[test]
fn a_thousand_hostile_files_are_indexed_or_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let lib = tmp.path().join("bulk");
    let bulk = cairn_tests::hostile_bulk::write_bulk(&lib, 1000, 0x00C0_FFEE).unwrap();
    let data = tmp.path().join("data");
    cairn_ok(&data, &["add", lib.to_str().unwrap()]);
    let started = std::time::Instant::now();
    let (out, peak) = cairn_measured(&data, &["index"]);
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{} files: cairn index took {secs:.1} s, peak RSS {peak:.0} MB\n{out}",
        bulk.files
    );
    let (seen, new, _, unsupported, problems) = index_counts(&out);
    // "Seen" counts the files read; links, sockets and devices the scan refuses are problems.
    assert!(
        new + unsupported + problems >= bulk.files as u64,
        "{} files written, {new} indexed, {unsupported} unsupported, {problems} problems: {out}",
        bulk.files
    );
    // The bound docs/security.md states for indexing a hostile folder.
    assert!(peak < 1024.0, "peak RSS {peak:.0} MB");

    // Every well-formed file is searchable; names are kept exactly, never merged.
    let names = search_json(
        &data,
        &["--mode", "bm25", "-n", "1000", "odd name kept exactly"],
    );
    let mut paths: Vec<&str> = names.iter().filter_map(|h| h["path"].as_str()).collect();
    let hits = paths.len();
    paths.sort();
    paths.dedup();
    assert_eq!(paths.len(), hits, "two hits share a shown path");
    assert_eq!(hits, 100, "{paths:#?}");
    for word in bulk.findable.iter().step_by(17) {
        assert_eq!(
            search_json(&data, &["--mode", "bm25", word]).len(),
            1,
            "{word} is not found once"
        );
    }
    // Nothing was executed.
    assert!(!Path::new("/tmp/cairn-pwned").exists());

    // What the problems were, by kind (the reason up to its first digit or parenthesis).
    let mut kinds = std::collections::BTreeMap::<String, usize>::new();
    for (_, reason) in self::problems(&data) {
        let kind: String = reason
            .chars()
            .take_while(|c| !c.is_ascii_digit() && *c != '(')
            .collect();
        *kinds.entry(kind.trim().to_owned()).or_default() += 1;
    }
    for (kind, n) in &kinds {
        println!("{n:5}  {kind}");
    }

    // A second run changes nothing.
    let status = counts;
    let before = cairn_ok(&data, &["status", "--json"]);
    let again = cairn_ok(&data, &["index"]);
    let (seen2, new2, _, _, _) = index_counts(&again);
    assert_eq!((seen2, new2), (seen, 0), "{again}");
    assert_eq!(
        status(&before),
        status(&cairn_ok(&data, &["status", "--json"]))
    );
    cairn_ok(&data, &["check"]);
}

/// Unreadable files and folders, as a normal user (root reads `chmod 000` files, so when the
/// tests run as root, `cairn` runs as `nobody` through `setpriv`): reported with a reason that
/// says what to do, the rest indexed, a second run the same.
#[cfg(unix)]
#[test]
fn unreadable_files_and_folders_are_reported_as_a_normal_user() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let docs = root.join("docs");
    std::fs::create_dir_all(docs.join("locked")).unwrap();
    std::fs::write(
        docs.join("readable.txt"),
        "The readable walrus naps on the pier.\n",
    )
    .unwrap();
    std::fs::write(docs.join("secret.txt"), "The hidden narwhal sings.\n").unwrap();
    std::fs::write(docs.join("locked/inner.txt"), "The locked narwhal hums.\n").unwrap();
    let mode = |p: &Path, m: u32| std::fs::set_permissions(p, std::fs::Permissions::from_mode(m));
    mode(root, 0o755).unwrap();
    mode(&docs, 0o755).unwrap();
    mode(&docs.join("readable.txt"), 0o644).unwrap();
    mode(&docs.join("secret.txt"), 0o000).unwrap();
    mode(&docs.join("locked"), 0o000).unwrap();
    let data = root.join("data");
    std::fs::create_dir_all(&data).unwrap();
    // SAFETY: geteuid has no preconditions.
    #[allow(unsafe_code)]
    let root_user = unsafe { libc::geteuid() } == 0;
    if root_user {
        std::os::unix::fs::chown(&data, Some(65534), Some(65534)).unwrap();
    }
    let run = |args: &[&str]| -> String {
        let mut cmd = if root_user {
            let mut c = Command::new("setpriv");
            c.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
                .arg(cairn_tests::cairn_bin());
            c
        } else {
            Command::new(cairn_tests::cairn_bin())
        };
        let out = cmd
            .arg("--data-dir")
            .arg(&data)
            .args(args)
            .env("HOME", &data)
            .env_remove("CAIRN_CONFIG")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "cairn {args:?}: {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    };
    run(&["add", docs.to_str().unwrap()]);
    let first = run(&["index"]);
    println!("{first}");
    let status: Value = serde_json::from_str(&run(&["status", "--json"])).unwrap();
    let problems = problems_in(&status);
    for name in ["secret.txt", "locked"] {
        let reason = reason_of(&problems, name);
        assert!(reason.contains("permission denied"), "{name}: {reason}");
    }
    let hits: Value =
        serde_json::from_str(&run(&["search", "--json", "--mode", "bm25", "walrus"])).unwrap();
    assert_eq!(hits["results"].as_array().unwrap().len(), 1);
    let hidden: Value =
        serde_json::from_str(&run(&["search", "--json", "--mode", "bm25", "narwhal"])).unwrap();
    assert!(hidden["results"].as_array().unwrap().is_empty());
    let again = run(&["index"]);
    assert!(again.contains(" 0 new versions"), "{again}");
    // Let the temporary directory be removed.
    mode(&docs.join("locked"), 0o755).unwrap();
}

/// Ctrl-C during a slow file (the real HTML parser on an attribute flood, given an hour's
/// budget) stops `cairn index` at once: the worker is killed, the run says it stopped early,
/// the file parsed beside it is kept and the slow file is not judged (no problem row).
#[cfg(unix)]
#[test]
fn ctrl_c_stops_a_slow_file_at_once_without_judging_it() {
    use std::time::{Duration, Instant};
    let tmp = tempfile::tempdir().unwrap();
    let docs = tmp.path().join("docs");
    std::fs::create_dir(&docs).unwrap();
    std::fs::write(docs.join("notes.txt"), "The ferry leaves at noon.").unwrap();
    // html5ever spends quadratic time on attributes: minutes for this one.
    let attrs: Vec<String> = (0..300_000).map(|k| format!("a{k}=\"{k}\"")).collect();
    let html = format!("<html><body><p {}>flood</p></body></html>", attrs.join(" "));
    std::fs::write(docs.join("slow.html"), html).unwrap();
    let data = tmp.path().join("data");
    cairn_ok(&data, &["add", docs.to_str().unwrap()]);
    std::fs::write(
        data.join("config.toml"),
        "[ingest]\nparse_timeout_seconds = 3600\n",
    )
    .unwrap();

    let mut child = Command::new(cairn_tests::cairn_bin())
        .arg("--data-dir")
        .arg(&data)
        .args(["index", "--no-embed"])
        .env_remove("CAIRN_CONFIG")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Let the worker take the slow file.
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        child.try_wait().unwrap().is_none(),
        "the slow file was not slow"
    );
    // SAFETY: sends SIGINT to our own child.
    #[allow(unsafe_code)]
    unsafe {
        libc::kill(child.id() as libc::pid_t, libc::SIGINT);
    }
    let interrupted = Instant::now();
    let deadline = interrupted + Duration::from_secs(30);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("Ctrl-C was held up by the slow file");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    println!(
        "stopped {:.2} s after Ctrl-C",
        interrupted.elapsed().as_secs_f64()
    );
    let mut out = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut out).unwrap();
    assert!(status.success(), "{status}\n{out}");
    assert!(out.contains("stopped early"), "{out}");

    let found = search_json(&data, &["--mode", "bm25", "ferry"]);
    assert!(
        found.iter().any(|h| h["path"]
            .as_str()
            .unwrap_or_default()
            .ends_with("notes.txt")),
        "{found:?}"
    );
    let problems = problems(&data);
    assert!(
        problems.iter().all(|(p, _)| !p.ends_with("slow.html")),
        "{problems:?}"
    );
}
