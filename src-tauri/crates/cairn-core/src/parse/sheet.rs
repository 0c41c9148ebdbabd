//! Spreadsheets (XLSX/XLSM, XLS, ODS through [`calamine`]) and delimited text (CSV, TSV).
//!
//! Each sheet is cut into ranges of rows; a range is one section whose heading path is
//! `["sheet Budget", "rows 14-37"]` (row numbers as the spreadsheet shows them) and whose text
//! starts with the sheet's header row (its first non-empty row), so every passage reads on its
//! own and its citation names the place. Cells are separated by ` | `, rows by newlines; empty
//! rows are skipped. Dates are written `2025-03-04` (`2025-03-04 09:30` with a time). Hidden
//! sheets are skipped (a reader does not see them); chart sheets have no cells.
//!
//! Ranges are kept small ([`MAX_RANGE_BYTES`], [`MAX_RANGE_ROWS`]) so that one range is one
//! passage for the default chunk size. Caps: the package's members and declared sizes
//! ([`limits`]), and [`MAX_CELLS`] cells per workbook; the worker's memory budget stands behind
//! calamine's own allocation.

use std::io::Cursor;
use std::panic::{catch_unwind, AssertUnwindSafe};

use calamine::{open_workbook_auto_from_rs, Data, Reader, SheetVisible};

use super::compose::Composer;
use super::{limits, text, DocKind, ParsedDoc};

/// Most bytes of rows in one range (the header comes on top).
const MAX_RANGE_BYTES: usize = 600;
/// Most rows in one range.
const MAX_RANGE_ROWS: usize = 40;
/// Most cells read from one workbook or delimited file.
pub(crate) const MAX_CELLS: usize = 10_000_000;

/// Parses an XLSX/XLSM, XLS or ODS workbook. calamine can panic on damaged files (the fuzz
/// smoke test found one in its XLS container reader): a panic is a parse failure.
pub(crate) fn parse_workbook(bytes: &[u8]) -> Result<ParsedDoc, String> {
    if super::detect::is_zip(bytes) {
        check_package(bytes)?;
    }
    catch_unwind(AssertUnwindSafe(|| read_workbook(bytes))).map_err(|panic| {
        format!(
            "spreadsheet is damaged (calamine failed: {})",
            super::pdf::panic_message(&*panic)
        )
    })?
}

fn read_workbook(bytes: &[u8]) -> Result<ParsedDoc, String> {
    let mut book = open_workbook_auto_from_rs(Cursor::new(bytes)).map_err(|e| {
        if bytes.starts_with(super::package::OLE_MAGIC) && !looks_like_xls(bytes) {
            "spreadsheet is encrypted (password-protected) or not a workbook".to_string()
        } else {
            format!("spreadsheet is damaged or not a workbook ({e})")
        }
    })?;
    let sheets: Vec<String> = book
        .sheets_metadata()
        .iter()
        .filter(|s| s.visible == SheetVisible::Visible)
        .map(|s| s.name.clone())
        .collect();
    let mut out = Composer::new();
    let mut cells = 0usize;
    for name in sheets {
        // A sheet calamine cannot read (a chart sheet, a damaged part) costs only itself.
        let Ok(range) = book.worksheet_range(&name) else {
            continue;
        };
        let (height, width) = range.get_size();
        cells = cells.saturating_add(height.saturating_mul(width));
        if cells > MAX_CELLS {
            return Err(too_many_cells());
        }
        let first_row = range.start().map_or(0, |(r, _)| r as usize);
        let rows = range
            .rows()
            .enumerate()
            .map(|(i, row)| (first_row + i + 1, row.iter().map(cell_text).collect()));
        write_rows(&mut out, Some(&name), rows)?;
    }
    Ok(out.finish(DocKind::Spreadsheet, None))
}

