//! The HTML report of a model and a run: one self-contained file (styles,
//! charts and a few lines of script inline, nothing fetched, everything
//! readable with scripts off) to look at before trusting a result: what
//! the run did, how the scores fall around the threshold, what the model
//! weighs, how well it is estimated to match, the pairs and clusters a
//! reviewer should check first, and what an incremental run changed.
//!
//! A [`Report`] is plain data made of optional sections, gathered by the
//! `of_*` constructors (one per command), drawn by [`charts`] and laid out
//! by a template (minijinja, HTML-escaped). Everything is aggregated or
//! sampled, so a report stays small however large the run.

mod charts;
mod model;
mod run;

use std::path::Path;

use serde::Serialize;

use crate::baseline::{Manifest, Processed};
use crate::durable::atomic_write;
use crate::error::{Error, Result};
use crate::evaluate::Evaluation;
use crate::incremental::IncrementalOutput;
use crate::matcher::MatchOutput;
use crate::model::MatchModel;
use crate::read::Table;

pub use model::{ColumnWeights, LevelWeight, ModelSection};
pub use run::{ClusterView, Evidence, ReviewPair, ReviewSection, RunSection};

const TEMPLATE: &str = include_str!("report.html");

/// A report: what made it, and the sections it has.
#[derive(Debug, Serialize)]
pub struct Report {
    /// What was matched or evaluated (the input's name).
    pub title: String,
    /// The command that made it: dedup, link, incremental, evaluate, model
    /// or baseline.
    pub kind: String,
    /// The run's figures.
    pub run: Option<RunSection>,
    /// The model's weights and training.
    pub model: ModelSection,
    /// The held-out quality estimate.
    pub evaluation: Option<Evaluation>,
    /// Pairs and clusters to look at.
    pub review: Option<ReviewSection>,
    /// What an incremental run did to its baseline, or what a baseline holds.
    pub incremental: Option<IncrementalSection>,
}

/// What an incremental run changed, or a baseline's history.
#[derive(Debug, Serialize)]
pub struct IncrementalSection {
    /// New rows that joined a baseline cluster (none for a baseline's report).
    pub existing: usize,
    /// New rows that matched only other new rows.
    pub new_duplicate: usize,
    /// New rows that matched nothing.
    pub new_unique: usize,
    /// Baseline records the run read (the clusters its new rows touched).
    pub baseline_records_read: usize,
    /// Whether the run folded its rows into the baseline (not a dry run).
    pub committed: bool,
    /// The baseline's generation after the run.
    pub generation: u64,
    /// The baseline's records and clusters after the run.
    pub baseline_records: u64,
    /// See `baseline_records`.
    pub baseline_clusters: u64,
    /// Files folded in so far, oldest first.
    pub processed: Vec<Processed>,
    /// Baseline clusters this run merged, with the records that bridged them.
    pub merges: Vec<Merge>,
    /// Merges the baseline recorded before this run: (kept, absorbed), the
    /// last [`MERGES_SHOWN`] of them.
    pub earlier_merges: Vec<(u64, u64)>,
    /// How many there are in all.
    pub earlier_merge_count: usize,
}

/// Earlier merges a report lists (a long-lived baseline may hold thousands).
const MERGES_SHOWN: usize = 50;

impl IncrementalSection {
    /// A baseline's history as `manifest` has it, the first `merges` of
    /// its merges counted as earlier ones; no run's figures.
    fn history(manifest: &Manifest, merges: usize) -> IncrementalSection {
        let earlier = &manifest.merges[..merges];
        IncrementalSection {
            existing: 0,
            new_duplicate: 0,
            new_unique: 0,
            baseline_records_read: 0,
            committed: true,
            generation: manifest.generation,
            baseline_records: manifest.records,
            baseline_clusters: manifest.clusters,
            processed: manifest.processed.clone(),
            merges: Vec::new(),
            earlier_merges: earlier[earlier.len().saturating_sub(MERGES_SHOWN)..].to_vec(),
            earlier_merge_count: earlier.len(),
        }
    }
}

/// Two baseline clusters joined by new records (`--allow-merges`).
#[derive(Debug, Serialize)]
pub struct Merge {
    /// The match_id kept.
    pub kept: u64,
    /// The match_id absorbed into it.
    pub absorbed: u64,
    /// The new records now in the cluster (the bridges), then one record of
    /// each baseline cluster: (role, values).
    pub records: Vec<(String, Vec<String>)>,
}

impl Report {
    /// The report of a dedup of `table` by `model`.
    pub fn of_dedup(title: &str, table: &Table, model: &MatchModel, output: &MatchOutput) -> Result<Report> {
        let view =
            run::RunView::new(&[table], &output.records, &output.pairs, &output.clustering.match_ids, model)?;
        Report::of_run("dedup", title, &view, model, &output.stats)
    }

    /// The report of a link of `left` and `right` by `model`.
    pub fn of_link(
        title: &str,
        left: &Table,
        right: &Table,
        model: &MatchModel,
        output: &MatchOutput,
    ) -> Result<Report> {
        let view = run::RunView::new(
            &[left, right],
            &output.records,
            &output.pairs,
            &output.clustering.match_ids,
            model,
        )?;
        Report::of_run("link", title, &view, model, &output.stats)
    }

