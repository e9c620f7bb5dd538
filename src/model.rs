//! Score: the trained classifier that turns a feature vector into
//! P(match), and its file format.
//!
//! A [`MatchModel`] is an L2-regularized logistic regression fitted with
//! linfa on labeled pairs. Its file is versioned JSON holding the
//! transform definition it was trained with, the feature names, the
//! weights, a training summary and a fingerprint (SHA-256 of the schema and
//! parameters). Loading checks all of it: a model of another format
//! version, a file whose fingerprint does not match its content, or a
//! feature list this build would not compute is an error, never a wrong
//! answer.

use std::path::Path;

use linfa::prelude::*;
use linfa_logistic::LogisticRegression;
use ndarray::{Array1, Array2};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::compare::{ComparePlan, FeatureMatrix};
use crate::config::TransformDef;
use crate::error::{Error, Result};

/// The model file format this build reads and writes.
pub const MODEL_FORMAT_VERSION: u32 = 1;

/// L2 penalty of the logistic regression.
const L2_PENALTY: f64 = 0.05;
/// Folds of the cross-validation that sets the balanced threshold.
const FOLDS: usize = 5;
/// The balanced threshold stays within these bounds.
const THRESHOLD_BOUNDS: (f32, f32) = (0.05, 0.95);
/// Width, in logit units, of the bins of the valley search.
const VALLEY_BIN: f64 = 0.5;
/// A bin within this factor of the emptiest counts as the valley floor.
const VALLEY_SLACK: f64 = 1.5;

/// Out-of-fold match probabilities of labeled feature vectors: the rows
/// are dealt into [`FOLDS`] folds, and each fold is scored by a model fitted
/// on the others. Returns (row, probability) for the rows of every fold
/// whose complement holds both classes.
pub fn held_out_probabilities(x: &FeatureMatrix, is_match: &[bool]) -> Result<Vec<(usize, f64)>> {
    let mut out = Vec::with_capacity(x.rows());
    for fold in 0..FOLDS {
        let idx: Vec<usize> = (0..x.rows()).filter(|&i| i % FOLDS != fold).collect();
        let fx = Array2::from_shape_fn((idx.len(), x.stride), |(i, j)| x.row(idx[i])[j] as f64);
        let fy = Array1::from_iter(idx.iter().map(|&i| is_match[i]));
        if fy.iter().all(|&m| m) || fy.iter().all(|&m| !m) {
            continue;
        }
        let (w, b) = fit_logistic(fx, fy)?;
        for i in (fold..x.rows()).step_by(FOLDS) {
            let z = b + w.iter().zip(x.row(i)).map(|(w, &v)| w * v as f64).sum::<f64>();
            out.push((i, sigmoid(z)));
        }
    }
    Ok(out)
}

/// Fit an L2-regularized logistic regression of `y` on the columns of
/// `x`; returns (weights, intercept) for P(`y` true).
fn fit_logistic(x: Array2<f64>, y: Array1<bool>) -> Result<(Vec<f64>, f64)> {
    let fitted = LogisticRegression::default()
        .alpha(L2_PENALTY)
        .max_iterations(500)
        .fit(&Dataset::new(x, y))
        .map_err(|e| Error::training(e.to_string()))?;
    // linfa's probability is for its "positive" class; make it "match".
    let sign = if fitted.labels().pos.class { 1.0 } else { -1.0 };
    Ok((fitted.params().iter().map(|w| w * sign).collect(), fitted.intercept() * sign))
}

/// The logistic function: log-odds to probability.
pub fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// Log-odds of a probability (clamped away from 0 and 1).
pub fn logit(p: f64) -> f64 {
    let p = p.clamp(1e-9, 1.0 - 1e-9);
    (p / (1.0 - p)).ln()
}

