//! `cairn eval --answers` end to end, one bounded run per answer mode: extractive, the local
//! SmolLM2 GGUF in-process, and the same model behind a real OpenAI-compatible server
//! (llama-cpp-python). The data set is a hand-made BEIR-layout set with gold answers, written
//! here; the tiny model's answers are poor, so the generative runs check the report's shape
//! and bounds, and the extractive run checks exact figures.

use std::path::{Path, PathBuf};

use cairn_tests::llm::{cairn_env, local_model, OpenAiServer, SERVER_KEY};
use cairn_tests::{build_library, cairn, cairn_ok};
use serde_json::Value;

/// Four questions: three answered by their paragraph, one whose paragraph is not in the
/// corpus (the right answer is "I don't know").
fn answer_set(root: &Path) -> PathBuf {
    let dir = root.join("set");
    std::fs::create_dir_all(dir.join("qrels")).unwrap();
    let docs = [
        ("d1", "Lighthouses", "The Fastnet lighthouse was completed in 1904. It stands on a rock off the coast of County Cork and its light can be seen for twenty-seven nautical miles."),
        ("d2", "Bridges", "The Harbour Bridge was designed by John Bradfield. It carries eight lanes of road traffic and two railway lines across the harbour."),
        ("d3", "Bees", "A worker honey bee lives for about six weeks in summer. During that time it visits thousands of flowers to collect nectar and pollen for the hive."),
        ("d4", "Glaciers", "Glaciers move slowly downhill under their own weight. Their ice scrapes the valley floor and leaves long ridges of rock behind."),
    ];
    let corpus: String = docs
        .iter()
        .map(|(id, title, text)| {
            format!(
                "{}\n",
                serde_json::json!({"_id": id, "title": title, "text": text})
            )
        })
        .collect();
    std::fs::write(dir.join("corpus.jsonl"), corpus).unwrap();
    let questions = [
        (
            "q1",
            "When was the Fastnet lighthouse completed?",
            "d1",
            vec!["1904"],
        ),
        (
            "q2",
            "Who designed the Harbour Bridge?",
            "d2",
            vec!["John Bradfield", "Bradfield"],
        ),
        (
            "q3",
            "How long does a worker honey bee live in summer?",
            "d3",
            vec!["about six weeks", "six weeks"],
        ),
        (
            "q4",
            "What is the boiling point of liquid nitrogen in kelvin?",
            "gone",
            vec!["77"],
        ),
    ];
    let mut queries = String::new();
    let mut qrels = String::from("query-id\tcorpus-id\tscore\n");
    let mut answers = String::new();
    for (id, text, doc, golds) in &questions {
        queries.push_str(&format!(
            "{}\n",
            serde_json::json!({"_id": id, "text": text})
        ));
        qrels.push_str(&format!("{id}\t{doc}\t1\n"));
        answers.push_str(&format!(
            "{}\n",
            serde_json::json!({"_id": id, "answers": golds})
        ));
    }
    std::fs::write(dir.join("queries.jsonl"), queries).unwrap();
    std::fs::write(dir.join("qrels/test.tsv"), qrels).unwrap();
    std::fs::write(dir.join("answers.jsonl"), answers).unwrap();
    dir
}

fn report(data: &Path, args: &[&str], env: &[(&str, &str)]) -> Value {
    let mut all = vec!["eval", "--answers", "--json"];
    all.extend_from_slice(args);
    let out = cairn_env(data, &all, env);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "cairn {all:?}:\n{stderr}");
    let r: Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    println!("cairn {all:?}:\n{r}");
    r
}

fn unit(r: &Value, key: &str) -> f64 {
    let v = r[key]
        .as_f64()
        .unwrap_or_else(|| panic!("{key} is a number: {r}"));
    assert!((0.0..=1.0).contains(&v), "{key} = {v}");
    v
}

/// What every report holds, whatever the mode.
fn check_shape(r: &Value, queries: u64) {
    assert_eq!(r["queries"], queries, "{r}");
    for key in [
        "exact_match",
        "f1",
        "answer_contained",
        "answer_in_sources",
        "answered_when_answerable",
    ] {
        unit(r, key);
    }
    // An exact match is also contained.
    assert!(unit(r, "exact_match") <= unit(r, "answer_contained"), "{r}");
    assert!(r["latency_p50_ms"].as_f64().unwrap() > 0.0, "{r}");
    assert_eq!(r["template_version"], "answer-v1");
    assert!(r["reranker"].is_null());
    assert_eq!(r["failed"], 0, "{r}");
}

