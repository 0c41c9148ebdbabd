//! File-type detection: content first, extension as a tie-breaker.
//!
//! The order is: PDF magic (`%PDF-` within the first KiB), ZIP magic (the OpenDocument or EPUB
//! `mimetype` member, else `word/`, `xl/` or `ppt/` members, else the extension), images
//! Tesseract reads (PNG, JPEG, TIFF, WebP), an OLE2 container named `.xls` or holding a
//! `Workbook` stream, HTML sniffing of the first tag (only for text), mail headers or an MBOX
//! `From ` line, then known binary formats and NUL bytes (unsupported). What is left is text,
//! and the extension decides between Markdown, HTML, CSV/TSV, mail, source code (also by file
//! name or `#!` line: `code::Language::detect`) and plain text.
//!
//! A file named `.pdf` or `.docx` whose content is none of the above is still reported as that
//! type, so that parsing fails with "damaged" instead of the file being silently skipped or
//! indexed as garbage text (an HTML error page saved as `.pdf` is detected as HTML).

use std::path::Path;

use super::DocKind;

/// How much of the file detection looks at.
pub(crate) const HEAD_LEN: usize = 8 * 1024;

/// Where the `%PDF-` header may start (readers accept junk before it).
const PDF_MAGIC_WINDOW: usize = 1024;

/// ZIP local-file header and empty-archive signatures.
const ZIP_MAGIC: [&[u8]; 2] = [b"PK\x03\x04", b"PK\x05\x06"];

/// Signatures of binary formats Cairn does not read (the RTF entry is text, but only markup).
const BINARY_MAGIC: &[&[u8]] = &[
    b"\x89PNG\r\n\x1a\n",
    b"\xFF\xD8\xFF", // JPEG
    b"GIF87a",
    b"GIF89a",
    b"\x7FELF",
    b"\x1F\x8B", // gzip
    b"SQLite format 3\0",
    b"BZh",        // bzip2
    b"\xFD7zXZ\0", // xz
    b"7z\xBC\xAF\x27\x1C",
    b"Rar!\x1A\x07",
    b"\x28\xB5\x2F\xFD", // zstd
    b"RIFF",             // WAV, AVI, WebP
    b"OggS",
    b"fLaC",
    b"ID3",                              // MP3
    b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1", // OLE2: .doc, .xls, encrypted OOXML
    b"II*\0",                            // TIFF
    b"MM\0*",
    b"\xCA\xFE\xBA\xBE", // Java class, Mach-O fat
    b"\xCF\xFA\xED\xFE", // Mach-O
    b"\xCE\xFA\xED\xFE",
    b"wOFF",
    b"wOF2",
    b"\0asm",
    b"{\\rtf",
    b"\xFF\xFE\0\0", // UTF-32LE BOM (not supported by encoding_rs)
    b"\0\0\xFE\xFF", // UTF-32BE BOM
];

