//! HTML to plain text with [`scraper`] (html5ever, a spec-compliant parser that also decodes
//! entities and repairs broken markup).
//!
//! The content of `<head>`, `<script>`, `<style>`, `<noscript>`, `<template>`, `<svg>` and
//! of hidden elements is dropped, so text a reader never sees is never indexed or sent to a
//! model: the `hidden` attribute, `aria-hidden="true"`, and styles (inline, or a top-level
//! `<style>` rule for a plain `.class` / `#id` / `tag.class` selector) with `display: none`,
//! `visibility: hidden|collapse`, `opacity: 0` or `font-size: 0`. Text made invisible by
//! other CSS (colours, positions, complex selectors, external style sheets) is kept. Block elements start new lines or paragraphs, inline
//! elements do not; whitespace is collapsed except inside `<pre>`; table cells are separated
//! by tabs and rows by newlines. `<h1>`–`<h6>` drive the heading path like Markdown headings.
//! The title is `<title>`, else the first `<h1>`.
//!
//! Character set: a BOM or valid UTF-8 wins; otherwise a `charset` declared in the first
//! KiBs (`<meta charset>` or `http-equiv`) is honoured, else the text decoder guesses.

use std::collections::HashSet;

use scraper::{Html, Node};

use super::builder::{collapse_whitespace, TextBuilder};
use super::{text, DocKind, ParsedDoc};

/// How far into the file a `charset` declaration is looked for.
const CHARSET_PRESCAN: usize = 4096;

/// Parses HTML `bytes`.
pub(crate) fn parse_html(bytes: &[u8]) -> Result<ParsedDoc, String> {
    let source = text::decode_with(bytes, declared_charset(bytes))?;
    let depth = nesting_depth(&source);
    if depth > MAX_NESTING {
        return Err(format!(
            "HTML nested {depth} elements deep, more than the {MAX_NESTING} Cairn reads (a page \
             that deep is broken or hostile; the HTML parser's time grows with the square of it)"
        ));
    }
    Ok(html_to_doc(&source))
}

/// Deepest element nesting Cairn parses. Real pages stay far below it; html5ever's time grows
/// quadratically with depth (100,000 levels take about 30 s).
const MAX_NESTING: usize = 4096;

/// Elements without an end tag, or whose end tag may be left out: they never count as open.
const NOT_NESTING: &[&str] = &[
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track",
    "wbr", "p", "li", "td", "th", "tr", "dt", "dd", "option", "optgroup", "thead", "tbody",
    "tfoot", "colgroup", "caption", "rp", "rt", "html", "head", "body",
];

/// An upper estimate of the element nesting depth, from the tags alone (linear, no parsing):
/// start tags open, end tags close, void and optional-end elements are not counted.
fn nesting_depth(html: &str) -> usize {
    let bytes = html.as_bytes();
    let (mut depth, mut max) = (0usize, 0usize);
    let mut i = 0;
    while let Some(off) = bytes[i..].iter().position(|&b| b == b'<') {
        let at = i + off + 1;
        let closing = bytes.get(at) == Some(&b'/');
        let start = at + usize::from(closing);
        let end = bytes[start..]
            .iter()
            .position(|b| !b.is_ascii_alphanumeric())
            .map_or(bytes.len(), |n| start + n);
        i = end.max(at);
        if end == start {
            continue;
        }
        let name = html[start..end].to_ascii_lowercase();
        if NOT_NESTING.contains(&name.as_str()) {
            continue;
        }
        if closing {
            depth = depth.saturating_sub(1);
        } else if !html[end..].split('>').next().unwrap_or("").ends_with('/') {
            depth += 1;
            max = max.max(depth);
        }
    }
    max
}

/// What an element contributes to the text layout.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Layout {
    /// Not rendered: the element and its content are skipped.
    Hidden,
    /// Flows with the surrounding text.
    Inline,
    /// Starts and ends on its own line.
    Line,
    /// Separated from its neighbours by blank lines.
    Paragraph,
    Heading(u8),
    Pre,
    LineBreak,
    TableRow,
    TableCell,
}

