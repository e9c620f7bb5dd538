//! Learning without labels: a Fellegi–Sunter model fitted by
//! expectation-maximization, whose confident verdicts label the pairs a
//! first [`MatchModel`](crate::MatchModel) is trained on.
//!
//! Each column's agreement on a pair is graded into a few levels
//! ([`ColumnLevels`]). A Fellegi–Sunter model says how likely each level
//! is among matches (`m`) and among non-matches (`u`), and how common
//! matches are among candidates (`λ`). `u` starts from counts on random
//! record pairs (nearly all non-matches) and `m` from "matches mostly
//! agree", which fixes which class is which; EM then fits all three on
//! the candidate pairs. (Holding `u` at the random-pair counts, as Splink
//! does per blocking rule, fails here: candidates agree on their blocking
//! keys far more than random pairs do, so EM calls nearly all of them
//! matches.) A missing value says nothing (its factor is 1).

use crate::compare::{ColumnLevels, FeatureMatrix, LEVELS};
use crate::model::sigmoid;

/// Level code of a missing value.
const MISSING: u8 = u8::MAX;
/// EM stops after this many rounds, or earlier when λ settles.
const MAX_ROUNDS: usize = 100;

/// A fitted Fellegi–Sunter model.
#[derive(Clone, Debug)]
pub struct FellegiSunter {
    /// Share of candidate pairs that match.
    pub lambda: f64,
    /// Per column, P(level | match).
    pub m: Vec<[f64; LEVELS]>,
    /// Per column, P(level | non-match).
    pub u: Vec<[f64; LEVELS]>,
}

/// The agreement levels of every row of `x`, row-major, one byte per
/// column ([`MISSING`] when missing).
fn levels(columns: &[ColumnLevels], x: &FeatureMatrix) -> Vec<u8> {
    (0..x.rows()).flat_map(|r| columns.iter().map(move |c| c.level(x.row(r)).unwrap_or(MISSING))).collect()
}

/// Level frequencies of each column over `rows`, weighted, with add-one
/// smoothing so that no level has probability 0.
fn frequencies(levels: &[u8], width: usize, weight: impl Fn(usize) -> f64) -> Vec<[f64; LEVELS]> {
    let mut counts = vec![[1.0f64; LEVELS]; width];
    for (r, row) in levels.chunks(width).enumerate() {
        let w = weight(r);
        for (c, &l) in row.iter().enumerate() {
            if l != MISSING {
                counts[c][l as usize] += w;
            }
        }
    }
    for c in &mut counts {
        let total: f64 = c.iter().sum();
        c.iter_mut().for_each(|v| *v /= total);
    }
    counts
}

impl FellegiSunter {
    /// Fit on the feature vectors of `candidates` (blocked pairs) and of
    /// `random` record pairs.
    pub fn fit(
        columns: &[ColumnLevels],
        candidates: &FeatureMatrix,
        random: &FeatureMatrix,
    ) -> FellegiSunter {
        let width = columns.len();
        let u = frequencies(&levels(columns, random), width, |_| 1.0);
        let observed = levels(columns, candidates);
        // Start from "matches mostly agree exactly".
        let mut model = FellegiSunter { lambda: 0.1, m: vec![[0.05, 0.1, 0.25, 0.6]; width], u };
        for _ in 0..MAX_ROUNDS {
            let posterior: Vec<f64> = observed.chunks(width).map(|row| model.posterior_of(row)).collect();
            let lambda = posterior.iter().sum::<f64>() / posterior.len().max(1) as f64;
            model.m = frequencies(&observed, width, |r| posterior[r]);
            model.u = frequencies(&observed, width, |r| 1.0 - posterior[r]);
            let settled = (lambda - model.lambda).abs() < 1e-6;
            model.lambda = lambda.clamp(1e-6, 1.0 - 1e-6);
            if settled {
                break;
            }
        }
        model
    }

    fn posterior_of(&self, row: &[u8]) -> f64 {
        let mut log_ratio = (self.lambda / (1.0 - self.lambda)).ln();
        for (c, &l) in row.iter().enumerate() {
            if l != MISSING {
                log_ratio += (self.m[c][l as usize] / self.u[c][l as usize]).ln();
            }
        }
        sigmoid(log_ratio)
    }

    /// P(match) of each row of `x`.
    pub fn posteriors(&self, columns: &[ColumnLevels], x: &FeatureMatrix) -> Vec<f64> {
        levels(columns, x).chunks(columns.len().max(1)).map(|row| self.posterior_of(row)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two columns; matches agree exactly on both, random pairs disagree.
    #[test]
    fn em_separates_matches_from_non_matches() {
        let columns: Vec<ColumnLevels> = (0..2)
            .map(|c| ColumnLevels {
                column: format!("c{c}"),
                missing: 3 * c,
                exact: 3 * c + 1,
                similarities: vec![3 * c + 2],
            })
            .collect();
        let row = |exact: bool, sim: f32| [0.0, f32::from(u8::from(exact)), sim];
        let mut candidates = FeatureMatrix { stride: 6, data: Vec::new() };
        for i in 0..200 {
            let (a, b) = if i % 4 == 0 {
                (row(true, 1.0), row(true, 1.0))
            } else {
                (row(false, 0.5), row(false, 0.3))
            };
            candidates.data.extend(a.iter().chain(&b));
        }
        let mut random = FeatureMatrix { stride: 6, data: Vec::new() };
        for i in 0..1000 {
            let a = if i % 50 == 0 { row(true, 1.0) } else { row(false, 0.2) };
            random.data.extend(a.iter().chain(&row(false, 0.1)));
        }
        let fs = FellegiSunter::fit(&columns, &candidates, &random);
        assert!((fs.lambda - 0.25).abs() < 0.02, "{}", fs.lambda);
        let p = fs.posteriors(&columns, &candidates);
        assert!(p[0] > 0.99 && p[1] < 0.01, "{} {}", p[0], p[1]);
    }
}
