//! The run and review sections: a run's figures, and the pairs and
//! clusters to look at, taken from its records, scored pairs and match_ids
//! however the run was made (dedup, link, incremental).

use arrow_array::{Array, StringArray};
use rayon::prelude::*;
use serde::Serialize;

use super::Merge;
use crate::block::keys::{common_values, KeyBlock};
use crate::cluster::ScoredPair;
use crate::compare::ComparePlan;
use crate::error::Result;
use crate::evaluate::column_importance;
use crate::explain::explain;
use crate::matcher::MatchStats;
use crate::model::MatchModel;
use crate::read::Table;
use crate::record::{CandidatePair, RecordId, Records};

/// Bins of the probability histogram.
const SCORE_BINS: usize = 50;
/// Pairs listed on each side of the threshold.
const REVIEW_PAIRS: usize = 10;
/// Clusters shown member by member, and members shown of each.
const LARGEST_CLUSTERS: usize = 3;
const CLUSTER_MEMBERS: usize = 12;
/// Keys too common to use listed, at most.
const KEYS_SHOWN: usize = 10;
/// Candidate pairs column importance is measured on, at most.
const IMPORTANCE_SAMPLE: usize = 20_000;
/// Cluster sizes: each bin's smallest size, and its label.
const SIZE_BINS: [(usize, &str); 8] =
    [(1, "1"), (2, "2"), (3, "3"), (4, "4"), (5, "5–9"), (10, "10–19"), (20, "20–99"), (100, "100+")];

/// A run's figures.
#[derive(Debug, Serialize)]
pub struct RunSection {
    /// Input records (for an incremental run, the new ones).
    pub records: usize,
    /// Baseline records an incremental run read.
    pub baseline_records_read: usize,
    /// Candidate pairs blocking made.
    pub candidates: usize,
    /// Pairs from blocking keys (before the union).
    pub key_pairs: usize,
    /// Pairs from the blocking index (before the union).
    pub index_pairs: usize,
    /// Candidate pairs at or above the threshold.
    pub above_threshold: usize,
    /// The match threshold.
    pub threshold: f32,
    /// Clusters (records alone included).
    pub clusters: usize,
    /// Records in clusters of two or more.
    pub matched_records: usize,
    /// The largest cluster's size (among the records the run held).
    pub largest_cluster: usize,
    /// Seconds per stage.
    pub stages: Vec<(String, f64)>,
    /// Their total.
    pub seconds: f64,
    /// Clusters per size bin: (label, clusters).
    pub cluster_sizes: Vec<(String, u64)>,
    /// Candidate pairs per probability bin ([`SCORE_BINS`] over 0..1).
    pub score_bins: Vec<u64>,
    /// The largest key blocks used.
    pub largest_keys: Vec<KeyBlock>,
    /// Keys too common to use: blocks skipped, then values and words
    /// left out before blocking.
    pub capped_keys: Vec<KeyBlock>,
    /// How many blocks were skipped as too large.
    pub capped_blocks: usize,
    /// The block size limit.
    pub max_block: usize,
}

/// Pairs and clusters to look at.
#[derive(Debug, Serialize)]
pub struct ReviewSection {
    /// The columns shown: the primary key, then the matched columns.
    pub columns: Vec<String>,
    /// The weakest matches (lowest probabilities at or above the
    /// threshold), weakest first.
    pub weakest_matches: Vec<ReviewPair>,
    /// The strongest non-matches (highest probabilities below it).
    pub closest_non_matches: Vec<ReviewPair>,
    /// The largest clusters, member by member.
    pub largest_clusters: Vec<ClusterView>,
}

/// A candidate pair side by side, with its score taken apart.
#[derive(Debug, Serialize)]
pub struct ReviewPair {
    /// The pair's match probability.
    pub probability: f32,
    /// Whether clustering put the two records together.
    pub same_cluster: bool,
    /// Per column: (left value, right value, whether they differ, the
    /// column's evidence).
    pub values: Vec<(String, String, bool, Evidence)>,
    /// Evidence of no column: the model's intercept, the name swap, all words.
    pub other: Vec<(String, Evidence)>,
    /// All the evidence: the log-odds whose logistic is `probability`.
    pub evidence: f64,
}

/// What one part adds to a pair's log-odds, with its bar's share of the
/// largest part's.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct Evidence {
    /// Log-odds added.
    pub log_odds: f64,
    /// |log_odds| as a percentage of the pair's largest part.
    pub width: f64,
}

