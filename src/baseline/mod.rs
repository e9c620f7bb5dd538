//! The baseline store: records already clustered, persisted so that new
//! files can be matched against them (`findmatches incremental`) at a cost
//! that follows the new file, not the baseline.
//!
//! A baseline is a directory:
//!
//! ```text
//! manifest.json               what the baseline is (see Manifest): the commit point
//! model.json                  the model it was clustered with
//! g000001.records.parquet     generation 1's records with their match_id (export, audit)
//! g000001.rows.bin            the same records, addressable by row (see store)
//! g000001.keys.bin            (blocking key, row), sorted: who shares a key with a new record
//! g000001.members.bin         (match_id, row), sorted: who is in a cluster
//! g000001.keys/part-*.parquet the keys.bin entries as Parquet, sharded by key, for Spark (see shards)
//! g000002.*                   ... each generation adds its files, never rewrites one
//! .findmatches-writer.lock    present while a writer works
//! ```
//!
//! A commit writes the new generation's files under new names (temporary
//! file, fsync, rename, fsync of the directory), then the new manifest the
//! same way. A crash or kill at any instant leaves the old manifest (the
//! old generation, plus stray files nobody names) or the new one: never a
//! mix. Stray files are removed by the next commit.

mod lock;
mod manifest;
pub mod shards;
pub mod store;

pub use lock::{WriterLock, LOCK_FILE};
pub use manifest::{FileEntry, Manifest, Processed, Segment, BASELINE_FORMAT_VERSION, MANIFEST_FILE};

use std::collections::HashSet;
use std::hash::{Hash, Hasher};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{Array, ArrayRef, RecordBatch, StringArray, UInt64Array};
use arrow_schema::{DataType, Field, Schema};
use rayon::prelude::*;
use sha2::{Digest, Sha256};

use crate::block::index::{self, StoredIndex};
use crate::block::keys::{record_keys, KeyHasher, KeyRanking};
use crate::block::Blocking;
use crate::durable::{atomic_write, sync_dir};
use crate::error::{Error, Result};
use crate::matcher::MATCH_ID;
use crate::model::MatchModel;
use crate::read::Table;
use crate::record::{RecordId, Records};
use crate::write::write_batch;
use store::{PairTable, RowStore};

/// The model's file name in a baseline directory.
pub const MODEL_FILE: &str = "model.json";
/// The suffix of a generation's records (Parquet).
pub const RECORDS_SUFFIX: &str = ".records.parquet";
const ROWS_SUFFIX: &str = ".rows.bin";
const KEYS_SUFFIX: &str = ".keys.bin";
const MEMBERS_SUFFIX: &str = ".members.bin";
/// The directory suffix of a generation's blocking index.
pub const INDEX_SUFFIX: &str = ".index";

