//! Read: CSV and Parquet files into a [`Table`] (an arrow `RecordBatch`
//! that remembers where each row came from).
//!
//! The format follows the extension ([`Format::of`]): `.parquet`/`.pq` is
//! Parquet, `.tsv` tab-separated, `.csv.gz`/`.tsv.gz` gzipped text, a
//! directory the Parquet part files Spark and Glue write, `-` standard
//! input; a workbook or JSON file is refused in one line that says what is
//! read; anything else is CSV. The content has the last word: a file that
//! starts as Parquet or gzip does is read as one. CSV fields are read as
//! strings, an empty field is missing (null), and every problem is
//! reported with the file, line and column: ragged rows, bytes that are
//! not UTF-8, a missing header, no rows at all.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::builder::StringBuilder;
use arrow_array::cast::AsArray;
use arrow_array::types::*;
use arrow_array::{Array, ArrayRef, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use rayon::prelude::*;

use crate::error::{Error, ErrorKind, Position, Result};

/// The formats findmatches reads and writes, said in messages.
pub const FORMATS: &str = "CSV or TSV (optionally gzipped: .csv.gz, .tsv.gz), Parquet, \
                           or a directory of Parquet part files";

/// The name that stands for standard input or output.
pub const STDIO: &str = "-";

/// File formats findmatches reads and writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Comma-separated (or tab-separated for `.tsv`) text with a header.
    Csv {
        /// The field delimiter.
        delimiter: u8,
        /// Gzip-compressed (`.gz`).
        gzip: bool,
    },
    /// Apache Parquet.
    Parquet,
}

/// Extensions of formats people try that findmatches does not read, and
/// what they are.
const UNSUPPORTED: [(&str, &str); 10] = [
    ("xlsx", "an Excel workbook"),
    ("xlsm", "an Excel workbook"),
    ("xls", "an Excel workbook"),
    ("ods", "a spreadsheet"),
    ("json", "JSON"),
    ("jsonl", "JSON lines"),
    ("ndjson", "JSON lines"),
    ("avro", "Avro"),
    ("orc", "ORC"),
    ("zip", "a zip archive"),
];

impl Format {
    /// The format a path's extension names (CSV when it names none we
    /// know); an error for a format findmatches does not read or write.
    pub fn of(path: &Path) -> Result<Format> {
        let (outer, gzip) = extensions(path);
        if let Some(format) = Format::named(path) {
            return Ok(format);
        }
        match outer.as_deref() {
            Some("parquet" | "pq") => Err(unsupported(path, "gzipped Parquet")),
            Some(e) => match UNSUPPORTED.iter().find(|(x, _)| *x == e) {
                Some((_, what)) => Err(unsupported(path, what)),
                None => Ok(Format::Csv { delimiter: b',', gzip }),
            },
            None => Ok(Format::Csv { delimiter: b',', gzip }),
        }
    }

    /// The format a path's name states outright (`.csv`, `.tsv`, either
    /// `.gz`, `.parquet`, `.pq`), if any: what an output's name must say.
    pub fn named(path: &Path) -> Option<Format> {
        match extensions(path) {
            (Some(e), false) if e == "parquet" || e == "pq" => Some(Format::Parquet),
            (Some(e), gzip) if e == "csv" => Some(Format::Csv { delimiter: b',', gzip }),
            (Some(e), gzip) if e == "tsv" => Some(Format::Csv { delimiter: b'\t', gzip }),
            _ => None,
        }
    }
}

/// A path's extension, lower case, and whether a `.gz` came after it.
fn extensions(path: &Path) -> (Option<String>, bool) {
    let extension = |p: &Path| p.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
    match extension(path).as_deref() {
        Some("gz") => (path.file_stem().map(Path::new).and_then(extension), true),
        e => (e.map(String::from), false),
    }
}

/// The one-line refusal of a format findmatches does not read.
fn unsupported(path: &Path, what: &str) -> Error {
    ErrorKind::UnsupportedFormat { path: path.to_path_buf(), what: what.to_string(), formats: FORMATS }.into()
}

