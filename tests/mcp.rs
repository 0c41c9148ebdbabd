//! `cairn mcp` driven by the official Python MCP client (`tests/mcp_client.py`, PyPI `mcp`):
//! initialise, list the five tools, call each on a small indexed library.

use std::path::Path;
use std::process::Command;

use cairn_tests::{build_library, cairn_bin, cairn_ok};
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

#[test]
fn python_mcp_client_uses_every_tool() {
    ensure_python_mcp();
    let tmp = tempfile::tempdir().unwrap();
    let lib = build_library(tmp.path()).unwrap();
    let data = tmp.path().join("data");
    cairn_ok(&data, &["add", lib.to_str().unwrap()]);
    cairn_ok(&data, &["index"]);

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("mcp_client.py");
    let out = Command::new("python3")
        .arg(&script)
        .arg(cairn_bin())
        .arg(&data)
        .env_remove("CAIRN_CONFIG")
        .output()
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let summary: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!("mcp_client.py printed no JSON ({e}):\nstdout:\n{stdout}\nstderr:\n{stderr}")
    });
    assert!(
        out.status.success() && summary["ok"] == true,
        "MCP checks failed: {}\nsummary:\n{stdout}\nstderr:\n{stderr}",
        summary["failures"]
    );

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
