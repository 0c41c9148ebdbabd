//! `cairn ask`, `cairn audit` and `cairn pin`, end to end with the real binary, real files and
//! the real embedding model. No answer model is configured here, so `ask` answers
//! extractively (and says so); generative answers are tested in cairn-core and cairn-llm.

use std::path::Path;

use cairn_tests::{build_library, cairn, cairn_ok};
use serde_json::Value;

fn json(out: &str) -> Value {
    serde_json::from_str(out.trim()).expect("one JSON document")
}

fn ask(data: &Path, args: &[&str]) -> Value {
    let mut all = vec!["ask", "--json"];
    all.extend_from_slice(args);
    json(&cairn_ok(data, &all))
}

fn indexed_library(root: &Path) -> std::path::PathBuf {
    let lib = build_library(root).unwrap();
    let data = root.join("data");
    cairn_ok(&data, &["add", lib.to_str().unwrap()]);
    cairn_ok(&data, &["index"]);
    data
}

#[test]
fn extractive_answers_cite_their_sources_and_are_audited() {
    let tmp = tempfile::tempdir().unwrap();
    let data = indexed_library(tmp.path());

    let a = ask(
        &data,
        &["--extractive", "What is the daily meal allowance abroad?"],
    );
    assert_eq!(a["abstained"], false, "{a}");
    assert_eq!(a["mode"], "extractive");
    assert_eq!(a["template_version"], "answer-v1");
    let text = a["text"].as_str().unwrap();
    assert!(text.contains("45 euros"), "{text}");
    let sources = a["sources"].as_array().unwrap();
    assert!(sources[0]["path"]
        .as_str()
        .unwrap()
        .ends_with("handbook/onboarding.md"));
    let citations = a["citations"].as_array().unwrap();
    assert!(!citations.is_empty());
    for c in citations {
        assert_eq!(c["verdict"], "supported", "{c}");
        assert!(c["path"].is_string() && c["version"] == 1, "{c}");
        assert_eq!(c["byte_span"].as_array().unwrap().len(), 2);
    }
    assert!(a["sentences"]
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["uncited"] == false));

    // Without --extractive and without a configured model: extractive, and it says so.
    let out = cairn(
        &data,
        &["ask", "Who won the football world cup final in 1998?"],
    );
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("answering extractively"), "{stderr}");
    assert!(stdout.starts_with("I don't know"), "{stdout}");
    assert!(stdout.contains("Nearest passages:"), "{stdout}");

    // The human form lists sources with verdict marks.
    let human = cairn_ok(
        &data,
        &[
            "ask",
            "--extractive",
            "How long do customers have to return goods?",
        ],
    );
    assert!(human.contains("fourteen days"), "{human}");
    assert!(human.contains("Sources:"), "{human}");
    assert!(
        human.contains("refunds.html") && human.contains("✓ supported"),
        "{human}"
    );

    let list = json(&cairn_ok(&data, &["audit", "list", "--json"]));
    let rows = list.as_array().unwrap();
    assert_eq!(rows.len(), 3, "{list}");
    assert_eq!(
        rows[0]["question"],
        "How long do customers have to return goods?"
    );
    assert_eq!(rows[1]["abstained"], true);
    assert_eq!(rows[2]["abstained"], false);
    let id = rows[2]["id"].as_i64().unwrap().to_string();
    let rec = json(&cairn_ok(&data, &["audit", "show", &id, "--json"]));
    assert_eq!(rec["question"], "What is the daily meal allowance abroad?");
    assert_eq!(rec["template_version"], "answer-v1");
    assert_eq!(rec["mode"], "extractive");
    assert!(rec["model_id"].is_null());
    assert!(!rec["retrieved"].as_array().unwrap().is_empty());
    assert!(rec["timings"]["retrieval_ms"].as_f64().unwrap() > 0.0);
    assert_eq!(rec["citations"], a["citations"]);
    let human = cairn_ok(&data, &["audit", "show", &id]);
    assert!(
        human.contains("answer-v1") && human.contains("retrieved"),
        "{human}"
    );
    let export = json(&cairn_ok(&data, &["audit", "export", "--json"]));
    assert_eq!(export.as_array().unwrap().len(), 3);
    let missing = cairn(&data, &["audit", "show", "999"]);
    assert_eq!(missing.status.code(), Some(1));
}

#[test]
fn conversations_and_pins() {
    let tmp = tempfile::tempdir().unwrap();
    let data = indexed_library(tmp.path());

    let first = ask(
        &data,
        &[
            "--extractive",
            "--new-session",
            "What is the refund policy for goods?",
        ],
    );
    let session = first["session"]
        .as_i64()
        .expect("a new conversation")
        .to_string();
    let second = ask(
        &data,
        &[
            "--extractive",
            "--session",
            &session,
            "And what about groceries?",
        ],
    );
    assert_eq!(
        second["rewritten_query"], "And what about groceries? refund policy goods",
        "{second}"
    );
    assert!(
        second["text"]
            .as_str()
            .unwrap()
            .contains("Perishable groceries"),
        "{second}"
    );
    let bad = cairn(&data, &["ask", "--session", "4242", "anything at all"]);
    assert_eq!(bad.status.code(), Some(1));

    let out = cairn_ok(
        &data,
        &["pin", "add", "The", "fiscal year starts in April."],
    );
    assert!(out.contains("pinned fact 1"), "{out}");
    let pins = json(&cairn_ok(&data, &["pin", "list", "--json"]));
    assert_eq!(pins[0]["text"], "The fiscal year starts in April.");
    cairn_ok(&data, &["pin", "remove", "1"]);
    assert_eq!(cairn_ok(&data, &["pin", "list"]).trim(), "no pinned facts");
    assert_eq!(cairn(&data, &["pin", "remove", "1"]).status.code(), Some(1));
}
