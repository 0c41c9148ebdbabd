//! Source code: the file's text as it is, cut along its symbols. tree-sitter parses it with
//! the language's grammar ([`lang`]); every function, class, module, impl, … becomes a
//! section whose heading path is the enclosing symbols, innermost last, then the section's
//! lines (`impl Config > fn load > lines 12-40`). Text between symbols (imports, top-level
//! statements, a class's fields) is a section under the enclosing symbol; comments and
//! attributes right above a symbol, and the decorator, `export` or `template` around it, go
//! with it. Sections holding nothing but punctuation or a closing keyword are dropped.
//!
//! A file of a language Cairn has no grammar for, or larger than [`MAX_CODE_BYTES`], is one
//! section of lines. tree-sitter recovers from syntax errors, so broken code is still cut
//! where its symbols are recognisable. Runs in a parser worker like every format but text
//! and Markdown (`parse::isolate`).

mod lang;

use std::path::Path;

use tree_sitter::{Node, Parser};

pub use lang::Language;

use super::{text, DocKind, ParsedDoc, Section};

/// Largest source file cut along its symbols; larger ones (generated or minified code) are
/// indexed as lines.
pub const MAX_CODE_BYTES: usize = 4 << 20;

/// Deepest symbol nesting kept in the heading path; deeper symbols stay in their parent's
/// section.
const MAX_SYMBOL_DEPTH: usize = 8;

/// Parses source code `bytes` of the file at `path` (the path names the language).
pub(crate) fn parse_code(path: &Path, bytes: &[u8]) -> Result<ParsedDoc, String> {
    let text = text::decode(bytes)?;
    let mut cutter = Cutter::new(&text);
    match Language::detect(path, text.as_bytes()) {
        Some(language) if text.len() <= MAX_CODE_BYTES => cutter.symbols(language)?,
        _ => cutter.push(0, text.len(), &[]),
    }
    let mut sections = cutter.sections;
    if sections.is_empty() {
        sections.push(Section {
            start: 0,
            end: text.len(),
            heading_path: Vec::new(),
        });
    }
    Ok(ParsedDoc {
        kind: DocKind::Code,
        title: None,
        text,
        sections,
        pages: Vec::new(),
        messages: Vec::new(),
        ocr_pages: Vec::new(),
    })
}

/// Cuts a text into sections along the symbols of its syntax tree.
struct Cutter<'t> {
    text: &'t str,
    /// Byte offset of the start of each line.
    lines: Vec<usize>,
    sections: Vec<Section>,
}

impl<'t> Cutter<'t> {
    fn new(text: &'t str) -> Self {
        let lines = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Cutter {
            text,
            lines,
            sections: Vec::new(),
        }
    }

    fn symbols(&mut self, language: Language) -> Result<(), String> {
        let mut parser = Parser::new();
        parser
            .set_language(&language.grammar())
            .map_err(|e| format!("the {} grammar cannot be loaded: {e}", language.name()))?;
        let tree = parser
            .parse(self.text, None)
            .ok_or_else(|| format!("the {} parser gave up on the file", language.name()))?;
        let mut path = Vec::new();
        self.cut(language, tree.root_node(), 0, self.text.len(), &mut path);
        Ok(())
    }

    /// Writes the sections of `node`'s range `start..end` (its start may be pulled up to
    /// include its comments): the parts between its child symbols under `path`, each child
    /// symbol under `path` and its label.
    fn cut(
        &mut self,
        language: Language,
        node: Node<'_>,
        start: usize,
        end: usize,
        path: &mut Vec<String>,
    ) {
        let mut at = start;
        if path.len() < MAX_SYMBOL_DEPTH {
            for (child, label) in child_symbols(language, node, self.text) {
                if child.start_byte() < at || child.end_byte() > end {
                    continue;
                }
                let child_start = attached_start(child, at);
                self.push(at, child_start, path);
                path.push(label);
                self.cut(language, child, child_start, child.end_byte(), path);
                path.pop();
                at = child.end_byte();
            }
        }
        self.push(at, end, path);
    }

    /// Adds the section `start..end` under `path` and its lines, trimmed of surrounding
    /// whitespace, unless it holds nothing worth a passage.
    fn push(&mut self, start: usize, end: usize, path: &[String]) {
        let (start, end) = (floor_char(self.text, start), floor_char(self.text, end));
        if start >= end {
            return;
        }
        let slice = &self.text[start..end];
        let trimmed = slice.trim();
        if !trimmed.chars().any(char::is_alphanumeric)
            || matches!(trimmed, "end" | "fi" | "done" | "esac" | "end;" | "end)")
        {
            return;
        }
        let start = start + (slice.len() - slice.trim_start().len());
        let end = start + trimmed.len();
        let first = self.line_of(start);
        let last = self.line_of(end - 1);
        let lines = if first == last {
            format!("line {first}")
        } else {
            format!("lines {first}-{last}")
        };
        let mut heading_path = path.to_vec();
        heading_path.push(lines);
        self.sections.push(Section {
            start,
            end,
            heading_path,
        });
    }

    /// The 1-based line of byte offset `at`.
    fn line_of(&self, at: usize) -> usize {
        self.lines.partition_point(|&line_start| line_start <= at)
    }
}

/// The symbols under `node` that no other symbol under it encloses, in order, with labels.
/// Walks with an explicit stack: a deeply nested file cannot overflow the thread's stack.
fn child_symbols<'a>(language: Language, node: Node<'a>, text: &str) -> Vec<(Node<'a>, String)> {
    let mut found = Vec::new();
    let mut stack = vec![node];
    let mut cursor = node.walk();
    while let Some(current) = stack.pop() {
        if current != node {
            if let Some(label) = lang::symbol_label(language, current, text) {
                found.push((current, label));
                continue;
            }
        }
        let children: Vec<Node<'a>> = current.named_children(&mut cursor).collect();
        stack.extend(children.into_iter().rev());
    }
    found
}

/// Where a symbol's section starts: at the wrapper it is the one declaration of (a Python
/// decorator, `export`, a C++ `template`, `const f = …`), and at the comments and attributes
/// right above it, but never before `floor`.
fn attached_start(symbol: Node<'_>, floor: usize) -> usize {
    let mut head = symbol;
    while let Some(parent) = head.parent() {
        let wraps = matches!(
            parent.kind(),
            "decorated_definition"
                | "export_statement"
                | "template_declaration"
                | "lexical_declaration"
                | "variable_declaration"
                | "type_declaration"
        ) && parent.named_child_count() <= 3;
        if !wraps || parent.start_byte() < floor {
            break;
        }
        head = parent;
    }
    let mut start = head.start_byte();
    let mut row = head.start_position().row;
    let mut previous = head.prev_named_sibling();
    while let Some(sibling) = previous {
        let kind = sibling.kind();
        let attached = kind.contains("comment") || kind == "attribute_item" || kind == "decorator";
        if !attached || sibling.start_byte() < floor || sibling.end_position().row + 1 < row {
            break;
        }
        start = sibling.start_byte();
        row = sibling.start_position().row;
        previous = sibling.prev_named_sibling();
    }
    start.max(floor)
}

/// `at`, moved back to a character boundary of `text`.
fn floor_char(text: &str, mut at: usize) -> usize {
    at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

#[cfg(test)]
mod tests;
