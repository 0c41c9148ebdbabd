//! Harness for the desktop tests: a headless X server (Xvfb), tauri-driver in front of
//! WebKitWebDriver, and a fantoccini WebDriver session on the real Cairn window.
//!
//! Every process started here is stopped with all its descendants on drop, so a failing test
//! never leaves Xvfb, WebKitWebDriver or the app behind. Waits poll with
//! generous deadlines; a timeout reports what the window showed (the `data-testid`s present)
//! and the tail of the app's stderr.

use std::ffi::OsString;
use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

/// The workspace root (the folder with the top-level Cargo.toml).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// The cargo target directory this workspace builds into.
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
}

/// Where screenshots go: `<target>/screenshots/`.
pub fn screenshots_dir() -> PathBuf {
    target_dir().join("screenshots")
}

/// The dev build of the desktop app, built on demand (a no-op after `scripts/bundle.sh`, which
/// builds the same binaries the same way; see [`crate::WORKSPACE_BINS`]).
pub fn desktop_bin() -> Result<PathBuf> {
    let bin = target_dir().join("debug/cairn-desktop");
    let out = Command::new(env!("CARGO"))
        .args(crate::WORKSPACE_BINS)
        .current_dir(workspace_root())
        .output()
        .context("running cargo build --workspace --bins")?;
    if !out.status.success() {
        bail!(
            "cargo build --workspace --bins failed ({}); build the UI first (`npm run build:ui`):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(bin)
}

/// Finds a program on PATH or in ~/.cargo/bin.
pub fn find_program(name: &str) -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    if let Some(home) = std::env::var_os("HOME") {
        dirs.push(PathBuf::from(home).join(".cargo/bin"));
    }
    dirs.into_iter().map(|d| d.join(name)).find(|p| p.is_file())
}

fn require_program(name: &str, hint: &str) -> Result<PathBuf> {
    find_program(name).ok_or_else(|| anyhow!("`{name}` is not installed: {hint}"))
}

/// A child process that is stopped, with every process it started, on drop.
///
/// Children stay in the test's process group (so nextest's own timeout handling, which signals
/// the group, also ends them); on drop the whole tree below the child is collected from /proc
/// and terminated.
pub struct Group {
    child: Child,
}

impl Group {
    /// Spawns `cmd`.
    pub fn spawn(mut cmd: Command, what: &str) -> Result<Self> {
        let child = cmd.spawn().with_context(|| format!("starting {what}"))?;
        Ok(Group { child })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `Some(status)` if the process has exited.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Terminates the child and its descendants: SIGTERM, then SIGKILL after `grace`.
    pub fn stop(&mut self, grace: Duration) {
        let mut pids = descendants(self.child.id());
        if self.exited().is_none() {
            pids.push(self.child.id());
        }
        signal(&pids, "-TERM");
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            let _ = self.exited();
            if pids.iter().all(|p| !alive(*p)) {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        // Anything started meanwhile (or ignoring SIGTERM) goes too.
        let mut rest = descendants(self.child.id());
        rest.extend(pids.iter().copied().filter(|p| alive(*p)));
        signal(&rest, "-KILL");
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        self.stop(Duration::from_secs(2));
    }
}

fn signal(pids: &[u32], sig: &str) {
    if pids.is_empty() {
        return;
    }
    let _ = Command::new("kill")
        .arg(sig)
        .args(pids.iter().map(|p| p.to_string()))
        .stderr(Stdio::null())
        .status();
}

/// Whether a process exists and is not a zombie.
fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rfind(')')
            .and_then(|i| stat[i + 1..].split_whitespace().next())
            .is_some_and(|state| state != "Z"),
        Err(_) => false,
    }
}

/// A headless X server on a display number it chose itself (`-displayfd`), so parallel tests
/// never collide.
pub struct Xvfb {
    _group: Group,
    pub display: String,
}

impl Xvfb {
    pub fn start() -> Result<Self> {
        let xvfb = require_program("Xvfb", "run `bash scripts/setup.sh` (package xvfb)")?;
        let mut cmd = Command::new(xvfb);
        cmd.args([
            "-displayfd",
            "1",
            "-screen",
            "0",
            "1280x800x24",
            "-nolisten",
            "tcp",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
        let mut group = Group::spawn(cmd, "Xvfb")?;
        let stdout = group.child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .map_err(|_| anyhow!("Xvfb did not report its display number within 30 s"))?;
        let n: u32 = line
            .trim()
            .parse()
            .with_context(|| format!("Xvfb printed {line:?} instead of a display number"))?;
        Ok(Xvfb {
            _group: group,
            display: format!(":{n}"),
        })
    }
}

/// A free TCP port on 127.0.0.1 (bound and released; good enough for a test).
pub fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Last `n` lines of a file, for failure messages.
pub fn tail(path: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// How to start the app.
pub struct AppOptions {
    /// The app binary (dev build or the installed one).
    pub binary: PathBuf,
    /// Scratch folder: data dir, XDG dirs and logs go under it.
    pub scratch: PathBuf,
    /// Extra environment for the app (on top of CAIRN_DATA_DIR and isolated XDG dirs).
    pub env: Vec<(String, OsString)>,
    /// Variables removed from the app's environment.
    pub env_remove: Vec<String>,
    /// Working directory of the app.
    pub cwd: Option<PathBuf>,
}

impl AppOptions {
    pub fn new(binary: PathBuf, scratch: &Path) -> Self {
        AppOptions {
            binary,
            scratch: scratch.to_path_buf(),
            env: Vec::new(),
            env_remove: Vec::new(),
            cwd: None,
        }
    }

    pub fn env(mut self, key: &str, value: impl Into<OsString>) -> Self {
        self.env.push((key.to_owned(), value.into()));
        self
    }

    pub fn data_dir(&self) -> PathBuf {
        self.scratch.join("data")
    }
}

/// The real app window under Xvfb, driven through tauri-driver + WebKitWebDriver.
pub struct DesktopApp {
    pub client: Client,
    // Dropped in this order: the driver (and with it WebKitWebDriver and the app), then Xvfb.
    driver: Group,
    pub xvfb: Xvfb,
    /// tauri-driver's, WebKitWebDriver's and the app's stderr.
    pub log: PathBuf,
    pub data_dir: PathBuf,
    /// Prefix of screenshot names, e.g. "e2e".
    pub shot_prefix: String,
    pub shots: Vec<PathBuf>,
}

pub fn testid(id: &str) -> String {
    format!("[data-testid=\"{id}\"]")
}

impl DesktopApp {
    /// Starts Xvfb, tauri-driver and a WebDriver session that launches the app.
    pub async fn launch(opts: AppOptions, shot_prefix: &str) -> Result<Self> {
        let driver_bin = require_program(
            "tauri-driver",
            "run `bash scripts/setup.sh` (cargo install tauri-driver --locked)",
        )?;
        let native = PathBuf::from("/usr/bin/WebKitWebDriver");
        if !native.is_file() {
            bail!("/usr/bin/WebKitWebDriver is missing: run `bash scripts/setup.sh` (package webkit2gtk-driver)");
        }
        if !opts.binary.is_file() {
            bail!("app binary {} does not exist", opts.binary.display());
        }
        let xvfb = Xvfb::start()?;
        std::fs::create_dir_all(&opts.scratch)?;
        let data_dir = opts.data_dir();
        std::fs::create_dir_all(&data_dir)?;
        let log = opts.scratch.join("app-stderr.log");
        let log_file = std::fs::File::create(&log)?;

        let port = free_port()?;
        let native_port = free_port()?;
        let mut cmd = Command::new(&driver_bin);
        cmd.arg("--port")
            .arg(port.to_string())
            .arg("--native-port")
            .arg(native_port.to_string())
            .arg("--native-driver")
            .arg(&native)
            .env("DISPLAY", &xvfb.display)
            .env_remove("WAYLAND_DISPLAY")
            .env("CAIRN_DATA_DIR", &data_dir)
            .env("XDG_DATA_HOME", opts.scratch.join("xdg-data"))
            .env("XDG_CONFIG_HOME", opts.scratch.join("xdg-config"))
            .env("XDG_CACHE_HOME", opts.scratch.join("xdg-cache"))
            .env("NO_AT_BRIDGE", "1")
            .env_remove("CAIRN_CONFIG")
            .stdin(Stdio::null())
            .stdout(log_file.try_clone()?)
            .stderr(log_file);
        for key in &opts.env_remove {
            cmd.env_remove(key);
        }
        for (k, v) in &opts.env {
            cmd.env(k, v);
        }
        if let Some(cwd) = &opts.cwd {
            cmd.current_dir(cwd);
        }
        let mut driver = Group::spawn(cmd, "tauri-driver")?;

        // Wait for tauri-driver to listen.
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            if let Some(status) = driver.exited() {
                bail!(
                    "tauri-driver exited ({status}) before listening:\n{}",
                    tail(&log, 40)
                );
            }
            if Instant::now() > deadline {
                bail!(
                    "tauri-driver did not listen on port {port} within 30 s:\n{}",
                    tail(&log, 40)
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }

        let caps = json!({
            "browserName": "wry",
            "tauri:options": { "application": opts.binary },
        });
        let caps = match caps {
            Value::Object(map) => map,
            _ => unreachable!(),
        };
        let url = format!("http://127.0.0.1:{port}");
        let mut last_err = None;
        let mut client = None;
        // WebKitWebDriver occasionally refuses the very first session while it starts.
        for _ in 0..3 {
            match ClientBuilder::native()
                .capabilities(caps.clone())
                .connect(&url)
                .await
            {
                Ok(c) => {
                    client = Some(c);
                    break;
                }
                Err(e) => {
                    last_err = Some(e);
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
        let client = client.ok_or_else(|| {
            anyhow!(
                "WebDriver session for {} failed: {:?}\napp/driver log:\n{}",
                opts.binary.display(),
                last_err,
                tail(&log, 60)
            )
        })?;
        Ok(DesktopApp {
            client,
            driver,
            xvfb,
            log,
            data_dir,
            shot_prefix: shot_prefix.to_owned(),
            shots: Vec::new(),
        })
    }

    /// The app's (and drivers') stderr so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// What the window shows, for failure messages: the testids present and the log tail.
    pub async fn context(&self) -> String {
        let ids = self
            .client
            .execute(
                "return Array.from(document.querySelectorAll('[data-testid]'))\
                   .map(e => e.getAttribute('data-testid') + (e.dataset.phase ? '(' + e.dataset.phase + ')' : ''))\
                   .filter((v, i, a) => a.indexOf(v) === i).join(', ')",
                vec![],
            )
            .await
            .map(|v| v.as_str().unwrap_or("").to_owned())
            .unwrap_or_else(|e| format!("(could not read the DOM: {e})"));
        format!(
            "testids on screen: [{ids}]\n--- app/driver stderr (tail) ---\n{}",
            tail(&self.log, 60)
        )
    }

    /// Polls `script` (a JS function body that returns a value) until `done` accepts the value.
    pub async fn poll_js(
        &self,
        what: &str,
        script: &str,
        args: Vec<Value>,
        timeout: Duration,
        done: impl Fn(&Value) -> bool,
    ) -> Result<Value> {
        let deadline = Instant::now() + timeout;
        loop {
            let last = match self.client.execute(script, args.clone()).await {
                Ok(v) if done(&v) => return Ok(v),
                Ok(v) => v,
                Err(e) => Value::String(format!("script error: {e}")),
            };
            if Instant::now() > deadline {
                bail!(
                    "timed out after {:?} waiting for {what}; last value: {last}\n{}",
                    timeout,
                    self.context().await
                );
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Waits until an element matching the CSS selector exists and is displayed.
    pub async fn wait_css(&self, css: &str, timeout: Duration) -> Result<Element> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(el) = self.client.find(Locator::Css(css)).await {
                if el.is_displayed().await.unwrap_or(false) {
                    return Ok(el);
                }
            }
            if Instant::now() > deadline {
                bail!(
                    "timed out after {timeout:?} waiting for `{css}` to be shown\n{}",
                    self.context().await
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Waits for `[data-testid=id]` to be shown.
    pub async fn wait(&self, id: &str, timeout: Duration) -> Result<Element> {
        self.wait_css(&testid(id), timeout).await
    }

    /// Waits until no element matches the CSS selector (or none is displayed).
    pub async fn wait_gone(&self, css: &str, timeout: Duration) -> Result<()> {
        self.poll_js(
            &format!("`{css}` to disappear"),
            "return Array.from(document.querySelectorAll(arguments[0])).filter(e => e.offsetParent !== null).length",
            vec![json!(css)],
            timeout,
            |v| v.as_u64() == Some(0),
        )
        .await
        .map(|_| ())
    }

    /// Clicks `[data-testid=id]` once it is shown.
    pub async fn click(&self, id: &str) -> Result<()> {
        let el = self.wait(id, Duration::from_secs(20)).await?;
        match el.click().await {
            Ok(()) => Ok(()),
            Err(e) => Err(anyhow!(
                "clicking {id} failed: {e}\n{}",
                self.context().await
            )),
        }
    }

    /// Clicks an element.
    pub async fn click_el(&self, el: &Element, what: &str) -> Result<()> {
        match el.click().await {
            Ok(()) => Ok(()),
            Err(e) => Err(anyhow!(
                "clicking {what} failed: {e}\n{}",
                self.context().await
            )),
        }
    }

    /// Types into `[data-testid=id]` (after clearing it), like a person would.
    pub async fn type_into(&self, id: &str, text: &str) -> Result<()> {
        let el = self.wait(id, Duration::from_secs(20)).await?;
        el.click().await.ok();
        el.clear().await.with_context(|| format!("clearing {id}"))?;
        el.send_keys(text)
            .await
            .with_context(|| format!("typing into {id}\n{}", tail(&self.log, 30)))?;
        Ok(())
    }

    /// Text of `[data-testid=id]`.
    pub async fn text(&self, id: &str) -> Result<String> {
        let el = self.wait(id, Duration::from_secs(20)).await?;
        Ok(el.text().await?)
    }

    /// Saves a screenshot as `<target>/screenshots/<prefix>-<name>.png` after letting the
    /// window repaint (a capture right after a DOM change can show the previous frame).
    pub async fn screenshot(&mut self, name: &str) -> Result<PathBuf> {
        tokio::time::sleep(Duration::from_millis(1000)).await;
        let png = self
            .client
            .screenshot()
            .await
            .with_context(|| format!("screenshot {name}"))?;
        let dir = screenshots_dir();
        std::fs::create_dir_all(&dir)?;
        let path = dir.join(format!("{}-{name}.png", self.shot_prefix));
        std::fs::write(&path, png)?;
        println!("screenshot: {}", path.display());
        self.shots.push(path.clone());
        Ok(path)
    }

    /// The app's own process id (the child of WebKitWebDriver that runs the app binary).
    pub fn app_pid(&self, binary: &Path) -> Option<u32> {
        let want = std::fs::canonicalize(binary).ok()?;
        descendants(self.driver.pid())
            .into_iter()
            .find(|pid| std::fs::read_link(format!("/proc/{pid}/exe")).ok().as_ref() == Some(&want))
    }

    /// Pid of tauri-driver (the root of the process tree).
    pub fn driver_pid(&self) -> u32 {
        self.driver.pid()
    }

    /// Ends the WebDriver session (closing the app), then stops everything.
    pub async fn close(mut self) -> Result<()> {
        let client = self.client.clone();
        let _ = tokio::time::timeout(Duration::from_secs(15), client.close()).await;
        self.driver.stop(Duration::from_secs(3));
        Ok(())
    }
}

/// All descendants of `pid` (from /proc), depth first.
pub fn descendants(pid: u32) -> Vec<u32> {
    let mut children: std::collections::HashMap<u32, Vec<u32>> = Default::default();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for e in entries.flatten() {
            let Ok(p) = e.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            if let Some(ppid) = ppid_of(p) {
                children.entry(ppid).or_default().push(p);
            }
        }
    }
    let mut out = Vec::new();
    let mut stack = vec![pid];
    while let Some(p) = stack.pop() {
        if let Some(kids) = children.get(&p) {
            for &k in kids {
                out.push(k);
                stack.push(k);
            }
        }
    }
    out
}

fn ppid_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // comm may contain spaces: the fields after the last ')' are fixed.
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split_whitespace().nth(1)?.parse().ok()
}

/// Resident set size of a process in KiB (VmRSS), or 0 if it is gone.
pub fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// Proportional set size in KiB (shared pages split between processes), from smaps_rollup.
pub fn pss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Pss:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// Name (comm) of a process.
pub fn comm(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .map(|s| s.trim().to_owned())
        .unwrap_or_default()
}

/// A fixture folder with one real file of each kind the app indexes: Markdown, plain text,
/// HTML, a three-page PDF and a DOCX. Returns its root.
pub fn build_desktop_library(root: &Path) -> Result<PathBuf> {
    let lib = root.join("docs");
    std::fs::create_dir_all(lib.join("handbook"))?;
    std::fs::write(
        lib.join("handbook/travel.md"),
        "# Employee Handbook\n\nWelcome to the company.\n\n## Travel Policy\n\nEconomy class is \
         required for flights shorter than six hours. Submit receipts within 30 days.\n\n\
         ### Per Diem\n\nThe daily meal allowance abroad is 45 euros.\n",
    )?;
    std::fs::write(
        lib.join("lighthouse.txt"),
        "The lighthouse keeper logs fog signals every night. The foghorn sounds twice a \
         minute when visibility drops below one nautical mile.\n",
    )?;
    std::fs::write(
        lib.join("refunds.html"),
        "<!DOCTYPE html><html><head><title>Refund Policy</title><script>window.injected = \
         'zebracorn';</script></head><body><h1>Refund Policy</h1><p>Customers may return \
         goods within <b>fourteen days</b> of delivery for a full refund.</p><h2>Exceptions</h2>\
         <p>Perishable groceries cannot be refunded &amp; must be reported the same day.</p>\
         </body></html>",
    )?;
    crate::write_report_and_notes(&lib)?;
    Ok(lib)
}

/// Reads the "ui ready after N ms" line the app prints to stderr.
pub fn ui_ready_ms(log: &str) -> Option<u64> {
    log.lines().rev().find_map(|l| {
        let rest = l.split("ui ready after ").nth(1)?;
        rest.split_whitespace().next()?.parse().ok()
    })
}

/// A tokio runtime for one test.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}
