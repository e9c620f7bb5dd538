//! Evaluate: how good a matcher is, estimated from labels the way
//! FindMatches reports it (precision, recall, F1, AUPRC, confusion matrix,
//! column importance), plus what FindMatches never reports: blocking
//! recall, the share of labeled matches that blocking offers the model at
//! all (a match blocking misses is lost whatever the model says).
//!
//! The estimate is held out: the labeled pairs are dealt into five folds
//! and each fold is scored by a model fitted on the other four, with the
//! features and the threshold of the model evaluated. Only pairs the run
//! could pair count (for a link, pairs across the two tables).
//!
//! Labeled pairs are not a random sample of the data's pairs (labeling
//! sets gather look-alikes; active learning seeks the hardest), so the
//! figures on them say how the model does on hard pairs, not on the data.
//! [`DataEstimate`] corrects for that. The data's candidate pairs are
//! scored and clustered as a run would, and put in strata by score bin and
//! by whether clustering joins them (a predicted match) or not; each
//! stratum's match rate is taken from the held-out labeled pairs in it,
//! shrunk where labels are few toward a prior: the model's log-odds,
//! shifted by how the labels say the model is off and how clustering
//! moves the rate (`calibration`). (The model's probability alone, the
//! prior before, knows nothing of clustering: a one-to-one link joins
//! pairs the model gives 0.2 and keeps apart pairs it gives 0.9, and
//! strata of those rarely hold a label.) Recall is scaled by what
//! blocking reaches ([`Reach`]), since a match blocking misses is
//! predicted only when clustering joins it through other records. (A
//! calibration alone, without strata, cannot follow the non-monotone rate
//! of pairs that score high but that clustering keeps apart.)

use serde::Serialize;

use crate::block::{sample_mask, Blocking, Mode};
use crate::compare::{ComparePlan, FeatureMatrix};
use crate::error::{Error, Result};
use crate::explain::part_of;
use crate::labels::Labels;
use crate::matcher::{Matcher, NoProgress};
use crate::model::{Fitting, MatchModel};
use crate::read::Table;
use crate::record::{CandidatePair, Records};
use crate::stats::{logit, sigmoid, wilson_interval, Logistic};

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

/// Precision, recall and F1 on the data (see the module documentation).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct DataEstimate {
    /// Estimated precision of the predicted pairs.
    pub precision: f64,
    /// Estimated recall of the true pairs, blocking's losses included.
    pub recall: f64,
    /// Their harmonic mean.
    pub f1: f64,
    /// Candidate pairs the estimate is over (a sample of the data's).
    pub candidate_pairs: usize,
}

/// A held-out quality estimate.
#[derive(Clone, Debug, Serialize)]
pub struct Evaluation {
    /// Precision, recall and F1 on the data.
    pub estimate: DataEstimate,
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
    /// 95% intervals of `precision` and `recall` from the labeled pairs
    /// behind them (Wilson): how far so few labels can be off by sampling
    /// alone. (Labels gathered by `label generate` are not a random sample
    /// of the data's pairs, so the real figures can lie outside them too.)
    pub precision_interval: (f64, f64),
    /// See `precision_interval`.
    pub recall_interval: (f64, f64),
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
    /// Precision, recall and F1 (held out) at thresholds 0, 0.01, … 1.
    pub curve: Vec<CurvePoint>,
    /// Labeled matching pairs that blocking makes candidates.
    pub blocked_matches: usize,
    /// `blocked_matches` over the labeled matches.
    pub blocking_recall: f64,
}

/// Held-out precision, recall and F1 at one threshold.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct CurvePoint {
    /// Pairs at or above it are predicted matches.
    pub threshold: f64,
    /// Precision of the predicted matches (1 when there are none).
    pub precision: f64,
    /// Recall of the labeled matches.
    pub recall: f64,
    /// Their harmonic mean.
    pub f1: f64,
}

/// Steps of [`Evaluation::curve`] between thresholds 0 and 1.
const CURVE_STEPS: usize = 100;

