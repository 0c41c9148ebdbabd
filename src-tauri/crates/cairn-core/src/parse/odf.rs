//! OpenDocument text (ODT) and presentations (ODP): `content.xml` of the package, read with
//! [`quick_xml`]; the title is `dc:title` from `meta.xml`. (Spreadsheets, ODS, go through
//! [`super::sheet`].)
//!
//! ODT: `text:h` with `text:outline-level` are headings (the heading path), as are `text:p`
//! whose style descends from `Heading N` (LibreOffice's HTML import writes them); `text:p` and list
//! items paragraphs, table cells are separated by tabs; `text:s`, `text:tab` and
//! `text:line-break` are kept as space, tab and line break. Hidden text (`text:hidden-text`,
//! `text:hidden-paragraph`), comments (`office:annotation`), tracked deletions and the
//! footnote/endnote bodies are not read.
//!
//! ODP: each `draw:page` is a slide and a page (its position is the slide number); the frame
//! of class `title` is the slide's title and heading path, the others its text; the
//! `presentation:notes` are the speaker notes, under `Risks > speaker notes`.

use std::collections::HashMap;

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

use super::builder::TextBuilder;
use super::compose::Composer;
use super::package::Package;
use super::pptx::{attr, notes_heading, slide_heading};
use super::{DocKind, ParsedDoc};

/// Elements whose content is never read.
const SKIPPED: &[&[u8]] = &[
    b"hidden-text",
    b"hidden-paragraph",
    b"annotation",
    b"tracked-changes",
    b"note-body",
    b"sequence-decls",
    b"user-field-decls",
];

/// True if `bytes` is an OpenDocument package (its `mimetype` says so).
pub(crate) fn is_odf(bytes: &[u8]) -> bool {
    super::detect::find(
        &bytes[..bytes.len().min(200)],
        b"application/vnd.oasis.opendocument",
    )
    .is_some()
}

/// Reads `content.xml` and the title of an OpenDocument package labelled `label`.
fn open(bytes: &[u8], label: &'static str) -> Result<(String, Option<String>), String> {
    let mut package = Package::open(bytes, label)?;
    let content = package
        .read("content.xml")?
        .ok_or_else(|| format!("{label} is missing content.xml"))?;
    let title = package
        .read("meta.xml")
        .ok()
        .flatten()
        .and_then(|xml| super::docx::core_title(&xml));
    Ok((content, title))
}

/// Parses ODT `bytes`.
pub(crate) fn parse_odt(bytes: &[u8]) -> Result<ParsedDoc, String> {
    let (content, title) = open(bytes, "ODT")?;
    let mut b = TextBuilder::new();
    read_text(&content, &mut b).map_err(|e| format!("ODT content.xml is malformed ({e})"))?;
    let first_h1 = b.first_h1().map(str::to_owned);
    let (text, sections) = b.finish();
    Ok(ParsedDoc {
        kind: DocKind::Odt,
        title: title.or(first_h1),
        text,
        sections,
        pages: Vec::new(),
        messages: Vec::new(),
        ocr_pages: Vec::new(),
    })
}

/// Paragraph style → its parent style, from the automatic styles of `content.xml` (LibreOffice
/// writes a heading imported from HTML as `text:p` with an automatic style whose parent is
/// `Heading_20_1`).
fn parent_styles(xml: &str) -> HashMap<String, String> {
    let mut reader = Reader::from_str(xml);
    let mut parents = HashMap::new();
    while let Ok(event) = reader.read_event() {
        match event {
            Event::Start(e) | Event::Empty(e) if e.local_name().as_ref() == b"style" => {
                if let (Some(name), Some(parent)) = (
                    attr(&e, b"name", true),
                    attr(&e, b"parent-style-name", true),
                ) {
                    parents.insert(name, parent);
                }
            }
            Event::Start(e) if e.local_name().as_ref() == b"body" => break,
            Event::Eof => break,
            _ => {}
        }
    }
    parents
}

/// The heading level a paragraph style stands for: `Heading_20_2` (or its descendants) → 2.
fn style_heading_level(parents: &HashMap<String, String>, style: &str) -> Option<u8> {
    let mut name = style;
    for _ in 0..8 {
        let display = name.replace("_20_", " ");
        if let Some(d) = display.strip_prefix("Heading ") {
            return d.parse::<u8>().ok().filter(|l| (1..=9).contains(l));
        }
        name = parents.get(name)?;
    }
    None
}

