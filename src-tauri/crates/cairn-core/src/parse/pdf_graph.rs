//! Checks of a PDF page's object graph before pdf-extract walks it.
//!
//! pdf-extract follows two kinds of links without limit: a page's `/Parent` chain (looking for
//! inherited `/Resources` and `/MediaBox`) and the XObjects a content stream draws with `Do`
//! (each drawn stream is processed like a page, with its own or the caller's resources). A
//! page that is its own ancestor, or a form that draws itself (directly or through others),
//! makes it recurse until the stack overflows, or loop forever where the recursion became a
//! loop; forms drawn through a deep lattice make it work exponentially long. The worker
//! process bounds all of this (parse/isolate.rs), but a page can be refused here in
//! microseconds, with a reason, and the rest of the document still read. Found by fuzzing
//! (docs/fuzzing.md).

use std::collections::{HashMap, HashSet};

use pdf_extract::content::Content;
use pdf_extract::{Dictionary, Document, Object, ObjectId, Stream};

/// Longest `/Parent` chain followed (lopdf's own page-tree depth limit).
const MAX_PARENT_DEPTH: usize = 256;
/// Deepest nesting of drawn XObjects (pdfium allows a few dozen).
const MAX_FORM_DEPTH: usize = 32;
/// Most XObject drawings one page may expand to.
const MAX_FORM_DRAWS: u64 = 100_000;
/// Deepest nesting of arrays and dictionaries read (lopdf's parser recurses once per level and
/// overflows an 8 MiB stack at about 5,000).
pub(super) const MAX_NESTING: usize = 256;

/// Fails when arrays and dictionaries in `bytes` (a file, or a content stream) nest deeper than
/// [`MAX_NESTING`]. A linear scan that skips comments, strings, stream data and inline images,
/// so brackets inside them do not count. Objects inside compressed object streams are not seen.
pub(super) fn check_nesting(bytes: &[u8]) -> Result<(), String> {
    let (mut depth, mut i) = (0usize, 0usize);
    let at = |i: usize, word: &[u8]| bytes[i..].starts_with(word);
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                while i < bytes.len() && !matches!(bytes[i], b'\r' | b'\n') {
                    i += 1;
                }
            }
            b'(' => {
                let mut open = 0usize;
                while i < bytes.len() {
                    match bytes[i] {
                        b'\\' => i += 1,
                        b'(' => open += 1,
                        b')' => {
                            open -= 1;
                            if open == 0 {
                                break;
                            }
                        }
                        _ => {}
                    }
                    i += 1;
                }
            }
            b'<' if at(i, b"<<") => {
                depth += 1;
                i += 1;
            }
            b'<' => {
                while i < bytes.len() && bytes[i] != b'>' {
                    i += 1;
                }
            }
            b'>' if at(i, b">>") => {
                depth = depth.saturating_sub(1);
                i += 1;
            }
            b'[' => depth += 1,
            b']' => depth = depth.saturating_sub(1),
            b's' if at(i, b"stream") && !at(i.saturating_sub(3), b"endstream") => {
                i = find(bytes, i + 6, b"endstream").map_or(bytes.len(), |e| e + 8);
            }
            b'I' if at(i, b"ID") && i > 0 && bytes[i - 1].is_ascii_whitespace() => {
                i = find(bytes, i + 2, b"EI").map_or(bytes.len(), |e| e + 1);
            }
            _ => {}
        }
        if depth > MAX_NESTING {
            return Err(format!(
                "it nests arrays or dictionaries more than {MAX_NESTING} deep"
            ));
        }
        i += 1;
    }
    Ok(())
}

/// Position of `word` in `bytes` at or after `from`.
fn find(bytes: &[u8], from: usize, word: &[u8]) -> Option<usize> {
    bytes
        .get(from..)?
        .windows(word.len())
        .position(|w| w == word)
        .map(|p| from + p)
}

/// Fails with a reason when pdf-extract would not finish page `page` of `doc`.
pub(super) fn check_page(doc: &Document, page: ObjectId) -> Result<(), String> {
    let resources = inherited_resources(doc, page)?;
    let Ok(content) = doc.get_page_content(page) else {
        return Ok(());
    };
    check_nesting(&content)?;
    let Some(resources) = resources else {
        return Ok(());
    };
    let mut walk = Walk {
        doc,
        on_path: HashSet::new(),
        draws: HashMap::new(),
    };
    walk.draws(&content, resources, 0).map(|_| ())
}

