//! PDF text extraction with [`pdf_extract`] (on top of `lopdf`), page by page.
//!
//! The document is loaded once; encrypted files that open with the empty user password
//! (common for "copy-protected" PDFs) are read, others are reported as encrypted. Streams that
//! would inflate past the caps in [`super::limits`] are refused before extraction. Extraction
//! runs inside [`std::panic::catch_unwind`], because `pdf-extract` panics on fonts and
//! encodings it does not support: a page that fails is kept as an empty page (and logged), and
//! the file is only rejected when no page could be read at all. A page whose object graph would
//! make pdf-extract recurse or loop without end is refused before extraction ([`pdf_graph`]).
//!
//! Pages are joined with a blank line (`"\n\n"`); each [`Page`] records its byte range, and an
//! empty page gets an empty range at its position. The extracted text is cleaned up: runs of
//! spaces collapse, lines lose trailing whitespace, and runs of blank lines collapse to one.
//! The title comes from the document information dictionary. Invisible text (render mode 3,
//! or white text on an unpainted page) is removed from each page's content first
//! ([`hidden`]).

use std::any::Any;
use std::cell::RefCell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;

use pdf_extract::{decode_text_string, Document, Object, PlainTextOutput};

mod hidden;

use super::builder::collapse_whitespace;
use super::{limits, pdf_graph, DocKind, Page, ParsedDoc, Section};

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
    // Pages without a text layer (a scan, a scanned page in a text PDF) wait for the OCR phase.
    let ocr_pages: Vec<u32> = page_ranges
        .iter()
        .filter(|p| text[p.start..p.end].trim().is_empty())
        .map(|p| p.number)
        .take(super::ocr::MAX_OCR_PAGES)
        .collect();
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
        messages: Vec::new(),
        ocr_pages,
    })
}

/// What [`extract`] gets out of a PDF.
struct Extracted {
    /// `(page number, cleaned text)` in page order.
    pages: Vec<(u32, String)>,
    title: Option<String>,
}

/// Loads the document and extracts the cleaned text of every page, with the title.
///
/// All pages are read in one pass (linear in the page count; reading page by page costs a walk
/// of the page tree per page). If a page makes the extractor fail or panic, the pages before it
/// are kept, it is left empty, and the rest are read one by one.
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
    // Bombs are refused before anything (the hidden-text filter included) inflates a stream.
    check_streams(&doc)?;
    let invisible = hidden::drop_invisible_text(&mut doc);
    if invisible > 0 {
        tracing::debug!(
            invisible,
            "PDF text shown invisibly was dropped before extraction"
        );
    }
    let page_ids = doc.get_pages();
    if page_ids.is_empty() {
        return Err("PDF has no pages".to_string());
    }
    if page_ids.len() > limits::MAX_PDF_PAGES {
        return Err(format!("PDF {}", limits::too_many_pages(page_ids.len())));
    }
    // Pages whose object graph would make the extractor recurse or loop without end.
    let refused: Vec<(u32, String)> = page_ids
        .iter()
        .filter_map(|(&n, &id)| {
            pdf_graph::check_page(&doc, id)
                .err()
                .map(|reason| (n, format!("page {n}: {reason}")))
        })
        .collect();
    let page_numbers: Vec<u32> = page_ids.into_keys().collect();

    let mut pages = Vec::with_capacity(page_numbers.len());
    let mut first_failure = None;
    let mut failures = 0usize;
    // Where reading page by page starts: after a failed one-pass read, or at once when a page
    // is refused (the one pass would reach it).
    let mut one_by_one = 0;
    if refused.is_empty() {
        let mut out = Paged::default();
        let pass = catch_unwind(AssertUnwindSafe(|| pdf_extract::output_doc(&doc, &mut out)));
        out.cap_hit()?;
        pages = out.pages();
        one_by_one = page_numbers.len();
        if let Some(failure) = failure_of(pass) {
            // The page that failed is the first one not finished.
            let done = pages.len();
            tracing::debug!(page = page_numbers[done], error = %failure, "PDF page text could not be extracted");
            failures += 1;
            first_failure = Some(failure);
            pages.push((page_numbers[done], String::new()));
            one_by_one = done + 1;
        }
    }
    for &number in &page_numbers[one_by_one..] {
        let failure = match refused.iter().find(|(n, _)| *n == number) {
            Some((_, reason)) => Some(reason.clone()),
            None => {
                let mut one = Paged::default();
                let raw = catch_unwind(AssertUnwindSafe(|| {
                    pdf_extract::output_doc_page(&doc, &mut one, number)
                }));
                one.cap_hit()?;
                let failure = failure_of(raw);
                if failure.is_none() {
                    pages.extend(one.pages());
                }
                failure
            }
        };
        if let Some(failure) = failure {
            tracing::debug!(page = number, error = %failure, "PDF page text could not be extracted");
            failures += 1;
            first_failure.get_or_insert(failure);
            pages.push((number, String::new()));
        }
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
    let total: usize = pages.iter().map(|(_, t)| t.len()).sum();
    if total > limits::MAX_TEXT_BYTES {
        return Err(format!("PDF {}", limits::too_much_text(total)));
    }
    Ok(Extracted {
        pages,
        title: info_title(&doc),
    })
}

/// What went wrong in an extraction call, if anything.
fn failure_of(
    outcome: std::thread::Result<Result<(), pdf_extract::OutputError>>,
) -> Option<String> {
    match outcome {
        Ok(Ok(())) => None,
        Ok(Err(e)) => Some(e.to_string()),
        Err(panic) => Some(panic_message(&*panic)),
    }
}

