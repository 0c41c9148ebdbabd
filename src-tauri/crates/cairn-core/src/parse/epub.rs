//! EPUB: the package (`META-INF/container.xml` → the OPF) names the chapters in reading order
//! (the spine); each chapter is XHTML and goes through Cairn's HTML parser (hidden elements
//! dropped), and its headings are the heading path. A chapter without headings is filed under
//! its name in the NCX table of contents, else its `<title>`. The book's title is the OPF's `dc:title`. Not read: the
//! navigation document's own list, images, scripts; DRM-encrypted books fail (their chapters
//! are not XHTML).

use quick_xml::events::Event;
use quick_xml::Reader;

use super::compose::Composer;
use super::package::Package;
use super::pptx::{attr, resolve};
use super::{html, DocKind, ParsedDoc};

/// Parses EPUB `bytes`.
pub(crate) fn parse_epub(bytes: &[u8]) -> Result<ParsedDoc, String> {
    let mut package = Package::open(bytes, "EPUB")?;
    let container = package
        .read("META-INF/container.xml")?
        .ok_or("EPUB is missing META-INF/container.xml")?;
    let opf_path = rootfile(&container).ok_or("EPUB container names no package document")?;
    let opf = package
        .read(&opf_path)?
        .ok_or_else(|| format!("EPUB is missing its package document {opf_path}"))?;
    if package.read_bytes("META-INF/encryption.xml")?.is_some() {
        return Err("EPUB is encrypted (DRM); Cairn cannot read it".to_string());
    }
    let dir = opf_path.rsplit_once('/').map_or("", |(d, _)| d);
    let (chapters, title, ncx) = spine(&opf);
    // Chapter names from the EPUB 2 table of contents (EPUB 3 books usually carry one too).
    let toc = match ncx {
        Some(href) => {
            let path = resolve(dir, &href);
            let ncx_dir = path.rsplit_once('/').map_or("", |(d, _)| d).to_string();
            package
                .read(&path)?
                .map(|xml| toc_labels(&xml, &ncx_dir))
                .unwrap_or_default()
        }
        None => Vec::new(),
    };
    let mut out = Composer::new();
    for href in chapters {
        // Hrefs are URL-encoded; fragment identifiers point inside a chapter.
        let href = href.split('#').next().unwrap_or("").replace("%20", " ");
        let part = resolve(dir, &href);
        let Some(bytes) = package.read_bytes(&part)? else {
            continue;
        };
        // A chapter the HTML parser refuses costs only itself.
        let Ok(chapter) = html::parse_html(&bytes) else {
            continue;
        };
        let headed = chapter.sections.iter().any(|s| !s.heading_path.is_empty());
        // A chapter without headings is filed under its name in the table of contents, else
        // its `<title>`.
        let label = toc.iter().find(|(p, _)| *p == part).map(|(_, l)| l.clone());
        let prefix: Vec<String> = match (label.or_else(|| chapter.title.clone()), headed) {
            (Some(name), false) => vec![name],
            _ => Vec::new(),
        };
        out.doc(&prefix, &chapter)?;
    }
    if out.len() == 0 {
        return Err("EPUB has no readable chapters".to_string());
    }
    Ok(out.finish(DocKind::Epub, title))
}

/// `full-path` of the first `rootfile` in `container.xml`.
fn rootfile(xml: &str) -> Option<String> {
    let mut reader = Reader::from_str(xml);
    loop {
        match reader.read_event().ok()? {
            Event::Start(e) | Event::Empty(e) if e.local_name().as_ref() == b"rootfile" => {
                return attr(&e, b"full-path", false);
            }
            Event::Eof => return None,
            _ => {}
        }
    }
}

