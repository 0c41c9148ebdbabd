//! The API key in a real OS keychain on Linux: GNOME Keyring's Secret Service, on a private
//! D-Bus session bus that this test starts (and stops) itself, with its keyrings in a
//! temporary directory, so the user's own keyring is never touched.
//!
//! It goes through the same code the app uses (`keyring` with its `sync-secret-service`
//! backend, `store_api_key` / `load_api_key` / `delete_api_key`, `from_config`,
//! `test_connection`), against a scripted OpenAI-compatible server on 127.0.0.1 that records
//! the `Authorization` header each request carried.
//!
//! The daemons come from the Debian packages `dbus` and `gnome-keyring`
//! (`bash scripts/setup.sh` installs them); without them the test fails and says so.
//!
//! This file holds a single test on purpose: it points `DBUS_SESSION_BUS_ADDRESS` of its own
//! process at the private bus, which must happen before any other thread runs (nextest runs
//! each test in its own process; `cargo test` runs this file's one test alone in its binary).

#![cfg(all(target_os = "linux", feature = "keychain"))]

use cairn_core::stop::StopToken;
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use cairn_core::config::{Config, LlmProvider, CONFIG_FILE};

#[path = "support/http.rs"]
mod http;
use cairn_llm::{
    delete_api_key, from_config, load_api_key, store_api_key, test_connection,
    test_connection_with_key, ApiKey, ChatMessage, GenerateOptions, KEYCHAIN_SERVICE,
};
use http::{read_request, response, sse};

/// The entry the app reads when its environment variable is unset.
const KC_VAR: &str = "CAIRN_LLM_KEYCHAIN_TEST_KEY";
const KC_KEY: &str = "sk-cairn-keychain-3f9a1b7e";
/// An entry whose environment variable is set too: the variable must win.
const ENV_VAR: &str = "CAIRN_LLM_KEYCHAIN_TEST_ENV_KEY";
const ENV_KEY: &str = "sk-cairn-from-env-8d2c";
const SHADOWED_KEY: &str = "sk-cairn-shadowed-in-keychain-51e0";

const MODEL: &str = "mock-model";
/// How long the bus and the keyring daemon get to come up.
const READY_WITHIN: Duration = Duration::from_secs(20);
const LOGIN_COLLECTION: &str = "/org/freedesktop/secrets/collection/login";

// ---------------------------------------------------------------------------------------------
// The private session bus and GNOME Keyring.

/// A private `dbus-daemon` and a `gnome-keyring-daemon --components=secrets` on it, with
/// HOME/XDG dirs in a temporary directory. Dropping it kills both (also when the test panics),
/// printing their logs if the test failed.
struct SecretService {
    keyring: Option<Child>,
    bus: Option<Child>,
    address: String,
    /// Set when a panic message already carries the daemons' logs.
    logs_shown: bool,
    dir: tempfile::TempDir,
}

/// The bus has no service directories, so nothing is auto-activated: only the daemon this
/// test starts can own `org.freedesktop.secrets`.
fn bus_config(socket: &Path) -> String {
    format!(
        r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"#,
        socket.display()
    )
}

fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into());
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

fn require_programs() {
    let missing: Vec<&str> = ["dbus-daemon", "dbus-send", "gnome-keyring-daemon"]
        .into_iter()
        .filter(|p| find_program(p).is_none())
        .collect();
    assert!(
        missing.is_empty(),
        "{} not found on PATH: this test needs a real Secret Service (Debian packages `dbus` \
         and `gnome-keyring`); run `bash scripts/setup.sh`",
        missing.join(", ")
    );
}

