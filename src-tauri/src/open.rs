//! Opening a PDF at a page on Linux. `xdg-open` takes a path or URL and drops a `#page=N`
//! fragment, so Cairn asks which app opens PDFs (`xdg-mime query default application/pdf`) and,
//! when it is a viewer whose page option it knows, starts that viewer itself at the page.
//! Anything else falls back to the OS opener at page 1.

use std::ffi::OsString;
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};

/// Extensions of programs, scripts and launchers: "Open" never hands such a file to the OS
/// opener (which could run it); it is revealed in the file manager instead.
const LAUNCHERS: &[&str] = &[
    "desktop",
    "sh",
    "bash",
    "zsh",
    "csh",
    "ksh",
    "fish",
    "command",
    "tool",
    "app",
    "run",
    "bin",
    "appimage",
    "exe",
    "com",
    "bat",
    "cmd",
    "msi",
    "msp",
    "scr",
    "pif",
    "cpl",
    "vbs",
    "vbe",
    "js",
    "jse",
    "wsf",
    "wsh",
    "ps1",
    "psm1",
    "psd1",
    "hta",
    "url",
    "scf",
    "lnk",
    "inf",
    "reg",
    "jar",
    "py",
    "pyw",
    "pl",
    "rb",
    "php",
    "workflow",
    "terminal",
    "webloc",
    "jnlp",
    "xbap",
    "application",
    "gadget",
    "msc",
    "sct",
    "elf",
    "so",
    "dylib",
    "dll",
    "deb",
    "rpm",
    "pkg",
    "dmg",
    "iso",
];

/// True when opening `file` could run something: a launcher or program type by extension, or
/// an executable file that starts like a program (`#!`, ELF) whatever its name.
pub fn could_run(file: &Path) -> bool {
    let ext = file
        .extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase());
    if ext.as_deref().is_some_and(|e| LAUNCHERS.contains(&e)) {
        return true;
    }
    if !is_executable(file) {
        return false;
    }
    let mut head = [0u8; 4];
    let n = std::fs::File::open(file)
        .and_then(|mut f| f.read(&mut head))
        .unwrap_or(0);
    head[..n].starts_with(b"#!") || head[..n].starts_with(b"\x7fELF")
}

#[cfg(unix)]
fn is_executable(file: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(file).is_ok_and(|m| m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(_file: &Path) -> bool {
    false
}

/// Starts the default PDF viewer on `file` at `page` (1-based). `None` when the default viewer
/// is unknown or not installed: the caller then uses the OS opener.
pub fn pdf_at_page(file: &Path, page: u32) -> Option<std::io::Result<()>> {
    let out = Command::new("xdg-mime")
        .args(["query", "default", "application/pdf"])
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let desktop_id = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let (program, args) = viewer_command(&desktop_id, file, page)?;
    let program = find_program(&program)?;
    Some(
        Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map(|mut child| {
                // Reap the viewer when it exits; Cairn does not wait for it.
                std::thread::spawn(move || child.wait());
            }),
    )
}

/// The command that opens `file` at `page` in the viewer a desktop entry id names
/// (`org.gnome.Evince.desktop`, `okularApplication_pdf.desktop`, `firefox.desktop`, …).
pub fn viewer_command(desktop_id: &str, file: &Path, page: u32) -> Option<(String, Vec<OsString>)> {
    let id = desktop_id.to_ascii_lowercase();
    let path = || file.as_os_str().to_owned();
    let url = || {
        let mut url = tauri::Url::from_file_path(file).ok()?;
        url.set_fragment(Some(&format!("page={page}")));
        Some(OsString::from(url.as_str()))
    };
    let page_index = || OsString::from(format!("--page-index={page}"));
    let command = |program: &str, args: Vec<OsString>| Some((program.to_owned(), args));
    // Evince and its forks take --page-index; the others their own option or a URL fragment.
    for fork in ["evince", "atril", "xreader"] {
        if id.contains(fork) {
            return command(fork, vec![page_index(), path()]);
        }
    }
    if id.contains("okular") {
        return command(
            "okular",
            vec!["--page".into(), page.to_string().into(), path()],
        );
    }
    if id.contains("zathura") {
        return command("zathura", vec![format!("--page={page}").into(), path()]);
    }
    if id.contains("qpdfview") {
        let mut target = path();
        target.push(format!("#{page}"));
        return command("qpdfview", vec!["--unique".into(), target]);
    }
    for browser in [
        "firefox",
        "chromium",
        "google-chrome",
        "brave-browser",
        "microsoft-edge",
    ] {
        if id.contains(browser) {
            return command(browser, vec![url()?]);
        }
    }
    None
}

/// A program on PATH.
fn find_program(name: &str) -> Option<std::path::PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn launchers_and_programs_could_run_documents_could_not() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, body: &[u8], exec: bool| {
            let p = dir.path().join(name);
            std::fs::write(&p, body).unwrap();
            #[cfg(unix)]
            if exec {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
            }
            p
        };
        for name in [
            "evil.desktop",
            "run.BAT",
            "x.hta",
            "y.url",
            "z.ps1",
            "w.scf",
        ] {
            assert!(could_run(&write(name, b"data", false)), "{name}");
        }
        assert!(could_run(&write("notes.txt", b"#!/bin/sh\nrm -rf ~", true)));
        assert!(!could_run(&write("report.pdf", b"%PDF-1.7", true)));
        assert!(!could_run(&write("notes.md", b"# Notes", false)));
    }

    fn args(id: &str) -> Option<(String, Vec<String>)> {
        viewer_command(id, Path::new("/docs/a report.pdf"), 7).map(|(p, a)| {
            (
                p,
                a.into_iter()
                    .map(|s| s.to_string_lossy().into_owned())
                    .collect(),
            )
        })
    }

    #[test]
    fn known_viewers_open_at_the_page() {
        let evince = args("org.gnome.Evince.desktop").unwrap();
        assert_eq!(evince.0, "evince");
        assert_eq!(evince.1, ["--page-index=7", "/docs/a report.pdf"]);
        assert_eq!(args("atril.desktop").unwrap().1[0], "--page-index=7");
        assert_eq!(
            args("okularApplication_pdf.desktop").unwrap().1,
            ["--page", "7", "/docs/a report.pdf"]
        );
        assert_eq!(
            args("org.pwmt.zathura-pdf-mupdf.desktop").unwrap().1,
            ["--page=7", "/docs/a report.pdf"]
        );
        assert_eq!(
            args("qpdfview.desktop").unwrap().1,
            ["--unique", "/docs/a report.pdf#7"]
        );
        let firefox = args("firefox-esr.desktop").unwrap();
        assert_eq!(firefox.0, "firefox");
        assert_eq!(firefox.1, ["file:///docs/a%20report.pdf#page=7"]);
    }

    #[test]
    fn unknown_viewers_fall_back_to_the_os_opener() {
        assert!(args("").is_none());
        assert!(args("org.kde.some-new-viewer.desktop").is_none());
    }
}

#[cfg(test)]
mod manual {
    /// `CAIRN_OPEN_PDF=/path/to.pdf cargo test -p cairn-desktop open::manual -- --ignored`
    #[test]
    #[ignore]
    fn opens_the_default_viewer_at_page_2() {
        let file = std::path::PathBuf::from(std::env::var("CAIRN_OPEN_PDF").unwrap());
        let started = super::pdf_at_page(&file, 2).expect("a known default viewer");
        started.unwrap();
        std::thread::sleep(std::time::Duration::from_secs(3));
    }
}
