//! OCR: text in images (PNG, JPEG, TIFF, WebP) and in PDF pages without a text layer,
//! recognised by the `tesseract` program (Debian `tesseract-ocr` plus a language pack such as
//! `tesseract-ocr-eng`); PDF pages are rendered first with `pdftoppm` (`poppler-utils`) at
//! [`PDF_DPI`] dpi.
//!
//! Parsing never recognises: it lists the work ([`super::ParsedDoc::ocr_pages`]: a PDF's pages
//! without text, `0` for an image), the catalog keeps it, and the OCR phase after the keyword
//! phase (`engine/ocr.rs`) calls [`recognise`] for one item at a time in a parser worker
//! (`isolate::recognise`). Both programs run as child processes of the worker, so the worker's
//! time budget covers them (per page) and its memory limit is inherited; on Linux they are
//! killed with the worker (`PR_SET_PDEATHSIG`), so an overrun leaves nothing running. Each
//! recognised page keeps its number (an image's pages count from 1, multi-page TIFFs too)
//! under the heading path `["recognised text (OCR)"]`, which labels the text as recognised
//! wherever a passage is shown. Languages: `CAIRN_OCR_LANGS` (Tesseract's `-l`, e.g.
//! `eng+deu`; default `eng`). When `tesseract` is missing, a file whose only text waits for
//! OCR is a problem "OCR unavailable: install tesseract-ocr" ([`unavailable_reason`]).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};

use super::compose::Composer;
use super::{DocKind, ParsedDoc};

/// The heading path of recognised text.
pub const OCR_HEADING: &str = "recognised text (OCR)";
/// Resolution PDF pages are rendered at for recognition.
const PDF_DPI: u32 = 300;
/// Most PDF pages recognised from one file.
pub(crate) const MAX_OCR_PAGES: usize = 2_000;

/// Off in fuzzing, where thousands of inputs would each start a recognition.
static ENABLED: AtomicBool = AtomicBool::new(true);

/// Turns OCR off for this process (the fuzz targets): images and scanned PDFs then fail with
/// "OCR is turned off".
pub fn disable() {
    ENABLED.store(false, Ordering::Relaxed);
}

fn check_enabled() -> Result<(), String> {
    if ENABLED.load(Ordering::Relaxed) {
        Ok(())
    } else {
        Err("OCR is turned off".to_string())
    }
}

/// The reason when the `tesseract` program cannot be started.
const UNAVAILABLE: &str =
    "OCR unavailable: install tesseract-ocr (and a language pack such as tesseract-ocr-eng) \
     to read text in images and scanned PDFs";

/// Whether the programs OCR needs (`tesseract`, and `pdftoppm` for scanned PDFs) can be
/// started; asked once per process.
pub fn available() -> bool {
    static AVAILABLE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *AVAILABLE.get_or_init(|| {
        let runs = |program: &str, arg: &str| {
            Command::new(program)
                .arg(arg)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok()
        };
        runs("tesseract", "--version") && runs("pdftoppm", "-v")
    })
}

/// Whether a problem's `reason` says the file waits for OCR programs that were missing (it
/// is read again once [`available`] says they are there).
pub fn waits_for_ocr(reason: &str) -> bool {
    reason.contains("OCR unavailable") || reason.contains("OCR is unavailable")
}

/// An image file as the keyword phase sees it: no text yet, all of its pages waiting for the
/// OCR phase ([`recognise`] with page 0).
pub(crate) fn parse_image(_bytes: &[u8]) -> Result<ParsedDoc, String> {
    let mut doc = Composer::new().finish(DocKind::Image, None);
    doc.ocr_pages = vec![0];
    Ok(doc)
}

/// The problem of a file whose text is all waiting for OCR while the programs are missing:
/// it is read again once [`available`] says they are there ([`waits_for_ocr`]).
pub fn unavailable_reason(kind: DocKind) -> String {
    if kind == DocKind::Pdf {
        "PDF has no text layer, and OCR is unavailable: install poppler-utils (pdftoppm) and \
         tesseract-ocr"
            .to_string()
    } else {
        UNAVAILABLE.to_string()
    }
}

/// Recognises one item of a document's OCR work ([`ParsedDoc::ocr_pages`]): page `page` of a
/// PDF, or with `page` 0 every page of an image. The result holds only the recognised text,
/// its pages numbered as the file numbers them, under [`OCR_HEADING`]; a page without text
/// gives an empty document.
pub fn recognise(bytes: &[u8], page: u32) -> Result<ParsedDoc, String> {
    check_enabled()?;
    if page == 0 {
        recognise_image(bytes)
    } else {
        recognise_pdf_page(bytes, page)
    }
}

fn recognise_image(bytes: &[u8]) -> Result<ParsedDoc, String> {
    let text = tesseract_stdin(bytes)?;
    let mut out = Composer::new();
    // Tesseract ends every page with a form feed.
    for (i, page) in text.split('\x0c').enumerate() {
        if i > 0 && page.trim().is_empty() {
            continue;
        }
        out.begin_page(i as u32 + 1);
        out.section(&[OCR_HEADING.to_string()], &clean(page))?;
    }
    // A picture without text (an icon, a diagram) is indexed as empty, like an empty text
    // file, not reported: a real folder holds many.
    Ok(out.finish(DocKind::Image, None))
}

