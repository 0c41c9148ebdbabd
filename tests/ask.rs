//! `cairn ask`, `cairn audit` and `cairn pin`, end to end with the real binary, real files and
//! the real embedding model; generative answers with the real SmolLM2-135M GGUF, in-process
//! (llama.cpp) and behind a real OpenAI-compatible server (llama-cpp-python, started here by
//! `src-tauri/crates/cairn-llm/tests/openai-server.sh`). The tiny model writes poor answers, so
//! the tests check structure and verification (citations mapped to file/version/span, verdicts,
//! audit records), never wording.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use cairn_tests::llm::{cairn_env, free_port, local_model, write_config, OpenAiServer, SERVER_KEY};
use cairn_tests::{build_library, cairn, cairn_bin, cairn_ok};
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

    // Without --extractive and without an answer model (provider none): extractive, and it
    // says so.
    let out = cairn(
        &data,
        &[
            "ask",
            "--provider",
            "none",
            "Who won the football world cup final in 1998?",
        ],
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

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Checks what every answer must satisfy: citations point at numbered sources, valid ones are
/// mapped to (file, version, byte span), verdicts are one of the three, and the sentence
/// index is in range.
fn assert_verified_structure(a: &Value) {
    let sources = a["sources"].as_array().unwrap();
    let sentences = a["sentences"].as_array().unwrap();
    for c in a["citations"].as_array().unwrap() {
        let verdict = c["verdict"].as_str().unwrap();
        assert!(
            ["supported", "unsupported", "invalid"].contains(&verdict),
            "{c}"
        );
        assert!(
            c["sentence"].as_u64().unwrap() < sentences.len() as u64,
            "{c}"
        );
        let n = c["n"].as_u64().unwrap();
        match sources.iter().find(|s| s["n"].as_u64() == Some(n)) {
            Some(s) => {
                assert_eq!(c["path"], s["path"], "{c}");
                assert_eq!(c["version"], s["version"], "{c}");
                assert_eq!(c["byte_span"], s["byte_span"], "{c}");
                assert_eq!(c["chunk_id"], s["chunk_id"], "{c}");
            }
            None => {
                // A citation of a source that was not in the prompt is never shown as valid.
                assert_eq!(verdict, "invalid", "{c}");
                assert!(c["path"].is_null(), "{c}");
            }
        }
    }
    for s in sources {
        assert!(Path::new(s["path"].as_str().unwrap()).is_absolute(), "{s}");
        assert!(s["version"].as_i64().unwrap() >= 1);
    }
}

#[test]
fn generative_answers_with_the_local_model_are_streamed_verified_and_audited() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    local_model();
    write_config(
        &data,
        "[llm]\nprovider = \"local\"\n[llm.local]\nthreads = 2\ncontext = 2048\n[answer.local]\nsources = 5\nmax_tokens = 96\n",
    );
    let data = indexed_library(tmp.path());

    // The human form: the answer streams to stdout as it is generated, then the sources.
    let mut child = Command::new(cairn_bin())
        .arg("--data-dir")
        .arg(&data)
        .args(["ask", "What is the daily meal allowance abroad?"])
        .env_remove("CAIRN_CONFIG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 1];
    stdout.read_exact(&mut first).expect("some answer text");
    let first_byte = started.elapsed();
    let mut rest = Vec::new();
    stdout.read_to_end(&mut rest).unwrap();
    let out = child.wait_with_output().unwrap();
    let total = started.elapsed();
    let human = format!("{}{}", first[0] as char, text(&rest));
    println!(
        "cairn ask (local SmolLM2, human form): first byte after {:.2} s, done after {:.2} s\n{human}",
        first_byte.as_secs_f64(),
        total.as_secs_f64()
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(human.contains("Sources:"), "{human}");
    assert!(human.contains("handbook/onboarding.md"), "{human}");
    assert!(
        human.contains("local:SmolLM2-135M-Instruct.Q4_1.gguf") && human.contains("answer-v1"),
        "{human}"
    );
    assert!(human.contains("first token"), "{human}");

    // The JSON form: the same pipeline, every citation verified and mapped.
    let a = ask(&data, &["What is the daily meal allowance abroad?"]);
    println!("{}", a["text"]);
    assert_eq!(a["mode"], "generative", "{a}");
    assert_eq!(a["abstained"], false, "{a}");
    assert_eq!(a["model_id"], "local:SmolLM2-135M-Instruct.Q4_1.gguf");
    assert!(a["endpoint"].is_null());
    assert_eq!(a["template_version"], "answer-v1");
    assert!(!a["text"].as_str().unwrap().trim().is_empty(), "{a}");
    let sources = a["sources"].as_array().unwrap();
    assert!(!sources.is_empty());
    assert!(sources.iter().any(|s| s["path"]
        .as_str()
        .unwrap()
        .ends_with("handbook/onboarding.md")));
    assert_verified_structure(&a);
    let t = &a["timings"];
    assert!(t["ttft_ms"].as_f64().unwrap() > 0.0, "{t}");
    assert!(t["completion_tokens"].as_u64().unwrap() > 0, "{t}");
    assert!(t["completion_tokens"].as_u64().unwrap() <= 96, "{t}");

    // A PDF: its source carries the page, and so do the citations of it.
    let pdf = ask(&data, &["How much did revenue grow in the annual report?"]);
    println!("{}", pdf["text"]);
    assert_verified_structure(&pdf);
    let pdf_sources: Vec<&Value> = pdf["sources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["path"].as_str().unwrap().ends_with("annual-report.pdf"))
        .collect();
    for s in &pdf_sources {
        assert!(s["page"].as_u64().unwrap() >= 1, "{s}");
    }
    let revenue = pdf_sources
        .iter()
        .find(|s| s["text"].as_str().unwrap().contains("Revenue grew"))
        .unwrap_or_else(|| panic!("the report's page 2 is a source: {pdf}"));
    assert_eq!(revenue["page"], 2, "{revenue}");
    for c in pdf["citations"].as_array().unwrap() {
        if c["n"] == revenue["n"] {
            assert_eq!(c["page"], 2, "{c}");
        }
    }

    // The audit record names the model and the prompt version, with what was retrieved.
    let id = a["audit_id"].as_i64().unwrap().to_string();
    let rec = json(&cairn_ok(&data, &["audit", "show", &id, "--json"]));
    assert_eq!(rec["mode"], "generative");
    assert_eq!(rec["model_id"], "local:SmolLM2-135M-Instruct.Q4_1.gguf");
    assert_eq!(rec["template_version"], "answer-v1");
    assert_eq!(rec["answer"], a["text"]);
    assert_eq!(rec["citations"], a["citations"]);
    assert!(!rec["retrieved"].as_array().unwrap().is_empty());
    let list = json(&cairn_ok(&data, &["audit", "list", "--json"]));
    assert_eq!(list.as_array().unwrap().len(), 3, "{list}");

    // No evidence: "I don't know" without calling the model (no model recorded).
    let none = ask(&data, &["Who won the football world cup final in 1998?"]);
    assert_eq!(none["abstained"], true, "{none}");
    assert_eq!(none["abstained_by"], "evidence");
    assert!(none["model_id"].is_null(), "{none}");
    assert!(none["timings"]["ttft_ms"].is_null());

    // A missing model file is named, with what to do; --extractive still answers.
    let out = cairn(
        &data,
        &[
            "ask",
            "--model",
            "/no/such/model.gguf",
            "What is the daily meal allowance abroad?",
        ],
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("/no/such/model.gguf"), "{stderr}");
    assert!(stderr.contains("models/fetch.sh"), "{stderr}");
    let e = ask(
        &data,
        &["--extractive", "What is the daily meal allowance abroad?"],
    );
    assert_eq!(e["mode"], "extractive");
    assert!(e["text"].as_str().unwrap().contains("45 euros"));
}

#[test]
fn remote_provider_against_a_real_openai_compatible_server() {
    let tmp = tempfile::tempdir().unwrap();
    let server = OpenAiServer::start(&local_model(), tmp.path().join("server.log"));
    let base = server.base_url();
    let data = tmp.path().join("data");
    write_config(
        &data,
        &format!(
            "[llm]\nprovider = \"remote\"\n[llm.remote]\nbase_url = \"{base}\"\nmodel = \"smollm2\"\n\
             api_key_env = \"CAIRN_E2E_KEY\"\ntimeout_secs = 60\nmax_retries = 1\n[answer]\nmax_tokens = 64\n"
        ),
    );
    let data = indexed_library(tmp.path());
    let key = [("CAIRN_E2E_KEY", SERVER_KEY)];
    let question = "How long do customers have to return goods?";

    let out = cairn_env(&data, &["ask", "--json", question], &key);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let a = json(&text(&out.stdout));
    println!("remote answer: {}", a["text"]);
    assert_eq!(a["mode"], "generative", "{a}");
    assert_eq!(a["abstained"], false, "{a}");
    assert_eq!(a["model_id"], format!("remote:{base}#smollm2"));
    assert_eq!(a["endpoint"], base);
    assert!(!a["text"].as_str().unwrap().trim().is_empty());
    assert!(a["sources"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["path"].as_str().unwrap().ends_with("refunds.html")));
    assert_verified_structure(&a);
    let rec = json(&cairn_ok(&data, &["audit", "show", "1", "--json"]));
    assert_eq!(rec["endpoint"], base);
    assert_eq!(rec["model_id"], a["model_id"]);
    assert_eq!(rec["template_version"], "answer-v1");

    // The human form streams, then lists the sources.
    let out = cairn_env(&data, &["ask", question], &key);
    let human = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        human.contains("Sources:") && human.contains("refunds.html"),
        "{human}"
    );
    let mut audited = 2;

    // Failures: clear message, what to do, exit 1. One before the prompt is sent (the
    // generator cannot be made, the server does not list the model) records nothing; one
    // after it (the server refused or never got the request) is an attempt the audit log
    // shows: `sent_to` is the endpoint then, and the new row's record is returned.
    let mut expect_failure =
        |args: &[&str],
         env: &[(&str, &str)],
         wants: &[&str],
         sent_to: Option<&str>|
         -> Option<Value> {
            let mut all = vec!["ask"];
            all.extend_from_slice(args);
            all.push(question);
            let started = Instant::now();
            let out = cairn_env(&data, &all, env);
            let stderr = text(&out.stderr);
            println!(
                "cairn {all:?} -> {:?} in {:.1} s:\n{stderr}",
                out.status.code(),
                started.elapsed().as_secs_f64()
            );
            assert_eq!(out.status.code(), Some(1), "{stderr}");
            assert!(stderr.contains("what to do:"), "{stderr}");
            for w in wants {
                assert!(stderr.contains(w), "{w:?} not in:\n{stderr}");
            }
            assert!(!stderr.contains(SERVER_KEY), "the key leaked:\n{stderr}");

            let list = json(&cairn_ok(&data, &["audit", "list", "--json"]));
            let rows = list.as_array().unwrap();
            let endpoint = sent_to?;
            audited += 1;
            assert_eq!(
                rows.len(),
                audited,
                "one row for the failed attempt: {list}"
            );
            let row = &rows[0];
            let error = row["error"].as_str().expect("the row has the error");
            assert!(error.contains(wants[0]), "{error}");
            assert_eq!(row["abstained"], false);
            let id = row["id"].to_string();
            let rec = json(&cairn_ok(&data, &["audit", "show", &id, "--json"]));
            assert_eq!(rec["error"], row["error"], "{rec}");
            assert_eq!(rec["question"], question);
            assert_eq!(rec["answer"], "", "no answer: {rec}");
            assert!(rec["citations"].as_array().unwrap().is_empty(), "{rec}");
            assert_eq!(rec["endpoint"], endpoint, "{rec}");
            assert_eq!(rec["model_id"], row["model_id"]);
            assert!(rec["model_id"].as_str().unwrap().starts_with("remote:"));
            assert_eq!(rec["template_version"], "answer-v1");
            let retrieved = rec["retrieved"].as_array().unwrap();
            assert!(
                retrieved.iter().any(|p| !p["source"].is_null()
                    && p["path"].as_str().unwrap().ends_with("refunds.html")),
                "the passages sent are recorded: {rec}"
            );
            assert!(
                !rec.to_string().contains(SERVER_KEY),
                "the key leaked: {rec}"
            );
            Some(rec)
        };
    // Wrong key (named by its variable, never shown): the server rejects the chat request
    // with the prompt in it (its `GET /models` refusal is no verdict on the model).
    let rejected = expect_failure(
        &[],
        &[("CAIRN_E2E_KEY", "wrong-key")],
        &[
            "HTTP 401",
            "$CAIRN_E2E_KEY was rejected",
            "llm.remote.api_key_env",
        ],
        Some(&base),
    )
    .unwrap();
    assert!(!rejected.to_string().contains("wrong-key"), "{rejected}");
    let id = rejected["id"].to_string();
    let human = cairn_ok(&data, &["audit", "list"]);
    let line = human
        .lines()
        .find(|l| l.trim_start().starts_with(&format!("{id} ")))
        .unwrap_or_else(|| panic!("row {id} not in:\n{human}"));
    assert!(
        line.contains("[failed: ") && line.contains("HTTP 401"),
        "{line}"
    );
    let human = cairn_ok(&data, &["audit", "show", &id]);
    assert!(
        human
            .lines()
            .any(|l| l.starts_with("error") && l.contains("HTTP 401")),
        "{human}"
    );
    assert!(human.contains("refunds.html"), "{human}");
    // No key at all.
    expect_failure(
        &[],
        &[],
        &["no API key was sent", "CAIRN_E2E_KEY"],
        Some(&base),
    );
    // A model the server does not serve: found by the model check, before the prompt.
    expect_failure(
        &["--model", "no-such-model"],
        &key,
        &[
            "does not serve a model named `no-such-model`",
            "smollm2",
            "GET <base URL>/models",
        ],
        None,
    );
    // Nothing listening there: the attempt is recorded, with why it failed.
    let dead = format!("http://127.0.0.1:{}/v1", free_port());
    expect_failure(
        &["--base-url", &dead],
        &key,
        &["cannot reach", "connection refused", "server is running"],
        Some(&dead),
    );
    // Not a URL: no generator.
    expect_failure(&["--base-url", "localhost:8080"], &key, &["http://"], None);
    // A wrong path prefix: the server answers the chat request with 404.
    let wrong = base.replace("/v1", "/nope/v1");
    expect_failure(
        &["--base-url", &wrong],
        &key,
        &["HTTP 404", "/v1"],
        Some(&wrong),
    );

    let list = json(&cairn_ok(&data, &["audit", "list", "--json"]));
    assert_eq!(
        list.as_array().unwrap().len(),
        audited,
        "only failed attempts that sent the prompt are recorded"
    );
    let answered = list.as_array().unwrap().iter();
    assert_eq!(answered.filter(|r| r["error"].is_null()).count(), 2);
    let check = json(&cairn_ok(&data, &["check", "--json"]));
    assert_eq!(check["ok"], true, "{check}");

    // Weak evidence: "I don't know" without calling the model, so even an unreachable
    // endpoint answers it.
    let out = cairn_env(
        &data,
        &[
            "ask",
            "--json",
            "--base-url",
            &dead,
            "Who won the football world cup final in 1998?",
        ],
        &key,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let none = json(&text(&out.stdout));
    assert_eq!(none["abstained"], true, "{none}");
    assert_eq!(none["abstained_by"], "evidence");
    assert!(none["model_id"].is_null());
    drop(server);
}
