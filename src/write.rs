//! Write: a `RecordBatch` to CSV, TSV (optionally gzipped) or Parquet, by
//! extension or as asked, atomically (through [`crate::durable`]), or to
//! standard output (`-`) for a pipeline.

use std::io::Write;
use std::path::Path;

use arrow_array::{Array, RecordBatch};

use crate::durable::atomic_write;
use crate::error::{Error, Result};
use crate::read::{Format, Table, STDIO};

/// Write a batch to `path` in `format` (by default the one its extension
/// names; CSV for standard output), atomically.
pub fn write_batch(path: &Path, batch: &RecordBatch, format: Option<Format>) -> Result<()> {
    let format = match format {
        Some(format) => format,
        None if path == Path::new(STDIO) => Format::Csv { delimiter: b',', gzip: false },
        None => Format::of(path)?,
    };
    if path == Path::new(STDIO) {
        let mut out = std::io::BufWriter::with_capacity(1 << 20, std::io::stdout());
        write_to(&mut out, path, batch, format)?;
        return out.flush().map_err(|e| Error::io(path, e));
    }
    atomic_write(path, |w| write_to(w, path, batch, format))
}

fn write_to<W: Write + Send>(w: &mut W, path: &Path, batch: &RecordBatch, format: Format) -> Result<()> {
    match format {
        Format::Parquet => {
            // Row groups of 128k rows: a reader (a Spark task, a baseline
            // lookup) can take a part of a large file.
            let properties = parquet::file::properties::WriterProperties::builder()
                .set_compression(parquet::basic::Compression::SNAPPY)
                .set_max_row_group_row_count(Some(1 << 17))
                .build();
            let mut writer = parquet::arrow::ArrowWriter::try_new(w, batch.schema(), Some(properties))
                .map_err(|e| Error::data(path, Default::default(), e.to_string()))?;
            writer
                .write(batch)
                .and_then(|_| writer.close().map(|_| ()))
                .map_err(|e| Error::data(path, Default::default(), e.to_string()))
        }
        Format::Csv { delimiter, gzip: true } => {
            let mut encoder = flate2::write::GzEncoder::new(w, flate2::Compression::fast());
            write_csv(&mut encoder, path, batch, delimiter)?;
            encoder.finish().map(|_| ()).map_err(|e| Error::io(path, e))
        }
        Format::Csv { delimiter, gzip: false } => write_csv(w, path, batch, delimiter),
    }
}

fn write_csv<W: Write>(w: W, path: &Path, batch: &RecordBatch, delimiter: u8) -> Result<()> {
    let mut out = csv::WriterBuilder::new().delimiter(delimiter).from_writer(w);
    let table = Table::from_batch(path, batch.clone());
    let headers = table.headers();
    let columns = headers.iter().map(|h| table.strings(h)).collect::<Result<Vec<_>>>()?;
    let io = |e: csv::Error| match e.into_kind() {
        csv::ErrorKind::Io(e) => Error::io(path, e),
        other => Error::data(path, Default::default(), format!("{other:?}")),
    };
    out.write_record(&headers).map_err(io)?;
    let mut row: Vec<&str> = Vec::with_capacity(columns.len());
    for i in 0..batch.num_rows() {
        row.clear();
        row.extend(columns.iter().map(|c| if c.is_null(i) { "" } else { c.value(i) }));
        out.write_record(&row).map_err(io)?;
    }
    out.flush().map_err(|e| Error::io(path, e))
}
