//! DOCX (Office Open XML word processing) to plain text: [`zip`] for the package, [`quick_xml`]
//! for `word/document.xml`.
//!
//! Paragraphs (`w:p`) become paragraphs; text runs (`w:t`) are concatenated; `w:tab` becomes a
//! tab and `w:br`/`w:cr` a line break. Table cells are separated by tabs and rows by newlines.
//! Headings are paragraphs whose style is a heading: the style id matches `heading<N>`
//! (`Heading1`, `heading 2`, …), or `word/styles.xml` names the style `heading <N>` (Word keeps
//! the English built-in name even when the id is localised), or the paragraph has an outline
//! level. They drive the heading path. The title is `dc:title` from `docProps/core.xml`,
//! else the first paragraph styled `Title`, else the first level-1 heading.
//!
//! Hidden text is dropped: runs marked `w:vanish` (directly, or through a character or
//! paragraph style whose run properties, or whose `basedOn` ancestors', set it), so text a
//! reader of the document never sees is never indexed or sent to a model. Text hidden by
//! other means (white or tiny fonts) is kept.
//!
//! Not read: headers, footers, footnotes, endnotes and comments (separate parts), deleted text
//! of tracked changes, and field codes.

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;
use std::collections::{HashMap, HashSet};

use super::builder::{collapse_whitespace, TextBuilder};
use super::package::Package;
use super::{DocKind, ParsedDoc};

/// The main document part.
const DOCUMENT_PART: &str = "word/document.xml";

/// Parses DOCX `bytes`.
pub(crate) fn parse_docx(bytes: &[u8]) -> Result<ParsedDoc, String> {
    let mut package = Package::open(bytes, "DOCX")?;
    let document = package
        .read(DOCUMENT_PART)?
        .ok_or_else(|| format!("DOCX is missing {DOCUMENT_PART}"))?;
    // Optional parts: a damaged one only costs heading detection or the title.
    let styles_xml = package.read("word/styles.xml").ok().flatten();
    let styles = styles_xml
        .as_deref()
        .map(heading_styles)
        .unwrap_or_default();
    let hidden = styles_xml.as_deref().map(hidden_styles).unwrap_or_default();
    let core_title = package
        .read("docProps/core.xml")
        .ok()
        .flatten()
        .and_then(|xml| core_title(&xml));

    let mut doc = document_to_doc(&document, &styles, &hidden)
        .map_err(|e| format!("DOCX {DOCUMENT_PART} is malformed ({e})"))?;
    if core_title.is_some() {
        doc.title = core_title;
    }
    Ok(doc)
}

/// The value of the attribute with local name `val` (`w:val`).
fn val_attr(e: &BytesStart<'_>) -> Option<String> {
    e.attributes()
        .flatten()
        .find(|a| a.key.local_name().as_ref() == b"val")
        .and_then(|a| a.unescape_value().ok().map(|v| v.into_owned()))
}

/// `heading 3`, `Heading3`, `HEADING  3` → 3.
fn heading_level_of(name: &str) -> Option<u8> {
    let lower = name.trim().to_ascii_lowercase();
    let digits = lower.strip_prefix("heading")?.trim_start();
    match digits.as_bytes() {
        [d @ b'1'..=b'9'] => Some(d - b'0'),
        _ => None,
    }
}

/// What a paragraph style means for structure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StyleRole {
    Heading(u8),
    Title,
}