/// Walks the page's `/Parent` chain as pdf-extract does (checking all of it, since it also
/// looks up `/MediaBox` there) and returns the first `/Resources` dictionary on it.
fn inherited_resources(doc: &Document, page: ObjectId) -> Result<Option<&Dictionary>, String> {
    let mut seen = HashSet::from([page]);
    let mut dict = doc.get_dictionary(page).ok();
    let mut resources = None;
    while let Some(d) = dict {
        if resources.is_none() {
            resources = d.get(b"Resources").ok().and_then(|r| as_dict(doc, r));
        }
        let Some(parent) = d.get(b"Parent").ok().and_then(|p| p.as_reference().ok()) else {
            break;
        };
        if !seen.insert(parent) {
            return Err("its page tree loops (a page is its own ancestor)".to_string());
        }
        if seen.len() > MAX_PARENT_DEPTH {
            return Err(format!(
                "its page tree is more than {MAX_PARENT_DEPTH} levels deep"
            ));
        }
        dict = doc.get_dictionary(parent).ok();
    }
    Ok(resources)
}

/// The `/XObject` dictionary of `resources`, if any.
fn xobjects<'d>(doc: &'d Document, resources: &'d Dictionary) -> Option<&'d Dictionary> {
    resources.get(b"XObject").ok().and_then(|x| as_dict(doc, x))
}

fn as_dict<'d>(doc: &'d Document, obj: &'d Object) -> Option<&'d Dictionary> {
    match obj {
        Object::Reference(id) => doc.get_object(*id).ok()?.as_dict().ok(),
        other => other.as_dict().ok(),
    }
}

/// A drawn stream with the resources it is drawn with (its own, or its caller's).
type Node = (ObjectId, *const Dictionary);

struct Walk<'d> {
    doc: &'d Document,
    /// The drawings being expanded (a repeat is a cycle).
    on_path: HashSet<Node>,
    /// Drawings each finished node expands to (so a lattice is counted, not re-walked).
    draws: HashMap<Node, u64>,
}

impl<'d> Walk<'d> {
    /// How many XObject drawings `content`, drawn with `resources`, expands to.
    fn draws(
        &mut self,
        content: &[u8],
        resources: &'d Dictionary,
        depth: usize,
    ) -> Result<u64, String> {
        if depth > MAX_FORM_DEPTH {
            return Err(format!(
                "it nests drawn forms more than {MAX_FORM_DEPTH} deep"
            ));
        }
        let Some(xobjects) = xobjects(self.doc, resources) else {
            return Ok(0);
        };
        // Content pdf-extract cannot decode fails there, with a reason of its own.
        let Ok(content) = Content::decode(content) else {
            return Ok(0);
        };
        let mut total = 0u64;
        for op in content.operations.iter().filter(|op| op.operator == "Do") {
            let Some(name) = op.operands.first().and_then(|n| n.as_name().ok()) else {
                continue;
            };
            let Some(&Object::Reference(id)) = xobjects.get(name).ok() else {
                continue;
            };
            let Some(stream) = self
                .doc
                .get_object(id)
                .ok()
                .and_then(|o| o.as_stream().ok())
            else {
                continue;
            };
            let own = stream
                .dict
                .get(b"Resources")
                .ok()
                .and_then(|r| as_dict(self.doc, r));
            let used = own.unwrap_or(resources);
            let node: Node = (id, used as *const Dictionary);
            let n = match self.draws.get(&node) {
                Some(&n) => n,
                None => {
                    if !self.on_path.insert(node) {
                        return Err(format!("a form XObject ({} {} R) draws itself", id.0, id.1));
                    }
                    let content = stream_content(stream);
                    check_nesting(&content)?;
                    let n = 1 + self.draws(&content, used, depth + 1)?;
                    self.on_path.remove(&node);
                    self.draws.insert(node, n);
                    n
                }
            };
            total = total.saturating_add(n);
            if total > MAX_FORM_DRAWS {
                return Err(format!(
                    "its forms expand to more than {MAX_FORM_DRAWS} drawings"
                ));
            }
        }
        Ok(total)
    }
}