/// What the first bytes of a file say it is, whatever its name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Magic {
    Parquet,
    Gzip,
    /// A zip archive: an `.xlsx` or `.ods` workbook, most likely.
    Zip,
    /// An OLE2 compound file: an `.xls` workbook.
    Ole2,
    Text,
}

fn magic(head: &[u8]) -> Magic {
    match head {
        [b'P', b'A', b'R', b'1', ..] => Magic::Parquet,
        [0x1f, 0x8b, ..] => Magic::Gzip,
        [b'P', b'K', 3, 4, ..] => Magic::Zip,
        [0xd0, 0xcf, 0x11, 0xe0, ..] => Magic::Ole2,
        _ => Magic::Text,
    }
}

/// What to do with a row that cannot be read (ragged, not UTF-8, a NUL
/// byte) or keyed (an empty or repeated primary key).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum BadRows {
    /// Stop with an error naming the file, line and column.
    #[default]
    Fail,
    /// Leave the row out and report it as a [`Rejected`] row. Of rows
    /// sharing a key, the first is kept.
    Skip,
}

/// A row left out under [`BadRows::Skip`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejected {
    /// The file.
    pub path: PathBuf,
    /// Where in it (line of a text file, row of a Parquet file; the
    /// column when one is at fault).
    pub position: Position,
    /// What is wrong.
    pub problem: String,
}

/// Write rejected rows as CSV (`file,line,row,column,problem`), atomically.
pub fn write_rejects(path: &Path, rejects: &[Rejected]) -> Result<()> {
    let number = |n: Option<u64>| n.map(|n| n.to_string()).unwrap_or_default();
    let header = ["file", "line", "row", "column", "problem"].map(String::from);
    let rows = rejects.iter().map(|r| {
        [
            r.path.display().to_string(),
            number(r.position.line),
            number(r.position.row),
            r.position.column.clone().unwrap_or_default(),
            r.problem.clone(),
        ]
    });
    crate::durable::atomic_csv(path, std::iter::once(header).chain(rows))
}

/// A table of records: the data as arrow columns, plus where each row came
/// from so errors can point at it.
#[derive(Clone, Debug)]
pub struct Table {
    name: PathBuf,
    batch: RecordBatch,
    /// Text: each row's line.
    lines: Option<Vec<u64>>,
    /// Columnar, once rows were left out: each row's 0-based row in the
    /// data as read (else its index).
    rows: Option<Vec<u64>>,
    /// A directory's part files: each one's name and first row (0-based,
    /// in the data as read), in order.
    parts: Vec<(String, u64)>,
}

impl Table {
    /// Wrap an in-memory batch; `name` labels it in error messages.
    pub fn from_batch(name: impl Into<PathBuf>, batch: RecordBatch) -> Table {
        Table { name: name.into(), batch, lines: None, rows: None, parts: Vec::new() }
    }

    /// Read a CSV or Parquet file, by extension; any unreadable row is an
    /// error.
    pub fn read(path: &Path) -> Result<Table> {
        Ok(Table::read_rows(path, BadRows::Fail)?.0)
    }

    /// Read a CSV or Parquet file, by extension, with unreadable rows
    /// handled as `policy` says; returns the rows left out.
    pub fn read_rows(path: &Path, policy: BadRows) -> Result<(Table, Vec<Rejected>)> {
        if path == Path::new(STDIO) {
            let mut bytes = Vec::new();
            std::io::stdin().read_to_end(&mut bytes).map_err(|e| Error::io(path, e))?;
            return read_bytes(path, bytes, b',', policy);
        }
        if path.is_dir() {
            return Ok((read_parquet_dir(path)?, Vec::new()));
        }
        let format = Format::of(path)?;
        let mut head = [0u8; 4];
        let n = File::open(path).and_then(|mut f| f.read(&mut head)).map_err(|e| Error::io(path, e))?;
        let magic = magic(&head[..n]);
        match (magic, format) {
            (Magic::Parquet, _) | (_, Format::Parquet) => Ok((read_parquet(path)?, Vec::new())),
            (Magic::Gzip, Format::Csv { delimiter, .. }) => {
                let file = File::open(path).map_err(|e| Error::io(path, e))?;
                read_bytes(path, gunzip(path, std::io::BufReader::new(file))?, delimiter, policy)
            }
            (magic, Format::Csv { delimiter, .. }) => {
                refuse(path, magic)?;
                read_csv(path, Text::File, delimiter, policy)
            }
        }
    }