/// SHA-256 (hex) of a file's content, read in chunks.
pub fn file_sha256(path: &Path) -> Result<String> {
    let mut file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).map_err(|e| Error::io(path, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// SHA-256 (hex) of a table's content: its column names and every value
/// as text, each length-prefixed (a missing value apart from an empty
/// one), so the same rows hash the same whatever file or batch they came
/// in. What marks an in-memory table as processed, as [`file_sha256`]
/// marks a file.
pub fn table_sha256(table: &Table) -> Result<String> {
    let mut hasher = Sha256::new();
    let mut field = |bytes: Option<&[u8]>| match bytes {
        Some(b) => {
            hasher.update((b.len() as u64).to_le_bytes());
            hasher.update(b);
        }
        None => hasher.update(u64::MAX.to_le_bytes()),
    };
    for name in table.headers() {
        field(Some(name.as_bytes()));
        let values = table.strings(&name)?;
        for i in 0..values.len() {
            field((!values.is_null(i)).then(|| values.value(i).as_bytes()));
        }
    }
    Ok(hasher.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// The key-table entry of a primary key, so "is this key already in the
/// baseline?" is a lookup too. (Distinct from blocking keys, which hash
/// a recipe number first.)
pub fn primary_key_hash(key: &str) -> u64 {
    let mut h = KeyHasher::default();
    "primary key".hash(&mut h);
    key.hash(&mut h);
    h.finish()
}

/// An open baseline.
#[derive(Debug)]
pub struct Baseline {
    dir: PathBuf,
    manifest: Manifest,
    model: MatchModel,
}

/// New rows to fold into a baseline.
pub struct Commit<'a> {
    /// The rows (any columns; the baseline's are kept).
    pub table: &'a Table,
    /// The same rows normalized, as source `source` of these records (the
    /// run that matched them built them already; their blocking keys are
    /// stored).
    pub records: &'a Records,
    /// Which source of `records` the rows are.
    pub source: usize,
    /// Their match_ids.
    pub match_ids: &'a [u64],
    /// Baseline clusters merged: (kept, absorbed).
    pub merges: &'a [(u64, u64)],
    /// The next unused match_id after these rows.
    pub next_match_id: u64,
    /// The input file, as a bookmark.
    pub processed: Processed,
}

impl Baseline {
    /// Create a baseline in `dir` (which must not hold one) from a
    /// clustered table and its normalized `records` (one source).
    pub fn create(
        dir: &Path,
        model: &MatchModel,
        table: &Table,
        records: &Records,
        match_ids: &[u64],
        processed: Processed,
    ) -> Result<Baseline> {
        if dir.join(MANIFEST_FILE).exists() {
            return Err(Error::usage(format!(
                "{}: a baseline already exists here; match new files with `findmatches incremental`",
                dir.display()
            )));
        }
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let lock = WriterLock::acquire(dir, None)?;
        model.save(&dir.join(MODEL_FILE))?;
        let empty = Manifest {
            format_version: BASELINE_FORMAT_VERSION,
            generation: 0,
            model_fingerprint: model.fingerprint.clone(),
            primary_key: model.definition.primary_key.clone(),
            columns: table.headers().into_iter().filter(|h| h != MATCH_ID).collect(),
            indexed: Blocking::new(&model.definition, records.len()).uses_index(records),
            records: 0,
            clusters: 0,
            next_match_id: 0,
            segments: Vec::new(),
            merges: Vec::new(),
            processed: Vec::new(),
        };
        let mut baseline = Baseline { dir: dir.to_path_buf(), manifest: empty, model: model.clone() };
        let next = match_ids.iter().max().map_or(0, |m| m + 1);
        let commit =
            Commit { table, records, source: 0, match_ids, merges: &[], next_match_id: next, processed };
        baseline.commit(&lock, commit)?;
        Ok(baseline)
    }

    /// Open the baseline in `dir`: read the manifest and the model, and
    /// check that every file the manifest names is there with its size.
    pub fn open(dir: &Path) -> Result<Baseline> {
        let path = dir.join(MANIFEST_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::usage(format!(
                    "{}: not a baseline (no {MANIFEST_FILE}); make one with `findmatches dedup --baseline`",
                    dir.display()
                )))
            }
            Err(e) => return Err(Error::io(&path, e)),
        };
        let manifest = Manifest::from_json(&text, &path)?;
        for segment in &manifest.segments {
            for entry in &segment.files {
                let file = dir.join(&entry.name);
                let meta = std::fs::metadata(&file).map_err(|e| {
                    Error::corrupt(
                        &file,
                        format!("file of generation {} is missing ({e})", segment.generation),
                    )
                })?;
                if meta.len() != entry.bytes {
                    return Err(Error::corrupt(
                        &file,
                        format!("{} bytes where the manifest says {}", meta.len(), entry.bytes),
                    ));
                }
            }
        }
        let model_path = dir.join(MODEL_FILE);
        let model = MatchModel::load(&model_path)?;
        if model.fingerprint != manifest.model_fingerprint {
            return Err(Error::corrupt(&model_path, "its fingerprint is not the one the manifest records"));
        }
        Ok(Baseline { dir: dir.to_path_buf(), manifest, model })
    }

    /// Check every file the manifest names against its SHA-256 (`open`
    /// checks sizes only, so that a run's cost follows the new file, not
    /// the baseline). Returns the files and bytes checked; a file whose
    /// content differs is an error naming it.
    pub fn verify(&self) -> Result<(usize, u64)> {
        use rayon::prelude::*;
        let entries: Vec<&FileEntry> = self.manifest.segments.iter().flat_map(|s| &s.files).collect();
        let damaged: Vec<&FileEntry> = entries
            .par_iter()
            .map(|entry| Ok((*entry, file_sha256(&self.dir.join(&entry.name))? != entry.sha256)))
            .collect::<Result<Vec<_>>>()?
            .into_iter()
            .filter_map(|(entry, bad)| bad.then_some(entry))
            .collect();
        if let Some(first) = damaged.first() {
            return Err(Error::corrupt(
                self.dir.join(&first.name),
                format!(
                    "content differs from the SHA-256 the manifest records ({} of {} files damaged: {})",
                    damaged.len(),
                    entries.len(),
                    damaged.iter().map(|e| e.name.as_str()).collect::<Vec<_>>().join(", ")
                ),
            ));
        }
        Ok((entries.len(), entries.iter().map(|e| e.bytes).sum()))
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// What the baseline holds.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The model the baseline was clustered with.
    pub fn model(&self) -> &MatchModel {
        &self.model
    }

    /// Has this input content been folded in already?
    pub fn processed(&self, sha256: &str) -> Option<&Processed> {
        self.manifest.processed.iter().find(|p| p.sha256 == sha256)
    }

    /// All records (the stored columns, as strings) and their current
    /// match_ids (merges applied). Reads every segment: for export, not
    /// for matching (see [`Baseline::reader`]).
    pub fn load(&self) -> Result<(Table, Vec<u64>)> {
        let mut batches = Vec::with_capacity(self.manifest.segments.len());
        let mut ids = Vec::with_capacity(self.manifest.records as usize);
        for segment in &self.manifest.segments {
            let entry = segment
                .file(RECORDS_SUFFIX)
                .ok_or_else(|| Error::corrupt(&self.dir, "segment without records"))?;
            let path = self.dir.join(&entry.name);
            let table = Table::read(&path)?;
            let column = table.batch().column_by_name(MATCH_ID).cloned();
            let id_array = column
                .as_ref()
                .and_then(|c| c.as_any().downcast_ref::<UInt64Array>())
                .ok_or_else(|| Error::corrupt(&path, "no match_id column"))?;
            ids.extend(id_array.values().iter().map(|&id| self.manifest.resolve(id)));
            batches.push(self.string_batch(&table)?);
        }
        let batch = arrow_select::concat::concat_batches(&self.schema(), &batches)
            .map_err(|e| Error::corrupt(&self.dir, e.to_string()))?;
        Ok((Table::from_batch(self.dir.join("baseline"), batch), ids))
    }

    /// Map the random-access files of every generation.
    pub fn reader(&self) -> Result<BaselineReader<'_>> {
        let mut segments = Vec::with_capacity(self.manifest.segments.len());
        for segment in &self.manifest.segments {
            let path = |suffix: &str| -> Result<PathBuf> {
                let entry = segment.file(suffix).ok_or_else(|| {
                    Error::corrupt(&self.dir, format!("generation {} has no {suffix}", segment.generation))
                })?;
                Ok(self.dir.join(&entry.name))
            };
            let index = match segment.dir(INDEX_SUFFIX) {
                Some(dir) => Some(StoredIndex::open(&self.dir.join(dir))?),
                None if self.manifest.indexed => {
                    return Err(Error::corrupt(
                        &self.dir,
                        format!("generation {} has no blocking index", segment.generation),
                    ))
                }
                None => None,
            };
            segments.push(SegmentReader {
                first_row: segment.first_row as usize,
                rows: RowStore::open(&path(ROWS_SUFFIX)?)?,
                keys: PairTable::open(&path(KEYS_SUFFIX)?)?,
                members: PairTable::open(&path(MEMBERS_SUFFIX)?)?,
                index,
            });
        }
        Ok(BaselineReader { baseline: self, segments })
    }

    fn schema(&self) -> Arc<Schema> {
        Arc::new(Schema::new(
            self.manifest.columns.iter().map(|c| Field::new(c, DataType::Utf8, true)).collect::<Vec<_>>(),
        ))
    }

    /// The baseline's columns of `table`, as strings (absent ones null).
    fn string_batch(&self, table: &Table) -> Result<RecordBatch> {
        let headers = table.headers();
        let columns = self
            .manifest
            .columns
            .iter()
            .map(|c| {
                Ok(if headers.contains(c) {
                    Arc::new(table.strings(c)?) as ArrayRef
                } else {
                    Arc::new(StringArray::new_null(table.num_rows())) as ArrayRef
                })
            })
            .collect::<Result<Vec<_>>>()?;
        RecordBatch::try_new(self.schema(), columns).map_err(|e| Error::usage(e.to_string()))
    }

    /// Write one file of the next generation and describe it.
    fn write_file(&self, name: String, write: impl FnOnce(&Path) -> Result<()>) -> Result<FileEntry> {
        write(&self.dir.join(&name))?;
        self.describe(name)
    }

    /// A manifest entry for the file `name` of the baseline directory.
    fn describe(&self, name: String) -> Result<FileEntry> {
        let path = self.dir.join(&name);
        let bytes = std::fs::metadata(&path).map_err(|e| Error::io(&path, e))?.len();
        Ok(FileEntry { name, bytes, sha256: file_sha256(&path)? })
    }

    /// Write the directory `name` of the next generation (under a
    /// temporary name, then renamed whole; `write` returns the names of
    /// the files it wrote in the directory it is given) and describe its
    /// files.
    fn write_dir(
        &self,
        name: &str,
        write: impl FnOnce(&Path) -> Result<Vec<String>>,
    ) -> Result<Vec<FileEntry>> {
        let temp = self.dir.join(format!(".{name}.tmp"));
        if temp.exists() {
            std::fs::remove_dir_all(&temp).map_err(|e| Error::io(&temp, e))?;
        }
        std::fs::create_dir_all(&temp).map_err(|e| Error::io(&temp, e))?;
        let written = write(&temp)?;
        sync_dir(&temp).map_err(|e| Error::io(&temp, e))?;
        let dir = self.dir.join(name);
        std::fs::rename(&temp, &dir).map_err(|e| Error::io(&dir, e))?;
        written.into_par_iter().map(|file| self.describe(format!("{name}/{file}"))).collect()
    }

    /// Fold new rows in as the next generation. The caller holds `lock`.
    pub fn commit(&mut self, _lock: &WriterLock, commit: Commit<'_>) -> Result<()> {
        // What a killed commit left (under the names this one is about to
        // use: a directory cannot be renamed over) goes first.
        self.collect_garbage();
        let generation = self.manifest.generation + 1;
        let first_row = self.manifest.records;
        let strings = self.string_batch(commit.table)?;
        let rows = strings.num_rows();
        if self.manifest.records + rows as u64 >= u32::MAX as u64 {
            return Err(Error::usage("a baseline holds at most 4 billion records"));
        }
        let prefix = format!("g{generation:06}");
        // Records, for export and audit.
        let mut fields: Vec<Field> = strings.schema().fields().iter().map(|f| f.as_ref().clone()).collect();
        fields.push(Field::new(MATCH_ID, DataType::UInt64, false));
        let mut columns = strings.columns().to_vec();
        columns.push(Arc::new(UInt64Array::from(commit.match_ids.to_vec())));
        let segment = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)
            .map_err(|e| Error::usage(e.to_string()))?;
        let mut files =
            vec![self.write_file(format!("{prefix}{RECORDS_SUFFIX}"), |p| write_batch(p, &segment, None))?];
        // The row store.
        let arrays: Vec<&StringArray> =
            strings.columns().iter().filter_map(|c| c.as_any().downcast_ref::<StringArray>()).collect();
        let values: Vec<Vec<Option<&str>>> =
            arrays.iter().map(|a| (0..rows).map(|r| (!a.is_null(r)).then(|| a.value(r))).collect()).collect();
        files.push(self.write_file(format!("{prefix}{ROWS_SUFFIX}"), |p| {
            store::write_rows(p, &values, commit.match_ids)
        })?);
        // Blocking keys and primary keys, by baseline row.
        let range = commit.records.source_range(commit.source);
        if range.len() != rows {
            return Err(Error::usage(format!("{} rows to commit but {} records", rows, range.len())));
        }
        let to_row = |id: u32| id - range.start as u32 + first_row as u32;
        let mut keys: Vec<(u64, u32)> =
            record_keys(commit.records, &self.model.definition, range.start as u32..range.end as u32)
                .into_iter()
                .map(|(k, id)| (k, to_row(id)))
                .collect();
        keys.extend(
            range.clone().map(|id| (primary_key_hash(&commit.records.keys()[id]), to_row(id as u32))),
        );
        files.push(self.write_file(format!("{prefix}{KEYS_SUFFIX}"), |p| store::write_pairs(p, &mut keys))?);
        // The same entries (sorted now) as Parquet shards.
        let key_shards = shards::shard_count(keys.len());
        let name = format!("{prefix}{}", shards::SHARDS_SUFFIX);
        let written = self.write_dir(&name, |temp| shards::write(temp, &keys, key_shards))?;
        files.extend(written);
        let mut members: Vec<(u64, u32)> =
            commit.match_ids.iter().enumerate().map(|(r, &id)| (id, r as u32 + first_row as u32)).collect();
        files.push(
            self.write_file(format!("{prefix}{MEMBERS_SUFFIX}"), |p| store::write_pairs(p, &mut members))?,
        );
        if self.manifest.indexed {
            let name = format!("{prefix}{INDEX_SUFFIX}");
            let written = self.write_dir(&name, |temp| {
                index::write_index(temp, commit.records, range.clone(), first_row)
            })?;
            files.extend(written);
        }
        sync_dir(&self.dir).map_err(|e| Error::io(&self.dir, e))?;

        let mut next = self.manifest.clone();
        next.format_version = BASELINE_FORMAT_VERSION;
        next.generation = generation;
        next.segments.push(Segment {
            generation,
            first_row,
            rows: rows as u64,
            files,
            key_shards: key_shards as u32,
        });
        next.records += rows as u64;
        let fresh: HashSet<u64> =
            commit.match_ids.iter().copied().filter(|&id| id >= self.manifest.next_match_id).collect();
        next.clusters = next.clusters + fresh.len() as u64 - commit.merges.len() as u64;
        next.merges.extend_from_slice(commit.merges);
        next.next_match_id = commit.next_match_id.max(self.manifest.next_match_id);
        next.processed.push(commit.processed);
        let manifest_path = self.dir.join(MANIFEST_FILE);
        crate::fail_point!("baseline_before_manifest");
        atomic_write(&manifest_path, |w| {
            use std::io::Write;
            w.write_all(next.to_json().as_bytes()).map_err(|e| Error::io(&manifest_path, e))
        })?;
        crate::fail_point!("baseline_after_manifest");
        self.manifest = next;
        self.collect_garbage();
        Ok(())
    }

    /// Remove generation files no manifest names (left by a crashed
    /// commit). Failures are ignored: a stray file is harmless.
    fn collect_garbage(&self) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else { return };
        let named: HashSet<&str> = self
            .manifest
            .segments
            .iter()
            .flat_map(|s| s.files.iter().map(|f| f.name.split('/').next().unwrap_or(&f.name)))
            .collect();
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let generation_file = name.starts_with('g')
                && [
                    RECORDS_SUFFIX,
                    ROWS_SUFFIX,
                    KEYS_SUFFIX,
                    MEMBERS_SUFFIX,
                    INDEX_SUFFIX,
                    shards::SHARDS_SUFFIX,
                ]
                .iter()
                .any(|s| name.ends_with(s));
            let stray_temp = name.starts_with('.') && name.ends_with(".tmp");
            if (generation_file && !named.contains(name.as_str())) || stray_temp {
                let path = entry.path();
                let _ =
                    if path.is_dir() { std::fs::remove_dir_all(&path) } else { std::fs::remove_file(&path) };
            }
        }
        let _ = sync_dir(&self.dir);
    }
}

