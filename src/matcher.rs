//! The pipeline end to end: train a [`MatchModel`] from labels, and run a
//! model over one table (dedup) or two (link).
//!
//! This is the library's front door and it is Arrow in, Arrow out: tables
//! go in as [`Table`]s (a `RecordBatch` plus its name), results come out as
//! one match_id and confidence per row, which [`output_batch`] appends to
//! the input columns. Nothing here touches process-global state; the
//! caller picks the thread pool (`rayon::ThreadPool::install`).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Instant;

use arrow_array::{ArrayRef, Float32Array, RecordBatch, StringArray, UInt64Array};
use arrow_schema::{DataType, Field, Schema};
use rayon::prelude::*;
use rustc_hash::{FxHashMap, FxHashSet};
use serde::Serialize;

use crate::block::agree::agreeing_pairs;
use crate::block::{BlockStats, Blocking, Mode};
use crate::cluster::{self, ClusterOptions, Clustering, Constraints, ScoredPair};
use crate::compare::ComparePlan;
use crate::config::TransformDef;
use crate::error::{Error, Result};
use crate::labels::{self, Labels};
use crate::model::{one_to_one, MatchModel, ProvidedLabel, TrainingMethod, TrainingSummary};
use crate::read::Table;
use crate::record::{CandidatePair, RecordId, Records};
use crate::rng::Rng;
use crate::unsupervised::FellegiSunter;

/// Output column with each row's cluster.
pub const MATCH_ID: &str = "match_id";
/// Output column with each row's confidence.
pub const MATCH_CONFIDENCE: &str = "match_confidence_score";
/// Output column naming each row's input table (link).
pub const SOURCE: &str = "source";
/// No cluster grows beyond this many records.
pub const MAX_CLUSTER_SIZE: usize = 500;

/// Receives progress from long stages; the CLI draws bars with it.
pub trait Progress: Sync {
    /// A stage starts; `total` units of work (0 when unknown).
    fn stage(&self, name: &str, total: u64);
    /// `n` more units are done.
    fn advance(&self, n: u64);
}

/// A [`Progress`] that ignores everything.
pub struct NoProgress;

impl Progress for NoProgress {
    fn stage(&self, _: &str, _: u64) {}
    fn advance(&self, _: u64) {}
}

/// Figures of one run.
#[derive(Clone, Debug, Default, Serialize)]
pub struct MatchStats {
    /// Input records.
    pub records: usize,
    /// Baseline records read (incremental runs).
    #[serde(skip_serializing_if = "is_zero")]
    pub baseline_records_read: usize,
    /// Candidate pairs from blocking.
    pub blocking: BlockStats,
    /// Candidate pairs at or above the threshold.
    pub pairs_above_threshold: usize,
    /// Clusters (records alone included).
    pub clusters: usize,
    /// Records in clusters of two or more.
    pub matched_records: usize,
    /// The match threshold used.
    pub threshold: f32,
    /// Seconds per stage.
    pub seconds: Vec<(String, f64)>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// The result of a run: one match_id and confidence per input row, in
/// input order (left table first for link).
#[derive(Clone, Debug)]
pub struct MatchOutput {
    /// The normalized records.
    pub records: Records,
    /// Their clustering.
    pub clustering: Clustering,
    /// Every candidate pair with its match probability.
    pub pairs: Vec<ScoredPair>,
    /// Figures.
    pub stats: MatchStats,
}

/// Runs a trained model over tables.
pub struct Matcher<'p> {
    model: MatchModel,
    plan: ComparePlan,
    progress: &'p dyn Progress,
}

