//! Statistics every stage may use: log-odds, and the logistic regression
//! that turns labeled feature vectors into weights.
//!
//! This is a floor below the pipeline's stages: it knows nothing of
//! records, columns or models.

/// The logistic function: log-odds to probability.
pub fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// Log-odds of a probability (clamped away from 0 and 1).
pub fn logit(p: f64) -> f64 {
    let p = p.clamp(1e-9, 1.0 - 1e-9);
    (p / (1.0 - p)).ln()
}

/// The 95% Wilson score interval of a share: `successes` of `trials`
/// ((0, 1) without trials). Unlike the normal approximation it stays
/// inside [0, 1] and does not shrink to a point at 0 or 1 of a few trials:
/// 11 of 11 gives 0.74–1.
pub fn wilson_interval(successes: usize, trials: usize) -> (f64, f64) {
    if trials == 0 {
        return (0.0, 1.0);
    }
    const Z: f64 = 1.96;
    let n = trials as f64;
    let p = successes as f64 / n;
    let centre = (p + Z * Z / (2.0 * n)) / (1.0 + Z * Z / n);
    let half = Z / (1.0 + Z * Z / n) * (p * (1.0 - p) / n + Z * Z / (4.0 * n * n)).sqrt();
    ((centre - half).max(0.0), (centre + half).min(1.0))
}

/// A logistic regression problem: rows of features with a 0/1 outcome, a
/// weight and a fixed offset to the log-odds each, a Gaussian prior on the
/// coefficients (a mean each and one precision), and which coefficients may
/// not be negative.
pub struct Logistic<'a> {
    /// Number of features per row.
    pub stride: usize,
    /// The rows, back to back.
    pub x: &'a [f32],
    /// Each row's outcome.
    pub y: &'a [bool],
    /// Each row's weight (`None`: all 1).
    pub row_weights: Option<&'a [f64]>,
    /// Each row's log-odds before any coefficient (`None`: all 0).
    pub offsets: Option<&'a [f64]>,
    /// The prior mean of each coefficient (`None`: all 0).
    pub prior: Option<&'a [f64]>,
    /// The prior precision (the L2 penalty toward the prior mean).
    pub penalty: f64,
    /// Whether the intercept takes the penalty too (toward 0); else it
    /// takes only a tiny one, so that separable data stays finite.
    pub penalize_intercept: bool,
    /// Coefficients that must stay at 0 or above (`None`: none).
    pub non_negative: Option<&'a [bool]>,
}

/// Newton steps, at most (a few dozen suffice on every data set seen).
const MAX_STEPS: usize = 100;
/// A tiny penalty on the intercept, so that separable data stays finite.
const INTERCEPT_PENALTY: f64 = 1e-4;

