//! The model section: how much each agreement level of each column moves
//! the odds of a match, how the model was trained, and which columns
//! matter most.

use serde::Serialize;

use crate::compare::kind_levels;
use crate::model::{MatchModel, TrainingMethod};

/// A model as a report shows it.
#[derive(Debug, Serialize)]
pub struct ModelSection {
    /// How it was trained: "labels" or "unsupervised".
    pub method: String,
    /// Labeled (or, unsupervised, self-labeled) pairs it was fitted on.
    pub pairs: usize,
    /// Of which matches.
    pub matches: usize,
    /// And non-matches.
    pub non_matches: usize,
    /// Records the pairs came from.
    pub records: usize,
    /// Labels provided by a user that the model keeps.
    pub provided_labels: usize,
    /// The match threshold.
    pub threshold: f32,
    /// The range it was chosen in.
    pub threshold_range: (f32, f32),
    /// The log-odds before any evidence.
    pub intercept: f64,
    /// Each matched column's weights.
    pub columns: Vec<ColumnWeights>,
    /// Weights of evidence of no single column (names swapped, all words).
    pub other: Vec<(String, f64)>,
    /// Column importance (shares of one), largest first, and what it was
    /// measured on; empty when no pairs were at hand.
    pub importance: Vec<(String, f64)>,
    /// See `importance`.
    pub importance_source: String,
    /// The model's fingerprint.
    pub fingerprint: String,
}

/// One column's weights.
#[derive(Debug, Serialize)]
pub struct ColumnWeights {
    /// The column.
    pub column: String,
    /// Its kind.
    pub kind: String,
    /// What each agreement level adds to the log-odds: "missing" (either
    /// value absent), "different", then each level up to "exact".
    pub levels: Vec<LevelWeight>,
    /// Weights of the column's graded features, added on top of the level
    /// (`tf`: per e-fold of rarity of an exact value; a similarity: per
    /// unit of similarity, 0 to 1).
    pub graded: Vec<(String, f64)>,
}

/// What one agreement level adds.
#[derive(Debug, Serialize)]
pub struct LevelWeight {
    /// The level.
    pub level: String,
    /// Log-odds added.
    pub log_odds: f64,
    /// The odds multiplied by (e^log_odds).
    pub odds: f64,
}

impl ModelSection {
    /// The section of `model` (without importance: see [`ModelSection::set_importance`]).
    pub fn of(model: &MatchModel) -> ModelSection {
        let weight_of =
            |name: &str| model.features.iter().position(|f| f == name).map_or(0.0, |i| model.weights[i]);
        let mut columns = Vec::new();
        for (column, kind) in model.definition.matched_columns() {
            let prefix = format!("{column}.");
            let names: Vec<&str> = model.features.iter().filter_map(|f| f.strip_prefix(&prefix)).collect();
            let ladder = kind_levels(kind);
            let graded: Vec<(String, f64)> = (names.iter())
                .filter(|n| **n != "present" && !ladder.contains(n))
                .map(|n| (n.to_string(), weight_of(&format!("{prefix}{n}"))))
                .collect();
            let level = |level: &str, log_odds: f64| LevelWeight {
                level: level.to_string(),
                log_odds,
                odds: log_odds.exp(),
            };
            let mut sum = weight_of(&format!("{prefix}present"));
            let mut levels = vec![level("missing", 0.0), level("different", sum)];
            for (i, l) in ladder.iter().enumerate() {
                sum += weight_of(&format!("{prefix}{l}"));
                // An exact agreement is also fully similar.
                let similar: f64 = if i + 1 == ladder.len() {
                    graded.iter().filter(|(n, _)| n != "tf").map(|(_, w)| w).sum()
                } else {
                    0.0
                };
                levels.push(level(l, sum + similar));
            }
            columns.push(ColumnWeights {
                column: column.to_string(),
                kind: kind.to_string(),
                levels,
                graded,
            });
        }
        let column_names: Vec<String> = columns.iter().map(|c| format!("{}.", c.column)).collect();
        let other = (model.features.iter().zip(&model.weights))
            .filter(|(f, _)| !column_names.iter().any(|c| f.starts_with(c.as_str())))
            .map(|(f, &w)| (f.clone(), w))
            .collect();
        let t = &model.training;
        ModelSection {
            method: match t.method {
                TrainingMethod::Labels => "labels",
                TrainingMethod::Unsupervised => "unsupervised",
            }
            .to_string(),
            pairs: t.pairs,
            matches: t.matches,
            non_matches: t.non_matches,
            records: t.records,
            provided_labels: model.labels.len(),
            threshold: model.threshold(),
            threshold_range: t.threshold_range,
            intercept: model.intercept,
            columns,
            other,
            importance: Vec::new(),
            importance_source: String::new(),
            fingerprint: model.fingerprint.clone(),
        }
    }

    /// Set the column importance, measured on `source`.
    pub fn set_importance(&mut self, importance: &[(String, f64)], source: &str) {
        self.importance = importance.to_vec();
        self.importance_source = source.to_string();
    }
}