impl SecretService {
    /// The temporary directory and the bus address, before anything is started (the address
    /// must be put in the environment before any thread runs).
    fn prepare() -> Self {
        require_programs();
        // Short path: a unix socket path is limited to 107 bytes.
        let dir = tempfile::Builder::new()
            .prefix("cairn-kc-")
            .tempdir_in("/tmp")
            .expect("a temporary directory");
        let address = format!("unix:path={}", dir.path().join("bus").display());
        Self {
            keyring: None,
            bus: None,
            address,
            logs_shown: false,
            dir,
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn log(&self, name: &str) -> Stdio {
        std::fs::File::create(self.path(name))
            .expect("a log file")
            .into()
    }

    fn read_log(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(name)).unwrap_or_default()
    }

    /// Starts the bus, then the keyring daemon, which creates and unlocks the `login`
    /// collection (the `default` alias) with a password read from stdin.
    fn start(&mut self) {
        let socket = self.path("bus");
        std::fs::write(self.path("bus.conf"), bus_config(&socket)).unwrap();
        let bus = Command::new("dbus-daemon")
            .arg(format!("--config-file={}", self.path("bus.conf").display()))
            .args(["--nofork", "--nopidfile"])
            .stdin(Stdio::null())
            .stdout(self.log("dbus-daemon.log"))
            .stderr(self.log("dbus-daemon.log"))
            .spawn()
            .expect("dbus-daemon starts");
        self.bus = Some(bus);
        self.wait("the D-Bus socket", |_| socket.exists());

        let home = self.path("home");
        let (data, config, cache, runtime) = (
            home.join(".local/share"),
            home.join(".config"),
            home.join(".cache"),
            self.path("runtime"),
        );
        for d in [&data, &config, &cache, &runtime] {
            std::fs::create_dir_all(d).unwrap();
        }
        // Like a real XDG_RUNTIME_DIR: private to the user.
        std::fs::set_permissions(&runtime, std::fs::Permissions::from_mode(0o700)).unwrap();
        let mut keyring = Command::new("gnome-keyring-daemon")
            .args(["--foreground", "--unlock", "--components=secrets"])
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &home)
            .env("XDG_DATA_HOME", &data)
            .env("XDG_CONFIG_HOME", &config)
            .env("XDG_CACHE_HOME", &cache)
            .env("XDG_RUNTIME_DIR", &runtime)
            .env("DBUS_SESSION_BUS_ADDRESS", &self.address)
            .stdin(Stdio::piped())
            .stdout(self.log("gnome-keyring.log"))
            .stderr(self.log("gnome-keyring.err"))
            .spawn()
            .expect("gnome-keyring-daemon starts");
        // The login keyring's password; stdin is closed when it is dropped.
        keyring
            .stdin
            .take()
            .unwrap()
            .write_all(b"cairn-test-login-password")
            .expect("writing the keyring password");
        self.keyring = Some(keyring);
        self.wait("gnome-keyring's unlocked login collection", |s| {
            s.default_collection().as_deref() == Some(LOGIN_COLLECTION)
        });
    }