    /// The table without the rows whose primary key (`column`) is empty or
    /// repeats an earlier row's, under [`BadRows::Skip`]; under
    /// [`BadRows::Fail`], the first such row is an error.
    pub fn with_valid_keys(self, column: &str, policy: BadRows) -> Result<(Table, Vec<Rejected>)> {
        if policy == BadRows::Fail {
            self.keys(column)?;
            return Ok((self, Vec::new()));
        }
        let values = self.strings(column)?;
        let mut seen: std::collections::HashSet<&str> = std::collections::HashSet::new();
        let mut keep = Vec::with_capacity(values.len());
        let mut rejects = Vec::new();
        for row in 0..values.len() {
            let key = if values.is_null(row) { "" } else { values.value(row).trim() };
            let problem = if key.is_empty() {
                Some("empty primary key".to_string())
            } else if !seen.insert(key) {
                Some(format!("duplicate primary key '{key}' (an earlier row has it)"))
            } else {
                None
            };
            keep.push(problem.is_none());
            if let Some(problem) = problem {
                rejects.push(Rejected {
                    path: self.name.clone(),
                    position: self.position(row).with_column(column),
                    problem,
                });
            }
        }
        if rejects.is_empty() {
            return Ok((self, rejects));
        }
        let mask = arrow_array::BooleanArray::from(keep.clone());
        let batch = arrow_select::filter::filter_record_batch(&self.batch, &mask)
            .map_err(|e| Error::data(&self.name, Position::default(), e.to_string()))?;
        let kept = |numbers: Vec<u64>| -> Vec<u64> {
            numbers.into_iter().zip(&keep).filter(|(_, k)| **k).map(|(n, _)| n).collect()
        };
        let rows = match &self.lines {
            Some(_) => None,
            None => Some(kept(self.rows.clone().unwrap_or_else(|| (0..keep.len() as u64).collect()))),
        };
        let lines = self.lines.map(kept);
        if batch.num_rows() == 0 {
            return Err(Error::data(
                &self.name,
                Position::default(),
                "no records left after skipping bad rows",
            ));
        }
        Ok((Table { name: self.name, batch, lines, rows, parts: self.parts }, rejects))
    }

    /// The file (or name) the table came from.
    pub fn path(&self) -> &Path {
        &self.name
    }

    /// The data.
    pub fn batch(&self) -> &RecordBatch {
        &self.batch
    }

    /// Number of rows.
    pub fn num_rows(&self) -> usize {
        self.batch.num_rows()
    }

    /// Column names, in order.
    pub fn headers(&self) -> Vec<String> {
        self.batch.schema().fields().iter().map(|f| f.name().clone()).collect()
    }

    /// Where row `row` (0-based) is in the source file.
    pub fn position(&self, row: usize) -> Position {
        if let Some(lines) = &self.lines {
            return Position::line(lines[row]);
        }
        let row = self.rows.as_ref().map_or(row as u64, |rows| rows[row]);
        match self.parts.partition_point(|(_, first)| *first <= row).checked_sub(1) {
            Some(part) => {
                let (name, first) = &self.parts[part];
                Position { part: Some(name.clone()), ..Position::row(row - first + 1) }
            }
            None => Position::row(row + 1),
        }
    }

    /// A column as strings (numbers and dates formatted), by name.
    pub fn strings(&self, column: &str) -> Result<StringArray> {
        let index = self.batch.schema().index_of(column).map_err(|_| {
            Error::data(
                &self.name,
                Position::default(),
                format!("no column '{column}' (columns: {})", self.headers().join(", ")),
            )
        })?;
        to_strings(self.batch.column(index)).ok_or_else(|| {
            Error::data(
                &self.name,
                Position::default().with_column(column),
                format!(
                    "unsupported column type {}; use strings, numbers, booleans or dates",
                    self.batch.column(index).data_type()
                ),
            )
        })
    }

