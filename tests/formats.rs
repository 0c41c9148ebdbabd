//! Every format beyond text, Markdown, HTML, PDF and DOCX, end to end through the `cairn`
//! binary: spreadsheets, CSV, presentations, ODT, EPUB, mail, and scans through OCR. Each file
//! holds a word only it has; the search finds it and the hit carries the file's locator
//! (sheet and rows, slide, message, heading path, OCR page). Office files and mail are the
//! committed fixtures of `tests/fixtures/formats` (made by LibreOffice and Python's `email`
//! module, see its README); the scans are rendered here with ImageMagick and read by Tesseract.

use std::path::Path;

use cairn_tests::scan::{render_page, write_image_pdf, Degrade};
use cairn_tests::{cairn_ok, search_json};
use serde_json::Value;

fn fixtures() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/formats")
}

/// The one hit of `query`: from the file named `name`, with its locator.
fn hit(data: &Path, query: &str, name: &str) -> Value {
    let r = search_json(data, &["--mode", "bm25", query]);
    let first = r.first().unwrap_or_else(|| panic!("{query}: no hit"));
    assert!(
        first["path"].as_str().unwrap_or("").ends_with(name),
        "{query} must find {name} first: {r:?}"
    );
    first.clone()
}

#[test]
fn every_format_is_found_with_its_locator() {
    let tmp = tempfile::tempdir().unwrap();
    let lib = tmp.path().join("lib");
    std::fs::create_dir_all(&lib).unwrap();
    for entry in std::fs::read_dir(fixtures()).unwrap() {
        let path = entry.unwrap().path();
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        if !matches!(ext, "md" | "py") {
            std::fs::copy(&path, lib.join(path.file_name().unwrap())).unwrap();
        }
    }
    // Detection by content: a workbook and a deck without their extensions.
    std::fs::copy(fixtures().join("budget.xlsx"), lib.join("download-1")).unwrap();
    // A photographed page (skewed, noisy JPEG) and a scanned PDF with no text layer.
    let photo = lib.join("photo.jpg");
    render_page(
        &photo,
        &[
            "The lighthouse keeper logs every ferry",
            "crossing to Tristan da Cunha by hand.",
        ],
        200,
        Degrade {
            skew: 1.5,
            noise: 0.3,
        },
    )
    .unwrap();
    let page = tmp.path().join("page.jpg");
    let (w, h) = render_page(
        &page,
        &[
            "Scanned minutes of the survey:",
            "the albatross colony counted 212 nests.",
        ],
        300,
        Degrade {
            skew: 0.0,
            noise: 0.0,
        },
    )
    .unwrap();
    let cover = tmp.path().join("cover.jpg");
    let (cw, ch) = render_page(
        &cover,
        &["Survey report"],
        300,
        Degrade {
            skew: 0.0,
            noise: 0.0,
        },
    )
    .unwrap();
    write_image_pdf(
        &lib.join("scan.pdf"),
        &[
            (std::fs::read(&cover).unwrap(), cw, ch, 300),
            (std::fs::read(&page).unwrap(), w, h, 300),
        ],
    )
    .unwrap();

    let data = tmp.path().join("data");
    cairn_ok(&data, &["add", lib.to_str().unwrap()]);
    cairn_ok(&data, &["index"]);
    let status: Value = serde_json::from_str(&cairn_ok(&data, &["status", "--json"])).unwrap();
    assert_eq!(status["problems"], serde_json::json!([]), "{status}");

    // Spreadsheets: sheet and rows, the header repeated in the passage.
    for (word, name) in [
        ("zeppelin", "budget.xlsx"),
        ("dirigible", "budget.xls"),
        ("blimp", "budget.ods"),
    ] {
        let h = hit(&data, word, name);
        let heading = h["heading"].as_str().unwrap();
        assert!(heading.starts_with("sheet Budget > rows "), "{h}");
        let (first, last) = heading
            .trim_start_matches("sheet Budget > rows ")
            .split_once('-')
            .unwrap();
        let (first, last): (u32, u32) = (first.parse().unwrap(), last.parse().unwrap());
        assert!(first <= 38 && 38 <= last, "row 38 holds {word}: {h}");
        assert_eq!(h["kind"], "spreadsheet");
    }
    let r = search_json(&data, &["--mode", "bm25", "committee"]);
    assert_eq!(r[0]["heading"], "sheet Notes > row 2", "{r:?}");
    assert_eq!(hit(&data, "tapioca", "budget.csv")["heading"], "rows 2-5");
    // The extensionless copy of budget.xlsx was detected by content.
    let r = search_json(&data, &["--mode", "bm25", "zeppelin"]);
    assert!(
        r.iter()
            .any(|x| x["path"].as_str().unwrap().ends_with("download-1")),
        "{r:?}"
    );

    // Presentations: the slide is the page, its title the heading (the fixtures' titles are
    // plain text boxes, see cairn-core/tests/parse.rs: "slide 3"); notes are labelled.
    for (body, notes, name, title) in [
        ("marmalade", "narwhal", "deck.pptx", "slide 3"),
        ("gooseberry", "walrus", "deck.odp", "slide 3"),
    ] {
        let h = hit(&data, body, name);
        assert_eq!(
            (h["page"].clone(), h["heading"].clone()),
            (3.into(), title.into()),
            "{h}"
        );
        let h = hit(&data, notes, name);
        assert_eq!(h["page"], 3, "{h}");
        assert_eq!(h["heading"], format!("{title} > speaker notes"), "{h}");
        assert_eq!(h["kind"], "presentation");
    }

    // Text documents: the heading path.
    assert_eq!(
        hit(&data, "reykjavik", "memo.odt")["heading"],
        "Travel policy > Per diem"
    );
    let h = hit(&data, "ushuaia", "guide.epub");
    assert!(
        h["heading"].as_str().unwrap().ends_with("Southern ports"),
        "{h}"
    );

    // Mail: the message locator; HTML bodies without their hidden text; attachments.
    let h = hit(&data, "flamingo", "forecast.eml");
    assert_eq!(h["heading"], "message 'Q3 forecast', 2025-03-04", "{h}");
    let h = hit(&data, "pelican", "archive.mbox");
    assert_eq!(
        h["heading"], "message 'Re: Travel claims', 2025-02-11",
        "{h}"
    );
    let h = hit(&data, "wombat", "archive.mbox");
    assert_eq!(
        h["heading"], "message 'Travel claims', 2025-02-10 > attachment claims.csv > rows 2-3",
        "{h}"
    );
    assert!(search_json(&data, &["--mode", "bm25", "hiddenword"]).is_empty());
    // Sender and subject are searchable.
    hit(&data, "alice martin forecast", "forecast.eml");

    // OCR: the photo and the scanned PDF's second page, labelled as recognised text.
    let h = hit(&data, "tristan cunha", "photo.jpg");
    assert_eq!(h["heading"], "recognised text (OCR)", "{h}");
    assert_eq!(h["kind"], "image");
    let h = hit(&data, "albatross nests", "scan.pdf");
    assert_eq!(
        (h["page"].clone(), h["heading"].clone()),
        (2.into(), "recognised text (OCR)".into()),
        "{h}"
    );

    // `--type` knows the new kinds.
    let r = search_json(&data, &["--mode", "bm25", "--type", "mail", "travel"]);
    assert!(
        !r.is_empty() && r.iter().all(|x| x["kind"] == "mail"),
        "{r:?}"
    );
    let r = search_json(&data, &["--mode", "bm25", "--type", "xlsx", "zeppelin"]);
    assert!(
        !r.is_empty() && r.iter().all(|x| x["kind"] == "spreadsheet"),
        "{r:?}"
    );

    // The text output names the slide and the place.
    let out = cairn_ok(&data, &["search", "--mode", "bm25", "narwhal"]);
    assert!(
        out.contains("deck.pptx (slide 3)") || out.contains("deck.odp (slide 3)"),
        "{out}"
    );
}

