//! Unit tests of the HTTP handling (retries, backoff, status mapping, SSE parsing) against a
//! tiny scripted HTTP server on 127.0.0.1. The real end-to-end test against an
//! OpenAI-compatible server is `tests/remote_server.rs`.

use cairn_core::stop::StopToken;
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use super::*;

#[path = "../../tests/support/http.rs"]
mod http;
use http::{read_request, response, sse};

/// Serves one canned response per connection, in order, and records each request.
struct Scripted {
    base: String,
    requests: Arc<Mutex<Vec<String>>>,
    handle: Option<JoinHandle<()>>,
}

impl Scripted {
    fn start(responses: Vec<String>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}/v1", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = requests.clone();
        let handle = std::thread::spawn(move || {
            for response in responses {
                let Ok((mut conn, _)) = listener.accept() else {
                    return;
                };
                let request = read_request(&mut conn);
                if request.is_empty() {
                    return; // the test is over (Drop's wake-up connection)
                }
                seen.lock().unwrap().push(request);
                if response == "HANG" {
                    std::thread::sleep(Duration::from_millis(1500));
                    continue;
                }
                let _ = conn.write_all(response.as_bytes());
            }
        });
        Self {
            base,
            requests,
            handle: Some(handle),
        }
    }

    fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for Scripted {
    fn drop(&mut self) {
        // Unblock a pending accept() if the test ended early, then join.
        let _ = TcpStream::connect(
            self.base
                .trim_start_matches("http://")
                .trim_end_matches("/v1"),
        );
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

fn delta(text: &str) -> String {
    json!({"choices": [{"index": 0, "delta": {"content": text}, "finish_reason": null}]})
        .to_string()
}

fn config(base: &str) -> RemoteConfig {
    RemoteConfig {
        api_key_env: "CAIRN_LLM_UNIT_TEST_NO_SUCH_KEY".into(),
        timeout: Duration::from_secs(5),
        max_retries: 3,
        retry_backoff: Duration::from_millis(20),
        check_model: false,
        ..RemoteConfig::new(base, "test-model")
    }
}

fn run(generator: &RemoteGenerator) -> (Result<GenerationOutput>, Vec<String>) {
    let mut pieces = Vec::new();
    let result = generator.run(
        &[ChatMessage::user("hi")],
        &GenerateOptions::default(),
        &StopToken::new(),
        &mut |p| pieces.push(p.to_owned()),
    );
    (result, pieces)
}

#[test]
fn retries_429_and_5xx_then_streams() {
    let server = Scripted::start(vec![
        response("503 Service Unavailable", &[], "busy"),
        response(
            "429 Too Many Requests",
            &[("Retry-After", "0")],
            "{\"error\":{\"message\":\"slow down\"}}",
        ),
        sse(&[
            &delta("Hel"),
            &delta("lo"),
            r#"{"choices":[{"delta":{},"finish_reason":"stop"}],"usage":{"prompt_tokens":7,"completion_tokens":2}}"#,
            "[DONE]",
        ]),
    ]);
    let generator = RemoteGenerator::new(config(&server.base)).unwrap();
    let started = Instant::now();
    let (result, pieces) = run(&generator);
    let g = result.unwrap();
    assert_eq!(g.text, "Hello");
    assert_eq!(pieces, ["Hel", "lo"]);
    assert_eq!(g.finish, Finish::Stop);
    assert_eq!(g.prompt_tokens, Some(7));
    assert_eq!(g.completion_tokens, 2);
    assert_eq!(server.requests().len(), 3);
    // Backoff 20 ms then 40 ms.
    assert!(started.elapsed() >= Duration::from_millis(60));
    let request = &server.requests()[0];
    assert!(
        request.starts_with("POST /v1/chat/completions HTTP/1.1"),
        "{request}"
    );
    assert!(request.contains("\"stream\":true"));
    assert!(request.contains("\"model\":\"test-model\""));
    assert!(
        !request.to_lowercase().contains("authorization"),
        "no key was configured"
    );
}

#[test]
fn retries_are_bounded() {
    let server = Scripted::start(vec![response("502 Bad Gateway", &[], "upstream down"); 3]);
    let mut cfg = config(&server.base);
    cfg.max_retries = 2;
    let generator = RemoteGenerator::new(cfg).unwrap();
    let (result, pieces) = run(&generator);
    match result {
        Err(Error::Http {
            status: 502,
            body,
            url,
        }) => {
            assert_eq!(body, "upstream down");
            assert!(url.ends_with("/v1/chat/completions"));
        }
        other => panic!("expected Http 502, got {other:?}"),
    }
    assert!(pieces.is_empty());
    assert_eq!(server.requests().len(), 3);
}

#[test]
fn persistent_429_is_rate_limited() {
    let server = Scripted::start(vec![response("429 Too Many Requests", &[], ""); 2]);
    let mut cfg = config(&server.base);
    cfg.max_retries = 1;
    let generator = RemoteGenerator::new(cfg).unwrap();
    let err = run(&generator).0.unwrap_err();
    assert!(
        matches!(err, Error::RateLimited { attempts: 2, .. }),
        "{err:?}"
    );
    assert_eq!(err.kind(), "rate_limited");
}

#[test]
fn backoff_doubles_honours_retry_after_and_is_capped() {
    let ms = Duration::from_millis;
    assert_eq!(backoff(ms(500), 1, None), ms(500));
    assert_eq!(backoff(ms(500), 2, None), ms(1000));
    assert_eq!(backoff(ms(500), 3, None), ms(2000));
    assert_eq!(backoff(ms(500), 1, Some(ms(3000))), ms(3000));
    assert_eq!(backoff(ms(500), 40, None), MAX_BACKOFF);
    assert_eq!(
        backoff(ms(500), 1, Some(Duration::from_secs(3600))),
        MAX_BACKOFF
    );
}

#[test]
fn cancel_during_backoff_ends_cancelled() {
    let server = Scripted::start(vec![response(
        "503 Service Unavailable",
        &[("Retry-After", "20")],
        "",
    )]);
    let generator = RemoteGenerator::new(config(&server.base)).unwrap();
    let cancel = StopToken::new();
    let started = Instant::now();
    let result = std::thread::scope(|s| {
        s.spawn(|| {
            std::thread::sleep(Duration::from_millis(200));
            cancel.stop();
        });
        generator.run(
            &[ChatMessage::user("hi")],
            &GenerateOptions::default(),
            &cancel,
            &mut |_| {},
        )
    });
    let g = result.unwrap();
    assert_eq!(g.finish, Finish::Cancelled);
    assert!(g.text.is_empty());
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn unauthorized_is_auth_error_and_key_is_sent_but_never_shown() {
    let server = Scripted::start(vec![response(
        "401 Unauthorized",
        &[("Content-Type", "application/json")],
        r#"{"error":{"message":"Incorrect API key provided","type":"invalid_request_error"}}"#,
    )]);
    let var = "CAIRN_LLM_UNIT_TEST_KEY_401";
    std::env::set_var(var, "sk-test-secret-123");
    let mut cfg = config(&server.base);
    cfg.api_key_env = var.into();
    let generator = RemoteGenerator::new(cfg).unwrap();
    std::env::remove_var(var);
    assert!(generator.has_api_key());
    assert!(!format!("{generator:?}").contains("sk-test-secret-123"));
    let err = run(&generator).0.unwrap_err();
    match &err {
        Error::Auth {
            status,
            detail,
            url,
        } => {
            assert_eq!(*status, 401);
            assert!(detail.contains(var), "{detail}");
            assert!(detail.contains("Incorrect API key provided"), "{detail}");
            assert!(url.contains("/v1/chat/completions"));
        }
        other => panic!("expected Auth, got {other:?}"),
    }
    assert!(!err.to_string().contains("sk-test-secret-123"));
    assert!(err.hint().contains("CAIRN_API_KEY"));
    let request = &server.requests()[0];
    assert!(request.contains("Bearer sk-test-secret-123"), "{request}");
    assert_eq!(server.requests().len(), 1, "401 is not retried");
}

#[test]
fn missing_key_on_403_says_so() {
    let server = Scripted::start(vec![response("403 Forbidden", &[], "forbidden")]);
    let generator = RemoteGenerator::new(config(&server.base)).unwrap();
    let err = run(&generator).0.unwrap_err();
    assert!(
        matches!(&err, Error::Auth { status: 403, detail, .. } if detail.contains("no API key was sent")),
        "{err:?}"
    );
}

#[test]
fn azure_style_uses_api_key_header_and_api_version() {
    let server = Scripted::start(vec![response(
        "200 OK",
        &[("Content-Type", "application/json")],
        r#"{"choices":[{"index":0,"message":{"role":"assistant","content":"Hi there"},"finish_reason":"length"}],"usage":{"prompt_tokens":3,"completion_tokens":2}}"#,
    )]);
    let var = "CAIRN_LLM_UNIT_TEST_KEY_AZURE";
    std::env::set_var(var, "azure-key-xyz");
    let mut cfg = config(&format!(
        "{}/openai/deployments/gpt4o/",
        server.base.trim_end_matches("/v1")
    ));
    cfg.api_key_env = var.into();
    cfg.azure_api_version = Some("2024-10-21".into());
    cfg.stream = false;
    let generator = RemoteGenerator::new(cfg).unwrap();
    std::env::remove_var(var);
    let (result, pieces) = run(&generator);
    let g = result.unwrap();
    assert_eq!(g.text, "Hi there");
    assert_eq!(pieces, ["Hi there"]);
    assert_eq!(g.finish, Finish::Length);
    assert_eq!((g.prompt_tokens, g.completion_tokens), (Some(3), 2));
    let request = &server.requests()[0];
    assert!(
        request.starts_with(
            "POST /openai/deployments/gpt4o/chat/completions?api-version=2024-10-21 HTTP/1.1"
        ),
        "{request}"
    );
    assert!(request.to_lowercase().contains("api-key: azure-key-xyz"));
    assert!(!request.contains("Bearer"));
    assert!(request.contains("\"stream\":false"));
}

#[test]
fn not_found_distinguishes_model_from_path() {
    let server = Scripted::start(vec![
        response(
            "404 Not Found",
            &[],
            r#"{"error":"model \"nope\" not found, try pulling it first"}"#,
        ),
        response(
            "404 Not Found",
            &[("Content-Type", "text/html")],
            "<h1>Not Found</h1>",
        ),
        response(
            "400 Bad Request",
            &[],
            r#"{"error":{"message":"The model `nope` does not exist."}}"#,
        ),
    ]);
    let generator = RemoteGenerator::new(config(&server.base)).unwrap();
    let err = run(&generator).0.unwrap_err();
    assert!(
        matches!(&err, Error::UnknownModel { model, detail, .. } if model == "test-model" && detail.contains("try pulling")),
        "{err:?}"
    );
    let err = run(&generator).0.unwrap_err();
    assert!(
        matches!(&err, Error::EndpointNotFound { url, .. } if url.ends_with("/v1/chat/completions")),
        "{err:?}"
    );
    assert!(err.hint().contains("/v1"));
    let err = run(&generator).0.unwrap_err();
    assert!(matches!(&err, Error::UnknownModel { .. }), "{err:?}");
}

#[test]
fn sse_variants_are_parsed_and_stop_strings_applied() {
    // No space after "data:", a comment line, an "event:" line, LF-only line ends.
    let body = format!(
        ": keep-alive\n\nevent: message\ndata:{}\n\ndata: {}\n\ndata: {}\n\ndata: [DONE]\n\n",
        delta("The answer is 4"),
        delta(".\nSTOP"),
        delta(" more")
    );
    let server = Scripted::start(vec![response(
        "200 OK",
        &[("Content-Type", "text/event-stream; charset=utf-8")],
        &body,
    )]);
    let generator = RemoteGenerator::new(config(&server.base)).unwrap();
    let mut pieces = Vec::new();
    let opts = GenerateOptions {
        stop: vec!["\nSTOP".into()],
        seed: Some(7),
        ..GenerateOptions::default()
    };
    let g = generator
        .run(
            &[ChatMessage::user("q")],
            &opts,
            &StopToken::new(),
            &mut |p| pieces.push(p.to_owned()),
        )
        .unwrap();
    assert_eq!(g.text, "The answer is 4.");
    assert_eq!(pieces.concat(), g.text);
    assert_eq!(g.finish, Finish::Stop);
    let request = &server.requests()[0];
    assert!(request.contains(r#""stop":["\nSTOP"]"#), "{request}");
    assert!(request.contains(r#""seed":7"#));
}

#[test]
fn error_event_mid_stream_is_reported() {
    let server = Scripted::start(vec![sse(&[
        &delta("partial"),
        r#"{"error":{"message":"out of memory"}}"#,
    ])]);
    let generator = RemoteGenerator::new(config(&server.base)).unwrap();
    let (result, pieces) = run(&generator);
    assert_eq!(pieces, ["partial"]);
    assert!(
        matches!(result, Err(Error::BadResponse { reason, .. }) if reason.contains("out of memory"))
    );
}

#[test]
fn cancel_set_while_streaming_stops_the_stream() {
    let server = Scripted::start(vec![sse(&[
        &delta("a"),
        &delta("b"),
        &delta("c"),
        &delta("d"),
        "[DONE]",
    ])]);
    let generator = RemoteGenerator::new(config(&server.base)).unwrap();
    let mut n = 0;
    let cancel = StopToken::new();
    let g = generator
        .run(
            &[ChatMessage::user("q")],
            &GenerateOptions::default(),
            &cancel,
            &mut |_| {
                n += 1;
                if n >= 2 {
                    cancel.stop();
                }
            },
        )
        .unwrap();
    assert_eq!(g.finish, Finish::Cancelled);
    assert_eq!(g.text, "ab");
}

#[test]
fn html_instead_of_api_is_bad_response() {
    let server = Scripted::start(vec![response(
        "200 OK",
        &[("Content-Type", "text/html")],
        "<html>router login</html>",
    )]);
    let generator = RemoteGenerator::new(config(&server.base)).unwrap();
    let err = run(&generator).0.unwrap_err();
    assert!(
        matches!(&err, Error::BadResponse { reason, .. } if reason.contains("router login")),
        "{err:?}"
    );
}

#[test]
fn silent_server_times_out() {
    let server = Scripted::start(vec!["HANG".to_owned()]);
    let mut cfg = config(&server.base);
    cfg.timeout = Duration::from_millis(300);
    let generator = RemoteGenerator::new(cfg).unwrap();
    let started = Instant::now();
    let err = run(&generator).0.unwrap_err();
    assert!(
        matches!(err, Error::Timeout { after, .. } if after == Duration::from_millis(300)),
        "{err:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[test]
fn refused_connection_is_unreachable() {
    // Bind then drop: the port is very likely unused right after.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let generator = RemoteGenerator::new(config(&format!("http://127.0.0.1:{port}/v1"))).unwrap();
    let err = run(&generator).0.unwrap_err();
    match &err {
        Error::Unreachable { url, reason } => {
            assert!(url.contains(&port.to_string()));
            assert!(
                reason.contains("refused") || reason.contains("failed"),
                "{reason}"
            );
        }
        other => panic!("expected Unreachable, got {other:?}"),
    }
}

/// The first word and path of each request the server saw.
fn request_lines(server: &Scripted) -> Vec<String> {
    server
        .requests()
        .iter()
        .map(|r| r.split(" HTTP/").next().unwrap_or_default().to_owned())
        .collect()
}

#[test]
fn prepare_checks_the_model_before_anything_is_sent() {
    let models = r#"{"object":"list","data":[{"id":"other-model"},{"id":"test-model"}]}"#;
    let server = Scripted::start(vec![
        response(
            "200 OK",
            &[("Content-Type", "application/json")],
            r#"{"object":"list","data":[{"id":"other-model"}]}"#,
        ),
        response("200 OK", &[("Content-Type", "application/json")], models),
        sse(&[&delta("Hi"), "[DONE]"]),
    ]);
    let mut cfg = config(&server.base);
    cfg.check_model = true;
    let generator = RemoteGenerator::new(cfg).unwrap();
    // Not listed: `prepare` fails with the unknown model, and no prompt went out.
    let err = generator.prepare().unwrap_err();
    assert!(
        matches!(&err, cairn_core::Error::Generation(g) if g.kind == "unknown_model" && g.message.contains("other-model")),
        "{err:?}"
    );
    assert_eq!(request_lines(&server), ["GET /v1/models"]);
    // Listed: `prepare` passes and `run` does not ask again.
    generator.prepare().unwrap();
    assert_eq!(run(&generator).0.unwrap().text, "Hi");
    assert_eq!(
        request_lines(&server),
        [
            "GET /v1/models",
            "GET /v1/models",
            "POST /v1/chat/completions"
        ]
    );
}

#[test]
fn an_inconclusive_check_in_prepare_is_not_repeated_by_the_next_run() {
    let unauthorized = || response("401 Unauthorized", &[], r#"{"error":"bad key"}"#);
    let server = Scripted::start(vec![
        unauthorized(),
        unauthorized(),
        unauthorized(),
        unauthorized(),
    ]);
    let mut cfg = config(&server.base);
    cfg.check_model = true;
    let generator = RemoteGenerator::new(cfg).unwrap();
    // The model list is refused: no verdict, so `prepare` passes and the real request fails.
    generator.prepare().unwrap();
    let err = run(&generator).0.unwrap_err();
    assert!(matches!(err, Error::Auth { status: 401, .. }), "{err:?}");
    assert_eq!(
        request_lines(&server),
        ["GET /v1/models", "POST /v1/chat/completions"]
    );
    // Without `prepare`, `run` checks again itself.
    let err = run(&generator).0.unwrap_err();
    assert!(matches!(err, Error::Auth { status: 401, .. }), "{err:?}");
    assert_eq!(
        request_lines(&server),
        [
            "GET /v1/models",
            "POST /v1/chat/completions",
            "GET /v1/models",
            "POST /v1/chat/completions"
        ]
    );
}

#[test]
fn base_urls_are_normalised_and_checked() {
    let split = |u: &str| split_base_url(u, None).unwrap();
    assert_eq!(
        split("http://localhost:11434/v1/"),
        ("http://localhost:11434/v1".into(), String::new())
    );
    assert_eq!(
        split(" https://api.openai.com/v1/chat/completions "),
        ("https://api.openai.com/v1".into(), String::new())
    );
    assert_eq!(
        split_base_url(
            "https://x.openai.azure.com/openai/deployments/d?foo=1",
            Some("2024-10-21")
        )
        .unwrap(),
        (
            "https://x.openai.azure.com/openai/deployments/d".into(),
            "foo=1&api-version=2024-10-21".into()
        )
    );
    assert_eq!(
        split_base_url(
            "https://x/openai?api-version=2023-05-15",
            Some("2024-10-21")
        )
        .unwrap()
        .1,
        "api-version=2023-05-15"
    );
    for bad in [
        "",
        "localhost:8080/v1",
        "ftp://host/v1",
        "http:///v1",
        "not a url",
    ] {
        let err = RemoteGenerator::new(config(bad)).unwrap_err();
        assert!(matches!(err, Error::InvalidUrl { .. }), "{bad}: {err:?}");
        assert!(err.hint().contains("http://"));
    }
    let g = RemoteGenerator::new(config("http://127.0.0.1:8080/v1/")).unwrap();
    assert_eq!(g.model_id(), "remote:http://127.0.0.1:8080/v1#test-model");
    assert_eq!(g.endpoint().as_deref(), Some("http://127.0.0.1:8080/v1"));
    assert_eq!(g.chat_url(), "http://127.0.0.1:8080/v1/chat/completions");
}

#[test]
fn error_details_are_extracted_and_shortened() {
    assert_eq!(
        error_detail(r#"{"error":{"message":"bad thing"}}"#),
        "bad thing"
    );
    assert_eq!(error_detail(r#"{"error":"plain"}"#), "plain");
    assert_eq!(error_detail(r#"{"detail":"fastapi says"}"#), "fastapi says");
    assert_eq!(error_detail("  text body  "), "text body");
    let long = "x".repeat(1000);
    assert_eq!(error_detail(&long).chars().count(), BODY_EXCERPT + 1);
}

#[test]
fn plain_http_to_another_machine_is_refused_unless_allowed() {
    let err = RemoteGenerator::new(config("http://llm.corp.example/v1")).unwrap_err();
    assert!(matches!(err, Error::InsecureHttp { .. }), "{err:?}");
    assert!(err.to_string().contains("llm.corp.example"), "{err}");
    assert!(err.hint().contains("allow_insecure_http"));
    let mut allowed = config("http://llm.corp.example/v1");
    allowed.allow_insecure_http = true;
    assert!(RemoteGenerator::new(allowed).is_ok());
    for fine in [
        "https://llm.corp.example/v1",
        "http://localhost:11434/v1",
        "http://127.0.0.1:8080/v1",
        "http://[::1]:8080/v1",
    ] {
        assert!(RemoteGenerator::new(config(fine)).is_ok(), "{fine}");
    }
}

#[test]
fn credentials_in_the_url_never_reach_the_recorded_model_id_or_endpoint() {
    let g = RemoteGenerator::new(config(
        "http://alice:pa55word@127.0.0.1:8080/v1?api_key=sk-in-url&x=1",
    ))
    .unwrap();
    let (id, endpoint) = (g.model_id(), g.endpoint().unwrap());
    for s in [&id, &endpoint] {
        assert!(!s.contains("pa55word") && !s.contains("alice"), "{s}");
        assert!(!s.contains("sk-in-url"), "{s}");
    }
    assert_eq!(endpoint, "http://***@127.0.0.1:8080/v1");
}
