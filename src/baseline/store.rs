//! Random-access files of one baseline generation, read through mmap so a
//! run touches only the records it needs:
//!
//! - `gNNNNNN.rows.bin`, the row store: each record's stored columns and
//!   match_id, addressable by row.
//! - `gNNNNNN.keys.bin`: (blocking key, baseline row) sorted by key, so the
//!   baseline records sharing a key with a new record are a binary search
//!   away.
//! - `gNNNNNN.members.bin`: (match_id, baseline row) sorted by match_id, so
//!   the members of a cluster are too.
//!
//! Rows are *baseline rows*: numbered across generations, oldest first.
//! Every file starts with an 8-byte magic and counts; a file whose size
//! does not fit its counts is reported as corrupt.

use std::fs::File;
use std::io::Write;
use std::path::Path;

use memmap2::Mmap;

use crate::durable::atomic_write;
use crate::error::{Error, Result};

const ROWS_MAGIC: &[u8; 8] = b"FMROWS1\0";
const PAIRS_MAGIC: &[u8; 8] = b"FMPAIR2\0";
/// A pair table keeps every `FENCE_STRIDE`th key up front, so a lookup
/// searches those (a few hundred kilobytes per million records, soon
/// cached) and then reads one or two pages of entries, instead of
/// faulting in a page at every step of a binary search.
const FENCE_STRIDE: usize = 256;
const NULL_LEN: u32 = u32::MAX;
const PAIR_BYTES: usize = 12;

fn map(path: &Path) -> Result<Mmap> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    // SAFETY: baseline files are written once (temporary file + rename)
    // and never modified in place, so the mapping cannot change under us.
    unsafe { Mmap::map(&file) }.map_err(|e| Error::io(path, e))
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(b)
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    let mut b = [0u8; 4];
    b.copy_from_slice(&bytes[at..at + 4]);
    u32::from_le_bytes(b)
}

/// Write a row store: `columns[c][r]` is row `r`'s value of column `c`.
pub fn write_rows(path: &Path, columns: &[Vec<Option<&str>>], match_ids: &[u64]) -> Result<()> {
    let rows = match_ids.len();
    let mut data: Vec<u8> = Vec::new();
    let mut offsets: Vec<u64> = Vec::with_capacity(rows + 1);
    for (r, id) in match_ids.iter().enumerate() {
        offsets.push(data.len() as u64);
        data.extend_from_slice(&id.to_le_bytes());
        for column in columns {
            match column[r] {
                Some(v) => {
                    data.extend_from_slice(&(v.len() as u32).to_le_bytes());
                    data.extend_from_slice(v.as_bytes());
                }
                None => data.extend_from_slice(&NULL_LEN.to_le_bytes()),
            }
        }
    }
    offsets.push(data.len() as u64);
    atomic_write(path, |w| {
        let io = |e| Error::io(path, e);
        w.write_all(ROWS_MAGIC).map_err(io)?;
        w.write_all(&(rows as u64).to_le_bytes()).map_err(io)?;
        w.write_all(&(columns.len() as u64).to_le_bytes()).map_err(io)?;
        for o in &offsets {
            w.write_all(&o.to_le_bytes()).map_err(io)?;
        }
        w.write_all(&data).map_err(io)
    })
}

/// A mapped row store.
#[derive(Debug)]
pub struct RowStore {
    map: Mmap,
    rows: usize,
    columns: usize,
    data_start: usize,
}

impl RowStore {
    /// Map and check a row store.
    pub fn open(path: &Path) -> Result<RowStore> {
        let map = map(path)?;
        let bad = |why: &str| Error::corrupt(path, why.to_string());
        if map.len() < 24 || &map[..8] != ROWS_MAGIC {
            return Err(bad("not a row store"));
        }
        let (rows, columns) = (u64_at(&map, 8) as usize, u64_at(&map, 16) as usize);
        let data_start = 24 + (rows + 1) * 8;
        if map.len() < data_start || data_start + u64_at(&map, data_start - 8) as usize != map.len() {
            return Err(bad("size does not match its row count (truncated?)"));
        }
        Ok(RowStore { map, rows, columns, data_start })
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Row `row`'s match_id.
    pub fn match_id(&self, row: usize) -> u64 {
        u64_at(&self.map, self.data_start + u64_at(&self.map, 24 + row * 8) as usize)
    }

    /// Row `row`'s match_id and values (`None` for missing).
    pub fn row(&self, row: usize, values: &mut Vec<Option<String>>) -> u64 {
        let mut at = self.data_start + u64_at(&self.map, 24 + row * 8) as usize;
        let id = u64_at(&self.map, at);
        at += 8;
        values.clear();
        for _ in 0..self.columns {
            let len = u32_at(&self.map, at);
            at += 4;
            if len == NULL_LEN {
                values.push(None);
            } else {
                let bytes = &self.map[at..at + len as usize];
                values.push(Some(String::from_utf8_lossy(bytes).into_owned()));
                at += len as usize;
            }
        }
        id
    }
}

/// Write a pair table, sorting `pairs` by key then row: the magic, the
/// entry count, the fence keys (every [`FENCE_STRIDE`]th entry's), then
/// the entries.
pub fn write_pairs(path: &Path, pairs: &mut [(u64, u32)]) -> Result<()> {
    pairs.sort_unstable();
    atomic_write(path, |w| {
        let io = |e| Error::io(path, e);
        w.write_all(PAIRS_MAGIC).map_err(io)?;
        w.write_all(&(pairs.len() as u64).to_le_bytes()).map_err(io)?;
        for (key, _) in pairs.iter().step_by(FENCE_STRIDE) {
            w.write_all(&key.to_le_bytes()).map_err(io)?;
        }
        for (key, row) in pairs.iter() {
            w.write_all(&key.to_le_bytes()).map_err(io)?;
            w.write_all(&row.to_le_bytes()).map_err(io)?;
        }
        Ok(())
    })
}

/// A mapped (key, row) table sorted by key.
#[derive(Debug)]
pub struct PairTable {
    map: Mmap,
    len: usize,
    fences: usize,
    entries_start: usize,
}

impl PairTable {
    /// Map and check a pair table.
    pub fn open(path: &Path) -> Result<PairTable> {
        let map = map(path)?;
        if map.len() < 16 || &map[..8] != PAIRS_MAGIC {
            return Err(Error::corrupt(path, "not a key table"));
        }
        let len = u64_at(&map, 8) as usize;
        let fences = len.div_ceil(FENCE_STRIDE);
        let entries_start = 16 + fences * 8;
        if len > map.len() || map.len() != entries_start + len * PAIR_BYTES {
            return Err(Error::corrupt(path, "size does not match its entry count (truncated?)"));
        }
        Ok(PairTable { map, len, fences, entries_start })
    }

