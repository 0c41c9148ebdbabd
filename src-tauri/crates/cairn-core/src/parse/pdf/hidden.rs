//! Invisible PDF text, dropped before extraction: `pdf-extract` ignores the text render mode
//! and the fill colour, so a page's content stream is filtered here first.
//!
//! Dropped: text shown with render mode 3 or 7 (neither filled nor stroked: the classic
//! hidden OCR layer, or planted instructions), and text filled in white (`1 g`, `1 1 1 rg`,
//! `0 0 0 0 k`, or the same through `sc`/`scn`) while nothing but white has been painted on
//! the page before it (white on a dark banner is kept). The text-showing operators are
//! removed (`'` and `"` keep their line move), so positions of the remaining text stay
//! close to the original.
//!
//! Not detected (kept): text inside form XObjects, text covered by an image or a shape,
//! text outside the page, tiny or clipped text, and text coloured like a coloured
//! background. See docs/security.md.

use pdf_extract::content::{Content, Operation};
use pdf_extract::{Dictionary, Document, Object, Stream};

/// Graphics state that decides whether text is visible.
#[derive(Debug, Clone, Copy, Default)]
struct State {
    /// Text render mode (`Tr`).
    render: i64,
    /// The fill colour is white.
    fill_white: bool,
    /// Components of the fill colour space (`cs`): 1 gray, 3 RGB, 4 CMYK; 0 unknown.
    fill_components: usize,
}

fn number(o: &Object) -> Option<f64> {
    match o {
        Object::Integer(i) => Some(*i as f64),
        Object::Real(r) => Some(f64::from(*r)),
        _ => None,
    }
}

/// Is a colour with these components white (gray 1, RGB 1 1 1, CMYK 0 0 0 0)?
fn is_white(components: &[f64]) -> bool {
    const NEAR: f64 = 0.02;
    match components.len() {
        1 => components[0] >= 1.0 - NEAR,
        3 => components.iter().all(|c| *c >= 1.0 - NEAR),
        4 => components.iter().all(|c| *c <= NEAR),
        _ => false,
    }
}

fn numbers(operands: &[Object]) -> Option<Vec<f64>> {
    operands.iter().map(number).collect()
}

/// Removes invisible text from a page's operations; returns them and how many text-showing
/// operators were dropped.
fn filter(operations: Vec<Operation>) -> (Vec<Operation>, usize) {
    let mut out = Vec::with_capacity(operations.len());
    let mut state = State {
        fill_components: 1,
        ..State::default()
    };
    let mut saved: Vec<State> = Vec::new();
    // Something other than white has been painted (a background text may sit on).
    let mut painted = false;
    let mut dropped = 0;
    for op in operations {
        match op.operator.as_str() {
            "q" => saved.push(state),
            "Q" => state = saved.pop().unwrap_or(state),
            "Tr" => {
                if let Some(mode) = op.operands.first().and_then(number) {
                    state.render = mode as i64;
                }
            }
            "g" | "rg" | "k" => {
                state.fill_white = numbers(&op.operands).is_some_and(|c| is_white(&c));
            }
            "cs" => {
                state.fill_components = match op.operands.first() {
                    Some(Object::Name(n)) => match n.as_slice() {
                        b"DeviceGray" | b"CalGray" => 1,
                        b"DeviceRGB" | b"CalRGB" => 3,
                        b"DeviceCMYK" => 4,
                        _ => 0,
                    },
                    _ => 0,
                };
                // A new colour space starts at black.
                state.fill_white = false;
            }
            "sc" | "scn" => {
                state.fill_white = match numbers(&op.operands) {
                    Some(c) if state.fill_components == 0 || c.len() == state.fill_components => {
                        is_white(&c)
                    }
                    _ => false,
                };
            }
            "f" | "F" | "f*" | "B" | "B*" | "b" | "b*" if !state.fill_white => painted = true,
            "Do" | "sh" | "BI" | "EI" => painted = true,
            "Tj" | "TJ" | "'" | "\"" => {
                let no_paint = state.render == 3 || state.render == 7;
                let white_fill = matches!(state.render, 0 | 4) && state.fill_white && !painted;
                if no_paint || white_fill {
                    dropped += 1;
                    match op.operator.as_str() {
                        "'" => out.push(Operation::new("T*", vec![])),
                        "\"" => {
                            let mut operands = op.operands.into_iter();
                            if let (Some(aw), Some(ac)) = (operands.next(), operands.next()) {
                                out.push(Operation::new("Tw", vec![aw]));
                                out.push(Operation::new("Tc", vec![ac]));
                            }
                            out.push(Operation::new("T*", vec![]));
                        }
                        _ => {}
                    }
                    continue;
                }
            }
            _ => {}
        }
        out.push(op);
    }
    (out, dropped)
}