/// A cluster, member by member.
#[derive(Debug, Serialize)]
pub struct ClusterView {
    /// Its match_id.
    pub match_id: u64,
    /// Its members.
    pub size: usize,
    /// The first members' values (of [`ReviewSection::columns`]).
    pub members: Vec<Vec<String>>,
}

/// A run's records, with their tables' raw values, scored pairs and
/// match_ids (one per record).
pub(super) struct RunView<'a> {
    records: &'a Records,
    pairs: &'a [ScoredPair],
    match_ids: &'a [u64],
    /// Per source, per shown column, the raw values.
    values: Vec<Vec<StringArray>>,
    columns: Vec<String>,
    /// Each match_id's records, by match_id.
    sizes: Vec<(u64, usize)>,
}

impl<'a> RunView<'a> {
    pub(super) fn new(
        tables: &[&'a Table],
        records: &'a Records,
        pairs: &'a [ScoredPair],
        match_ids: &'a [u64],
        model: &MatchModel,
    ) -> Result<RunView<'a>> {
        let def = &model.definition;
        let columns: Vec<String> = std::iter::once(def.primary_key.clone())
            .chain(def.matched_columns().map(|(c, _)| c.to_string()))
            .collect();
        let values = (tables.iter())
            .map(|t| columns.iter().map(|c| t.strings(c)).collect::<Result<Vec<_>>>())
            .collect::<Result<Vec<_>>>()?;
        let mut ids = match_ids.to_vec();
        ids.par_sort_unstable();
        let sizes = ids.chunk_by(|x, y| x == y).map(|c| (c[0], c.len())).collect();
        Ok(RunView { records, pairs, match_ids, values, columns, sizes })
    }

    /// Record `id`'s raw values of the shown columns.
    fn row(&self, id: RecordId) -> Vec<String> {
        let s = self.records.sources()[id as usize] as usize;
        let i = id as usize - self.records.source_range(s).start;
        (self.values[s].iter())
            .map(|v| if v.is_null(i) { String::new() } else { v.value(i).to_string() })
            .collect()
    }

    pub(super) fn run_section(&self, model: &MatchModel, stats: &MatchStats) -> RunSection {
        let threshold = stats.threshold;
        let mut cluster_sizes: Vec<(String, u64)> =
            SIZE_BINS.iter().map(|(_, l)| (l.to_string(), 0)).collect();
        for &(_, size) in &self.sizes {
            let bin = SIZE_BINS.iter().rposition(|(least, _)| size >= *least).unwrap_or(0);
            cluster_sizes[bin].1 += 1;
        }
        let mut score_bins = vec![0u64; SCORE_BINS];
        for p in self.pairs {
            score_bins[((p.score.clamp(0.0, 1.0) * SCORE_BINS as f32) as usize).min(SCORE_BINS - 1)] += 1;
        }
        let def = &model.definition;
        let max_block = def.tuning.max_block();
        let keys = &stats.blocking.keys;
        let mut capped_keys = keys.capped.clone();
        capped_keys.extend(common_values(self.records, def, max_block));
        capped_keys.sort_by_key(|x| std::cmp::Reverse(x.records));
        capped_keys.truncate(KEYS_SHOWN);
        RunSection {
            records: stats.records,
            baseline_records_read: stats.baseline_records_read,
            candidates: stats.blocking.candidates,
            key_pairs: stats.blocking.key_pairs,
            index_pairs: stats.blocking.index_pairs,
            above_threshold: stats.pairs_above_threshold,
            threshold,
            clusters: stats.clusters,
            matched_records: stats.matched_records,
            largest_cluster: self.sizes.iter().map(|s| s.1).max().unwrap_or(0),
            seconds: stats.seconds.iter().map(|(_, s)| s).sum(),
            stages: stats.seconds.clone(),
            cluster_sizes,
            score_bins,
            largest_keys: keys.largest.clone(),
            capped_keys,
            capped_blocks: keys.capped_blocks,
            max_block,
        }
    }

    /// Column importance over an even sample of the candidate pairs, and
    /// the sample's size.
    pub(super) fn importance(&self, model: &MatchModel) -> (Vec<(String, f64)>, usize) {
        let step = self.pairs.len().div_ceil(IMPORTANCE_SAMPLE).max(1);
        let sample: Vec<CandidatePair> = self.pairs.iter().step_by(step).map(|p| p.pair).collect();
        let plan = ComparePlan::new(&model.definition);
        let features = plan.compare_all(self.records, &sample);
        (column_importance(plan.feature_names(), &model.weights, &features), sample.len())
    }

