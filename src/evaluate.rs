//! Evaluate: how good a matcher is, estimated from labels the way
//! FindMatches reports it (precision, recall, F1, AUPRC, confusion matrix,
//! column importance), plus what FindMatches never reports: blocking
//! recall, the share of labeled matches that blocking offers the model at
//! all (a match blocking misses is lost whatever the model says).
//!
//! The estimate is held out: the labeled pairs are dealt into five folds
//! and each fold is scored by a model fitted on the other four, with the
//! features and the threshold of the model evaluated.

use serde::Serialize;

use crate::block::{Blocking, Mode};
use crate::compare::{CandidatePair, ComparePlan};
use crate::error::{Error, Result};
use crate::explain::part_of;
use crate::model::{held_out_probabilities, MatchModel};
use crate::record::Records;

/// Labeled pairs by outcome, at the threshold.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Confusion {
    /// Labeled matches scored as matches.
    pub true_matches: usize,
    /// Labeled matches scored as non-matches.
    pub missed_matches: usize,
    /// Labeled non-matches scored as matches.
    pub false_matches: usize,
    /// Labeled non-matches scored as non-matches.
    pub true_non_matches: usize,
}

/// A held-out quality estimate.
#[derive(Clone, Debug, Serialize)]
pub struct Evaluation {
    /// Labeled pairs scored (out of fold).
    pub pairs: usize,
    /// Of which labeled matches.
    pub matches: usize,
    /// The threshold the figures below use (the model's).
    pub threshold: f32,
    /// Precision at the threshold.
    pub precision: f64,
    /// Recall at the threshold.
    pub recall: f64,
    /// F1 at the threshold.
    pub f1: f64,
    /// The best F1 over all thresholds, and where.
    pub max_f1: f64,
    /// The threshold of `max_f1`.
    pub max_f1_threshold: f64,
    /// Area under the precision-recall curve (average precision).
    pub auprc: f64,
    /// The counts behind precision and recall.
    pub confusion: Confusion,
    /// Each part's share of the evidence spread (|weight| × spread of the
    /// feature over the labeled pairs, summed by column), largest first.
    pub column_importance: Vec<(String, f64)>,
    /// Labeled matching pairs that blocking makes candidates.
    pub blocked_matches: usize,
    /// `blocked_matches` over the labeled matches.
    pub blocking_recall: f64,
}

/// Estimate the quality of `model` on `labeled` pairs of `records`.
pub fn evaluate(
    model: &MatchModel,
    records: &Records,
    labeled: &[(CandidatePair, bool)],
    mode: Mode,
) -> Result<Evaluation> {
    let def = &model.definition;
    let plan = ComparePlan::new(def);
    let pairs: Vec<CandidatePair> = labeled.iter().map(|(p, _)| *p).collect();
    let is_match: Vec<bool> = labeled.iter().map(|(_, m)| *m).collect();
    let features = plan.compare_all(records, &pairs);
    let mut scored: Vec<(f64, bool)> =
        held_out_probabilities(&features, &is_match)?.into_iter().map(|(i, p)| (p, is_match[i])).collect();
    let matches = scored.iter().filter(|(_, m)| *m).count();
    if matches == 0 || matches == scored.len() {
        return Err(Error::training("evaluation needs labeled matches and non-matches"));
    }
    let threshold = model.threshold();
    let mut confusion = Confusion::default();
    for &(p, m) in &scored {
        match (p >= threshold as f64, m) {
            (true, true) => confusion.true_matches += 1,
            (false, true) => confusion.missed_matches += 1,
            (true, false) => confusion.false_matches += 1,
            (false, false) => confusion.true_non_matches += 1,
        }
    }
    let (precision, recall, f1) =
        prf(confusion.true_matches, confusion.true_matches + confusion.false_matches, matches);
    // Best first: every prefix is the set above some threshold.
    scored.sort_by(|x, y| y.0.total_cmp(&x.0));
    let (mut tp, mut auprc, mut max_f1, mut max_f1_threshold) = (0usize, 0.0, 0.0, 1.0);
    for (k, &(p, m)) in scored.iter().enumerate() {
        if m {
            tp += 1;
            auprc += tp as f64 / (k + 1) as f64 / matches as f64;
        }
        let last_of_tie = scored.get(k + 1).is_none_or(|next| next.0 < p);
        let (_, _, f) = prf(tp, k + 1, matches);
        if last_of_tie && f > max_f1 {
            (max_f1, max_f1_threshold) = (f, p);
        }
    }
    // Column importance: |weight| × standard deviation of the feature.
    let mut importance: Vec<(String, f64)> = Vec::new();
    for (j, (name, weight)) in plan.feature_names().iter().zip(&model.weights).enumerate() {
        let values: Vec<f64> = (0..features.rows()).map(|i| features.row(i)[j] as f64).collect();
        let mean = values.iter().sum::<f64>() / values.len() as f64;
        let sd = (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / values.len() as f64).sqrt();
        let part = part_of(name).0;
        match importance.iter_mut().find(|(p, _)| p == part) {
            Some(entry) => entry.1 += weight.abs() * sd,
            None => importance.push((part.to_string(), weight.abs() * sd)),
        }
    }
    let total: f64 = importance.iter().map(|(_, v)| v).sum::<f64>().max(f64::MIN_POSITIVE);
    for entry in &mut importance {
        entry.1 /= total;
    }
    importance.sort_by(|x, y| y.1.total_cmp(&x.1));
    // Blocking recall: the labeled records' candidates.
    let mut queried = vec![false; records.len()];
    for p in &pairs {
        queried[p.a as usize] = true;
        queried[p.b as usize] = true;
    }
    let (candidates, _) = Blocking::new(def).candidates_of(records, def, mode, Some(&queried))?;
    let blocked_matches = labeled.iter().filter(|(p, m)| *m && candidates.binary_search(p).is_ok()).count();
    let total_matches = labeled.iter().filter(|(_, m)| *m).count();
    Ok(Evaluation {
        pairs: scored.len(),
        matches,
        threshold,
        precision,
        recall,
        f1,
        max_f1,
        max_f1_threshold,
        auprc: auprc.min(1.0),
        confusion,
        column_importance: importance,
        blocked_matches,
        blocking_recall: blocked_matches as f64 / total_matches.max(1) as f64,
    })
}

/// Precision, recall and F1 from true positives, predicted and actual positives.
fn prf(tp: usize, predicted: usize, actual: usize) -> (f64, f64, f64) {
    let p = if predicted == 0 { 1.0 } else { tp as f64 / predicted as f64 };
    let r = if actual == 0 { 1.0 } else { tp as f64 / actual as f64 };
    let f = if p + r == 0.0 { 0.0 } else { 2.0 * p * r / (p + r) };
    (p, r, f)
}
