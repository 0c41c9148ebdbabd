//! Fixture builders for Cairn's end-to-end tests: real files of every supported type, built
//! in code so the tests need nothing checked in, and a runner for the real `cairn` binary.

pub mod desktop;
pub mod hostile;
#[cfg(unix)]
pub mod hostile_bulk;
pub mod llm;
pub mod scan;

pub use hostile::write_hostile_folder;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use lopdf::content::{Content, Operation};
use lopdf::{dictionary, Document, Object, Stream};

/// Adds the catalog that points at `pages_id` and writes `doc` to `path`.
pub(crate) fn save_pdf(
    mut doc: Document,
    pages_id: lopdf::ObjectId,
    path: &Path,
) -> anyhow::Result<()> {
    let catalog_id = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
    doc.trailer.set("Root", catalog_id);
    let mut bytes = Vec::new();
    doc.save_to(&mut bytes)?;
    std::fs::write(path, bytes)?;
    Ok(())
}

/// Writes a real PDF with one page per entry; each page shows its lines of text.
pub fn write_pdf(path: &Path, pages: &[&[&str]]) -> anyhow::Result<()> {
    let mut doc = Document::with_version("1.5");
    let pages_id = doc.new_object_id();
    let font_id = doc.add_object(dictionary! {
        "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Helvetica",
    });
    let resources_id = doc.add_object(dictionary! { "Font" => dictionary! { "F1" => font_id } });
    let mut kids: Vec<Object> = Vec::new();
    for lines in pages {
        let mut ops = vec![
            Operation::new("BT", vec![]),
            Operation::new("Tf", vec!["F1".into(), 12.into()]),
            Operation::new("TL", vec![16.into()]),
            Operation::new("Td", vec![50.into(), 780.into()]),
        ];
        for line in *lines {
            ops.push(Operation::new("Tj", vec![Object::string_literal(*line)]));
            ops.push(Operation::new("T*", vec![]));
        }
        ops.push(Operation::new("ET", vec![]));
        let content = Content { operations: ops };
        let content_id = doc.add_object(Stream::new(dictionary! {}, content.encode()?));
        let page_id = doc.add_object(dictionary! {
            "Type" => "Page", "Parent" => pages_id, "Contents" => content_id,
        });
        kids.push(page_id.into());
    }
    let count = kids.len() as i64;
    doc.objects.insert(
        pages_id,
        Object::Dictionary(dictionary! {
            "Type" => "Pages", "Kids" => kids, "Count" => count,
            "Resources" => resources_id,
            "MediaBox" => vec![0.into(), 0.into(), 595.into(), 842.into()],
        }),
    );
    save_pdf(doc, pages_id, path)
}

/// Writes a real DOCX: `(style, text)` paragraphs, style `Heading1`.. or `""` for body text.
pub fn write_docx(path: &Path, paragraphs: &[(&str, &str)]) -> anyhow::Result<()> {
    let mut body = String::new();
    for (style, text) in paragraphs {
        body.push_str("<w:p>");
        if !style.is_empty() {
            body.push_str(&format!("<w:pPr><w:pStyle w:val=\"{style}\"/></w:pPr>"));
        }
        body.push_str(&format!(
            "<w:r><w:t xml:space=\"preserve\">{text}</w:t></w:r></w:p>"
        ));
    }
    let document = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\
         <w:document xmlns:w=\"http://schemas.openxmlformats.org/wordprocessingml/2006/main\">\
         <w:body>{body}</w:body></w:document>"
    );
    let file = std::fs::File::create(path)?;
    let mut zip = zip::ZipWriter::new(file);
    let opts: zip::write::SimpleFileOptions = Default::default();
    zip.start_file("[Content_Types].xml", opts)?;
    zip.write_all(
        b"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\">\
          <Default Extension=\"xml\" ContentType=\"application/xml\"/>\
          <Override PartName=\"/word/document.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml\"/></Types>",
    )?;
    zip.start_file("word/document.xml", opts)?;
    zip.write_all(document.as_bytes())?;
    zip.finish()?;
    Ok(())
}

/// Writes `text` encoded as Windows-1252 / Latin-1 (only chars below U+0100).
pub fn write_latin1(path: &Path, text: &str) -> anyhow::Result<()> {
    let bytes: Vec<u8> = text
        .chars()
        .map(|c| u8::try_from(c as u32).expect("latin-1 text"))
        .collect();
    std::fs::write(path, bytes)?;
    Ok(())
}

/// Writes the fixtures' three-page `annual-report.pdf` and `meeting-notes.docx` (with
/// headings) into `dir`.
pub fn write_report_and_notes(dir: &Path) -> anyhow::Result<()> {
    write_pdf(
        &dir.join("annual-report.pdf"),
        &[
            &["Annual Report 2025", "Overview of the fiscal year."],
            &["Revenue grew by 12 percent driven by the glacier monitoring product."],
            &["Outlook: the board expects steady hiring of hydrologists next year."],
        ],
    )?;
    write_docx(
        &dir.join("meeting-notes.docx"),
        &[
            ("Heading1", "Quarterly Planning"),
            (
                "",
                "Attendees agreed to migrate the archive to cold storage.",
            ),
            ("Heading2", "Decisions"),
            (
                "",
                "The telescope maintenance budget is approved for March.",
            ),
        ],
    )?;
    Ok(())
}