#[test]
fn extractive_answers_are_scored_on_a_dataset_and_on_a_question_file() {
    let tmp = tempfile::tempdir().unwrap();
    let set = answer_set(tmp.path());
    let data = tmp.path().join("data");
    let set_arg = set.to_str().unwrap();
    let r = report(&data, &["--dataset", set_arg, "--extractive"], &[]);
    check_shape(&r, 4);
    assert_eq!(r["mode"], "extractive");
    assert_eq!(
        (r["answerable"].as_u64(), r["unanswerable"].as_u64()),
        (Some(3), Some(1))
    );
    // Each answer sentence is in its source, quoted verbatim: found, cited, supported.
    assert_eq!(unit(&r, "answer_in_sources"), 1.0, "{r}");
    assert_eq!(unit(&r, "answer_contained"), 1.0, "{r}");
    assert_eq!(unit(&r, "citation_precision"), 1.0, "{r}");
    assert_eq!(unit(&r, "citation_recall"), 1.0, "{r}");
    assert_eq!(unit(&r, "unsupported_sentence_rate"), 0.0, "{r}");
    unit(&r, "abstained_when_unanswerable");
    assert!(r["ttft_p50_ms"].is_null(), "no model, no first token: {r}");
    assert!(r["model"].is_null());

    // --max-queries spreads its sample over the set: 2 of 4 are q1 and q3.
    let r = report(
        &data,
        &["--dataset", set_arg, "--extractive", "--max-queries", "2"],
        &[],
    );
    check_shape(&r, 2);
    assert_eq!(
        (r["answerable"].as_u64(), r["unanswerable"].as_u64()),
        (Some(2), Some(0))
    );

    // A user's own questions, asked of the user's library.
    let lib = build_library(tmp.path()).unwrap();
    cairn_ok(&data, &["add", lib.to_str().unwrap()]);
    cairn_ok(&data, &["index"]);
    let csv = tmp.path().join("mine.csv");
    std::fs::write(
        &csv,
        "question,answer\n\"What is the daily meal allowance abroad?\",45 euros|forty-five euros\n\
         How long do customers have to return goods?,fourteen days\n",
    )
    .unwrap();
    let r = report(
        &data,
        &["--questions", csv.to_str().unwrap(), "--extractive"],
        &[],
    );
    check_shape(&r, 2);
    assert_eq!(r["dataset"], "mine.csv");
    assert_eq!(unit(&r, "answer_contained"), 1.0, "{r}");

    // A question file Cairn cannot read is named, with what to do.
    let bad = tmp.path().join("mine.txt");
    std::fs::write(&bad, "What?").unwrap();
    let out = cairn(
        &data,
        &["eval", "--answers", "--questions", bad.to_str().unwrap()],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("mine.txt") && stderr.contains(".csv or .jsonl"),
        "{stderr}"
    );
    // A dataset without gold answers is refused the same way.
    std::fs::remove_file(set.join("answers.jsonl")).unwrap();
    let out = cairn(
        &data,
        &["eval", "--answers", "--dataset", set_arg, "--extractive"],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("answers.jsonl"), "{stderr}");
}

/// The generative report: a model, a first token, answers scored.
fn check_generative(r: &Value) {
    check_shape(r, 2);
    assert_eq!(r["mode"], "generative", "{r}");
    assert!(r["ttft_p50_ms"].as_f64().unwrap() > 0.0, "{r}");
    assert!(r["latency_p95_ms"].as_f64().unwrap() >= r["latency_p50_ms"].as_f64().unwrap());
}

#[test]
fn local_model_answers_are_scored() {
    let tmp = tempfile::tempdir().unwrap();
    let set = answer_set(tmp.path());
    let data = tmp.path().join("data");
    cairn_tests::llm::write_config(
        &data,
        "[llm.local]\nthreads = 2\ncontext = 2048\n[answer.local]\nmax_tokens = 48\n",
    );
    let model = local_model();
    let r = report(
        &data,
        &[
            "--dataset",
            set.to_str().unwrap(),
            "--provider",
            "local",
            "--model",
            model.to_str().unwrap(),
            "--max-queries",
            "2",
        ],
        &[],
    );
    check_generative(&r);
    assert!(r["model"].as_str().unwrap().contains("SmolLM2"), "{r}");
    assert!(r["endpoint"].is_null());
}

#[test]
fn remote_answers_are_scored_against_a_real_openai_compatible_server() {
    let tmp = tempfile::tempdir().unwrap();
    let server = OpenAiServer::start(&local_model(), tmp.path().join("server.log"));
    let base = server.base_url();
    let set = answer_set(tmp.path());
    let data = tmp.path().join("data");
    cairn_tests::llm::write_config(
        &data,
        "[llm.remote]\napi_key_env = \"CAIRN_E2E_KEY\"\ntimeout_secs = 60\nmax_retries = 1\n\
         [answer]\nmax_tokens = 48\n",
    );
    let r = report(
        &data,
        &[
            "--dataset",
            set.to_str().unwrap(),
            "--base-url",
            &base,
            "--model",
            "smollm2",
            "--max-queries",
            "2",
        ],
        &[("CAIRN_E2E_KEY", SERVER_KEY)],
    );
    check_generative(&r);
    assert_eq!(r["endpoint"], base.as_str(), "{r}");
    assert_eq!(r["model"], format!("remote:{base}#smollm2"));
}
