//! Seed inputs for each fuzz target, built in code: small valid documents of every kind (and a
//! few almost-valid ones) for the fuzzers to mutate; the office packages, EPUB and mail are the
//! committed real fixtures of `tests/fixtures/formats`.

use std::io::Write;

use super::Target;

// Office packages are hard to write by hand: the seeds of these targets are the small real
// files LibreOffice and Python's `email` made for the end-to-end test (tests/fixtures/formats).
const FIXTURE_XLSX: &[u8] = include_bytes!("../../../../../tests/fixtures/formats/budget.xlsx");
const FIXTURE_XLS: &[u8] = include_bytes!("../../../../../tests/fixtures/formats/budget.xls");
const FIXTURE_ODS: &[u8] = include_bytes!("../../../../../tests/fixtures/formats/budget.ods");
const FIXTURE_PPTX: &[u8] = include_bytes!("../../../../../tests/fixtures/formats/deck.pptx");
const FIXTURE_ODP: &[u8] = include_bytes!("../../../../../tests/fixtures/formats/deck.odp");
const FIXTURE_ODT: &[u8] = include_bytes!("../../../../../tests/fixtures/formats/memo.odt");
const FIXTURE_EPUB: &[u8] = include_bytes!("../../../../../tests/fixtures/formats/guide.epub");
const FIXTURE_EML: &[u8] = include_bytes!("../../../../../tests/fixtures/formats/forecast.eml");
const FIXTURE_MBOX: &[u8] = include_bytes!("../../../../../tests/fixtures/formats/archive.mbox");

/// The seeds of `target`, each a complete input for [`Target::run`].
pub fn seeds(target: Target) -> Vec<Vec<u8>> {
    match target {
        Target::Detect => {
            let mut out = Vec::new();
            for (i, seed) in [text_seeds(), markdown_seeds(), html_seeds(), pdf_seeds(), docx_seeds()]
                .into_iter()
                .flatten()
                .enumerate()
            {
                let mut input = vec![i as u8];
                input.extend(seed);
                out.push(input);
            }
            out
        }
        Target::Text => text_seeds(),
        Target::Markdown => markdown_seeds(),
        Target::Html => html_seeds(),
        Target::Pdf => pdf_seeds(),
        Target::Docx => docx_seeds(),
        Target::Spreadsheet => vec![
            FIXTURE_XLSX.to_vec(),
            FIXTURE_XLS.to_vec(),
            FIXTURE_ODS.to_vec(),
        ],
        Target::Csv => vec![
            b"item,amount,note\nTravel,1200,\"with, comma\"\nHotel,90,\"multi\nline \"\"quoted\"\"\"\n"
                .to_vec(),
            b"a\tb\tc\n1\t2\t3\n\n4\t5\n".to_vec(),
        ],
        Target::Presentation => vec![FIXTURE_PPTX.to_vec(), FIXTURE_ODP.to_vec()],
        Target::Odt => vec![FIXTURE_ODT.to_vec()],
        Target::Epub => vec![FIXTURE_EPUB.to_vec()],
        Target::Mail => vec![FIXTURE_EML.to_vec(), FIXTURE_MBOX.to_vec()],
        Target::Code => code_seeds(),
        Target::Chunk => {
            let mut out = Vec::new();
            for (i, md) in markdown_seeds().into_iter().enumerate() {
                let mut input = vec![3 + 7 * i as u8, 2, 1, 0];
                input.extend(md);
                out.push(input);
            }
            out.push(
                b"\x05\x02\x01\x01First page text with a few words.\x0cSecond page, longer: \
                  antidisestablishmentarianism and \xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e.\x0c\x0c"
                    .to_vec(),
            );
            out.push(b"\x01\x00\x00\x01a\x0cb c d e\x0c f".to_vec());
            out
        }
        Target::Cite => vec![
            b"Returns are accepted within 14 days [1]. Shipping is free [2][3].\0Refunds\nCustomers may \
              return goods within 14 days.\0Shipping\nShipping is free above 50 euros.\0x\ny"
                .to_vec(),
            b"- first point [1, 2]\n- second \"quoted words\" [2;1]\n\nI don't know. [9]\0a\nfirst point \
              here\0b\nsecond point with quoted words"
                .to_vec(),
            b"Dr. Smith said so [1]. e.g. this [note] and [1a] and [] and [12345].\0ctx\nDr Smith said so"
                .to_vec(),
        ],
    }
}

fn text_seeds() -> Vec<Vec<u8>> {
    let mut utf16 = vec![0xFF, 0xFE];
    for unit in "UTF-16 text: caf\u{e9}\r\nline two".encode_utf16() {
        utf16.extend(unit.to_le_bytes());
    }
    vec![
        b"Plain text.\r\nWith CRLF lines and a\ttab.\n\nSecond paragraph.".to_vec(),
        "Unicode: gr\u{fc}\u{df}e, \u{65e5}\u{672c}\u{8a9e}, emoji \u{1F600}.\n".into(),
        b"Latin-1: caf\xe9 cr\xe8me br\xfbl\xe9e.".to_vec(),
        b"\x82\xa0\x82\xa2\x82\xa4 Shift_JIS".to_vec(),
        utf16,
        b"\xEF\xBB\xBFBOM then text\x00 with a NUL".to_vec(),
        Vec::new(),
    ]
}

