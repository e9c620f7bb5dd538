//! The baseline store: records already clustered, persisted so that new
//! files can be matched against them (`findmatches incremental`).
//!
//! A baseline is a directory:
//!
//! ```text
//! manifest.json               what the baseline is (see Manifest): the commit point
//! model.json                  the model it was clustered with
//! g000001.records.parquet     records of generation 1 with their match_id
//! g000002.records.parquet     ... each generation adds one segment, never rewrites one
//! .findmatches-writer.lock    present while a writer works
//! ```
//!
//! A commit writes the new segment under a new name (temporary file,
//! fsync, rename, fsync of the directory), then the new manifest the same
//! way. A crash or kill at any instant leaves the old manifest (the old
//! generation, a stray segment nobody names) or the new one: never a mix.
//! Stray files are removed by the next commit.

mod lock;
mod manifest;

pub use lock::{WriterLock, LOCK_FILE};
pub use manifest::{Manifest, Processed, Segment, BASELINE_FORMAT_VERSION, MANIFEST_FILE};

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{Array, ArrayRef, RecordBatch, StringArray, UInt64Array};
use arrow_schema::{DataType, Field, Schema};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::matcher::MATCH_ID;
use crate::model::MatchModel;
use crate::read::Table;
use crate::write::{atomic_write, sync_dir, write_batch};

/// The model's file name in a baseline directory.
pub const MODEL_FILE: &str = "model.json";

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

/// An open baseline.
#[derive(Debug)]
pub struct Baseline {
    dir: PathBuf,
    manifest: Manifest,
}

/// New rows to fold into a baseline.
pub struct Commit<'a> {
    /// The rows (any columns; the baseline's are kept).
    pub table: &'a Table,
    /// Their match_ids.
    pub match_ids: &'a [u64],
    /// Baseline clusters merged: (kept, absorbed).
    pub merges: &'a [(u64, u64)],
    /// The next unused match_id after these rows.
    pub next_match_id: u64,
    /// The input file, as a bookmark.
    pub processed: Processed,
}

fn segment_name(generation: u64) -> String {
    format!("g{generation:06}.records.parquet")
}

impl Baseline {
    /// Create a baseline in `dir` (which must not hold one) from a
    /// clustered table.
    pub fn create(
        dir: &Path,
        model: &MatchModel,
        table: &Table,
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
        let _lock = WriterLock::acquire(dir, None)?;
        model.save(&dir.join(MODEL_FILE))?;
        let mut clusters: Vec<u64> = match_ids.to_vec();
        clusters.sort_unstable();
        clusters.dedup();
        let empty = Manifest {
            format_version: BASELINE_FORMAT_VERSION,
            generation: 0,
            model_fingerprint: model.fingerprint.clone(),
            primary_key: model.definition.primary_key.clone(),
            columns: table.headers().into_iter().filter(|h| h != MATCH_ID).collect(),
            records: 0,
            clusters: 0,
            next_match_id: 0,
            segments: Vec::new(),
            merges: Vec::new(),
            processed: Vec::new(),
        };
        let mut baseline = Baseline { dir: dir.to_path_buf(), manifest: empty };
        let next = clusters.last().map_or(0, |m| m + 1);
        baseline.commit(&_lock, Commit { table, match_ids, merges: &[], next_match_id: next, processed })?;
        Ok(baseline)
    }

    /// Open the baseline in `dir`: read the manifest and check that every
    /// segment it names is there with its recorded size.
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
            let file = dir.join(&segment.file);
            let meta = std::fs::metadata(&file).map_err(|e| {
                Error::corrupt(
                    &file,
                    format!("segment of generation {} is missing ({e})", segment.generation),
                )
            })?;
            if meta.len() != segment.bytes {
                return Err(Error::corrupt(
                    &file,
                    format!("{} bytes where the manifest says {}", meta.len(), segment.bytes),
                ));
            }
        }
        Ok(Baseline { dir: dir.to_path_buf(), manifest })
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
    pub fn model(&self) -> Result<MatchModel> {
        let path = self.dir.join(MODEL_FILE);
        let model = MatchModel::load(&path)?;
        if model.fingerprint != self.manifest.model_fingerprint {
            return Err(Error::corrupt(&path, "its fingerprint is not the one the manifest records"));
        }
        Ok(model)
    }

    /// Has this input content been folded in already?
    pub fn processed(&self, sha256: &str) -> Option<&Processed> {
        self.manifest.processed.iter().find(|p| p.sha256 == sha256)
    }

    /// All records (the stored columns, as strings) and their current
    /// match_ids (merges applied).
    pub fn load(&self) -> Result<(Table, Vec<u64>)> {
        let mut batches = Vec::with_capacity(self.manifest.segments.len());
        let mut ids = Vec::with_capacity(self.manifest.records as usize);
        for segment in &self.manifest.segments {
            let path = self.dir.join(&segment.file);
            let table = Table::read(&path)?;
            let column = table.batch().column_by_name(MATCH_ID).cloned();
            let id_array = column
                .as_ref()
                .and_then(|c| c.as_any().downcast_ref::<UInt64Array>())
                .ok_or_else(|| Error::corrupt(&path, "no match_id column"))?;
            ids.extend(id_array.values().iter().map(|&id| self.manifest.resolve(id)));
            batches.push(self.string_batch(&table)?);
        }
        let schema = self.schema();
        let batch = arrow_select::concat::concat_batches(&schema, &batches)
            .map_err(|e| Error::corrupt(&self.dir, e.to_string()))?;
        Ok((Table::from_batch(self.dir.join("baseline"), batch), ids))
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

    /// Fold new rows in as the next generation. The caller holds `lock`.
    pub fn commit(&mut self, _lock: &WriterLock, commit: Commit<'_>) -> Result<()> {
        let generation = self.manifest.generation + 1;
        let strings = self.string_batch(commit.table)?;
        let mut fields: Vec<Field> = strings.schema().fields().iter().map(|f| f.as_ref().clone()).collect();
        fields.push(Field::new(MATCH_ID, DataType::UInt64, false));
        let mut columns = strings.columns().to_vec();
        columns.push(Arc::new(UInt64Array::from(commit.match_ids.to_vec())));
        let segment = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)
            .map_err(|e| Error::usage(e.to_string()))?;
        let name = segment_name(generation);
        let path = self.dir.join(&name);
        write_batch(&path, &segment)?;
        let bytes = std::fs::metadata(&path).map_err(|e| Error::io(&path, e))?.len();
        let mut next = self.manifest.clone();
        next.generation = generation;
        next.segments.push(Segment {
            file: name,
            generation,
            rows: segment.num_rows() as u64,
            bytes,
            sha256: file_sha256(&path)?,
        });
        next.records += segment.num_rows() as u64;
        let new_clusters = {
            let mut fresh: Vec<u64> =
                commit.match_ids.iter().copied().filter(|&id| id >= self.manifest.next_match_id).collect();
            fresh.sort_unstable();
            fresh.dedup();
            fresh.len() as u64
        };
        next.clusters = next.clusters + new_clusters - commit.merges.len() as u64;
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

    /// Remove segment files no manifest names (left by a crashed commit).
    /// Failures are ignored: a stray file is harmless.
    fn collect_garbage(&self) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else { return };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let stray_segment =
                name.ends_with(".records.parquet") && !self.manifest.segments.iter().any(|s| s.file == name);
            let stray_temp = name.starts_with('.') && name.ends_with(".tmp");
            if stray_segment || stray_temp {
                let _ = std::fs::remove_file(entry.path());
            }
        }
        let _ = sync_dir(&self.dir);
    }
}
