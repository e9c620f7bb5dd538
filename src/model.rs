//! Score: the trained classifier that turns a feature vector into
//! P(match), and its file format.
//!
//! A [`MatchModel`] is a logistic regression over the agreement-level
//! features of [`crate::compare`]: one weight per level of each column (the
//! shape of a Fellegi–Sunter model's match weights) plus the similarities
//! of word-bearing columns. With labels the weights are fitted to them,
//! with an L2 penalty chosen by cross-validation; level and similarity
//! weights may not be negative, so more agreement is never less evidence
//! (on the public suite that also ranked pairs better than free weights).
//! Without labels they are a Fellegi–Sunter model's, fitted by EM
//! ([`crate::unsupervised`]).
//!
//! Its file is versioned JSON holding the transform definition it was
//! trained with, the feature names, the weights, a training summary and a
//! fingerprint (SHA-256 of the schema and parameters). Loading checks all
//! of it: a model of another format version, a file whose fingerprint does
//! not match its content, or a feature list this build would not compute
//! is an error, never a wrong answer.

use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::compare::{ComparePlan, FeatureMatrix};
use crate::config::TransformDef;
use crate::error::{Error, Result};
use crate::record::{CandidatePair, RecordId};
use crate::stats::{logit, sigmoid, Logistic};
use rustc_hash::FxHashSet;

/// The model file format this build reads and writes.
pub const MODEL_FORMAT_VERSION: u32 = 2;

/// The L2 penalties of the logistic regression tried by
/// [`Fitting::tuned`], weakest first.
const L2_PENALTIES: [f64; 5] = [0.05, 0.2, 1.0, 4.0, 16.0];
/// Folds of the cross-validation of held-out probabilities.
const FOLDS: usize = 5;
/// The balanced threshold stays within these bounds.
const THRESHOLD_BOUNDS: (f32, f32) = (0.05, 0.95);

/// How a model's weights are fitted to labeled feature vectors: an
/// L2-penalized logistic regression whose level and similarity weights may
/// not be negative ([`ComparePlan::monotone`]).
#[derive(Clone, Debug)]
pub struct Fitting {
    /// Per feature: weighed only upwards.
    pub monotone: Vec<bool>,
    /// The L2 penalty.
    pub penalty: f64,
}

impl Fitting {
    /// The fitting of a definition's features.
    pub fn new(def: &TransformDef) -> Fitting {
        Fitting { monotone: ComparePlan::new(def).monotone(), penalty: L2_PENALTIES[0] }
    }

    /// The fitting whose penalty (of [`L2_PENALTIES`]) gives the lowest
    /// held-out log loss on these labels: few or noisy labels want a
    /// strong one, which spreads the weight over every feature that agrees
    /// with them; a weak one lets the first feature that separates the
    /// labels take it all (on Walmart-Amazon an exact title, which the
    /// unlabeled matches seldom have). Over the public suite this raised
    /// the mean F1 on Cora from 0.847 to 0.874, on Walmart-Amazon from
    /// 0.634 to 0.648, and narrowed `evaluate`'s gaps.
    pub fn tuned(def: &TransformDef, x: &FeatureMatrix, is_match: &[bool]) -> Fitting {
        let base = Fitting::new(def);
        let mut best = (f64::INFINITY, base.clone());
        for &penalty in &L2_PENALTIES {
            let fitting = Fitting { penalty, ..base.clone() };
            let held_out = fitting.held_out(x, is_match);
            let loss: f64 = held_out
                .iter()
                .map(|&(i, p)| {
                    let p = p.clamp(1e-6, 1.0 - 1e-6);
                    -if is_match[i] { p.ln() } else { (1.0 - p).ln() }
                })
                .sum::<f64>()
                / held_out.len().max(1) as f64;
            if loss < best.0 {
                best = (loss, fitting);
            }
        }
        best.1
    }

    /// Fit rows `idx` of `x` (with outcomes `is_match`): (weights,
    /// intercept).
    pub fn fit(&self, x: &FeatureMatrix, is_match: &[bool], idx: &[usize]) -> (Vec<f64>, f64) {
        let data: Vec<f32> = idx.iter().flat_map(|&i| x.row(i).iter().copied()).collect();
        let y: Vec<bool> = idx.iter().map(|&i| is_match[i]).collect();
        Logistic {
            stride: x.stride,
            x: &data,
            y: &y,
            row_weights: None,
            offsets: None,
            prior: None,
            penalty: self.penalty,
            penalize_intercept: false,
            non_negative: Some(&self.monotone),
        }
        .fit()
    }