    /// The primary key of every row, checked: present, non-empty, unique.
    pub fn keys(&self, column: &str) -> Result<Vec<String>> {
        let values = self.strings(column)?;
        let key = |row: usize| if values.is_null(row) { "" } else { values.value(row).trim() };
        if let Some(row) = (0..values.len()).into_par_iter().find_first(|&row| key(row).is_empty()) {
            return Err(Error::data(&self.name, self.position(row).with_column(column), "empty primary key"));
        }
        // Duplicates: sorted, equal keys are neighbours. Report the pair
        // whose second row comes first, as a scan of the file would.
        let mut sorted: Vec<(&str, usize)> =
            (0..values.len()).into_par_iter().map(|row| (key(row), row)).collect();
        sorted.par_sort_unstable();
        let duplicate = sorted
            .par_windows(2)
            .filter(|w| w[0].0 == w[1].0)
            .map(|w| (w[1].1, w[0].1))
            .min_by_key(|&(second, _)| second);
        if let Some((second, _)) = duplicate {
            let text = key(second);
            let first = sorted.iter().find(|(k, _)| *k == text).map_or(second, |&(_, row)| row);
            return Err(crate::error::ErrorKind::DuplicateKey {
                path: self.name.clone(),
                column: column.to_string(),
                key: text.to_string(),
                first: self.position(first),
                second: self.position(second),
            }
            .into());
        }
        Ok((0..values.len()).into_par_iter().map(|row| key(row).to_string()).collect())
    }
}

/// Convert a column of a common type to strings; `None` for types that
/// have no sensible text form.
fn to_strings(array: &ArrayRef) -> Option<StringArray> {
    fn build<T: ToString>(array: &dyn Array, value: impl Fn(usize) -> T) -> StringArray {
        (0..array.len()).map(|i| if array.is_null(i) { None } else { Some(value(i).to_string()) }).collect()
    }
    let a = array.as_ref();
    Some(match array.data_type() {
        DataType::Utf8 => a.as_string::<i32>().clone(),
        DataType::LargeUtf8 => a.as_string::<i64>().iter().collect(),
        DataType::Utf8View => a.as_string_view().iter().collect(),
        DataType::Boolean => build(a, |i| a.as_boolean().value(i)),
        DataType::Int8 => build(a, |i| a.as_primitive::<Int8Type>().value(i)),
        DataType::Int16 => build(a, |i| a.as_primitive::<Int16Type>().value(i)),
        DataType::Int32 => build(a, |i| a.as_primitive::<Int32Type>().value(i)),
        DataType::Int64 => build(a, |i| a.as_primitive::<Int64Type>().value(i)),
        DataType::UInt8 => build(a, |i| a.as_primitive::<UInt8Type>().value(i)),
        DataType::UInt16 => build(a, |i| a.as_primitive::<UInt16Type>().value(i)),
        DataType::UInt32 => build(a, |i| a.as_primitive::<UInt32Type>().value(i)),
        DataType::UInt64 => build(a, |i| a.as_primitive::<UInt64Type>().value(i)),
        DataType::Float32 => build(a, |i| a.as_primitive::<Float32Type>().value(i)),
        DataType::Float64 => build(a, |i| a.as_primitive::<Float64Type>().value(i)),
        DataType::Date32 => build(a, |i| {
            let (y, m, d) = crate::calendar::civil_from_days(a.as_primitive::<Date32Type>().value(i));
            format!("{y:04}-{m:02}-{d:02}")
        }),
        _ => return None,
    })
}

/// Text to read as CSV: the file at the path, or bytes already read
/// (decompressed, or from standard input).
enum Text {
    File,
    Memory(Vec<u8>),
}