/// Style id → role, from `word/styles.xml` (style names, or outline levels of styles).
fn heading_styles(xml: &str) -> HashMap<String, StyleRole> {
    let mut roles = HashMap::new();
    let mut reader = Reader::from_str(xml);
    let mut current: Option<String> = None;
    loop {
        let event = match reader.read_event() {
            Ok(Event::Eof) | Err(_) => break,
            Ok(event) => event,
        };
        match event {
            Event::Start(e) | Event::Empty(e) => match e.local_name().as_ref() {
                b"style" => {
                    current = e
                        .attributes()
                        .flatten()
                        .find(|a| a.key.local_name().as_ref() == b"styleId")
                        .and_then(|a| a.unescape_value().ok().map(|v| v.into_owned()));
                }
                b"name" => {
                    if let (Some(id), Some(name)) = (&current, val_attr(&e)) {
                        if let Some(level) = heading_level_of(&name) {
                            roles.insert(id.clone(), StyleRole::Heading(level));
                        } else if name.eq_ignore_ascii_case("title") {
                            roles.insert(id.clone(), StyleRole::Title);
                        }
                    }
                }
                b"outlineLvl" => {
                    if let (Some(id), Some(level)) =
                        (&current, val_attr(&e).and_then(|v| v.parse::<u8>().ok()))
                    {
                        if level < 9 {
                            roles
                                .entry(id.clone())
                                .or_insert(StyleRole::Heading(level + 1));
                        }
                    }
                }
                _ => {}
            },
            Event::End(e) if e.local_name().as_ref() == b"style" => current = None,
            _ => {}
        }
    }
    roles
}

/// True unless a toggle property is switched off (`w:val="0"`, `"false"`, `"off"`).
fn toggle_on(e: &BytesStart<'_>) -> bool {
    !matches!(
        val_attr(e)
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref(),
        Some("0" | "false" | "off" | "none")
    )
}

/// Ids of the styles whose text is hidden (`w:vanish` in their run properties, or inherited
/// through `w:basedOn`), from `word/styles.xml`.
fn hidden_styles(xml: &str) -> HashSet<String> {
    // Style id → (its own vanish setting, the style it is based on).
    let mut own: HashMap<String, (Option<bool>, Option<String>)> = HashMap::new();
    let mut reader = Reader::from_str(xml);
    let mut current: Option<String> = None;
    let mut run_props = 0usize;
    loop {
        let event = match reader.read_event() {
            Ok(Event::Eof) | Err(_) => break,
            Ok(event) => event,
        };
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let is_start = matches!(event, Event::Start(_));
                match e.local_name().as_ref() {
                    b"style" => {
                        current = e
                            .attributes()
                            .flatten()
                            .find(|a| a.key.local_name().as_ref() == b"styleId")
                            .and_then(|a| a.unescape_value().ok().map(|v| v.into_owned()));
                    }
                    b"rPr" if is_start => run_props += 1,
                    b"basedOn" => {
                        if let (Some(id), Some(base)) = (&current, val_attr(e)) {
                            own.entry(id.clone()).or_default().1 = Some(base);
                        }
                    }
                    b"vanish" if run_props > 0 => {
                        if let Some(id) = &current {
                            own.entry(id.clone()).or_default().0 = Some(toggle_on(e));
                        }
                    }
                    _ => {}
                }
            }
            Event::End(ref e) => match e.local_name().as_ref() {
                b"style" => current = None,
                b"rPr" => run_props = run_props.saturating_sub(1),
                _ => {}
            },
            _ => {}
        }
    }
    let hidden = |id: &str| {
        let mut at = id;
        // A bounded walk up `basedOn` (cycles in a hostile file end here).
        for _ in 0..16 {
            match own.get(at) {
                Some((Some(v), _)) => return *v,
                Some((None, Some(base))) => at = base,
                _ => return false,
            }
        }
        false
    };
    own.keys().filter(|id| hidden(id)).cloned().collect()
}

/// `dc:title` from `docProps/core.xml`.
pub(crate) fn core_title(xml: &str) -> Option<String> {
    let mut reader = Reader::from_str(xml);
    let mut in_title = false;
    let mut title = String::new();
    loop {
        match reader.read_event().ok()? {
            Event::Start(e) if e.local_name().as_ref() == b"title" => in_title = true,
            Event::End(e) if e.local_name().as_ref() == b"title" => break,
            Event::Text(t) if in_title => title.push_str(&t.decode().ok()?),
            Event::GeneralRef(r) if in_title => title.push_str(&resolve_ref(&r)?),
            Event::Eof => break,
            _ => {}
        }
    }
    let title = collapse_whitespace(&title);
    (!title.is_empty()).then_some(title)
}