/// A threshold within `range` where the fewest of `probabilities` fall:
/// the valley between the non-match and match modes of the scored
/// candidates, searched in logit space with bins of [`VALLEY_BIN`]. With
/// no probabilities, the logit midpoint of the range.
pub fn valley_threshold(range: (f32, f32), probabilities: &[f32]) -> f32 {
    let (lo, hi) = (logit(range.0 as f64), logit(range.1 as f64));
    let mid = sigmoid((lo + hi) / 2.0) as f32;
    if probabilities.is_empty() || hi - lo < 2.0 * VALLEY_BIN {
        return mid;
    }
    let bins = ((hi - lo) / VALLEY_BIN).ceil() as usize;
    let mut counts = vec![0usize; bins];
    for &p in probabilities {
        let z = logit(p as f64);
        if z >= lo && z < hi {
            counts[(((z - lo) / VALLEY_BIN) as usize).min(bins - 1)] += 1;
        }
    }
    // Smooth: the mean over each bin and its neighbours (two at the
    // edges). Then take the lowest bin about as empty as the emptiest
    // (within VALLEY_SLACK): where the valley is flat, recall is taken,
    // since clustering's average linkage still guards precision.
    let smooth: Vec<f64> = (0..bins)
        .map(|i| {
            let window = &counts[i.saturating_sub(1)..(i + 2).min(bins)];
            window.iter().sum::<usize>() as f64 / window.len() as f64
        })
        .collect();
    let min = smooth.iter().copied().fold(f64::INFINITY, f64::min);
    let i = (0..bins).find(|&i| smooth[i] <= min * VALLEY_SLACK + 1e-9).unwrap_or(0);
    sigmoid((lo + (i as f64 + 0.5) * VALLEY_BIN).min(hi)) as f32
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
    /// The probability threshold that maximized F1 on held-out labeled
    /// pairs (k-fold cross-validation); `precision_recall_tradeoff` 0.5
    /// uses it as is.
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
    /// Fit a model to labeled feature vectors.
    pub fn fit(
        def: &TransformDef,
        x: &FeatureMatrix,
        is_match: &[bool],
        records: usize,
    ) -> Result<MatchModel> {
        let plan = ComparePlan::new(def);
        let matches = is_match.iter().filter(|&&m| m).count();
        let non_matches = is_match.len() - matches;
        if matches == 0 || non_matches == 0 {
            return Err(Error::training(format!(
                "labels give {matches} matching and {non_matches} non-matching pairs; \
                 both kinds are needed"
            )));
        }
        let rows = |keep: &dyn Fn(usize) -> bool| -> (Array2<f64>, Array1<bool>, Vec<usize>) {
            let idx: Vec<usize> = (0..x.rows()).filter(|&i| keep(i)).collect();
            let a = Array2::from_shape_fn((idx.len(), x.stride), |(i, j)| x.row(idx[i])[j] as f64);
            let y = Array1::from_iter(idx.iter().map(|&i| is_match[i]));
            (a, y, idx)
        };
        let (all_x, all_y, _) = rows(&|_| true);
        let (weights, intercept) = fit_logistic(all_x, all_y)?;
        // Out-of-fold probabilities set the balanced threshold.
        let held_out: Vec<(f64, bool)> =
            held_out_probabilities(x, is_match)?.into_iter().map(|(i, p)| (p, is_match[i])).collect();
        // The balanced threshold may not reject most held-out matches: it is
        // searched below their median probability.
        let mut positives: Vec<f64> = held_out.iter().filter(|(_, m)| *m).map(|(p, _)| *p).collect();
        positives.sort_by(f64::total_cmp);
        let ceiling = positives.get(positives.len() / 2).map_or(THRESHOLD_BOUNDS.1, |&p| p as f32);
        let threshold_range = (THRESHOLD_BOUNDS.0, ceiling.clamp(THRESHOLD_BOUNDS.0, THRESHOLD_BOUNDS.1));
        let balanced_threshold = valley_threshold(threshold_range, &[]);
        let mut model = MatchModel {
            format_version: MODEL_FORMAT_VERSION,
            definition: def.clone(),
            features: plan.feature_names().to_vec(),
            weights,
            intercept,
            balanced_threshold,
            training: TrainingSummary::default(),
            fingerprint: String::new(),
            labels: Vec::new(),
        };
        let threshold = model.threshold();
        let (mut right, mut loss) = (0usize, 0.0f64);
        for (i, &m) in is_match.iter().enumerate() {
            let p = model.probability(x.row(i)) as f64;
            right += usize::from((p >= threshold as f64) == m);
            let p = p.clamp(1e-9, 1.0 - 1e-9);
            loss -= if m { p.ln() } else { (1.0 - p).ln() };
        }
        model.training = TrainingSummary {
            method: TrainingMethod::Labels,
            pairs: is_match.len(),
            matches,
            non_matches,
            records,
            threshold_range,
            training_accuracy: right as f64 / is_match.len() as f64,
            training_log_loss: loss / is_match.len() as f64,
        };
        model.fingerprint = model.compute_fingerprint();
        Ok(model)
    }

    /// Settle the balanced threshold in the valley of the training
    /// data's candidate probabilities, within `threshold_range`.
    pub fn settle_threshold(&mut self, candidate_probabilities: &[f32]) {
        self.balanced_threshold = valley_threshold(self.training.threshold_range, candidate_probabilities);
        self.fingerprint = self.compute_fingerprint();
    }

    /// P(match) of one feature vector.
    #[inline]
    pub fn probability(&self, features: &[f32]) -> f32 {
        let z: f64 =
            self.intercept + self.weights.iter().zip(features).map(|(w, &x)| w * x as f64).sum::<f64>();
        (1.0 / (1.0 + (-z).exp())) as f32
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
        let model: MatchModel =
            crate::error::parse_versioned(text, path, MODEL_FORMAT_VERSION, "model file")?;
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
        crate::write::atomic_write(path, |w| {
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
        MatchModel::fit(&def, &FeatureMatrix { stride, data }, &labels, 40).unwrap()
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
        let newer = model.to_json().replacen("\"format_version\": 1", "\"format_version\": 99", 1);
        let err = MatchModel::from_json(&newer, Path::new("m.json")).unwrap_err();
        assert!(err.to_string().contains("version 99"), "{err}");
        let err = MatchModel::from_json("{\"format", Path::new("m.json")).unwrap_err();
        assert!(err.to_string().starts_with("m.json: corrupt"), "{err}");
    }
}
