//! The remote generator against a real OpenAI-compatible server: llama-cpp-python's
//! `llama_cpp.server` serving the same SmolLM2 GGUF, started by `tests/openai-server.sh`
//! (which installs `llama-cpp-python[server]` into `target/cairn-llm-venv` the first time;
//! building it takes about 6 minutes on 2 cores, later runs reuse it).
//!
//! The server is started with `--api_key`, so authentication is checked for real too.

use cairn_core::stop::StopToken;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cairn_llm::{
    default_local_model, ApiKey, ChatMessage, Error, Finish, GenerateOptions, GenerationOutput,
    Generator, RemoteConfig, RemoteGenerator,
};

const SERVER_KEY: &str = "cairn-test-key-5f1e";
const READY_WITHIN: Duration = Duration::from_secs(120);

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/openai-server.sh")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Kills the server when the test ends, however it ends.
struct Server {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Server {
    fn start(model: &Path) -> Self {
        // Install first (unbounded: a first install compiles llama.cpp), so the readiness
        // wait below only measures the server's start.
        let status = Command::new("bash")
            .arg(script())
            .arg("--install")
            .stdout(Stdio::null())
            .status()
            .expect("bash runs");
        assert!(status.success(), "{} --install failed", script().display());

        let port = free_port();
        let log = std::env::temp_dir().join(format!("cairn-llm-openai-server-{port}.log"));
        let out = std::fs::File::create(&log).unwrap();
        let child = Command::new("bash")
            .arg(script())
            .arg(model)
            .arg(port.to_string())
            .args(["--api_key", SERVER_KEY, "--model_alias", "smollm2"])
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .expect("the server script starts");
        Self { child, port, log }
    }

    fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}/v1", self.port)
    }

    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// Polls `GET /v1/models` until it answers; panics with the server's log if it does not.
    fn wait_ready(&mut self, generator: &RemoteGenerator) -> Vec<String> {
        let started = Instant::now();
        loop {
            match generator.list_models() {
                Ok(models) => {
                    println!(
                        "server ready after {:.1} s",
                        started.elapsed().as_secs_f64()
                    );
                    return models;
                }
                Err(e) => {
                    if let Some(status) = self.child.try_wait().unwrap() {
                        panic!("the server exited ({status}):\n{}", self.log_tail());
                    }
                    if started.elapsed() > READY_WITHIN {
                        panic!(
                            "the server did not answer within {READY_WITHIN:?} (last error: {e}):\n{}",
                            self.log_tail()
                        );
                    }
                    std::thread::sleep(Duration::from_millis(250));
                }
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // The script execs python, so this pid is the server itself.
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}

fn config(base_url: &str, model: &str) -> RemoteConfig {
    RemoteConfig {
        api_key_env: "CAIRN_LLM_E2E_UNSET_KEY_VAR".into(),
        timeout: Duration::from_secs(60),
        max_retries: 2,
        ..RemoteConfig::new(base_url, model)
    }
}

fn keyed(base_url: &str, model: &str) -> RemoteGenerator {
    RemoteGenerator::with_api_key(config(base_url, model), ApiKey::new(SERVER_KEY)).unwrap()
}

fn question() -> Vec<ChatMessage> {
    vec![
        ChatMessage::system("You are a helpful assistant. Answer briefly."),
        ChatMessage::user("What is the capital of France?"),
    ]
}

fn greedy(max_tokens: usize) -> GenerateOptions {
    GenerateOptions {
        max_tokens,
        temperature: 0.0,
        ..GenerateOptions::default()
    }
}

fn collect(
    generator: &RemoteGenerator,
    opts: &GenerateOptions,
) -> (Result<GenerationOutput, Error>, Vec<String>) {
    let mut pieces = Vec::new();
    let result = generator.run(&question(), opts, &StopToken::new(), &mut |p| {
        pieces.push(p.to_owned())
    });
    (result, pieces)
}

#[test]
fn openai_compatible_server_end_to_end() {
    let Some(model) = default_local_model() else {
        eprintln!("SKIPPED: the SmolLM2 GGUF is absent; run `bash models/fetch.sh`");
        return;
    };
    let mut server = Server::start(&model);
    let base = server.base_url();
    let model_name = "smollm2";
    let generator = keyed(&base, model_name);
    let models = server.wait_ready(&generator);
    println!("server lists models: {models:?}");
    assert!(!models.is_empty());

    // Streaming (SSE).
    let (result, pieces) = collect(&generator, &greedy(48));
    let g = result.expect("streamed generation");
    println!("streamed answer: {:?}", g.text);
    println!(
        "remote (llama-cpp-python, same GGUF, 2 threads): {} pieces, time to first token \
         {:.0} ms, total {:.0} ms, {:.1} tokens/s",
        pieces.len(),
        g.time_to_first_token.unwrap_or_default().as_secs_f64() * 1000.0,
        g.total.as_secs_f64() * 1000.0,
        g.tokens_per_second().unwrap_or_default()
    );
    assert!(pieces.len() >= 3, "several SSE pieces: {pieces:?}");
    assert_eq!(pieces.concat(), g.text);
    assert!(g.text.contains("Paris"), "{:?}", g.text);
    assert!(matches!(g.finish, Finish::Stop | Finish::Length));
    assert_eq!(generator.model_id(), format!("remote:{base}#{model_name}"));
    assert_eq!(generator.endpoint(), Some(base.clone()));

    // max_tokens: the server reports finish_reason "length".
    let (result, _) = collect(&generator, &greedy(3));
    let g = result.unwrap();
    assert_eq!(g.finish, Finish::Length, "{g:?}");
    assert!(g.completion_tokens <= 3);

    // Cancelling mid-stream, then the server still serves the next request.
    let mut n = 0;
    let cancel = StopToken::new();
    let g = generator
        .run(&question(), &greedy(200), &cancel, &mut |_| {
            n += 1;
            if n == 2 {
                cancel.stop();
            }
        })
        .unwrap();
    assert_eq!(g.finish, Finish::Cancelled);
    assert_eq!(n, 2);

    // Non-streaming (one JSON answer, with usage).
    let mut cfg = config(&base, model_name);
    cfg.stream = false;
    let plain = RemoteGenerator::with_api_key(cfg, ApiKey::new(SERVER_KEY)).unwrap();
    let (result, pieces) = collect(&plain, &greedy(48));
    let g = result.expect("non-streamed generation");
    println!("non-streamed answer: {:?} ({g:?})", g.text);
    assert_eq!(pieces.len(), 1);
    assert!(g.text.contains("Paris"), "{:?}", g.text);
    assert!(g.prompt_tokens.unwrap() > 10);
    assert!(g.completion_tokens > 0);

    // An unknown model name: llama-cpp-python would serve its one loaded model whatever the
    // request's `model` says, so the generator checks `GET /models` once before its first
    // answer. Servers that check themselves (Ollama, vLLM, OpenAI) answer 404/400, which the
    // unit tests map to Error::UnknownModel as well.
    let (result, _) = collect(&keyed(&base, "no-such-model-xyz"), &greedy(8));
    let err = result.unwrap_err();
    println!("unknown model: {err}\n  hint: {}", err.hint());
    assert!(
        matches!(&err, Error::UnknownModel { model, detail, .. } if model == "no-such-model-xyz" && detail.contains("smollm2")),
        "{err:?}"
    );

    // A wrong path prefix: 404 for the path itself.
    let wrong = base.replace("/v1", "/wrong/v1");
    let err = collect(&keyed(&wrong, model_name), &greedy(8))
        .0
        .unwrap_err();
    println!("wrong prefix: {err}\n  hint: {}", err.hint());
    assert!(
        matches!(&err, Error::EndpointNotFound { url, .. } if url == &format!("{wrong}/chat/completions")),
        "{err:?}"
    );
    let err = keyed(&wrong, model_name).list_models().unwrap_err();
    assert!(matches!(err, Error::EndpointNotFound { .. }), "{err:?}");

    // Authentication: no key, then a wrong key.
    let nokey = RemoteGenerator::new(config(&base, model_name)).unwrap();
    assert!(!nokey.has_api_key());
    let err = collect(&nokey, &greedy(8)).0.unwrap_err();
    println!("no key: {err}\n  hint: {}", err.hint());
    assert!(
        matches!(&err, Error::Auth { status: 401, detail, .. } if detail.contains("no API key was sent")),
        "{err:?}"
    );
    let badkey =
        RemoteGenerator::with_api_key(config(&base, model_name), ApiKey::new("wrong")).unwrap();
    let err = collect(&badkey, &greedy(8)).0.unwrap_err();
    assert!(
        matches!(&err, Error::Auth { status: 401, detail, .. } if detail.contains("rejected")),
        "{err:?}"
    );
    assert!(!format!("{badkey:?}").contains(SERVER_KEY));
}

#[test]
fn unused_port_is_unreachable_with_a_clear_message() {
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}/v1");
    let generator = RemoteGenerator::new(config(&base, "any")).unwrap();
    let started = Instant::now();
    let err = collect(&generator, &greedy(8)).0.unwrap_err();
    println!("{err}\n  hint: {}", err.hint());
    match &err {
        Error::Unreachable { url, reason } => {
            assert_eq!(url, &format!("{base}/chat/completions"));
            assert!(reason.contains("refused"), "{reason}");
        }
        other => panic!("expected Unreachable, got {other:?}"),
    }
    assert!(err.to_string().contains(&format!("127.0.0.1:{port}")));
    assert!(err.hint().contains("server is running"));
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "refused is not retried"
    );
}