fn markdown_seeds() -> Vec<Vec<u8>> {
    vec![
        b"# Title\n\nIntro paragraph.\n\n## Section *one*\n\nText with [a link](http://x) and `code`.\n\n\
          ### Deeper\n\n- item 1\n- item 2\n  - nested\n\n```rust\nfn main() {}\n```\n\n\
          | a | b |\n|---|---|\n| 1 | 2 |\n\n## Two\n\n> quote\n\nLast words.\n"
            .to_vec(),
        b"Setext title\n============\n\nBody <b>inline html</b> &amp; entity.\n\nSub\n---\n\n1. one\n2. two\n"
            .to_vec(),
        b"---\ntitle: Front matter\n---\n\n#\n\n####### not a heading\n\n# \xc3\xa9t\xc3\xa9\n".to_vec(),
    ]
}

fn html_seeds() -> Vec<Vec<u8>> {
    vec![
        b"<!DOCTYPE html><html><head><title>Page title</title><style>p{}</style>\
          <script>var x = '<h1>';</script></head><body><h1>Heading</h1><p>First <b>bold</b> \
          paragraph &amp; more.</p><h2>Sub</h2><ul><li>one</li><li>two</li></ul>\
          <table><tr><td>a</td><td>b</td></tr></table><pre>  keep   spaces </pre>\
          <div hidden>hidden text</div></body></html>"
            .to_vec(),
        b"<html><head><meta charset=\"windows-1252\"></head><body><p>caf\xe9</p><h3>Deep</h3>\
          <p>text<br>after break</p></body></html>"
            .to_vec(),
        b"<div><div><div><span>unclosed <p>tags <h1>mixed</div></span>&#x1F600; &bogus;".to_vec(),
    ]
}

fn pdf_seeds() -> Vec<Vec<u8>> {
    let font = "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>";
    let page = |content: u32, extra: &str| {
        format!("<< /Type /Page /Parent 2 0 R /Contents {content} 0 R {extra}>>")
    };
    let text = |s: &str| {
        stream(&format!(
            "BT /F1 12 Tf 50 700 Td ({s}) Tj T* (Second line) Tj ET"
        ))
    };
    vec![
        // One page, title in the info dictionary.
        pdf(&[
            "<< /Type /Catalog /Pages 2 0 R >>".into(),
            "<< /Type /Pages /Kids [3 0 R] /Count 1 /MediaBox [0 0 595 842] \
             /Resources << /Font << /F1 5 0 R >> >> >>"
                .into(),
            page(4, ""),
            text("Hello PDF world"),
            font.into(),
            "<< /Title (A PDF title) >>".into(),
        ]),
        // Two pages, the second draws a form XObject.
        pdf(&[
            "<< /Type /Catalog /Pages 2 0 R >>".into(),
            "<< /Type /Pages /Kids [3 0 R 4 0 R] /Count 2 /MediaBox [0 0 595 842] >>".into(),
            page(5, "/Resources << /Font << /F1 7 0 R >> >> "),
            page(6, "/Resources << /Font << /F1 7 0 R >> /XObject << /X0 8 0 R >> >> "),
            text("Page one"),
            stream("q /X0 Do Q BT /F1 10 Tf 20 20 Td (Page two) Tj ET"),
            font.into(),
            format!(
                "<< /Type /XObject /Subtype /Form /BBox [0 0 100 100] /Resources << /Font << /F1 7 0 R >> >> \
                 /Length {} >>\nstream\nBT /F1 9 Tf 0 0 Td (In a form) Tj ET\nendstream",
                "BT /F1 9 Tf 0 0 Td (In a form) Tj ET".len()
            ),
        ]),
    ]
}

/// A content stream object.
pub(crate) fn stream(content: &str) -> String {
    format!(
        "<< /Length {} >>\nstream\n{content}\nendstream",
        content.len()
    )
}

/// A PDF of `objects` (numbered from 1; object 1 the catalog, the last one the info
/// dictionary when it has a `/Title`) with a correct cross-reference table.
pub(crate) fn pdf(objects: &[String]) -> Vec<u8> {
    let mut out = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n".to_vec();
    let mut offsets = Vec::new();
    for (i, obj) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend(format!("{} 0 obj\n{obj}\nendobj\n", i + 1).bytes());
    }
    let xref = out.len();
    out.extend(format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).bytes());
    for offset in offsets {
        out.extend(format!("{offset:010} 00000 n \n").bytes());
    }
    let info = objects
        .last()
        .filter(|o| o.contains("/Title"))
        .map(|_| format!(" /Info {} 0 R", objects.len()))
        .unwrap_or_default();
    out.extend(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R{info} >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .bytes(),
    );
    out
}