impl Logistic<'_> {
    /// Fit: the coefficients and the intercept that maximize the penalized
    /// likelihood, by projected Newton steps (coefficients at their bound
    /// with a gradient pushing out stay there) with a backtracking line
    /// search. The objective is convex, so the answer does not depend on
    /// the start.
    pub fn fit(&self) -> (Vec<f64>, f64) {
        let p = self.stride;
        let rows = self.y.len();
        let dim = p + 1;
        let prior = |j: usize| self.prior.map_or(0.0, |m| m[j]);
        let bounded = |j: usize| j < p && self.non_negative.is_some_and(|b| b[j]);
        let row_weight = |i: usize| self.row_weights.map_or(1.0, |w| w[i]);
        let offset = |i: usize| self.offsets.map_or(0.0, |o| o[i]);
        let intercept_penalty = if self.penalize_intercept { self.penalty } else { INTERCEPT_PENALTY };
        // Start at the prior mean (clamped to the bounds), intercept 0.
        let mut beta: Vec<f64> = (0..dim)
            .map(|j| {
                if j == p {
                    0.0
                } else if bounded(j) {
                    prior(j).max(0.0)
                } else {
                    prior(j)
                }
            })
            .collect();
        let z_of = |beta: &[f64], i: usize| -> f64 {
            let row = &self.x[i * p..(i + 1) * p];
            offset(i) + beta[p] + row.iter().zip(beta).map(|(&x, w)| x as f64 * w).sum::<f64>()
        };
        let objective = |beta: &[f64]| -> f64 {
            let mut loss = 0.0;
            for i in 0..rows {
                let z = z_of(beta, i);
                // log(1 + e^z) - y z, computed stably.
                let softplus = if z > 0.0 { z + (-z).exp().ln_1p() } else { z.exp().ln_1p() };
                loss += row_weight(i) * (softplus - if self.y[i] { z } else { 0.0 });
            }
            let penalty: f64 = (0..p).map(|j| (beta[j] - prior(j)).powi(2)).sum::<f64>() * self.penalty / 2.0;
            loss + penalty + intercept_penalty / 2.0 * beta[p].powi(2)
        };
        let mut current = objective(&beta);
        for _ in 0..MAX_STEPS {
            let mut grad = vec![0.0f64; dim];
            let mut hess = vec![0.0f64; dim * dim];
            for i in 0..rows {
                let z = z_of(&beta, i);
                let prob = sigmoid(z);
                let w = row_weight(i);
                let r = w * (prob - if self.y[i] { 1.0 } else { 0.0 });
                let h = w * prob * (1.0 - prob);
                let row = &self.x[i * p..(i + 1) * p];
                for j in 0..dim {
                    let xj = if j == p { 1.0 } else { row[j] as f64 };
                    if xj == 0.0 {
                        continue;
                    }
                    grad[j] += r * xj;
                    let hx = h * xj;
                    for k in j..dim {
                        let xk = if k == p { 1.0 } else { row[k] as f64 };
                        hess[j * dim + k] += hx * xk;
                    }
                }
            }
            for j in 0..dim {
                for k in 0..j {
                    hess[j * dim + k] = hess[k * dim + j];
                }
                let penalty = if j == p { intercept_penalty } else { self.penalty };
                grad[j] += penalty * (beta[j] - if j == p { 0.0 } else { prior(j) });
                hess[j * dim + j] += penalty + 1e-9;
            }
            // Coefficients held at their bound by the gradient do not move.
            let free: Vec<usize> =
                (0..dim).filter(|&j| !(bounded(j) && beta[j] <= 0.0 && grad[j] > 0.0)).collect();
            let sub: Vec<f64> = free
                .iter()
                .flat_map(|&j| free.iter().map(move |&k| (j, k)))
                .map(|(j, k)| hess[j * dim + k])
                .collect();
            let rhs: Vec<f64> = free.iter().map(|&j| -grad[j]).collect();
            let Some(step) = solve(&sub, &rhs) else { break };
            let mut scale = 1.0;
            let mut improved = false;
            let mut next = beta.clone();
            for _ in 0..30 {
                next.copy_from_slice(&beta);
                for (&j, &d) in free.iter().zip(&step) {
                    next[j] += scale * d;
                    if bounded(j) && next[j] < 0.0 {
                        next[j] = 0.0;
                    }
                }
                let value = objective(&next);
                if value <= current {
                    improved = current - value > 1e-10 * current.abs().max(1.0);
                    current = value;
                    beta.copy_from_slice(&next);
                    break;
                }
                scale /= 2.0;
            }
            if !improved {
                break;
            }
        }
        let intercept = beta[p];
        beta.truncate(p);
        (beta, intercept)
    }
}

