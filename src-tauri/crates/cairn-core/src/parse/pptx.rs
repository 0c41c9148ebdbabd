//! PPTX (Office Open XML presentations): [`super::package`] for the package, [`quick_xml`]
//! for the slides.
//!
//! Slides are read in presentation order (`p:sldIdLst` in `ppt/presentation.xml`, resolved
//! through its relationships); hidden slides (`show="0"`) are skipped. Each slide is one page
//! whose number is its position (what PowerPoint shows as the slide number); its text is the
//! title (the `title`/`ctrTitle` placeholder), which is also the slide's heading path, then
//! every other text box, table cell and shape in document order, one line per paragraph.
//! Speaker notes (the notes slide's text: its `body` placeholder, or the plain text box
//! LibreOffice writes) follow under `Risks > speaker notes`. A slide without a title
//! placeholder is `slide 7` (text boxes are not guessed to be titles). Not read: charts, SmartArt
//! text, comments, slide masters and layouts.

use quick_xml::events::Event;
use quick_xml::Reader;

use super::compose::Composer;
use super::package::Package;
use super::{DocKind, ParsedDoc};

/// Parses PPTX `bytes`.
pub(crate) fn parse_pptx(bytes: &[u8]) -> Result<ParsedDoc, String> {
    let mut package = Package::open(bytes, "PPTX")?;
    let presentation = package
        .read("ppt/presentation.xml")?
        .ok_or("PPTX is missing ppt/presentation.xml")?;
    let rels = package
        .read("ppt/_rels/presentation.xml.rels")?
        .map(|x| relationships(&x, "ppt"))
        .unwrap_or_default();
    let order = slide_ids(&presentation);
    let title = package
        .read("docProps/core.xml")
        .ok()
        .flatten()
        .and_then(|xml| super::docx::core_title(&xml));

    let mut out = Composer::new();
    let mut number = 0u32;
    for id in order {
        let Some((_, target)) = rels.iter().find(|(rid, _)| *rid == id) else {
            continue;
        };
        let Some(xml) = package.read(target)? else {
            continue;
        };
        let slide = read_shapes(&xml).map_err(|e| format!("PPTX {target} is malformed ({e})"))?;
        number += 1;
        if slide.hidden {
            continue;
        }
        let heading = slide_heading(slide.title.as_deref(), number);
        out.begin_page(number);
        out.section(&heading, &slide.text)?;
        // The notes slide is named in the slide's own relationships.
        let (dir, file) = target.rsplit_once('/').unwrap_or(("", target));
        let slide_rels = package
            .read(&format!("{dir}/_rels/{file}.rels"))?
            .map(|x| relationships_of_type(&x, dir, "/notesSlide"))
            .unwrap_or_default();
        if let Some(notes_part) = slide_rels.first() {
            if let Some(xml) = package.read(notes_part)? {
                if let Ok(notes) = read_shapes(&xml) {
                    out.section(&notes_heading(&heading), &notes.text)?;
                }
            }
        }
    }
    Ok(out.finish(DocKind::Presentation, title))
}

/// The heading path of a slide: its title, or `slide N` when it has none.
pub(crate) fn slide_heading(title: Option<&str>, number: u32) -> Vec<String> {
    match title.map(str::trim).filter(|t| !t.is_empty()) {
        Some(t) => vec![t.split_whitespace().collect::<Vec<_>>().join(" ")],
        None => vec![format!("slide {number}")],
    }
}

/// The heading path of a slide's speaker notes: one entry, `Risks > speaker notes`. Not
/// `[title, "speaker notes"]`: the chunker merges a short section into a following one whose
/// heading path extends its own (a heading's lead-in), which would file the slide's text under
/// its notes.
pub(crate) fn notes_heading(slide: &[String]) -> Vec<String> {
    vec![format!("{} > speaker notes", slide.join(" > "))]
}

