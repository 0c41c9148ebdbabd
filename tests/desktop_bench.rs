//! Desktop start-up and memory figures (ignored by default; docs/benchmarks.md "Desktop"):
//!
//! ```sh
//! cargo build --workspace --bins
//! cargo nextest run -p cairn-tests --test desktop_bench --run-ignored only --no-capture
//! ```
//!
//! A library of `CAIRN_BENCH_DOCS` (default 400) generated Markdown documents plus the fixture
//! files is indexed completely (keywords and embeddings) with the `cairn` CLI into a data dir.
//! Then the real app (target/debug/cairn-desktop, or `CAIRN_BENCH_APP`) is started under Xvfb
//! `CAIRN_BENCH_RUNS` times (default 5) on that populated library; each start reports the
//! app's own "ui ready after N ms" (process start to the UI's first interactive frame) and the
//! wall time from spawn until that line. The last run then idles for 20 s and the resident
//! memory of the app and its WebKit processes is read from /proc (RSS and PSS).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use cairn_tests::desktop::{
    build_desktop_library, comm, descendants, desktop_bin, pss_kib, rss_kib, ui_ready_ms, Group,
    Xvfb,
};
use cairn_tests::{cairn_bin, cairn_ok};

fn env_num(key: &str, default: usize) -> usize {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Deterministic prose: `n` documents of three sections each.
fn generate_docs(dir: &Path, n: usize) -> Result<()> {
    const WORDS: &[&str] = &[
        "glacier",
        "budget",
        "harbour",
        "policy",
        "telescope",
        "invoice",
        "archive",
        "river",
        "contract",
        "meeting",
        "quarterly",
        "sensor",
        "migration",
        "refund",
        "travel",
        "security",
        "badge",
        "storage",
        "hydrology",
        "forecast",
        "customer",
        "warehouse",
        "schedule",
        "vendor",
        "audit",
        "compliance",
        "network",
        "backup",
        "training",
        "safety",
        "laboratory",
        "sample",
        "report",
        "revenue",
        "hiring",
        "office",
        "energy",
        "solar",
        "maintenance",
        "inspection",
        "permit",
        "license",
        "delivery",
        "shipment",
        "planning",
    ];
    std::fs::create_dir_all(dir)?;
    let mut seed: u64 = 0x9e3779b97f4a7c15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for i in 0..n {
        let mut f = std::fs::File::create(dir.join(format!("note-{i:04}.md")))?;
        writeln!(
            f,
            "# Note {i}: {}\n",
            WORDS[(next() % WORDS.len() as u64) as usize]
        )?;
        for s in 0..3 {
            writeln!(f, "## Section {s}\n")?;
            for _ in 0..4 {
                let len = 8 + next() % 10;
                let sentence: Vec<&str> = (0..len)
                    .map(|_| WORDS[(next() % WORDS.len() as u64) as usize])
                    .collect();
                write!(f, "The {}. ", sentence.join(" "))?;
            }
            writeln!(f, "\n")?;
        }
    }
    Ok(())
}

struct Start {
    ui_ready_ms: u64,
    wall_ms: u128,
}

fn start_app(
    bin: &Path,
    display: &str,
    data: &Path,
    scratch: &Path,
    run: usize,
) -> Result<(Group, Start, PathBuf)> {
    let log = scratch.join(format!("app-{run}.log"));
    let file = std::fs::File::create(&log)?;
    let mut cmd = Command::new(bin);
    cmd.env("DISPLAY", display)
        .env("CAIRN_DATA_DIR", data)
        .env("XDG_DATA_HOME", scratch.join("xdg-data"))
        .env("XDG_CONFIG_HOME", scratch.join("xdg-config"))
        .env("XDG_CACHE_HOME", scratch.join("xdg-cache"))
        .env("NO_AT_BRIDGE", "1")
        .env_remove("WAYLAND_DISPLAY")
        .env_remove("CAIRN_CONFIG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(file);
    let t0 = Instant::now();
    let mut group = Group::spawn(cmd, "cairn-desktop")?;
    loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if let Some(ms) = ui_ready_ms(&text) {
            return Ok((
                group,
                Start {
                    ui_ready_ms: ms,
                    wall_ms: t0.elapsed().as_millis(),
                },
                log,
            ));
        }
        if let Some(status) = group.exited() {
            bail!("the app exited ({status}) before its UI was ready:\n{text}");
        }
        if t0.elapsed() > Duration::from_secs(90) {
            bail!("no \"ui ready after N ms\" line within 90 s:\n{text}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn try_drop_caches() -> bool {
    let _ = Command::new("sync").status();
    std::fs::write("/proc/sys/vm/drop_caches", "3").is_ok()
}

#[test]
#[ignore = "benchmark: run explicitly (see the file's docs)"]
fn desktop_cold_start_and_idle_memory() -> Result<()> {
    let docs = env_num("CAIRN_BENCH_DOCS", 400);
    let runs = env_num("CAIRN_BENCH_RUNS", 5).max(1);
    let bin = match std::env::var_os("CAIRN_BENCH_APP") {
        Some(p) => PathBuf::from(p),
        None => desktop_bin()?,
    };
    let _ = cairn_bin();
    let tmp = tempfile::tempdir()?;
    let lib = build_desktop_library(tmp.path())?;
    generate_docs(&lib.join("generated"), docs)?;
    let data = tmp.path().join("data");
    let t = Instant::now();
    cairn_ok(&data, &["add", lib.to_str().unwrap()]);
    cairn_ok(&data, &["index"]);
    let status = cairn_ok(&data, &["status"]);
    println!(
        "populated library: {} generated + 5 fixture documents, indexed in {:.1} s\n{status}",
        docs,
        t.elapsed().as_secs_f64()
    );

    let xvfb = Xvfb::start()?;
    let scratch = tmp.path().join("scratch");
    std::fs::create_dir_all(&scratch)?;
    let mut starts = Vec::new();
    let mut last = None;
    for run in 0..runs {
        let cold = run == 0 && try_drop_caches();
        let (mut group, start, log) = start_app(&bin, &xvfb.display, &data, &scratch, run)
            .with_context(|| format!("start {run}"))?;
        println!(
            "start {run}{}: ui ready after {} ms (spawn to log line {} ms)",
            if cold { " (page cache dropped)" } else { "" },
            start.ui_ready_ms,
            start.wall_ms
        );
        starts.push(start);
        if run + 1 == runs {
            last = Some((group, log));
        } else {
            group.stop(Duration::from_secs(3));
            std::thread::sleep(Duration::from_millis(500));
        }
    }
    let mut ready: Vec<u64> = starts.iter().map(|s| s.ui_ready_ms).collect();
    ready.sort_unstable();
    let mut wall: Vec<u128> = starts.iter().map(|s| s.wall_ms).collect();
    wall.sort_unstable();
    println!(
        "ui ready: first {} ms, median {} ms, min {} ms, max {} ms over {runs} starts; \
         spawn-to-ready median {} ms",
        starts[0].ui_ready_ms,
        ready[ready.len() / 2],
        ready[0],
        ready[ready.len() - 1],
        wall[wall.len() / 2]
    );

    let (mut group, log) = last.expect("at least one run");
    std::thread::sleep(Duration::from_secs(20));
    let root = group.pid();
    let mut pids = vec![root];
    pids.extend(descendants(root));
    let (mut rss, mut pss) = (0u64, 0u64);
    for pid in &pids {
        let (r, p) = (rss_kib(*pid), pss_kib(*pid));
        println!(
            "  pid {pid:>7} {:<24} RSS {:>7.1} MiB  PSS {:>7.1} MiB",
            comm(*pid),
            r as f64 / 1024.0,
            p as f64 / 1024.0
        );
        rss += r;
        pss += p;
    }
    println!(
        "idle memory after 20 s (app + WebKit processes): RSS {:.1} MiB, PSS {:.1} MiB",
        rss as f64 / 1024.0,
        pss as f64 / 1024.0
    );
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    group.stop(Duration::from_secs(3));
    println!("last run's stderr:\n{text}");
    Ok(())
}
