//! Markdown (CommonMark plus tables, footnotes, task lists, strikethrough and front matter)
//! to plain text with [`pulldown_cmark`].
//!
//! Markup is dropped; code blocks keep their content verbatim; list items and table rows
//! become lines (table cells are separated by tabs); paragraphs are separated by blank lines;
//! headings stay in the text as their own paragraph so they are searchable, and drive the
//! heading path of the sections. The title is the first H1, else a `title:` in the YAML
//! front matter.

use pulldown_cmark::{Event, HeadingLevel, Options, Parser, Tag, TagEnd};

use super::builder::TextBuilder;
use super::{text, DocKind, ParsedDoc};

/// Parses Markdown `bytes` (any encoding the text decoder understands).
pub(crate) fn parse_markdown(bytes: &[u8]) -> Result<ParsedDoc, String> {
    let source = text::decode(bytes)?;
    Ok(markdown_to_doc(&source))
}

fn markdown_to_doc(source: &str) -> ParsedDoc {
    let options = Options::ENABLE_TABLES
        | Options::ENABLE_FOOTNOTES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_TASKLISTS
        | Options::ENABLE_YAML_STYLE_METADATA_BLOCKS
        | Options::ENABLE_PLUSES_DELIMITED_METADATA_BLOCKS;
    let mut out = TextBuilder::new();
    let mut front_matter = String::new();
    let mut in_metadata = false;
    let mut in_code = false;
    // Raw HTML of the current HTML block: stripped of tags as a whole at its end, since a
    // tag may span lines.
    let mut html_block = String::new();
    // Cells written in the current table row.
    let mut cells = 0usize;

    for event in Parser::new_ext(source, options) {
        match event {
            Event::Start(tag) => match tag {
                Tag::Heading { level, .. } => out.begin_heading(heading_level(level)),
                Tag::Paragraph
                | Tag::BlockQuote(_)
                | Tag::List(_)
                | Tag::Table(_)
                | Tag::FootnoteDefinition(_)
                | Tag::DefinitionList => out.para(),
                Tag::HtmlBlock => {
                    html_block.clear();
                    out.para();
                }
                Tag::CodeBlock(_) => {
                    in_code = true;
                    out.para();
                }
                Tag::Item | Tag::DefinitionListTitle | Tag::DefinitionListDefinition => out.line(),
                Tag::TableHead | Tag::TableRow => {
                    out.line();
                    cells = 0;
                }
                Tag::TableCell => {
                    if cells > 0 {
                        out.push_str("\t");
                    }
                    cells += 1;
                }
                Tag::MetadataBlock(_) => in_metadata = true,
                Tag::Emphasis
                | Tag::Strong
                | Tag::Strikethrough
                | Tag::Superscript
                | Tag::Subscript
                | Tag::Link { .. }
                | Tag::Image { .. } => {}
            },
            Event::End(tag) => match tag {
                TagEnd::Heading(_) => out.end_heading(),
                TagEnd::Paragraph
                | TagEnd::BlockQuote(_)
                | TagEnd::List(_)
                | TagEnd::Table
                | TagEnd::FootnoteDefinition
                | TagEnd::DefinitionList => out.para(),
                TagEnd::HtmlBlock => {
                    out.push_collapsed(&strip_tags(&html_block));
                    out.para();
                }
                TagEnd::CodeBlock => {
                    in_code = false;
                    out.para();
                }
                TagEnd::Item
                | TagEnd::DefinitionListTitle
                | TagEnd::DefinitionListDefinition
                | TagEnd::TableHead
                | TagEnd::TableRow => out.line(),
                TagEnd::MetadataBlock(_) => in_metadata = false,
                _ => {}
            },
            Event::Text(text) if in_metadata => front_matter.push_str(&text),
            Event::Text(text) if in_code => out.push_str(&text),
            Event::Text(text) | Event::Code(text) => {
                // Text never spans lines outside code blocks; keep it verbatim.
                out.push_str(&text);
            }
            Event::InlineMath(text) | Event::DisplayMath(text) => out.push_str(&text),
            Event::Html(html) => html_block.push_str(&html),
            Event::SoftBreak => out.space(),
            Event::HardBreak => out.line(),
            Event::Rule => out.para(),
            Event::InlineHtml(_) | Event::FootnoteReference(_) | Event::TaskListMarker(_) => {}
        }
    }

    let title = out
        .first_h1()
        .map(str::to_string)
        .or_else(|| front_matter_title(&front_matter));
    let (text, sections) = out.finish();
    ParsedDoc {
        kind: DocKind::Markdown,
        title,
        text,
        sections,
        pages: Vec::new(),
        messages: Vec::new(),
        ocr_pages: Vec::new(),
    }
}