/// The text of the benchmark scans: an ordinary business paragraph.
const SCAN_TEXT: [&str; 8] = [
    "Minutes of the facilities committee, 4 March 2025.",
    "The committee approved the renovation of the east wing",
    "at a cost of 48,250 euros, to be completed by October.",
    "Invoices above 5,000 euros need two signatures; smaller",
    "ones are approved by the office manager. The cafeteria",
    "contract with Nordic Catering runs until 31 August 2026.",
    "Parking permits are renewed every January (fee: 60 euros).",
    "Next meeting: Tuesday 8 April at 14:30 in room B-204.",
];

/// OCR accuracy (character error rate) and speed on scans rendered from known text, at 300 and
/// 150 dpi, clean and with noise and skew, as images and as a text-less PDF. Figures for
/// docs/benchmarks.md: `cargo test --workspace --test formats -- --ignored --nocapture ocr_`.
#[test]
#[ignore = "benchmark"]
fn ocr_accuracy_and_speed() {
    use cairn_tests::scan::char_error_rate;
    let tmp = tempfile::tempdir().unwrap();
    let cases = [
        (
            "300dpi-clean",
            300,
            Degrade {
                skew: 0.0,
                noise: 0.0,
            },
        ),
        (
            "300dpi-noisy",
            300,
            Degrade {
                skew: 2.0,
                noise: 0.5,
            },
        ),
        (
            "150dpi-clean",
            150,
            Degrade {
                skew: 0.0,
                noise: 0.0,
            },
        ),
        (
            "150dpi-noisy",
            150,
            Degrade {
                skew: 2.0,
                noise: 0.5,
            },
        ),
    ];
    let expected = SCAN_TEXT.join("\n");
    for (name, dpi, degrade) in cases {
        let image = tmp.path().join(format!("{name}.jpg"));
        let (w, h) = render_page(&image, &SCAN_TEXT, dpi, degrade).unwrap();
        let pdf = tmp.path().join(format!("{name}.pdf"));
        let jpeg = std::fs::read(&image).unwrap();
        write_image_pdf(&pdf, &vec![(jpeg, w, h, dpi); 5]).unwrap();
        let out = cairn_ok(
            tmp.path(),
            &[
                "bench",
                "parse",
                "--json",
                "--text",
                image.to_str().unwrap(),
                pdf.to_str().unwrap(),
            ],
        );
        let v: Value = serde_json::from_str(&out).unwrap();
        for f in v["files"].as_array().unwrap() {
            let text = f["text"].as_str().unwrap_or_else(|| panic!("{f}"));
            let pages = f["pages"].as_u64().unwrap().max(1);
            let cer = char_error_rate(&vec![expected.as_str(); pages as usize].join("\n"), text);
            let secs = f["seconds"].as_f64().unwrap();
            println!(
                "{name:<13} {:<4} pages {pages}  CER {:.2} %  {:.2} pages/s",
                f["kind"].as_str().unwrap(),
                cer * 100.0,
                pages as f64 / secs
            );
        }
    }
}

