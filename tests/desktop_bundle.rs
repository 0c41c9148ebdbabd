//! Tests of the installable bundles built by `scripts/bundle.sh` (which `scripts/test.sh` runs
//! before the test suite): updater signatures, what the .deb/.rpm carry, and the installed app
//! opening on this machine with its bundled models.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use cairn_tests::desktop::{
    build_desktop_library, runtime, target_dir, ui_ready_ms, workspace_root, AppOptions, DesktopApp,
};

fn bundle_dir() -> PathBuf {
    target_dir().join("debug/bundle")
}

/// Files in `<bundle>/<kind>/` ending with `ext`.
fn artifacts(kind: &str, ext: &str) -> Result<Vec<PathBuf>> {
    let dir = bundle_dir().join(kind);
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(&dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.to_string_lossy().ends_with(ext) {
                out.push(p);
            }
        }
    }
    ensure!(
        !out.is_empty(),
        "no *{ext} in {}: build the bundles first with `bash scripts/bundle.sh` (scripts/test.sh does)",
        dir.display()
    );
    out.sort();
    Ok(out)
}

fn one_artifact(kind: &str, ext: &str) -> Result<PathBuf> {
    let mut all = artifacts(kind, ext)?;
    ensure!(
        all.len() == 1,
        "expected one *{ext} in {kind}/, found {all:?}"
    );
    Ok(all.remove(0))
}

fn run(cmd: &mut Command) -> Result<Output> {
    let what = format!("{cmd:?}");
    cmd.output().with_context(|| format!("running {what}"))
}