/// Bytes of standard input or a gzipped file, read whole: Parquet, gzip
/// (decompressed, then read again) or CSV by their first bytes; standard
/// input's CSV delimiter is a tab when its first line has tabs and no
/// commas, else `delimiter`.
fn read_bytes(path: &Path, bytes: Vec<u8>, delimiter: u8, policy: BadRows) -> Result<(Table, Vec<Rejected>)> {
    let magic = magic(&bytes);
    refuse(path, magic)?;
    match magic {
        Magic::Parquet => Ok((parquet_table(path, bytes::Bytes::from(bytes))?, Vec::new())),
        Magic::Gzip => read_bytes(path, gunzip(path, &bytes[..])?, delimiter, policy),
        _ => {
            let first = bytes.split(|&b| b == b'\n').next().unwrap_or_default();
            let delimiter = if path == Path::new(STDIO) && first.contains(&b'\t') && !first.contains(&b',') {
                b'\t'
            } else {
                delimiter
            };
            read_csv(path, Text::Memory(bytes), delimiter, policy)
        }
    }
}

/// Refuse what the first bytes say is a workbook or an archive.
fn refuse(path: &Path, magic: Magic) -> Result<()> {
    match magic {
        Magic::Zip => Err(unsupported(path, "a zip archive (an Excel or OpenDocument workbook?)")),
        Magic::Ole2 => Err(unsupported(path, "an Excel workbook")),
        _ => Ok(()),
    }
}

/// The text of gzipped bytes (every member, as `zcat` gives it).
fn gunzip(path: &Path, compressed: impl Read) -> Result<Vec<u8>> {
    let mut text = Vec::new();
    flate2::read::MultiGzDecoder::new(compressed)
        .read_to_end(&mut text)
        .map_err(|e| Error::data(path, Position::default(), format!("not readable as gzip: {e}")))?;
    Ok(text)
}

fn read_csv(path: &Path, text: Text, delimiter: u8, policy: BadRows) -> Result<(Table, Vec<Rejected>)> {
    let (source, text_len): (Box<dyn Read + '_>, u64) = match &text {
        Text::File => {
            let file = File::open(path).map_err(|e| Error::io(path, e))?;
            let len = file.metadata().map_err(|e| Error::io(path, e))?.len();
            (Box::new(std::io::BufReader::with_capacity(1 << 20, file)), len)
        }
        Text::Memory(bytes) => (Box::new(&bytes[..]), bytes.len() as u64),
    };
    let file_len = text_len;
    let mut reader =
        csv::ReaderBuilder::new().delimiter(delimiter).has_headers(true).flexible(true).from_reader(source);
    let header_record = reader.byte_headers().map_err(|e| csv_error(path, e))?.clone();
    if header_record.is_empty() || (header_record.len() == 1 && header_record[0].is_empty()) {
        return Err(Error::data(path, Position::line(1), "empty file: no header row"));
    }
    let mut headers = Vec::with_capacity(header_record.len());
    for (i, raw) in header_record.iter().enumerate() {
        let raw = if i == 0 { raw.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(raw) } else { raw };
        let name = std::str::from_utf8(raw).map_err(|_| {
            Error::data(path, Position::line(1), format!("header {} is not valid UTF-8", i + 1))
        })?;
        let name = name.trim().to_string();
        if name.is_empty() {
            return Err(Error::data(path, Position::line(1), format!("header {} is empty", i + 1)));
        }
        if headers.contains(&name) {
            return Err(Error::data(
                path,
                Position::line(1),
                format!("column '{name}' appears twice in the header"),
            ));
        }
        headers.push(name);
    }
    let mut builders: Vec<StringBuilder> = headers.iter().map(|_| StringBuilder::new()).collect();
    let mut lines = Vec::new();
    let mut rejects = Vec::new();
    let mut record = csv::ByteRecord::new();
    let mut last_start = None;
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => return Err(csv_error(path, e)),
        }
        let line = record.position().map_or(0, |p| p.line());
        last_start = record.position().map(|p| (p.byte(), line));
        if let Some((position, problem)) = row_problem(&record, &headers, line) {
            // A quote never closed makes the last record ragged: say so.
            if let (true, Some((byte, line))) = (reader.position().byte() >= file_len, last_start) {
                check_closed_quotes(path, &text, byte, line)?;
            }
            match policy {
                BadRows::Fail => return Err(Error::data(path, position, problem)),
                BadRows::Skip => {
                    rejects.push(Rejected { path: path.to_path_buf(), position, problem });
                    continue;
                }
            }
        }
        for (col, field) in record.iter().enumerate() {
            match std::str::from_utf8(field) {
                Ok(text) if !text.is_empty() => builders[col].append_value(text),
                _ => builders[col].append_null(),
            }
        }
        lines.push(line);
    }
    drop(reader);
    if let Some((byte, line)) = last_start {
        check_closed_quotes(path, &text, byte, line)?;
    }
    if lines.is_empty() {
        let what =
            if rejects.is_empty() { "no records: the file has only a header" } else { "no readable records" };
        return Err(Error::data(path, Position::line(1), what));
    }
    let fields: Vec<Field> = headers.iter().map(|h| Field::new(h, DataType::Utf8, true)).collect();
    let columns: Vec<ArrayRef> = builders.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef).collect();
    let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)
        .map_err(|e| Error::data(path, Position::default(), e.to_string()))?;
    Ok((
        Table { name: path.to_path_buf(), batch, lines: Some(lines), rows: None, parts: Vec::new() },
        rejects,
    ))
}