/// Parse speed of the committed fixtures, per kind: `cargo test --workspace --test formats --
/// --ignored --nocapture parse_speed`.
#[test]
#[ignore = "benchmark"]
fn parse_speed() {
    let tmp = tempfile::tempdir().unwrap();
    let mut args = vec![
        "bench".to_string(),
        "parse".into(),
        "--repeat".into(),
        "50".into(),
    ];
    for entry in std::fs::read_dir(fixtures()).unwrap() {
        let path = entry.unwrap().path();
        if !matches!(path.extension().and_then(|e| e.to_str()), Some("md" | "py")) {
            args.push(path.to_str().unwrap().to_owned());
        }
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    println!("{}", cairn_ok(tmp.path(), &args));
}

/// Source code: real files in several languages (one named only by its `#!` line), each cut
/// along its symbols; the hit's heading is the enclosing symbols and the lines.
#[test]
fn source_code_is_found_in_its_symbol() {
    let tmp = tempfile::tempdir().unwrap();
    let lib = tmp.path().join("lib");
    let files: [(&str, &str); 6] = [
        (
            "src/config.rs",
            "use std::path::Path;\n\npub struct Config {\n    pub port: u16,\n}\n\nimpl Config {\n    /// Reads the file.\n    pub fn load(path: &Path) -> Config {\n        let _ = path; // the quetzal default\n        Config { port: 8080 }\n    }\n}\n",
        ),
        (
            "tools/report.py",
            "import json\n\n\nclass Report:\n    def __init__(self, rows):\n        self.rows = rows\n\n    def render(self):\n        # axolotl totals per row\n        return json.dumps(self.rows)\n",
        ),
        (
            "web/cart.ts",
            "export class Cart {\n  private items: string[] = [];\n\n  checkout(): number {\n    // kinkajou discount applies here\n    return this.items.length;\n  }\n}\n",
        ),
        (
            "server.go",
            "package main\n\ntype Server struct {\n\tPort int\n}\n\n// Serve answers requests.\nfunc (s *Server) Serve() error {\n\treturn listen(s.Port) // okapi\n}\n",
        ),
        (
            "scripts/deploy",
            "#!/usr/bin/env bash\nset -e\n\ndeploy_site() {\n  rsync -a public/ pangolin:/srv/www/\n}\n\ndeploy_site\n",
        ),
        (
            "Billing.java",
            "public class Billing {\n    private int total;\n\n    public void charge(int amount) {\n        total += amount; // tapir fee\n    }\n}\n",
        ),
    ];
    for (name, source) in files {
        let path = lib.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, source).unwrap();
    }
    let data = tmp.path().join("data");
    cairn_ok(&data, &["add", lib.to_str().unwrap()]);
    cairn_ok(&data, &["index"]);
    for (word, name, heading) in [
        ("quetzal", "config.rs", "impl Config > fn load > lines 8-12"),
        (
            "axolotl",
            "report.py",
            "class Report > def render > lines 8-10",
        ),
        ("kinkajou", "cart.ts", "class Cart > checkout > lines 4-7"),
        ("okapi", "server.go", "func Serve > lines 7-10"),
        ("pangolin", "deploy", "function deploy_site > lines 4-6"),
        (
            "tapir",
            "Billing.java",
            "class Billing > charge > lines 4-6",
        ),
    ] {
        let h = hit(&data, word, name);
        assert_eq!(h["heading"], heading, "{h}");
        assert_eq!(h["kind"], "code", "{h}");
    }
    let r = search_json(&data, &["--mode", "bm25", "--type", "code", "Config"]);
    assert!(
        !r.is_empty() && r.iter().all(|x| x["kind"] == "code"),
        "{r:?}"
    );
    let out = cairn_ok(&data, &["search", "--mode", "bm25", "okapi"]);
    assert!(out.contains("func Serve > lines 7-10"), "{out}");
}

