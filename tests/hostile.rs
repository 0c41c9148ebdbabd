//! A hostile folder through the real `cairn` binary: files that crash, hang or blow up parsers,
//! links that lead out of the folder or into the system, special files. Indexing must end with
//! every file indexed or reported with a reason, nothing from outside the folder, and a second
//! run that changes nothing.

use std::path::Path;
use std::process::Command;

use cairn_tests::{cairn_ok, search_json, write_hostile_folder};
use serde_json::Value;

fn problems(data: &Path) -> Vec<(String, String)> {
    let status: Value = serde_json::from_str(&cairn_ok(data, &["status", "--json"])).unwrap();
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
    let docs = |s: &str| {
        let v: Value = serde_json::from_str(s).unwrap();
        (
            v["stats"]["current_documents"].clone(),
            v["stats"]["versions"].clone(),
            v["problems"].as_array().map(|a| a.len()),
        )
    };
    assert_eq!(docs(&before), docs(&after));
    let check = Command::new(cairn_tests::cairn_bin())
        .arg("--data-dir")
        .arg(&data)
        .arg("check")
        .output()
        .unwrap();
    assert!(check.status.success(), "{check:?}");
}