impl<'p> Matcher<'p> {
    /// A matcher for `model`, reporting to `progress`.
    pub fn new(model: MatchModel, progress: &'p dyn Progress) -> Matcher<'p> {
        let plan = ComparePlan::new(&model.definition);
        Matcher { model, plan, progress }
    }

    /// The model.
    pub fn model(&self) -> &MatchModel {
        &self.model
    }

    /// The compare plan of the model's definition.
    pub fn plan(&self) -> &ComparePlan {
        &self.plan
    }

    /// Where progress goes.
    pub fn progress(&self) -> &dyn Progress {
        self.progress
    }

    /// Find duplicates within one table.
    pub fn dedup(&self, table: &Table) -> Result<MatchOutput> {
        self.run(&[table], Mode::Dedup)
    }

    /// Match the rows of two tables to each other.
    pub fn link(&self, left: &Table, right: &Table) -> Result<MatchOutput> {
        self.run(&[left, right], Mode::Link)
    }

    fn run(&self, tables: &[&Table], mode: Mode) -> Result<MatchOutput> {
        let def = &self.model.definition;
        let mut seconds = Vec::new();
        let mut clock = Instant::now();
        let mut lap = |name: &str, clock: &mut Instant| {
            seconds.push((name.to_string(), clock.elapsed().as_secs_f64()));
            *clock = Instant::now();
        };
        for table in tables {
            self.model.check_table(table)?;
        }
        self.progress.stage("normalize", 0);
        let records = Records::build(def, tables)?;
        lap("normalize", &mut clock);
        self.progress.stage("block", 0);
        let (pairs, blocking) = Blocking::new(def, records.len()).candidates(&records, def, mode)?;
        lap("block", &mut clock);
        self.progress.stage("compare and score", pairs.len() as u64);
        let scored = self.score_pairs(&records, &pairs);
        lap("compare_score", &mut clock);
        self.progress.stage("cluster", 0);
        let threshold = self.model.threshold();
        let clustering = self.cluster(&records, &scored, mode);
        lap("cluster", &mut clock);
        let stats = MatchStats {
            records: records.len(),
            baseline_records_read: 0,
            blocking,
            pairs_above_threshold: scored.iter().filter(|p| p.score >= threshold).count(),
            clusters: clustering.clusters,
            matched_records: clustering.matched_records,
            threshold,
            seconds,
        };
        Ok(MatchOutput { records, clustering, pairs: scored, stats })
    }

    /// Cluster `records` from their scored candidate pairs, as a `mode` run
    /// does: at the model's threshold, one record per table in a cluster
    /// when linking one to one, labels held when the tuning enforces them.
    pub fn cluster(&self, records: &Records, scored: &[ScoredPair], mode: Mode) -> Clustering {
        let def = &self.model.definition;
        let options = ClusterOptions {
            threshold: self.model.threshold(),
            one_per_source: links_one_to_one(def, mode),
            max_cluster_size: MAX_CLUSTER_SIZE,
        };
        let constraints = self.constraints(records);
        cluster::cluster_constrained(
            records.len(),
            records.sources(),
            scored,
            &options,
            &constraints,
            self.scorer(records),
        )
    }

    /// The model's labels among `records`, as clustering constraints, when
    /// its tuning says to enforce them (else none). Labels naming records
    /// that are not here are left out.
    pub fn constraints(&self, records: &Records) -> Constraints {
        let mut constraints = Constraints::default();
        if !self.model.definition.tuning.enforce_provided_labels || self.model.labels.is_empty() {
            return constraints;
        }
        let wanted: FxHashSet<&str> =
            self.model.labels.iter().flat_map(|l| [l.left.as_str(), l.right.as_str()]).collect();
        let ids: FxHashMap<&str, RecordId> = records
            .keys()
            .iter()
            .enumerate()
            .filter(|(_, k)| wanted.contains(k.as_str()))
            .map(|(i, k)| (k.as_str(), i as RecordId))
            .collect();
        for l in &self.model.labels {
            if let (Some(&a), Some(&b)) = (ids.get(l.left.as_str()), ids.get(l.right.as_str())) {
                let pair = CandidatePair::new(a, b);
                if a != b {
                    if l.is_match {
                        constraints.must.push(pair)
                    } else {
                        constraints.cannot.push(pair)
                    }
                }
            }
        }
        constraints
    }

    /// P(match) of any pair of `records`, for pairs blocking did not
    /// produce (clustering asks for them, from several threads).
    pub fn scorer<'r>(&'r self, records: &'r Records) -> impl Fn(RecordId, RecordId) -> f32 + Sync + 'r {
        move |a, b| {
            let mut buf = vec![0.0f32; self.plan.num_features()];
            self.plan.compare(records, a, b, &mut buf);
            self.model.probability(&buf)
        }
    }

    /// Compare and score candidate pairs in parallel, one scratch vector
    /// per worker.
    pub fn score_pairs(&self, records: &Records, pairs: &[CandidatePair]) -> Vec<ScoredPair> {
        let stride = self.plan.num_features();
        pairs
            .par_chunks(4096)
            .flat_map_iter(|chunk| {
                let mut buf = vec![0.0f32; stride];
                let ahead = |i: usize, first: bool| {
                    if let Some(p) = chunk.get(i) {
                        records.prefetch(p.b, first);
                    }
                };
                let out: Vec<ScoredPair> = chunk
                    .iter()
                    .enumerate()
                    .map(|(i, &pair)| {
                        // The second record of a pair is anywhere: ask for
                        // it while comparing earlier pairs.
                        ahead(i + 2 * PREFETCH_DISTANCE, true);
                        ahead(i + PREFETCH_DISTANCE, false);
                        self.plan.compare(records, pair.a, pair.b, &mut buf);
                        ScoredPair { pair, score: self.model.probability(&buf) }
                    })
                    .collect();
                self.progress.advance(chunk.len() as u64);
                out
            })
            .collect()
    }
}

/// How many pairs ahead of the one compared the next ones' records are
/// prefetched (twice as far for their offsets).
const PREFETCH_DISTANCE: usize = 8;

/// The labeled pairs of `records` that `labels` name, distinct, sorted.
pub fn labeled_pairs(records: &Records, labels: &[Labels]) -> Result<Vec<(CandidatePair, bool)>> {
    let mut labeled: Vec<(CandidatePair, bool)> = Vec::new();
    for l in labels {
        labeled.extend(l.resolve(records)?);
    }
    labeled.sort_unstable_by_key(|(p, _)| *p);
    labeled.dedup_by_key(|(p, _)| *p);
    if labeled.is_empty() {
        return Err(Error::training("the labels give no pair of records"));
    }
    Ok(labeled)
}

/// How many records' candidates training scores to place the threshold,
/// and unsupervised training learns from.
const THRESHOLD_SAMPLE: usize = 50_000;
/// Random record pairs unsupervised training counts non-match agreement on.
const RANDOM_PAIRS: usize = 100_000;
/// Record pairs agreeing on a rule's columns that unsupervised training
/// learns from, at most (see [`crate::unsupervised`]).
const RULE_PAIRS: usize = 50_000;

fn mode_of(tables: &[&Table]) -> Mode {
    if tables.len() > 1 {
        Mode::Link
    } else {
        Mode::Dedup
    }
}

/// Train a model: normalize the tables under `def`, resolve the labels
/// against their records (only pairs a run could make count: for a link,
/// pairs across the two tables), compare the labeled pairs and fit them.
pub fn train(def: &TransformDef, tables: &[&Table], labels: &[Labels]) -> Result<MatchModel> {
    let records = Records::build(def, tables)?;
    let mode = mode_of(tables);
    let sources = records.sources();
    let labeled: Vec<(CandidatePair, bool)> = labeled_pairs(&records, labels)?
        .into_iter()
        .filter(|(p, _)| mode.allows(sources[p.a as usize], sources[p.b as usize]))
        .collect();
    let plan = ComparePlan::new(def);
    let pairs: Vec<CandidatePair> = labeled.iter().map(|(p, _)| *p).collect();
    let is_match: Vec<bool> = labeled.iter().map(|(_, m)| *m).collect();
    let features = plan.compare_all(&records, &pairs);
    let one_to_one = links_one_to_one(def, mode).then_some(&pairs[..]);
    let mut model = MatchModel::fit(def, &features, &is_match, distinct_records(&pairs), one_to_one)?;
    let keys = records.keys();
    model.labels = labeled
        .iter()
        .map(|(p, m)| ProvidedLabel {
            left: keys[p.a as usize].clone(),
            right: keys[p.b as usize].clone(),
            is_match: *m,
        })
        .collect();
    settle_threshold(&mut model, &records, mode)?;
    Ok(model)
}

/// Train a first model without labels: the weights of a Fellegi–Sunter
/// model fitted by EM (see [`crate::unsupervised`]) on a sample of
/// candidate pairs (from the wider key net labeling uses, so near misses
/// are among them) and random record pairs, as an ordinary [`MatchModel`]
/// that labels can later replace.
pub fn train_unsupervised(def: &TransformDef, tables: &[&Table]) -> Result<MatchModel> {
    let records = Records::build(def, tables)?;
    let mode = mode_of(tables);
    let plan = ComparePlan::new(def);
    let blocking = Blocking::new(def, records.len());
    let blocking = Blocking { ranking: blocking.ranking.widened(), ..blocking };
    let candidates = blocking.sample_candidates(&records, def, mode, THRESHOLD_SAMPLE)?;
    let random = random_pairs(&records, mode, RANDOM_PAIRS);
    if candidates.is_empty() || random.is_empty() {
        return Err(Error::training("too few records to learn from without labels"));
    }
    let columns = plan.column_levels();
    let agreeing =
        |rule: &[usize]| plan.compare_all(&records, &agreeing_pairs(&records, mode, rule, RULE_PAIRS));
    let fs = FellegiSunter::fit(
        &columns,
        &plan.compare_all(&records, &candidates),
        &plan.compare_all(&records, &random),
        links_one_to_one(def, mode).then_some(&candidates[..]),
        &agreeing,
    );
    let (weights, intercept) = fs.weights(&columns, plan.num_features(), &plan.name_swaps());
    let expected = (fs.lambda * candidates.len() as f64).round() as usize;
    if expected == 0 {
        return Err(Error::training(
            "without labels, no candidate pair looks like a match; label some pairs (label generate)",
        ));
    }
    let summary = TrainingSummary {
        method: TrainingMethod::Unsupervised,
        pairs: candidates.len(),
        matches: expected,
        non_matches: candidates.len() - expected.min(candidates.len()),
        records: records.len(),
        implied_columns: columns
            .iter()
            .zip(&fs.described)
            .filter(|(_, &described)| described)
            .map(|(c, _)| c.column.clone())
            .collect(),
        ..TrainingSummary::default()
    };
    let mut model = MatchModel::from_weights(def, weights, intercept, summary);
    // Its threshold stays at even odds unless it links one to one (see
    // `MatchModel::calibrate`).
    if links_one_to_one(def, mode) {
        settle_threshold(&mut model, &records, mode)?;
    }
    Ok(model)
}

/// A labeling round: `sets` groups of at most `set_size` records of
/// `tables` to label ([`labels::generate_sets`]), from the candidate pairs
/// of the wider key net labeling uses. With a `model`, its labeled records
/// are left out and, if `uncertain`, the sets gather around the pairs it
/// is least sure of; otherwise around random records and their most
/// similar candidates. Returns the records with the sets.
pub fn labeling_round(
    def: &TransformDef,
    tables: &[&Table],
    model: Option<&MatchModel>,
    uncertain: bool,
    sets: usize,
    set_size: usize,
    seed: u64,
) -> Result<(Records, Vec<Vec<RecordId>>)> {
    let records = Records::build(def, tables)?;
    let mode = mode_of(tables);
    let (candidates, _) = Blocking::for_labeling(def, records.len()).candidates(&records, def, mode)?;
    let labeled_keys: HashSet<&str> = model
        .iter()
        .flat_map(|m| m.labels.iter().flat_map(|l| [l.left.as_str(), l.right.as_str()]))
        .collect();
    let request = labels::SetRequest {
        sets,
        set_size,
        seed,
        labeled: records.keys().iter().map(|k| labeled_keys.contains(k.as_str())).collect(),
    };
    let scores = match model {
        Some(model) if uncertain => {
            let matcher = Matcher::new(model.clone(), &NoProgress);
            Some(labels::ModelScores {
                probabilities: matcher.score_pairs(&records, &candidates).iter().map(|p| p.score).collect(),
                threshold: model.threshold(),
            })
        }
        _ => None,
    };
    let sets = labels::generate_sets(&records, &candidates, scores.as_ref(), &request);
    Ok((records, sets))
}

/// Settle the threshold on the candidates a run over `records` makes (a
/// sample of them says where as well as all): see
/// [`MatchModel::calibrate`].
fn settle_threshold(model: &mut MatchModel, records: &Records, mode: Mode) -> Result<()> {
    let def = &model.definition;
    let candidates =
        Blocking::new(def, records.len()).sample_candidates(records, def, mode, THRESHOLD_SAMPLE)?;
    let matcher = Matcher::new(model.clone(), &NoProgress);
    let mut scored = matcher.score_pairs(records, &candidates);
    let one_to_one_link = links_one_to_one(def, mode);
    if one_to_one_link {
        let pairs: Vec<CandidatePair> = scored.iter().map(|p| p.pair).collect();
        let scores: Vec<f64> = scored.iter().map(|p| p.score as f64).collect();
        let mut kept = one_to_one(&pairs, &scores).into_iter();
        scored.retain(|_| kept.next() == Some(true));
    }
    let probabilities: Vec<f32> = scored.iter().map(|p| p.score).collect();
    model.calibrate(&probabilities, one_to_one_link);
    Ok(())
}

/// Whether a `mode` run under `def` links one to one.
/// Whether a `mode` run keeps one record per table in a cluster.
pub fn links_one_to_one(def: &TransformDef, mode: Mode) -> bool {
    mode == Mode::Link && def.tuning.link_one_to_one
}

fn distinct_records(pairs: &[CandidatePair]) -> usize {
    let mut distinct: Vec<RecordId> = pairs.iter().flat_map(|p| [p.a, p.b]).collect();
    distinct.sort_unstable();
    distinct.dedup();
    distinct.len()
}

/// `count` record pairs drawn at random (across sources when linking),
/// the same for the same records.
fn random_pairs(records: &Records, mode: Mode, count: usize) -> Vec<CandidatePair> {
    let mut rng = Rng::new(records.len() as u64);
    let (left, right) = match mode {
        Mode::Link if records.num_sources() > 1 => (records.source_range(0), records.source_range(1)),
        _ => (0..records.len(), 0..records.len()),
    };
    if left.is_empty() || right.is_empty() || records.len() < 2 {
        return Vec::new();
    }
    let mut pairs: Vec<CandidatePair> = (0..count)
        .map(|_| (left.start + rng.below(left.len()), right.start + rng.below(right.len())))
        .filter(|(a, b)| a != b)
        .map(|(a, b)| CandidatePair::new(a as RecordId, b as RecordId))
        .collect();
    pairs.sort_unstable();
    pairs.dedup();
    pairs
}

/// The candidate pairs of a run as a table: `left_key`, `right_key` (the
/// records' primary keys) and `match_probability`, for audit and for
/// measuring blocking recall against a truth.
pub fn pairs_batch(records: &Records, pairs: &[ScoredPair]) -> Result<RecordBatch> {
    let keys = records.keys();
    let schema = Schema::new(vec![
        Field::new("left_key", DataType::Utf8, false),
        Field::new("right_key", DataType::Utf8, false),
        Field::new("match_probability", DataType::Float32, false),
    ]);
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from_iter_values(pairs.iter().map(|p| keys[p.pair.a as usize].as_str()))),
        Arc::new(StringArray::from_iter_values(pairs.iter().map(|p| keys[p.pair.b as usize].as_str()))),
        Arc::new(Float32Array::from_iter_values(pairs.iter().map(|p| p.score))),
    ];
    RecordBatch::try_new(Arc::new(schema), columns).map_err(|e| Error::usage(e.to_string()))
}