    /// Out-of-fold match probabilities of labeled feature vectors: the
    /// rows are dealt into [`FOLDS`] folds, and each fold is scored by a
    /// model fitted on the others. Returns (row, probability) for the rows
    /// of every fold whose complement holds both classes.
    pub fn held_out(&self, x: &FeatureMatrix, is_match: &[bool]) -> Vec<(usize, f64)> {
        let mut out = Vec::with_capacity(x.rows());
        for fold in 0..FOLDS {
            let idx: Vec<usize> = (0..x.rows()).filter(|&i| i % FOLDS != fold).collect();
            if idx.iter().all(|&i| is_match[i]) || idx.iter().all(|&i| !is_match[i]) {
                continue;
            }
            let (w, b) = self.fit(x, is_match, &idx);
            for i in (fold..x.rows()).step_by(FOLDS) {
                let z = b + w.iter().zip(x.row(i)).map(|(w, &v)| w * v as f64).sum::<f64>();
                out.push((i, sigmoid(z)));
            }
        }
        out
    }
}

/// Width, in logit units, of the bins of the valley search.
const VALLEY_BIN: f64 = 0.5;
/// A bin within this factor of the emptiest counts as the valley floor.
const VALLEY_SLACK: f64 = 1.5;

/// A threshold within `range` where the fewest of `probabilities` fall:
/// the valley between the non-match and match modes of the scored
/// candidates, searched in logit space with bins of [`VALLEY_BIN`] (each
/// smoothed with its neighbours). Where the valley's floor is flat (bins
/// within [`VALLEY_SLACK`] of the emptiest, around the emptiest nearest
/// even odds), its middle: taking its lowest bin chained citations of
/// different papers on Cora. With no probabilities, the logit midpoint of
/// the range.
pub fn valley_threshold(range: (f32, f32), probabilities: &[f32]) -> f32 {
    let (lo, hi) = (logit(range.0 as f64), logit(range.1 as f64));
    if probabilities.is_empty() || hi - lo < 2.0 * VALLEY_BIN {
        return sigmoid((lo + hi) / 2.0) as f32;
    }
    let bins = ((hi - lo) / VALLEY_BIN).ceil() as usize;
    let mut counts = vec![0usize; bins];
    for &p in probabilities {
        let z = logit(p as f64);
        if z >= lo && z < hi {
            counts[(((z - lo) / VALLEY_BIN) as usize).min(bins - 1)] += 1;
        }
    }
    let smooth: Vec<f64> = (0..bins)
        .map(|i| {
            let window = &counts[i.saturating_sub(1)..(i + 2).min(bins)];
            window.iter().sum::<usize>() as f64 / window.len() as f64
        })
        .collect();
    let min = smooth.iter().copied().fold(f64::INFINITY, f64::min);
    let floor = |i: usize| smooth[i] <= min * VALLEY_SLACK + 1e-9;
    let even_odds = (-lo / VALLEY_BIN).max(0.0) as usize;
    let at =
        (0..bins).filter(|&i| smooth[i] <= min + 1e-9).min_by_key(|&i| i.abs_diff(even_odds)).unwrap_or(0);
    let (mut first, mut last) = (at, at);
    while first > 0 && floor(first - 1) {
        first -= 1;
    }
    while last + 1 < bins && floor(last + 1) {
        last += 1;
    }
    sigmoid((lo + (first + last + 1) as f64 / 2.0 * VALLEY_BIN).min(hi)) as f32
}

