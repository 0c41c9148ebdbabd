//! Versions, history, as-of search, deprecation, tags and conflicts, end to end with the real
//! binary, real files and the real embedding model (crash safety: tests/crash.rs).

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use cairn_tests::{cairn, cairn_ok, search_json};
use serde_json::Value;

fn json(data: &Path, args: &[&str]) -> Value {
    parse(&cairn_ok(data, args))
}

fn parse(out: &str) -> Value {
    serde_json::from_str(out)
        .or_else(|_| serde_json::from_str(out.lines().last().unwrap_or("")))
        .expect("JSON output")
}

fn paths(results: &[Value]) -> Vec<String> {
    results
        .iter()
        .map(|r| r["path"].as_str().unwrap_or("").to_owned())
        .collect()
}

#[test]
fn history_as_of_and_version_labels() {
    let tmp = tempfile::tempdir().unwrap();
    let lib = tmp.path().join("lib");
    std::fs::create_dir_all(&lib).unwrap();
    let doc = lib.join("pricing.md");
    std::fs::write(
        &doc,
        "# Pricing\n\nThe basic plan costs nine dollars per month.\n",
    )
    .unwrap();
    let data = tmp.path().join("data");
    cairn_ok(&data, &["add", lib.to_str().unwrap()]);
    cairn_ok(&data, &["index"]);
    std::thread::sleep(Duration::from_millis(1100));
    let between = chrono_now();
    std::thread::sleep(Duration::from_millis(1100));
    std::fs::write(
        &doc,
        "# Pricing\n\nThe basic plan costs twelve dollars per month.\n",
    )
    .unwrap();
    cairn_ok(&data, &["index"]);
    std::fs::write(
        &doc,
        "# Pricing\n\nThe basic plan costs twelve dollars per month.\n\n## Discounts\n\n\
         Students pay half price on every plan.\n",
    )
    .unwrap();
    cairn_ok(&data, &["index"]);

    let history = json(&data, &["history", doc.to_str().unwrap(), "--json"]);
    let versions = history.as_array().unwrap();
    assert_eq!(versions.len(), 3, "{history}");
    let statuses: Vec<&str> = versions
        .iter()
        .map(|v| v["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["superseded", "superseded", "current"]);
    assert!(versions[1]["chunks_added"].as_u64().unwrap() >= 1);
    assert!(versions[1]["chunks_removed"].as_u64().unwrap() >= 1);
    assert!(versions[0]["retired_at"].is_number() && versions[2]["retired_at"].is_null());
    let human = cairn_ok(&data, &["history", doc.to_str().unwrap()]);
    assert!(human.contains("v1") && human.contains("v3"), "{human}");

    // Current state: only the new price.
    let r = search_json(&data, &["--mode", "bm25", "basic plan nine dollars"]);
    assert!(
        r.iter()
            .all(|h| !h["snippet"].as_str().unwrap().contains("nine")),
        "{r:?}"
    );
    // The past state, labelled.
    let r = search_json(
        &data,
        &["--mode", "hybrid", "--as-of", &between, "basic plan price"],
    );
    assert_eq!(r.len(), 1, "{r:?}");
    assert!(
        r[0]["snippet"].as_str().unwrap().contains("nine dollars"),
        "{r:?}"
    );
    assert_eq!(r[0]["status"], "superseded");
    assert_eq!(r[0]["version"], 1);
    // All history, labelled.
    let r = search_json(
        &data,
        &["--mode", "bm25", "--history", "basic plan dollars"],
    );
    let labels: Vec<(i64, &str)> = r
        .iter()
        .map(|h| {
            (
                h["version"].as_i64().unwrap(),
                h["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert!(
        labels.contains(&(1, "superseded")) && labels.contains(&(3, "current")),
        "{labels:?}"
    );
    let human = cairn_ok(
        &data,
        &["search", "--history", "--mode", "bm25", "nine dollars"],
    );
    assert!(human.contains("[SUPERSEDED]"), "{human}");

    // Deleted documents stay in history.
    std::fs::remove_file(&doc).unwrap();
    cairn_ok(&data, &["index"]);
    assert!(search_json(&data, &["--mode", "bm25", "students half price"]).is_empty());
    let history = json(&data, &["history", doc.to_str().unwrap(), "--json"]);
    assert_eq!(history[2]["status"], "deleted", "{history}");
}

#[test]
fn an_edit_that_keeps_size_and_mtime_is_still_a_new_version() {
    // A file rewritten with the same size within one tick of the file system's clock keeps its
    // modification time (simulated exactly here by restoring it): the indexer must not trust a
    // stat taken so close to reading the file, and hash it again on the next run.
    let tmp = tempfile::tempdir().unwrap();
    let lib = tmp.path().join("lib");
    std::fs::create_dir_all(&lib).unwrap();
    let doc = lib.join("pet.md");
    let data = tmp.path().join("data");
    cairn_ok(&data, &["add", lib.to_str().unwrap()]);
    // Written just before it is indexed, as an editor's save followed by the indexer.
    std::fs::write(&doc, "The cat sleeps by the stove.\n").unwrap();
    cairn_ok(&data, &["index", "--no-embed"]);
    let stamp = std::fs::metadata(&doc).unwrap().modified().unwrap();
    std::fs::write(&doc, "The dog sleeps by the stove.\n").unwrap();
    std::fs::File::options()
        .write(true)
        .open(&doc)
        .unwrap()
        .set_modified(stamp)
        .unwrap();
    assert_eq!(std::fs::metadata(&doc).unwrap().modified().unwrap(), stamp);
    cairn_ok(&data, &["index", "--no-embed"]);
    let dog = search_json(&data, &["--mode", "bm25", "dog"]);
    assert_eq!(
        paths(&dog),
        [doc.to_str().unwrap()],
        "the new text is found"
    );
    let cat = search_json(&data, &["--mode", "bm25", "cat"]);
    assert!(
        cat.is_empty(),
        "the superseded text is not retrieved: {cat:?}"
    );

    // Once its mtime is well in the past the stat is trusted again: no further versions.
    let old = std::time::SystemTime::now() - Duration::from_secs(3600);
    std::fs::File::options()
        .write(true)
        .open(&doc)
        .unwrap()
        .set_modified(old)
        .unwrap();
    cairn_ok(&data, &["index", "--no-embed"]);
    let again = json(&data, &["index", "--no-embed", "--json"]);
    assert_eq!(again["files_unchanged"], 1, "{again}");
    assert_eq!(again["new_versions"], 0, "{again}");
}

fn chrono_now() -> String {
    // RFC 3339 in UTC without pulling a date crate into the tests.
    let out = Command::new("date")
        .args(["-u", "+%Y-%m-%dT%H:%M:%SZ"])
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

#[test]
fn deprecation_tags_and_conflicts() {
    let tmp = tempfile::tempdir().unwrap();
    let lib = tmp.path().join("lib");
    std::fs::create_dir_all(lib.join("archive")).unwrap();
    std::fs::create_dir_all(lib.join("hr")).unwrap();
    let old = lib.join("hr/leave-2023.md");
    let new = lib.join("hr/leave-2025.md");
    std::fs::write(
        &old,
        "# Parental leave\n\nEmployees are entitled to twelve weeks of paid parental leave, \
         requested through the HR portal at least one month in advance.\n",
    )
    .unwrap();
    std::fs::write(
        &new,
        "# Parental leave\n\nEmployees are entitled to sixteen weeks of paid parental leave, \
         requested through the HR portal at least one month in advance.\n",
    )
    .unwrap();
    std::fs::write(
        lib.join("archive/old-canteen.md"),
        "# Canteen\n\nThe canteen serves breakfast from seven o'clock.\n",
    )
    .unwrap();
    std::fs::write(
        lib.join("parking.md"),
        "# Parking\n\nVisitor parking is on level two.\n",
    )
    .unwrap();
    let data = tmp.path().join("data");
    cairn_ok(&data, &["add", lib.to_str().unwrap()]);
    cairn_ok(&data, &["index"]);

    // The two leave policies conflict: near-identical passages that differ.
    let status = json(&data, &["status", "--json"]);
    let conflicts = status["conflicts"].as_array().unwrap();
    assert_eq!(conflicts.len(), 1, "{status}");
    let pair = format!("{} {}", conflicts[0]["path_a"], conflicts[0]["path_b"]);
    assert!(
        pair.contains("leave-2023.md") && pair.contains("leave-2025.md"),
        "{pair}"
    );

    // Deprecate the old one, superseded by the new one: it leaves results by default.
    cairn_ok(
        &data,
        &[
            "deprecate",
            old.to_str().unwrap(),
            "--superseded-by",
            new.to_str().unwrap(),
            "--reason",
            "replaced by the 2025 policy",
        ],
    );
    let r = search_json(&data, &["-n", "20", "parental leave weeks"]);
    assert!(
        !paths(&r).iter().any(|p| p.ends_with("leave-2023.md")),
        "{r:?}"
    );
    assert!(paths(&r).iter().any(|p| p.ends_with("leave-2025.md")));
    let r = search_json(
        &data,
        &["-n", "20", "--include-deprecated", "parental leave weeks"],
    );
    let dep = r
        .iter()
        .find(|h| h["path"].as_str().unwrap().ends_with("leave-2023.md"))
        .expect("deprecated document shown when asked");
    assert_eq!(dep["deprecated"]["reason"], "replaced by the 2025 policy");
    assert!(dep["deprecated"]["superseded_by"]
        .as_str()
        .unwrap()
        .ends_with("leave-2025.md"));
    let human = cairn_ok(&data, &["search", "--include-deprecated", "twelve weeks"]);
    assert!(
        human.contains("DEPRECATED") && human.contains("superseded by"),
        "{human}"
    );
    let status = cairn_ok(&data, &["status"]);
    assert!(status.contains("replaced by the 2025 policy"), "{status}");

    // A pattern rule deprecates a folder named archive.
    cairn_ok(
        &data,
        &[
            "deprecate",
            "--pattern",
            "**/archive/**",
            "--reason",
            "archived",
        ],
    );
    assert!(search_json(&data, &["--mode", "bm25", "canteen breakfast"]).is_empty());
    cairn_ok(&data, &["undeprecate", "**/archive/**"]);
    assert_eq!(
        search_json(&data, &["--mode", "bm25", "canteen breakfast"]).len(),
        1
    );
    cairn_ok(&data, &["undeprecate", old.to_str().unwrap()]);
    let r = search_json(&data, &["--mode", "bm25", "twelve weeks"]);
    assert!(paths(&r).iter().any(|p| p.ends_with("leave-2023.md")));
    let out = cairn(&data, &["undeprecate", old.to_str().unwrap()]);
    assert!(!out.status.success());

    // Tags on a folder and a document filter search.
    cairn_ok(&data, &["tag", lib.join("hr").to_str().unwrap(), "people"]);
    cairn_ok(
        &data,
        &[
            "tag",
            lib.join("parking.md").to_str().unwrap(),
            "facilities",
        ],
    );
    let r = search_json(
        &data,
        &["--mode", "bm25", "--tag", "people", "leave parking"],
    );
    assert!(
        !r.is_empty() && paths(&r).iter().all(|p| p.contains("/hr/")),
        "{r:?}"
    );
    let r = search_json(
        &data,
        &["--mode", "bm25", "--tag", "facilities", "leave parking"],
    );
    assert_eq!(paths(&r).len(), 1);
    assert!(paths(&r)[0].ends_with("parking.md"));
    cairn_ok(&data, &["untag", lib.join("parking.md").to_str().unwrap()]);
    assert!(search_json(&data, &["--mode", "bm25", "--tag", "facilities", "parking"]).is_empty());
    let out = cairn(
        &data,
        &["tag", tmp.path().join("elsewhere").to_str().unwrap(), "x"],
    );
    assert!(!out.status.success());
}
