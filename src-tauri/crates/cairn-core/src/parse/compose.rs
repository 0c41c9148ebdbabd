//! Assembling a [`ParsedDoc`] from parts: the parsers of containers (spreadsheets, slides,
//! EPUB chapters, mail messages and their attachments, OCR'd pages) produce text part by part,
//! each with its own heading path and page. Parts are separated by a blank line; every offset
//! is taken after whole `&str` pushes, so bounds fall on char boundaries. The text cap
//! ([`limits::MAX_TEXT_BYTES`]) is checked as parts arrive, so a hostile container fails
//! before it fills memory.

use super::{limits, DocKind, Page, ParsedDoc, Section};

#[derive(Debug, Default)]
pub(crate) struct Composer {
    text: String,
    sections: Vec<Section>,
    pages: Vec<Page>,
    /// The open page: its number and where it starts.
    page: Option<(u32, usize)>,
}

impl Composer {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Appends `body` (trimmed) as one section under `heading_path`; empty bodies add nothing.
    pub(crate) fn section(&mut self, heading_path: &[String], body: &str) -> Result<(), String> {
        let body = body.trim();
        if body.is_empty() {
            return Ok(());
        }
        self.separate();
        let start = self.text.len();
        self.text.push_str(body);
        self.sections.push(Section {
            start,
            end: self.text.len(),
            heading_path: heading_path.to_vec(),
        });
        self.check()
    }

    /// Appends a parsed document (a chapter, an attachment) with `prefix` put before each of
    /// its heading paths. Its pages are dropped (the container's page, if any, holds).
    pub(crate) fn doc(&mut self, prefix: &[String], doc: &ParsedDoc) -> Result<(), String> {
        if doc.text.trim().is_empty() {
            return Ok(());
        }
        self.separate();
        let base = self.text.len();
        self.text.push_str(&doc.text);
        for s in &doc.sections {
            if s.end <= s.start {
                continue;
            }
            let mut heading_path = prefix.to_vec();
            heading_path.extend(s.heading_path.iter().cloned());
            self.sections.push(Section {
                start: base + s.start,
                end: base + s.end,
                heading_path,
            });
        }
        self.check()
    }

    /// Starts page `number` (closing the open one).
    pub(crate) fn begin_page(&mut self, number: u32) {
        self.end_page();
        self.separate();
        self.page = Some((number, self.text.len()));
    }

    /// Closes the open page, if any.
    pub(crate) fn end_page(&mut self) {
        if let Some((number, start)) = self.page.take() {
            self.pages.push(Page {
                number,
                start,
                end: self.text.len().max(start),
            });
        }
    }

    /// Bytes of text so far.
    pub(crate) fn len(&self) -> usize {
        self.text.len()
    }

    /// The document. A document without sections gets one empty section.
    pub(crate) fn finish(mut self, kind: DocKind, title: Option<String>) -> ParsedDoc {
        self.end_page();
        if self.sections.is_empty() {
            self.sections.push(Section {
                start: 0,
                end: self.text.len(),
                heading_path: Vec::new(),
            });
        }
        ParsedDoc {
            kind,
            title,
            text: self.text,
            sections: self.sections,
            pages: self.pages,
            messages: Vec::new(),
            ocr_pages: Vec::new(),
        }
    }

    /// A blank line before the next part, unless at the start.
    fn separate(&mut self) {
        if !self.text.is_empty() && !self.text.ends_with("\n\n") {
            self.text.push_str(if self.text.ends_with('\n') {
                "\n"
            } else {
                "\n\n"
            });
        }
    }

    fn check(&self) -> Result<(), String> {
        if self.text.len() > limits::MAX_TEXT_BYTES {
            return Err(limits::too_much_text(self.text.len()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_keep_their_headings_and_pages() {
        let mut c = Composer::new();
        c.begin_page(1);
        c.section(&["Slide one".to_string()], " hello ").unwrap();
        c.begin_page(2);
        c.section(&[], "  ").unwrap();
        c.section(&["Two".to_string()], "world").unwrap();
        let doc = c.finish(DocKind::Presentation, None);
        assert_eq!(doc.text, "hello\n\nworld");
        assert_eq!(doc.pages.len(), 2);
        assert_eq!(&doc.text[doc.pages[1].start..doc.pages[1].end], "world");
        assert_eq!(
            &doc.text[doc.sections[1].start..doc.sections[1].end],
            "world"
        );
        assert_eq!(doc.sections[1].heading_path, vec!["Two".to_string()]);
    }
}
