//! Mail: one message (EML) or a mailbox (MBOX, `From ` separated) through [`mail_parser`].
//!
//! Each message is a section whose heading path is its locator, `message 'Q3 forecast',
//! 2025-03-04`; its text starts with the subject, from, to and date lines (so they are
//! searchable), then the bodies: plain text as is, HTML through Cairn's HTML parser (hidden
//! elements dropped). Attachments that Cairn reads (office documents, PDF, text, HTML, nested
//! messages) are parsed in the same worker and follow their message as sub-sections under
//! `attachment budget.xlsx` with their own headings; images and unknown types are skipped.
//! Attachments are part of the message's document, not documents of their own.
//!
//! Caps: [`MAX_MESSAGES`] per mailbox, [`MAX_DEPTH`] levels of nested messages, and the text
//! cap of [`super::limits`] as parts are added.

use std::borrow::Cow;
use std::path::Path;

use mail_parser::{Message, MessageParser, MimeHeaders, PartType};

use super::compose::Composer;
use super::{detect, html, package, DocKind, MessageMeta, ParsedDoc};

/// Most messages read from one mailbox.
const MAX_MESSAGES: usize = 100_000;
/// Deepest nesting of messages attached to messages.
const MAX_DEPTH: usize = 3;

/// Parses an EML message or an MBOX mailbox.
pub(crate) fn parse_mail(bytes: &[u8]) -> Result<ParsedDoc, String> {
    let mut out = Composer::new();
    let mut metas = Vec::new();
    if is_mbox(bytes) {
        let reader = std::io::Cursor::new(bytes);
        for (i, item) in mail_parser::mailbox::mbox::MessageIterator::new(reader).enumerate() {
            if i >= MAX_MESSAGES {
                return Err(format!(
                    "mailbox holds more than {MAX_MESSAGES} messages, more than Cairn reads \
                     from one file (split it)"
                ));
            }
            let item = item.map_err(|e| format!("mailbox cannot be read ({e})"))?;
            // A message mail-parser cannot make sense of costs only itself.
            if let Some(message) = MessageParser::default().parse(item.contents()) {
                let start = out.len();
                write_message(&mut out, &[], &message, 0)?;
                metas.push(meta(&message, start, out.len()));
            }
        }
        return Ok(with_messages(out.finish(DocKind::Mail, None), metas));
    }
    let message = MessageParser::default()
        .parse(bytes)
        .ok_or("message has no headers Cairn can read (not an e-mail?)")?;
    write_message(&mut out, &[], &message, 0)?;
    metas.push(meta(&message, 0, out.len()));
    let title = message.subject().map(str::trim).filter(|s| !s.is_empty());
    Ok(with_messages(
        out.finish(DocKind::Mail, title.map(str::to_owned)),
        metas,
    ))
}

/// The sender and date of a message written at `start..end` of the text.
fn meta(message: &Message<'_>, start: usize, end: usize) -> MessageMeta {
    let from = message
        .from()
        .and_then(|a| a.first())
        .map(|p| match (p.name(), p.address()) {
            (Some(n), Some(a)) => format!("{n} <{a}>"),
            (Some(n), None) => n.to_string(),
            (None, Some(a)) => a.to_string(),
            (None, None) => String::new(),
        })
        .unwrap_or_default();
    MessageMeta {
        start,
        end,
        from,
        date: message.date().map(|d| d.to_timestamp()),
    }
}

/// `doc` with its messages, their ends kept inside its (trimmed) text.
fn with_messages(mut doc: ParsedDoc, mut metas: Vec<MessageMeta>) -> ParsedDoc {
    for m in &mut metas {
        m.end = m.end.min(doc.text.len());
        m.start = m.start.min(m.end);
    }
    doc.messages = metas;
    doc
}

/// True if `bytes` start like an MBOX mailbox (`From ` line, then headers).
pub(crate) fn is_mbox(bytes: &[u8]) -> bool {
    bytes.starts_with(b"From ")
}

/// The locator of a message: `message 'Q3 forecast', 2025-03-04`.
fn locator(message: &Message<'_>) -> String {
    let subject = message.subject().map(str::trim).unwrap_or("");
    let subject = if subject.is_empty() {
        "(no subject)"
    } else {
        subject
    };
    match message.date() {
        Some(d) => format!(
            "message '{subject}', {:04}-{:02}-{:02}",
            d.year, d.month, d.day
        ),
        None => format!("message '{subject}'"),
    }
}