/// `(part name, label)` of each `navPoint` of an NCX table of contents, in order.
fn toc_labels(ncx: &str, dir: &str) -> Vec<(String, String)> {
    let mut reader = Reader::from_str(ncx);
    let mut out = Vec::new();
    let mut label = String::new();
    let mut in_text = false;
    while let Ok(event) = reader.read_event() {
        match event {
            Event::Start(e) if e.local_name().as_ref() == b"navLabel" => label.clear(),
            Event::Start(e) if e.local_name().as_ref() == b"text" => in_text = true,
            Event::End(e) if e.local_name().as_ref() == b"text" => in_text = false,
            Event::Text(t) if in_text => label.push_str(&t.decode().unwrap_or_default()),
            Event::Start(e) | Event::Empty(e) if e.local_name().as_ref() == b"content" => {
                let name = label.split_whitespace().collect::<Vec<_>>().join(" ");
                if let (Some(src), false) = (attr(&e, b"src", false), name.is_empty()) {
                    let file = src.split('#').next().unwrap_or("").replace("%20", " ");
                    out.push((resolve(dir, &file), name));
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    out
}

/// The hrefs of the spine's XHTML items in reading order, `dc:title`, and the href of the NCX
/// table of contents.
fn spine(opf: &str) -> (Vec<String>, Option<String>, Option<String>) {
    let mut reader = Reader::from_str(opf);
    let mut manifest: Vec<(String, String, String)> = Vec::new();
    let mut order: Vec<String> = Vec::new();
    let mut title: Option<String> = None;
    let mut in_title = false;
    let mut ncx = None;
    while let Ok(event) = reader.read_event() {
        match event {
            Event::Start(e) | Event::Empty(e) => match e.local_name().as_ref() {
                b"item" => {
                    if let (Some(id), Some(href)) =
                        (attr(&e, b"id", false), attr(&e, b"href", false))
                    {
                        let media = attr(&e, b"media-type", false).unwrap_or_default();
                        if media == "application/x-dtbncx+xml" {
                            ncx = Some(href.clone());
                        }
                        manifest.push((id, href, media));
                    }
                }
                b"itemref" => {
                    let linear = attr(&e, b"linear", false).is_none_or(|v| v != "no");
                    if let (Some(id), true) = (attr(&e, b"idref", false), linear) {
                        order.push(id);
                    }
                }
                b"title" if title.is_none() => in_title = true,
                _ => {}
            },
            Event::Text(t) if in_title => {
                let t = t.decode().unwrap_or_default();
                let t = t.split_whitespace().collect::<Vec<_>>().join(" ");
                if !t.is_empty() {
                    title = Some(t);
                }
            }
            Event::End(e) if e.local_name().as_ref() == b"title" => in_title = false,
            Event::Eof => break,
            _ => {}
        }
    }
    let chapters = order
        .iter()
        .filter_map(|id| manifest.iter().find(|(i, _, _)| i == id))
        .filter(|(_, _, media)| media.contains("html") || media.is_empty())
        .map(|(_, href, _)| href.clone())
        .collect();
    (chapters, title, ncx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spine_order_and_title() {
        let opf = r#"<package xmlns="http://www.idpf.org/2007/opf"><metadata xmlns:dc="dc">
          <dc:title>Debian Policy</dc:title></metadata><manifest>
          <item id="c2" href="ch2.xhtml" media-type="application/xhtml+xml"/>
          <item id="c1" href="text/ch1.xhtml" media-type="application/xhtml+xml"/>
          <item id="img" href="a.png" media-type="image/png"/></manifest>
          <spine><itemref idref="c1"/><itemref idref="img"/><itemref idref="c2"/></spine></package>"#;
        let (chapters, title, ncx) = spine(opf);
        assert_eq!(ncx, None);
        assert_eq!(chapters, vec!["text/ch1.xhtml", "ch2.xhtml"]);
        assert_eq!(title.as_deref(), Some("Debian Policy"));
        assert_eq!(
            rootfile(r#"<container><rootfiles><rootfile full-path="OEBPS/content.opf"/></rootfiles></container>"#)
                .as_deref(),
            Some("OEBPS/content.opf")
        );
    }
}