/// The thresholds at which held-out labeled pairs (probability, label)
/// give an F1 within one match of the best: labels seldom fall between the
/// modes, so many thresholds do equally well on them and the data decides
/// among those ([`valley_threshold`]). Within [`THRESHOLD_BOUNDS`].
pub fn best_f1_range(held_out: &[(f64, bool)]) -> (f32, f32) {
    let mut sorted = held_out.to_vec();
    sorted.sort_by(|x, y| y.0.total_cmp(&x.0));
    let matches = sorted.iter().filter(|(_, m)| *m).count();
    if matches == 0 {
        return THRESHOLD_BOUNDS;
    }
    // F1 of every cut: the first k pairs called matches.
    let mut cuts: Vec<(f64, f64, f64)> = Vec::new(); // (F1, lowest taken, highest left)
    let mut tp = 0usize;
    for (k, &(p, m)) in sorted.iter().enumerate() {
        tp += usize::from(m);
        let next = sorted.get(k + 1).map_or(0.0, |n| n.0);
        if next < p {
            cuts.push((2.0 * tp as f64 / (k + 1 + matches) as f64, p, next));
        }
    }
    let best = cuts.iter().map(|c| c.0).fold(0.0, f64::max);
    let slack = 1.0 / matches as f64;
    let good = cuts.iter().filter(|c| c.0 >= best - slack);
    let hi = good.clone().map(|c| c.1).fold(0.0, f64::max);
    let lo = good.map(|c| c.2).fold(1.0, f64::min);
    let clamp = |p: f64| (p as f32).clamp(THRESHOLD_BOUNDS.0, THRESHOLD_BOUNDS.1);
    (clamp(lo), clamp(hi).max(clamp(lo)))
}

/// Which of `pairs` a one-to-one link keeps, taking them best first
/// (`scores`) while neither record is taken: the pairs a run linking one
/// to one could call matches, whatever the threshold.
pub fn one_to_one(pairs: &[CandidatePair], scores: &[f64]) -> Vec<bool> {
    let mut order: Vec<usize> = (0..pairs.len()).collect();
    order.sort_by(|&x, &y| scores[y].total_cmp(&scores[x]).then(x.cmp(&y)));
    let mut taken: FxHashSet<RecordId> = FxHashSet::default();
    let mut kept = vec![false; pairs.len()];
    for i in order {
        let p = pairs[i];
        if !taken.contains(&p.a) && !taken.contains(&p.b) {
            taken.insert(p.a);
            taken.insert(p.b);
            kept[i] = true;
        }
    }
    kept
}

/// The range of thresholds held-out labels do best at ([`best_f1_range`]),
/// from the (row, held-out probability) of labeled rows. Given the rows'
/// pairs (a link made one to one), a pair the one-to-one rule would drop
/// for a better one of either record counts as never called a match: that
/// rule, not the threshold, rejects such pairs in the run, so the range
/// reaches as low as the pairs it keeps allow (on Walmart-Amazon, mean F1
/// 0.648 to 0.678; restaurants 0.862 to 0.883).
pub fn threshold_range(
    held_out: &[(usize, f64)],
    is_match: &[bool],
    one_to_one_pairs: Option<&[CandidatePair]>,
) -> (f32, f32) {
    let kept = match one_to_one_pairs {
        Some(pairs) => {
            let pairs: Vec<CandidatePair> = held_out.iter().map(|&(i, _)| pairs[i]).collect();
            let scores: Vec<f64> = held_out.iter().map(|h| h.1).collect();
            one_to_one(&pairs, &scores)
        }
        None => vec![true; held_out.len()],
    };
    let scored: Vec<(f64, bool)> =
        held_out.iter().zip(kept).map(|(&(i, p), kept)| (if kept { p } else { 0.0 }, is_match[i])).collect();
    best_f1_range(&scored)
}

/// How a model learned.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrainingMethod {
    /// From labeled pairs.
    #[default]
    Labels,
    /// Without labels: from a Fellegi–Sunter model's verdicts.
    Unsupervised,
}

/// What a model was trained on.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TrainingSummary {
    /// How it learned; the counts below are of the pairs it learned from
    /// (for an unsupervised model, pairs the EM step labeled).
    #[serde(default)]
    pub method: TrainingMethod,
    /// Labeled pairs used.
    pub pairs: usize,
    /// Of which matches.
    pub matches: usize,
    /// Of which non-matches.
    pub non_matches: usize,
    /// Distinct labeled records.
    pub records: usize,
    /// Where the balanced threshold was searched: from the lowest allowed
    /// to the median held-out probability of the labeled matches.
    pub threshold_range: (f32, f32),
    /// Share of training pairs classified right at the model's threshold.
    pub training_accuracy: f64,
    /// Mean log-loss on the training pairs.
    pub training_log_loss: f64,
    /// Columns weighed at nothing because another implies them among
    /// pairs of distinct entities (a household's town, given its postcode:
    /// see [`crate::unsupervised`]); learned without labels only.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub implied_columns: Vec<String>,
}