/// Detects the kind of a document from its first bytes (`head`, ideally the first 8 KiB)
/// and its path; `None` means unsupported (a binary format Cairn does not read).
pub fn detect(path: &Path, head: &[u8]) -> Option<DocKind> {
    let head = &head[..head.len().min(HEAD_LEN)];
    let ext = extension(path);
    let ext = ext.as_deref();

    if find(&head[..head.len().min(PDF_MAGIC_WINDOW)], b"%PDF-").is_some() {
        return Some(DocKind::Pdf);
    }
    if is_zip(head) {
        return zip_kind(head, ext);
    }
    if is_image(head) {
        return Some(DocKind::Image);
    }
    if head.starts_with(b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1")
        && (matches!(ext, Some("xls" | "xlt")) || find(head, b"W\0o\0r\0k\0b\0o\0o\0k\0").is_some())
    {
        return Some(DocKind::Spreadsheet);
    }

    let utf16 = head.starts_with(b"\xFF\xFE") || head.starts_with(b"\xFE\xFF");
    let binary = BINARY_MAGIC.iter().any(|magic| head.starts_with(magic))
        || is_iso_media(head)
        || (!utf16 && looks_binary(head));
    if sniff_html(head) {
        return Some(DocKind::Html);
    }
    if !binary && looks_like_mail(head) {
        return Some(DocKind::Mail);
    }
    // A file named like a supported binary type whose content is not recognised is damaged:
    // report it (parsing fails with a reason) instead of skipping it or reading it as text.
    match ext {
        Some("pdf") => return Some(DocKind::Pdf),
        Some("docx") => return Some(DocKind::Docx),
        Some(e) if binary => return office_extension(e),
        _ if binary => return None,
        _ => {}
    }
    Some(match ext {
        Some("md" | "markdown" | "mdown" | "mkd" | "mkdn" | "mdwn" | "mdtext") => DocKind::Markdown,
        Some("html" | "htm" | "xhtml" | "xht") => DocKind::Html,
        Some("csv" | "tsv" | "tab") => DocKind::Csv,
        Some("eml" | "mbox") => DocKind::Mail,
        _ if super::code::Language::detect(path, head).is_some() => DocKind::Code,
        _ => DocKind::Text,
    })
}

/// The kind of a ZIP package from its first bytes, then its extension.
fn zip_kind(head: &[u8], ext: Option<&str>) -> Option<DocKind> {
    if let Some(kind) = super::package::mimetype_kind(head) {
        return Some(kind);
    }
    if find(head, b"word/").is_some() {
        return Some(DocKind::Docx);
    }
    if find(head, b"xl/").is_some() {
        return Some(DocKind::Spreadsheet);
    }
    if find(head, b"ppt/").is_some() {
        return Some(DocKind::Presentation);
    }
    office_extension(ext?)
}

/// The kind an office-document extension names (for content not recognised otherwise, so a
/// damaged file is reported rather than skipped).
fn office_extension(ext: &str) -> Option<DocKind> {
    Some(match ext {
        "docx" | "docm" | "dotx" | "dotm" => DocKind::Docx,
        "xlsx" | "xlsm" | "xltx" | "xltm" | "xls" | "ods" => DocKind::Spreadsheet,
        "pptx" | "pptm" | "ppsx" | "potx" | "odp" => DocKind::Presentation,
        "odt" => DocKind::Odt,
        "epub" => DocKind::Epub,
        _ => return None,
    })
}

/// Images Tesseract reads: PNG, JPEG, TIFF, WebP.
fn is_image(head: &[u8]) -> bool {
    head.starts_with(b"\x89PNG\r\n\x1a\n")
        || head.starts_with(b"\xFF\xD8\xFF")
        || head.starts_with(b"II*\0")
        || head.starts_with(b"MM\0*")
        || (head.starts_with(b"RIFF") && head.get(8..12) == Some(b"WEBP"))
}

/// An MBOX `From ` line followed by a header, or a message whose first two lines are headers
/// mail always has (`From:`, `Date:`, `Received:`, ...).
fn looks_like_mail(head: &[u8]) -> bool {
    const HEADERS: &[&str] = &[
        "from",
        "to",
        "date",
        "subject",
        "received",
        "return-path",
        "message-id",
        "mime-version",
        "delivered-to",
        "x-mailer",
        "reply-to",
        "cc",
        "content-type",
        "dkim-signature",
        "authentication-results",
        "x-original-to",
        "sender",
    ];
    let text = String::from_utf8_lossy(&head[..head.len().min(2048)]);
    let mut lines = text.lines();
    let first = lines.next().unwrap_or("");
    let is_header = |line: &str| {
        line.split_once(':')
            .is_some_and(|(name, _)| HEADERS.contains(&name.to_ascii_lowercase().as_str()))
    };
    if first.starts_with("From ") && first.len() > 5 {
        return lines.next().is_some_and(is_header);
    }
    is_header(first) && lines.next().is_some_and(is_header)
}

/// True if `head` starts like a ZIP archive.
pub(crate) fn is_zip(head: &[u8]) -> bool {
    ZIP_MAGIC.iter().any(|magic| head.starts_with(magic))
}

/// The lowercase extension of `path`, if any.
fn extension(path: &Path) -> Option<String> {
    path.extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
}

/// ISO base media files (MP4, MOV, HEIC, AVIF) carry `ftyp` at offset 4.
fn is_iso_media(head: &[u8]) -> bool {
    head.get(4..8) == Some(b"ftyp")
}

/// NUL bytes, or many control characters, mean binary data.
fn looks_binary(head: &[u8]) -> bool {
    if head.contains(&0) {
        return true;
    }
    let controls = head
        .iter()
        .filter(|&&b| b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r' | 0x0C | 0x1B))
        .count();
    controls * 20 > head.len().max(1) // more than 5 %
}

/// True if the document starts (after a BOM, whitespace, an XML declaration, comments and a
/// doctype) with `<!doctype html`, `<html`, `<head` or `<body`, in any case.
fn sniff_html(head: &[u8]) -> bool {
    let decoded;
    let mut rest: &str = if let Some((encoding, bom_len)) = encoding_rs::Encoding::for_bom(head) {
        decoded = encoding.decode_without_bom_handling(&head[bom_len..]).0;
        &decoded
    } else {
        decoded = String::from_utf8_lossy(head);
        &decoded
    };
    loop {
        rest = rest.trim_start();
        let starts = |tag: &str| {
            rest.as_bytes()
                .get(..tag.len())
                .is_some_and(|p| p.eq_ignore_ascii_case(tag.as_bytes()))
        };
        if ["<!doctype html", "<html", "<head", "<body"]
            .into_iter()
            .any(starts)
        {
            return true;
        }
        // Skip an XML declaration, a processing instruction or a comment, then look again.
        let skipped = if rest.starts_with("<?") {
            rest.find("?>").map(|i| i + 2)
        } else if rest.starts_with("<!--") {
            rest.find("-->").map(|i| i + 3)
        } else {
            None
        };
        match skipped {
            Some(n) => rest = &rest[n..],
            None => return false,
        }
    }
}

/// Position of `needle` in `haystack`.
pub(crate) fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(name: &str, head: &[u8]) -> Option<DocKind> {
        detect(Path::new(name), head)
    }

    #[test]
    fn content_wins_over_extension() {
        assert_eq!(
            kind("report.txt", b"%PDF-1.7\n%\xE2\xE3\xCF\xD3\n"),
            Some(DocKind::Pdf)
        );
        assert_eq!(kind("x.bin", b"\r\n\r\n%PDF-1.4"), Some(DocKind::Pdf));
        assert_eq!(
            kind("notes.txt", b"<!DOCTYPE html><html><p>hi"),
            Some(DocKind::Html)
        );
        assert_eq!(
            kind("readme.md", b"\xEF\xBB\xBF  \n<HTML lang=en>"),
            Some(DocKind::Html)
        );
        assert_eq!(
            kind(
                "page",
                b"<?xml version=\"1.0\"?>\n<!-- c -->\n<html xmlns=\"x\">"
            ),
            Some(DocKind::Html)
        );
    }

    #[test]
    fn extension_breaks_ties_for_text() {
        assert_eq!(kind("a.md", b"# Title\n"), Some(DocKind::Markdown));
        assert_eq!(kind("a.MARKDOWN", b"# Title\n"), Some(DocKind::Markdown));
        assert_eq!(kind("a.htm", b"<p>fragment</p>"), Some(DocKind::Html));
        assert_eq!(kind("README", b"# Title\n"), Some(DocKind::Text));
        assert_eq!(kind("a.rs", b"fn main() {}\n"), Some(DocKind::Code));
        assert_eq!(kind("build", b"#!/bin/sh\nmake\n"), Some(DocKind::Code));
        assert_eq!(kind("a.ts", b"G\x40\0\x10\0\0\xB0"), None);
        assert_eq!(kind("empty.txt", b""), Some(DocKind::Text));
        assert_eq!(kind("latin1.txt", b"caf\xE9"), Some(DocKind::Text));
        assert_eq!(kind("utf16.txt", b"\xFF\xFEh\0i\0"), Some(DocKind::Text));
        assert_eq!(
            kind("utf16.txt", b"\xFF\xFE<\0h\0t\0m\0l\0>\0"),
            Some(DocKind::Html)
        );
    }

    #[test]
    fn binaries_are_unsupported() {
        assert_eq!(kind("anim.gif", b"GIF89a\x01\0\x01\0"), None);
        assert_eq!(
            kind("old.doc", b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1\0\0"),
            None
        );
        assert_eq!(kind("a.out", b"\x7FELF\x02\x01\x01"), None);
        assert_eq!(kind("db.sqlite", b"SQLite format 3\0\x10\0"), None);
        assert_eq!(kind("blob", b"abc\0def"), None);
        assert_eq!(kind("clip.mp4", b"\0\0\0\x18ftypmp42"), None);
        assert_eq!(
            kind("archive.zip", b"PK\x03\x04\x14\0\0\0\x08\0data.csv"),
            None
        );
    }

    #[test]
    fn images_mail_sheets_and_packages_by_content() {
        let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
        assert_eq!(kind("image.txt", png), Some(DocKind::Image));
        assert_eq!(
            kind("photo", b"\xFF\xD8\xFF\xE0\0\x10JFIF"),
            Some(DocKind::Image)
        );
        assert_eq!(kind("scan.tif", b"II*\0\x08\0"), Some(DocKind::Image));
        assert_eq!(kind("x", b"RIFF\0\0\0\0WEBPVP8 "), Some(DocKind::Image));
        assert_eq!(kind("clip.wav", b"RIFF\0\0\0\0WAVEfmt "), None);
        assert_eq!(
            kind(
                "msg.txt",
                b"From: a@example.com\nTo: b@example.com\nSubject: hi\n\nbody"
            ),
            Some(DocKind::Mail)
        );
        assert_eq!(
            kind(
                "inbox",
                b"From a@example.com Tue Mar  4 09:30:00 2025\nReturn-Path: <a>\n"
            ),
            Some(DocKind::Mail)
        );
        assert_eq!(
            kind("notes.txt", b"From here on: we walk\nand talk"),
            Some(DocKind::Text)
        );
        assert_eq!(kind("data.csv", b"a,b\n1,2\n"), Some(DocKind::Csv));
        assert_eq!(kind("data.TSV", b"a\tb\n"), Some(DocKind::Csv));
        assert_eq!(
            kind("old.xls", b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1\0\0"),
            Some(DocKind::Spreadsheet)
        );
        let odt = b"PK\x03\x04\x14\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x08\0\0\0mimetypeapplication/vnd.oasis.opendocument.text";
        assert_eq!(kind("download", odt), Some(DocKind::Odt));
        let epub = b"PK\x03\x04\x14\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x08\0\0\0mimetypeapplication/epub+zip";
        assert_eq!(kind("book.zip", epub), Some(DocKind::Epub));
        assert_eq!(
            kind("x", b"PK\x03\x04\x14\0\0\0\x08\0xl/workbook.xml"),
            Some(DocKind::Spreadsheet)
        );
        assert_eq!(
            kind("x", b"PK\x03\x04\x14\0\0\0\x08\0ppt/slides/slide1.xml"),
            Some(DocKind::Presentation)
        );
        assert_eq!(
            kind("deck.odp", b"PK\x03\x04\x14\0"),
            Some(DocKind::Presentation)
        );
    }

    #[test]
    fn zip_is_docx_by_extension_or_content() {
        assert_eq!(kind("a.docx", b"PK\x03\x04\x14\0"), Some(DocKind::Docx));
        assert_eq!(
            kind("download", b"PK\x03\x04\x14\0\0\0\x08\0word/document.xml"),
            Some(DocKind::Docx)
        );
        // Password-protected Word files are OLE containers: reported, not skipped.
        assert_eq!(
            kind("secret.docx", b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1"),
            Some(DocKind::Docx)
        );
        assert_eq!(kind("broken.pdf", b"\0\0\0garbage"), Some(DocKind::Pdf));
        assert_eq!(
            kind("cut.pdf", b"  <rdf:li>xmp</rdf:li>\n"),
            Some(DocKind::Pdf)
        );
        assert_eq!(
            kind("error.pdf", b"<!DOCTYPE html><title>404</title>"),
            Some(DocKind::Html)
        );
    }
}
