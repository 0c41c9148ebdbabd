//! `cairn forget` through the binary, with the real embedding model: a document with a unique
//! canary string, in two versions, searched and quoted in an answer, is forgotten; then no
//! file in the data directory (catalog, write-ahead log, tantivy segments, usearch) holds the
//! canary, search finds nothing, the audit log shows the redaction, and a re-index leaves the
//! still-present file out until `cairn unforget`.

use std::path::{Path, PathBuf};

use cairn_tests::{build_library, cairn, cairn_ok, search_json};
use serde_json::Value;

const CANARY: &str = "qzv7canary";

/// Files under `dir` whose bytes hold `needle`.
fn holding(dir: &Path, needle: &[u8]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(holding(&p, needle));
        } else if std::fs::read(&p)
            .unwrap()
            .windows(needle.len())
            .any(|w| w == needle)
        {
            out.push(p);
        }
    }
    out
}

fn vault_hits(data: &Path, mode: &str) -> usize {
    search_json(
        data,
        &["--mode", mode, "vault code archive room", "-n", "20"],
    )
    .iter()
    .filter(|h| h["path"].as_str().unwrap_or("").ends_with("vault.md"))
    .count()
}

#[test]
fn a_forgotten_document_leaves_no_byte_in_the_data_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let lib = build_library(tmp.path()).unwrap();
    let data = tmp.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(
        data.join("config.toml"),
        "[llm]\nprovider = \"none\"\n[answer]\nabstain_threshold = 0.0\n",
    )
    .unwrap();
    let vault = lib.join("vault.md");
    std::fs::write(
        &vault,
        "# Vault\n\nThe vault code qzv7canary opens the archive room of the tower.\n",
    )
    .unwrap();
    cairn_ok(&data, &["add", lib.to_str().unwrap()]);
    cairn_ok(&data, &["index"]);
    std::fs::write(
        &vault,
        "# Vault\n\nThe vault code qzv7canary opens the archive room of the tower on Mondays.\n",
    )
    .unwrap();
    cairn_ok(&data, &["index"]);
    assert_eq!(vault_hits(&data, "hybrid"), 1);
    let answer = cairn_ok(
        &data,
        &[
            "ask",
            "--json",
            "Which code opens the archive room of the tower?",
        ],
    );
    assert!(answer.contains(CANARY), "{answer}");
    assert!(!holding(&data, CANARY.as_bytes()).is_empty());

    let out = cairn_ok(&data, &["forget", vault.to_str().unwrap(), "--json"]);
    let report: Value = serde_json::from_str(out.trim()).expect("forget --json prints JSON");
    assert_eq!(report["versions"], 2, "{report}");
    assert_eq!(report["audit_records"], 1, "{report}");
    assert_eq!(report["excluded"], true, "{report}");
    assert_eq!(report["log_truncated"], true, "{report}");

    assert_eq!(holding(&data, CANARY.as_bytes()), Vec::<PathBuf>::new());
    assert_eq!(vault_hits(&data, "hybrid"), 0);
    let audit = cairn_ok(&data, &["audit", "export"]);
    assert!(!audit.contains(CANARY), "{audit}");
    assert!(audit.contains("[forgotten: "), "{audit}");
    let check = cairn(&data, &["check"]);
    assert!(check.status.success(), "{check:?}");

    // The file is still in the folder: indexing leaves it out until it is un-forgotten.
    cairn_ok(&data, &["index"]);
    assert_eq!(vault_hits(&data, "bm25"), 0);
    assert_eq!(holding(&data, CANARY.as_bytes()), Vec::<PathBuf>::new());
    let again = cairn(
        &data,
        &["unforget", lib.join("nothing.md").to_str().unwrap()],
    );
    assert!(!again.status.success());
    let out = cairn_ok(&data, &["unforget", vault.to_str().unwrap()]);
    assert!(out.contains("may be indexed again"), "{out}");
    cairn_ok(&data, &["index"]);
    assert_eq!(vault_hits(&data, "bm25"), 1);
}

#[test]
fn forget_says_what_it_did_and_refuses_a_path_cairn_does_not_know() {
    let tmp = tempfile::tempdir().unwrap();
    let lib = build_library(tmp.path()).unwrap();
    let data = tmp.path().join("data");
    cairn_ok(&data, &["add", lib.to_str().unwrap()]);
    cairn_ok(&data, &["index", "--no-embed"]);
    let out = cairn_ok(&data, &["forget", lib.join("handbook").to_str().unwrap()]);
    assert!(
        out.contains("forgot ") && out.contains("onboarding.md"),
        "{out}"
    );
    assert!(out.contains("cairn unforget"), "{out}");

    let missing = cairn(&data, &["forget", "/no/such/document.md"]);
    assert!(!missing.status.success());
    let err = String::from_utf8_lossy(&missing.stderr);
    assert!(err.contains("not a document or folder"), "{err}");
}