fn run_ok(cmd: &mut Command) -> Result<String> {
    let what = format!("{cmd:?}");
    let out = run(cmd)?;
    ensure!(
        out.status.success(),
        "{what} failed ({}):\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn base64_decode_to(input: &str, dest: &Path) -> Result<()> {
    let tmp = dest.with_extension("b64");
    std::fs::write(&tmp, input.trim())?;
    let out = run_ok(Command::new("base64").arg("-d").arg(&tmp))?;
    std::fs::write(dest, out)?;
    Ok(())
}

/// The public key that verifies this build's signatures (written by scripts/bundle.sh).
fn public_key() -> Result<String> {
    let path = target_dir().join("bundle-signing/used.pub");
    std::fs::read_to_string(&path).with_context(|| {
        format!(
            "reading {} (written by scripts/bundle.sh; run it first)",
            path.display()
        )
    })
}

/// Runs `minisign -V` on `file` with its tauri `.sig` (base64) and a tauri public key (base64).
fn minisign_verify(file: &Path, sig_b64: &str, pub_b64: &str, scratch: &Path) -> Result<Output> {
    let pk = scratch.join("key.pub");
    let sig = scratch.join("artifact.minisig");
    base64_decode_to(pub_b64, &pk)?;
    base64_decode_to(sig_b64, &sig)?;
    run(Command::new("minisign")
        .arg("-V")
        .arg("-p")
        .arg(&pk)
        .arg("-m")
        .arg(file)
        .arg("-x")
        .arg(&sig))
}

#[test]
fn updater_signatures_verify_with_minisign_and_fail_when_tampered() -> Result<()> {
    let tmp = tempfile::tempdir()?;
    let pubkey = public_key()?;
    let mut signed = artifacts("deb", ".deb")?;
    signed.extend(artifacts("rpm", ".rpm")?);
    if let Ok(more) = artifacts("appimage", ".AppImage") {
        signed.extend(more);
    }
    for file in &signed {
        let sig_path = PathBuf::from(format!("{}.sig", file.display()));
        let sig = std::fs::read_to_string(&sig_path).with_context(|| {
            format!(
                "{} has no updater signature {} (bundle.createUpdaterArtifacts must be true)",
                file.display(),
                sig_path.display()
            )
        })?;
        let out = minisign_verify(file, &sig, &pubkey, tmp.path())?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        ensure!(
            out.status.success() && stdout.contains("Signature and comment signature verified"),
            "minisign rejected {} with {}:\n{stdout}\n{}",
            file.display(),
            sig_path.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        println!(
            "verified: {} ({})",
            file.display(),
            stdout.trim().replace('\n', "; ")
        );

        // One flipped byte in the middle of the artifact must break the signature.
        let mut bytes = std::fs::read(file)?;
        let mid = bytes.len() / 2;
        bytes[mid] ^= 0x5a;
        let tampered = tmp.path().join("tampered");
        std::fs::write(&tampered, &bytes)?;
        let out = minisign_verify(&tampered, &sig, &pubkey, tmp.path())?;
        ensure!(
            !out.status.success(),
            "minisign accepted a tampered copy of {}:\n{}",
            file.display(),
            String::from_utf8_lossy(&out.stdout)
        );
    }
    Ok(())
}

#[test]
fn no_private_signing_key_is_committed() -> Result<()> {
    // A tauri private key file is the base64 of a minisign secret key, whose first line is
    // "untrusted comment: rsign encrypted secret key" (base64 below); minisign's own secret
    // keys say "minisign encrypted secret key".
    let out = run(Command::new("git")
        .args([
            "grep",
            "-l",
            "-e",
            "dW50cnVzdGVkIGNvbW1lbnQ6IHJzaWduIGVuY3J5cHRlZCBzZWNyZXQga2V5",
            "-e",
            "minisign encrypted secret key",
            "--",
            ".",
            ":!tests/desktop_bundle.rs",
        ])
        .current_dir(workspace_root()))?;
    let found = String::from_utf8_lossy(&out.stdout);
    ensure!(
        found.trim().is_empty(),
        "tracked files contain a private signing key:\n{found}"
    );
    Ok(())
}

/// `target = "…"` entries of models/manifest.toml: the files the app needs under models/.
fn model_files() -> Result<Vec<String>> {
    let manifest = std::fs::read_to_string(workspace_root().join("models/manifest.toml"))?;
    let files: Vec<String> = manifest
        .lines()
        .filter_map(|l| {
            let l = l.trim();
            let rest = l.strip_prefix("target")?.trim_start().strip_prefix('=')?;
            Some(rest.trim().trim_matches('"').to_owned())
        })
        .collect();
    ensure!(!files.is_empty(), "models/manifest.toml lists no targets");
    Ok(files)
}

#[test]
fn deb_and_rpm_carry_the_app_onnx_runtime_and_models() -> Result<()> {
    let models = model_files()?;
    let dist = workspace_root().join("models/dist");

    let deb = one_artifact("deb", ".deb")?;
    let listing = run_ok(Command::new("dpkg-deb").arg("-c").arg(&deb))?;
    // Lines: "-rw-r--r-- 0/0  12345 2026-01-01 00:00 usr/lib/Cairn/models/…" (the name may
    // start with "./" depending on the tool that built the archive).
    let entry = |path: &str| -> Option<u64> {
        listing.lines().find_map(|l| {
            let mut parts = l.split_whitespace();
            let size = parts.nth(2)?.parse().ok()?;
            let name = parts.nth(2)?;
            (name.trim_start_matches("./") == path).then_some(size)
        })
    };
    ensure!(
        entry("usr/bin/cairn-desktop").is_some(),
        "{} has no usr/bin/cairn-desktop:\n{listing}",
        deb.display()
    );
    for m in &models {
        let inside = format!("usr/lib/Cairn/models/{m}");
        let size = entry(&inside)
            .with_context(|| format!("{} lacks {inside}; listing:\n{listing}", deb.display()))?;
        let want = std::fs::metadata(dist.join(m))?.len();
        ensure!(
            size == want,
            "{inside} in the .deb has {size} bytes, models/dist/{m} has {want}"
        );
    }
    ensure!(
        models.iter().any(|m| m.contains("libonnxruntime")),
        "the manifest has no ONNX Runtime library"
    );
    let depends = run_ok(
        Command::new("dpkg-deb")
            .args(["-f"])
            .arg(&deb)
            .arg("Depends"),
    )?;
    for dep in ["libwebkit2gtk-4.1-0", "libgtk-3-0"] {
        ensure!(depends.contains(dep), "Depends lacks {dep}: {depends}");
    }
    println!("deb: {} depends on {}", deb.display(), depends.trim());

    let rpm = one_artifact("rpm", ".rpm")?;
    let listing = run_ok(Command::new("rpm").arg("-qlp").arg(&rpm))?;
    let files: Vec<&str> = listing.lines().map(str::trim).collect();
    ensure!(
        files.contains(&"/usr/bin/cairn-desktop"),
        "{} has no /usr/bin/cairn-desktop:\n{listing}",
        rpm.display()
    );
    for m in &models {
        let inside = format!("/usr/lib/Cairn/models/{m}");
        ensure!(
            files.contains(&inside.as_str()),
            "{} lacks {inside}:\n{listing}",
            rpm.display()
        );
    }
    Ok(())
}

fn is_root() -> bool {
    run(Command::new("id").arg("-u"))
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// Removes the installed package when the test ends, however it ends.
struct Installed {
    package: String,
}

impl Drop for Installed {
    fn drop(&mut self) {
        let out = Command::new("dpkg").args(["-r", &self.package]).output();
        match out {
            Ok(o) if o.status.success() => println!("uninstalled {}", self.package),
            Ok(o) => eprintln!(
                "dpkg -r {} failed: {}",
                self.package,
                String::from_utf8_lossy(&o.stderr)
            ),
            Err(e) => eprintln!("dpkg -r {}: {e}", self.package),
        }
    }
}

#[test]
fn installed_deb_opens_and_indexes_with_its_bundled_models() -> Result<()> {
    if !is_root() {
        // Installing a package needs root; CI and the dev machines run as root.
        eprintln!("skipped: installing the .deb needs root");
        return Ok(());
    }
    let deb = one_artifact("deb", ".deb")?;
    let package = run_ok(Command::new("dpkg-deb").arg("-f").arg(&deb).arg("Package"))?
        .trim()
        .to_owned();
    let out = run(Command::new("apt-get")
        .args(["install", "-y", "-q", "--allow-downgrades", "--reinstall"])
        .arg(&deb)
        .env("DEBIAN_FRONTEND", "noninteractive"))?;
    let _installed = Installed {
        package: package.clone(),
    };
    ensure!(
        out.status.success(),
        "apt-get install {} failed:\n{}\n{}",
        deb.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let files = run_ok(Command::new("dpkg").args(["-L", &package]))?;
    let binary = PathBuf::from("/usr/bin/cairn-desktop");
    ensure!(
        files.lines().any(|l| l == "/usr/bin/cairn-desktop") && binary.is_file(),
        "package {package} did not install /usr/bin/cairn-desktop:\n{files}"
    );
    for m in model_files()? {
        let p = format!("/usr/lib/Cairn/models/{m}");
        ensure!(Path::new(&p).is_file(), "{p} was not installed");
    }

    let tmp = tempfile::tempdir()?;
    let lib = build_desktop_library(tmp.path())?;
    // Run from an empty folder with no model overrides, so only the bundled resources can
    // provide the models (the source tree's models/dist is not reachable from /usr/bin or cwd).
    let cwd = tmp.path().join("cwd");
    std::fs::create_dir_all(&cwd)?;
    let mut opts = AppOptions::new(binary.clone(), &tmp.path().join("app"));
    opts.cwd = Some(cwd);
    opts.env_remove = vec!["CAIRN_MODELS_DIR".into(), "ORT_DYLIB_PATH".into()];

    runtime().block_on(async {
        let mut app = DesktopApp::launch(opts, "installed").await?;
        let result = drive_installed(&mut app, &lib).await;
        let log = app.log_text();
        app.close().await?;
        result.with_context(|| format!("installed app stderr:\n{log}"))
    })
}

async fn drive_installed(app: &mut DesktopApp, lib: &Path) -> Result<()> {
    let long = Duration::from_secs(60);
    app.wait("screen-first-run", long).await?;

    // The window is a real X window named Cairn.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let out = Command::new("xdotool")
            .args(["search", "--onlyvisible", "--name", "Cairn"])
            .env("DISPLAY", &app.xvfb.display)
            .output()?;
        if out.status.success() && !out.stdout.is_empty() {
            println!(
                "installed app window(s): {}",
                String::from_utf8_lossy(&out.stdout).trim()
            );
            break;
        }
        if Instant::now() > deadline {
            bail!(
                "xdotool found no visible window named Cairn on {}",
                app.xvfb.display
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    if let Some(ms) = ui_ready_ms(&app.log_text()) {
        println!("installed app: ui ready after {ms} ms");
    }
    app.screenshot("first-run").await?;

    app.type_into("folder-path-input", &lib.to_string_lossy())
        .await?;
    app.click("folder-add-button").await?;
    let lib_s = lib.to_string_lossy().into_owned();
    app.poll_js(
        "the folder to appear in folder-list",
        "const l = document.querySelector('[data-testid=\"folder-list\"]'); return l ? l.textContent : ''",
        vec![],
        Duration::from_secs(20),
        |v| v.as_str().is_some_and(|t| t.contains(&lib_s)),
    )
    .await?;
    app.click("start-indexing-button").await?;
    let phase = wait_phase_done(app, Duration::from_secs(300)).await?;
    println!("installed app: indexing ended in phase {phase}");
    app.screenshot("indexed").await?;

    // Embeddings need the bundled ONNX Runtime and model: the app must say it uses the
    // bundled models, and a meaning-only search (vectors alone) must find the right passage.
    let log = app.log_text();
    ensure!(
        log.contains("/usr/lib/Cairn/models"),
        "the installed app does not report using /usr/lib/Cairn/models:\n{log}"
    );
    app.click("nav-search").await?;
    app.wait("screen-search", Duration::from_secs(30)).await?;
    let sel = app.wait("search-mode", Duration::from_secs(30)).await?;
    sel.select_by_value("semantic").await?;
    app.type_into("search-input", "lighthouse fog signals")
        .await?;
    let top = app
        .poll_js(
            "a meaning-only result for the lighthouse file",
            "const r = document.querySelector('[data-testid=\"search-result\"]'); \
             return r ? r.getAttribute('data-path') : null",
            vec![],
            Duration::from_secs(60),
            |v| v.as_str().is_some_and(|p| p.ends_with("lighthouse.txt")),
        )
        .await?;
    println!("installed app: semantic search top hit {top}");
    app.screenshot("semantic-search").await?;
    Ok(())
}

/// Polls the progress element until its phase is `done`; fails on `error`.
async fn wait_phase_done(app: &DesktopApp, timeout: Duration) -> Result<String> {
    let v = app
        .poll_js(
            "indexing progress to reach phase done",
            "const p = document.querySelector('[data-testid=\"progress\"]'); \
             return p ? p.getAttribute('data-phase') : null",
            vec![],
            timeout,
            |v| matches!(v.as_str(), Some("done") | Some("error")),
        )
        .await?;
    let phase = v.as_str().unwrap_or("").to_owned();
    if phase == "error" {
        bail!(
            "indexing ended in phase error: {}\n{}",
            app.text("progress-text").await.unwrap_or_default(),
            app.context().await
        );
    }
    Ok(phase)
}