/// Rewrites every page whose content stream shows invisible text; returns how many
/// text-showing operators were dropped. Pages whose content cannot be decoded are left as
/// they are (extraction reports them).
pub(super) fn drop_invisible_text(doc: &mut Document) -> usize {
    let pages: Vec<_> = doc.get_pages().into_values().collect();
    let mut dropped = 0;
    for page in pages {
        let Ok(bytes) = doc.get_page_content(page) else {
            continue;
        };
        let Ok(content) = Content::decode(&bytes) else {
            continue;
        };
        let (operations, n) = filter(content.operations);
        if n == 0 {
            continue;
        }
        let Ok(encoded) = (Content { operations }).encode() else {
            continue;
        };
        let stream = doc.add_object(Stream::new(Dictionary::new(), encoded));
        if let Ok(dict) = doc.get_dictionary_mut(page) {
            dict.set("Contents", Object::Reference(stream));
            dropped += n;
        }
    }
    dropped
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(name: &str, operands: Vec<Object>) -> Operation {
        Operation::new(name, operands)
    }

    fn shown(ops: &[Operation]) -> Vec<String> {
        ops.iter()
            .filter(|o| o.operator == "Tj")
            .filter_map(|o| match &o.operands[0] {
                Object::String(s, _) => Some(String::from_utf8_lossy(s).into_owned()),
                _ => None,
            })
            .collect()
    }

    fn tj(text: &str) -> Operation {
        op("Tj", vec![Object::string_literal(text)])
    }

    #[test]
    fn drops_unpainted_and_white_text_only() {
        let mut ops = vec![
            op("BT", vec![]),
            tj("visible"),
            op("Tr", vec![3.into()]),
            tj("mode 3"),
            op("Tr", vec![0.into()]),
            op("q", vec![]),
            op("rg", vec![1.into(), 1.into(), 1.into()]),
            tj("white rgb"),
            op("Q", vec![]),
            tj("black again"),
            op("cs", vec![Object::Name(b"DeviceCMYK".to_vec())]),
            op("sc", vec![0.into(), 0.into(), 0.into(), 0.into()]),
            tj("white cmyk"),
            op("k", vec![0.into(), 0.into(), 0.into(), 1.into()]),
            tj("black cmyk"),
            op("'", vec![Object::string_literal("quoted mode 7")]),
            op("ET", vec![]),
        ];
        // Make the last show invisible through mode 7.
        ops.insert(ops.len() - 2, op("Tr", vec![7.into()]));
        let (out, dropped) = filter(ops);
        assert_eq!(shown(&out), ["visible", "black again", "black cmyk"]);
        assert_eq!(dropped, 4);
        assert!(
            out.iter().any(|o| o.operator == "T*"),
            "' keeps its line move"
        );
    }

    #[test]
    fn white_text_on_a_painted_background_is_kept() {
        let ops = vec![
            op("g", vec![Object::Real(0.2)]),
            op("re", vec![0.into(), 700.into(), 612.into(), 92.into()]),
            op("f", vec![]),
            op("BT", vec![]),
            op("g", vec![1.into()]),
            tj("banner title"),
            op("ET", vec![]),
        ];
        let (out, dropped) = filter(ops);
        assert_eq!(shown(&out), ["banner title"]);
        assert_eq!(dropped, 0);
    }
}
