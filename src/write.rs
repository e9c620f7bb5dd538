//! Write: a `RecordBatch` to CSV or Parquet (by extension), atomically
//! (through [`crate::durable`]).

use std::path::Path;

use arrow_array::{Array, RecordBatch};

use crate::durable::atomic_write;
use crate::error::{Error, Result};
use crate::read::{Format, Table};

/// Write a batch to `path` as CSV or Parquet, by extension, atomically.
pub fn write_batch(path: &Path, batch: &RecordBatch) -> Result<()> {
    match Format::of(path) {
        Format::Parquet => atomic_write(path, |w| {
            let properties = parquet::file::properties::WriterProperties::builder()
                .set_compression(parquet::basic::Compression::SNAPPY)
                .build();
            let mut writer = parquet::arrow::ArrowWriter::try_new(w, batch.schema(), Some(properties))
                .map_err(|e| Error::data(path, Default::default(), e.to_string()))?;
            writer
                .write(batch)
                .and_then(|_| writer.close().map(|_| ()))
                .map_err(|e| Error::data(path, Default::default(), e.to_string()))
        }),
        Format::Csv { delimiter } => atomic_write(path, |w| {
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
        }),
    }
}