    /// The report of an incremental run of `new` against a baseline whose
    /// manifest is now `manifest` (after the commit, or as it was for a dry
    /// run).
    pub fn of_incremental(
        title: &str,
        new: &Table,
        model: &MatchModel,
        output: &IncrementalOutput,
        manifest: &Manifest,
        committed: bool,
    ) -> Result<Report> {
        let ids: Vec<u64> = output.baseline_ids.iter().chain(&output.clustering.match_ids).copied().collect();
        let view =
            run::RunView::new(&[&output.baseline_rows, new], &output.records, &output.pairs, &ids, model)?;
        let mut report = Report::of_run("incremental", title, &view, model, &output.stats)?;
        let (existing, new_duplicate, new_unique) = output.status_counts();
        let merges: Vec<Merge> =
            output.clustering.merges.iter().map(|&(kept, absorbed)| view.merge(kept, absorbed)).collect();
        // After a commit the manifest holds this run's merges too.
        let earlier = manifest.merges.len().saturating_sub(if committed { merges.len() } else { 0 });
        report.incremental = Some(IncrementalSection {
            existing,
            new_duplicate,
            new_unique,
            baseline_records_read: output.stats.baseline_records_read,
            committed,
            merges,
            ..IncrementalSection::history(manifest, earlier)
        });
        Ok(report)
    }

    /// The report of an evaluation of `model`.
    pub fn of_evaluation(title: &str, model: &MatchModel, evaluation: Evaluation) -> Report {
        let mut report = Report::of_model(title, model);
        report.kind = "evaluate".to_string();
        report.model.set_importance(&evaluation.column_importance, "the labeled pairs (held out)");
        report.evaluation = Some(evaluation);
        report
    }

    /// The report of a model alone.
    pub fn of_model(title: &str, model: &MatchModel) -> Report {
        Report {
            title: title.to_string(),
            kind: "model".to_string(),
            run: None,
            model: ModelSection::of(model),
            evaluation: None,
            review: None,
            incremental: None,
        }
    }

    /// The report of a baseline: its model and its history.
    pub fn of_baseline(title: &str, model: &MatchModel, manifest: &Manifest) -> Report {
        let mut report = Report::of_model(title, model);
        report.kind = "baseline".to_string();
        report.incremental = Some(IncrementalSection::history(manifest, manifest.merges.len()));
        report
    }

    fn of_run(
        kind: &str,
        title: &str,
        view: &run::RunView<'_>,
        model: &MatchModel,
        stats: &crate::matcher::MatchStats,
    ) -> Result<Report> {
        let mut model_section = ModelSection::of(model);
        let (importance, sampled) = view.importance(model);
        model_section.set_importance(&importance, &format!("{sampled} of the run's candidate pairs"));
        Ok(Report {
            title: title.to_string(),
            kind: kind.to_string(),
            run: Some(view.run_section(model, stats)),
            model: model_section,
            evaluation: None,
            review: Some(view.review(model)),
            incremental: None,
        })
    }

    /// The report as one HTML page.
    pub fn render(&self) -> Result<String> {
        let mut charts = std::collections::BTreeMap::new();
        if let Some(run) = &self.run {
            charts.insert("scores", charts::probability_histogram(&run.score_bins, run.threshold)?);
            let (labels, sizes): (Vec<String>, Vec<u64>) = run.cluster_sizes.iter().cloned().unzip();
            charts.insert("sizes", charts::bars(&labels, &sizes, "cluster size", "clusters")?);
        }
        charts.insert("weights", charts::weights(&self.model)?);
        if let Some(e) = &self.evaluation {
            charts.insert("pr", charts::precision_recall(&e.curve)?);
            charts.insert("thresholds", charts::against_threshold(&e.curve, e.threshold)?);
        }
        let charts: std::collections::BTreeMap<&str, minijinja::Value> =
            charts.into_iter().map(|(k, v)| (k, minijinja::Value::from_safe_string(v))).collect();
        let mut env = minijinja::Environment::new();
        env.add_filter("fixed", |v: f64, digits: usize| format!("{v:.digits$}"));
        env.add_filter("signed", |v: f64| format!("{v:+.2}"));
        // Odds factors span 0.001 to 10,000: three significant digits.
        env.add_filter("odds", |v: f64| match v {
            v if v >= 100.0 => format!("{v:.0}"),
            v if v >= 1.0 => format!("{v:.2}"),
            v => format!("{v:.3}"),
        });
        env.add_template("report.html", TEMPLATE).map_err(template)?;
        env.get_template("report.html")
            .and_then(|t| {
                t.render(minijinja::context! {
                    report => self,
                    charts => charts,
                    version => env!("CARGO_PKG_VERSION"),
                })
            })
            .map_err(template)
    }

    /// Write the report to `path` (atomically).
    pub fn write(&self, path: &Path) -> Result<()> {
        let html = self.render()?;
        atomic_write(path, |w| {
            use std::io::Write;
            w.write_all(html.as_bytes()).map_err(|e| Error::io(path, e))
        })
    }
}

fn template(e: minijinja::Error) -> Error {
    Error::usage(format!("rendering the report: {e}"))
}
