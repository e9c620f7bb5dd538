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

/// What a model was trained on.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TrainingSummary {
    /// Labeled pairs used.
    pub pairs: usize,
    /// Of which matches.
    pub matches: usize,
    /// Of which non-matches.
    pub non_matches: usize,
    /// Distinct labeled records.
    pub records: usize,
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
    /// What training saw.
    pub training: TrainingSummary,
    /// SHA-256 (hex) of the schema and parameters.
    pub fingerprint: String,
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
        let array = Array2::from_shape_fn((x.rows(), x.stride), |(i, j)| x.row(i)[j] as f64);
        let targets = Array1::from_iter(is_match.iter().copied());
        let dataset = Dataset::new(array, targets);
        let fitted = LogisticRegression::default()
            .alpha(L2_PENALTY)
            .max_iterations(500)
            .fit(&dataset)
            .map_err(|e| Error::training(e.to_string()))?;
        // linfa's probability is for its "positive" class; make it "match".
        let sign = if fitted.labels().pos.class { 1.0 } else { -1.0 };
        let mut model = MatchModel {
            format_version: MODEL_FORMAT_VERSION,
            definition: def.clone(),
            features: plan.feature_names().to_vec(),
            weights: fitted.params().iter().map(|w| w * sign).collect(),
            intercept: fitted.intercept() * sign,
            training: TrainingSummary::default(),
            fingerprint: String::new(),
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
            pairs: is_match.len(),
            matches,
            non_matches,
            records,
            training_accuracy: right as f64 / is_match.len() as f64,
            training_log_loss: loss / is_match.len() as f64,
        };
        model.fingerprint = model.compute_fingerprint();
        Ok(model)
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
        self.definition.tuning.match_threshold()
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
        // Read the version first, so an older or newer file gets a version
        // error rather than a parse error. (Parsing straight from text
        // keeps every float bit-exact, which the fingerprint needs.)
        #[derive(Deserialize)]
        struct Header {
            format_version: Option<u64>,
        }
        let header: Header = serde_json::from_str(text)
            .map_err(|e| Error::corrupt(path, format!("not a model file ({e})")))?;
        match header.format_version {
            Some(v) if v == MODEL_FORMAT_VERSION as u64 => {}
            Some(v) => {
                return Err(Error::model_mismatch(
                    path,
                    format!(
                        "model format version {v}; this findmatches reads version {MODEL_FORMAT_VERSION}"
                    ),
                ))
            }
            None => return Err(Error::corrupt(path, "not a model file (no format_version)")),
        }
        let model: MatchModel =
            serde_json::from_str(text).map_err(|e| Error::corrupt(path, e.to_string()))?;
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
