//! A plain-text writer shared by the structured parsers (Markdown, HTML, DOCX).
//!
//! Parsers feed it inline text and block boundaries; it decides where spaces, line breaks and
//! blank lines go, so that the output has no leading whitespace, no trailing spaces on lines, and
//! at most one blank line between blocks. Headings open a new [`Section`] whose heading path
//! is kept as a stack: a heading of level `n` pops every open heading of level `>= n`.
//!
//! Every offset it records is taken from the output string after whole `&str` pushes, so
//! section bounds always fall on UTF-8 char boundaries.

use super::Section;

/// Builds [`super::ParsedDoc::text`] and its [`Section`]s incrementally.
#[derive(Debug, Default)]
pub(crate) struct TextBuilder {
    text: String,
    /// Newlines owed before the next text: 0 none, 1 line break, 2 blank line.
    pending_break: u8,
    /// A collapsed whitespace run is owed before the next text (if not at a line start).
    pending_space: bool,
    sections: Vec<Section>,
    /// Open headings, outermost first: (level, text).
    path: Vec<(u8, String)>,
    section_start: usize,
    /// The heading being written: its level and where its text starts.
    heading: Option<(u8, usize)>,
    /// Text of the first level-1 heading, a title candidate.
    first_h1: Option<String>,
}

impl TextBuilder {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Appends `s` as is (whitespace and newlines kept), after any owed break or space.
    pub(crate) fn push_str(&mut self, s: &str) {
        if s.is_empty() {
            return;
        }
        self.flush(s.starts_with(char::is_whitespace));
        self.text.push_str(s);
    }

    /// Appends `s` with HTML whitespace rules: runs of whitespace become one space, and no
    /// space is written at the start of a line.
    pub(crate) fn push_collapsed(&mut self, s: &str) {
        for (i, word) in s.split(is_collapsible_space).enumerate() {
            if i > 0 {
                self.space();
            }
            if !word.is_empty() {
                self.push_str(word);
            }
        }
    }

    /// Owes a single space before the next text (dropped at line starts).
    pub(crate) fn space(&mut self) {
        self.pending_space = true;
    }

    /// Ends the current line (no-op if already at a line start).
    pub(crate) fn line(&mut self) {
        self.pending_break = self.pending_break.max(1);
    }

    /// Ends the current block: the next text starts after a blank line.
    pub(crate) fn para(&mut self) {
        self.pending_break = 2;
    }

    /// A hard line break (`<br>`): two in a row make a blank line.
    pub(crate) fn hard_break(&mut self) {
        self.pending_break = (self.pending_break + 1).min(2);
    }

    /// Starts a heading of `level` (1 = outermost): closes the current section and opens a
    /// new one at the heading's text. Nested calls before [`Self::end_heading`] are ignored.
    pub(crate) fn begin_heading(&mut self, level: u8) {
        if self.heading.is_some() {
            return;
        }
        self.close_section();
        self.para();
        self.flush(false);
        self.section_start = self.text.len();
        self.heading = Some((level.max(1), self.text.len()));
    }

    /// Ends the heading started by [`Self::begin_heading`] and makes it the innermost entry
    /// of the heading path. Empty headings only pop deeper levels.
    pub(crate) fn end_heading(&mut self) {
        let Some((level, start)) = self.heading.take() else {
            return;
        };
        let name = collapse_whitespace(&self.text[start..]);
        while self.path.last().is_some_and(|(l, _)| *l >= level) {
            self.path.pop();
        }
        if !name.is_empty() {
            if level == 1 && self.first_h1.is_none() {
                self.first_h1 = Some(name.clone());
            }
            self.path.push((level, name));
        }
        self.para();
    }

    /// Text of the first level-1 heading seen so far.
    pub(crate) fn first_h1(&self) -> Option<&str> {
        self.first_h1.as_deref()
    }

    /// Finishes the text: trims trailing whitespace and closes the last section. A document
    /// without any section gets one (possibly empty) section with an empty heading path.
    pub(crate) fn finish(mut self) -> (String, Vec<Section>) {
        if self.heading.is_some() {
            self.end_heading();
        }
        self.close_section();
        let trimmed = self.text.trim_end().len();
        self.text.truncate(trimmed);
        if self.sections.is_empty() {
            self.sections.push(Section {
                start: 0,
                end: self.text.len(),
                heading_path: Vec::new(),
            });
        }
        (self.text, self.sections)
    }

    /// Records `[section_start, end of non-whitespace text)` if it is not empty.
    fn close_section(&mut self) {
        let end = self.text.trim_end().len();
        let start = self.section_start.min(end);
        // Skip leading whitespace too, so sections begin at real text.
        let start =
            start + (self.text[start..end].len() - self.text[start..end].trim_start().len());
        if end > start {
            self.sections.push(Section {
                start,
                end,
                heading_path: self.path.iter().map(|(_, name)| name.clone()).collect(),
            });
        }
        self.section_start = self.text.len();
    }

    /// Writes the owed break or space before text is appended. `next_is_space` suppresses
    /// an owed space when the next text begins with whitespace itself.
    fn flush(&mut self, next_is_space: bool) {
        if self.text.is_empty() {
            self.pending_break = 0;
            self.pending_space = false;
            return;
        }
        if self.pending_break > 0 {
            let trimmed = self.text.trim_end_matches([' ', '\t']).len();
            self.text.truncate(trimmed);
            let have = self.text.len() - self.text.trim_end_matches('\n').len();
            for _ in have..usize::from(self.pending_break) {
                self.text.push('\n');
            }
            self.pending_break = 0;
            self.pending_space = false;
        } else if self.pending_space {
            self.pending_space = false;
            if !next_is_space && !self.text.ends_with(char::is_whitespace) {
                self.text.push(' ');
            }
        }
    }
}

/// Whitespace that HTML collapses (ASCII whitespace; not the no-break space).
fn is_collapsible_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0c')
}

/// Trims `s` and turns every whitespace run into one space.
pub(crate) fn collapse_whitespace(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn breaks_spaces_and_sections() {
        let mut b = TextBuilder::new();
        b.push_collapsed("  intro   text ");
        b.para();
        b.begin_heading(1);
        b.push_str("Top");
        b.end_heading();
        b.push_str("body");
        b.space();
        b.push_str("more");
        b.begin_heading(2);
        b.push_str("Sub");
        b.end_heading();
        b.push_str("a");
        b.hard_break();
        b.hard_break();
        b.push_str("b");
        b.begin_heading(2);
        b.push_str("Other");
        b.end_heading();
        b.line();
        let (text, sections) = b.finish();
        assert_eq!(
            text,
            "intro text\n\nTop\n\nbody more\n\nSub\n\na\n\nb\n\nOther"
        );
        let got: Vec<(&str, Vec<String>)> = sections
            .iter()
            .map(|s| (&text[s.start..s.end], s.heading_path.clone()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("intro text", vec![]),
                ("Top\n\nbody more", vec!["Top".to_string()]),
                ("Sub\n\na\n\nb", vec!["Top".to_string(), "Sub".to_string()]),
                ("Other", vec!["Top".to_string(), "Other".to_string()]),
            ]
        );
    }

    #[test]
    fn empty_document_has_one_empty_section() {
        let (text, sections) = TextBuilder::new().finish();
        assert_eq!(text, "");
        assert_eq!(sections.len(), 1);
        assert_eq!((sections[0].start, sections[0].end), (0, 0));
    }
}