fn layout(name: &str) -> Layout {
    match name {
        "head" | "script" | "style" | "noscript" | "template" | "svg" | "math" | "iframe"
        | "object" | "embed" | "canvas" | "audio" | "video" | "select" | "datalist" => {
            Layout::Hidden
        }
        "h1" => Layout::Heading(1),
        "h2" => Layout::Heading(2),
        "h3" => Layout::Heading(3),
        "h4" => Layout::Heading(4),
        "h5" => Layout::Heading(5),
        "h6" => Layout::Heading(6),
        "pre" | "listing" | "plaintext" | "xmp" => Layout::Pre,
        "br" => Layout::LineBreak,
        "tr" => Layout::TableRow,
        "td" | "th" => Layout::TableCell,
        "p" | "blockquote" | "ul" | "ol" | "dl" | "table" | "section" | "article" | "aside"
        | "header" | "footer" | "main" | "nav" | "figure" | "hr" | "address" | "fieldset"
        | "form" | "details" | "dialog" | "hgroup" | "menu" => Layout::Paragraph,
        "div" | "li" | "dt" | "dd" | "figcaption" | "caption" | "summary" | "legend" | "center"
        | "body" | "html" | "thead" | "tbody" | "tfoot" | "option" | "textarea" | "search" => {
            Layout::Line
        }
        _ => Layout::Inline,
    }
}

fn html_to_doc(source: &str) -> ParsedDoc {
    let document = Html::parse_document(source);
    let mut out = TextBuilder::new();
    let title = head_title(&document);
    let hiding = HidingRules::from_document(&document);
    let mut pre_depth = 0usize;
    // Open heading elements: a heading nested in a heading is part of the outer one.
    let mut heading_depth = 0usize;
    // Cells written in each open table row (rows can nest through nested tables).
    let mut row_cells: Vec<usize> = Vec::new();

    // Iterative depth-first walk (deeply nested pages must not overflow the stack):
    // `(node, false)` visits a node, `(node, true)` closes an element after its children.
    let mut stack = vec![(*document.root_element(), false)];
    while let Some((node, closing)) = stack.pop() {
        match node.value() {
            Node::Text(text) if !closing => {
                if pre_depth > 0 {
                    out.push_str(text);
                } else {
                    // A no-break space is still a space in plain text.
                    out.push_collapsed(&text.replace('\u{a0}', " "));
                }
            }
            Node::Element(element) => {
                let name = element.name();
                let layout = if hiding.hides(element) {
                    Layout::Hidden
                } else {
                    layout(name)
                };
                if layout == Layout::Hidden {
                    continue;
                }
                if closing {
                    match layout {
                        Layout::Heading(_) => {
                            heading_depth -= 1;
                            if heading_depth == 0 {
                                out.end_heading();
                            }
                        }
                        Layout::Paragraph => out.para(),
                        Layout::Line => out.line(),
                        Layout::Pre => {
                            pre_depth = pre_depth.saturating_sub(1);
                            out.para();
                        }
                        Layout::TableRow => {
                            row_cells.pop();
                            out.line();
                        }
                        _ => {}
                    }
                    continue;
                }
                match layout {
                    Layout::Heading(level) => {
                        if heading_depth == 0 {
                            out.begin_heading(level);
                        }
                        heading_depth += 1;
                    }
                    Layout::Paragraph => out.para(),
                    Layout::Line => out.line(),
                    Layout::Pre => {
                        pre_depth += 1;
                        out.para();
                    }
                    Layout::LineBreak => out.hard_break(),
                    Layout::TableRow => {
                        row_cells.push(0);
                        out.line();
                    }
                    Layout::TableCell => {
                        if let Some(cells) = row_cells.last_mut() {
                            if *cells > 0 {
                                out.push_str("\t");
                            }
                            *cells += 1;
                        }
                    }
                    Layout::Inline | Layout::Hidden => {}
                }
                stack.push((node, true));
                // Children in reverse so the first child is visited first.
                let mut child = node.last_child();
                while let Some(c) = child {
                    stack.push((c, false));
                    child = c.prev_sibling();
                }
            }
            // Comments, doctypes, processing instructions, closed text nodes.
            _ => {}
        }
    }

    let title = title.or_else(|| out.first_h1().map(str::to_string));
    let (text, sections) = out.finish();
    ParsedDoc {
        kind: DocKind::Html,
        title,
        text,
        sections,
        pages: Vec::new(),
        messages: Vec::new(),
        ocr_pages: Vec::new(),
    }
}

