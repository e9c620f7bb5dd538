//! Incremental matching: new records against a clustered baseline and
//! within themselves, never baseline against baseline.
//!
//! Semantics (see the README, "Incremental mode"):
//! - every new row gets a `match_id`, a `match_confidence_score`, a
//!   `match_status` (`existing`: joined a baseline cluster;
//!   `new_duplicate`: matched only other new rows; `new_unique`) and, for
//!   `existing` rows, the key of the baseline record it matched best;
//! - baseline match_ids never change; a new row that matches two baseline
//!   clusters joins the one it matches strongest, unless merges are
//!   allowed, and every merge is reported;
//! - new clusters take ids from the baseline's next unused id on.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow_array::{ArrayRef, Float32Array, RecordBatch, StringArray, UInt64Array};
use arrow_schema::{DataType, Field, Schema};
use rayon::prelude::*;

use crate::baseline::{
    key_neighbours, primary_key_hash, primary_key_rows_of, Baseline, BaselineLookups, Commit, Processed,
    WriterLock, MANIFEST_FILE,
};
use crate::block::keys::record_keys;
use crate::block::{Blocking, Mode};
use crate::cluster::{
    cluster_incremental, BaselineRules, ClusterOptions, IncrementalClustering, MatchStatus, ScoredPair,
};
use crate::error::{Error, Result};
use crate::matcher::{MatchStats, Matcher, Progress, MATCH_CONFIDENCE, MATCH_ID, MAX_CLUSTER_SIZE};
use crate::model::MatchModel;
use crate::read::Table;
use crate::record::{CandidatePair, RecordId, Records};

/// Output column with each new row's status.
pub const MATCH_STATUS: &str = "match_status";
/// Output column with the baseline record an `existing` row matched best.
pub const MATCHED_BASELINE_KEY: &str = "matched_baseline_key";

/// The result of matching new records against a baseline.
#[derive(Clone, Debug)]
pub struct IncrementalOutput {
    /// Baseline records (source 0) then new ones (source 1), normalized.
    pub records: Records,
    /// The new records' clustering.
    pub clustering: IncrementalClustering,
    /// The baseline rows read (source 0 of `records`), as stored.
    pub baseline_rows: Table,
    /// Their match_ids.
    pub baseline_ids: Vec<u64>,
    /// Every candidate pair, scored.
    pub pairs: Vec<ScoredPair>,
    /// Figures (records counts the new records only).
    pub stats: MatchStats,
}

impl IncrementalOutput {
    /// How many new rows got each status: (existing, new_duplicate, new_unique).
    pub fn status_counts(&self) -> (usize, usize, usize) {
        let count = |s: MatchStatus| self.clustering.status.iter().filter(|&&x| x == s).count();
        (count(MatchStatus::Existing), count(MatchStatus::NewDuplicate), count(MatchStatus::NewUnique))
    }
}

/// One incremental run against a baseline directory, as the CLI and the
/// bindings make it: open (a writer takes the baseline's lock first, so
/// what it reads is what it commits on top of; a dry run only reads the
/// atomically replaced manifest), ask whether the input was processed
/// already, match, commit.
pub struct Session {
    baseline: Baseline,
    lock: Option<WriterLock>,
    model: MatchModel,
}

impl Session {
    /// Open `dir` for a run with `model` (named by `model_path` in errors;
    /// it must be the one the baseline was built with) or, without one,
    /// the baseline's. A writer (`dry_run` false) waits up to `wait` for
    /// another writer's lock.
    pub fn open(
        dir: &Path,
        model: Option<(MatchModel, &Path)>,
        dry_run: bool,
        wait: Option<Duration>,
    ) -> Result<Session> {
        if !dir.join(MANIFEST_FILE).is_file() {
            // Not a baseline: say so (before taking a lock in it).
            Baseline::open(dir)?;
        }
        let lock = if dry_run { None } else { Some(WriterLock::acquire(dir, wait)?) };
        let baseline = Baseline::open(dir)?;
        let stored = baseline.model();
        let model = match model {
            Some((model, path)) if model.fingerprint != stored.fingerprint => {
                return Err(Error::model_mismatch(
                    path,
                    format!(
                        "model fingerprint {} is not the baseline's ({}); a baseline is matched with the model it was built with",
                        &model.fingerprint[..12.min(model.fingerprint.len())],
                        &stored.fingerprint[..12.min(stored.fingerprint.len())]
                    ),
                ));
            }
            Some((model, _)) => model,
            None => stored.clone(),
        };
        Ok(Session { baseline, lock, model })
    }