/// A quoted field opened and never closed makes the CSV parser read the
/// rest of the file as one field, silently. That can only happen to the
/// last record: it then spans several lines and holds an odd number of
/// quotes from its start (`byte`, on `line`) to the end of the file.
fn check_closed_quotes(path: &Path, text: &Text, byte: u64, line: u64) -> Result<()> {
    use std::io::{Seek, SeekFrom};
    let mut tail = Vec::new();
    match text {
        Text::File => {
            let mut file = File::open(path).map_err(|e| Error::io(path, e))?;
            file.seek(SeekFrom::Start(byte)).map_err(|e| Error::io(path, e))?;
            file.read_to_end(&mut tail).map_err(|e| Error::io(path, e))?;
        }
        Text::Memory(bytes) => tail.extend_from_slice(&bytes[(byte as usize).min(bytes.len())..]),
    }
    let body = tail.strip_suffix(b"\n").unwrap_or(&tail);
    let body = body.strip_suffix(b"\r").unwrap_or(body);
    let quotes = body.iter().filter(|&&b| b == b'"').count();
    if body.contains(&b'\n') && quotes % 2 == 1 {
        return Err(Error::data(
            path,
            Position::line(line),
            "a quoted field opened here is never closed (the rest of the file would be one field)",
        ));
    }
    Ok(())
}

/// What makes a CSV record unreadable, if anything: a field count other
/// than the header's, bytes that are not UTF-8, a NUL byte.
fn row_problem(record: &csv::ByteRecord, headers: &[String], line: u64) -> Option<(Position, String)> {
    if record.len() != headers.len() {
        return Some((
            Position::line(line),
            format!("{} fields where the header has {}", record.len(), headers.len()),
        ));
    }
    for (col, field) in record.iter().enumerate() {
        let at = || Position::line(line).with_column(&headers[col]);
        match std::str::from_utf8(field) {
            Err(e) => {
                return Some((at(), format!("not valid UTF-8 (byte {} of the field)", e.valid_up_to() + 1)))
            }
            Ok(text) if text.contains('\0') => return Some((at(), "contains a NUL byte".to_string())),
            Ok(_) => {}
        }
    }
    None
}

fn csv_error(path: &Path, err: csv::Error) -> Error {
    let position = err.position().map(|p| Position::line(p.line())).unwrap_or_default();
    match err.into_kind() {
        csv::ErrorKind::Io(e) => Error::io(path, e),
        csv::ErrorKind::UnequalLengths { expected_len, len, .. } => {
            Error::data(path, position, format!("{len} fields where the header has {expected_len}"))
        }
        other => Error::data(path, position, format!("{other:?}")),
    }
}

fn read_parquet(path: &Path) -> Result<Table> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    parquet_table(path, file)
}