/// Precision, recall and F1 at thresholds 0, 0.01, … 1 of `scored` (held-out
/// probabilities, best first), `matches` of them matches.
fn curve(scored: &[(f64, bool)], matches: usize) -> Vec<CurvePoint> {
    let mut points = Vec::with_capacity(CURVE_STEPS + 1);
    let (mut above, mut tp) = (0, 0);
    for step in (0..=CURVE_STEPS).rev() {
        let threshold = step as f64 / CURVE_STEPS as f64;
        while above < scored.len() && scored[above].0 >= threshold {
            tp += usize::from(scored[above].1);
            above += 1;
        }
        let (precision, recall, f1) = prf(tp, above, matches);
        points.push(CurvePoint { threshold, precision, recall, f1 });
    }
    points.reverse();
    points
}

/// Each part's share of the evidence's spread over `features` (|weight| ×
/// the feature's standard deviation, summed by column, shares of one),
/// largest first: which columns move the scores of these pairs.
pub fn column_importance(names: &[String], weights: &[f64], features: &FeatureMatrix) -> Vec<(String, f64)> {
    let mut importance: Vec<(String, f64)> = Vec::new();
    let rows = features.rows().max(1) as f64;
    for (j, (name, weight)) in names.iter().zip(weights).enumerate() {
        let values = (0..features.rows()).map(|i| features.row(i)[j] as f64);
        let mean = values.clone().sum::<f64>() / rows;
        let sd = (values.map(|v| (v - mean).powi(2)).sum::<f64>() / rows).sqrt();
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
    importance
}

/// Estimate the quality of `model` from `labels` over `tables` (one, or
/// the two of a link), as `findmatches evaluate` does.
pub fn evaluate_labels(model: &MatchModel, tables: &[&Table], labels: &[Labels]) -> Result<Evaluation> {
    let records = Records::build(&model.definition, tables)?;
    let labeled = crate::matcher::labeled_pairs(&records, labels)?;
    let mode = if tables.len() > 1 { Mode::Link } else { Mode::Dedup };
    evaluate(model, &records, &labeled, mode)
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
    let sources = records.sources();
    let labeled: Vec<(CandidatePair, bool)> = labeled
        .iter()
        .copied()
        .filter(|(p, _)| mode.allows(sources[p.a as usize], sources[p.b as usize]))
        .collect();
    let pairs: Vec<CandidatePair> = labeled.iter().map(|(p, _)| *p).collect();
    let is_match: Vec<bool> = labeled.iter().map(|(_, m)| *m).collect();
    let features = plan.compare_all(records, &pairs);
    if !is_match.iter().any(|&m| m) || is_match.iter().all(|&m| m) {
        return Err(Error::training("evaluation needs labeled matches and non-matches"));
    }
    let held_out_pairs: Vec<(CandidatePair, f64, bool)> = Fitting::tuned(def, &features, &is_match)
        .held_out(&features, &is_match)
        .into_iter()
        .map(|(i, p)| (pairs[i], p, is_match[i]))
        .collect();
    let mut scored: Vec<(f64, bool)> = held_out_pairs.iter().map(|&(_, p, m)| (p, m)).collect();
    let matches = scored.iter().filter(|(_, m)| *m).count();
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
    let curve = curve(&scored, matches);
    let importance = column_importance(plan.feature_names(), &model.weights, &features);
    // The data's candidate pairs: of a sample of records and of every
    // labeled one (so blocking recall is read off them too), scored and
    // clustered as a run would.
    let mut queried = sample_mask(records.len(), POPULATION_SAMPLE);
    for p in &pairs {
        queried[p.a as usize] = true;
        queried[p.b as usize] = true;
    }
    let (population, _) =
        Blocking::new(def, records.len()).candidates_of(records, def, mode, Some(&queried))?;
    let matcher = Matcher::new(model.clone(), &NoProgress);
    let scored_population = matcher.score_pairs(records, &population);
    let ids = matcher.cluster(records, &scored_population, mode).match_ids;
    let joined = |p: &CandidatePair| ids[p.a as usize] == ids[p.b as usize];
    let is_candidate = |p: &CandidatePair| population.binary_search(p).is_ok();
    let blocked_matches = labeled.iter().filter(|(p, m)| *m && is_candidate(p)).count();
    let total_matches = labeled.iter().filter(|(_, m)| *m).count();
    let blocking_recall = blocked_matches as f64 / total_matches.max(1) as f64;
    // Labeled matches blocking missed that clustering joins anyway (through
    // other members of their cluster).
    let unblocked: Vec<bool> =
        labeled.iter().filter(|(p, m)| *m && !is_candidate(p)).map(|(p, _)| joined(p)).collect();
    let population: Vec<(f32, bool)> = scored_population.iter().map(|s| (s.score, joined(&s.pair))).collect();
    let held_out: Vec<(f64, bool, bool)> = held_out_pairs
        .iter()
        .filter(|(p, _, _)| is_candidate(p))
        .map(|(p, h, m)| (*h, *m, joined(p)))
        .collect();
    let reach = Reach {
        blocking_recall,
        joined_anyway: unblocked.iter().filter(|&&j| j).count() as f64 / unblocked.len().max(1) as f64,
    };
    Ok(Evaluation {
        estimate: data_estimate(&population, &held_out, threshold, reach),
        pairs: scored.len(),
        matches,
        threshold,
        precision,
        recall,
        precision_interval: wilson_interval(
            confusion.true_matches,
            confusion.true_matches + confusion.false_matches,
        ),
        recall_interval: wilson_interval(confusion.true_matches, matches),
        f1,
        max_f1,
        max_f1_threshold,
        auprc: auprc.min(1.0),
        confusion,
        column_importance: importance,
        curve,
        blocked_matches,
        blocking_recall,
    })
}

/// How many records' candidate pairs the data estimate is taken over.
const POPULATION_SAMPLE: usize = 50_000;
/// Score bins span this many logit units (1 left too few labels per
/// stratum at 100 labeled records).
const BIN_WIDTH: f64 = 2.0;
/// Bins reach this many widths either side of the threshold (the outer
/// ones take everything beyond).
const BINS_PER_SIDE: i64 = 5;
/// A bin's match rate counts the model's mean probability in it as this
/// many labeled pairs.
const PRIOR_PAIRS: f64 = 1.0;

/// Ridge penalty on the prior's calibration shifts: 0.1 kept Febrl2 and
/// DBLP-ACM closest (1 was too stiff to learn a link's clustering from 20
/// labels; 0.01 let a few labels swing it).
const CALIBRATION_RIDGE: f64 = 0.1;

/// What blocking reaches, from the labeled matches.
#[derive(Clone, Copy, Debug)]
pub struct Reach {
    /// Share of matches blocking makes candidates.
    pub blocking_recall: f64,
    /// Share of the others that clustering joins all the same, through
    /// other members of their cluster.
    pub joined_anyway: f64,
}

/// The data estimate from the data's candidate pairs (`population`: the
/// model's probability, and whether clustering joins the pair), the
/// labeled pairs among them (`labeled`: held-out probability, label,
/// joined), the threshold (bins are aligned on it) and what blocking
/// reaches.
pub fn data_estimate(
    population: &[(f32, bool)],
    labeled: &[(f64, bool, bool)],
    threshold: f32,
    reach: Reach,
) -> DataEstimate {
    let edge = logit(threshold as f64);
    let bins = 2 * BINS_PER_SIDE as usize;
    // Stratum: score bin, then joined or not.
    let stratum = |p: f64, joined: bool| -> usize {
        let bin = (((logit(p) - edge) / BIN_WIDTH).floor() as i64).clamp(-BINS_PER_SIDE, BINS_PER_SIDE - 1)
            + BINS_PER_SIDE;
        bin as usize + if joined { bins } else { 0 }
    };
    let prior = calibration(labeled);
    let (mut count, mut prior_sum) = (vec![0.0f64; 2 * bins], vec![0.0f64; 2 * bins]);
    for &(p, joined) in population {
        let s = stratum(p as f64, joined);
        count[s] += 1.0;
        prior_sum[s] += prior(p as f64, joined);
    }
    let (mut seen, mut seen_matches) = (vec![0.0f64; 2 * bins], vec![0.0f64; 2 * bins]);
    for &(p, m, joined) in labeled {
        let s = stratum(p, joined);
        seen[s] += 1.0;
        seen_matches[s] += f64::from(u8::from(m));
    }
    let (mut tp, mut fp, mut missed) = (0.0, 0.0, 0.0);
    for s in 0..2 * bins {
        if count[s] == 0.0 {
            continue;
        }
        let prior = prior_sum[s] / count[s];
        let rate = (seen_matches[s] + PRIOR_PAIRS * prior) / (seen[s] + PRIOR_PAIRS);
        if s >= bins {
            tp += count[s] * rate;
            fp += count[s] * (1.0 - rate);
        } else {
            missed += count[s] * rate;
        }
    }
    // Matches blocking never offered: (offered) × (1 / recall − 1), of
    // which clustering joins some through other members.
    let offered = tp + missed;
    let unoffered =
        if reach.blocking_recall > 0.0 { offered * (1.0 / reach.blocking_recall - 1.0) } else { offered };
    tp += unoffered * reach.joined_anyway;
    let precision = if tp + fp > 0.0 { tp / (tp + fp) } else { 1.0 };
    let recall = if offered + unoffered > 0.0 { tp / (offered + unoffered) } else { 1.0 };
    let f1 = if precision + recall > 0.0 { 2.0 * precision * recall / (precision + recall) } else { 0.0 };
    DataEstimate { precision, recall, f1, candidate_pairs: population.len() }
}

/// The prior match rate of a pair from its probability `p` and whether
/// clustering joins it: σ(logit p + a + c·joined), the shifts `a` and `c`
/// fitted to the labeled pairs (held-out probabilities) with a small ridge.
/// The model's log-odds stay as they are (an offset), so sure pairs far
/// from any label keep the model's verdict; the shifts learn how far off
/// the model is where labels are, and how much clustering moves the real
/// rate (a one-to-one link joins pairs the model doubts and keeps apart
/// pairs it trusts). Without labels, p.
fn calibration(labeled: &[(f64, bool, bool)]) -> impl Fn(f64, bool) -> f64 {
    let joined: Vec<f32> = labeled.iter().map(|&(_, _, j)| f32::from(u8::from(j))).collect();
    let is_match: Vec<bool> = labeled.iter().map(|&(_, m, _)| m).collect();
    let offsets: Vec<f64> = labeled.iter().map(|&(p, _, _)| logit(p)).collect();
    let (c, a) = if labeled.is_empty() {
        (vec![0.0], 0.0)
    } else {
        Logistic {
            stride: 1,
            x: &joined,
            y: &is_match,
            row_weights: None,
            offsets: Some(&offsets),
            prior: None,
            penalty: CALIBRATION_RIDGE,
            penalize_intercept: true,
            non_negative: None,
        }
        .fit()
    };
    move |p: f64, joined: bool| sigmoid(logit(p) + a + c[0] * f64::from(u8::from(joined)))
}

/// Precision, recall and F1 from true positives, predicted and actual positives.
fn prf(tp: usize, predicted: usize, actual: usize) -> (f64, f64, f64) {
    let p = if predicted == 0 { 1.0 } else { tp as f64 / predicted as f64 };
    let r = if actual == 0 { 1.0 } else { tp as f64 / actual as f64 };
    let f = if p + r == 0.0 { 0.0 } else { 2.0 * p * r / (p + r) };
    (p, r, f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_data_estimate_weighs_labels_by_how_common_their_scores_are() {
        // Labels sit near the threshold, where the model is wrong half the
        // time; the data is mostly sure pairs, which the model gets right.
        let labeled: Vec<(f64, bool, bool)> =
            (0..40).map(|i| (if i % 2 == 0 { 0.55 } else { 0.45 }, i % 4 < 2, i % 2 == 0)).collect();
        let mut population = vec![(0.999f32, true); 900];
        population.extend(vec![(0.001f32, false); 9000]);
        population.extend(vec![(0.55f32, true); 10]);
        population.extend(vec![(0.45f32, false); 10]);
        let all = Reach { blocking_recall: 1.0, joined_anyway: 0.0 };
        let e = data_estimate(&population, &labeled, 0.5, all);
        assert!(e.precision > 0.98 && e.precision < 1.0, "{e:?}");
        assert!(e.recall > 0.98 && e.recall < 1.0, "{e:?}");
        // Blocking that finds half the matches halves recall, unless
        // clustering joins the others anyway.
        let half =
            data_estimate(&population, &labeled, 0.5, Reach { blocking_recall: 0.5, joined_anyway: 0.0 });
        assert!((half.recall - e.recall / 2.0).abs() < 1e-9, "{half:?}");
        let joined =
            data_estimate(&population, &labeled, 0.5, Reach { blocking_recall: 0.5, joined_anyway: 1.0 });
        assert!(joined.recall > e.recall, "{joined:?}");
        // Pairs above the threshold that clustering keeps apart (one to
        // one) are neither predicted nor, if labels say so, missed.
        let mut apart = population.clone();
        apart.extend(vec![(0.999f32, false); 300]);
        let mut labeled = labeled.clone();
        labeled.extend(vec![(0.999, false, false); 30]);
        let kept_apart = data_estimate(&apart, &labeled, 0.5, all);
        assert!((kept_apart.f1 - e.f1).abs() < 0.015, "{kept_apart:?} vs {e:?}");
    }

    #[test]
    fn the_curve_counts_the_pairs_at_or_above_each_threshold() {
        let mut scored: Vec<(f64, bool)> =
            (0..500).map(|i| ((i * 7919 % 1000) as f64 / 999.0, i % 3 != 0 && i > 100)).collect();
        scored.push((0.5, true)); // exactly on a step: counted above it
        scored.sort_by(|x, y| y.0.total_cmp(&x.0));
        let matches = scored.iter().filter(|s| s.1).count();
        let points = curve(&scored, matches);
        assert_eq!(points.len(), CURVE_STEPS + 1);
        for (step, point) in points.iter().enumerate() {
            let t = step as f64 / CURVE_STEPS as f64;
            let above: Vec<bool> = scored.iter().filter(|s| s.0 >= t).map(|s| s.1).collect();
            let tp = above.iter().filter(|&&m| m).count();
            assert_eq!(point.threshold, t);
            assert_eq!((point.precision, point.recall, point.f1), prf(tp, above.len(), matches), "at {t}");
        }
        assert_eq!(points[0].recall, 1.0);
    }

    #[test]
    fn strata_without_labels_learn_what_clustering_does_from_those_with() {
        // A one-to-one link joins 100 pairs the model gives only 0.2: each
        // is the best partner either record has, and all are matches. No
        // label falls in their stratum, but the labeled pairs say that
        // joined pairs match more often than the model believes, and
        // pairs kept apart less often.
        let mut population = vec![(0.999f32, true); 900];
        population.extend(vec![(0.2f32, true); 100]);
        population.extend(vec![(0.001f32, false); 9000]);
        population.extend(vec![(0.3f32, false); 50]);
        let mut labeled = vec![(0.999, true, true); 20];
        labeled.extend(vec![(0.5, true, true); 10]);
        labeled.extend(vec![(0.001, false, false); 20]);
        labeled.extend(vec![(0.3, false, false); 10]);
        let all = Reach { blocking_recall: 1.0, joined_anyway: 0.0 };
        let e = data_estimate(&population, &labeled, 0.1, all);
        // With the model's 0.2 as their rate, 80 of the 1,000 predicted
        // pairs would count as false: precision 0.92.
        assert!(e.precision > 0.97, "{e:?}");
        assert!(e.recall > 0.99, "{e:?}");
    }
}