/// The content of a drawn stream as pdf-extract reads it.
fn stream_content(stream: &Stream) -> Vec<u8> {
    if stream.filters().is_ok() {
        stream
            .decompressed_content()
            .unwrap_or_else(|_| stream.content.clone())
    } else {
        stream.content.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fuzzing::seeds::{pdf, stream};

    const CATALOG: &str = "<< /Type /Catalog /Pages 2 0 R >>";
    const FONT: &str = "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>";

    /// A form (object `id`) with `content`, and `resources` of its own unless empty.
    fn form(content: &str, resources: &str) -> String {
        let resources = if resources.is_empty() {
            String::new()
        } else {
            format!("/Resources {resources} ")
        };
        format!(
            "<< /Type /XObject /Subtype /Form /BBox [0 0 10 10] {resources}/Length {} >>\nstream\n{content}\nendstream",
            content.len()
        )
    }

    fn first_page(bytes: &[u8]) -> (Document, ObjectId) {
        let doc = Document::load_mem(bytes).unwrap();
        let page = *doc.get_pages().values().next().unwrap();
        (doc, page)
    }

    #[test]
    fn a_page_that_is_its_own_ancestor_is_refused_and_the_others_read() {
        // Found by fuzzing: page 4's /Parent is page 4 (pdf-extract looped forever).
        let bytes = pdf(&[
            CATALOG.into(),
            "<< /Type /Pages /Kids [3 0 R 4 0 R] /Count 2 /MediaBox [0 0 595 842] \
             /Resources << /Font << /F1 7 0 R >> >> >>"
                .into(),
            "<< /Type /Page /Parent 2 0 R /Contents 5 0 R >>".into(),
            "<< /Type /Page /Parent 4 0 R /Contents 6 0 R >>".into(),
            stream("BT /F1 12 Tf 50 700 Td (Kept page) Tj ET"),
            stream("BT /F1 12 Tf 50 700 Td (Looping page) Tj ET"),
            FONT.into(),
        ]);
        let doc = Document::load_mem(&bytes).unwrap();
        let pages = doc.get_pages();
        assert!(check_page(&doc, pages[&1]).is_ok());
        let err = check_page(&doc, pages[&2]).unwrap_err();
        assert!(err.contains("own ancestor"), "{err}");
        let parsed = super::super::pdf::parse_pdf(&bytes).unwrap();
        assert_eq!(parsed.text.trim_end(), "Kept page");
        assert_eq!(parsed.pages.len(), 2);
    }

    #[test]
    fn deep_nesting_is_refused_before_lopdf_reads_it() {
        // 5,000 levels in 10 KB overflowed the stack in lopdf's parser (found by hand after
        // fuzzing; docs/fuzzing.md).
        let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
        let err = check_nesting(format!("1 0 obj << /X {deep} >> endobj").as_bytes()).unwrap_err();
        assert!(err.contains("more than 256 deep"), "{err}");
        let err = super::super::pdf::parse_pdf(&pdf(&[CATALOG.into(), format!("<< /X {deep} >>")]))
            .unwrap_err();
        assert!(err.contains("256 deep"), "{err}");
        // Brackets in strings, comments, streams and inline images do not count.
        let quiet = "[".repeat(300);
        for ok in [
            format!("({quiet}) <5B5B> % {quiet}\n[ << /A [1] >> ]"),
            format!("<< /Length 300 >>\nstream\n{quiet}\nendstream"),
            format!("BI /W 1 /H 1 ID {quiet} EI Q"),
            "(a \\) [[[ b) ( (nested) [ )".to_string(),
        ] {
            assert_eq!(check_nesting(ok.as_bytes()), Ok(()), "{ok}");
        }
    }

    #[test]
    fn forms_that_draw_themselves_are_refused() {
        let page = |xobjects: &str| {
            format!("<< /Type /Page /Parent 2 0 R /Contents 4 0 R /Resources << /XObject << {xobjects} >> >> >>")
        };
        let pages = "<< /Type /Pages /Kids [3 0 R] /Count 1 /MediaBox [0 0 595 842] >>";
        // Directly, through its own resources.
        let direct = pdf(&[
            CATALOG.into(),
            pages.into(),
            page("/X0 5 0 R"),
            stream("/X0 Do"),
            form("/X0 Do", "<< /XObject << /X0 5 0 R >> >>"),
        ]);
        // Through another form, with resources inherited from the page.
        let indirect = pdf(&[
            CATALOG.into(),
            pages.into(),
            page("/A 5 0 R /B 6 0 R"),
            stream("/A Do"),
            form("/B Do", ""),
            form("q /A Do Q", ""),
        ]);
        for bytes in [direct, indirect] {
            let (doc, id) = first_page(&bytes);
            let err = check_page(&doc, id).unwrap_err();
            assert!(err.contains("draws itself"), "{err}");
        }
    }

    #[test]
    fn shared_resources_and_deep_lattices() {
        let pages = "<< /Type /Pages /Kids [3 0 R] /Count 1 /MediaBox [0 0 595 842] >>";
        // A form that inherits resources listing itself, but does not draw itself: fine.
        let shared = pdf(&[
            CATALOG.into(),
            pages.into(),
            "<< /Type /Page /Parent 2 0 R /Contents 4 0 R /Resources << /XObject << /X0 5 0 R >> >> >>".into(),
            stream("/X0 Do /X0 Do"),
            form("0 0 m 1 1 l S", ""),
        ]);
        let (doc, id) = first_page(&shared);
        assert_eq!(check_page(&doc, id), Ok(()));
        // Twenty forms, each drawing the next twice: 2^20 drawings.
        let mut objects = vec![
            CATALOG.to_string(),
            pages.into(),
            "<< /Type /Page /Parent 2 0 R /Contents 4 0 R /Resources << /XObject << /F 5 0 R >> >> >>".into(),
            stream("/F Do"),
        ];
        for i in 0..20 {
            objects.push(form(
                "/F Do /F Do",
                &format!("<< /XObject << /F {} 0 R >> >>", 6 + i),
            ));
        }
        objects.push(form("", ""));
        let (doc, id) = first_page(&pdf(&objects));
        let err = check_page(&doc, id).unwrap_err();
        assert!(err.contains("drawings"), "{err}");
    }
}