/// A directory of Parquet part files (`part-00000-….parquet`, as Spark and
/// Glue write a table), read in name order as one table. Hidden files and
/// Spark's markers (`_SUCCESS`, `.crc` files) are skipped; every part must
/// have the same columns.
fn read_parquet_dir(dir: &Path) -> Result<Table> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .filter_map(|entry| entry.ok())
        .filter(|entry| entry.file_type().is_ok_and(|t| t.is_file()))
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| !name.starts_with(['.', '_']) && !name.ends_with(".crc"))
        .collect();
    names.sort();
    let parquet: Vec<&String> =
        names.iter().filter(|n| matches!(Format::of(Path::new(n.as_str())), Ok(Format::Parquet))).collect();
    if parquet.is_empty() || parquet.len() < names.len() {
        let what = if names.is_empty() {
            "an empty directory".to_string()
        } else if parquet.is_empty() {
            format!("a directory without Parquet files (holds {})", names[0])
        } else {
            let other = names.iter().find(|n| !parquet.contains(n)).map_or("", String::as_str);
            format!("a directory holding other files than Parquet parts ({other})")
        };
        return Err(unsupported(dir, &what));
    }
    let mut batches = Vec::with_capacity(parquet.len());
    let mut parts = Vec::with_capacity(parquet.len());
    let mut first = 0u64;
    for name in parquet {
        let table = read_parquet(&dir.join(name))?;
        if let Some(earlier) = batches.first().map(RecordBatch::schema) {
            if table.batch.schema().fields() != earlier.fields() {
                return Err(Error::data(
                    dir.join(name),
                    Position::default(),
                    format!("its columns differ from the first part's ({})", parts_columns(&earlier)),
                ));
            }
        }
        parts.push((name.clone(), first));
        first += table.batch.num_rows() as u64;
        batches.push(table.batch);
    }
    let schema = batches[0].schema();
    let batch = arrow_select::concat::concat_batches(&schema, &batches)
        .map_err(|e| Error::data(dir, Position::default(), e.to_string()))?;
    Ok(Table { name: dir.to_path_buf(), batch, lines: None, rows: None, parts })
}

fn parts_columns(schema: &Schema) -> String {
    schema.fields().iter().map(|f| f.name().as_str()).collect::<Vec<_>>().join(", ")
}

/// A Parquet file's rows, from a file or bytes in memory.
fn parquet_table<R: parquet::file::reader::ChunkReader + 'static>(path: &Path, data: R) -> Result<Table> {
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let corrupt = |e: &dyn std::fmt::Display| Error::data(path, Position::default(), e.to_string());
    let file_len = data.len();
    let builder = ParquetRecordBatchReaderBuilder::try_new(data).map_err(|e| corrupt(&e))?;
    // The parquet crate panics on a column chunk whose byte range is
    // negative (found by fuzzing); check every range against the file.
    for (g, group) in builder.metadata().row_groups().iter().enumerate() {
        for (c, column) in group.columns().iter().enumerate() {
            let start = column.dictionary_page_offset().unwrap_or(column.data_page_offset());
            let length = column.compressed_size();
            if start < 0 || length < 0 || start.saturating_add(length) as u64 > file_len {
                return Err(Error::data(
                    path,
                    Position::default(),
                    format!("corrupt Parquet file: column chunk {c} of row group {g} lies outside the file"),
                ));
            }
        }
    }
    let schema = builder.schema().clone();
    let reader = builder.build().map_err(|e| corrupt(&e))?;
    // Its decoders can still panic on damaged pages (fuzzing found one in
    // definition levels); a damaged file is a data error, not a crash.
    let decoded = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        reader.collect::<std::result::Result<Vec<_>, _>>()
    }))
    .map_err(|payload| {
        let why = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        corrupt(&format!("corrupt Parquet file (its decoder failed: {why})"))
    })?;
    let batches = decoded.map_err(|e| corrupt(&e))?;
    let batch = arrow_select::concat::concat_batches(&schema, &batches).map_err(|e| corrupt(&e))?;
    if batch.num_columns() == 0 {
        return Err(Error::data(path, Position::default(), "no columns"));
    }
    if batch.num_rows() == 0 {
        return Err(Error::data(path, Position::default(), "no records"));
    }
    Ok(Table { name: path.to_path_buf(), batch, lines: None, rows: None, parts: Vec::new() })
}

