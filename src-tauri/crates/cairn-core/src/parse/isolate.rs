//! Isolated parsing: the parsers of complex formats (PDF, DOCX, HTML) run in worker processes,
//! so that a hostile file can only end its own attempt.
//!
//! A stack overflow, an endless loop or a memory blow-up inside a parser cannot be caught in
//! the process that runs it (`catch_unwind` sees none of them). As Recoll runs its filters,
//! Cairn runs these parsers in a small pool of worker processes: the binary itself started in
//! worker mode (the binaries register how with [`register_worker`] and serve with
//! [`serve_worker`]). Each attempt has a wall-clock budget and the worker a memory limit
//! ([`Limits`]); a worker that overruns, crashes or runs out of memory is killed and replaced,
//! and the file gets a reason a person can act on ("parser crashed (stack overflow)", "took
//! longer than 60 s", "needs more than 1024 MB").
//!
//! Plain text and Markdown are parsed in-process (their parsers are linear and shallow). When no
//! worker is registered (library users, the engine's own tests) every kind is parsed in-process.
//!
//! The protocol is binary frames over the worker's stdin/stdout: a request is the path and the
//! file's bytes, a response a tag and the JSON of the [`ParsedDoc`] or the failure reason. The
//! worker moves its own stdout out of the way first, so a parser that prints cannot corrupt it.

use std::ffi::OsString;
use std::io::{BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use super::{detect, DocKind, ParsedDoc};
use crate::error::{Error, Result};
use crate::stop::StopToken;

/// How often a waiting attempt looks at its stop token.
const STOP_POLL: Duration = Duration::from_millis(50);

/// Budgets of one parse attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Wall-clock time for one file.
    pub timeout: Duration,
    /// Memory a worker may use on top of its start-up size.
    pub memory_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            timeout: Duration::from_secs(60),
            memory_bytes: 1024 * 1024 * 1024,
        }
    }
}

/// How to start a worker: a program and its arguments (normally the running binary with its
/// worker-mode argument).
#[derive(Debug, Clone)]
pub struct WorkerCommand {
    pub program: PathBuf,
    pub args: Vec<OsString>,
}

impl WorkerCommand {
    /// The running executable with `args`.
    pub fn current_exe(args: &[&str]) -> Result<WorkerCommand> {
        let program = std::env::current_exe()
            .map_err(|e| Error::Invalid(format!("cannot find the running program: {e}")))?;
        Ok(WorkerCommand {
            program,
            args: args.iter().map(OsString::from).collect(),
        })
    }
}

/// A worker is restarted after this many files, so heap fragmentation cannot accumulate.
const FILES_PER_WORKER: usize = 500;
/// Response tags.
const TAG_OK: u8 = 0;
const TAG_FAILED: u8 = 1;
/// The largest request a worker accepts (the engine reads no larger file).
const MAX_REQUEST: u64 = 1 << 34;
/// Stderr kept from a worker, to explain its crash.
const STDERR_TAIL: usize = 4096;

/// Written by a worker before its first response: whatever a harness printed before it is
/// skipped.
const HELLO: &[u8] = b"\x00CAIRN-PARSE-WORKER-1\x00";

static POOL: OnceLock<WorkerPool> = OnceLock::new();

/// Makes this process parse complex formats in workers started with `command`. Call once, early
/// in `main`; later calls are ignored (returns false).
pub fn register_worker(command: WorkerCommand, limits: Limits) -> bool {
    // The worker's private output needs Unix descriptors; elsewhere parsing stays in-process.
    if cfg!(not(unix)) {
        return false;
    }
    POOL.set(WorkerPool::new(command, limits)).is_ok()
}

/// Changes the budgets of later attempts (from the configuration).
pub fn set_limits(limits: Limits) {
    if let Some(pool) = POOL.get() {
        *pool.limits.lock().unwrap_or_else(|e| e.into_inner()) = limits;
    }
}

/// Parses like [`super::parse`], in a worker process for PDF, DOCX and HTML when a worker is
/// registered. Failures are [`Error::Parse`] with the reason. When `stop` is stopped while a
/// worker parses, the worker is killed and the result is [`Error::Cancelled`] (the file is not
/// judged: it is parsed again next time); an in-process parse runs to its end.
pub fn parse(path: &Path, bytes: &[u8], stop: &StopToken) -> Result<ParsedDoc> {
    let risky = !matches!(
        detect(path, &bytes[..bytes.len().min(8192)]),
        Some(DocKind::Text | DocKind::Markdown)
    );
    match POOL.get() {
        Some(pool) if risky => pool.parse_until(path, bytes, stop),
        _ => super::parse(path, bytes),
    }
}