fn docx_seeds() -> Vec<Vec<u8>> {
    let w = "xmlns:w=\"http://schemas.openxmlformats.org/wordprocessingml/2006/main\"";
    let document = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><w:document {w}><w:body>\
         <w:p><w:pPr><w:pStyle w:val=\"Title\"/></w:pPr><w:r><w:t>Doc title</w:t></w:r></w:p>\
         <w:p><w:pPr><w:pStyle w:val=\"Heading1\"/></w:pPr><w:r><w:t>Chapter</w:t></w:r></w:p>\
         <w:p><w:r><w:t xml:space=\"preserve\">Body text </w:t><w:tab/><w:t>after tab</w:t><w:br/>\
         <w:t>next line</w:t></w:r></w:p>\
         <w:p><w:pPr><w:pStyle w:val=\"Custom\"/></w:pPr><w:r><w:t>Styled heading</w:t></w:r></w:p>\
         <w:p><w:pPr><w:outlineLvl w:val=\"2\"/></w:pPr><w:r><w:t>Outline level</w:t></w:r></w:p>\
         <w:tbl><w:tr><w:tc><w:p><w:r><w:t>cell 1</w:t></w:r></w:p></w:tc>\
         <w:tc><w:p><w:r><w:t>cell 2</w:t></w:r></w:p></w:tc></w:tr></w:tbl>\
         <w:p><w:r><w:delText>deleted</w:delText><w:t>&amp; entity</w:t></w:r></w:p>\
         </w:body></w:document>"
    );
    let styles = format!(
        "<?xml version=\"1.0\"?><w:styles {w}><w:style w:styleId=\"Custom\"><w:name w:val=\"heading 2\"/>\
         </w:style></w:styles>"
    );
    let core = "<?xml version=\"1.0\"?><cp:coreProperties \
                xmlns:cp=\"http://schemas.openxmlformats.org/package/2006/metadata/core-properties\" \
                xmlns:dc=\"http://purl.org/dc/elements/1.1/\"><dc:title>Core title</dc:title>\
                </cp:coreProperties>";
    vec![
        zip(&[
            ("word/document.xml", document.as_str()),
            ("word/styles.xml", styles.as_str()),
            ("docProps/core.xml", core),
        ]),
        zip(&[(
            "word/document.xml",
            &format!("<w:document {w}><w:body><w:p><w:r><w:t>Only</w:t></w:r></w:p></w:body></w:document>"),
        )]),
    ]
}

/// A ZIP archive of `(name, content)` members (deflated).
fn zip(members: &[(&str, &str)]) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default();
    for (name, content) in members {
        zip.start_file(*name, options).expect("in-memory zip");
        zip.write_all(content.as_bytes()).expect("in-memory zip");
    }
    zip.finish().expect("in-memory zip").into_inner()
}

/// A small program in each language [`Target::Code`] picks by the first byte.
fn code_seeds() -> Vec<Vec<u8>> {
    let programs: [&str; 16] = [
        "/// Doc.\n#[derive(Debug)]\nstruct A { x: u8 }\nimpl A {\n    fn get(&self) -> u8 { self.x }\n}\nmod m { fn f() {} }\n",
        "import os\n\nclass A:\n    @property\n    def x(self):\n        return 1\n\ndef main():\n    pass\n",
        "export function f(a) { return a; }\nconst g = () => 1;\nclass C { m() { return 2; } }\n",
        "interface I { x: number }\nnamespace N { export function f(): void {} }\nabstract class A { m(): string { return ''; } }\n",
        "export const App = () => <div className=\"a\">hi</div>;\n",
        "package main\n\ntype T struct{ X int }\n\nfunc (t *T) M() int { return t.X }\nfunc main() {}\n",
        "class A { int x; A() {} void m() { x++; } enum E { P } }\n",
        "#include <stdio.h>\nstruct s { int a; };\nint main(void) { return 0; }\n",
        "namespace n { template <class T> class C { public: T get() { return T(); } }; }\n",
        "namespace N { class C { public int M() { return 1; } } }\n",
        "module M\n  class C\n    def m; end\n    def self.s; end\n  end\nend\n",
        "<?php\nnamespace N;\nclass C { public function m() { return 1; } }\nfunction f() {}\n",
        "#!/bin/sh\nf() { echo \"$1\"; }\nf x\n",
        "local M = {}\nfunction M.f(a) return a end\nreturn M\n",
        "{\"a\": {\"b\": [1, 2, {\"c\": null}]}, \"d\": \"e\"}\n",
        "[package]\nname = \"x\"\n\n[[bin]]\nname = \"y\"\n",
    ];
    programs
        .iter()
        .enumerate()
        .map(|(i, program)| {
            let mut input = vec![i as u8];
            input.extend(program.as_bytes());
            input
        })
        .collect()
}