    /// The baseline as the session read it (after a commit: as committed).
    pub fn baseline(&self) -> &Baseline {
        &self.baseline
    }

    /// The model the run matches with.
    pub fn model(&self) -> &MatchModel {
        &self.model
    }

    /// The earlier run that folded in an input of this content, if any.
    pub fn processed(&self, sha256: &str) -> Option<&Processed> {
        self.baseline.processed(sha256)
    }

    /// Match `new` against the baseline and within itself ([`match_new`]),
    /// looking the baseline up in its files on this machine.
    pub fn match_new(
        &self,
        new: &Table,
        allow_merges: bool,
        progress: &dyn Progress,
    ) -> Result<IncrementalOutput> {
        self.match_new_with(&self.baseline.reader()?, new, allow_merges, progress)
    }

    /// [`Session::match_new`] with the baseline looked up by `lookups`
    /// (Spark, over the baseline's Parquet files).
    pub fn match_new_with(
        &self,
        lookups: &dyn BaselineLookups,
        new: &Table,
        allow_merges: bool,
        progress: &dyn Progress,
    ) -> Result<IncrementalOutput> {
        let matcher = Matcher::new(self.model.clone(), progress);
        match_new(&matcher, &self.baseline, lookups, new, allow_merges)
    }

    /// Fold `new`, matched as `output`, into the baseline as its next
    /// generation, recorded as processed under `sha256` and `name`. A
    /// dry run commits nothing: false.
    pub fn commit(
        &mut self,
        new: &Table,
        output: &IncrementalOutput,
        sha256: String,
        name: String,
    ) -> Result<bool> {
        let Some(lock) = &self.lock else { return Ok(false) };
        let generation = self.baseline.manifest().generation + 1;
        self.baseline.commit(
            lock,
            Commit {
                table: new,
                records: &output.records,
                source: 1,
                match_ids: &output.clustering.match_ids,
                merges: &output.clustering.merges,
                next_match_id: output.clustering.next_match_id,
                processed: Processed { sha256, name, generation, rows: new.num_rows() as u64 },
            },
        )?;
        Ok(true)
    }
}