/// Writes the body of an ODT into `b`.
fn read_text(xml: &str, b: &mut TextBuilder) -> Result<(), quick_xml::Error> {
    let parents = parent_styles(xml);
    let mut reader = Reader::from_str(xml);
    let mut skip = 0usize;
    let mut in_body = false;
    // Open `text:p` elements: whether each is a heading.
    let mut paragraphs: Vec<bool> = Vec::new();
    loop {
        match reader.read_event()? {
            Event::Start(e) => {
                let name = e.local_name();
                let name = name.as_ref();
                if skip > 0 || SKIPPED.contains(&name) {
                    skip += 1;
                    continue;
                }
                match name {
                    b"body" => in_body = true,
                    b"h" => b.begin_heading(outline_level(&e)),
                    b"p" => {
                        let level = attr(&e, b"style-name", true)
                            .and_then(|s| style_heading_level(&parents, &s));
                        match level {
                            Some(level) => b.begin_heading(level),
                            None => b.para(),
                        }
                        paragraphs.push(level.is_some());
                    }
                    b"list-item" => b.para(),
                    b"table-row" => b.line(),
                    b"table-cell" => b.push_str("\t"),
                    _ => {}
                }
            }
            Event::Empty(e) if skip == 0 && in_body => empty_element(&e, b),
            Event::Text(t) if skip == 0 && in_body => b.push_collapsed(&t.decode()?),
            Event::GeneralRef(r) if skip == 0 && in_body => {
                b.push_str(&super::docx::resolve_ref(&r).unwrap_or_default())
            }
            Event::End(e) => {
                if skip > 0 {
                    skip -= 1;
                    continue;
                }
                match e.local_name().as_ref() {
                    b"h" => b.end_heading(),
                    b"p" => {
                        if paragraphs.pop() == Some(true) {
                            b.end_heading();
                        }
                        b.para();
                    }
                    b"body" => in_body = false,
                    _ => {}
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(())
}

/// `text:s` (spaces), `text:tab`, `text:line-break`.
fn empty_element(e: &BytesStart<'_>, b: &mut TextBuilder) {
    match e.local_name().as_ref() {
        b"s" => b.push_str(" "),
        b"tab" => b.push_str("\t"),
        b"line-break" => b.hard_break(),
        _ => {}
    }
}

/// `text:outline-level` of a heading (1 when missing or odd).
fn outline_level(e: &BytesStart<'_>) -> u8 {
    attr(e, b"outline-level", true)
        .and_then(|v| v.parse::<u8>().ok())
        .filter(|l| (1..=9).contains(l))
        .unwrap_or(1)
}

/// Parses ODP `bytes`.
pub(crate) fn parse_odp(bytes: &[u8]) -> Result<ParsedDoc, String> {
    let (content, title) = open(bytes, "ODP")?;
    let slides =
        read_slides(&content).map_err(|e| format!("ODP content.xml is malformed ({e})"))?;
    let mut out = Composer::new();
    for (i, slide) in slides.iter().enumerate() {
        let number = i as u32 + 1;
        let heading = slide_heading(slide.title.as_deref(), number);
        out.begin_page(number);
        let text = match &slide.title {
            Some(t) => format!("{t}\n{}", slide.text),
            None => slide.text.clone(),
        };
        out.section(&heading, &text)?;
        out.section(&notes_heading(&heading), &slide.notes)?;
    }
    Ok(out.finish(DocKind::Presentation, title))
}

#[derive(Debug, Default)]
struct Slide {
    title: Option<String>,
    text: String,
    notes: String,
}

/// The slides of an ODP's `content.xml`.
fn read_slides(xml: &str) -> Result<Vec<Slide>, quick_xml::Error> {
    let mut reader = Reader::from_str(xml);
    let mut slides = Vec::new();
    let mut slide: Option<Slide> = None;
    let mut skip = 0usize;
    let mut in_notes = false;
    let mut title_frame = 0usize;
    let mut frame_depth = 0usize;
    let mut paragraph = String::new();
    loop {
        match reader.read_event()? {
            Event::Start(e) => {
                let name = e.local_name();
                let name = name.as_ref();
                if skip > 0 || SKIPPED.contains(&name) {
                    skip += 1;
                    continue;
                }
                match name {
                    b"page" => slide = Some(Slide::default()),
                    b"notes" => in_notes = true,
                    b"frame" => {
                        frame_depth += 1;
                        let class = attr(&e, b"class", true).unwrap_or_default();
                        if matches!(class.as_str(), "title") && !in_notes {
                            title_frame = frame_depth;
                        }
                    }
                    b"p" | b"h" => paragraph.clear(),
                    _ => {}
                }
            }
            Event::Empty(e) if skip == 0 => match e.local_name().as_ref() {
                b"s" => paragraph.push(' '),
                b"tab" => paragraph.push('\t'),
                b"line-break" => paragraph.push('\n'),
                _ => {}
            },
            Event::Text(t) if skip == 0 => paragraph.push_str(&t.decode()?),
            Event::GeneralRef(r) if skip == 0 => {
                paragraph.push_str(&super::docx::resolve_ref(&r).unwrap_or_default())
            }
            Event::End(e) => {
                if skip > 0 {
                    skip -= 1;
                    continue;
                }
                match e.local_name().as_ref() {
                    b"p" | b"h" => {
                        let line = paragraph.split_whitespace().collect::<Vec<_>>().join(" ");
                        paragraph.clear();
                        let Some(s) = slide.as_mut() else { continue };
                        if line.is_empty() {
                            continue;
                        }
                        if in_notes {
                            s.notes.push_str(&line);
                            s.notes.push('\n');
                        } else if title_frame > 0 {
                            let t = s.title.get_or_insert_with(String::new);
                            if !t.is_empty() {
                                t.push(' ');
                            }
                            t.push_str(&line);
                        } else {
                            s.text.push_str(&line);
                            s.text.push('\n');
                        }
                    }
                    b"frame" => {
                        if title_frame == frame_depth {
                            title_frame = 0;
                        }
                        frame_depth = frame_depth.saturating_sub(1);
                    }
                    b"notes" => in_notes = false,
                    b"page" => slides.extend(slide.take()),
                    _ => {}
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(slides)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn odt_headings_and_hidden_text() {
        let xml = r#"<office:document-content xmlns:office="o" xmlns:text="t"><office:body>
          <office:text><text:sequence-decls><text:sequence-decl text:name="x"/></text:sequence-decls>
          <text:h text:outline-level="1">Scope</text:h><text:p>All  staff<text:s/> travel.</text:p>
          <text:h text:outline-level="2">Rates</text:h><text:p>Rate<text:tab/>12 <text:hidden-text>secret</text:hidden-text></text:p>
          </office:text></office:body></office:document-content>"#;
        let mut b = TextBuilder::new();
        read_text(xml, &mut b).unwrap();
        let (text, sections) = b.finish();
        assert_eq!(text, "Scope\n\nAll staff travel.\n\nRates\n\nRate\t12");
        assert_eq!(
            sections.last().unwrap().heading_path,
            vec!["Scope".to_string(), "Rates".to_string()]
        );
    }

    #[test]
    fn odp_slides_titles_and_notes() {
        let xml = r#"<office:document-content xmlns:office="o" xmlns:draw="d" xmlns:text="t" xmlns:presentation="p"><office:body><office:presentation>
          <draw:page draw:name="page1"><draw:frame presentation:class="title"><draw:text-box><text:p>Plan</text:p></draw:text-box></draw:frame>
          <draw:frame presentation:class="outline"><draw:text-box><text:list><text:list-item><text:p>Hire two</text:p></text:list-item></text:list></draw:text-box></draw:frame>
          <presentation:notes><draw:frame presentation:class="notes"><draw:text-box><text:p>Say it slowly</text:p></draw:text-box></draw:frame></presentation:notes></draw:page>
          <draw:page draw:name="page2"><draw:frame><draw:text-box><text:p>No title</text:p></draw:text-box></draw:frame></draw:page>
          </office:presentation></office:body></office:document-content>"#;
        let slides = read_slides(xml).unwrap();
        assert_eq!(slides.len(), 2);
        assert_eq!(slides[0].title.as_deref(), Some("Plan"));
        assert_eq!(slides[0].text, "Hire two\n");
        assert_eq!(slides[0].notes, "Say it slowly\n");
        assert_eq!(slides[1].title, None);
    }
}