/// Renders page `number` of a PDF with `pdftoppm` and recognises it.
fn recognise_pdf_page(bytes: &[u8], number: u32) -> Result<ParsedDoc, String> {
    let dir = TempDir::new()?;
    let pdf = dir.path.join("in.pdf");
    std::fs::write(&pdf, bytes).map_err(|e| format!("OCR cannot write a temporary file: {e}"))?;
    let mut render = Command::new("pdftoppm");
    render
        .args([
            "-r",
            &PDF_DPI.to_string(),
            "-gray",
            "-png",
            "-singlefile",
            "-f",
        ])
        .arg(number.to_string())
        .arg("-l")
        .arg(number.to_string())
        .arg(&pdf)
        .arg(dir.path.join("page"));
    let rendered = run(&mut render, None).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => unavailable_reason(DocKind::Pdf),
        _ => format!("cannot render page {number} for OCR ({e})"),
    })?;
    if !rendered.status.success() {
        return Err(format!(
            "page {number} cannot be rendered for OCR ({})",
            first_line(&rendered.stderr)
        ));
    }
    let text = tesseract_file(&dir.path.join("page.png"))?;
    let mut out = Composer::new();
    out.begin_page(number);
    out.section(&[OCR_HEADING.to_string()], &clean(&text))?;
    Ok(out.finish(DocKind::Pdf, None))
}

/// The languages to recognise (`CAIRN_OCR_LANGS`, default `eng`); only letters, digits, `_`
/// and `+` are passed on.
fn languages() -> String {
    std::env::var("CAIRN_OCR_LANGS")
        .ok()
        .filter(|l| {
            !l.is_empty()
                && l.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '+')
        })
        .unwrap_or_else(|| "eng".to_string())
}

fn tesseract() -> Command {
    let mut cmd = Command::new("tesseract");
    cmd.arg("-l").arg(languages());
    cmd
}

/// Runs tesseract on an image given on its stdin.
fn tesseract_stdin(image: &[u8]) -> Result<String, String> {
    let mut cmd = tesseract();
    cmd.args(["stdin", "stdout"]);
    tesseract_output(run(&mut cmd, Some(image)))
}

/// Runs tesseract on an image file.
fn tesseract_file(image: &Path) -> Result<String, String> {
    let mut cmd = tesseract();
    cmd.arg(image).arg("stdout");
    tesseract_output(run(&mut cmd, None))
}

fn tesseract_output(result: std::io::Result<Output>) -> Result<String, String> {
    let output = result.map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => UNAVAILABLE.to_string(),
        _ => format!("OCR could not run tesseract ({e})"),
    })?;
    if !output.status.success() {
        let err = String::from_utf8_lossy(&output.stderr);
        if err.contains("Failed loading language") || err.contains("Error opening data file") {
            return Err(format!(
                "OCR language pack missing for '{}': install tesseract-ocr-eng (or the packs \
                 CAIRN_OCR_LANGS names)",
                languages()
            ));
        }
        return Err(format!(
            "OCR failed: the image cannot be read ({})",
            first_line(&output.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Runs `cmd` to completion with `input` on its stdin; the child dies with this process.
fn run(cmd: &mut Command, input: Option<&[u8]>) -> std::io::Result<Output> {
    cmd.stdin(if input.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    die_with_parent(cmd);
    let mut child = cmd.spawn()?;
    if let (Some(bytes), Some(mut stdin)) = (input, child.stdin.take()) {
        // Written from a thread: the child may fill its output pipe before reading all input.
        let bytes = bytes.to_vec();
        let writer = std::thread::spawn(move || {
            let _ = stdin.write_all(&bytes);
        });
        let out = child.wait_with_output();
        let _ = writer.join();
        return out;
    }
    child.wait_with_output()
}

#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn die_with_parent(cmd: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: prctl is async-signal-safe and touches only the child being started.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
}

#[cfg(not(target_os = "linux"))]
fn die_with_parent(_cmd: &mut Command) {}

/// Recognised text with trailing spaces and runs of blank lines removed.
fn clean(text: &str) -> String {
    let mut out = String::new();
    let mut blank = 0;
    for line in text.lines() {
        let line = line.trim_end();
        if line.trim().is_empty() {
            blank += 1;
            continue;
        }
        if !out.is_empty() {
            out.push_str(if blank > 0 { "\n\n" } else { "\n" });
        }
        blank = 0;
        out.push_str(line);
    }
    out
}

fn first_line(stderr: &[u8]) -> String {
    let s = String::from_utf8_lossy(stderr);
    s.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("no message")
        .chars()
        .take(200)
        .collect()
}

/// A private temporary directory, removed when dropped.
struct TempDir {
    path: PathBuf,
}

impl TempDir {
    fn new() -> Result<TempDir, String> {
        use std::sync::atomic::AtomicU64;
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let path = std::env::temp_dir().join(format!(
            "cairn-ocr-{}-{}-{nanos}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let mut builder = std::fs::DirBuilder::new();
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder
            .create(&path)
            .map_err(|e| format!("OCR cannot create a temporary folder: {e}"))?;
        Ok(TempDir { path })
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}
