//! End-to-end tests of the `cairn` binary on real files with the real embedding model.

use std::path::Path;
use std::time::{Duration, Instant};

use cairn_tests::{build_library, cairn, cairn_ok, search_json};
use serde_json::Value;

fn index_json(data: &Path) -> Value {
    let out = cairn_ok(data, &["index", "--json"]);
    serde_json::from_str(out.lines().last().unwrap_or("")).expect("index --json prints JSON")
}

fn paths(results: &[Value]) -> Vec<String> {
    results
        .iter()
        .map(|r| r["path"].as_str().unwrap_or("").to_owned())
        .collect()
}

fn top_path(results: &[Value]) -> String {
    paths(results).into_iter().next().unwrap_or_default()
}

#[test]
fn indexes_a_mixed_library_and_finds_attributed_passages() {
    let tmp = tempfile::tempdir().unwrap();
    let lib = build_library(tmp.path()).unwrap();
    let data = tmp.path().join("data");
    cairn_ok(&data, &["add", lib.to_str().unwrap()]);
    let report = index_json(&data);
    assert_eq!(report["cancelled"], false);
    assert!(report["embedding_error"].is_null(), "{report}");
    assert!(report["texts_embedded"].as_u64().unwrap() > 0);

    // Every supported type is found, with its structure.
    let r = search_json(&data, &["--mode", "bm25", "daily meal allowance abroad"]);
    assert!(top_path(&r).ends_with("handbook/onboarding.md"), "{r:?}");
    assert_eq!(
        r[0]["heading"], "Employee Handbook > Travel Policy > Per Diem",
        "{r:?}"
    );
    for key in [
        "path", "page", "heading", "snippet", "score", "chunk_id", "version",
    ] {
        assert!(r[0].get(key).is_some(), "missing {key} in {}", r[0]);
    }

    let r = search_json(&data, &["--mode", "bm25", "hydrologists hiring"]);
    assert!(top_path(&r).ends_with("annual-report.pdf"), "{r:?}");
    assert_eq!(r[0]["page"], 3, "{r:?}");

    let r = search_json(&data, &["--mode", "bm25", "telescope maintenance budget"]);
    assert!(top_path(&r).ends_with("meeting-notes.docx"), "{r:?}");
    assert_eq!(r[0]["heading"], "Quarterly Planning > Decisions");

    let r = search_json(&data, &["--mode", "bm25", "crème fraîche"]);
    assert!(top_path(&r).ends_with("recette.txt"), "{r:?}");
    assert!(r[0]["snippet"].as_str().unwrap().contains("crème fraîche"));

    let r = search_json(&data, &["--mode", "bm25", "fourteen days refund"]);
    assert!(top_path(&r).ends_with("refunds.html"), "{r:?}");

    let r = search_json(&data, &["--mode", "bm25", "lighthouse fog signals"]);
    assert!(
        top_path(&r).ends_with("disguised.txt"),
        "a PDF named .txt is parsed as PDF: {r:?}"
    );
    assert_eq!(r[0]["page"], 1);

    // Hidden, ignored, script content and unsupported files are not indexed.
    for word in ["platypus", "quokka", "zebracorn"] {
        let r = search_json(&data, &["--mode", "bm25", word]);
        assert!(r.is_empty(), "{word} must not be indexed: {r:?}");
    }

    // Semantic search finds a paraphrase with no shared keywords.
    let r = search_json(
        &data,
        &[
            "--mode",
            "dense",
            "-n",
            "3",
            "how much money for food per day on business trips",
        ],
    );
    assert!(
        paths(&r).iter().any(|p| p.ends_with("onboarding.md")),
        "dense search should find the per diem passage: {r:?}"
    );
    let r = search_json(
        &data,
        &["--mode", "hybrid", "money for food on trips abroad"],
    );
    assert!(top_path(&r).ends_with("onboarding.md"), "{r:?}");

    // The broken PDF is a reported problem; the symlink loop is reported, not followed forever.
    let status: Value = serde_json::from_str(&cairn_ok(&data, &["status", "--json"])).unwrap();
    let problems: Vec<String> = status["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| format!("{} {}", p["path"], p["reason"]))
        .collect();
    assert!(
        problems.iter().any(|p| p.contains("broken.pdf")),
        "{problems:?}"
    );
    assert_eq!(status["stats"]["current_documents"], 6, "{status}");
    assert_eq!(status["embed_backlog"], 0);
    let human = cairn_ok(&data, &["status"]);
    assert!(human.contains("problems"), "{human}");
    assert!(human.contains("broken.pdf"), "{human}");
}

#[test]
fn filters_restrict_results() {
    let tmp = tempfile::tempdir().unwrap();
    let lib = build_library(tmp.path()).unwrap();
    let data = tmp.path().join("data");
    cairn_ok(&data, &["add", lib.to_str().unwrap()]);
    cairn_ok(&data, &["index", "--no-embed"]);
    let q = "report";
    let r = search_json(&data, &["--mode", "bm25", "--type", "pdf", q]);
    assert!(!r.is_empty());
    assert!(paths(&r)
        .iter()
        .all(|p| p.ends_with(".pdf") || p.ends_with("disguised.txt")));
    let r = search_json(
        &data,
        &["--mode", "bm25", "--path", "**/handbook/*", "policy"],
    );
    assert!(!r.is_empty());
    assert!(paths(&r).iter().all(|p| p.contains("/handbook/")), "{r:?}");
    let handbook = lib.join("handbook");
    let r = search_json(
        &data,
        &[
            "--mode",
            "bm25",
            "--folder",
            handbook.to_str().unwrap(),
            "policy",
        ],
    );
    assert!(!r.is_empty() && paths(&r).iter().all(|p| p.contains("/handbook/")));
    let r = search_json(
        &data,
        &["--mode", "bm25", "--after", "2999-01-01", "policy"],
    );
    assert!(r.is_empty(), "{r:?}");
    let r = search_json(
        &data,
        &["--mode", "bm25", "--before", "2999-01-01", "policy"],
    );
    assert!(!r.is_empty());
    let out = cairn(&data, &["search", "--type", "exe", "policy"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown --type"));
}

#[test]
fn reindexing_reuses_vectors_across_unchanged_renamed_and_edited_files() {
    let tmp = tempfile::tempdir().unwrap();
    let lib = build_library(tmp.path()).unwrap();
    let data = tmp.path().join("data");
    cairn_ok(&data, &["add", lib.to_str().unwrap()]);
    let first = index_json(&data);
    assert!(first["texts_embedded"].as_u64().unwrap() > 0);

    // Unchanged: zero embeddings, zero new versions.
    let again = index_json(&data);
    assert_eq!(again["texts_embedded"], 0, "{again}");
    assert_eq!(again["new_versions"], 0, "{again}");

    // Renamed: the document moves, nothing is embedded.
    std::fs::rename(lib.join("refunds.html"), lib.join("refund-policy.html")).unwrap();
    let moved = index_json(&data);
    assert_eq!(moved["renamed"], 1, "{moved}");
    assert_eq!(moved["texts_embedded"], 0, "{moved}");
    let r = search_json(&data, &["--mode", "bm25", "fourteen days refund"]);
    assert!(top_path(&r).ends_with("refund-policy.html"), "{r:?}");

    // Edited: a new version; unchanged passages keep their vectors; old text is gone.
    let md = lib.join("handbook/onboarding.md");
    let text = std::fs::read_to_string(&md).unwrap();
    std::fs::write(&md, text.replace("45 euros", "60 euros")).unwrap();
    let edited = index_json(&data);
    assert_eq!(edited["new_versions"], 1, "{edited}");
    let long = lib.join("handbook/long-guide.md");
    let section = |topic: &str| {
        format!(
            "## {topic}\n\n{}\n\n",
            format!("This part explains {topic} in detail. ").repeat(25)
        )
    };
    let original = format!(
        "# Guide\n\n{}{}{}",
        section("ferns"),
        section("mosses"),
        section("lichens")
    );
    std::fs::write(&long, &original).unwrap();
    let added = index_json(&data);
    assert!(added["texts_embedded"].as_u64().unwrap() >= 3, "{added}");
    std::fs::write(
        &long,
        original.replace("mosses in detail", "liverworts in detail"),
    )
    .unwrap();
    let edited = index_json(&data);
    assert_eq!(edited["new_versions"], 1, "{edited}");
    let embedded = edited["texts_embedded"].as_u64().unwrap();
    let reused = edited["chunks_reused"].as_u64().unwrap();
    assert!(
        embedded >= 1 && reused >= 1,
        "only changed passages are embedded: {edited}"
    );
    let r = search_json(&data, &["--mode", "bm25", "daily meal allowance"]);
    assert!(top_path(&r).ends_with("onboarding.md"));
    assert_eq!(r[0]["version"], 2, "{r:?}");
    let all = search_json(
        &data,
        &["--mode", "hybrid", "-n", "50", "meal allowance euros"],
    );
    assert!(
        all.iter()
            .all(|h| !h["snippet"].as_str().unwrap().contains("45 euros")),
        "superseded text must never be retrieved: {all:?}"
    );

    // Deleted: gone from search.
    std::fs::remove_file(lib.join("recette.txt")).unwrap();
    let deleted = index_json(&data);
    assert_eq!(deleted["deleted"], 1, "{deleted}");
    let r = search_json(&data, &["--mode", "bm25", "crème fraîche"]);
    assert!(r.is_empty(), "{r:?}");

    // The derived indexes can be rebuilt from the catalog alone.
    std::fs::remove_dir_all(data.join("text")).unwrap();
    std::fs::remove_file(data.join("vectors.usearch")).unwrap();
    let out = cairn_ok(&data, &["reindex"]);
    assert!(out.contains("rebuilt"), "{out}");
    let r = search_json(&data, &["--mode", "bm25", "telescope maintenance"]);
    assert!(top_path(&r).ends_with("meeting-notes.docx"));
    let r = search_json(&data, &["--mode", "dense", "money for food on trips"]);
    assert!(!r.is_empty());
    let status: Value = serde_json::from_str(&cairn_ok(&data, &["status", "--json"])).unwrap();
    assert_eq!(status["embed_backlog"], 0, "{status}");
}

#[test]
fn refuses_to_mix_embedding_models_and_reports_bad_config() {
    let tmp = tempfile::tempdir().unwrap();
    let lib = build_library(tmp.path()).unwrap();
    let data = tmp.path().join("data");
    cairn_ok(&data, &["add", lib.to_str().unwrap()]);
    cairn_ok(&data, &["index", "--no-embed"]);
    let cfg = tmp.path().join("other.toml");
    std::fs::write(&cfg, "[embedding]\nmodel_id = \"bge-small-en-v1.5\"\n").unwrap();
    let out = cairn(&data, &["--config", cfg.to_str().unwrap(), "index"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("all-MiniLM-L6-v2-int8") && err.contains("bge-small-en-v1.5"),
        "{err}"
    );
    assert!(err.contains("reindex --embeddings"), "{err}");

    std::fs::write(&cfg, "[search]\nalpha = 3.0\n").unwrap();
    let out = cairn(&data, &["--config", cfg.to_str().unwrap(), "status"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("search.alpha") && err.contains("other.toml"),
        "{err}"
    );

    let out = cairn(&data, &["add", tmp.path().join("nope").to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("nope"));
}

#[test]
fn size_cap_is_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let lib = tmp.path().join("lib");
    std::fs::create_dir_all(&lib).unwrap();
    std::fs::write(lib.join("small.txt"), "a small note about otters").unwrap();
    std::fs::write(lib.join("big.txt"), "walrus ".repeat(400_000)).unwrap();
    let data = tmp.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(
        data.join("config.toml"),
        "[ingest]\nmax_file_bytes = 1048576\n",
    )
    .unwrap();
    cairn_ok(&data, &["add", lib.to_str().unwrap()]);
    cairn_ok(&data, &["index", "--no-embed"]);
    let status: Value = serde_json::from_str(&cairn_ok(&data, &["status", "--json"])).unwrap();
    let problems = status["problems"].to_string();
    assert!(
        problems.contains("big.txt") && problems.contains("max_file_bytes"),
        "{problems}"
    );
    assert_eq!(search_json(&data, &["--mode", "bm25", "otters"]).len(), 1);
}

/// Many small documents so that embedding takes a while.
fn build_corpus(dir: &Path, n: usize) {
    std::fs::create_dir_all(dir).unwrap();
    let topics = [
        "glaciers retreat as summers warm",
        "volcanic ash grounds flights across the region",
        "coral reefs bleach in marine heatwaves",
        "tidal energy turbines deliver steady power",
        "wolves return to the alpine valleys",
    ];
    for i in 0..n {
        let t = topics[i % topics.len()];
        let body = format!(
            "Field note {i}. {t}. Observers recorded measurement series {i} with unique marker \
             kestrel{i}. The station logged weather, soil moisture and river levels for day {i}, \
             comparing them with the seasonal baseline and the previous decade of records."
        );
        std::fs::write(dir.join(format!("note-{i:04}.txt")), body).unwrap();
    }
}

#[test]
fn keyword_search_works_while_embedding_and_indexing_resumes_after_interrupt() {
    let tmp = tempfile::tempdir().unwrap();
    let corpus = tmp.path().join("notes");
    build_corpus(&corpus, 600);
    let data = tmp.path().join("data");
    cairn_ok(&data, &["add", corpus.to_str().unwrap()]);
    let child = std::process::Command::new(cairn_tests::cairn_bin())
        .arg("--data-dir")
        .arg(&data)
        .args(["index", "--json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Keyword search becomes available while embeddings are still being computed.
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut seen_partial = false;
    loop {
        assert!(
            Instant::now() < deadline,
            "keyword search never became ready"
        );
        std::thread::sleep(Duration::from_millis(300));
        let r = search_json(&data, &["--mode", "bm25", "kestrel123"]);
        if r.is_empty() {
            continue;
        }
        assert!(top_path(&r).ends_with("note-0123.txt"));
        let status: Value = serde_json::from_str(&cairn_ok(&data, &["status", "--json"])).unwrap();
        if status["embed_backlog"].as_u64().unwrap() > 0 {
            seen_partial = true;
            let out = cairn_ok(&data, &["search", "--mode", "hybrid", "glaciers"]);
            assert!(out.contains("note:") || out.contains("note-"), "{out}");
        }
        break;
    }
    assert!(
        seen_partial,
        "embedding should still be in progress when keywords are ready"
    );
    // Wait until some vectors are stored, then interrupt like Ctrl-C.
    loop {
        assert!(Instant::now() < deadline, "embedding made no progress");
        let status: Value = serde_json::from_str(&cairn_ok(&data, &["status", "--json"])).unwrap();
        if status["stats"]["embedded_chunks"].as_u64().unwrap() > 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let pid = child.id().to_string();
    std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let first: Value = serde_json::from_str(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .last()
            .unwrap_or("{}"),
    )
    .unwrap_or(Value::Null);
    let status: Value = serde_json::from_str(&cairn_ok(&data, &["status", "--json"])).unwrap();
    let total = status["stats"]["current_chunks"].as_u64().unwrap();
    let done = status["stats"]["embedded_chunks"].as_u64().unwrap();
    assert!(done > 0);
    if first["cancelled"] == true {
        assert!(done < total, "{status}");
    }
    // Resume: only the rest is embedded.
    let rest = index_json(&data);
    assert_eq!(
        rest["texts_embedded"].as_u64().unwrap(),
        total - done,
        "{rest}"
    );
    let status: Value = serde_json::from_str(&cairn_ok(&data, &["status", "--json"])).unwrap();
    assert_eq!(status["embed_backlog"], 0);
    assert_eq!(status["vector_index_chunks"], total);
}

#[test]
fn eval_prints_metrics_for_a_beir_dataset() {
    let tmp = tempfile::tempdir().unwrap();
    let ds = tmp.path().join("mini");
    std::fs::create_dir_all(ds.join("qrels")).unwrap();
    let docs = [
        (
            "d1",
            "Glaciers",
            "Alpine glaciers are retreating because summers are warmer.",
        ),
        (
            "d2",
            "Volcanoes",
            "Volcanic ash clouds can ground aircraft for days.",
        ),
        (
            "d3",
            "Reefs",
            "Coral reefs bleach when the sea is unusually hot.",
        ),
        (
            "d4",
            "Tides",
            "Tidal turbines generate predictable electricity.",
        ),
    ];
    let corpus: String = docs
        .iter()
        .map(|(id, t, x)| {
            format!(
                "{}\n",
                serde_json::json!({"_id": id, "title": t, "text": x})
            )
        })
        .collect();
    std::fs::write(ds.join("corpus.jsonl"), corpus).unwrap();
    std::fs::write(
        ds.join("queries.jsonl"),
        "{\"_id\":\"q1\",\"text\":\"why is ice melting in the mountains\"}\n\
         {\"_id\":\"q2\",\"text\":\"volcanic ash and flights\"}\n\
         {\"_id\":\"q3\",\"text\":\"unjudged query\"}\n",
    )
    .unwrap();
    std::fs::write(
        ds.join("qrels/test.tsv"),
        "query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\t1\n",
    )
    .unwrap();
    let data = tmp.path().join("data");
    for mode in ["bm25", "dense", "hybrid"] {
        let out = cairn_ok(
            &data,
            &[
                "eval",
                "--dataset",
                ds.to_str().unwrap(),
                "--mode",
                mode,
                "--json",
            ],
        );
        let v: Value = serde_json::from_str(out.trim()).unwrap();
        for key in [
            "ndcg_at_10",
            "recall_at_100",
            "mrr_at_10",
            "queries",
            "docs",
            "mode",
            "index_seconds",
        ] {
            assert!(v.get(key).is_some(), "missing {key}: {v}");
        }
        assert_eq!(v["queries"], 2);
        assert_eq!(v["docs"], 4);
        assert_eq!(v["mode"], mode);
        // q2 shares keywords with its document; q1 is a paraphrase only embeddings can match.
        let ndcg = v["ndcg_at_10"].as_f64().unwrap();
        match mode {
            "bm25" => assert!((0.5..0.51).contains(&ndcg), "{v}"),
            _ => assert!(ndcg > 0.99, "{mode}: {v}"),
        }
    }
    let out = cairn(&data, &["eval", "--dataset", tmp.path().to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("corpus.jsonl"));
}