/// Parses CSV or TSV text; the delimiter (comma, tab or semicolon) is the one the first line
/// uses most outside quotes.
pub(crate) fn parse_csv(bytes: &[u8]) -> Result<ParsedDoc, String> {
    let source = text::decode(bytes)?;
    let delimiter = sniff_delimiter(source.lines().next().unwrap_or(""));
    let records = read_delimited(&source, delimiter)?;
    let mut out = Composer::new();
    write_rows(
        &mut out,
        None,
        records.into_iter().enumerate().map(|(i, r)| (i + 1, r)),
    )?;
    Ok(out.finish(DocKind::Csv, None))
}

/// Writes one sheet's rows (`(row number, cells)`) as ranges with the header repeated.
fn write_rows(
    out: &mut Composer,
    sheet: Option<&str>,
    rows: impl Iterator<Item = (usize, Vec<String>)>,
) -> Result<(), String> {
    let locator = |first: usize, last: usize| {
        let mut path = Vec::new();
        if let Some(name) = sheet {
            path.push(format!("sheet {name}"));
        }
        path.push(if first == last {
            format!("row {first}")
        } else {
            format!("rows {first}-{last}")
        });
        path
    };
    let mut header: Option<(usize, String)> = None;
    let mut body = String::new();
    let mut span: Option<(usize, usize)> = None;
    let mut count = 0;
    for (number, cells) in rows {
        let line = row_line(&cells);
        if line.is_empty() {
            continue;
        }
        let Some((_, head)) = &header else {
            header = Some((number, line));
            continue;
        };
        if let Some((first, last)) = span {
            if body.len() + line.len() > MAX_RANGE_BYTES || count >= MAX_RANGE_ROWS {
                out.section(&locator(first, last), &format!("{head}\n{body}"))?;
                body.clear();
                span = None;
                count = 0;
            }
        }
        body.push_str(&line);
        body.push('\n');
        count += 1;
        span = Some((span.map_or(number, |(first, _)| first), number));
    }
    match (header, span) {
        (Some((_, head)), Some((first, last))) => {
            out.section(&locator(first, last), &format!("{head}\n{body}"))
        }
        // Only a header row: it is the sheet's one passage.
        (Some((number, head)), None) => out.section(&locator(number, number), &head),
        (None, _) => Ok(()),
    }
}

/// One row as text: trimmed cells joined by ` | `, trailing empty cells dropped; empty if the
/// row has no text.
fn row_line(cells: &[String]) -> String {
    let cells: Vec<&str> = cells.iter().map(|c| c.trim()).collect();
    let used = cells
        .iter()
        .rposition(|c| !c.is_empty())
        .map_or(0, |i| i + 1);
    cells[..used]
        .iter()
        .map(|c| c.replace(['\n', '\r'], " "))
        .collect::<Vec<_>>()
        .join(" | ")
}

/// A cell's text; dates as ISO dates.
fn cell_text(cell: &Data) -> String {
    match cell {
        Data::DateTime(d) if d.is_datetime() => match d.as_datetime() {
            Some(t) if t.time() == chrono::NaiveTime::MIN => t.format("%Y-%m-%d").to_string(),
            Some(t) => t.format("%Y-%m-%d %H:%M").to_string(),
            None => cell.to_string(),
        },
        Data::Error(_) => String::new(),
        _ => cell.to_string(),
    }
}

/// An XLS file names its `Workbook` (or `Book`) stream in UTF-16 in its directory.
fn looks_like_xls(bytes: &[u8]) -> bool {
    super::detect::find(bytes, b"W\0o\0r\0k\0b\0o\0o\0k\0").is_some()
        || super::detect::find(bytes, b"B\0o\0o\0k\0").is_some()
}

/// The package caps, checked before calamine reads it: member count and declared sizes.
fn check_package(bytes: &[u8]) -> Result<(), String> {
    let mut package = super::package::Package::open(bytes, "spreadsheet")?;
    let declared = package.declared_size();
    if declared > limits::MAX_ZIP_TOTAL_BYTES {
        return Err(format!(
            "spreadsheet parts expand to more than {} in all (a zip bomb?)",
            limits::megabytes(limits::MAX_ZIP_TOTAL_BYTES)
        ));
    }
    Ok(())
}