fn heading_level(level: HeadingLevel) -> u8 {
    match level {
        HeadingLevel::H1 => 1,
        HeadingLevel::H2 => 2,
        HeadingLevel::H3 => 3,
        HeadingLevel::H4 => 4,
        HeadingLevel::H5 => 5,
        HeadingLevel::H6 => 6,
    }
}

/// Removes `<…>` tags and `<!-- … -->` comments from a raw HTML block, keeping its text.
fn strip_tags(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(open) = rest.find('<') {
        out.push_str(&rest[..open]);
        let tail = &rest[open..];
        let close = if tail.starts_with("<!--") {
            tail.find("-->").map(|i| i + 3)
        } else {
            tail.find('>').map(|i| i + 1)
        };
        match close {
            Some(n) => rest = &tail[n..],
            None => {
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// `title:` from YAML/TOML-style front matter (`title: "x"` or `title = "x"`).
fn front_matter_title(front_matter: &str) -> Option<String> {
    front_matter.lines().find_map(|line| {
        let rest = line.strip_prefix("title")?.trim_start();
        let value = rest.strip_prefix(':').or_else(|| rest.strip_prefix('='))?;
        let value = value.trim().trim_matches(['"', '\'']).trim();
        (!value.is_empty()).then(|| value.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn section_texts(doc: &ParsedDoc) -> Vec<(String, Vec<String>)> {
        doc.sections
            .iter()
            .map(|s| (doc.text[s.start..s.end].to_string(), s.heading_path.clone()))
            .collect()
    }

    #[test]
    fn nested_headings_build_paths() {
        let md = "Preamble *text*.\n\n# Guide\n\nIntro para\nwrapped line.\n\n## Install\n\n\
                  Run `cargo build`.\n\n### Linux\n\nUse apt.\n\n## Usage\n\n- one\n- two\n\n\
                  ```rust\nfn main() {}\n```\n\n# Appendix\n\nEnd.\n";
        let doc = markdown_to_doc(md);
        assert_eq!(doc.title.as_deref(), Some("Guide"));
        assert_eq!(
            doc.text,
            "Preamble text.\n\nGuide\n\nIntro para wrapped line.\n\nInstall\n\nRun cargo build.\n\n\
             Linux\n\nUse apt.\n\nUsage\n\none\ntwo\n\nfn main() {}\n\nAppendix\n\nEnd."
        );
        let path = |p: &[&str]| p.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            section_texts(&doc),
            vec![
                ("Preamble text.".into(), path(&[])),
                ("Guide\n\nIntro para wrapped line.".into(), path(&["Guide"])),
                (
                    "Install\n\nRun cargo build.".into(),
                    path(&["Guide", "Install"])
                ),
                (
                    "Linux\n\nUse apt.".into(),
                    path(&["Guide", "Install", "Linux"])
                ),
                (
                    "Usage\n\none\ntwo\n\nfn main() {}".into(),
                    path(&["Guide", "Usage"])
                ),
                ("Appendix\n\nEnd.".into(), path(&["Appendix"])),
            ]
        );
    }

    #[test]
    fn tables_html_and_front_matter() {
        let md = "---\ntitle: \"Notes\"\ntags: [a]\n---\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n\
                  <div class=\"x\">\nraw <b\nclass=y>html</b>\n</div>\n\nText with <span>inline</span> html.\n";
        let doc = markdown_to_doc(md);
        assert_eq!(doc.title.as_deref(), Some("Notes"));
        assert_eq!(doc.text, "a\tb\n1\t2\n\nraw html\n\nText with inline html.");
        assert_eq!(doc.sections.len(), 1);
        assert!(doc.sections[0].heading_path.is_empty());
    }
}
