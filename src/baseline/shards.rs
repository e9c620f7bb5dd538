//! Key shards: a generation's key table (the same (key, baseline row)
//! entries as its `keys.bin`) as Parquet files Spark can read, split by
//! the key's top bits so that a run reads only the shards its new
//! records' keys fall in.
//!
//! ```text
//! g000001.keys/part-00000.parquet   key (int64: the u64 key's bits), row (int64), sorted by key
//! g000001.keys/part-00001.parquet   ... `key_shards` files in all, a power of two
//! ```
//!
//! Shard `s` of `n` holds the keys whose top `log2(n)` bits are `s`.

use std::path::Path;
use std::sync::Arc;

use arrow_array::{Array, ArrayRef, Int64Array, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, Encoding};
use parquet::file::properties::WriterProperties;
use rayon::prelude::*;

use crate::durable::atomic_write;
use crate::error::{Error, Result};

/// Keys a shard holds, about, before the table is split once more: a
/// shard is a few megabytes of Parquet.
pub const KEYS_PER_SHARD: usize = 1 << 18;
/// Shards per generation, at most.
pub const MAX_SHARDS: usize = 256;
/// The directory suffix of a generation's key shards.
pub const SHARDS_SUFFIX: &str = ".keys";

/// How many shards a generation of `keys` entries is split into.
pub fn shard_count(keys: usize) -> usize {
    keys.div_ceil(KEYS_PER_SHARD).next_power_of_two().clamp(1, MAX_SHARDS)
}

/// The shard of `shards` (a power of two) that holds `key`.
pub fn shard_of(key: u64, shards: usize) -> usize {
    match shards.trailing_zeros() {
        0 => 0,
        bits => (key >> (64 - bits)) as usize,
    }
}

/// A shard's file name within the generation's directory.
pub fn shard_file(shard: usize) -> String {
    format!("part-{shard:05}.parquet")
}

/// Write `pairs` (sorted by key) as `shards` Parquet files in `dir`
/// (which exists); returns the file names, in shard order. Sorted keys
/// and rows are delta-encoded: about 4.5 bytes an entry, where plain
/// Parquet takes 9.5 and `keys.bin` 12.
pub fn write(dir: &Path, pairs: &[(u64, u32)], shards: usize) -> Result<Vec<String>> {
    let properties = WriterProperties::builder()
        .set_dictionary_enabled(false)
        .set_encoding(Encoding::DELTA_BINARY_PACKED)
        .set_compression(Compression::UNCOMPRESSED)
        .build();
    let schema = Arc::new(Schema::new(vec![
        Field::new("key", DataType::Int64, false),
        Field::new("row", DataType::Int64, false),
    ]));
    // Sorted by key, so each shard is a run of the table; written in parallel.
    let mut runs = Vec::with_capacity(shards);
    let mut rest = pairs;
    for shard in 0..shards {
        let len = rest.partition_point(|&(key, _)| shard_of(key, shards) == shard);
        let (mine, after) = rest.split_at(len);
        runs.push((shard, mine));
        rest = after;
    }
    runs.into_par_iter()
        .map(|(shard, mine)| {
            let keys: ArrayRef = Arc::new(Int64Array::from_iter_values(mine.iter().map(|&(k, _)| k as i64)));
            let rows: ArrayRef = Arc::new(Int64Array::from_iter_values(mine.iter().map(|&(_, r)| r as i64)));
            let batch = RecordBatch::try_new(schema.clone(), vec![keys, rows])
                .map_err(|e| Error::usage(e.to_string()))?;
            let name = shard_file(shard);
            let path = dir.join(&name);
            let failed = |e: parquet::errors::ParquetError| Error::io(&path, std::io::Error::other(e));
            atomic_write(&path, |w| {
                let mut writer =
                    ArrowWriter::try_new(w, schema.clone(), Some(properties.clone())).map_err(failed)?;
                writer.write(&batch).map_err(failed)?;
                writer.close().map(drop).map_err(failed)
            })?;
            Ok(name)
        })
        .collect()
}

/// Read one shard file back: its (key, row) entries, in order.
pub fn read(path: &Path) -> Result<Vec<(u64, u32)>> {
    let table = crate::read::Table::read(path)?;
    let column = |name: &str| {
        table
            .batch()
            .column_by_name(name)
            .and_then(|c| c.as_any().downcast_ref::<Int64Array>())
            .cloned()
            .ok_or_else(|| Error::corrupt(path, format!("no int64 column {name}")))
    };
    let (keys, rows) = (column("key")?, column("row")?);
    Ok(keys.values().iter().zip(rows.values()).map(|(&k, &r)| (k as u64, r as u32)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_split_a_sorted_table_by_the_keys_top_bits() {
        assert_eq!(shard_count(0), 1);
        assert_eq!(shard_count(KEYS_PER_SHARD), 1);
        assert_eq!(shard_count(KEYS_PER_SHARD + 1), 2);
        assert_eq!(shard_count(5 * KEYS_PER_SHARD), 8);
        assert_eq!(shard_count(usize::MAX / 2), MAX_SHARDS);
        assert_eq!(shard_of(u64::MAX, 1), 0);
        assert_eq!(shard_of(u64::MAX, 4), 3);
        assert_eq!(shard_of(1 << 62, 4), 1);
        assert_eq!(shard_of((1 << 63) - 1, 2), 0);

        let dir = tempfile::tempdir().unwrap();
        let mut pairs: Vec<(u64, u32)> =
            (0..1000u32).map(|i| ((i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15), i)).collect();
        pairs.sort_unstable();
        let names = write(dir.path(), &pairs, 4).unwrap();
        assert_eq!(
            names,
            ["part-00000.parquet", "part-00001.parquet", "part-00002.parquet", "part-00003.parquet"]
        );
        let mut read = Vec::new();
        for (shard, name) in names.iter().enumerate() {
            let entries = super::read(&dir.path().join(name)).unwrap();
            assert!(!entries.is_empty(), "1000 spread keys leave no shard of 4 empty");
            assert!(entries.iter().all(|&(k, _)| shard_of(k, 4) == shard));
            read.extend(entries);
        }
        assert_eq!(read, pairs, "the shards, in order, are the table");
    }
}