/// The output table: every input row and column (a `source` column first
/// when there are several tables), then `match_id` and
/// `match_confidence_score`. Input columns of those names are replaced.
pub fn output_batch(tables: &[&Table], output: &MatchOutput) -> Result<RecordBatch> {
    let reserved =
        |name: &str| name == MATCH_ID || name == MATCH_CONFIDENCE || (tables.len() > 1 && name == SOURCE);
    let mut fields: Vec<Field> = Vec::new();
    let mut columns: Vec<ArrayRef> = Vec::new();
    if let [table] = tables {
        let batch = table.batch();
        for (field, column) in batch.schema().fields().iter().zip(batch.columns()) {
            if !reserved(field.name()) {
                fields.push(field.as_ref().clone());
                columns.push(column.clone());
            }
        }
    } else {
        let sources: StringArray = tables
            .iter()
            .flat_map(|t| {
                let name = t.path().file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                std::iter::repeat_n(Some(name), t.num_rows())
            })
            .collect();
        fields.push(Field::new(SOURCE, DataType::Utf8, false));
        columns.push(Arc::new(sources));
        let mut names: Vec<String> = Vec::new();
        for t in tables {
            for h in t.headers() {
                if !names.contains(&h) && !reserved(&h) {
                    names.push(h);
                }
            }
        }
        for name in names {
            let mut values: Vec<Option<String>> = Vec::with_capacity(output.records.len());
            for t in tables {
                if t.headers().contains(&name) {
                    let a = t.strings(&name)?;
                    values.extend(a.iter().map(|v| v.map(str::to_string)));
                } else {
                    values.extend(std::iter::repeat_n(None, t.num_rows()));
                }
            }
            fields.push(Field::new(&name, DataType::Utf8, true));
            columns.push(Arc::new(StringArray::from(values)));
        }
    }
    fields.push(Field::new(MATCH_ID, DataType::UInt64, false));
    columns.push(Arc::new(UInt64Array::from(output.clustering.match_ids.clone())));
    fields.push(Field::new(MATCH_CONFIDENCE, DataType::Float32, false));
    let confidence: Float32Array =
        output.clustering.confidence.iter().map(|c| Some((c * 10_000.0).round() / 10_000.0)).collect();
    columns.push(Arc::new(confidence));
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).map_err(|e| Error::usage(e.to_string()))
}
