//! What the answer tests share: the local GGUF model, a data directory's config, running
//! `cairn` with extra environment, and llama-cpp-python's OpenAI-compatible server
//! (`src-tauri/crates/cairn-llm/tests/openai-server.sh`).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::cairn_bin;

/// The default local model, installed by `bash models/fetch.sh`.
pub fn local_model() -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../models/dist/smollm2-135m-instruct/SmolLM2-135M-Instruct.Q4_1.gguf");
    assert!(
        path.is_file(),
        "{} is missing: run `bash models/fetch.sh`",
        path.display()
    );
    path
}

/// Writes `config.toml` into the data directory (created if needed).
pub fn write_config(data: &Path, text: &str) {
    std::fs::create_dir_all(data).unwrap();
    std::fs::write(data.join("config.toml"), text).unwrap();
}

/// Runs `cairn` with extra environment variables.
pub fn cairn_env(data: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(cairn_bin());
    cmd.arg("--data-dir").arg(data).args(args);
    cmd.env_remove("CAIRN_CONFIG").env_remove("CAIRN_API_KEY");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("cairn runs")
}

/// llama-cpp-python's OpenAI-compatible server on a free loopback port, killed on drop.
pub struct OpenAiServer {
    child: Child,
    port: u16,
    log: PathBuf,
}

pub const SERVER_KEY: &str = "cairn-e2e-key-3c9a";

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl OpenAiServer {
    pub fn start(model: &Path, log: PathBuf) -> OpenAiServer {
        let script = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../src-tauri/crates/cairn-llm/tests/openai-server.sh");
        // Install first (a first install compiles llama.cpp, ~6 min); later runs take seconds.
        let status = Command::new("bash")
            .arg(&script)
            .arg("--install")
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "{} --install failed", script.display());
        let port = free_port();
        let out = std::fs::File::create(&log).unwrap();
        let child = Command::new("bash")
            .arg(&script)
            .arg(model)
            .arg(port.to_string())
            .args(["--api_key", SERVER_KEY, "--model_alias", "smollm2"])
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap();
        let mut server = OpenAiServer { child, port, log };
        server.wait_ready();
        server
    }

    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}/v1", self.port)
    }

    /// Waits until the port accepts connections (the server binds once the model is loaded).
    fn wait_ready(&mut self) {
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!(
                    "the server exited ({status}):\n{}",
                    std::fs::read_to_string(&self.log).unwrap_or_default()
                );
            }
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "the server did not start:\n{}",
                std::fs::read_to_string(&self.log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for OpenAiServer {
    fn drop(&mut self) {
        // The script execs python, so this pid is the server itself.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
