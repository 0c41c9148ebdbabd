//! `cairn mcp` driven by the official Python MCP client (`tests/mcp_client.py`, PyPI `mcp`):
//! initialise, list the five tools, call each on a small indexed library; `ask` extractively
//! (no model configured), generatively with the local GGUF while `cairn watch` holds the
//! writer lock, and extractively again when the configured model cannot be loaded.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use cairn_tests::{build_library, cairn, cairn_bin, cairn_ok, search_json};
use serde_json::Value;

/// Makes sure `python3 -c "import mcp"` works, installing the package with pip if needed.
fn ensure_python_mcp() {
    let importable = || {
        Command::new("python3")
            .args(["-c", "import mcp.client.stdio"])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    };
    if importable() {
        return;
    }
    let out = Command::new("python3")
        .args(["-m", "pip", "install", "--quiet", "mcp"])
        .output()
        .expect("python3 runs (the MCP test needs Python 3.10+)");
    assert!(
        out.status.success() && importable(),
        "installing the Python `mcp` package failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Indexes the test library into `<root>/data` with `config` as its config.toml.
fn indexed(root: &Path, config: &str) -> std::path::PathBuf {
    let lib = build_library(root).unwrap();
    let data = root.join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("config.toml"), config).unwrap();
    cairn_ok(&data, &["add", lib.to_str().unwrap()]);
    cairn_ok(&data, &["index"]);
    data
}

/// Runs mcp_client.py against `data`; returns its JSON summary (panics on a failed check).
fn run_client(data: &Path, ask_mode: &str) -> Value {
    run_client_with(data, ask_mode, &[])
}

/// [`run_client`] with more environment variables for the client.
fn run_client_with(data: &Path, ask_mode: &str, env: &[(&str, String)]) -> Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("mcp_client.py");
    let out = Command::new("python3")
        .arg(&script)
        .arg(cairn_bin())
        .arg(data)
        .env_remove("CAIRN_CONFIG")
        .env("CAIRN_MCP_ASK", ask_mode)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let summary: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!("mcp_client.py printed no JSON ({e}):\nstdout:\n{stdout}\nstderr:\n{stderr}")
    });
    assert!(
        out.status.success() && summary["ok"] == true,
        "MCP checks failed ({ask_mode}): {}\nsummary:\n{stdout}\nstderr:\n{stderr}",
        summary["failures"]
    );
    summary
}