fn too_many_cells() -> String {
    format!("has more than {MAX_CELLS} cells, more than Cairn reads from one spreadsheet")
}

/// The delimiter the header line uses most outside quotes: `,`, tab or `;`.
fn sniff_delimiter(line: &str) -> char {
    let mut counts = [0usize; 3];
    let mut quoted = false;
    for c in line.chars() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => counts[0] += 1,
            '\t' if !quoted => counts[1] += 1,
            ';' if !quoted => counts[2] += 1,
            _ => {}
        }
    }
    let best = (0..3).max_by_key(|&i| (counts[i], 3 - i)).unwrap_or(0);
    [',', '\t', ';'][best]
}

/// RFC 4180 records: fields separated by `delimiter`, quoted fields may hold delimiters,
/// newlines and doubled quotes. A record that ends inside quotes ends at the end of the text.
fn read_delimited(source: &str, delimiter: char) -> Result<Vec<Vec<String>>, String> {
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut cells = 0usize;
    let mut chars = source.chars().peekable();
    while let Some(c) = chars.next() {
        if quoted {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    chars.next();
                    field.push('"');
                } else {
                    quoted = false;
                }
            } else {
                field.push(c);
            }
            continue;
        }
        match c {
            '"' if field.trim().is_empty() => {
                field.clear();
                quoted = true;
            }
            c if c == delimiter => record.push(std::mem::take(&mut field)),
            '\r' => {}
            '\n' => {
                record.push(std::mem::take(&mut field));
                cells += record.len();
                records.push(std::mem::take(&mut record));
            }
            c => field.push(c),
        }
        if cells > MAX_CELLS {
            return Err(too_many_cells());
        }
    }
    if !field.is_empty() || !record.is_empty() {
        record.push(field);
        records.push(record);
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sections(doc: &ParsedDoc) -> Vec<(String, String)> {
        doc.sections
            .iter()
            .map(|s| {
                (
                    s.heading_path.join(" > "),
                    doc.text[s.start..s.end].to_string(),
                )
            })
            .collect()
    }

    #[test]
    fn csv_ranges_repeat_the_header() {
        let mut csv = String::from("item,amount,note\n");
        for i in 0..60 {
            csv.push_str(&format!("line {i},{i}00,\"with, comma\"\n"));
        }
        let doc = parse_csv(csv.as_bytes()).unwrap();
        let got = sections(&doc);
        assert!(got.len() >= 2, "{got:?}");
        // Ranges follow each other, each under MAX_RANGE_BYTES of rows, header first.
        let mut next = 2;
        for (locator, text) in &got {
            let (first, last) = locator.trim_start_matches("rows ").split_once('-').unwrap();
            let (first, last): (usize, usize) = (first.parse().unwrap(), last.parse().unwrap());
            assert_eq!(first, next, "{got:?}");
            assert!(text.starts_with("item | amount | note\n"), "{text}");
            assert!(text.len() <= MAX_RANGE_BYTES + 30, "{text}");
            assert!(text.contains(&format!("line {} | ", first - 2)), "{text}");
            next = last + 1;
        }
        assert_eq!(next, 62);
        assert!(got[0].1.contains("line 0 | 000 | with, comma"));
    }

    #[test]
    fn tsv_and_quotes() {
        let doc = parse_csv(b"a\tb\n\"x\"\"y\"\t\"multi\nline\"\n\n3\t4").unwrap();
        let got = sections(&doc);
        assert_eq!(got[0].0, "rows 2-4");
        assert_eq!(got[0].1, "a | b\nx\"y | multi line\n3 | 4");
    }

    #[test]
    fn header_only_sheet_is_one_passage() {
        let doc = parse_csv(b"just,a,header\n").unwrap();
        assert_eq!(
            sections(&doc),
            vec![("row 1".into(), "just | a | header".into())]
        );
    }
}