    fn fence(&self, f: usize) -> u64 {
        u64_at(&self.map, 16 + f * 8)
    }

    fn key(&self, i: usize) -> u64 {
        u64_at(&self.map, self.entries_start + i * PAIR_BYTES)
    }

    fn row(&self, i: usize) -> u32 {
        u32_at(&self.map, self.entries_start + i * PAIR_BYTES + 8)
    }

    /// The index of the first entry with a key not below `key`.
    fn lower_bound(&self, key: u64) -> usize {
        // The first fence not below `key`; the key's entries may start in
        // the stride before it.
        let (mut lo, mut hi) = (0, self.fences);
        while lo < hi {
            let mid = (lo + hi) / 2;
            if self.fence(mid) < key {
                lo = mid + 1
            } else {
                hi = mid
            }
        }
        let from = lo.saturating_sub(1) * FENCE_STRIDE;
        (from..self.len).find(|&i| self.key(i) >= key).unwrap_or(self.len)
    }

    /// The rows stored under `key`.
    pub fn rows(&self, key: u64) -> impl Iterator<Item = u32> + '_ {
        let start = self.lower_bound(key);
        (start..self.len).take_while(move |&i| self.key(i) == key).map(move |i| self.row(i))
    }

    /// The rows stored under `key`, or `None` when more than `cap` are
    /// (found without reading them all).
    pub fn rows_within(&self, key: u64, cap: usize) -> Option<impl Iterator<Item = u32> + '_> {
        let start = self.lower_bound(key);
        if start + cap < self.len && self.key(start + cap) == key {
            return None;
        }
        Some((start..self.len).take_while(move |&i| self.key(i) == key).map(move |i| self.row(i)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_and_pairs_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.bin");
        let columns = vec![vec![Some("a"), None, Some("ccc")], vec![Some(""), Some("é"), None]];
        write_rows(&path, &columns, &[7, 8, 9]).unwrap();
        let store = RowStore::open(&path).unwrap();
        let mut values = Vec::new();
        assert_eq!(store.row(1, &mut values), 8);
        assert_eq!(values, vec![None, Some("é".to_string())]);
        assert_eq!(store.row(2, &mut values), 9);
        assert_eq!(values, vec![Some("ccc".to_string()), None]);

        let path = dir.path().join("k.bin");
        write_pairs(&path, &mut [(5, 1), (3, 0), (5, 0), (9, 2)]).unwrap();
        let table = PairTable::open(&path).unwrap();
        assert_eq!(table.rows(5).collect::<Vec<_>>(), vec![0, 1]);
        assert_eq!(table.rows(4).count(), 0);
        assert!(table.rows_within(5, 1).is_none());

        // Keys spanning many fence strides, and runs crossing a fence.
        let mut pairs: Vec<(u64, u32)> = (0..5000u32).map(|i| ((i / 3) as u64 * 2, i)).collect();
        write_pairs(&path, &mut pairs).unwrap();
        let table = PairTable::open(&path).unwrap();
        for key in 0u64..3336 {
            let want: Vec<u32> = (0..5000u32).filter(|i| (i / 3) as u64 * 2 == key).collect();
            assert_eq!(table.rows(key).collect::<Vec<_>>(), want, "key {key}");
        }
        assert_eq!(table.rows(1).count() + table.rows(u64::MAX).count(), 0);
        assert!(table.rows_within(2, 2).is_none());
        assert_eq!(table.rows_within(2, 3).map(|r| r.count()), Some(3));

        // A truncated file is reported, not misread.
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() - 3]).unwrap();
        assert!(PairTable::open(&path).unwrap_err().to_string().contains("truncated"));
    }
}