#[test]
fn python_mcp_client_uses_every_tool() {
    ensure_python_mcp();
    let tmp = tempfile::tempdir().unwrap();
    let data = indexed(tmp.path(), "[llm]\nprovider = \"none\"\n");
    let summary = run_client(&data, "extractive");

    assert_eq!(summary["server"]["name"], "cairn");
    let tools: Vec<&str> = summary["tools"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(
        tools,
        ["ask", "list_sources", "read_source", "search", "status"]
    );
    let hit = &summary["search"][0];
    assert!(hit["path"]
        .as_str()
        .unwrap()
        .ends_with("handbook/onboarding.md"));
    assert_eq!(
        hit["heading"],
        "Employee Handbook > Travel Policy > Per Diem"
    );
    assert!(hit["chunk_id"].as_i64().is_some() && hit["version"] == 1);
    assert!(summary["read_chunk"]["text"]
        .as_str()
        .unwrap()
        .contains("45 euros"));
    assert!(summary["status"]["documents"].as_u64().unwrap() >= 6);
    let answer = summary["ask"]["answer"].as_str().unwrap();
    assert!(
        answer.contains("45 euros") && answer.contains("[1]"),
        "{answer}"
    );
    assert!(summary["error_example"]
        .as_str()
        .unwrap()
        .contains("What to do"));
    // Nothing but the protocol went to stdout: the client parsed every message (a stray line
    // would have surfaced as a parse error and failed a call above).
}

/// `read_source` returns a superseded passage only when history is asked for explicitly, and
/// a forgotten document's passages never.
#[test]
fn read_source_gives_old_text_only_on_request_and_forgotten_text_never() {
    ensure_python_mcp();
    let tmp = tempfile::tempdir().unwrap();
    let data = indexed(tmp.path(), "[llm]\nprovider = \"none\"\n");
    let lib = tmp.path().join("library");
    let chunk_of = |query: &str| -> String {
        let hits = search_json(&data, &["--mode", "bm25", query]);
        hits[0]["chunk_id"].as_i64().unwrap().to_string()
    };
    let policy = lib.join("policy.md");
    std::fs::write(
        &policy,
        "# Returns\n\nGoods may be returned within fourteen days.\n",
    )
    .unwrap();
    std::fs::write(
        lib.join("vault.md"),
        "# Vault\n\nThe vault code is qzv7canary.\n",
    )
    .unwrap();
    cairn_ok(&data, &["index"]);
    let superseded = chunk_of("fourteen days returned");
    let forgotten = chunk_of("qzv7canary");
    std::fs::write(
        &policy,
        "# Returns\n\nGoods may be returned within thirty days.\n",
    )
    .unwrap();
    cairn_ok(&data, &["index"]);
    cairn_ok(&data, &["forget", lib.join("vault.md").to_str().unwrap()]);

    let summary = run_client_with(
        &data,
        "history",
        &[
            ("CAIRN_MCP_SUPERSEDED", superseded),
            ("CAIRN_MCP_FORGOTTEN", forgotten),
        ],
    );
    assert!(summary["history"]["passages"][0]["text"]
        .as_str()
        .unwrap()
        .contains("fourteen days"));
    for refusal in summary["forgotten"].as_array().unwrap() {
        assert!(
            !refusal.as_str().unwrap().contains("qzv7canary"),
            "{refusal}"
        );
    }
}

/// `ask` over MCP runs `Engine::ask` with the local model on the server's read-only engine,
/// while another process (`cairn watch`) holds the writer lock: the answers are still
/// recorded in the audit log (SQLite WAL; the audit log is not derived from the catalog).
/// Then a configured model that cannot be loaded: extractive answers that say why.
#[test]
fn mcp_ask_uses_the_configured_model_beside_a_writer() {
    ensure_python_mcp();
    let tmp = tempfile::tempdir().unwrap();
    let data = indexed(
        tmp.path(),
        "[llm]\nprovider = \"local\"\n[llm.local]\nthreads = 2\ncontext = 2048\n[answer.local]\nmax_tokens = 64\n",
    );

    // `cairn watch` takes the writer lock and keeps it. With `--json` it prints its start-up
    // reconcile once it holds the lock (probing with another writer could race it for the lock).
    let mut watch = Command::new(cairn_bin())
        .arg("--data-dir")
        .arg(&data)
        .args(["watch", "--json"])
        .env_remove("CAIRN_CONFIG")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (first_line, lines) = std::sync::mpsc::channel();
    let stdout = watch.stdout.take().unwrap();
    std::thread::spawn(move || {
        use std::io::BufRead;
        let mut first_line = Some(first_line);
        for line in std::io::BufReader::new(stdout).lines() {
            if line.is_err() {
                break;
            }
            if let Some(tx) = first_line.take() {
                let _ = tx.send(());
            }
        }
    });
    let _ = lines.recv_timeout(Duration::from_secs(120));
    assert!(
        watch.try_wait().unwrap().is_none(),
        "cairn watch exited before the MCP calls"
    );
    let probe = cairn(&data, &["index"]);
    assert!(
        String::from_utf8_lossy(&probe.stderr).contains("another Cairn process"),
        "cairn watch does not hold the writer lock: {}",
        String::from_utf8_lossy(&probe.stderr)
    );

    let summary = run_client(&data, "generative");
    let held = watch.try_wait().unwrap().is_none();
    let _ = watch.kill();
    let _ = watch.wait();
    assert!(
        held,
        "cairn watch kept running (and the lock) during the MCP calls"
    );
    println!("generative MCP answer: {}", summary["ask"]);
    let audit: Value =
        serde_json::from_str(&cairn_ok(&data, &["audit", "list", "--json"])).unwrap();
    let rows = audit.as_array().unwrap();
    // Newest first: the abstention, the answer generated beside a search, the first answer.
    assert_eq!(rows.len(), 3, "{audit}");
    assert_eq!(rows[2]["model_id"], "local:SmolLM2-135M-Instruct.Q4_1.gguf");
    assert_eq!(rows[2]["id"], summary["ask"]["audit_id"]);
    assert_eq!(rows[1]["model_id"], "local:SmolLM2-135M-Instruct.Q4_1.gguf");
    assert_eq!(rows[0]["abstained"], true);

    std::fs::write(
        data.join("config.toml"),
        "[llm]\nprovider = \"local\"\n[llm.local]\nmodel = \"/no/such/model.gguf\"\n",
    )
    .unwrap();
    let summary = run_client(&data, "fallback");
    let notice = summary["ask"]["notice"].as_str().unwrap();
    assert!(notice.contains("/no/such/model.gguf"), "{notice}");
}
