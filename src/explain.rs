//! Explain a score: why a pair of records got the match probability it
//! did. The model is a logistic regression, so its evidence (log-odds) is a
//! sum: the intercept, plus weight × value for every feature. Grouped by
//! column, that sum is a waterfall from "no information" to the verdict.

use serde::Serialize;

use crate::compare::ComparePlan;
use crate::error::{Error, Result};
use crate::model::MatchModel;
use crate::read::Table;
use crate::record::{RecordId, Records};

/// What one column (or the names swapped, or the whole record) adds.
#[derive(Clone, Debug, Serialize)]
pub struct Contribution {
    /// The column, `swap(first,second)`, or `record` (all words).
    pub part: String,
    /// The first record's normalized value of the column (empty for the
    /// other parts).
    pub left: String,
    /// The second record's.
    pub right: String,
    /// Each feature of the part with its value.
    pub features: Vec<(String, f32)>,
    /// Its evidence: the sum of weight × value, in log-odds.
    pub evidence: f64,
}

/// A pair's score, taken apart.
#[derive(Clone, Debug, Serialize)]
pub struct Explanation {
    /// The first record's primary key.
    pub left_key: String,
    /// The second record's.
    pub right_key: String,
    /// Evidence before any feature (the model's intercept).
    pub intercept: f64,
    /// In the model's feature order.
    pub parts: Vec<Contribution>,
    /// `intercept` plus every part's evidence.
    pub evidence: f64,
    /// The match probability: the logistic of `evidence`.
    pub probability: f32,
    /// The model's match threshold (with its tuning).
    pub threshold: f32,
    /// Whether the probability reaches the threshold.
    pub is_match: bool,
}

/// The part a feature belongs to (its column, the name swap, or
/// `record`) and its own name.
pub fn part_of(feature: &str) -> (&str, &str) {
    match feature.split_once('.') {
        Some((column, name)) if !feature.starts_with("swap(") => (column, name),
        _ => (feature, feature),
    }
}

/// The record whose primary key is `key`.
pub fn record_of(records: &Records, key: &str) -> Result<RecordId> {
    let mut found = records.keys().iter().enumerate().filter(|(_, k)| k.as_str() == key);
    match (found.next(), found.next()) {
        (Some((i, _)), None) => Ok(i as RecordId),
        (Some(_), Some(_)) => Err(Error::usage(format!("key '{key}' is in more than one input"))),
        (None, _) => Err(Error::usage(format!("no record has key '{key}'"))),
    }
}

/// Take apart the score of the records keyed `left` and `right` in
/// `tables` (one, or the two of a link), as `findmatches explain` does.
pub fn explain_keys(model: &MatchModel, tables: &[&Table], left: &str, right: &str) -> Result<Explanation> {
    let records = Records::build(&model.definition, tables)?;
    let (a, b) = (record_of(&records, left.trim())?, record_of(&records, right.trim())?);
    Ok(explain(model, &records, a, b))
}

/// Take apart the score of records `a` and `b`.
pub fn explain(model: &MatchModel, records: &Records, a: RecordId, b: RecordId) -> Explanation {
    let plan = ComparePlan::new(&model.definition);
    let mut features = vec![0.0f32; plan.num_features()];
    plan.compare(records, a, b, &mut features);
    let mut parts: Vec<Contribution> = Vec::new();
    for ((name, &value), &weight) in plan.feature_names().iter().zip(&features).zip(&model.weights) {
        let (part, feature) = part_of(name);
        if parts.last().is_none_or(|p| p.part != part) {
            let column = records.columns().iter().find(|c| c.name() == part);
            parts.push(Contribution {
                part: part.to_string(),
                left: column.map(|c| c.value(a).to_string()).unwrap_or_default(),
                right: column.map(|c| c.value(b).to_string()).unwrap_or_default(),
                features: Vec::new(),
                evidence: 0.0,
            });
        }
        if let Some(p) = parts.last_mut() {
            p.features.push((feature.to_string(), value));
            p.evidence += weight * value as f64;
        }
    }
    let evidence = model.intercept + parts.iter().map(|p| p.evidence).sum::<f64>();
    let probability = model.probability(&features);
    let threshold = model.threshold();
    let keys = records.keys();
    Explanation {
        left_key: keys[a as usize].clone(),
        right_key: keys[b as usize].clone(),
        intercept: model.intercept,
        parts,
        evidence,
        probability,
        threshold,
        is_match: probability >= threshold,
    }
}