/// A trained matcher: definition, features and weights.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MatchModel {
    /// File format version ([`MODEL_FORMAT_VERSION`]).
    pub format_version: u32,
    /// The definition the model was trained with.
    pub definition: TransformDef,
    /// Feature names, in vector order.
    pub features: Vec<String>,
    /// One weight per feature.
    pub weights: Vec<f64>,
    /// The bias.
    pub intercept: f64,
    /// The probability threshold [`MatchModel::calibrate`] settled (the
    /// valley of the training data's scored candidates, within the range
    /// the held-out labels do best at; even odds without labels, unless
    /// linking one to one);
    /// `precision_recall_tradeoff` 0.5 uses it as is.
    pub balanced_threshold: f32,
    /// What training saw.
    pub training: TrainingSummary,
    /// SHA-256 (hex) of the schema and parameters.
    pub fingerprint: String,
    /// The labeled pairs it was trained on, by key, for
    /// `enforce_provided_labels` (not part of the fingerprint: they do not
    /// change a score).
    #[serde(default)]
    pub labels: Vec<ProvidedLabel>,
}

/// A labeled pair a model was trained on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProvidedLabel {
    /// The first record's primary key.
    pub left: String,
    /// The second record's.
    pub right: String,
    /// Whether they are the same entity.
    pub is_match: bool,
}

impl MatchModel {
    /// Fit a model to labeled feature vectors. Its balanced threshold is
    /// settled by [`MatchModel::calibrate`].
    pub fn fit(
        def: &TransformDef,
        x: &FeatureMatrix,
        is_match: &[bool],
        records: usize,
        one_to_one_pairs: Option<&[CandidatePair]>,
    ) -> Result<MatchModel> {
        let fitting = Fitting::tuned(def, x, is_match);
        let plan = ComparePlan::new(def);
        let matches = is_match.iter().filter(|&&m| m).count();
        let non_matches = is_match.len() - matches;
        if matches == 0 || non_matches == 0 {
            return Err(Error::training(format!(
                "labels give {matches} matching and {non_matches} non-matching pairs; \
                 both kinds are needed"
            )));
        }
        let all: Vec<usize> = (0..x.rows()).collect();
        let (weights, intercept) = fitting.fit(x, is_match, &all);
        let mut model = MatchModel {
            format_version: MODEL_FORMAT_VERSION,
            definition: def.clone(),
            features: plan.feature_names().to_vec(),
            weights,
            intercept,
            balanced_threshold: 0.5,
            training: TrainingSummary::default(),
            fingerprint: String::new(),
            labels: Vec::new(),
        };
        let (mut right, mut loss) = (0usize, 0.0f64);
        for (i, &m) in is_match.iter().enumerate() {
            let p = model.probability(x.row(i)) as f64;
            right += usize::from((p >= 0.5) == m);
            let p = p.clamp(1e-9, 1.0 - 1e-9);
            loss -= if m { p.ln() } else { (1.0 - p).ln() };
        }
        let held_out = fitting.held_out(x, is_match);
        model.training = TrainingSummary {
            method: TrainingMethod::Labels,
            pairs: is_match.len(),
            matches,
            non_matches,
            records,
            threshold_range: threshold_range(&held_out, is_match, one_to_one_pairs),
            training_accuracy: right as f64 / is_match.len() as f64,
            training_log_loss: loss / is_match.len() as f64,
            implied_columns: Vec::new(),
        };
        model.fingerprint = model.compute_fingerprint();
        Ok(model)
    }

    /// A model of given weights (an unsupervised one's).
    pub fn from_weights(
        def: &TransformDef,
        weights: Vec<f64>,
        intercept: f64,
        training: TrainingSummary,
    ) -> MatchModel {
        let training = TrainingSummary { threshold_range: THRESHOLD_BOUNDS, ..training };
        let mut model = MatchModel {
            format_version: MODEL_FORMAT_VERSION,
            definition: def.clone(),
            features: ComparePlan::new(def).feature_names().to_vec(),
            weights,
            intercept,
            balanced_threshold: 0.5,
            training,
            fingerprint: String::new(),
            labels: Vec::new(),
        };
        model.fingerprint = model.compute_fingerprint();
        model
    }