/// True when CSS declarations (`display: none; …`) make an element invisible.
fn declarations_hide(declarations: &str) -> bool {
    declarations.split(';').any(|d| {
        let Some((property, value)) = d.split_once(':') else {
            return false;
        };
        let property = property.trim().to_ascii_lowercase();
        let value = value
            .trim()
            .trim_end_matches("!important")
            .trim()
            .to_ascii_lowercase();
        let zero = || {
            let number = value.trim_end_matches(|c: char| c.is_ascii_alphabetic() || c == '%');
            number.parse::<f64>().is_ok_and(|n| n == 0.0)
        };
        match property.as_str() {
            "display" => value == "none",
            "visibility" => value == "hidden" || value == "collapse",
            "opacity" | "font-size" => zero(),
            _ => false,
        }
    })
}

/// The classes and ids that the page's own top-level `<style>` rules hide.
#[derive(Default)]
struct HidingRules {
    classes: HashSet<String>,
    ids: HashSet<String>,
}

impl HidingRules {
    fn from_document(document: &Html) -> Self {
        let mut rules = HidingRules::default();
        for node in document.tree.nodes() {
            let Node::Element(e) = node.value() else {
                continue;
            };
            if e.name() != "style" {
                continue;
            }
            let css: String = node
                .children()
                .filter_map(|c| c.value().as_text().map(|t| t.to_string()))
                .collect();
            rules.add_style_sheet(&css);
        }
        rules
    }

    /// Reads top-level rules `selectors { declarations }`; at-rules (`@media print { … }`)
    /// and anything nested are skipped.
    fn add_style_sheet(&mut self, css: &str) {
        let css = strip_css_comments(css);
        let mut pos = 0;
        while let Some(offset) = css[pos..].find('{') {
            let open = pos + offset;
            let selectors = css[pos..open].trim();
            // The matching close brace (blocks nest in at-rules).
            let mut depth = 0usize;
            let mut close = css.len();
            for (i, c) in css[open..].char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => {
                        depth -= 1;
                        if depth == 0 {
                            close = open + i;
                            break;
                        }
                    }
                    _ => {}
                }
            }
            let body = &css[open + 1..close];
            if !selectors.starts_with('@') && !body.contains('{') && declarations_hide(body) {
                for selector in selectors.split(',').map(str::trim) {
                    self.add_selector(selector);
                }
            }
            pos = (close + 1).min(css.len());
        }
    }

    /// `.name`, `#name`, `tag.name`, `tag#name`: anything more complex is ignored.
    fn add_selector(&mut self, selector: &str) {
        let simple = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_alphanumeric() || c == '-' || c == '_')
        };
        if let Some(at) = selector.find(['.', '#']) {
            let (tag, rest) = selector.split_at(at);
            let name = &rest[1..];
            if (tag.is_empty() || simple(tag)) && simple(name) {
                let set = if rest.starts_with('.') {
                    &mut self.classes
                } else {
                    &mut self.ids
                };
                set.insert(name.to_owned());
            }
        }
    }

    /// Is `element` hidden (attribute, ARIA, inline style or a page rule)?
    fn hides(&self, element: &scraper::node::Element) -> bool {
        element.attr("hidden").is_some()
            || element
                .attr("aria-hidden")
                .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
            || element.attr("style").is_some_and(declarations_hide)
            || element.classes().any(|c| self.classes.contains(c))
            || element.id().is_some_and(|id| self.ids.contains(id))
    }
}