/// Refuses decompression bombs before the extractor inflates anything: every Flate stream is
/// inflated once into a counter, and none may exceed [`limits::MAX_PDF_STREAM_BYTES`], nor all
/// together [`limits::MAX_PDF_STREAMS_TOTAL`].
fn check_streams(doc: &Document) -> Result<(), String> {
    use std::io::Read;
    let mut total = 0u64;
    for object in doc.objects.values() {
        let Object::Stream(stream) = object else {
            continue;
        };
        let flate = match stream.dict.get(b"Filter") {
            Ok(Object::Name(name)) => name == b"FlateDecode",
            Ok(Object::Array(filters)) => filters
                .first()
                .is_some_and(|f| matches!(f, Object::Name(n) if n == b"FlateDecode")),
            _ => false,
        };
        if !flate {
            continue;
        }
        let mut inflated = flate2::read::ZlibDecoder::new(&stream.content[..])
            .take(limits::MAX_PDF_STREAM_BYTES + 1);
        // A damaged stream counts what inflated before the damage; the extractor reports it.
        let n = std::io::copy(&mut inflated, &mut std::io::sink()).unwrap_or(0);
        if n > limits::MAX_PDF_STREAM_BYTES {
            return Err(format!(
                "PDF has a stream that expands to more than {} (a decompression bomb?)",
                limits::megabytes(limits::MAX_PDF_STREAM_BYTES)
            ));
        }
        total += n;
        if total > limits::MAX_PDF_STREAMS_TOTAL {
            return Err(format!(
                "PDF streams expand to more than {} in all (a decompression bomb?)",
                limits::megabytes(limits::MAX_PDF_STREAMS_TOTAL)
            ));
        }
    }
    Ok(())
}

/// The extractor's plain-text output, cut at page boundaries, with the caps checked as it
/// grows.
#[derive(Default)]
struct Paged {
    buf: Rc<RefCell<Vec<u8>>>,
    inner: Option<PlainTextOutput<SharedText>>,
    /// (page number, start, end) in `buf`.
    done: Vec<(u32, usize, usize)>,
    current: Option<(u32, usize)>,
    cap: Option<String>,
}

/// A handle on the shared buffer that `PlainTextOutput` writes to.
struct SharedText(Rc<RefCell<Vec<u8>>>);

impl std::fmt::Write for SharedText {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.borrow_mut().extend_from_slice(s.as_bytes());
        Ok(())
    }
}

impl pdf_extract::ConvertToFmt for SharedText {
    type Writer = SharedText;
    fn convert(self) -> SharedText {
        self
    }
}

impl Paged {
    fn inner(&mut self) -> &mut PlainTextOutput<SharedText> {
        let buf = self.buf.clone();
        self.inner
            .get_or_insert_with(|| PlainTextOutput::new(SharedText(buf)))
    }

    fn stop(&mut self, reason: String) -> Result<(), pdf_extract::OutputError> {
        self.cap = Some(reason);
        Err(pdf_extract::OutputError::FormatError(std::fmt::Error))
    }

    /// The cap that stopped the extraction, if one did.
    fn cap_hit(&self) -> Result<(), String> {
        match &self.cap {
            Some(reason) => Err(format!("PDF {reason}")),
            None => Ok(()),
        }
    }

    /// The finished pages' cleaned text.
    fn pages(&self) -> Vec<(u32, String)> {
        let buf = self.buf.borrow();
        self.done
            .iter()
            .map(|&(n, start, end)| (n, clean_page(&String::from_utf8_lossy(&buf[start..end]))))
            .collect()
    }
}

impl pdf_extract::OutputDev for Paged {
    fn begin_page(
        &mut self,
        page_num: u32,
        media_box: &pdf_extract::MediaBox,
        art_box: Option<(f64, f64, f64, f64)>,
    ) -> Result<(), pdf_extract::OutputError> {
        self.current = Some((page_num, self.buf.borrow().len()));
        self.inner().begin_page(page_num, media_box, art_box)
    }

    fn end_page(&mut self) -> Result<(), pdf_extract::OutputError> {
        self.inner().end_page()?;
        let end = self.buf.borrow().len();
        if let Some((n, start)) = self.current.take() {
            self.done.push((n, start, end));
        }
        // Raw output has runs of spaces the cleaning removes: allow it twice the cap.
        if end > 2 * limits::MAX_TEXT_BYTES {
            return self.stop(limits::too_much_text(end));
        }
        Ok(())
    }

    fn output_character(
        &mut self,
        trm: &pdf_extract::Transform,
        width: f64,
        spacing: f64,
        font_size: f64,
        char: &str,
    ) -> Result<(), pdf_extract::OutputError> {
        if self.buf.borrow().len() > 2 * limits::MAX_TEXT_BYTES {
            let len = self.buf.borrow().len();
            return self.stop(limits::too_much_text(len));
        }
        self.inner()
            .output_character(trm, width, spacing, font_size, char)
    }

    fn begin_word(&mut self) -> Result<(), pdf_extract::OutputError> {
        self.inner().begin_word()
    }

    fn end_word(&mut self) -> Result<(), pdf_extract::OutputError> {
        self.inner().end_word()
    }

    fn end_line(&mut self) -> Result<(), pdf_extract::OutputError> {
        self.inner().end_line()
    }
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
pub(crate) fn panic_message(panic: &(dyn Any + Send)) -> String {
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