    pub(super) fn review(&self, model: &MatchModel) -> ReviewSection {
        let threshold = model.threshold();
        let weakest = lowest(self.pairs.iter().filter(|p| p.score >= threshold), |p| p.score);
        let closest = lowest(self.pairs.iter().filter(|p| p.score < threshold), |p| -p.score);
        let mut largest: Vec<(u64, usize)> = self.sizes.iter().copied().filter(|&(_, n)| n > 1).collect();
        largest.sort_by(|x, y| y.1.cmp(&x.1).then(x.0.cmp(&y.0)));
        largest.truncate(LARGEST_CLUSTERS);
        let mut clusters: Vec<ClusterView> = (largest.iter())
            .map(|&(match_id, size)| ClusterView { match_id, size, members: Vec::new() })
            .collect();
        for (id, m) in self.match_ids.iter().enumerate() {
            if let Some(c) = clusters.iter_mut().find(|c| c.match_id == *m) {
                if c.members.len() < CLUSTER_MEMBERS {
                    c.members.push(self.row(id as RecordId));
                }
            }
        }
        ReviewSection {
            columns: self.columns.clone(),
            weakest_matches: weakest.into_iter().map(|p| self.pair(model, p)).collect(),
            closest_non_matches: closest.into_iter().map(|p| self.pair(model, p)).collect(),
            largest_clusters: clusters,
        }
    }

    /// A pair side by side, with its explanation.
    fn pair(&self, model: &MatchModel, pair: &ScoredPair) -> ReviewPair {
        let (a, b) = (pair.pair.a, pair.pair.b);
        let e = explain(model, self.records, a, b);
        let largest = (e.parts.iter().map(|p| p.evidence.abs()))
            .fold(e.intercept.abs(), f64::max)
            .max(f64::MIN_POSITIVE);
        let evidence = |log_odds: f64| Evidence { log_odds, width: 100.0 * log_odds.abs() / largest };
        let (left, right) = (self.row(a), self.row(b));
        let values = (self.columns.iter().enumerate())
            .map(|(c, column)| {
                let (l, r) = (left[c].clone(), right[c].clone());
                // Values differ as the model compares them: normalized (a
                // date written two ways is one date). Keys always differ:
                // only matched columns are marked.
                let part = e.parts.iter().find(|p| &p.part == column);
                let differs = c > 0 && part.is_some_and(|p| p.left != p.right);
                let shown =
                    if c == 0 { Evidence::default() } else { evidence(part.map_or(0.0, |p| p.evidence)) };
                (l, r, differs, shown)
            })
            .collect();
        let mut other = vec![("intercept (no evidence yet)".to_string(), evidence(e.intercept))];
        other.extend(
            (e.parts.iter())
                .filter(|p| !self.columns.contains(&p.part))
                .map(|p| (p.part.clone(), evidence(p.evidence))),
        );
        let ids = self.match_ids;
        ReviewPair {
            probability: (e.probability * 10_000.0).round() / 10_000.0,
            same_cluster: ids.get(a as usize) == ids.get(b as usize),
            values,
            other,
            evidence: e.evidence,
        }
    }

    /// Baseline clusters `kept` and `absorbed` joined by new records: the
    /// new records now in `kept`, then a record of each baseline cluster.
    pub(super) fn merge(&self, kept: u64, absorbed: u64) -> Merge {
        let baseline = self.records.source_range(0);
        let mut records = Vec::new();
        for (id, &m) in self.match_ids.iter().enumerate() {
            if m == kept && !baseline.contains(&id) {
                records.push(("new".to_string(), self.row(id as RecordId)));
            }
        }
        // Baseline records keep their stored match_ids in the view.
        for (role, want) in [("baseline, kept", kept), ("baseline, absorbed", absorbed)] {
            if let Some(i) = baseline.clone().find(|&i| self.match_ids[i] == want) {
                records.push((role.to_string(), self.row(i as RecordId)));
            }
        }
        Merge { kept, absorbed, records }
    }
}

/// The [`REVIEW_PAIRS`] items of `items` lowest by `key`, in order
/// (ties by pair), without sorting them all.
fn lowest<'p>(
    items: impl Iterator<Item = &'p ScoredPair>,
    key: impl Fn(&ScoredPair) -> f32,
) -> Vec<&'p ScoredPair> {
    let mut all: Vec<&ScoredPair> = items.collect();
    let order = |x: &&ScoredPair, y: &&ScoredPair| key(x).total_cmp(&key(y)).then(x.pair.cmp(&y.pair));
    if all.len() > REVIEW_PAIRS {
        all.select_nth_unstable_by(REVIEW_PAIRS, order);
        all.truncate(REVIEW_PAIRS);
    }
    all.sort_by(order);
    all
}