    /// Settle the balanced threshold in the valley of
    /// `candidate_probabilities` (a sample of the training data's
    /// candidate pairs, scored, those a one-to-one link drops left out:
    /// [`valley_threshold`]). A model learned from
    /// labels searches it within the range of thresholds its held-out
    /// labels do best at (`training.threshold_range`, see
    /// [`best_f1_range`]), and not above even odds: an L2-penalized fit is
    /// too unsure of the matches its few labels cover least, so they fall
    /// below one half, above the valley. An unsupervised model keeps even
    /// odds: its Fellegi–Sunter probabilities are too sure either way, so
    /// the valley between them is wide and flat and any point of it is a
    /// guess (on fake_1000 its middle, 0.79, lost a fifth of the matches).
    /// But not when linking `one_to_one`: the rule has dropped the rivals
    /// that fill the valley, and what remains below one half are matches
    /// of a column EM could not weigh alone (IMDb-TMDb's people, named
    /// alike in both sources, at 0.34: F1 0.643 to 0.844), so it searches
    /// the valley below even odds too.
    pub fn calibrate(&mut self, candidate_probabilities: &[f32], one_to_one: bool) {
        let (lo, hi) = self.training.threshold_range;
        self.balanced_threshold = match self.training.method {
            TrainingMethod::Unsupervised if !one_to_one => 0.5,
            _ => valley_threshold((lo, hi.min(0.5).max(lo)), candidate_probabilities),
        };
        self.fingerprint = self.compute_fingerprint();
    }

    /// Log-odds of a match of one feature vector.
    #[inline]
    pub fn logit(&self, features: &[f32]) -> f64 {
        self.intercept + self.weights.iter().zip(features).map(|(w, &x)| w * x as f64).sum::<f64>()
    }

    /// P(match) of one feature vector.
    #[inline]
    pub fn probability(&self, features: &[f32]) -> f32 {
        sigmoid(self.logit(features)) as f32
    }

    /// The match threshold its definition's tuning sets.
    pub fn threshold(&self) -> f32 {
        self.definition.tuning.match_threshold(self.balanced_threshold)
    }

    fn compute_fingerprint(&self) -> String {
        let mut hasher = Sha256::new();
        let schema = serde_json::json!({
            "format_version": self.format_version,
            "primary_key": self.definition.primary_key,
            "columns": self.definition.matched_columns().map(|(c, k)| (c, k.as_str())).collect::<Vec<_>>(),
            "features": self.features,
            "weights": self.weights,
            "intercept": self.intercept,
            "balanced_threshold": self.balanced_threshold,
        });
        hasher.update(schema.to_string().as_bytes());
        hasher.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The model as pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default() + "\n"
    }

    /// Parse and check a model; `path` names it in errors.
    pub fn from_json(text: &str, path: &Path) -> Result<MatchModel> {
        let model: MatchModel = crate::error::parse_versioned(
            text,
            path,
            MODEL_FORMAT_VERSION,
            MODEL_FORMAT_VERSION,
            "model file",
        )?;
        model.definition.validate(path)?;
        if model.weights.len() != model.features.len() || model.fingerprint != model.compute_fingerprint() {
            return Err(Error::corrupt(path, "fingerprint does not match the content (edited or damaged)"));
        }
        let plan = ComparePlan::new(&model.definition);
        if plan.feature_names() != model.features.as_slice() {
            return Err(Error::model_mismatch(
                path,
                "the model's features are not the ones this findmatches computes; retrain it",
            ));
        }
        Ok(model)
    }