/// What an incremental run asks of a baseline. Answered from the
/// generation files on this machine ([`BaselineReader`]) or, from Python,
/// by Spark over the Parquet ones (records and key shards).
pub trait BaselineLookups: Sync {
    /// For each of `keys` (sorted, distinct), the baseline rows holding
    /// it; `None` when more than `cap` do (a value too common to block on).
    fn key_rows_of(&self, keys: &[u64], cap: usize) -> Result<Vec<Option<Vec<u32>>>>;

    /// `rows` and every other member of their clusters (merged clusters
    /// included), sorted, with those records as a table (the stored
    /// columns, as strings) and their current match_ids.
    fn clusters_of(&self, rows: &[u32]) -> Result<(Vec<u32>, Table, Vec<u64>)>;

    /// The `k` baseline rows the blocking index finds most similar to
    /// record `id` of `records` (none when the baseline has no index).
    fn index_neighbours(&self, records: &Records, id: RecordId, k: usize) -> Result<Vec<u32>>;
}

/// The key neighbours, among the baseline rows, of records whose blocking
/// keys are `keys_of` (one list per record), ranked as in batch blocking
/// (see [`KeyRanking`]). Each key is looked up once, all in one request,
/// in key order (as the key tables lie); the cost is bounded by the number
/// of keys times `max_block` whatever the baseline's size.
pub fn key_neighbours(
    lookups: &dyn BaselineLookups,
    keys_of: &[Vec<u64>],
    ranking: &KeyRanking,
) -> Result<Vec<Vec<u32>>> {
    let mut keys: Vec<u64> = keys_of.iter().flatten().copied().collect();
    keys.par_sort_unstable();
    keys.dedup();
    let found = lookups.key_rows_of(&keys, ranking.max_block)?;
    if found.len() != keys.len() {
        return Err(Error::usage(format!("{} answers to {} key lookups", found.len(), keys.len())));
    }
    Ok(keys_of
        .par_iter()
        .map(|mine| {
            let mut scored: Vec<(u32, f32)> = Vec::new();
            for key in mine {
                let at = keys.binary_search(key).unwrap_or_default();
                if let Some(rows) = &found[at] {
                    // The block the record would make with these rows.
                    let w = ranking.key_weight(rows.len() + 1);
                    scored.extend(rows.iter().map(|&r| (r, w)));
                }
            }
            ranking.rank(&mut scored).iter().map(|&(r, _)| r).collect()
        })
        .collect())
}