/// The first frame of an OCR request: no path starts with a NUL byte. The page number follows
/// in decimal.
const OCR_REQUEST: &[u8] = b"\0ocr\0";

/// Recognises one item of a document's OCR work (page `page` of a PDF, or 0: an image) like
/// [`super::ocr::recognise`], in a worker when one is registered, under the same time and
/// memory budget as a parse (per page). Failures and stops as in [`parse`].
pub fn recognise(path: &Path, bytes: &[u8], page: u32, stop: &StopToken) -> Result<ParsedDoc> {
    match POOL.get() {
        Some(pool) => {
            let mut head = OCR_REQUEST.to_vec();
            head.extend_from_slice(page.to_string().as_bytes());
            pool.request(&head, path, bytes, stop)
        }
        None => super::ocr::recognise(bytes, page).map_err(|reason| Error::Parse {
            path: path.to_owned(),
            reason,
        }),
    }
}

/// Worker processes that parse files, started on demand and reused.
pub struct WorkerPool {
    command: WorkerCommand,
    limits: Mutex<Limits>,
    idle: Mutex<Vec<Worker>>,
}

impl WorkerPool {
    pub fn new(command: WorkerCommand, limits: Limits) -> WorkerPool {
        WorkerPool {
            command,
            limits: Mutex::new(limits),
            idle: Mutex::new(Vec::new()),
        }
    }

    /// Parses one file in a worker. A worker that crashes, overruns its time or its memory is
    /// replaced; the file fails with [`Error::Parse`] saying which.
    pub fn parse(&self, path: &Path, bytes: &[u8]) -> Result<ParsedDoc> {
        self.parse_until(path, bytes, &StopToken::new())
    }

    /// [`WorkerPool::parse`] that gives up when `stop` is stopped: the worker is killed at once
    /// (within [`STOP_POLL`]) and the result is [`Error::Cancelled`].
    pub fn parse_until(&self, path: &Path, bytes: &[u8], stop: &StopToken) -> Result<ParsedDoc> {
        self.request(path.as_os_str().as_encoded_bytes(), path, bytes, stop)
    }

    /// Sends one request (`head`: the path, or an OCR request) with the file's bytes.
    fn request(
        &self,
        head: &[u8],
        path: &Path,
        bytes: &[u8],
        stop: &StopToken,
    ) -> Result<ParsedDoc> {
        match self.attempt(head, bytes, stop) {
            Ok(doc) => Ok(doc),
            Err(Failure::Stopped) => Err(Error::Cancelled),
            Err(Failure::Reason(reason)) => Err(Error::Parse {
                path: path.to_owned(),
                reason,
            }),
        }
    }

    fn attempt(
        &self,
        head: &[u8],
        bytes: &[u8],
        stop: &StopToken,
    ) -> std::result::Result<ParsedDoc, Failure> {
        if stop.is_stopped() {
            return Err(Failure::Stopped);
        }
        let limits = *self.limits.lock().unwrap_or_else(|e| e.into_inner());
        let popped = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let mut worker = match popped {
            Some(w) => w,
            None => Worker::start(&self.command, limits.memory_bytes)
                .map_err(|e| Failure::Reason(format!("cannot start a parser process: {e}")))?,
        };
        match worker.parse(head, bytes, limits, stop) {
            Ok(result) => {
                worker.served += 1;
                if worker.served < FILES_PER_WORKER {
                    self.idle
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push(worker);
                }
                result.map_err(Failure::Reason)
            }
            // The worker is dropped (killed) with its failure.
            Err(failure) => Err(failure),
        }
    }
}

/// Why an attempt gave no document.
enum Failure {
    /// The stop token was stopped; the worker was killed.
    Stopped,
    /// The parser refused the file, or its worker failed: the problem's reason.
    Reason(String),
}

/// One worker process.
struct Worker {
    child: Child,
    stdin: ChildStdin,
    responses: Receiver<std::io::Result<(u8, Vec<u8>)>>,
    stderr: Arc<Mutex<Vec<u8>>>,
    served: usize,
}