/// Resolves `&amp;`-style and `&#233;`-style references.
pub(crate) fn resolve_ref(r: &quick_xml::events::BytesRef<'_>) -> Option<String> {
    if let Ok(Some(c)) = r.resolve_char_ref() {
        return Some(c.to_string());
    }
    let name = r.decode().ok()?;
    quick_xml::escape::resolve_predefined_entity(&name).map(str::to_string)
}

/// One `w:p` being read.
#[derive(Default)]
struct Paragraph {
    text: String,
    style: Option<String>,
    outline_level: Option<u8>,
}

/// The run being read: is its text hidden (`w:vanish`)?
#[derive(Default)]
struct Run {
    /// Inside `w:r`.
    open: bool,
    /// Inside the run's `w:rPr`.
    properties: bool,
    hidden: bool,
}

/// Walks `word/document.xml`.
fn document_to_doc(
    xml: &str,
    styles: &HashMap<String, StyleRole>,
    hidden_styles: &HashSet<String>,
) -> Result<ParsedDoc, String> {
    let mut reader = Reader::from_str(xml);
    let mut out = TextBuilder::new();
    let mut title_paragraph: Option<String> = None;
    // Open paragraphs: text boxes nest paragraphs inside paragraphs.
    let mut paragraphs: Vec<Paragraph> = Vec::new();
    let mut in_text = false;
    let mut properties_depth = 0usize;
    // Depth inside an element whose content is skipped (`mc:Fallback` repeats `mc:Choice`).
    let mut skip_depth = 0usize;
    let mut table_depth = 0usize;
    let mut row_cells: Vec<usize> = Vec::new();
    let mut run = Run::default();

    loop {
        let event = reader
            .read_event()
            .map_err(|e| format!("at byte {}: {e}", reader.error_position()))?;
        if skip_depth > 0 {
            match event {
                Event::Start(_) => skip_depth += 1,
                Event::End(_) => skip_depth -= 1,
                Event::Eof => break,
                _ => {}
            }
            continue;
        }
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let is_start = matches!(event, Event::Start(_));
                let hidden = run.hidden;
                let push_char = |paragraphs: &mut Vec<Paragraph>, c: char| {
                    if let (Some(p), false) = (paragraphs.last_mut(), hidden) {
                        p.text.push(c);
                    }
                };
                match e.local_name().as_ref() {
                    b"Fallback" if is_start => skip_depth = 1,
                    b"r" if is_start => {
                        // A paragraph style that hides text hides its runs.
                        let style_hidden = paragraphs
                            .last()
                            .and_then(|p| p.style.as_deref())
                            .is_some_and(|s| hidden_styles.contains(s));
                        run = Run {
                            open: true,
                            properties: false,
                            hidden: style_hidden,
                        };
                    }
                    b"rPr" if is_start && run.open && properties_depth == 0 => {
                        run.properties = true
                    }
                    b"vanish" if run.properties => run.hidden = toggle_on(e),
                    b"rStyle"
                        if run.properties
                            && val_attr(e).is_some_and(|s| hidden_styles.contains(&s)) =>
                    {
                        run.hidden = true;
                    }
                    b"p" if is_start => paragraphs.push(Paragraph::default()),
                    b"pPr" if is_start => properties_depth += 1,
                    b"pStyle" if properties_depth > 0 => {
                        if let Some(p) = paragraphs.last_mut() {
                            p.style = val_attr(e);
                        }
                    }
                    b"outlineLvl" if properties_depth > 0 => {
                        if let Some(p) = paragraphs.last_mut() {
                            p.outline_level = val_attr(e)
                                .and_then(|v| v.parse::<u8>().ok())
                                .filter(|l| *l < 9)
                                .map(|l| l + 1);
                        }
                    }
                    b"t" if is_start => in_text = true,
                    // `w:tab` inside `w:pPr/w:tabs` defines tab stops, it is not a character.
                    b"tab" if properties_depth == 0 => push_char(&mut paragraphs, '\t'),
                    b"br" | b"cr" => push_char(&mut paragraphs, '\n'),
                    b"noBreakHyphen" => push_char(&mut paragraphs, '-'),
                    b"tbl" if is_start => {
                        table_depth += 1;
                        out.para();
                    }
                    b"tr" if is_start => {
                        row_cells.push(0);
                        out.line();
                    }
                    b"tc" if is_start => {
                        if let Some(cells) = row_cells.last_mut() {
                            if *cells > 0 {
                                out.push_str("\t");
                            }
                            *cells += 1;
                        }
                    }
                    _ => {}
                }
            }
            Event::End(ref e) => match e.local_name().as_ref() {
                b"t" => in_text = false,
                b"r" => run = Run::default(),
                b"rPr" if run.properties => run.properties = false,
                b"pPr" => properties_depth = properties_depth.saturating_sub(1),
                b"p" => {
                    if let Some(paragraph) = paragraphs.pop() {
                        write_paragraph(
                            &mut out,
                            paragraph,
                            table_depth > 0,
                            styles,
                            &mut title_paragraph,
                        );
                    }
                }
                b"tr" => {
                    row_cells.pop();
                    out.line();
                }
                b"tbl" => {
                    table_depth = table_depth.saturating_sub(1);
                    out.para();
                }
                _ => {}
            },
            Event::Text(_) | Event::CData(_) | Event::GeneralRef(_) if in_text && run.hidden => {}
            Event::Text(ref t) if in_text => {
                let text = t.decode().map_err(|e| e.to_string())?;
                if let Some(p) = paragraphs.last_mut() {
                    p.text.push_str(&text);
                }
            }
            Event::CData(ref t) if in_text => {
                let text = t.decode().map_err(|e| e.to_string())?;
                if let Some(p) = paragraphs.last_mut() {
                    p.text.push_str(&text);
                }
            }
            Event::GeneralRef(ref r) if in_text => {
                if let (Some(text), Some(p)) = (resolve_ref(r), paragraphs.last_mut()) {
                    p.text.push_str(&text);
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }

    let title = title_paragraph.or_else(|| out.first_h1().map(str::to_string));
    let (text, sections) = out.finish();
    Ok(ParsedDoc {
        kind: DocKind::Docx,
        title,
        text,
        sections,
        pages: Vec::new(),
        messages: Vec::new(),
        ocr_pages: Vec::new(),
    })
}

/// Writes one finished paragraph: a heading, a table-cell fragment or a plain paragraph.
fn write_paragraph(
    out: &mut TextBuilder,
    paragraph: Paragraph,
    in_table: bool,
    styles: &HashMap<String, StyleRole>,
    title: &mut Option<String>,
) {
    let text = paragraph.text.trim();
    if text.is_empty() {
        return;
    }
    if in_table {
        // Keep the row on one line: cell paragraphs and breaks become spaces.
        out.space();
        out.push_collapsed(text);
        return;
    }
    let role = paragraph.style.as_deref().and_then(|id| {
        styles.get(id).copied().or_else(|| {
            heading_level_of(id)
                .map(StyleRole::Heading)
                .or_else(|| id.eq_ignore_ascii_case("title").then_some(StyleRole::Title))
        })
    });
    let role = role.or(paragraph.outline_level.map(StyleRole::Heading));
    match role {
        Some(StyleRole::Heading(level)) => {
            out.begin_heading(level);
            out.push_str(&collapse_whitespace(text));
            out.end_heading();
        }
        Some(StyleRole::Title) => {
            if title.is_none() {
                *title = Some(collapse_whitespace(text));
            }
            out.para();
            out.push_str(text);
            out.para();
        }
        None => {
            out.para();
            out.push_str(text);
            out.para();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heading_style_names() {
        assert_eq!(heading_level_of("Heading1"), Some(1));
        assert_eq!(heading_level_of("heading 2"), Some(2));
        assert_eq!(heading_level_of("HEADING  9"), Some(9));
        assert_eq!(heading_level_of("Heading10"), None);
        assert_eq!(heading_level_of("Heading"), None);
        assert_eq!(heading_level_of("Normal"), None);
    }

    #[test]
    fn styles_map_localised_ids() {
        let xml = r#"<w:styles xmlns:w="x">
            <w:style w:type="paragraph" w:styleId="berschrift1"><w:name w:val="heading 1"/></w:style>
            <w:style w:type="paragraph" w:styleId="Titel"><w:name w:val="Title"/></w:style>
            <w:style w:type="paragraph" w:styleId="Custom"><w:name w:val="My heading"/>
              <w:pPr><w:outlineLvl w:val="1"/></w:pPr></w:style>
            <w:style w:type="paragraph" w:styleId="Normal"><w:name w:val="Normal"/></w:style>
        </w:styles>"#;
        let roles = heading_styles(xml);
        assert_eq!(roles.get("berschrift1"), Some(&StyleRole::Heading(1)));
        assert_eq!(roles.get("Titel"), Some(&StyleRole::Title));
        assert_eq!(roles.get("Custom"), Some(&StyleRole::Heading(2)));
        assert_eq!(roles.get("Normal"), None);
    }

    #[test]
    fn core_title_is_read() {
        let xml = r#"<?xml version="1.0"?><cp:coreProperties xmlns:cp="a" xmlns:dc="b">
            <dc:title>Q3 &amp; Q4 report</dc:title><dc:creator>me</dc:creator></cp:coreProperties>"#;
        assert_eq!(core_title(xml).as_deref(), Some("Q3 & Q4 report"));
        assert_eq!(core_title("<x><dc:title/></x>"), None);
    }

    #[test]
    fn hidden_runs_and_styles_are_dropped() {
        let styles = r#"<w:styles xmlns:w="x">
            <w:style w:styleId="Secret"><w:rPr><w:vanish/></w:rPr></w:style>
            <w:style w:styleId="MoreSecret"><w:basedOn w:val="Secret"/></w:style>
            <w:style w:styleId="Shown"><w:basedOn w:val="Secret"/><w:rPr><w:vanish w:val="0"/></w:rPr></w:style>
            <w:style w:styleId="Loop"><w:basedOn w:val="Loop"/></w:style>
            <w:style w:styleId="Mark"><w:pPr/><w:rPr><w:b/></w:rPr></w:style>
        </w:styles>"#;
        let hidden = hidden_styles(styles);
        let mut ids: Vec<&str> = hidden.iter().map(String::as_str).collect();
        ids.sort_unstable();
        assert_eq!(ids, ["MoreSecret", "Secret"]);

        let xml = r#"<w:document xmlns:w="x"><w:body>
            <w:p><w:r><w:t>Visible.</w:t></w:r><w:r><w:rPr><w:vanish/></w:rPr><w:t>HIDDEN-RUN</w:t><w:tab/></w:r>
                 <w:r><w:rPr><w:vanish w:val="false"/></w:rPr><w:t> Shown again.</w:t></w:r></w:p>
            <w:p><w:r><w:rPr><w:rStyle w:val="MoreSecret"/></w:rPr><w:t>HIDDEN-BY-CHAR-STYLE</w:t></w:r><w:r><w:t>Kept.</w:t></w:r></w:p>
            <w:p><w:pPr><w:pStyle w:val="Secret"/><w:rPr><w:vanish/></w:rPr></w:pPr><w:r><w:t>HIDDEN-BY-PARA-STYLE</w:t></w:r></w:p>
            <w:p><w:pPr><w:rPr><w:vanish/></w:rPr></w:pPr><w:r><w:t>Only the mark is hidden.</w:t></w:r></w:p>
        </w:body></w:document>"#;
        let doc = document_to_doc(xml, &HashMap::new(), &hidden).unwrap();
        assert_eq!(
            doc.text,
            "Visible. Shown again.\n\nKept.\n\nOnly the mark is hidden."
        );
    }
}