/// Solve the symmetric positive definite system `a x = b` by Cholesky;
/// `None` when it is not positive definite.
fn solve(a: &[f64], b: &[f64]) -> Option<Vec<f64>> {
    let n = b.len();
    let mut l = vec![0.0f64; n * n];
    for i in 0..n {
        for j in 0..=i {
            let mut sum = a[i * n + j];
            for k in 0..j {
                sum -= l[i * n + k] * l[j * n + k];
            }
            if i == j {
                if sum <= 0.0 {
                    return None;
                }
                l[i * n + i] = sum.sqrt();
            } else {
                l[i * n + j] = sum / l[j * n + j];
            }
        }
    }
    let mut y = vec![0.0f64; n];
    for i in 0..n {
        let sum: f64 = (0..i).map(|k| l[i * n + k] * y[k]).sum();
        y[i] = (b[i] - sum) / l[i * n + i];
    }
    let mut x = vec![0.0f64; n];
    for i in (0..n).rev() {
        let sum: f64 = (i + 1..n).map(|k| l[k * n + i] * x[k]).sum();
        x[i] = (y[i] - sum) / l[i * n + i];
    }
    Some(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wilson_intervals_are_wide_on_few_trials_and_narrow_on_many() {
        let close = |(a, b): (f64, f64), (x, y): (f64, f64)| (a - x).abs() < 0.005 && (b - y).abs() < 0.005;
        assert!(close(wilson_interval(9, 11), (0.523, 0.949)), "{:?}", wilson_interval(9, 11));
        assert!(close(wilson_interval(11, 11), (0.741, 1.0)), "{:?}", wilson_interval(11, 11));
        assert!(close(wilson_interval(0, 11), (0.0, 0.259)), "{:?}", wilson_interval(0, 11));
        let (lo, hi) = wilson_interval(990, 1000);
        assert!(lo > 0.98 && hi < 0.996, "{lo} {hi}");
        assert_eq!(wilson_interval(0, 0), (0.0, 1.0));
    }

    fn problem(x: &[f32], y: &[bool], stride: usize) -> Logistic<'static> {
        let x: &'static [f32] = Box::leak(x.to_vec().into_boxed_slice());
        let y: &'static [bool] = Box::leak(y.to_vec().into_boxed_slice());
        Logistic {
            stride,
            x,
            y,
            row_weights: None,
            offsets: None,
            prior: None,
            penalty: 0.01,
            penalize_intercept: false,
            non_negative: None,
        }
    }

    #[test]
    fn recovers_a_known_model() {
        // y = 1 with probability sigmoid(2 x0 - 1 x1 - 0.5), from a grid.
        let (mut x, mut y) = (Vec::new(), Vec::new());
        for i in 0..40 {
            for j in 0..40 {
                let (a, b) = (i as f32 / 20.0 - 1.0, j as f32 / 20.0 - 1.0);
                let p = sigmoid(2.0 * a as f64 - b as f64 - 0.5);
                // Deterministic "sampling": 20 copies with round(p * 20) positives.
                let pos = (p * 20.0).round() as usize;
                for k in 0..20 {
                    x.extend([a, b]);
                    y.push(k < pos);
                }
            }
        }
        let (w, b) = problem(&x, &y, 2).fit();
        assert!((w[0] - 2.0).abs() < 0.1 && (w[1] + 1.0).abs() < 0.1 && (b + 0.5).abs() < 0.1, "{w:?} {b}");
    }

    #[test]
    fn bounds_and_prior_hold() {
        // Feature 0 predicts non-matches, but may not weigh against one.
        let x = [1.0, 0.0, 1.0, 1.0, 0.0, 1.0, 0.0, 0.0];
        let y = [false, true, false, true];
        let mut lr = problem(&x, &y, 2);
        lr.non_negative = Some(&[true, false]);
        let (w, _) = lr.fit();
        assert_eq!(w[0], 0.0);
        // A strong prior keeps a coefficient near its mean.
        let prior = [3.0, 0.0];
        lr.non_negative = None;
        lr.prior = Some(&prior);
        lr.penalty = 1e4;
        let (w, _) = lr.fit();
        assert!((w[0] - 3.0).abs() < 0.01, "{w:?}");
    }
}