    /// Polls `ready` until it holds; panics with the daemons' logs when one exits or after
    /// [`READY_WITHIN`].
    fn wait(&mut self, what: &str, ready: impl Fn(&Self) -> bool) {
        let started = Instant::now();
        loop {
            if ready(self) {
                println!(
                    "{what} ready after {:.2} s",
                    started.elapsed().as_secs_f64()
                );
                return;
            }
            let exited =
                |child: &mut Option<Child>| child.as_mut().and_then(|c| c.try_wait().unwrap());
            for (name, status) in [
                ("dbus-daemon", exited(&mut self.bus)),
                ("gnome-keyring-daemon", exited(&mut self.keyring)),
            ] {
                if let Some(status) = status {
                    self.logs_shown = true;
                    panic!(
                        "{name} exited ({status}) while waiting for {what}\n{}",
                        self.logs()
                    );
                }
            }
            if started.elapsed() >= READY_WITHIN {
                self.logs_shown = true;
                panic!(
                    "{what} was not ready within {READY_WITHIN:?}\n{}",
                    self.logs()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn logs(&self) -> String {
        format!(
            "--- dbus-daemon:\n{}\n--- gnome-keyring-daemon:\n{}{}",
            self.read_log("dbus-daemon.log"),
            self.read_log("gnome-keyring.log"),
            self.read_log("gnome-keyring.err")
        )
    }

    /// A method call on the bus with `dbus-send` (independent of the code under test).
    fn dbus_send(&self, dest: &str, path: &str, method: &str, args: &[&str]) -> Option<String> {
        let out = Command::new("dbus-send")
            .env("DBUS_SESSION_BUS_ADDRESS", &self.address)
            .args(["--session", "--print-reply", "--reply-timeout=2000"])
            .arg(format!("--dest={dest}"))
            .args([path, method])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// The object path the `default` alias points to, if the Secret Service answers.
    fn default_collection(&self) -> Option<String> {
        let reply = self.dbus_send(
            "org.freedesktop.secrets",
            "/org/freedesktop/secrets",
            "org.freedesktop.Secret.Service.ReadAlias",
            &["string:default"],
        )?;
        let path = reply.split("object path \"").nth(1)?.split('"').next()?;
        Some(path.to_owned())
    }

    /// The items Secret Service itself holds for Cairn's entry `var` (unlocked and locked).
    fn items_for(&self, var: &str) -> Vec<String> {
        let reply = self
            .dbus_send(
                "org.freedesktop.secrets",
                "/org/freedesktop/secrets",
                "org.freedesktop.Secret.Service.SearchItems",
                &[&format!(
                    "dict:string:string:service,{KEYCHAIN_SERVICE},username,{var}"
                )],
            )
            .unwrap_or_else(|| panic!("SearchItems failed\n{}", self.logs()));
        reply
            .split("object path \"")
            .skip(1)
            .filter_map(|s| s.split('"').next())
            .map(str::to_owned)
            .collect()
    }
}

impl Drop for SecretService {
    fn drop(&mut self) {
        if std::thread::panicking() && !self.logs_shown {
            eprintln!("{}", self.logs());
        }
        for child in [self.keyring.take(), self.bus.take()].into_iter().flatten() {
            let mut child = child;
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

// ---------------------------------------------------------------------------------------------
// A scripted OpenAI-compatible endpoint that records the Authorization header.

/// A request the mock endpoint received: its path and its `Authorization` header.
type Seen = (String, Option<String>);

struct MockServer {
    base: String,
    auth: Arc<Mutex<Vec<Seen>>>,
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl MockServer {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}/v1", listener.local_addr().unwrap());
        let auth = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (seen, stopped) = (auth.clone(), stop.clone());
        let handle = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stopped.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(mut conn) = conn else { continue };
                let request = read_request(&mut conn);
                let Some(first) = request.lines().next() else {
                    continue;
                };
                let path = first.split_whitespace().nth(1).unwrap_or("").to_owned();
                let authorization = request.lines().find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("authorization")
                        .then(|| v.trim().to_owned())
                });
                seen.lock().unwrap().push((path.clone(), authorization));
                let reply = if path.ends_with("/models") {
                    response(
                        "200 OK",
                        &[("Content-Type", "application/json")],
                        &format!(r#"{{"object":"list","data":[{{"id":"{MODEL}"}}]}}"#),
                    )
                } else {
                    sse(&[
                        r#"{"choices":[{"index":0,"delta":{"content":"Paris"},"finish_reason":null}]}"#,
                        r#"{"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#,
                        "[DONE]",
                    ])
                };
                let _ = conn.write_all(reply.as_bytes());
            }
        });
        Self {
            base,
            auth,
            stop,
            handle: Some(handle),
        }
    }

    /// The (path, Authorization header) of each request since the last call.
    fn take_requests(&self) -> Vec<Seen> {
        std::mem::take(&mut *self.auth.lock().unwrap())
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
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

// ---------------------------------------------------------------------------------------------
// Log capture: every tracing event (and the `keyring` crate's `log` records), at TRACE.

#[derive(Clone, Default)]
struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl LogBuffer {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

// ---------------------------------------------------------------------------------------------

fn remote_config(base: &str, var: &str) -> Config {
    let mut config = Config::default();
    config.llm.provider = LlmProvider::Remote;
    config.llm.remote.base_url = base.to_owned();
    config.llm.remote.model = MODEL.to_owned();
    config.llm.remote.api_key_env = var.to_owned();
    config.llm.remote.timeout_secs = 5;
    config.llm.remote.max_retries = 0;
    config
}

/// Saves `config` the way the app does, loads it back, builds the generator with
/// `from_config`, asks one question, and returns the Authorization headers the server saw.
fn answer_through_from_config(
    server: &MockServer,
    config: &Config,
    data_dir: &Path,
) -> Vec<Option<String>> {
    config.save(data_dir).expect("saving the config");
    let loaded = Config::load(data_dir).expect("loading the saved config");
    let generator = from_config(&loaded)
        .expect("from_config")
        .expect("a remote generator");
    generator.prepare().expect("the model check");
    let out = generator
        .generate(
            &[ChatMessage::user("What is the capital of France?")],
            &GenerateOptions::default(),
            &StopToken::new(),
            &mut |_| {},
        )
        .expect("an answer from the mock endpoint");
    assert_eq!(out.text, "Paris");
    let requests = server.take_requests();
    let paths: Vec<&str> = requests.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(
        paths,
        ["/v1/models", "/v1/chat/completions"],
        "{requests:?}"
    );
    requests.into_iter().map(|(_, a)| a).collect()
}

fn bearer(key: &str) -> Option<String> {
    Some(format!("Bearer {key}"))
}

/// Every file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            match entry.file_type() {
                Ok(t) if t.is_dir() => stack.push(path),
                Ok(t) if t.is_file() => out.push(path),
                _ => {}
            }
        }
    }
    out
}

#[test]
fn api_key_round_trip_through_gnome_keyring_secret_service() {
    let mut service = SecretService::prepare();

    // Point this process at the private bus (the `keyring` crate's libdbus reads
    // DBUS_SESSION_BUS_ADDRESS when it connects), set the variable that must take precedence
    // over its keychain entry, and make sure the other one is unset. This happens before the
    // test starts any thread (the mock server's comes later) and this binary runs no other test
    // (nextest gives each test its own process; this file has one test; the harness's main
    // thread only waits), so nothing reads the environment concurrently. Edition 2021: these
    // calls are safe functions here; in edition 2024 they become `unsafe` for that reason.
    std::env::set_var("DBUS_SESSION_BUS_ADDRESS", &service.address);
    std::env::set_var(ENV_VAR, ENV_KEY);
    std::env::remove_var(KC_VAR);

    let logs = LogBuffer::default();
    let writer = logs.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .try_init()
        .expect("installing the log capture");

    service.start();
    let server = MockServer::start();
    let data_dir = service.path("data");

    // The keychain answers and holds nothing yet (Ok, not a "no keychain service" error).
    assert_eq!(load_api_key(KC_VAR).expect("reading the keychain"), None);
    assert!(!delete_api_key(KC_VAR).expect("deleting a missing entry"));

    // "Test connection" with a typed key uses it and stores nothing: no keychain entry, no
    // settings file.
    let report = test_connection_with_key(
        &remote_config(&server.base, KC_VAR).llm,
        Some(ApiKey::new(KC_KEY)),
    )
    .expect("test_connection with a typed key");
    assert!(!report.message.contains(KC_KEY), "{}", report.message);
    assert_eq!(
        server.take_requests(),
        [("/v1/models".into(), bearer(KC_KEY))]
    );
    assert_eq!(load_api_key(KC_VAR).expect("reading the keychain"), None);
    assert!(service.items_for(KC_VAR).is_empty());
    assert!(!data_dir.join(CONFIG_FILE).exists());

    // Store → the item is in GNOME Keyring's login collection → it reads back.
    store_api_key(KC_VAR, &server.base, &ApiKey::new(format!("  {KC_KEY}\n")))
        .expect("storing the key");
    let items = service.items_for(KC_VAR);
    assert_eq!(
        items.len(),
        1,
        "one Secret Service item for {KC_VAR}: {items:?}"
    );
    assert!(
        items[0].starts_with(LOGIN_COLLECTION),
        "the item is in the login collection: {items:?}"
    );
    let loaded = load_api_key(KC_VAR).expect("reading the keychain");
    assert_eq!(loaded.as_ref().map(ApiKey::expose), Some(KC_KEY));
    // Storing again replaces the entry, it does not add a second one.
    store_api_key(KC_VAR, &server.base, &ApiKey::new(KC_KEY)).expect("storing the key again");
    assert_eq!(service.items_for(KC_VAR).len(), 1);

    // The key is bound to the endpoint it was saved for: with the base URL changed to another
    // server (another port on this machine is another endpoint), it is not sent there, and the
    // test of the new endpoint says why.
    let other = MockServer::start();
    let moved = remote_config(&other.base, KC_VAR);
    let auth = answer_through_from_config(&other, &moved, &data_dir);
    assert_eq!(
        auth,
        [None, None],
        "the old key never reaches the new endpoint"
    );
    let report = test_connection(&moved.llm).expect("test_connection");
    let said = report.api_key.unwrap_or_default();
    assert!(
        said.contains("never sent") && said.contains("enter the key again"),
        "{said}"
    );
    other.take_requests();
    drop(other);

    // from_config (config saved and loaded like the app does) sends the keychain's key.
    let config = remote_config(&server.base, KC_VAR);
    let auth = answer_through_from_config(&server, &config, &data_dir);
    assert_eq!(auth, [bearer(KC_KEY), bearer(KC_KEY)], "from the keychain");
    let config_text = std::fs::read_to_string(data_dir.join(CONFIG_FILE)).unwrap();
    assert!(
        config_text.contains(KC_VAR),
        "the config names the entry:\n{config_text}"
    );
    assert!(
        !config_text.contains(KC_KEY),
        "the key must never be written to the config file:\n{config_text}"
    );
    let report = test_connection(&config.llm).expect("test_connection");
    assert_eq!(
        report.api_key.as_deref(),
        Some(format!("OS keychain entry `{KC_VAR}`").as_str()),
        "{report:?}"
    );
    assert!(!report.message.contains(KC_KEY), "{}", report.message);
    assert_eq!(
        server.take_requests(),
        [("/v1/models".into(), bearer(KC_KEY))]
    );

    // The environment variable wins over a keychain entry of the same name.
    store_api_key(ENV_VAR, &server.base, &ApiKey::new(SHADOWED_KEY))
        .expect("storing the shadowed key");
    assert_eq!(
        load_api_key(ENV_VAR).unwrap().as_ref().map(ApiKey::expose),
        Some(SHADOWED_KEY),
        "the keychain itself holds the entry"
    );
    let config_env = remote_config(&server.base, ENV_VAR);
    let auth = answer_through_from_config(&server, &config_env, &data_dir);
    assert_eq!(auth, [bearer(ENV_KEY), bearer(ENV_KEY)], "${ENV_VAR} wins");
    let report = test_connection(&config_env.llm).expect("test_connection");
    assert_eq!(
        report.api_key.as_deref(),
        Some(format!("environment variable {ENV_VAR}").as_str())
    );
    server.take_requests();
    assert!(delete_api_key(ENV_VAR).expect("deleting the shadowed key"));

    // Delete → gone from the Secret Service, load is None, and no key is sent any more.
    assert!(delete_api_key(KC_VAR).expect("deleting the key"));
    assert!(!delete_api_key(KC_VAR).expect("deleting it twice"));
    assert_eq!(load_api_key(KC_VAR).expect("reading the keychain"), None);
    assert!(service.items_for(KC_VAR).is_empty());
    assert!(service.items_for(ENV_VAR).is_empty());
    let auth = answer_through_from_config(&server, &config, &data_dir);
    assert_eq!(auth, [None, None], "no key after deleting it");
    let report = test_connection(&config.llm).expect("test_connection");
    assert_eq!(report.api_key.as_deref(), Some("none"));

    // Nothing logged the keys (the capture works: it holds the requests and keyring's calls),
    // and no file written here holds them in clear: not the config, not GNOME Keyring's
    // (encrypted) login keyring, not the daemons' logs.
    let log = logs.text();
    assert!(
        log.contains("chat completion request"),
        "the log capture saw cairn-llm's events:\n{log}"
    );
    assert!(
        log.contains(KEYCHAIN_SERVICE) && log.contains(KC_VAR),
        "the log capture saw the keyring crate's records:\n{log}"
    );
    for key in [KC_KEY, ENV_KEY, SHADOWED_KEY] {
        assert!(!log.contains(key), "a key was logged:\n{log}");
    }
    let files = files_under(service.dir.path());
    assert!(
        files.iter().any(|f| f.ends_with("keyrings/login.keyring")),
        "GNOME Keyring stored its login keyring under the test's HOME: {files:?}"
    );
    for file in files {
        let Ok(bytes) = std::fs::read(&file) else {
            continue; // e.g. a socket
        };
        for key in [KC_KEY, SHADOWED_KEY] {
            assert!(
                !bytes.windows(key.len()).any(|w| w == key.as_bytes()),
                "{} holds a key in clear",
                file.display()
            );
        }
    }
}
