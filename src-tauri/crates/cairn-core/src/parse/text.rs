//! Plain text: character-set detection and decoding.
//!
//! Decoding order: a byte-order mark (UTF-8, UTF-16LE, UTF-16BE) wins; otherwise (after
//! dropping stray NUL bytes, or rejecting binary data) valid UTF-8 is taken as UTF-8; otherwise [`chardetng`] guesses a legacy encoding (Windows-1252,
//! Shift_JIS, GBK, KOI8-R, …) and [`encoding_rs`] decodes it. Line endings are normalised to
//! `\n` in every case.

use std::borrow::Cow;

use encoding_rs::{Encoding, UTF_16BE, UTF_16LE, UTF_8};

use super::{DocKind, ParsedDoc, Section};

/// Parses a plain-text file: the whole text is one section with an empty heading path.
pub(crate) fn parse_text(bytes: &[u8]) -> Result<ParsedDoc, String> {
    let text = decode(bytes)?;
    Ok(ParsedDoc {
        kind: DocKind::Text,
        title: None,
        sections: vec![Section {
            start: 0,
            end: text.len(),
            heading_path: Vec::new(),
        }],
        text,
        pages: Vec::new(),
        messages: Vec::new(),
        ocr_pages: Vec::new(),
    })
}

/// Decodes `bytes` to a `String` with `\n` line endings (see the module docs for the order).
pub(crate) fn decode(bytes: &[u8]) -> Result<String, String> {
    decode_with(bytes, None)
}

/// Like [`decode`], but an encoding declared by the document itself (e.g. an HTML
/// `<meta charset>`) is used before guessing when the bytes have no BOM and are not UTF-8.
pub(crate) fn decode_with(
    bytes: &[u8],
    declared: Option<&'static Encoding>,
) -> Result<String, String> {
    let text: Cow<'_, str> = if let Some((encoding, bom_len)) = Encoding::for_bom(bytes) {
        let (text, _) = encoding.decode_without_bom_handling(&bytes[bom_len..]);
        text
    } else if bytes.contains(&0) {
        // Detection only looks at the first KiBs; binary data may start later. A few stray
        // NULs in a text file are dropped, more mean the file is not text.
        let nuls = bytes.iter().filter(|&&b| b == 0).count();
        if nuls * 1000 > bytes.len() {
            return Err("file contains binary data (NUL bytes), not text".to_string());
        }
        let cleaned: Vec<u8> = bytes.iter().copied().filter(|&b| b != 0).collect();
        return decode_with(&cleaned, declared);
    } else if let Ok(text) = std::str::from_utf8(bytes) {
        Cow::Borrowed(text)
    } else {
        let encoding = match declared {
            // A page claiming UTF-8 (or UTF-16, which cannot be told apart without a BOM)
            // while not being valid UTF-8 is mislabelled: guess instead.
            Some(enc) if enc != UTF_8 && enc != UTF_16LE && enc != UTF_16BE => enc,
            _ => guess_encoding(bytes)?,
        };
        let (text, _, _) = encoding.decode(bytes);
        text
    };
    Ok(normalize_newlines(&text))
}

/// Guesses the legacy encoding of non-UTF-8 bytes with chardetng.
fn guess_encoding(bytes: &[u8]) -> Result<&'static Encoding, String> {
    let mut detector = chardetng::EncodingDetector::new();
    detector.feed(bytes, true);
    let (encoding, confident) = detector.guess_assess(None, false);
    // chardetng always answers; reject only text that decodes to mostly garbage.
    let (text, _, had_errors) = encoding.decode(bytes);
    if had_errors && !confident {
        let bad = text
            .chars()
            .filter(|&c| c == char::REPLACEMENT_CHARACTER)
            .count();
        if bad * 10 > text.chars().count() {
            return Err("not valid UTF-8 and no encoding could be detected".to_string());
        }
    }
    Ok(encoding)
}

/// Replaces `\r\n` and lone `\r` with `\n`.
pub(crate) fn normalize_newlines(text: &str) -> String {
    if !text.contains('\r') {
        return text.to_string();
    }
    text.replace("\r\n", "\n").replace('\r', "\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_utf8_and_normalises_crlf() {
        assert_eq!(decode(b"a\r\nb\rc\n").as_deref(), Ok("a\nb\nc\n"));
        assert_eq!(decode("caf\u{e9}".as_bytes()).as_deref(), Ok("café"));
        assert_eq!(decode(b"\xEF\xBB\xBFbom").as_deref(), Ok("bom"));
    }

    #[test]
    fn rejects_binary_tails_and_drops_stray_nuls() {
        let mut bytes = vec![b'a'; 9000];
        bytes.extend_from_slice(&[0, 1, 2, 0xFF, 0, 0].repeat(10));
        assert!(decode(&bytes).is_err());
        let mut bytes = vec![b'a'; 9000];
        bytes.push(0);
        assert_eq!(decode(&bytes).map(|t| t.len()), Ok(9000));
    }

    #[test]
    fn decodes_latin1_text() {
        let bytes = b"Le caf\xE9 est ferm\xE9 le dimanche, d\xE9sol\xE9.\r\n";
        assert_eq!(
            decode(bytes).as_deref(),
            Ok("Le café est fermé le dimanche, désolé.\n")
        );
    }

    #[test]
    fn decodes_utf16_with_bom() {
        for big_endian in [false, true] {
            let mut bytes = if big_endian {
                vec![0xFE, 0xFF]
            } else {
                vec![0xFF, 0xFE]
            };
            for unit in "naïve\r\nZürich".encode_utf16() {
                let pair = if big_endian {
                    unit.to_be_bytes()
                } else {
                    unit.to_le_bytes()
                };
                bytes.extend_from_slice(&pair);
            }
            assert_eq!(decode(&bytes).as_deref(), Ok("naïve\nZürich"));
        }
    }

    #[test]
    fn decodes_shift_jis() {
        let (bytes, _, _) =
            encoding_rs::SHIFT_JIS.encode("日本語のテキストです。東京都の天気は晴れ。");
        assert_eq!(
            decode(&bytes).as_deref(),
            Ok("日本語のテキストです。東京都の天気は晴れ。")
        );
    }

    #[test]
    fn declared_encoding_is_used() {
        let (bytes, _, _) = encoding_rs::WINDOWS_1251.encode("Привет, мир");
        let declared = Some(encoding_rs::WINDOWS_1251);
        assert_eq!(decode_with(&bytes, declared).as_deref(), Ok("Привет, мир"));
    }
}