/// (i, row) for each baseline row whose primary key may be `keys[i]` (its
/// hash matches), in order of i then row.
pub fn primary_key_rows_of(lookups: &dyn BaselineLookups, keys: &[String]) -> Result<Vec<(usize, u32)>> {
    let mut hashed: Vec<(u64, usize)> =
        keys.iter().enumerate().map(|(i, k)| (primary_key_hash(k), i)).collect();
    hashed.par_sort_unstable();
    let mut hashes: Vec<u64> = hashed.iter().map(|&(h, _)| h).collect();
    hashes.dedup();
    let found = lookups.key_rows_of(&hashes, usize::MAX)?;
    let mut rows: Vec<(usize, u32)> = hashed
        .iter()
        .flat_map(|&(hash, i)| {
            let at = hashes.binary_search(&hash).unwrap_or_default();
            found.get(at).into_iter().flatten().flatten().map(move |&row| (i, row))
        })
        .collect();
    rows.sort_unstable();
    Ok(rows)
}

struct SegmentReader {
    first_row: usize,
    rows: RowStore,
    keys: PairTable,
    members: PairTable,
    index: Option<StoredIndex>,
}

/// Lookups into an open baseline's generation files on this machine
/// (mapped), touching only what they need.
pub struct BaselineReader<'b> {
    baseline: &'b Baseline,
    segments: Vec<SegmentReader>,
}