/// Without Tesseract an image waits for OCR: `cairn status` says OCR is unavailable and names
/// the file; once the programs are there the next `cairn index` reads it, unchanged as it is.
#[test]
fn ocr_unavailable_is_reported_and_the_file_read_once_installed() {
    let tmp = tempfile::tempdir().unwrap();
    let lib = tmp.path().join("lib");
    std::fs::create_dir_all(&lib).unwrap();
    render_page(
        &lib.join("receipt.png"),
        &["Receipt for the gannet survey boat"],
        300,
        Degrade {
            skew: 0.0,
            noise: 0.0,
        },
    )
    .unwrap();
    let data = tmp.path().join("data");
    let no_programs = tmp.path().join("empty-path");
    std::fs::create_dir_all(&no_programs).unwrap();
    let without_ocr = |args: &[&str]| {
        let out = std::process::Command::new(cairn_tests::cairn_bin())
            .arg("--data-dir")
            .arg(&data)
            .args(args)
            .env_remove("CAIRN_CONFIG")
            .env("PATH", &no_programs)
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}: {out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    without_ocr(&["add", lib.to_str().unwrap()]);
    without_ocr(&["index"]);
    let status: Value = serde_json::from_str(&without_ocr(&["status", "--json"])).unwrap();
    assert_eq!(status["ocr_available"], false, "{status}");
    let waiting = status["ocr_waiting"].as_array().unwrap();
    assert_eq!(waiting.len(), 1, "{status}");
    assert!(waiting[0].as_str().unwrap().ends_with("receipt.png"));
    let text = without_ocr(&["status"]);
    assert!(
        text.contains("OCR             unavailable: install tesseract-ocr"),
        "{text}"
    );
    assert!(text.contains("1 files wait for OCR"), "{text}");

    // With the programs on PATH the unchanged file is read again.
    cairn_ok(&data, &["index"]);
    hit(&data, "gannet survey", "receipt.png");
    let status: Value = serde_json::from_str(&cairn_ok(&data, &["status", "--json"])).unwrap();
    assert_eq!(status["ocr_available"], true, "{status}");
    assert_eq!(status["ocr_waiting"], serde_json::json!([]), "{status}");
    assert_eq!(status["problems"], serde_json::json!([]), "{status}");
}

/// A PDF whose page 1 has a text layer and page 2 is a scan of `scanned`, put together by
/// poppler's `pdfunite` as a scanner's software would append a page.
fn mixed_pdf(dir: &Path, out: &Path, text: &str, scanned: &[&str]) {
    let text_pdf = dir.join("text-part.pdf");
    cairn_tests::write_pdf(&text_pdf, &[&[text]]).unwrap();
    let jpg = dir.join("scanned-part.jpg");
    let (w, h) = render_page(
        &jpg,
        scanned,
        300,
        Degrade {
            skew: 0.0,
            noise: 0.0,
        },
    )
    .unwrap();
    let scan_pdf = dir.join("scanned-part.pdf");
    write_image_pdf(&scan_pdf, &[(std::fs::read(&jpg).unwrap(), w, h, 300)]).unwrap();
    let status = std::process::Command::new("pdfunite")
        .arg(&text_pdf)
        .arg(&scan_pdf)
        .arg(out)
        .status()
        .unwrap();
    assert!(status.success());
}

/// OCR is a phase of its own after the keyword phase. Run without the OCR programs (the run
/// stops between the phases), the text page of a PDF is searchable while its scanned page
/// waits, listed in the catalog; the next run recognises only the waiting pages (the PDF is
/// not parsed again), page number kept and labelled; a third run has nothing to do. A new
/// version of the file drops the old version's work and its recognised text.
#[test]
fn ocr_runs_after_the_keyword_phase_and_resumes() {
    let tmp = tempfile::tempdir().unwrap();
    let lib = tmp.path().join("lib");
    std::fs::create_dir_all(&lib).unwrap();
    let mixed = lib.join("mixed.pdf");
    mixed_pdf(
        tmp.path(),
        &mixed,
        "The kittiwake census covers the northern cliffs.",
        &[
            "Scanned annex: the puffin burrows",
            "were counted twice in May.",
        ],
    );
    render_page(
        &lib.join("photo.png"),
        &["Photographed notice about the storm petrel"],
        300,
        Degrade {
            skew: 0.0,
            noise: 0.0,
        },
    )
    .unwrap();
    let data = tmp.path().join("data");
    let no_programs = tmp.path().join("empty-path");
    std::fs::create_dir_all(&no_programs).unwrap();
    let without_ocr = |args: &[&str]| -> String {
        let out = std::process::Command::new(cairn_tests::cairn_bin())
            .arg("--data-dir")
            .arg(&data)
            .args(args)
            .env_remove("CAIRN_CONFIG")
            .env("PATH", &no_programs)
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}: {out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    let json = |s: String| -> Value { serde_json::from_str(&s).unwrap() };
    without_ocr(&["add", lib.to_str().unwrap()]);

    // 1. Keyword phase only: page 1 is searchable, page 2 waits for OCR.
    let report = json(without_ocr(&["index", "--json"]));
    assert_eq!(report["ocr_waiting"], 1, "{report}");
    assert_eq!(report["pages_recognised"], 0, "{report}");
    let h = hit(&data, "kittiwake census", "mixed.pdf");
    assert_eq!(h["page"], 1, "{h}");
    assert!(search_json(&data, &["--mode", "bm25", "puffin burrows"]).is_empty());
    let status = json(without_ocr(&["status", "--json"]));
    assert_eq!(status["ocr_backlog"]["pages"], 1, "{status}");
    let mut waiting: Vec<String> = status["ocr_waiting"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap().rsplit('/').next().unwrap().to_owned())
        .collect();
    waiting.sort();
    assert_eq!(waiting, ["mixed.pdf", "photo.png"], "{status}");

    // 2. With the programs: the OCR phase recognises the waiting page and the image; the
    //    PDF is not read again.
    let report = json(cairn_ok(&data, &["index", "--json"]));
    assert_eq!(
        report["new_versions"], 1,
        "only the image is read anew: {report}"
    );
    assert_eq!(report["pages_recognised"], 2, "{report}");
    assert_eq!(report["ocr_waiting"], 0, "{report}");
    let h = hit(&data, "puffin burrows", "mixed.pdf");
    assert_eq!(
        (h["page"].clone(), h["heading"].clone()),
        (2.into(), "recognised text (OCR)".into()),
        "{h}"
    );
    let h = hit(&data, "storm petrel", "photo.png");
    assert_eq!(
        (h["page"].clone(), h["kind"].clone()),
        (1.into(), "image".into()),
        "{h}"
    );
    hit(&data, "kittiwake census", "mixed.pdf");
    let status = json(cairn_ok(&data, &["status", "--json"]));
    assert_eq!(status["ocr_backlog"]["pages"], 0, "{status}");
    assert_eq!(status["problems"], serde_json::json!([]), "{status}");
    // The recognised passages were embedded after the OCR phase.
    assert_eq!(status["embed_backlog"], 0, "{status}");

    // 3. Nothing left: the next run recognises nothing.
    let report = json(cairn_ok(&data, &["index", "--json"]));
    assert_eq!(
        (
            report["new_versions"].clone(),
            report["pages_recognised"].clone()
        ),
        (0.into(), 0.into()),
        "{report}"
    );

    // 4. A new version drops the old version's work and recognised text.
    std::fs::remove_file(&mixed).unwrap();
    mixed_pdf(
        tmp.path(),
        &mixed,
        "The kittiwake census covers the southern cliffs.",
        &[
            "Scanned annex: the shearwater chicks",
            "were ringed in June.",
        ],
    );
    let report = json(without_ocr(&["index", "--json"]));
    assert_eq!(report["new_versions"], 1, "{report}");
    assert!(search_json(&data, &["--mode", "bm25", "puffin burrows"]).is_empty());
    let status = json(without_ocr(&["status", "--json"]));
    assert_eq!(status["ocr_backlog"]["pages"], 1, "{status}");
    cairn_ok(&data, &["index"]);
    let h = hit(&data, "shearwater chicks", "mixed.pdf");
    assert_eq!(h["page"], 2, "{h}");
    assert!(search_json(&data, &["--mode", "bm25", "puffin burrows"]).is_empty());
}

/// A mailbox written by Python's `mailbox` and `email` modules, one message with a PDF
/// attached: `--from`, `--sent-after` and `--sent-before` keep only the passages of the
/// messages that match (attachments included), and the PDF is read under its message.
#[test]
fn mail_is_filtered_by_sender_and_date_and_its_pdf_attachment_read() {
    let tmp = tempfile::tempdir().unwrap();
    let lib = tmp.path().join("lib");
    std::fs::create_dir_all(&lib).unwrap();
    let pdf = tmp.path().join("audit.pdf");
    cairn_tests::write_pdf(&pdf, &[&["Quarterly audit of the heron hatchery ledgers."]]).unwrap();
    std::fs::write(
        lib.join("notes.txt"),
        "Osprey nesting notes kept outside the mail.\n",
    )
    .unwrap();
    let script = r#"
import mailbox, sys
from datetime import datetime, timezone
from email.message import EmailMessage
from email.utils import format_datetime

box = mailbox.mbox(sys.argv[1])
def add(sender, subject, when, body, attachment=None):
    m = EmailMessage()
    m["From"] = sender
    m["To"] = "team@example.org"
    m["Subject"] = subject
    m["Date"] = format_datetime(datetime(*when, tzinfo=timezone.utc))
    m.set_content(body)
    if attachment:
        with open(attachment, "rb") as f:
            m.add_attachment(f.read(), maintype="application", subtype="pdf", filename="audit.pdf")
    box.add(m)
add("Alice Martin <alice@example.org>", "Hatchery budget", (2025, 3, 4, 9, 30),
    "The osprey nesting budget is approved.", sys.argv[2])
add("Bob Stone <bob@example.org>", "Hatchery staffing", (2025, 5, 20, 14, 0),
    "The osprey nesting volunteers start in June.")
box.flush()
"#;
    let status = std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(lib.join("hatchery.mbox"))
        .arg(&pdf)
        .status()
        .unwrap();
    assert!(status.success());
    let data = tmp.path().join("data");
    cairn_ok(&data, &["add", lib.to_str().unwrap()]);
    cairn_ok(&data, &["index"]);

    let headings = |extra: &[&str]| -> Vec<String> {
        let mut args = vec!["--mode", "bm25"];
        args.extend_from_slice(extra);
        args.push("osprey nesting heron");
        search_json(&data, &args)
            .iter()
            .map(|h| h["heading"].as_str().unwrap_or("").to_owned())
            .collect()
    };
    let budget = "message 'Hatchery budget', 2025-03-04";
    let staffing = "message 'Hatchery staffing', 2025-05-20";
    let all = headings(&[]);
    assert!(all.iter().any(|h| h.is_empty()), "notes.txt: {all:?}");
    for (args, want) in [
        (&["--from", "ALICE"][..], budget),
        (&["--from", "bob@example.org"][..], staffing),
        (&["--sent-after", "2025-04-01"][..], staffing),
        (&["--sent-before", "2025-03-31"][..], budget),
    ] {
        let found = headings(args);
        assert!(
            !found.is_empty() && found.iter().all(|h| h.starts_with(want)),
            "{args:?}: {found:?}"
        );
    }
    assert!(headings(&["--from", "carol"]).is_empty());

    // The attached PDF is read under its message, and carries the message's sender.
    let h = hit(&data, "heron hatchery ledgers", "hatchery.mbox");
    assert_eq!(
        h["heading"],
        format!("{budget} > attachment audit.pdf"),
        "{h}"
    );
    let r = search_json(
        &data,
        &["--mode", "bm25", "--from", "alice", "heron ledgers"],
    );
    assert!(!r.is_empty(), "{r:?}");
}