/// Match `new` against `baseline` and within itself.
///
/// Only each new record's neighbours among the baseline records (its key
/// neighbours, ranked as in batch blocking, and the stored index's when
/// keys find too few), and the other members of their clusters, are read;
/// everything else stays on disk. So the cost follows the new file, not
/// the baseline. With `enforce_provided_labels`, the model's labels hold
/// as in batch runs (see [`crate::cluster::cluster_incremental`]): the
/// baseline records they tie to new records are read as well.
pub fn match_new(
    matcher: &Matcher<'_>,
    baseline: &Baseline,
    lookups: &dyn BaselineLookups,
    new: &Table,
    allow_merges: bool,
) -> Result<IncrementalOutput> {
    let model = matcher.model();
    let def = &model.definition;
    model.check_table(new)?;
    let mut seconds = Vec::new();
    let clock = Instant::now();
    matcher.progress().stage("look up baseline", 0);
    let fresh = Records::build(def, &[new])?;
    // Keys must be new.
    let suspects = primary_key_rows_of(lookups, fresh.keys())?;
    if !suspects.is_empty() {
        let mut rows: Vec<u32> = suspects.iter().map(|s| s.1).collect();
        rows.sort_unstable();
        rows.dedup();
        let (fetched, table, _) = lookups.clusters_of(&rows)?;
        let stored = table.strings(&def.primary_key)?;
        for &(i, row) in &suspects {
            let key = &fresh.keys()[i];
            let j = fetched
                .binary_search(&row)
                .map_err(|_| Error::usage(format!("baseline row {row} was asked for and not fetched")))?;
            if stored.value(j).trim() == key {
                return Err(Error::data(
                    new.path(),
                    new.position(i).with_column(&def.primary_key),
                    format!("key '{key}' is already in the baseline; keys must be new"),
                ));
            }
        }
    }
    // Each new record's strongest key neighbours in the baseline, and, for
    // those keys find too few of, the index's.
    let blocking = Blocking::new(def, baseline.manifest().records as usize + new.num_rows());
    let mut keys_of: Vec<Vec<u64>> = vec![Vec::new(); fresh.len()];
    for (key, id) in record_keys(&fresh, def, 0..fresh.len() as RecordId) {
        keys_of[id as usize].push(key);
    }
    let indexed = baseline.manifest().indexed;
    let found: Vec<Result<(Vec<u32>, Vec<u32>)>> = key_neighbours(lookups, &keys_of, &blocking.ranking)?
        .into_par_iter()
        .enumerate()
        .map(|(id, by_key)| {
            let by_index = if indexed && by_key.len() < blocking.fallback_degree {
                lookups.index_neighbours(&fresh, id as RecordId, blocking.index_neighbours)?
            } else {
                Vec::new()
            };
            Ok((by_key, by_index))
        })
        .collect();
    let mut neighbours: Vec<(RecordId, Vec<u32>)> = Vec::with_capacity(found.len());
    let mut index_pairs = 0;
    for (id, f) in found.into_iter().enumerate() {
        let (mut rows, by_index) = f?;
        index_pairs += by_index.len();
        rows.extend(by_index);
        neighbours.push((id as RecordId, rows));
    }
    let mut rows: Vec<u32> = neighbours.iter().flat_map(|(_, rows)| rows.iter().copied()).collect();
    if def.tuning.enforce_provided_labels {
        // The baseline records labels tie to new records are read too, so
        // the labels hold even where blocking would not pair them.
        let new_keys: HashSet<&str> = fresh.keys().iter().map(String::as_str).collect();
        let mut hashes: Vec<u64> = Vec::new();
        for l in &model.labels {
            for (mine, other) in [(&l.left, &l.right), (&l.right, &l.left)] {
                if new_keys.contains(mine.as_str()) && !new_keys.contains(other.as_str()) {
                    hashes.push(primary_key_hash(other));
                }
            }
        }
        hashes.sort_unstable();
        hashes.dedup();
        if !hashes.is_empty() {
            rows.extend(lookups.key_rows_of(&hashes, usize::MAX)?.into_iter().flatten().flatten());
        }
    }
    rows.sort_unstable();
    rows.dedup();
    let (rows, subset, baseline_ids) = lookups.clusters_of(&rows)?;
    seconds.push(("lookup".to_string(), clock.elapsed().as_secs_f64()));
    let clock = Instant::now();
    matcher.progress().stage("normalize", 0);
    let records = Records::build(def, &[&subset, new])?;
    let nb = records.source_range(0).len();
    seconds.push(("normalize".to_string(), clock.elapsed().as_secs_f64()));
    let clock = Instant::now();
    matcher.progress().stage("block", 0);
    // Candidates: each new record's baseline neighbours, and what blocking
    // finds among the records read (new×new pairs, and new×baseline pairs
    // from keys too common to look up in the whole baseline).
    let (mut pairs, mut stats) = blocking.candidates(&records, def, Mode::Incremental)?;
    for (id, neighbours) in &neighbours {
        for row in neighbours {
            if let Ok(b) = rows.binary_search(row) {
                pairs.push(CandidatePair::new((nb + *id as usize) as RecordId, b as RecordId));
            }
        }
    }
    pairs.par_sort_unstable();
    pairs.dedup();
    stats.candidates = pairs.len();
    stats.index_pairs += index_pairs;
    seconds.push(("block".to_string(), clock.elapsed().as_secs_f64()));
    let clock = Instant::now();
    matcher.progress().stage("compare and score", pairs.len() as u64);
    let scored = matcher.score_pairs(&records, &pairs);
    seconds.push(("compare_score".to_string(), clock.elapsed().as_secs_f64()));
    let clock = Instant::now();
    matcher.progress().stage("cluster", 0);
    let threshold = model.threshold();
    let options = ClusterOptions { threshold, one_per_source: false, max_cluster_size: MAX_CLUSTER_SIZE };
    let next_match_id = baseline.manifest().next_match_id;
    let rules = BaselineRules { allow_merges, next_match_id };
    let constraints = matcher.constraints(&records);
    let clustering = cluster_incremental(
        &baseline_ids,
        records.len() - nb,
        &scored,
        &options,
        &constraints,
        rules,
        matcher.scorer(&records),
    );
    seconds.push(("cluster".to_string(), clock.elapsed().as_secs_f64()));
    let mut ids: Vec<u64> = clustering.match_ids.clone();
    ids.sort_unstable();
    ids.dedup();
    let matched = clustering.status.iter().filter(|&&s| s != MatchStatus::NewUnique).count();
    let stats = MatchStats {
        records: records.len() - nb,
        baseline_records_read: nb,
        blocking: stats,
        pairs_above_threshold: scored.iter().filter(|p| p.score >= threshold).count(),
        clusters: ids.len(),
        matched_records: matched,
        threshold,
        seconds,
    };
    Ok(IncrementalOutput { records, clustering, baseline_rows: subset, baseline_ids, pairs: scored, stats })
}