/// `r:id`s of `p:sldId` in order.
fn slide_ids(xml: &str) -> Vec<String> {
    let mut reader = Reader::from_str(xml);
    let mut ids = Vec::new();
    while let Ok(event) = reader.read_event() {
        match event {
            Event::Start(e) | Event::Empty(e) if e.local_name().as_ref() == b"sldId" => {
                if let Some(id) = attr(&e, b"id", true) {
                    ids.push(id);
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    ids
}

/// The value of the attribute with local name `name`; `prefixed` wants a namespace prefix
/// (`r:id`, not the plain `id` next to it).
pub(crate) fn attr(
    e: &quick_xml::events::BytesStart<'_>,
    name: &[u8],
    prefixed: bool,
) -> Option<String> {
    e.attributes()
        .flatten()
        .find(|a| a.key.local_name().as_ref() == name && a.key.prefix().is_some() == prefixed)
        .and_then(|a| a.unescape_value().ok().map(|v| v.into_owned()))
}

/// `(Id, part name)` of every relationship in a `.rels` part whose source lies in `dir`.
fn relationships(xml: &str, dir: &str) -> Vec<(String, String)> {
    let mut reader = Reader::from_str(xml);
    let mut out = Vec::new();
    while let Ok(event) = reader.read_event() {
        match event {
            Event::Start(e) | Event::Empty(e) if e.local_name().as_ref() == b"Relationship" => {
                let id = attr(&e, b"Id", false);
                let target = attr(&e, b"Target", false);
                let external = attr(&e, b"TargetMode", false).is_some_and(|m| m == "External");
                if let (Some(id), Some(target), false) = (id, target, external) {
                    out.push((id, resolve(dir, &target)));
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    out
}

/// Part names of the relationships whose `Type` ends with `kind`.
fn relationships_of_type(xml: &str, dir: &str, kind: &str) -> Vec<String> {
    let mut reader = Reader::from_str(xml);
    let mut out = Vec::new();
    while let Ok(event) = reader.read_event() {
        match event {
            Event::Start(e) | Event::Empty(e) if e.local_name().as_ref() == b"Relationship" => {
                let typ = attr(&e, b"Type", false).unwrap_or_default();
                if let (true, Some(target)) = (typ.ends_with(kind), attr(&e, b"Target", false)) {
                    out.push(resolve(dir, &target));
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    out
}

/// A relationship target relative to `dir` (or absolute from the package root) as a part name.
pub(crate) fn resolve(dir: &str, target: &str) -> String {
    let mut parts: Vec<&str> = if target.starts_with('/') {
        Vec::new()
    } else {
        dir.split('/').filter(|p| !p.is_empty()).collect()
    };
    for p in target.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    parts.join("/")
}

/// What one slide or notes slide says.
#[derive(Debug, Default)]
struct SlideText {
    title: Option<String>,
    /// Every paragraph but the title's and the slide number's, date's, header's and footer's,
    /// one per line.
    text: String,
    hidden: bool,
}

/// Reads the shapes of a slide (`p:sp`, `p:graphicFrame` tables) in document order.
fn read_shapes(xml: &str) -> Result<SlideText, quick_xml::Error> {
    let mut reader = Reader::from_str(xml);
    let mut slide = SlideText::default();
    // The placeholder type of the shape being read.
    let mut placeholder: Option<String> = None;
    let mut shape_depth = 0usize;
    let mut paragraph = String::new();
    let mut title = String::new();
    let mut in_text = false;
    loop {
        match reader.read_event()? {
            Event::Start(e) => match e.local_name().as_ref() {
                b"sld" => slide.hidden = attr(&e, b"show", false).is_some_and(|v| v == "0"),
                b"sp" | b"graphicFrame" => {
                    shape_depth += 1;
                    if shape_depth == 1 {
                        placeholder = None;
                    }
                }
                b"t" => in_text = true,
                b"p" => paragraph.clear(),
                _ => {}
            },
            Event::Empty(e) => match e.local_name().as_ref() {
                b"ph" => placeholder = Some(attr(&e, b"type", false).unwrap_or_default()),
                b"br" => paragraph.push('\n'),
                b"sld" => slide.hidden = attr(&e, b"show", false).is_some_and(|v| v == "0"),
                _ => {}
            },
            Event::Text(t) if in_text => paragraph.push_str(&t.decode().unwrap_or_default()),
            Event::GeneralRef(r) if in_text => {
                paragraph.push_str(&super::docx::resolve_ref(&r).unwrap_or_default())
            }
            Event::End(e) => match e.local_name().as_ref() {
                b"t" => in_text = false,
                b"sp" | b"graphicFrame" => shape_depth = shape_depth.saturating_sub(1),
                b"p" if shape_depth > 0 => {
                    let line = paragraph.trim();
                    if !line.is_empty() {
                        let target = match placeholder.as_deref() {
                            Some("title" | "ctrTitle") => &mut title,
                            Some("sldNum" | "dt" | "ftr" | "hdr") => {
                                paragraph.clear();
                                continue;
                            }
                            _ => &mut slide.text,
                        };
                        target.push_str(line);
                        target.push('\n');
                    }
                    paragraph.clear();
                }
                _ => {}
            },
            Event::Eof => break,
            _ => {}
        }
    }
    let title = title.trim();
    if !title.is_empty() {
        slide.text = format!("{title}\n{}", slide.text);
        slide.title = Some(title.replace('\n', " "));
    }
    Ok(slide)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relationship_targets_resolve() {
        assert_eq!(resolve("ppt", "slides/slide1.xml"), "ppt/slides/slide1.xml");
        assert_eq!(
            resolve("ppt/slides", "../notesSlides/notesSlide1.xml"),
            "ppt/notesSlides/notesSlide1.xml"
        );
        assert_eq!(resolve("ppt", "/ppt/slides/s.xml"), "ppt/slides/s.xml");
    }

    #[test]
    fn slide_title_text_and_placeholders() {
        let xml = r#"<p:sld xmlns:p="p" xmlns:a="a"><p:cSld><p:spTree>
          <p:sp><p:nvSpPr><p:nvPr><p:ph type="title"/></p:nvPr></p:nvSpPr>
            <p:txBody><a:p><a:r><a:t>Roadmap &amp; risks</a:t></a:r></a:p></p:txBody></p:sp>
          <p:sp><p:nvSpPr><p:nvPr><p:ph type="body" idx="1"/></p:nvPr></p:nvSpPr>
            <p:txBody><a:p><a:r><a:t>Ship in May</a:t></a:r></a:p></p:txBody></p:sp>
          <p:sp><p:nvSpPr><p:nvPr><p:ph type="sldNum"/></p:nvPr></p:nvSpPr>
            <p:txBody><a:p><a:r><a:t>7</a:t></a:r></a:p></p:txBody></p:sp>
        </p:spTree></p:cSld></p:sld>"#;
        let s = read_shapes(xml).unwrap();
        assert_eq!(s.title.as_deref(), Some("Roadmap & risks"));
        assert_eq!(s.text, "Roadmap & risks\nShip in May\n");
        assert!(!s.hidden);
    }
}