/// Writes `message` under `prefix`, then its attachments.
fn write_message(
    out: &mut Composer,
    prefix: &[String],
    message: &Message<'_>,
    depth: usize,
) -> Result<(), String> {
    let mut path = prefix.to_vec();
    path.push(locator(message));
    let mut body = String::new();
    if let Some(s) = message.subject() {
        body.push_str(&format!("Subject: {}\n", s.trim()));
    }
    for (label, address) in [("From", message.from()), ("To", message.to())] {
        let people: Vec<String> = address
            .map(|a| {
                a.iter()
                    .map(|p| match (p.name(), p.address()) {
                        (Some(n), Some(a)) => format!("{n} <{a}>"),
                        (Some(n), None) => n.to_string(),
                        (None, Some(a)) => a.to_string(),
                        (None, None) => String::new(),
                    })
                    .filter(|p| !p.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        if !people.is_empty() {
            body.push_str(&format!("{label}: {}\n", people.join(", ")));
        }
    }
    if let Some(d) = message.date() {
        body.push_str(&format!(
            "Date: {:04}-{:02}-{:02} {:02}:{:02}\n",
            d.year, d.month, d.day, d.hour, d.minute
        ));
    }
    for part in message.text_bodies() {
        body.push('\n');
        match &part.body {
            PartType::Html(source) => {
                if let Ok(doc) = html::parse_html(source.as_bytes()) {
                    body.push_str(&doc.text);
                }
            }
            PartType::Text(text) => body.push_str(&super::text::normalize_newlines(text)),
            _ => {}
        }
        body.push('\n');
    }
    out.section(&path, &body)?;

    for (i, part) in message.attachments().enumerate() {
        let name: Cow<'_, str> = part
            .attachment_name()
            .map_or_else(|| format!("{}", i + 1).into(), Cow::from);
        // One entry, "message '…', date > attachment x.csv", not a child of the message's
        // path: the chunker would merge a short message body into its first attachment's
        // passage (a heading's lead-in) and file the body under the attachment.
        let mut under = prefix.to_vec();
        under.push(format!(
            "{} > attachment {name}",
            path.last().expect("pushed")
        ));
        match &part.body {
            PartType::Message(nested) if depth < MAX_DEPTH => {
                write_message(out, &under, nested, depth + 1)?;
            }
            PartType::Message(_) => {}
            _ => {
                let bytes = part.contents();
                let kind =
                    detect(Path::new(name.as_ref()), bytes).or_else(|| package::kind_of(bytes));
                // Images would need OCR, mail would nest without its headers: skipped.
                let readable = kind.filter(|k| !matches!(k, DocKind::Image | DocKind::Mail));
                if let Some(Ok(doc)) =
                    readable.map(|k| super::parse_as(Path::new(name.as_ref()), k, bytes))
                {
                    out.doc(&under, &doc)?;
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const EML: &str = "From: Alice <alice@example.com>\r\nTo: bob@example.com\r\n\
Subject: Q3 forecast\r\nDate: Tue, 4 Mar 2025 09:30:00 +0000\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\n\
Content-Type: text/html; charset=utf-8\r\n\r\n<p>Revenue <b>grows</b></p><p hidden>secret</p>\r\n\
--b1\r\nContent-Type: text/csv\r\nContent-Disposition: attachment; filename=\"budget.csv\"\r\n\r\n\
item,amount\r\ntravel,1200\r\n--b1--\r\n";

    #[test]
    fn a_message_its_headers_html_body_and_attachment() {
        let doc = parse_mail(EML.as_bytes()).unwrap();
        assert_eq!(doc.title.as_deref(), Some("Q3 forecast"));
        let first = &doc.sections[0];
        assert_eq!(
            first.heading_path,
            vec!["message 'Q3 forecast', 2025-03-04"]
        );
        let text = &doc.text[first.start..first.end];
        assert!(text.contains("From: Alice <alice@example.com>"), "{text}");
        assert!(text.contains("Revenue grows"), "{text}");
        assert!(!doc.text.contains("secret"));
        let last = doc.sections.last().unwrap();
        assert_eq!(
            last.heading_path,
            vec![
                "message 'Q3 forecast', 2025-03-04 > attachment budget.csv".to_string(),
                "row 2".to_string()
            ]
        );
        assert!(doc.text[last.start..last.end].contains("travel | 1200"));
    }

    #[test]
    fn a_mailbox_is_one_section_per_message() {
        let mbox = format!(
            "From alice@example.com Tue Mar  4 09:30:00 2025\n{}\nFrom bob Wed Mar  5 10:00:00 2025\n\
Subject: Second\nDate: Wed, 5 Mar 2025 10:00:00 +0000\n\nplain body\n",
            EML.replace("\r\n", "\n")
        );
        let doc = parse_mail(mbox.as_bytes()).unwrap();
        assert!(doc
            .sections
            .iter()
            .any(|s| s.heading_path == vec!["message 'Second', 2025-03-05".to_string()]));
        assert!(doc.text.contains("plain body"));
    }
}