    /// Read a model file.
    pub fn load(path: &Path) -> Result<MatchModel> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        MatchModel::from_json(&text, path)
    }

    /// Write the model file atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        crate::durable::atomic_write(path, |w| {
            use std::io::Write;
            w.write_all(self.to_json().as_bytes()).map_err(|e| Error::io(path, e))
        })
    }

    /// The model with `tuning` replacing its definition's knobs. The
    /// fingerprint does not cover tuning, so it stays valid.
    pub fn with_tuning(mut self, tuning: crate::config::Tuning) -> MatchModel {
        self.definition.tuning = tuning;
        self
    }

    /// Check that `table` has every column the model's definition names.
    pub fn check_table(&self, table: &crate::read::Table) -> Result<()> {
        let missing = self.definition.missing_columns(&table.headers());
        if missing.is_empty() {
            return Ok(());
        }
        Err(Error::model_mismatch(
            table.path(),
            format!("lacks column(s) {} that the model needs", missing.join(", ")),
        ))
    }

    /// Check that `def` matches the columns this model was trained on.
    pub fn check_definition(&self, def: &TransformDef, model_path: &Path) -> Result<()> {
        if self.definition.same_schema(def) {
            return Ok(());
        }
        let show = |d: &TransformDef| {
            d.matched_columns().map(|(c, k)| format!("{c}:{k}")).collect::<Vec<_>>().join(", ")
        };
        Err(Error::model_mismatch(
            model_path,
            format!(
                "trained on key '{}' and columns [{}], but the definition has key '{}' and columns [{}]",
                self.definition.primary_key,
                show(&self.definition),
                def.primary_key,
                show(def)
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ColumnKind;

    pub(crate) fn tiny_model() -> MatchModel {
        let def = TransformDef {
            primary_key: "id".into(),
            columns: [("name".to_string(), ColumnKind::Name)].into_iter().collect(),
            tuning: Default::default(),
        };
        let stride = ComparePlan::new(&def).num_features();
        let mut data = Vec::new();
        let mut labels = Vec::new();
        for i in 0..40 {
            let m = i % 2 == 0;
            let v = if m { 0.9 } else { 0.2 } + (i as f32) * 0.001;
            data.extend(std::iter::repeat_n(v, stride));
            labels.push(m);
        }
        MatchModel::fit(&def, &FeatureMatrix { stride, data }, &labels, 40, None).unwrap()
    }

    /// Labels of one name column, a third of them matches: each of its
    /// features agrees with the label except on a share `noise` of the
    /// pairs, independently.
    fn name_labels(rows: usize, noise: f64) -> (TransformDef, FeatureMatrix, Vec<bool>) {
        let def = tiny_model().definition;
        let stride = ComparePlan::new(&def).num_features();
        let mut rng = crate::rng::Rng::new(7);
        let mut data = Vec::new();
        let mut labels = Vec::new();
        for i in 0..rows {
            let m = i % 3 == 0;
            data.extend((0..stride).map(|_| f32::from(u8::from(m != rng.chance(noise)))));
            labels.push(m);
        }
        (def, FeatureMatrix { stride, data }, labels)
    }

    #[test]
    fn the_penalty_follows_how_much_the_labels_can_be_trusted() {
        // Features that say the same as the labels: the weakest penalty.
        let (def, x, y) = name_labels(300, 0.0);
        assert_eq!(Fitting::tuned(&def, &x, &y).penalty, L2_PENALTIES[0]);
        // Few labels, each feature often wrong: weights fitted to the
        // labels' accidents lose on held-out pairs.
        let (def, x, y) = name_labels(60, 0.3);
        let penalty = Fitting::tuned(&def, &x, &y).penalty;
        assert!(penalty >= 1.0, "{penalty}");
    }

    #[test]
    fn one_to_one_keeps_the_best_pair_of_each_record() {
        let pairs = [CandidatePair::new(0, 10), CandidatePair::new(0, 11), CandidatePair::new(1, 11)];
        assert_eq!(one_to_one(&pairs, &[0.9, 0.8, 0.7]), [true, false, true]);
        assert_eq!(one_to_one(&pairs, &[0.5, 0.8, 0.7]), [false, true, false]);
    }

    #[test]
    fn one_to_one_lets_the_threshold_range_reach_the_pairs_it_keeps() {
        // Five groups: record a's match scores 0.3; its three rival pairs,
        // 0.6 each, lose their other record to matches at 0.9.
        let (mut pairs, mut is_match, mut held_out) = (Vec::new(), Vec::new(), Vec::new());
        let mut add = |a: RecordId, b: RecordId, m: bool, p: f64| {
            held_out.push((pairs.len(), p));
            pairs.push(CandidatePair::new(a, b));
            is_match.push(m);
        };
        for g in 0..5 {
            let a = g * 10;
            add(a, a + 1, true, 0.3);
            for r in 2..5 {
                add(a, a + r, false, 0.6);
                add(a + r + 3, a + r, true, 0.9);
            }
        }
        let (lo, _) = threshold_range(&held_out, &is_match, None);
        assert!(lo > 0.3, "{lo}");
        let (lo, hi) = threshold_range(&held_out, &is_match, Some(&pairs));
        assert!(lo <= 0.3 && hi >= 0.3, "{lo} {hi}");
    }

    #[test]
    fn threshold_sits_in_the_valley() {
        // Within a wide range, the threshold falls where candidates are rare.
        let mut probs = vec![0.02f32; 50];
        probs.extend(std::iter::repeat_n(0.97f32, 50));
        probs.extend([0.08, 0.1, 0.12, 0.85, 0.9]);
        let t = valley_threshold((0.05, 0.95), &probs);
        assert!(t > 0.15 && t < 0.8, "{t}");
        // ... but never above the range's ceiling.
        let t = valley_threshold((0.05, 0.3), &probs);
        assert!(t <= 0.3, "{t}");
    }

    #[test]
    fn labels_bound_the_threshold_and_candidates_place_it() {
        // Held-out matches at 0.6 .. 0.95, non-matches at 0.05 .. 0.4: any
        // threshold in the gap does best, and about as well a step beyond.
        let mut held: Vec<(f64, bool)> = (0..10).map(|i| (0.6 + 0.035 * i as f64, true)).collect();
        held.extend((0..10).map(|i| (0.05 + 0.035 * i as f64, false)));
        let (lo, hi) = best_f1_range(&held);
        assert!(lo < 0.4 && hi > 0.6 && lo > 0.25 && hi < 0.7, "{lo} {hi}");
        // The candidates' valley inside that range, and not above one half.
        let mut model = tiny_model();
        model.training.threshold_range = (0.05, 0.95);
        let mut probs = vec![0.01f32; 500];
        probs.extend(std::iter::repeat_n(0.9f32, 100));
        probs.extend([0.06, 0.07, 0.65, 0.7, 0.75]);
        model.calibrate(&probs, false);
        assert!(
            model.balanced_threshold > 0.07 && model.balanced_threshold <= 0.5,
            "{}",
            model.balanced_threshold
        );
        model.training.method = TrainingMethod::Unsupervised;
        model.calibrate(&probs, false);
        assert_eq!(model.balanced_threshold, 0.5);
        // Linking one to one, an unsupervised model's threshold is the
        // valley's too: matches at 0.3 are kept.
        let mut probs = vec![0.01f32; 500];
        probs.extend(std::iter::repeat_n(0.3f32, 100));
        model.calibrate(&probs, true);
        assert!(
            model.balanced_threshold > 0.01 && model.balanced_threshold < 0.3,
            "{}",
            model.balanced_threshold
        );
    }

    #[test]
    fn saved_model_loads_back_identical() {
        let model = tiny_model();
        let loaded = MatchModel::from_json(&model.to_json(), Path::new("m.json")).unwrap();
        assert_eq!(loaded, model);
        assert!(model.probability(&vec![0.95; model.features.len()]) > 0.5);
        assert!(model.probability(&vec![0.1; model.features.len()]) < 0.5);
    }

    #[test]
    fn edited_or_foreign_models_are_refused() {
        let model = tiny_model();
        let mut edited = model.clone();
        edited.intercept += 1.0;
        let edited = edited.to_json();
        let err = MatchModel::from_json(&edited, Path::new("m.json")).unwrap_err();
        assert!(err.to_string().contains("fingerprint"), "{err}");
        let newer = model.to_json().replacen("\"format_version\": 2", "\"format_version\": 99", 1);
        let err = MatchModel::from_json(&newer, Path::new("m.json")).unwrap_err();
        assert!(err.to_string().contains("version 99"), "{err}");
        let err = MatchModel::from_json("{\"format", Path::new("m.json")).unwrap_err();
        assert!(err.to_string().starts_with("m.json: corrupt"), "{err}");
    }
}