impl BaselineLookups for BaselineReader<'_> {
    fn key_rows_of(&self, keys: &[u64], cap: usize) -> Result<Vec<Option<Vec<u32>>>> {
        Ok(keys.par_iter().map(|&k| self.key_rows(k, cap)).collect())
    }

    fn clusters_of(&self, rows: &[u32]) -> Result<(Vec<u32>, Table, Vec<u64>)> {
        let rows = self.with_cluster_members(rows)?;
        let (table, ids) = self.fetch(&rows)?;
        Ok((rows, table, ids))
    }

    fn index_neighbours(&self, records: &Records, id: RecordId, k: usize) -> Result<Vec<u32>> {
        let mut found: Vec<(f32, u32)> = Vec::new();
        for s in &self.segments {
            if let Some(index) = &s.index {
                found.extend(index.similar(records, id, k)?);
            }
        }
        found.sort_by(|x, y| y.0.total_cmp(&x.0).then(x.1.cmp(&y.1)));
        Ok(found.into_iter().take(k).map(|(_, row)| row).collect())
    }
}

impl BaselineReader<'_> {
    /// The baseline rows holding blocking key `key`; `None` when more than
    /// `cap` do.
    fn key_rows(&self, key: u64, cap: usize) -> Option<Vec<u32>> {
        let mut rows = Vec::new();
        for s in &self.segments {
            rows.extend(s.keys.rows_within(key, cap - rows.len())?);
            if rows.len() > cap {
                return None;
            }
        }
        Some(rows)
    }

    /// Every baseline row in cluster `match_id` (merged clusters included).
    fn members(&self, match_id: u64) -> Vec<u32> {
        let manifest = &self.baseline.manifest;
        let mut ids = vec![match_id];
        ids.extend(
            manifest.merges.iter().filter(|(kept, _)| manifest.resolve(*kept) == match_id).map(|(_, a)| *a),
        );
        let mut rows: Vec<u32> =
            ids.iter().flat_map(|&id| self.segments.iter().flat_map(move |s| s.members.rows(id))).collect();
        rows.sort_unstable();
        rows.dedup();
        rows
    }

    /// The records at `rows` as a table (the stored columns, as strings)
    /// and their current match_ids.
    fn fetch(&self, rows: &[u32]) -> Result<(Table, Vec<u64>)> {
        let manifest = &self.baseline.manifest;
        let ncols = manifest.columns.len();
        let mut columns: Vec<Vec<Option<String>>> = vec![Vec::with_capacity(rows.len()); ncols];
        let mut ids = Vec::with_capacity(rows.len());
        let mut values = Vec::with_capacity(ncols);
        for &row in rows {
            let (s, local) = self.locate(row)?;
            ids.push(manifest.resolve(s.rows.row(local, &mut values)));
            if values.len() != ncols {
                return Err(Error::corrupt(
                    &self.baseline.dir,
                    format!("row {row} has {} columns", values.len()),
                ));
            }
            for (c, v) in values.drain(..).enumerate() {
                columns[c].push(v);
            }
        }
        let arrays: Vec<ArrayRef> =
            columns.into_iter().map(|c| Arc::new(StringArray::from(c)) as ArrayRef).collect();
        let batch =
            RecordBatch::try_new(self.baseline.schema(), arrays).map_err(|e| Error::usage(e.to_string()))?;
        Ok((Table::from_batch(self.baseline.dir.join("baseline"), batch), ids))
    }

    fn locate(&self, row: u32) -> Result<(&SegmentReader, usize)> {
        let row = row as usize;
        self.segments
            .iter()
            .rev()
            .find(|s| s.first_row <= row)
            .filter(|s| row - s.first_row < s.rows.rows())
            .map(|s| (s, row - s.first_row))
            .ok_or_else(|| Error::corrupt(&self.baseline.dir, format!("no baseline row {row}")))
    }

    /// `rows` and every other member of their clusters, sorted.
    fn with_cluster_members(&self, rows: &[u32]) -> Result<Vec<u32>> {
        let mut clusters = HashSet::new();
        for &row in rows {
            let (s, local) = self.locate(row)?;
            clusters.insert(self.baseline.manifest.resolve(s.rows.match_id(local)));
        }
        let mut all: Vec<u32> = rows.to_vec();
        let mut clusters: Vec<u64> = clusters.into_iter().collect();
        clusters.sort_unstable();
        for id in clusters {
            all.extend(self.members(id));
        }
        all.sort_unstable();
        all.dedup();
        Ok(all)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(names: &[&str], rows: &[&[Option<&str>]]) -> Table {
        let fields: Vec<Field> = names.iter().map(|n| Field::new(*n, DataType::Utf8, true)).collect();
        let columns: Vec<ArrayRef> = (0..names.len())
            .map(|c| Arc::new(rows.iter().map(|r| r[c]).collect::<StringArray>()) as ArrayRef)
            .collect();
        Table::from_batch("t", RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap())
    }

    #[test]
    fn a_tables_hash_follows_its_content_only() {
        let a = table(&["id", "name"], &[&[Some("1"), Some("ann")], &[Some("2"), None]]);
        let same = table(&["id", "name"], &[&[Some("1"), Some("ann")], &[Some("2"), None]]);
        assert_eq!(table_sha256(&a).unwrap(), table_sha256(&same).unwrap());
        let empty_not_missing = table(&["id", "name"], &[&[Some("1"), Some("ann")], &[Some("2"), Some("")]]);
        let renamed = table(&["id", "nom"], &[&[Some("1"), Some("ann")], &[Some("2"), None]]);
        for other in [empty_not_missing, renamed] {
            assert_ne!(table_sha256(&a).unwrap(), table_sha256(&other).unwrap());
        }
        // Values are length-prefixed: "ab", "c" is not "a", "bc".
        let ab_c = table(&["v"], &[&[Some("ab")], &[Some("c")]]);
        let a_bc = table(&["v"], &[&[Some("a")], &[Some("bc")]]);
        assert_ne!(table_sha256(&ab_c).unwrap(), table_sha256(&a_bc).unwrap());
    }
}
