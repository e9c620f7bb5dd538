//! The HTML report of a run: one self-contained file (styles and charts
//! inline, nothing fetched, readable with scripts off) to look at before
//! trusting a result: what the run did, how the scores fall around the
//! threshold, and the matches a reviewer should check first.
//!
//! The figures are gathered into [`RunReport`] (plain data), drawn by
//! [`charts`] and laid out by a template (minijinja, HTML-escaped).
//! Everything is aggregated or sampled, so a report stays small however
//! large the run.

mod charts;

use std::path::Path;

use arrow_array::Array;
use serde::Serialize;

use crate::durable::atomic_write;
use crate::error::{Error, Result};
use crate::matcher::MatchOutput;
use crate::model::MatchModel;
use crate::read::Table;

const TEMPLATE: &str = include_str!("report.html");
/// Bins of the probability histogram.
const SCORE_BINS: usize = 50;
/// Pairs listed on each side of the threshold.
const REVIEW_PAIRS: usize = 10;
/// Cluster sizes: each bin's smallest size, and its label.
const SIZE_BINS: [(usize, &str); 8] =
    [(1, "1"), (2, "2"), (3, "3"), (4, "4"), (5, "5–9"), (10, "10–19"), (20, "20–99"), (100, "100+")];

/// A matching run's figures, as the report shows them.
#[derive(Debug, Serialize)]
pub struct RunReport {
    /// What was matched (the input's name).
    pub title: String,
    /// Input records.
    pub records: usize,
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
    /// The largest cluster's size.
    pub largest_cluster: usize,
    /// Seconds per stage.
    pub stages: Vec<(String, f64)>,
    /// Their total.
    pub seconds: f64,
    /// Clusters per size bin: (label, clusters).
    pub cluster_sizes: Vec<(String, u64)>,
    /// The weakest matches (lowest probabilities at or above the
    /// threshold), records side by side.
    pub weakest_matches: Vec<ReviewPair>,
    /// The strongest non-matches (highest probabilities below it).
    pub closest_non_matches: Vec<ReviewPair>,
    /// The columns review pairs show: the primary key, then the matched columns.
    pub columns: Vec<String>,
}

/// A candidate pair shown side by side.
#[derive(Debug, Serialize)]
pub struct ReviewPair {
    /// The pair's match probability.
    pub probability: f32,
    /// Whether clustering put the two records together.
    pub same_cluster: bool,
    /// Per column: (left value, right value, whether they differ).
    pub values: Vec<(String, String, bool)>,
}

impl RunReport {
    /// The figures of a dedup of `table` by `model`, as `output`.
    pub fn of_dedup(
        title: &str,
        table: &Table,
        model: &MatchModel,
        output: &MatchOutput,
    ) -> Result<RunReport> {
        let stats = &output.stats;
        let threshold = stats.threshold;
        let mut sizes = std::collections::HashMap::new();
        for &id in &output.clustering.match_ids {
            *sizes.entry(id).or_insert(0usize) += 1;
        }
        let mut cluster_sizes: Vec<(String, u64)> =
            SIZE_BINS.iter().map(|(_, l)| (l.to_string(), 0)).collect();
        for &size in sizes.values() {
            let bin = SIZE_BINS.iter().rposition(|(least, _)| size >= *least).unwrap_or(0);
            cluster_sizes[bin].1 += 1;
        }
        let def = &model.definition;
        let columns: Vec<String> =
            std::iter::once(def.primary_key.clone()).chain(def.columns.keys().cloned()).collect();
        let values = columns.iter().map(|c| table.strings(c)).collect::<Result<Vec<_>>>()?;
        let review = |pair: &crate::cluster::ScoredPair| {
            let (a, b) = (pair.pair.a as usize, pair.pair.b as usize);
            let ids = &output.clustering.match_ids;
            ReviewPair {
                probability: (pair.score * 10_000.0).round() / 10_000.0,
                same_cluster: ids.get(a) == ids.get(b),
                values: values
                    .iter()
                    .enumerate()
                    .map(|(c, v)| {
                        let text =
                            |i: usize| if v.is_null(i) { String::new() } else { v.value(i).to_string() };
                        let (l, r) = (text(a), text(b));
                        // Keys always differ: only matched columns are marked.
                        let differs = c > 0 && !l.trim().eq_ignore_ascii_case(r.trim());
                        (l, r, differs)
                    })
                    .collect(),
            }
        };
        let mut above: Vec<&crate::cluster::ScoredPair> =
            output.pairs.iter().filter(|p| p.score >= threshold).collect();
        above.sort_by(|x, y| x.score.total_cmp(&y.score).then(x.pair.cmp(&y.pair)));
        let mut below: Vec<&crate::cluster::ScoredPair> =
            output.pairs.iter().filter(|p| p.score < threshold).collect();
        below.sort_by(|x, y| y.score.total_cmp(&x.score).then(x.pair.cmp(&y.pair)));
        Ok(RunReport {
            title: title.to_string(),
            records: stats.records,
            candidates: stats.blocking.candidates,
            key_pairs: stats.blocking.key_pairs,
            index_pairs: stats.blocking.index_pairs,
            above_threshold: stats.pairs_above_threshold,
            threshold,
            clusters: stats.clusters,
            matched_records: stats.matched_records,
            largest_cluster: sizes.values().copied().max().unwrap_or(0),
            seconds: stats.seconds.iter().map(|(_, s)| s).sum(),
            stages: stats.seconds.clone(),
            cluster_sizes,
            weakest_matches: above.into_iter().take(REVIEW_PAIRS).map(review).collect(),
            closest_non_matches: below.into_iter().take(REVIEW_PAIRS).map(review).collect(),
            columns,
        })
    }

    /// The report as one HTML page; `scores` are the candidate pairs'
    /// probabilities, binned for the histogram.
    pub fn render(&self, scores: impl Iterator<Item = f32>) -> Result<String> {
        let mut counts = vec![0u64; SCORE_BINS];
        for s in scores {
            counts[((s.clamp(0.0, 1.0) * SCORE_BINS as f32) as usize).min(SCORE_BINS - 1)] += 1;
        }
        let score_chart = charts::probability_histogram(&counts, self.threshold)?;
        let (labels, sizes): (Vec<String>, Vec<u64>) = self.cluster_sizes.iter().cloned().unzip();
        let size_chart = charts::bars(&labels, &sizes, "cluster size", "clusters")?;
        let mut env = minijinja::Environment::new();
        env.add_filter("fixed", |v: f64, digits: usize| format!("{v:.digits$}"));
        env.add_template("report.html", TEMPLATE).map_err(template)?;
        env.get_template("report.html")
            .and_then(|t| {
                t.render(minijinja::context! {
                    run => self,
                    score_chart => minijinja::Value::from_safe_string(score_chart),
                    size_chart => minijinja::Value::from_safe_string(size_chart),
                    version => env!("CARGO_PKG_VERSION"),
                })
            })
            .map_err(template)
    }

    /// Write the report to `path` (atomically).
    pub fn write(&self, path: &Path, scores: impl Iterator<Item = f32>) -> Result<()> {
        let html = self.render(scores)?;
        atomic_write(path, |w| {
            use std::io::Write;
            w.write_all(html.as_bytes()).map_err(|e| Error::io(path, e))
        })
    }
}

fn template(e: minijinja::Error) -> Error {
    Error::usage(format!("rendering the report: {e}"))
}