/// The names of `paths`, for messages.
pub fn describe(paths: &[PathBuf]) -> String {
    paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn write(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> PathBuf {
        let path = dir.path().join(name);
        File::create(&path).unwrap().write_all(bytes).unwrap();
        path
    }

    #[test]
    fn formats_follow_the_name_and_refuse_what_is_not_read() {
        let of = |name: &str| Format::of(Path::new(name));
        assert_eq!(of("a.csv").unwrap(), Format::Csv { delimiter: b',', gzip: false });
        assert_eq!(of("a.TSV").unwrap(), Format::Csv { delimiter: b'\t', gzip: false });
        assert_eq!(of("a.csv.gz").unwrap(), Format::Csv { delimiter: b',', gzip: true });
        assert_eq!(of("a.tsv.gz").unwrap(), Format::Csv { delimiter: b'\t', gzip: true });
        assert_eq!(of("a.txt").unwrap(), Format::Csv { delimiter: b',', gzip: false });
        assert_eq!(of("part-0.snappy.parquet").unwrap(), Format::Parquet);
        assert_eq!(Format::named(Path::new("a.tsv.gz")), Some(Format::Csv { delimiter: b'\t', gzip: true }));
        assert_eq!(Format::named(Path::new("a.txt")), None);
        assert_eq!(Format::named(Path::new("a.parquet.gz")), None);
        for name in ["a.xlsx", "a.XLS", "a.json", "a.jsonl", "a.parquet.gz"] {
            let err = of(name).unwrap_err().to_string();
            assert!(err.starts_with(&format!("{name}: ")) && err.contains("it reads CSV"), "{err}");
        }
    }

    #[test]
    fn reads_csv_with_bom_and_missing_values() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(&dir, "a.csv", b"\xEF\xBB\xBFid,name\n1,ann\n2,\n");
        let table = Table::read(&path).unwrap();
        assert_eq!(table.headers(), vec!["id", "name"]);
        let names = table.strings("name").unwrap();
        assert_eq!(names.value(0), "ann");
        assert!(names.is_null(1));
        assert_eq!(table.keys("id").unwrap(), vec!["1", "2"]);
    }

    #[test]
    fn ragged_row_names_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(&dir, "a.csv", b"id,name\n1,ann\n2,bob,extra\n");
        let err = Table::read(&path).unwrap_err().to_string();
        assert!(err.contains("a.csv: line 3") && err.contains("3 fields"), "{err}");
    }

    #[test]
    fn bad_utf8_names_line_and_column() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(&dir, "a.csv", b"id,name\n1,ann\n2,b\xffb\n");
        let err = Table::read(&path).unwrap_err().to_string();
        assert!(err.contains("line 3, column 'name'"), "{err}");
    }

    #[test]
    fn a_quote_never_closed_is_an_error_and_odd_quotes_elsewhere_are_not() {
        let dir = tempfile::tempdir().unwrap();
        let fine = write(&dir, "a.csv", b"id,name\n1,O\"Neil\n2,\"two\nlines\"\n3,\"a \"\"b\"\" c\"\n");
        let table = Table::read(&fine).unwrap();
        assert_eq!(table.strings("name").unwrap().value(1), "two\nlines");
        let open = write(&dir, "b.csv", b"id,name\n1,ann\n2,\"bob\n3,cy\n");
        let err = Table::read(&open).unwrap_err().to_string();
        assert!(err.contains("b.csv: line 3") && err.contains("never closed"), "{err}");
    }

    #[test]
    fn empty_and_header_only_files_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let empty = write(&dir, "e.csv", b"");
        assert!(Table::read(&empty).unwrap_err().to_string().contains("empty file"));
        let header = write(&dir, "h.csv", b"id,name\n");
        assert!(Table::read(&header).unwrap_err().to_string().contains("only a header"));
    }

    #[test]
    fn duplicate_and_empty_keys_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(&dir, "a.csv", b"id,name\n1,ann\n2,bob\n1,cy\n");
        let err = Table::read(&path).unwrap().keys("id").unwrap_err().to_string();
        assert!(err.contains("duplicate primary key '1'") && err.contains("line 2 and line 4"), "{err}");
        let path = write(&dir, "b.csv", b"id,name\n1,ann\n,bob\n");
        let err = Table::read(&path).unwrap().keys("id").unwrap_err().to_string();
        assert!(err.contains("line 3, column 'id': empty primary key"), "{err}");
    }
}
