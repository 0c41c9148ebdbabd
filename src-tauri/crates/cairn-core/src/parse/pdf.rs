//! PDF text extraction with [`pdf_extract`] (on top of `lopdf`), page by page.
//!
//! The document is loaded once; encrypted files that open with the empty user password
//! (common for "copy-protected" PDFs) are read, others are reported as encrypted. Each page is
//! extracted separately inside [`std::panic::catch_unwind`], because `pdf-extract` panics on
//! fonts and encodings it does not support: a page that fails is kept as an empty page (and
//! logged), and the file is only rejected when no page could be read at all. A page whose
//! object graph would make pdf-extract recurse or loop without end is refused before
//! extraction ([`pdf_graph`]).
//!
//! Pages are joined with a blank line (`"\n\n"`); each [`Page`] records its byte range, and an
//! empty page gets an empty range at its position. The extracted text is cleaned up: runs of
//! spaces collapse, lines lose trailing whitespace, and runs of blank lines collapse to one.
//! The title comes from the document information dictionary.

use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};

use pdf_extract::{decode_text_string, Document, Object, PlainTextOutput};

use super::builder::collapse_whitespace;
use super::{pdf_graph, DocKind, Page, ParsedDoc, Section};

/// Parses PDF `bytes`; never panics.
pub(crate) fn parse_pdf(bytes: &[u8]) -> Result<ParsedDoc, String> {
    let Extracted { pages, title } =
        catch_unwind(AssertUnwindSafe(|| extract(bytes))).map_err(|panic| {
            format!(
                "PDF could not be read (pdf-extract failed: {})",
                panic_message(&*panic)
            )
        })??;

    let mut text = String::new();
    let mut page_ranges = Vec::with_capacity(pages.len());
    for (i, (number, page_text)) in pages.iter().enumerate() {
        if i > 0 {
            text.push_str("\n\n");
        }
        let start = text.len();
        text.push_str(page_text);
        page_ranges.push(Page {
            number: *number,
            start,
            end: text.len(),
        });
    }
    if text.trim().is_empty() {
        return Err("PDF has no extractable text (scanned image?)".to_string());
    }
    Ok(ParsedDoc {
        kind: DocKind::Pdf,
        title,
        sections: vec![Section {
            start: 0,
            end: text.len(),
            heading_path: Vec::new(),
        }],
        text,
        pages: page_ranges,
    })
}

/// What [`extract`] gets out of a PDF.
struct Extracted {
    /// `(page number, cleaned text)` in page order.
    pages: Vec<(u32, String)>,
    title: Option<String>,
}

/// Loads the document and extracts the cleaned text of every page, with the title.
fn extract(bytes: &[u8]) -> Result<Extracted, String> {
    pdf_graph::check_nesting(bytes).map_err(|reason| format!("PDF refused: {reason}"))?;
    let mut doc =
        Document::load_mem(bytes).map_err(|e| format!("PDF is damaged or not a PDF ({e})"))?;
    if doc.is_encrypted() {
        // lopdf decrypts while loading when the empty user password works.
        if doc.encryption_state.is_none() {
            return Err("PDF is encrypted (it needs a password)".to_string());
        }
        doc.trailer.remove(b"Encrypt");
    }
    let page_ids = doc.get_pages();
    if page_ids.is_empty() {
        return Err("PDF has no pages".to_string());
    }

    let mut pages = Vec::with_capacity(page_ids.len());
    let mut first_failure = None;
    let mut failures = 0usize;
    for (number, id) in page_ids {
        let raw = catch_unwind(AssertUnwindSafe(|| {
            pdf_graph::check_page(&doc, id).map_err(|reason| format!("page {number}: {reason}"))?;
            let mut raw = String::new();
            let mut output = PlainTextOutput::new(&mut raw);
            pdf_extract::output_doc_page(&doc, &mut output, number)
                .map(|()| raw)
                .map_err(|e| e.to_string())
        }));
        let failure = match raw {
            Ok(Ok(raw)) => {
                pages.push((number, clean_page(&raw)));
                continue;
            }
            Ok(Err(e)) => e,
            Err(panic) => panic_message(&*panic),
        };
        tracing::debug!(page = number, error = %failure, "PDF page text could not be extracted");
        failures += 1;
        first_failure.get_or_insert(failure);
        pages.push((number, String::new()));
    }
    if failures == pages.len() {
        let reason = first_failure.unwrap_or_default();
        return Err(format!("PDF text could not be extracted ({reason})"));
    }
    if failures > 0 {
        tracing::warn!(
            failures,
            pages = pages.len(),
            "some PDF pages could not be read and are left empty"
        );
    }
    Ok(Extracted {
        pages,
        title: info_title(&doc),
    })
}

/// The `/Title` of the document information dictionary, if present and not blank.
fn info_title(doc: &Document) -> Option<String> {
    let resolve = |obj: &'_ Object| -> Option<Object> {
        match obj {
            Object::Reference(id) => doc.get_object(*id).ok().cloned(),
            other => Some(other.clone()),
        }
    };
    let info = resolve(doc.trailer.get(b"Info").ok()?)?;
    let title = resolve(info.as_dict().ok()?.get(b"Title").ok()?)?;
    let title = collapse_whitespace(&decode_text_string(&title).ok()?.replace('\0', ""));
    (!title.is_empty()).then_some(title)
}

/// Tidies pdf-extract's output: drops control characters, collapses runs of spaces, trims
/// lines, keeps single blank lines as paragraph breaks, and trims the page.
fn clean_page(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut blank_lines = 0usize;
    for line in raw.split(['\n', '\r', '\x0c']) {
        let line = line
            .split(|c: char| c.is_whitespace() || c.is_control())
            .filter(|w| !w.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        if line.is_empty() {
            blank_lines += 1;
            continue;
        }
        if !out.is_empty() {
            out.push_str(if blank_lines > 0 { "\n\n" } else { "\n" });
        }
        blank_lines = 0;
        out.push_str(&line);
    }
    out
}

/// The message of a caught panic.
fn panic_message(panic: &(dyn Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "unexpected internal error".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleans_extracted_text() {
        let raw = "\n\n  Hello    world  \nnext\tline\n\n\n\nnew   para \u{1}\n\n";
        assert_eq!(clean_page(raw), "Hello world\nnext line\n\nnew para");
        assert_eq!(clean_page(" \n \n"), "");
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for bytes in [
            &b"%PDF-1.7\n"[..],
            b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF",
            b"%PDF-1.5\n\xFF\xFE\x00garbage\x00\x01\x02 startxref 999999 %%EOF",
            b"",
        ] {
            assert!(parse_pdf(bytes).is_err(), "{bytes:?}");
        }
    }
}