impl Worker {
    fn start(command: &WorkerCommand, memory_bytes: u64) -> std::io::Result<Worker> {
        let mut child = Command::new(&command.program)
            .args(&command.args)
            .env("CAIRN_PARSE_MEMORY_BYTES", memory_bytes.to_string())
            .env("RUST_BACKTRACE", "0")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        let stdin = child.stdin.take().expect("piped");
        let stdout = child.stdout.take().expect("piped");
        let mut stderr_pipe = child.stderr.take().expect("piped");
        let (tx, responses) = mpsc::channel();
        std::thread::Builder::new()
            .name("cairn-parse-reader".into())
            .spawn(move || {
                let mut r = BufReader::new(stdout);
                if let Err(e) = skip_to_hello(&mut r) {
                    let _ = tx.send(Err(e));
                    return;
                }
                loop {
                    let frame = read_response(&mut r);
                    let end = frame.is_err();
                    if tx.send(frame).is_err() || end {
                        break;
                    }
                }
            })?;
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let tail = Arc::clone(&stderr);
        std::thread::Builder::new()
            .name("cairn-parse-stderr".into())
            .spawn(move || {
                let mut buf = [0u8; 1024];
                while let Ok(n) = stderr_pipe.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    let mut t = tail.lock().unwrap_or_else(|e| e.into_inner());
                    t.extend_from_slice(&buf[..n]);
                    if t.len() > STDERR_TAIL {
                        let cut = t.len() - STDERR_TAIL;
                        t.drain(..cut);
                    }
                }
            })?;
        Ok(Worker {
            child,
            stdin,
            responses,
            stderr,
            served: 0,
        })
    }

    /// Outer error: the worker failed or was stopped (it must be dropped); inner: the parser's
    /// own verdict.
    fn parse(
        &mut self,
        head: &[u8],
        bytes: &[u8],
        limits: Limits,
        stop: &StopToken,
    ) -> std::result::Result<std::result::Result<ParsedDoc, String>, Failure> {
        let sent = write_frame(&mut self.stdin, head)
            .and_then(|()| write_frame(&mut self.stdin, bytes))
            .and_then(|()| self.stdin.flush());
        if sent.is_err() {
            return Err(Failure::Reason(self.death(limits)));
        }
        // Wait in short slices, so a stop request is seen while a slow file parses.
        let deadline = std::time::Instant::now() + limits.timeout;
        let response = loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.responses.recv_timeout(left.min(STOP_POLL)) {
                Err(RecvTimeoutError::Timeout) if left > STOP_POLL => {
                    if stop.is_stopped() {
                        return Err(Failure::Stopped);
                    }
                }
                other => break other,
            }
        };
        match response {
            Ok(Ok((TAG_OK, json))) => serde_json::from_slice(&json)
                .map(Ok)
                .map_err(|e| Failure::Reason(format!("the parser process answered garbage: {e}"))),
            Ok(Ok((_, reason))) => Ok(Err(String::from_utf8_lossy(&reason).into_owned())),
            Ok(Err(_)) | Err(RecvTimeoutError::Disconnected) => {
                Err(Failure::Reason(self.death(limits)))
            }
            Err(RecvTimeoutError::Timeout) => Err(Failure::Reason(format!(
                "took longer than {} to parse (the limit is `[ingest] parse_timeout_seconds`)",
                describe_duration(limits.timeout)
            ))),
        }
    }

    /// Why the worker died (it exited or closed its pipes): waits for it and reads its stderr.
    fn death(&mut self, limits: Limits) -> String {
        let status = self.child.wait().ok();
        // The stderr thread ends with the pipe; give it a moment to take the last lines.
        std::thread::sleep(Duration::from_millis(50));
        let stderr = self
            .stderr
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        crash_reason(&String::from_utf8_lossy(&stderr), status, limits)
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn describe_duration(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s >= 1.0 {
        format!("{s:.0} s")
    } else {
        format!("{:.0} ms", s * 1000.0)
    }
}

/// A person's reason for a worker that died, from its stderr and exit status.
fn crash_reason(stderr: &str, status: Option<std::process::ExitStatus>, limits: Limits) -> String {
    if stderr.contains("has overflowed its stack") {
        return "parser crashed (stack overflow)".into();
    }
    if stderr.contains("memory allocation of") || stderr.contains("out of memory") {
        return format!(
            "needs more than {} MB to parse (the limit is `[ingest] parse_memory_mb`)",
            limits.memory_bytes / (1024 * 1024)
        );
    }
    #[cfg(unix)]
    if let Some(sig) = status.and_then(|s| std::os::unix::process::ExitStatusExt::signal(&s)) {
        let name = match sig {
            6 => "abort",
            9 => "killed",
            11 => "segmentation fault",
            _ => "signal",
        };
        return format!("parser crashed ({name}, signal {sig})");
    }
    match status.and_then(|s| s.code()) {
        Some(code) => format!("parser crashed (exit code {code})"),
        None => "parser crashed".into(),
    }
}

fn write_frame(w: &mut impl Write, bytes: &[u8]) -> std::io::Result<()> {
    w.write_all(&(bytes.len() as u64).to_le_bytes())?;
    w.write_all(bytes)
}

fn read_frame(r: &mut impl Read, max: u64) -> std::io::Result<Vec<u8>> {
    let mut len = [0u8; 8];
    r.read_exact(&mut len)?;
    let len = u64::from_le_bytes(len);
    if len > max {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "frame too large",
        ));
    }
    let mut buf = vec![0u8; len as usize];
    r.read_exact(&mut buf)?;
    Ok(buf)
}