/// Builds a small mixed library: markdown, HTML, PDF, DOCX, Latin-1 text, plus files that
/// must be skipped or reported. Returns its root.
pub fn build_library(root: &Path) -> anyhow::Result<PathBuf> {
    let lib = root.join("library");
    std::fs::create_dir_all(lib.join("handbook"))?;
    std::fs::create_dir_all(lib.join(".private"))?;
    std::fs::create_dir_all(lib.join("build"))?;
    std::fs::write(
        lib.join("handbook/onboarding.md"),
        "# Employee Handbook\n\nWelcome to the company.\n\n## Travel Policy\n\nEconomy class is \
         required for flights shorter than six hours. Submit receipts within 30 days.\n\n\
         ### Per Diem\n\nThe daily meal allowance abroad is 45 euros.\n\n## Security\n\n\
         Badges must be worn visibly at all times inside the building.\n",
    )?;
    std::fs::write(
        lib.join("refunds.html"),
        "<!DOCTYPE html><html><head><title>Refund Policy</title><script>var injected = \
         'zebracorn';</script></head><body><h1>Refund Policy</h1><p>Customers may return \
         goods within <b>fourteen days</b> of delivery for a full refund.</p><h2>Exceptions</h2>\
         <p>Perishable groceries cannot be refunded &amp; must be reported the same day.</p>\
         </body></html>",
    )?;
    write_report_and_notes(&lib)?;
    write_latin1(
        &lib.join("recette.txt"),
        "Recette du gâteau: mélanger la crème fraîche et le sucre, cuire à 180 degrés.",
    )?;
    // A PDF named .txt must still be read as a PDF (type by content).
    write_pdf(
        &lib.join("disguised.txt"),
        &[&["The lighthouse keeper logs fog signals."]],
    )?;
    // Must be skipped: hidden, ignored, unsupported binary; reported: a corrupt PDF.
    std::fs::write(
        lib.join(".private/secret.md"),
        "# Secret\n\nplatypus password",
    )?;
    std::fs::write(lib.join(".gitignore"), "build/\n")?;
    std::fs::write(lib.join("build/output.txt"), "generated quokka artifact")?;
    std::fs::write(
        lib.join("logo.gif"),
        b"GIF89a\x01\0\x01\0\x80\0\0\0\0\0\xff\xff\xff",
    )?;
    std::fs::write(
        lib.join("broken.pdf"),
        b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog",
    )?;
    #[cfg(unix)]
    std::os::unix::fs::symlink(&lib, lib.join("handbook/loop"))?;
    Ok(lib)
}

/// `cargo` arguments that build the workspace's programs (`cairn`, `cairn-desktop`) with the
/// features the tests are built with.
pub const WORKSPACE_BINS: [&str; 4] = ["build", "--workspace", "--bins", "--quiet"];

/// Path of the `cairn` binary built for this workspace (built on demand).
///
/// Built with `cargo build --workspace --bins`: the same package selection as the test build
/// (`cargo test --workspace`), so every dependency is shared with it. Building with
/// `-p cairn-cli` would resolve features differently and compile a second copy of the whole
/// dependency tree, llama.cpp included. `CAIRN_BIN` names another binary to test instead (not
/// built; e.g. a copy, when other builds share the target directory).
pub fn cairn_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("CAIRN_BIN") {
        return PathBuf::from(bin);
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let bin = target.join("debug/cairn");
    static BUILD: std::sync::Once = std::sync::Once::new();
    BUILD.call_once(|| {
        let status = Command::new(env!("CARGO"))
            .args(WORKSPACE_BINS)
            .current_dir(&root)
            .status()
            .expect("cargo runs");
        assert!(
            status.success(),
            "`cargo build --workspace --bins` failed; the desktop app embeds the UI, so build it \
             first (`npm run build:ui`)"
        );
    });
    bin
}

/// Runs `cairn` with a data directory; returns the output.
pub fn cairn(data_dir: &Path, args: &[&str]) -> Output {
    Command::new(cairn_bin())
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env_remove("CAIRN_CONFIG")
        .output()
        .expect("cairn runs")
}

/// Runs `cairn` and asserts success; returns stdout.
pub fn cairn_ok(data_dir: &Path, args: &[&str]) -> String {
    let out = cairn(data_dir, args);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "cairn {args:?} failed ({}):\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status
    );
    stdout
}

/// Runs `cairn search --json` and returns the results array.
pub fn search_json(data_dir: &Path, args: &[&str]) -> Vec<serde_json::Value> {
    let mut all = vec!["search", "--json"];
    all.extend_from_slice(args);
    let out = cairn_ok(data_dir, &all);
    let v: serde_json::Value = serde_json::from_str(&out).expect("search --json prints JSON");
    v["results"].as_array().cloned().unwrap_or_default()
}