fn strip_css_comments(css: &str) -> String {
    let mut out = String::with_capacity(css.len());
    let mut rest = css;
    while let Some(start) = rest.find("/*") {
        out.push_str(&rest[..start]);
        rest = rest[start + 2..]
            .find("*/")
            .map_or("", |end| &rest[start + 2 + end + 2..]);
    }
    out.push_str(rest);
    out
}

/// The text of the `<title>` in `<head>` (html5ever moves a leading `<title>` there).
fn head_title(document: &Html) -> Option<String> {
    let head = document
        .root_element()
        .child_elements()
        .find(|e| e.value().name() == "head")?;
    let title = head
        .descendent_elements()
        .find(|e| e.value().name() == "title")?;
    let text = collapse_whitespace(&title.text().collect::<String>());
    (!text.is_empty()).then_some(text)
}

/// The encoding named by a `charset=` in the first [`CHARSET_PRESCAN`] bytes, if any.
fn declared_charset(bytes: &[u8]) -> Option<&'static encoding_rs::Encoding> {
    let head = &bytes[..bytes.len().min(CHARSET_PRESCAN)];
    let lower = head.to_ascii_lowercase();
    let mut from = 0;
    while let Some(pos) = super::detect::find(&lower[from..], b"charset") {
        let mut rest = &head[from + pos + b"charset".len()..];
        from += pos + 1;
        rest = rest.trim_ascii_start();
        let Some(after_eq) = rest.strip_prefix(b"=") else {
            continue;
        };
        let value = after_eq.trim_ascii_start();
        let value = value
            .strip_prefix(b"\"")
            .or_else(|| value.strip_prefix(b"'"))
            .unwrap_or(value);
        let end = value
            .iter()
            .position(|&b| {
                matches!(b, b'"' | b'\'' | b';' | b'>' | b'/') || b.is_ascii_whitespace()
            })
            .unwrap_or(value.len());
        if let Some(encoding) = encoding_rs::Encoding::for_label(&value[..end]) {
            return Some(encoding);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nesting_is_measured_in_linear_time_and_capped() {
        assert_eq!(
            nesting_depth("<div><p>a<br>b<img src=x/><div>c</div></div>"),
            2
        );
        // Tables and lists without their optional end tags do not count.
        let table = "<table>".to_owned() + &"<tr><td>x".repeat(50_000) + "</table>";
        assert_eq!(nesting_depth(&table), 1);
        let deep = "<div>".repeat(100_000) + "deepest" + &"</div>".repeat(100_000);
        assert_eq!(nesting_depth(&deep), 100_000);
        let err = parse_html(deep.as_bytes()).unwrap_err();
        assert!(err.contains("100000 elements deep"), "{err}");
        let ok = "<div>".repeat(100) + "shallow enough" + &"</div>".repeat(100);
        assert!(parse_html(ok.as_bytes())
            .unwrap()
            .text
            .contains("shallow enough"));
    }

    #[test]
    fn strips_scripts_decodes_entities_and_tracks_headings() {
        let html = r#"<!DOCTYPE html>
<html><head><title> My   Page </title>
<style>body { color: red }</style>
<script>var secret = "do not index";</script></head>
<body>
<nav>Home &amp; <a href="/about">About</a></nav>
<h1>Caf&eacute; &lt;guide&gt;</h1>
<p>First   <b>bold</b> para&nbsp;one.<br>Second line.</p>
<script>console.log("hidden script")</script>
<noscript>enable js</noscript>
<div hidden>invisible</div><span style="DISPLAY: none">also invisible</span>
<h2>Menu</h2>
<table><tr><th>Dish</th><th>Price</th></tr><tr><td>Soup</td><td>&euro;5</td></tr></table>
<ul><li>one</li><li>two</li></ul>
<pre>  keep
    indent</pre>
<h2>Contact</h2><p>Call us.</p>
</body></html>"#;
        let doc = parse_html(html.as_bytes()).expect("parses");
        assert_eq!(doc.title.as_deref(), Some("My Page"));
        assert!(!doc.text.contains("secret"));
        assert!(!doc.text.contains("hidden script"));
        assert!(!doc.text.contains("color"));
        assert!(!doc.text.contains("enable js"));
        assert!(!doc.text.contains("invisible"));
        assert_eq!(
            doc.text,
            "Home & About\n\nCafé <guide>\n\nFirst bold para one.\nSecond line.\n\nMenu\n\n\
             Dish\tPrice\nSoup\t€5\n\none\ntwo\n\n  keep\n    indent\n\nContact\n\nCall us."
        );
        let sections: Vec<(&str, Vec<String>)> = doc
            .sections
            .iter()
            .map(|s| (&doc.text[s.start..s.end], s.heading_path.clone()))
            .collect();
        assert_eq!(sections[0], ("Home & About", vec![]));
        assert_eq!(sections[1].1, vec!["Café <guide>".to_string()]);
        assert!(sections[2].0.starts_with("Menu\n\nDish\tPrice"));
        assert_eq!(
            sections[2].1,
            vec!["Café <guide>".to_string(), "Menu".to_string()]
        );
        assert_eq!(
            sections[3],
            (
                "Contact\n\nCall us.",
                vec!["Café <guide>".to_string(), "Contact".to_string()]
            )
        );
    }

    #[test]
    fn title_falls_back_to_first_h1() {
        let doc = parse_html(b"<p>x</p><h2>Sub</h2><h1>Main</h1>").expect("parses");
        assert_eq!(doc.title.as_deref(), Some("Main"));
    }

    #[test]
    fn honours_meta_charset() {
        let mut bytes = b"<html><head><meta charset=\"windows-1251\"></head><body><p>".to_vec();
        bytes.extend_from_slice(&encoding_rs::WINDOWS_1251.encode("Привет").0);
        bytes.extend_from_slice(b"</p></body></html>");
        assert_eq!(parse_html(&bytes).expect("parses").text, "Привет");

        let latin1 = b"<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=iso-8859-1\">\
                       </head><body>caf\xE9</body></html>";
        assert_eq!(parse_html(latin1).expect("parses").text, "café");
    }

    #[test]
    fn hidden_text_never_reaches_the_text() {
        let html = r#"<html><head><style>
            /* a comment { display: none } */
            .sr-trap, #trap2 { display : none !important }
            p.faded { opacity: 0.0 }
            .half { opacity: 0.5 }
            @media print { .screen-only { display: none } }
            div > .complex { display: none }
        </style></head><body>
        <p>Visible one.</p>
        <p class="note sr-trap">HIDDEN-CLASS</p>
        <p id="trap2">HIDDEN-ID</p>
        <p class="faded">HIDDEN-OPACITY</p>
        <p class="half">Half visible.</p>
        <p class="screen-only">Screen only.</p>
        <span style="visibility:hidden">HIDDEN-VISIBILITY</span>
        <span style="visibility: collapse">HIDDEN-COLLAPSE</span>
        <span style="font-size:0px">HIDDEN-FONT-SIZE</span>
        <span style="opacity:0">HIDDEN-OPACITY-INLINE</span>
        <div aria-hidden="true">HIDDEN-ARIA</div>
        <div aria-hidden="false">Visible two.</div>
        <div hidden>HIDDEN-ATTRIBUTE</div>
        <template><p>HIDDEN-TEMPLATE</p></template>
        <noscript>HIDDEN-NOSCRIPT</noscript>
        <span style="display:none"><b>HIDDEN-NESTED</b></span>
        </body></html>"#;
        let doc = parse_html(html.as_bytes()).expect("parses");
        assert!(!doc.text.contains("HIDDEN"), "{:?}", doc.text);
        for kept in [
            "Visible one.",
            "Half visible.",
            "Screen only.",
            "Visible two.",
        ] {
            assert!(
                doc.text.contains(kept),
                "{kept:?} missing from {:?}",
                doc.text
            );
        }
    }
}
