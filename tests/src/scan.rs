//! Scanned pages for the OCR tests and benchmarks: known text rendered to an image by
//! ImageMagick (`convert`), optionally rotated and noisy like a photo or a cheap scan, and
//! PDFs whose pages are only such images (no text layer), as a scanner writes them.

use std::path::Path;
use std::process::Command;

use lopdf::content::{Content, Operation};
use lopdf::{dictionary, Document, Object, Stream};

use crate::save_pdf;

/// How a page is degraded.
#[derive(Debug, Clone, Copy)]
pub struct Degrade {
    /// Rotation in degrees (skew).
    pub skew: f32,
    /// Gaussian noise strength (ImageMagick `-attenuate`), 0 for none.
    pub noise: f32,
}

/// Renders `lines` as a grey JPEG page at `dpi` (an A4 width, 11 pt text) into `path`; returns
/// its size in pixels.
pub fn render_page(
    path: &Path,
    lines: &[&str],
    dpi: u32,
    degrade: Degrade,
) -> anyhow::Result<(u32, u32)> {
    let width = dpi * 827 / 100;
    let line_height = dpi * 20 / 100;
    let height = line_height * (lines.len() as u32 + 2);
    let points = 11.0 * dpi as f32 / 72.0;
    let mut cmd = Command::new("convert");
    cmd.arg("-size")
        .arg(format!("{width}x{height}"))
        .args(["xc:white", "-font", "DejaVu-Sans", "-fill", "black"])
        .arg("-pointsize")
        .arg(format!("{points:.1}"));
    for (i, line) in lines.iter().enumerate() {
        cmd.arg("-annotate")
            .arg(format!(
                "+{}+{}",
                dpi / 2,
                line_height * (i as u32 + 1) + line_height / 2
            ))
            .arg(line);
    }
    if degrade.skew != 0.0 {
        cmd.args(["-background", "white", "-rotate"])
            .arg(format!("{}", degrade.skew));
    }
    if degrade.noise > 0.0 {
        cmd.arg("-attenuate")
            .arg(format!("{}", degrade.noise))
            .args(["+noise", "Gaussian"]);
    }
    cmd.args(["-colorspace", "Gray", "-depth", "8", "-quality", "80"])
        .arg("-density")
        .arg(dpi.to_string())
        .arg(path);
    let out = cmd.output()?;
    anyhow::ensure!(
        out.status.success(),
        "convert failed (install imagemagick): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let identify = Command::new("identify")
        .args(["-format", "%w %h"])
        .arg(path)
        .output()?;
    let dims = String::from_utf8_lossy(&identify.stdout).into_owned();
    let mut it = dims.split_whitespace().map(|n| n.parse::<u32>());
    match (it.next(), it.next()) {
        (Some(Ok(w)), Some(Ok(h))) => Ok((w, h)),
        _ => anyhow::bail!("identify gave no size for {}", path.display()),
    }
}

/// Writes a PDF whose pages are the given JPEG pages (bytes, width, height in pixels, dpi),
/// each filling its page: a scan with no text layer.
pub fn write_image_pdf(path: &Path, pages: &[(Vec<u8>, u32, u32, u32)]) -> anyhow::Result<()> {
    let mut doc = Document::with_version("1.5");
    let pages_id = doc.new_object_id();
    let mut kids: Vec<Object> = Vec::new();
    for (jpeg, w, h, dpi) in pages {
        let image = Stream::new(
            dictionary! {
                "Type" => "XObject", "Subtype" => "Image",
                "Width" => *w as i64, "Height" => *h as i64,
                "ColorSpace" => "DeviceGray", "BitsPerComponent" => 8,
                "Filter" => "DCTDecode",
            },
            jpeg.clone(),
        );
        let image_id = doc.add_object(image);
        let (pw, ph) = (
            *w as f32 * 72.0 / *dpi as f32,
            *h as f32 * 72.0 / *dpi as f32,
        );
        let content = Content {
            operations: vec![
                Operation::new("q", vec![]),
                Operation::new(
                    "cm",
                    vec![pw.into(), 0.into(), 0.into(), ph.into(), 0.into(), 0.into()],
                ),
                Operation::new("Do", vec!["Im1".into()]),
                Operation::new("Q", vec![]),
            ],
        };
        let content_id = doc.add_object(Stream::new(dictionary! {}, content.encode()?));
        let page_id = doc.add_object(dictionary! {
            "Type" => "Page", "Parent" => pages_id, "Contents" => content_id,
            "MediaBox" => vec![0.into(), 0.into(), pw.into(), ph.into()],
            "Resources" => dictionary! { "XObject" => dictionary! { "Im1" => image_id } },
        });
        kids.push(page_id.into());
    }
    let count = kids.len() as i64;
    doc.objects.insert(
        pages_id,
        Object::Dictionary(dictionary! { "Type" => "Pages", "Kids" => kids, "Count" => count }),
    );
    save_pdf(doc, pages_id, path)
}

/// Character error rate: the edit distance between `expected` and `got` (whitespace runs
/// made single spaces) over the length of `expected`.
pub fn char_error_rate(expected: &str, got: &str) -> f64 {
    let norm = |s: &str| -> Vec<char> {
        s.split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .chars()
            .collect()
    };
    let (a, b) = (norm(expected), norm(got));
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()] as f64 / a.len().max(1) as f64
}