/// Reads up to and including [`HELLO`].
fn skip_to_hello(r: &mut impl Read) -> std::io::Result<()> {
    let mut matched = 0;
    let mut byte = [0u8; 1];
    while matched < HELLO.len() {
        r.read_exact(&mut byte)?;
        if byte[0] == HELLO[matched] {
            matched += 1;
        } else {
            matched = usize::from(byte[0] == HELLO[0]);
        }
    }
    Ok(())
}

fn read_response(r: &mut impl Read) -> std::io::Result<(u8, Vec<u8>)> {
    let mut tag = [0u8; 1];
    r.read_exact(&mut tag)?;
    Ok((tag[0], read_frame(r, u64::MAX >> 1)?))
}

/// The worker side, for the binaries' worker mode: limits its own memory, then parses the
/// requests on stdin until it closes. Returns the process exit code.
pub fn serve_worker() -> i32 {
    let memory = std::env::var("CAIRN_PARSE_MEMORY_BYTES")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(Limits::default().memory_bytes);
    limit_memory(memory);
    // The protocol's stdout is kept private; fd 1 goes to stderr, so a parser that prints
    // cannot corrupt a response.
    let Some(mut out) = private_stdout() else {
        eprintln!("cairn parse worker: cannot set up its output");
        return 2;
    };
    if out.write_all(HELLO).and_then(|()| out.flush()).is_err() {
        return 0;
    }
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    loop {
        let path = match read_frame(&mut input, 64 * 1024) {
            Ok(p) => p,
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return 0,
            Err(_) => return 2,
        };
        let Ok(bytes) = read_frame(&mut input, MAX_REQUEST) else {
            return 2;
        };
        let parsed = match path.strip_prefix(OCR_REQUEST) {
            Some(page) => match std::str::from_utf8(page).ok().and_then(|p| p.parse().ok()) {
                Some(page) => super::ocr::recognise(&bytes, page).map_err(|reason| Error::Parse {
                    path: PathBuf::new(),
                    reason,
                }),
                None => return 2,
            },
            None => super::parse(&crate::paths::bytes_to_path(path), &bytes),
        };
        let (tag, body) = match parsed {
            Ok(doc) => match serde_json::to_vec(&doc) {
                Ok(json) => (TAG_OK, json),
                Err(e) => (TAG_FAILED, e.to_string().into_bytes()),
            },
            Err(Error::Parse { reason, .. }) => (TAG_FAILED, reason.into_bytes()),
            Err(e) => (TAG_FAILED, e.to_string().into_bytes()),
        };
        drop(bytes);
        let sent = out
            .write_all(&[tag])
            .and_then(|()| write_frame(&mut out, &body))
            .and_then(|()| out.flush());
        if sent.is_err() {
            return 0;
        }
    }
}

/// Caps the worker's data segment and anonymous mappings (Linux counts both in RLIMIT_DATA),
/// so a memory blow-up fails an allocation (the process aborts, and the parent reports it)
/// instead of exhausting the machine.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
pub fn limit_memory(bytes: u64) {
    // What the process already uses (libraries' data, the allocator) is added on top.
    let base = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmData:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .unwrap_or(0)
        * 1024;
    let cap = base.saturating_add(bytes);
    let rl = libc::rlimit {
        rlim_cur: cap,
        rlim_max: cap,
    };
    // SAFETY: setrlimit reads a valid, initialised struct; it affects only this process.
    if unsafe { libc::setrlimit(libc::RLIMIT_DATA, &rl) } != 0 {
        eprintln!("cairn parse worker: cannot limit its memory");
    }
}

#[cfg(not(target_os = "linux"))]
pub fn limit_memory(_bytes: u64) {}

/// Duplicates stdout for the protocol and points fd 1 at stderr.
#[cfg(unix)]
#[allow(unsafe_code)]
fn private_stdout() -> Option<std::fs::File> {
    use std::os::fd::FromRawFd;
    // SAFETY: dup/dup2 on the process's own standard descriptors; the duplicate is owned by
    // the returned File alone.
    unsafe {
        let fd = libc::dup(1);
        if fd < 0 || libc::dup2(2, 1) < 0 {
            return None;
        }
        Some(std::fs::File::from_raw_fd(fd))
    }
}

#[cfg(not(unix))]
fn private_stdout() -> Option<std::fs::File> {
    None
}