/// The output table of an incremental run: the new rows and columns, then
/// `match_id`, `match_confidence_score`, `match_status` and
/// `matched_baseline_key`. With `unique_only`, one row per new entity that
/// matched no baseline record (the first row of each such cluster).
pub fn output_batch(new: &Table, output: &IncrementalOutput, unique_only: bool) -> Result<RecordBatch> {
    let c = &output.clustering;
    let rows: Vec<usize> = if unique_only {
        let mut seen = HashSet::new();
        (0..c.match_ids.len())
            .filter(|&i| c.status[i] != MatchStatus::Existing && seen.insert(c.match_ids[i]))
            .collect()
    } else {
        (0..c.match_ids.len()).collect()
    };
    let indices = arrow_array::UInt32Array::from(rows.iter().map(|&r| r as u32).collect::<Vec<_>>());
    let reserved = [MATCH_ID, MATCH_CONFIDENCE, MATCH_STATUS, MATCHED_BASELINE_KEY];
    let batch = new.batch();
    let mut fields: Vec<Field> = Vec::new();
    let mut columns: Vec<ArrayRef> = Vec::new();
    for (field, column) in batch.schema().fields().iter().zip(batch.columns()) {
        if !reserved.contains(&field.name().as_str()) {
            fields.push(field.as_ref().clone());
            columns.push(
                arrow_select::take::take(column, &indices, None).map_err(|e| Error::usage(e.to_string()))?,
            );
        }
    }
    let keys = output.records.keys();
    fields.push(Field::new(MATCH_ID, DataType::UInt64, false));
    columns.push(Arc::new(UInt64Array::from(rows.iter().map(|&r| c.match_ids[r]).collect::<Vec<_>>())));
    fields.push(Field::new(MATCH_CONFIDENCE, DataType::Float32, false));
    columns.push(Arc::new(Float32Array::from(
        rows.iter().map(|&r| (c.confidence[r] * 10_000.0).round() / 10_000.0).collect::<Vec<_>>(),
    )));
    fields.push(Field::new(MATCH_STATUS, DataType::Utf8, false));
    columns.push(Arc::new(StringArray::from(rows.iter().map(|&r| c.status[r].as_str()).collect::<Vec<_>>())));
    fields.push(Field::new(MATCHED_BASELINE_KEY, DataType::Utf8, true));
    columns.push(Arc::new(StringArray::from(
        rows.iter()
            .map(|&r| c.best_baseline[r].map(|b: RecordId| keys[b as usize].as_str()))
            .collect::<Vec<_>>(),
    )));
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).map_err(|e| Error::usage(e.to_string()))
}
