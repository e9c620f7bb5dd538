//! Resources: whether an input fits in memory before a run starts.
//!
//! A run holds every record at once (blocking must see them all), so its
//! peak memory follows the input's size: measured at about 8 bytes per
//! byte of CSV (1M generated records, 120 MB of CSV: dedup peaked at
//! 954 MB). Rather than be killed by the kernel an hour in, a run
//! whose estimate exceeds the memory available stops before reading, with
//! a message saying what to do. The check reads file sizes (and a Parquet
//! footer), nothing more.

use std::path::Path;

use crate::error::{Error, ErrorKind, Result};
use crate::read::{Format, STDIO};

/// Peak memory per byte of uncompressed input, with a margin of half
/// over the measured 8.
pub const MEMORY_PER_INPUT_BYTE: u64 = 12;

/// Bytes of data of one input: a text file's size (a gzipped one's
/// uncompressed size, from its trailer); a Parquet file's uncompressed size
/// from its footer (its file size when the footer cannot be read: reading
/// it later reports why); a directory's parts summed; 0 for standard input
/// (its size is not known before it is read).
pub fn input_bytes(path: &Path) -> Result<u64> {
    if path == Path::new(STDIO) {
        return Ok(0);
    }
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if meta.is_dir() {
        let entries = std::fs::read_dir(path).map_err(|e| Error::io(path, e))?;
        return Ok(entries.filter_map(|e| e.ok()).filter_map(|e| input_bytes(&e.path()).ok()).sum());
    }
    let file_size = meta.len();
    match Format::of(path) {
        Ok(Format::Parquet) => {
            let uncompressed = std::fs::File::open(path).ok().and_then(|file| {
                use parquet::file::reader::FileReader;
                let reader = parquet::file::reader::SerializedFileReader::new(file).ok()?;
                let groups = reader.metadata().row_groups();
                Some(groups.iter().map(|g| g.total_byte_size().max(0) as u64).sum::<u64>())
            });
            Ok(uncompressed.unwrap_or(0).max(file_size))
        }
        // The trailer holds the size modulo 2^32: past 4 GiB, or for text
        // that shrank less than it could, assume a fourfold ratio.
        Ok(Format::Csv { gzip: true, .. }) => {
            Ok(gzip_size(path).unwrap_or(0).max(file_size.saturating_mul(4)))
        }
        _ => Ok(file_size),
    }
}

/// The uncompressed size a gzip file's trailer records (modulo 2^32).
fn gzip_size(path: &Path) -> Option<u64> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = std::fs::File::open(path).ok()?;
    file.seek(SeekFrom::End(-4)).ok()?;
    let mut trailer = [0u8; 4];
    file.read_exact(&mut trailer).ok()?;
    Some(u32::from_le_bytes(trailer) as u64)
}

/// Memory this process may still take: the kernel's `MemAvailable`, or
/// less if a cgroup (a container's limit) allows less. `None` where
/// neither can be read (not Linux).
pub fn memory_available() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok();
    let available = meminfo.as_deref().and_then(|text| {
        let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
        let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kb * 1024)
    });
    let read = |name: &str| -> Option<u64> {
        std::fs::read_to_string(Path::new("/sys/fs/cgroup").join(name)).ok()?.trim().parse().ok()
    };
    let cgroup = match (read("memory.max"), read("memory.current")) {
        (Some(max), Some(current)) => Some(max.saturating_sub(current)),
        _ => None,
    };
    match (available, cgroup) {
        (Some(a), Some(c)) => Some(a.min(c)),
        (a, c) => a.or(c),
    }
}

/// Fail before reading if matching `inputs` would need more than `limit`
/// bytes of memory; `limit_source` says where the limit came from.
pub fn check_memory(inputs: &[impl AsRef<Path>], limit: u64, limit_source: &str) -> Result<()> {
    let mut input = 0u64;
    let mut largest = (0u64, inputs.first().map(AsRef::as_ref));
    for path in inputs.iter().map(AsRef::as_ref) {
        let bytes = input_bytes(path)?;
        input += bytes;
        if bytes >= largest.0 {
            largest = (bytes, Some(path));
        }
    }
    let needed = input.saturating_mul(MEMORY_PER_INPUT_BYTE);
    match largest.1 {
        Some(path) if needed > limit => Err(ErrorKind::TooLarge {
            path: path.to_path_buf(),
            input,
            needed,
            limit,
            limit_source: limit_source.to_string(),
        }
        .into()),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_over_the_limit_are_refused_before_reading() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("in.csv");
        std::fs::write(&path, vec![b'x'; 1000]).unwrap();
        assert!(check_memory(&[&path], 12_000, "limit").is_ok());
        let err = check_memory(&[&path, &path], 12_000, "limit (--max-memory)").unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with(&format!("{}: matching 1 MB", path.display())), "{text}");
        assert!(text.contains("limit (--max-memory)"), "{text}");
        assert!(memory_available().is_none_or(|m| m > 0));
    }
}
