//! Builds a hostile folder: files that crash, hang or blow up parsers, links out of the folder
//! and into the system, special files, and a link that reaches a document twice.

use std::path::{Path, PathBuf};

use lopdf::content::{Content, Operation};
use lopdf::{dictionary, Document, Object, Stream};

use crate::write_pdf;

/// A PDF whose page draws a form XObject that draws itself (endless recursion in a naive
/// content-stream interpreter).
fn write_self_xobject_pdf(path: &Path) -> anyhow::Result<()> {
    let mut doc = Document::with_version("1.5");
    let pages_id = doc.new_object_id();
    let form_id = doc.new_object_id();
    let draw = Content {
        operations: vec![Operation::new("Do", vec![Object::Name(b"X0".to_vec())])],
    }
    .encode()?;
    let form = Stream::new(
        dictionary! {
            "Type" => "XObject", "Subtype" => "Form",
            "BBox" => vec![0.into(), 0.into(), 100.into(), 100.into()],
            "Resources" => dictionary! { "XObject" => dictionary! { "X0" => form_id } },
        },
        draw.clone(),
    );
    doc.objects.insert(form_id, Object::Stream(form));
    let content_id = doc.add_object(Stream::new(dictionary! {}, draw));
    let page_id = doc.add_object(dictionary! {
        "Type" => "Page", "Parent" => pages_id, "Contents" => content_id,
        "Resources" => dictionary! { "XObject" => dictionary! { "X0" => form_id } },
    });
    doc.objects.insert(
        pages_id,
        Object::Dictionary(dictionary! {
            "Type" => "Pages", "Kids" => vec![page_id.into()], "Count" => 1,
            "MediaBox" => vec![0.into(), 0.into(), 595.into(), 842.into()],
        }),
    );
    let catalog_id = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
    doc.trailer.set("Root", catalog_id);
    doc.save(path)?;
    Ok(())
}

/// A PDF whose page tree lists itself as its own kid.
fn write_cyclic_pages_pdf(path: &Path) -> anyhow::Result<()> {
    let mut doc = Document::with_version("1.5");
    let pages_id = doc.new_object_id();
    doc.objects.insert(
        pages_id,
        Object::Dictionary(dictionary! {
            "Type" => "Pages", "Kids" => vec![pages_id.into()], "Count" => 1,
        }),
    );
    let catalog_id = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
    doc.trailer.set("Root", catalog_id);
    doc.save(path)?;
    Ok(())
}

/// Writes the hostile folder under `root`; returns (the folder to add, a folder outside it that
/// holds a secret only links lead to).
pub fn write_hostile_folder(root: &Path) -> anyhow::Result<(PathBuf, PathBuf)> {
    let lib = root.join("hostile");
    let outside = root.join("outside");
    std::fs::create_dir_all(lib.join("docs"))?;
    std::fs::create_dir_all(&outside)?;
    std::fs::write(
        outside.join("secret.txt"),
        "zebracanary: the credentials of another user",
    )?;
    std::fs::write(
        lib.join("docs/good.md"),
        "# Lighthouse\n\nThe lighthouse keeper logs fog signals every night.\n",
    )?;
    write_pdf(
        &lib.join("docs/good.pdf"),
        &[&["The harbour master opens the gates at dawn."]],
    )?;
    write_self_xobject_pdf(&lib.join("self-xobject.pdf"))?;
    write_cyclic_pages_pdf(&lib.join("cyclic-pages.pdf"))?;
    // Arrays nested 5,000 deep: 10 KB that overflow the stack of a recursive PDF parser.
    let nested = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
    std::fs::write(
        lib.join("deep-nesting.pdf"),
        format!("%PDF-1.4\n1 0 obj\n<< /Type /Catalog /X {nested} >>\nendobj\n%%EOF\n"),
    )?;
    // 100,000 nested elements.
    let mut deep = String::from("<html><body>");
    deep.push_str(&"<div>".repeat(100_000));
    deep.push_str("deepest words");
    deep.push_str(&"</div>".repeat(100_000));
    deep.push_str("</body></html>");
    std::fs::write(lib.join("deep.html"), deep)?;
    // Binary junk under a text name.
    let junk: Vec<u8> = (0..200_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(lib.join("junk.txt"), junk)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::symlink;
        // A second path to the good documents: indexed once.
        symlink(lib.join("docs"), lib.join("mirror"))?;
        // Out of the folder and into the system: never read.
        symlink("/etc/passwd", lib.join("passwd-link.txt"))?;
        symlink("/proc/self/environ", lib.join("environ-link.txt"))?;
        symlink(&outside, lib.join("outside-dir"))?;
        // A FIFO never blocks indexing.
        let status = std::process::Command::new("mkfifo")
            .arg(lib.join("pipe.txt"))
            .status()?;
        anyhow::ensure!(status.success(), "mkfifo failed");
    }
    Ok((lib, outside))
}
