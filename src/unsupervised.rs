//! Learning without labels: a Fellegi–Sunter model fitted by
//! expectation-maximization, whose weights are a first
//! [`MatchModel`](crate::MatchModel)'s.
//!
//! Each column's agreement on a pair is graded into levels
//! ([`ColumnLevels`]). A Fellegi–Sunter model says how likely each level
//! is among matches (`m`) and among non-matches (`u`), and how common
//! matches are among candidates (`λ`); an exact agreement adds its `tf`
//! (rarer values say more). `u` starts from counts on random record pairs
//! (nearly all non-matches) and `m` from "matches mostly agree", which
//! fixes which class is which; EM then fits all three on the candidate
//! pairs. (Holding `u` at the random-pair counts on the candidates fails:
//! they agree on their blocking keys far more than random pairs do, so EM
//! calls nearly all of them matches. On a rule's own pairs, below, it
//! holds.)
//!
//! Each M-step keeps every column's likelihood ratio `m / u` from falling
//! as agreement rises (pool-adjacent-violators). Without it, EM is free to
//! find whatever structure explains the candidates best, which need not be
//! identity: on Walmart-Amazon its "match" class was "same dimensions,
//! different title". A missing value says nothing (its factor is 1).
//!
//! EM first weighs only the identifying columns (those random pairs seldom
//! agree on exactly: names, titles, dates of birth), leaving out those
//! distinct entities share (a household's address, phone, e-mail) while
//! two of the entity's own remain; then all. If weighing all makes
//! matches mostly of pairs the first fit was sure were not, or makes an
//! identifying column no evidence, EM has found another class ("same
//! genre" on CDDB, "same household" on customers, "stayed" rather than
//! "moved" on people with a dozen records each), and the first fit
//! stands. The first fit starts from two points and keeps the likelier,
//! as EM stops at the nearest fixed point.
//!
//! EM on the candidates alone can settle on another class when the data
//! grows: on 140,668 generated customers with households the first fit
//! called 84 % of the candidates matches ("agrees on anything"), from every
//! start, for F1 0.23 (at 10k records: 0.93). So the first columns' `m` is
//! also learned the way Splink learns it, from pairs that are not the
//! candidates: pairs drawn from all those agreeing exactly on one or two
//! of the most identifying columns (a rule), where EM with `u` held at the
//! random pairs' counts estimates the `m` of the first columns the rule
//! leaves out ([`FellegiSunter::anchored_m`]). EM on the candidates with
//! those `m` held then says how many of them match. When the free fit
//! calls more than [`TOO_MANY`] times as many, it has found another class:
//! the anchored fit stands, and the other columns are weighed by its
//! matches. Where the free fit holds, the two agree (within 8 % on the
//! public sets) and the free one, the sharper, stays: on 10k customers
//! 0.93 against the anchored fit's 0.88.
//!
//! Columns are weighed as if independent, and among distinct entities some
//! are not: two people of one household agree on the street, and so on the
//! town, postcode and state, and often the surname; each agreement added
//! its weight, and together they outweighed a different first name and
//! date of birth. So once fitted, a column that another implies among the
//! candidates the model is sure are not matches ([`described`]) weighs
//! nothing: on 141k generated customers with households F1 without labels
//! rose from 0.932 to 0.965; on the public sets none fell (CDDB, whose
//! genre is described, 0.579 to 0.627; IMDb-TMDb, years, 0.844 to 0.845).
//!
//! Where links are one to one, a record has at most one match: each
//! E-step scales the posteriors of a record's pairs to sum to at most 1.
//! Without it, on Walmart-Amazon EM called a quarter of the candidates
//! matches (each Walmart offer's look-alikes of one brand), where at most
//! one in forty can be.

use rayon::prelude::*;
use rustc_hash::FxHashMap;

use crate::compare::{ColumnLevels, FeatureMatrix};
use crate::record::CandidatePair;
use crate::stats::sigmoid;

/// Level code of a missing value.
const MISSING: u8 = u8::MAX;
/// EM stops after this many rounds, or earlier when λ settles.
const MAX_ROUNDS: usize = 100;
/// A column whose values agree exactly on fewer random record pairs than
/// this identifies records (a name, a title, a phone); one more common
/// (a genre, a year, a state) only describes them.
const IDENTIFYING: f64 = 0.02;
/// A pair the first fit gives a lower match probability than this it
/// was sure of.
const SURELY_NOT: f64 = 0.01;
/// Weighing all columns may make matches of pairs the first fit was sure
/// were not for at most this share of the matches.
const OVERTURNED: f64 = 0.5;
/// EM's starting points: how many times as likely among matches each
/// agreement level is as the one below.
const STARTS: [f64; 2] = [2.0, 4.0];
/// The free first fit has found another class when it calls this many
/// times as many candidates matches as the anchored fit. (Where both
/// hold, on the public sets, they agree within 8 %.)
const TOO_MANY: f64 = 1.15;
/// Rules pair the first columns that random pairs agree on least, of at
/// most this many.
const RULE_COLUMNS: usize = 3;
/// A rule with fewer agreeing pairs than this teaches nothing.
const MIN_RULE_PAIRS: usize = 100;
/// A column whose exact agreement is this many times as common among
/// random pairs agreeing on another as among all random pairs (a city's
/// state) is implied by that other, and no evidence in its rule.
const IMPLIED_LIFT: f64 = 10.0;
/// Fewer random pairs agreeing on a column than this say nothing of what
/// it implies.
const IMPLIED_EVIDENCE: usize = 30;

/// Weighing all columns keeps at least this share of each identifying
/// column's [`FellegiSunter::spread`] (one nat or more in the first fit),
/// or the first fit stands. (On the public sets the least kept is 0.30,
/// fake_1000's names; where EM over all columns split "moved" from
/// "stayed", 0.)
const SPREAD_KEPT: f64 = 0.1;

/// What an EM run keeps as it is.
#[derive(Clone, Copy)]
enum Hold<'a> {
    /// Nothing: `m`, `u` and λ are all fitted.
    Nothing,
    /// `u` (the random pairs' counts).
    U,
    /// The `m` of the columns marked.
    M(&'a [bool]),
}

/// A fitted Fellegi–Sunter model.
#[derive(Clone, Debug)]
pub struct FellegiSunter {
    /// Share of candidate pairs that match.
    pub lambda: f64,
    /// Per column, P(level | match), level 0 (disagree) first.
    pub m: Vec<Vec<f64>>,
    /// Per column, P(level | non-match).
    pub u: Vec<Vec<f64>>,
    /// Per column, the factor on its disagreement's log ratio: below 1
    /// where columns disagree together (see [`Self::together`]).
    pub disagreement_scale: Vec<f64>,
    /// Per column, whether another column implies it among pairs of
    /// distinct entities ([`described`]): it weighs nothing.
    pub described: Vec<bool>,
}

/// The agreement levels of every row of `x`, row-major, one byte per
/// column ([`MISSING`] when missing), and the rows' summed `tf` values.
/// `tf` sums only the columns `counted`.
fn levels(columns: &[ColumnLevels], x: &FeatureMatrix, counted: &[bool]) -> (Vec<u8>, Vec<f64>) {
    let mut out = Vec::with_capacity(x.rows() * columns.len());
    let mut tf = Vec::with_capacity(x.rows());
    for r in 0..x.rows() {
        let row = x.row(r);
        let mut sum = 0.0;
        for (c, &counted) in columns.iter().zip(counted) {
            let level = c.level(row);
            out.push(level.unwrap_or(MISSING));
            if counted && level.is_some_and(|l| l > 0) {
                sum += c.tf_value(row) as f64;
            }
        }
        tf.push(sum);
    }
    (out, tf)
}

/// Level frequencies of each column: `counts` to start from (add-one
/// smoothing, [`ones`], so that no level has probability 0), plus each
/// row's `weight` for a column's level where it is not missing.
fn frequencies(
    levels: &[u8],
    mut counts: Vec<Vec<f64>>,
    weight: impl Fn(usize, usize) -> f64,
) -> Vec<Vec<f64>> {
    let width = counts.len();
    for (r, row) in levels.chunks(width).enumerate() {
        for (c, &l) in row.iter().enumerate() {
            if l != MISSING {
                counts[c][l as usize] += weight(r, c);
            }
        }
    }
    for c in &mut counts {
        let total: f64 = c.iter().sum();
        c.iter_mut().for_each(|v| *v /= total);
    }
    counts
}

/// One count per level of each column.
fn ones(columns: &[ColumnLevels]) -> Vec<Vec<f64>> {
    columns.iter().map(|c| vec![1.0; c.levels + 1]).collect()
}

/// The starting `m` of a column weighs as this many pairs in each M-step.
const PRIOR_PAIRS: f64 = 20.0;

/// Make the likelihood ratios `m[l] / u[l]` non-decreasing in the level
/// (more agreement is never less evidence of a match): adjacent levels
/// that break the order are pooled (pool-adjacent-violators), each level
/// of a pool taking the pool's ratio, so that `m` keeps its total.
fn monotone_ratios(m: &mut [f64], u: &[f64]) {
    // Pools as (first level, m total, u total).
    let mut pools: Vec<(usize, f64, f64)> = Vec::new();
    for l in 0..m.len() {
        pools.push((l, m[l], u[l]));
        while pools.len() > 1 {
            let (_, mb, ub) = pools[pools.len() - 1];
            let (_, ma, ua) = pools[pools.len() - 2];
            if ma / ua <= mb / ub {
                break;
            }
            pools.pop();
            let last = pools.len() - 1;
            pools[last].1 += mb;
            pools[last].2 += ub;
        }
    }
    for (i, &(first, mt, ut)) in pools.iter().enumerate() {
        let end = pools.get(i + 1).map_or(m.len(), |p| p.0);
        for l in first..end {
            m[l] = u[l] * mt / ut;
        }
    }
}

/// Where links are one to one a record has at most one match among its
/// candidates: [`OneEach::apply`] scales the match posteriors of a
/// record's pairs so that their sum is at most 1 (a pair takes the smaller
/// factor of its two records). A record whose candidates are look-alikes
/// of one family (one brand's products) then adds at most one match's
/// worth to `m`, not one per look-alike.
struct OneEach {
    /// Per pair, its two records as dense indices.
    ends: Vec<(usize, usize)>,
    /// Number of distinct records.
    records: usize,
}

impl OneEach {
    /// The records of `pairs`, numbered once for every E-step.
    fn new(pairs: &[CandidatePair]) -> OneEach {
        let mut index: FxHashMap<u32, usize> = FxHashMap::default();
        let mut dense = |r: u32| {
            let next = index.len();
            *index.entry(r).or_insert(next)
        };
        let ends = pairs.iter().map(|p| (dense(p.a), dense(p.b))).collect();
        OneEach { ends, records: index.len() }
    }

    /// Scale `posterior` (one per pair) so each record's sum is at most 1.
    fn apply(&self, posterior: &mut [f64]) {
        let mut sum = vec![0.0f64; self.records];
        for (&(a, b), &v) in self.ends.iter().zip(posterior.iter()) {
            sum[a] += v;
            sum[b] += v;
        }
        let factor = |r: usize| 1.0 / sum[r].max(1.0);
        for (&(a, b), v) in self.ends.iter().zip(posterior.iter_mut()) {
            *v *= factor(a).min(factor(b));
        }
    }
}

/// A starting `m` saying "matches mostly agree exactly": each level
/// `ratio` times as likely as the one below.
fn start_m(columns: &[ColumnLevels], ratio: f64) -> Vec<Vec<f64>> {
    columns
        .iter()
        .map(|c| {
            let raw: Vec<f64> = (0..=c.levels).map(|l| ratio.powi(l as i32)).collect();
            let total: f64 = raw.iter().sum();
            raw.into_iter().map(|v| v / total).collect()
        })
        .collect()
}

/// Whether `level` (of `column`, as [`levels`] gives it) is exact agreement.
fn exact(column: &ColumnLevels, level: u8) -> bool {
    level != MISSING && level as usize == column.levels
}

/// Per column `a`, the columns `a` implies: those agreeing exactly far
/// more often ([`IMPLIED_LIFT`] times, and on over `min_share` of them)
/// among the pairs `among` that agree exactly on `a` than among random
/// pairs (`base`: [`agreement_rates`]), as a town implies its state.
/// `counts(row, a, c)` says whether a pair agreeing on `a` counts for `c`.
/// (Rows are pairs' levels, as [`levels`] gives them.)
fn implied<'r>(
    columns: &[ColumnLevels],
    base: &[f64],
    among: impl Iterator<Item = &'r [u8]>,
    counts: impl Fn(&[u8], usize, usize) -> bool,
    min_share: f64,
) -> Vec<Vec<bool>> {
    let width = columns.len();
    let exact = |c: usize, l: u8| exact(&columns[c], l);
    // [a][c]: pairs agreeing on `a` that count for `c`, and those of them
    // agreeing on `c` too.
    let mut given = vec![vec![0usize; width]; width];
    let mut both = vec![vec![0usize; width]; width];
    for row in among {
        for a in (0..width).filter(|&a| exact(a, row[a])) {
            for c in (0..width).filter(|&c| c != a && counts(row, a, c)) {
                given[a][c] += 1;
                both[a][c] += usize::from(exact(c, row[c]));
            }
        }
    }
    (0..width)
        .map(|a| {
            (0..width)
                .map(|c| {
                    let share = both[a][c] as f64 / given[a][c].max(1) as f64;
                    given[a][c] >= IMPLIED_EVIDENCE && share > min_share && share > IMPLIED_LIFT * base[c]
                })
                .collect()
        })
        .collect()
}

/// Per column, the share of random pairs (levels `random`) with both
/// values that agree exactly.
fn agreement_rates(columns: &[ColumnLevels], random: &[u8]) -> Vec<f64> {
    let width = columns.len().max(1);
    (0..columns.len())
        .map(|c| {
            let rows = || random.chunks(width);
            let present = rows().filter(|row| row[c] != MISSING).count();
            let agree = rows().filter(|row| exact(&columns[c], row[c])).count();
            (agree as f64 / present.max(1) as f64).max(1e-6)
        })
        .collect()
}

/// Per column `a`, the columns `a` implies among random pairs (see
/// [`implied`]). Pairs agreeing on two columns besides the two are left
/// out of the count: they may be matches (on a small table many random
/// pairs are), and matches agree on everything.
fn implied_at_random(columns: &[ColumnLevels], random: &[u8], rate: &[f64]) -> Vec<Vec<bool>> {
    let width = columns.len().max(1);
    let counts = |row: &[u8], a: usize, c: usize| {
        let others = (0..row.len()).filter(|&o| o != a && o != c && exact(&columns[o], row[o])).count();
        others < 2
    };
    implied(columns, rate, random.chunks(width), counts, 0.2)
}

/// Per column, whether another column implies it among the candidate
/// pairs (levels `observed`) a model is sure are not matches (`posterior`
/// below [`SURELY_NOT`]): those two distinct entities share, a household's
/// address, its town, postcode and state, and often its surname. Such a
/// column's agreement is no evidence of its own where the other agrees,
/// and counted besides it, it would count one fact twice: on customers
/// with households, the town and postcode outweighed a different first
/// name and date of birth. Of two columns that imply each other, the one
/// random pairs agree on less often is the evidence and the other is
/// described. Weighing a column at nothing asks more than leaving it out
/// of a rule's count ([`implied_at_random`]): it must agree on over half
/// of the pairs (at a fifth, F1 without labels on 141k generated customers
/// with households fell from 0.965 to 0.953).
fn described(columns: &[ColumnLevels], rate: &[f64], observed: &[u8], posterior: &[f64]) -> Vec<bool> {
    let width = columns.len().max(1);
    let sure_not =
        observed.chunks(width).zip(posterior).filter(|&(_, &p)| p < SURELY_NOT).map(|(row, _)| row);
    let implied = implied(columns, rate, sure_not, |row: &[u8], _, c| row[c] != MISSING, 0.5);
    (0..columns.len())
        .map(|c| {
            (0..columns.len())
                .any(|a| a != c && implied[a][c] && (!implied[c][a] || (rate[a], a) < (rate[c], c)))
        })
        .collect()
}

impl FellegiSunter {
    /// Fit on the feature vectors of `candidates` (blocked pairs) and of
    /// `random` record pairs; `one_to_one`: the candidates' record pairs,
    /// when links are one to one; `agreeing`: the feature vectors of pairs
    /// drawn from all whose values agree exactly on the given columns.
    /// The fitted model then marks the columns it [`described`].
    pub fn fit(
        columns: &[ColumnLevels],
        candidates: &FeatureMatrix,
        random: &FeatureMatrix,
        one_to_one: Option<&[CandidatePair]>,
        agreeing: &dyn Fn(&[usize]) -> FeatureMatrix,
    ) -> FellegiSunter {
        let all = vec![true; columns.len()];
        let random = levels(columns, random, &all).0;
        let rate = agreement_rates(columns, &random);
        let observed = levels(columns, candidates, &all);
        let mut model =
            FellegiSunter::fit_em(columns, candidates, &observed, &random, &rate, one_to_one, agreeing);
        let (observed, tf) = observed;
        let posterior: Vec<f64> = observed
            .chunks(columns.len().max(1))
            .zip(&tf)
            .map(|(row, &tf)| model.posterior_of(row, tf, &all))
            .collect();
        model.described = described(columns, &rate, &observed, &posterior);
        model
    }

    /// EM, as the module documentation tells: the first columns, then all
    /// (`levelled`: the candidates' [`levels`] over all columns; `random`:
    /// the random pairs' levels, `rate` their [`agreement_rates`]).
    fn fit_em(
        columns: &[ColumnLevels],
        candidates: &FeatureMatrix,
        levelled: &(Vec<u8>, Vec<f64>),
        random: &[u8],
        rate: &[f64],
        one_to_one: Option<&[CandidatePair]>,
        agreeing: &dyn Fn(&[usize]) -> FeatureMatrix,
    ) -> FellegiSunter {
        let width = columns.len();
        let all = vec![true; width];
        let u = frequencies(random, ones(columns), |_, _| 1.0);
        // Only columns whose exact agreement is rare among random pairs
        // say who is who; EM finds the matches with them alone, or it may
        // take a class such as "same genre, category and year" (CDDB) for
        // the matches. The others are weighed once the matches are found.
        let identifying: Vec<bool> = u.iter().map(|u| u[u.len() - 1] < IDENTIFYING).collect();
        let identifying = if identifying.contains(&true) { identifying } else { all.clone() };
        // Of those, a value distinct entities share (a household's
        // address, phone, e-mail) says "same place", and with it EM takes
        // households for the matches; it waits too, when at least two
        // columns of the entity's own remain to find them.
        let own: Vec<bool> = identifying.iter().zip(columns).map(|(&i, c)| i && !c.shared).collect();
        let first = if own.iter().filter(|&&o| o).count() >= 2 { own } else { identifying };
        let one_each = one_to_one.map(OneEach::new);
        let one_each = one_each.as_ref();
        let (observed, tf) = levels(columns, candidates, &first);
        let free = FellegiSunter::best_start(columns, &u, &observed, &tf, &first, one_each, Hold::Nothing);
        let anchored = FellegiSunter::anchored_m(columns, &u, &first, random, rate, agreeing).map(|m| {
            let mut model = FellegiSunter {
                lambda: 0.1,
                m,
                u: u.clone(),
                disagreement_scale: vec![1.0; width],
                described: vec![false; width],
            };
            model.em(columns, &observed, &tf, &first, one_each, Hold::M(&first));
            model
        });
        let (mut model, anchored) = match anchored {
            Some(anchored) if free.lambda > TOO_MANY * anchored.lambda => (anchored, true),
            _ => (free, false),
        };
        if first == all {
            return model;
        }
        // The other columns may decide the pairs the first ones left open,
        // not overturn what they decided: when most of what EM with them
        // calls matches are pairs the first fit was sure were not, it has
        // found another class (on CDDB "same genre", on customers "same
        // household"). The first fit then stands, and the other columns
        // are weighed by the matches it found. Whichever stands, the other
        // columns' disagreements are weighed together: on customers, a
        // move changes address, phone, postcode and state at once.
        let mut decided: Vec<f64> =
            observed.chunks(width).zip(&tf).map(|(row, &tf)| model.posterior_of(row, tf, &first)).collect();
        if let Some(one_each) = one_each {
            one_each.apply(&mut decided);
        }
        let (observed, tf) = (levelled.0.as_slice(), levelled.1.as_slice());
        let rest: Vec<usize> = (0..width).filter(|&c| !first[c]).collect();
        if !anchored {
            let found = model.clone();
            model.em(columns, observed, tf, &all, one_each, Hold::Nothing);
            let overturned: f64 = observed
                .chunks(width)
                .zip(tf)
                .zip(&decided)
                .filter(|&(_, &p)| p < SURELY_NOT)
                .map(|((row, &tf), _)| model.posterior_of(row, tf, &all))
                .sum();
            // Nor may they make an identifying column no evidence: on
            // people with a dozen records each, EM over all columns split
            // "moved" from "stayed" and weighed names at nothing.
            let kept = (0..width)
                .filter(|&c| first[c])
                .all(|c| model.spread(c) >= SPREAD_KEPT * found.spread(c) || found.spread(c) < 1.0);
            if kept && overturned <= OVERTURNED * model.lambda * decided.len() as f64 {
                model.together(observed, &decided, &rest);
                return model;
            }
            model = found;
        }
        let prior = model.prior(columns, &all);
        let present = FellegiSunter::present(observed, &all);
        model.m_step(columns, observed, &decided, &all, &present, &prior, Hold::Nothing);
        model.together(observed, &decided, &rest);
        model
    }

    /// The `m` of the first columns learned from pairs that are not the
    /// candidates, as Splink learns it. A rule pairs two of the
    /// [`RULE_COLUMNS`] first columns random pairs agree on least, or with
    /// three first columns takes each alone, so that two first columns
    /// are left to learn from (with `u` held, two are enough to tell
    /// matches apart; one is not). `agreeing` draws pairs from all that
    /// agree exactly on a rule's columns; EM on them with `u` held at `u`
    /// (the random pairs') estimates the `m` of the other first columns,
    /// save those the rule implies (see [`implied`]; `random`: the random
    /// pairs' levels). A
    /// column's `m` is the mean over the rules that estimate it; the other
    /// columns keep a starting `m`. `None` with fewer than three first
    /// columns, or when one is estimated by no rule (too few pairs agree:
    /// small tables).
    fn anchored_m(
        columns: &[ColumnLevels],
        u: &[Vec<f64>],
        first: &[bool],
        random: &[u8],
        rate: &[f64],
        agreeing: &dyn Fn(&[usize]) -> FeatureMatrix,
    ) -> Option<Vec<Vec<f64>>> {
        let width = columns.len();
        let agreement = |c: usize| u[c][u[c].len() - 1];
        let mut ranked: Vec<usize> = (0..width).filter(|&c| first[c]).collect();
        ranked.sort_by(|&a, &b| agreement(a).total_cmp(&agreement(b)));
        ranked.truncate(RULE_COLUMNS);
        ranked.sort_unstable();
        let firsts = first.iter().filter(|&&f| f).count();
        let rules: Vec<Vec<usize>> = match ranked[..] {
            [a, b, c] if firsts == 3 => vec![vec![a], vec![b], vec![c]],
            [a, b, c] => vec![vec![a, b], vec![a, c], vec![b, c]],
            _ => return None,
        };
        let implied = implied_at_random(columns, random, rate);
        let mut m = start_m(columns, STARTS[1]);
        let mut sum: Vec<Vec<f64>> = columns.iter().map(|c| vec![0.0; c.levels + 1]).collect();
        let mut estimates = vec![0usize; width];
        for rule in &rules {
            let pairs = agreeing(rule);
            let counted: Vec<bool> = (0..width)
                .map(|c| first[c] && !rule.contains(&c) && !rule.iter().any(|&a| implied[a][c]))
                .collect();
            if pairs.rows() < MIN_RULE_PAIRS || counted.iter().filter(|&&c| c).count() < 2 {
                continue;
            }
            let (observed, tf) = levels(columns, &pairs, &counted);
            let fit = FellegiSunter::best_start(columns, u, &observed, &tf, &counted, None, Hold::U);
            for c in (0..width).filter(|&c| counted[c]) {
                sum[c].iter_mut().zip(&fit.m[c]).for_each(|(s, v)| *s += v);
                estimates[c] += 1;
            }
        }
        for c in (0..width).filter(|&c| first[c]) {
            if estimates[c] == 0 {
                return None;
            }
            m[c] = sum[c].iter().map(|s| s / estimates[c] as f64).collect();
            monotone_ratios(&mut m[c], &u[c]);
        }
        Some(m)
    }

    /// EM on the columns `counted` from each of [`STARTS`], keeping the
    /// fit that explains the candidates best (highest likelihood). EM
    /// climbs to the nearest fixed point, and with households among the
    /// candidates "same surname and town" is one near the start too.
    fn best_start(
        columns: &[ColumnLevels],
        u: &[Vec<f64>],
        observed: &[u8],
        tf: &[f64],
        counted: &[bool],
        one_each: Option<&OneEach>,
        hold: Hold,
    ) -> FellegiSunter {
        // In parallel: EM is the whole cost of training without labels.
        let fits = STARTS.par_iter().map(|&ratio| {
            let m = start_m(columns, ratio);
            let mut model = FellegiSunter {
                lambda: 0.1,
                m,
                u: u.to_vec(),
                disagreement_scale: vec![1.0; columns.len()],
                described: vec![false; columns.len()],
            };
            model.em(columns, observed, tf, counted, one_each, hold);
            (model.log_likelihood(observed, tf, counted), model)
        });
        let best = fits.max_by(|a, b| a.0.total_cmp(&b.0)).map(|(_, model)| model);
        best.expect("STARTS is not empty")
    }

    /// EM rounds on the candidates' `observed` levels (and `tf` sums),
    /// weighing the columns `counted`, until λ settles; what `hold`
    /// says stays as it is.
    fn em(
        &mut self,
        columns: &[ColumnLevels],
        observed: &[u8],
        tf: &[f64],
        counted: &[bool],
        one_each: Option<&OneEach>,
        hold: Hold,
    ) {
        let width = columns.len();
        // A column's m is counted over the rows where another counted
        // column is present too. On a row where a column is the only
        // evidence, the posterior it is counted with is its own level's
        // doing, and a mixture of one variable takes any split of its
        // levels for the matches: on IMDb-TMDb, whose people have only a
        // name, EM took the pairs blocking found by similar names for the
        // matches and then gave names no weight at all. The starting m
        // weighs as [`PRIOR_PAIRS`] pairs, so a column never seen with
        // another keeps it. (EM over one column has no other to anchor
        // it: it counts every row.)
        let prior = self.prior(columns, counted);
        let present = FellegiSunter::present(observed, counted);
        for _ in 0..MAX_ROUNDS {
            let mut posterior: Vec<f64> = observed
                .par_chunks(width)
                .zip(tf)
                .map(|(row, &tf)| self.posterior_of(row, tf, counted))
                .collect();
            if let Some(one_each) = one_each {
                one_each.apply(&mut posterior);
            }
            let lambda = self.m_step(columns, observed, &posterior, counted, &present, &prior, hold);
            let settled = (lambda - self.lambda).abs() < 1e-6;
            self.lambda = lambda.clamp(1e-6, 1.0 - 1e-6);
            if settled {
                break;
            }
        }
    }

    /// Fit `m` and `u` of every column to the rows' `posterior`; returns
    /// the share of matches they imply. A column's m is counted only
    /// where another column `counted` is present (each row's count of
    /// them: `present`; see [`Self::em`]). What `hold` says stays.
    #[allow(clippy::too_many_arguments)]
    fn m_step(
        &mut self,
        columns: &[ColumnLevels],
        observed: &[u8],
        posterior: &[f64],
        counted: &[bool],
        present: &[usize],
        prior: &[Vec<f64>],
        hold: Hold,
    ) -> f64 {
        let anchored = counted.iter().filter(|&&c| c).count() > 1;
        let counts_for_m = |r: usize, c: usize| !anchored || present[r] > usize::from(counted[c]);
        let m =
            frequencies(observed, prior.to_vec(), |r, c| if counts_for_m(r, c) { posterior[r] } else { 0.0 });
        if !matches!(hold, Hold::U) {
            self.u = frequencies(observed, ones(columns), |r, _| 1.0 - posterior[r]);
        }
        for (c, (mut m, u)) in m.into_iter().zip(&self.u).enumerate() {
            if let Hold::M(held) = hold {
                if held[c] {
                    continue;
                }
            }
            monotone_ratios(&mut m, u);
            self.m[c] = m;
        }
        posterior.iter().sum::<f64>() / posterior.len().max(1) as f64
    }

    /// How many of the columns `counted` each row of `observed` has.
    fn present(observed: &[u8], counted: &[bool]) -> Vec<usize> {
        observed
            .chunks(counted.len().max(1))
            .map(|row| row.iter().zip(counted).filter(|&(&l, &c)| c && l != MISSING).count())
            .collect()
    }

    /// The pseudo-counts each M-step starts `m` from: the current `m` as
    /// [`PRIOR_PAIRS`] pairs when columns anchor each other, else one per level.
    fn prior(&self, columns: &[ColumnLevels], counted: &[bool]) -> Vec<Vec<f64>> {
        if counted.iter().filter(|&&c| c).count() > 1 {
            self.m.iter().map(|m| m.iter().map(|v| 1.0 + PRIOR_PAIRS * v).collect()).collect()
        } else {
            ones(columns)
        }
    }

    /// Log-likelihood of the candidates' `observed` levels under the
    /// model, weighing the columns `counted` (`tf` as a factor of the
    /// match side, as in [`Self::posterior_of`]).
    fn log_likelihood(&self, observed: &[u8], tf: &[f64], counted: &[bool]) -> f64 {
        let width = self.m.len();
        observed
            .chunks(width)
            .zip(tf)
            .map(|(row, &tf)| {
                let (mut lm, mut lu) = (self.lambda.ln() + tf, (1.0 - self.lambda).ln());
                for ((c, &l), &k) in row.iter().enumerate().zip(counted) {
                    if k && l != MISSING {
                        lm += self.m[c][l as usize].ln();
                        lu += self.u[c][l as usize].ln();
                    }
                }
                let mx = lm.max(lu);
                mx + ((lm - mx).exp() + (lu - mx).exp()).ln()
            })
            .sum()
    }

    /// How far apart column `c`'s exact agreement and its disagreement
    /// put the log odds: how much evidence the column is.
    fn spread(&self, c: usize) -> f64 {
        self.ratio(c, self.m[c].len() - 1) - self.ratio(c, 0)
    }

    /// Log likelihood ratio of column `c` at level `l`.
    fn ratio(&self, c: usize, l: usize) -> f64 {
        let r = (self.m[c][l] / self.u[c][l]).ln();
        if l == 0 {
            r * self.disagreement_scale[c]
        } else {
            r
        }
    }

    fn posterior_of(&self, row: &[u8], tf: f64, counted: &[bool]) -> f64 {
        let mut log_ratio = (self.lambda / (1.0 - self.lambda)).ln() + tf;
        for ((c, &l), &counted) in row.iter().enumerate().zip(counted) {
            if counted && l != MISSING {
                log_ratio += self.ratio(c, l as usize);
            }
        }
        sigmoid(log_ratio)
    }

    /// Columns `group` that disagree together (a move changes address,
    /// postcode and phone at once) are not independent evidence: summed,
    /// their disagreements count one event several times. Their
    /// disagreement log ratios are scaled by the factor that best fits
    /// (least squares over the candidates) the log ratio of each count of
    /// disagreeing columns measured on the matches `posterior` found.
    fn together(&mut self, observed: &[u8], posterior: &[f64], group: &[usize]) {
        let width = self.m.len();
        let k = group.len();
        // Per count of disagreeing columns: match and non-match mass.
        let mut mass = vec![(0.5, 0.5); k + 1];
        for (row, &p) in observed.chunks(width).zip(posterior) {
            if group.iter().all(|&c| row[c] != MISSING) {
                let d = group.iter().filter(|&&c| row[c] == 0).count();
                mass[d].0 += p;
                mass[d].1 += 1.0 - p;
            }
        }
        let (tm, tu) = mass.iter().fold((0.0, 0.0), |a, m| (a.0 + m.0, a.1 + m.1));
        let measured: Vec<f64> = mass.iter().map(|&(m, u)| (m / tm / (u / tu)).ln()).collect();
        let (mut num, mut den) = (0.0, 0.0);
        for row in observed.chunks(width) {
            if group.iter().any(|&c| row[c] == MISSING) {
                continue;
            }
            let (mut dis, mut agree, mut d) = (0.0, 0.0, 0);
            for &c in group {
                let l = row[c] as usize;
                let r = (self.m[c][l] / self.u[c][l]).ln();
                if l == 0 {
                    dis += r;
                    d += 1;
                } else {
                    agree += r;
                }
            }
            num += dis * (measured[d] - agree);
            den += dis * dis;
        }
        if den > 0.0 {
            let scale = (num / den).clamp(0.0, 1.0);
            for &c in group {
                self.disagreement_scale[c] = scale;
            }
        }
    }

    /// P(match) of each row of `x`, as the model's [`weights`](Self::weights)
    /// give it (a described column counts for nothing).
    pub fn posteriors(&self, columns: &[ColumnLevels], x: &FeatureMatrix) -> Vec<f64> {
        let counted: Vec<bool> = self.described.iter().map(|&d| !d).collect();
        let (levels, tf) = levels(columns, x, &counted);
        levels
            .chunks(columns.len().max(1))
            .zip(&tf)
            .map(|(row, &tf)| self.posterior_of(row, tf, &counted))
            .collect()
    }

    /// The model as weights of the comparison features (`stride` of them)
    /// and an intercept: a column's `present` weighs the log ratio of a
    /// disagreement, each level indicator what its level adds to the one
    /// below, `tf` 1; a described column's features and other features 0.
    pub fn weights(
        &self,
        columns: &[ColumnLevels],
        stride: usize,
        swaps: &[(usize, usize, usize)],
    ) -> (Vec<f64>, f64) {
        let mut w = vec![0.0; stride];
        for (c, col) in columns.iter().enumerate() {
            if self.described[c] {
                continue;
            }
            let ratio = |l: usize| self.ratio(c, l);
            w[col.present] = ratio(0);
            for l in 1..=col.levels {
                w[col.present + l] = ratio(l) - ratio(l - 1);
            }
            if let Some(tf) = col.tf {
                w[tf] = 1.0;
            }
        }
        // Names found crosswise agree as if in place: the swap feature
        // takes back what their disagreement cost.
        for &(feature, a, b) in swaps {
            let gain = |c: usize| {
                let top = columns[c].levels;
                self.ratio(c, top) - self.ratio(c, 0)
            };
            w[feature] = (gain(a) + gain(b)).max(0.0);
        }
        (w, (self.lambda / (1.0 - self.lambda)).ln())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// No pairs for any rule, as on a table too small for them.
    fn no_rules(_: &[usize]) -> FeatureMatrix {
        FeatureMatrix { stride: 0, data: Vec::new() }
    }

    /// Yes/no columns (features: present, exact), `shared` as given.
    fn yes_no_columns(shared: &[bool]) -> Vec<ColumnLevels> {
        (0..shared.len())
            .map(|c| ColumnLevels {
                column: format!("c{c}"),
                present: 2 * c,
                levels: 1,
                tf: None,
                shared: shared[c],
            })
            .collect()
    }

    /// Pairs of yes/no columns, each row which columns agree on.
    fn yes_no_pairs<const N: usize>(rows: impl IntoIterator<Item = [bool; N]>) -> FeatureMatrix {
        let mut out = FeatureMatrix { stride: 2 * N, data: Vec::new() };
        for agree in rows {
            out.data.extend(agree.map(|a| [1.0, f32::from(u8::from(a))]).concat());
        }
        out
    }

    /// Three columns of one level each (features: present, exact);
    /// matches agree on all, random pairs rarely. (Three: a latent class
    /// over two yes/no columns is not identified, and EM's answer is then
    /// wherever it started.)
    #[test]
    fn em_separates_matches_from_non_matches() {
        let columns = yes_no_columns(&[false; 3]);
        let candidates = yes_no_pairs((0..2000).map(|i| {
            let m = i % 4 == 0;
            [m, m || i % 7 == 0, m || i % 11 == 0]
        }));
        let random = yes_no_pairs((0..10000).map(|i| [i % 50 == 0, false, i % 90 == 0]));
        let fs = FellegiSunter::fit(&columns, &candidates, &random, None, &no_rules);
        assert!((fs.lambda - 0.25).abs() < 0.06, "{}", fs.lambda);
        let p = fs.posteriors(&columns, &candidates);
        assert!(p[0] > 0.99 && p[1] < 0.01, "{} {}", p[0], p[1]);
        let (w, b) = fs.weights(&columns, 6, &[]);
        assert!(w[0] < 0.0 && w[1] > 0.0 && b < 0.0, "{w:?} {b}");
        // A swap feature (at 6) between columns 0 and 2 gives back what
        // their disagreement cost: a swapped pair scores as one agreeing.
        let (w, _) = fs.weights(&columns, 7, &[(6, 0, 2)]);
        let agreeing = w[1] + w[5];
        assert!(agreeing > 0.0 && (w[6] - agreeing).abs() < 1e-9, "{w:?}");
    }

    /// Five columns: two identifying (random pairs seldom agree on
    /// them, as on a name), three describing (a third of random pairs
    /// agree, as on a genre). Among the candidates a few true matches
    /// agree on the first two and mostly on the others, and many
    /// non-matches agree on the three describing columns (and often on the
    /// second identifying one): the larger class, which EM over all
    /// columns at once takes for the matches.
    #[test]
    fn describing_columns_do_not_redefine_the_matches() {
        let columns = yes_no_columns(&[false; 5]);
        let candidates = yes_no_pairs((0..1000).map(|i| match i % 10 {
            0 => [true, i % 70 != 0, i % 30 != 0, i % 40 != 0, i % 50 != 0],
            1..=6 => [i % 50 == 1, i % 4 == 2, true, true, true],
            _ => [i % 70 == 7, false, i % 3 == 0, i % 2 == 0, i % 5 == 0],
        }));
        let random =
            yes_no_pairs((0..1000).map(|i| [i % 200 == 0, i % 150 == 1, i % 3 == 0, i % 3 == 1, i % 3 == 2]));
        let fs = FellegiSunter::fit(&columns, &candidates, &random, None, &no_rules);
        let p = fs.posteriors(&columns, &candidates);
        let called: Vec<usize> = (0..1000).filter(|&i| p[i] > 0.5).collect();
        let true_matches = called.iter().filter(|&&i| i % 10 == 0).count();
        // EM over all columns at once calls 687 pairs matches.
        assert!(true_matches >= 85 && called.len() <= 300, "{} called, {true_matches} true", called.len());
    }

    /// Two columns, rarely present together, as on a table of films and
    /// people: a title on the film pairs (a fifth match, and agree), a
    /// name of two levels (similar, exact) on the person pairs, where
    /// blocking by sound-alike names made most pairs "similar" and the
    /// few exact ones are the matches. EM with the name's `m` learned
    /// from the person pairs alone called the similar names matches.
    #[test]
    fn a_column_alone_on_its_pairs_keeps_exact_as_the_match_level() {
        let columns = vec![
            ColumnLevels { column: "title".into(), present: 0, levels: 1, tf: None, shared: false },
            ColumnLevels { column: "name".into(), present: 2, levels: 2, tf: None, shared: false },
        ];
        let film = |agree: bool| [1.0, f32::from(u8::from(agree)), 0.0, 0.0, 0.0];
        let person =
            |level: u8| [0.0, 0.0, 1.0, f32::from(u8::from(level >= 1)), f32::from(u8::from(level >= 2))];
        let mut candidates = FeatureMatrix { stride: 5, data: Vec::new() };
        for i in 0..1000 {
            candidates.data.extend(film(i % 5 == 0));
            candidates.data.extend(person(match i % 20 {
                0 => 2,
                1..=12 => 1,
                _ => 0,
            }));
        }
        let mut random = FeatureMatrix { stride: 5, data: Vec::new() };
        for i in 0..1000 {
            random.data.extend(film(i % 100 == 0));
            random.data.extend(person(u8::from(i % 50 == 0)));
        }
        let fs = FellegiSunter::fit(&columns, &candidates, &random, None, &no_rules);
        let p = fs.posteriors(&columns, &candidates);
        let (exact, similar) = (p[1], p[3]);
        assert!(similar < 0.5 && exact > similar * 2.0, "exact {exact}, similar {similar}");
    }

    /// Five yes/no columns, as on customers: first name, date of birth,
    /// surname (the person's own), address and phone (a household's).
    /// Among the candidates a tenth are matches (agree on all, with some
    /// noise), four tenths are two people of one household (agree on
    /// surname, address and mostly phone; not on first name or date of
    /// birth), the rest agree by chance. With the address and phone in
    /// its first fit, EM took the households for the matches.
    #[test]
    fn a_household_is_not_a_match() {
        let columns = yes_no_columns(&[false, false, false, true, true]);
        let candidates = yes_no_pairs((0..2000).map(|i| match i % 10 {
            0 => [i % 70 != 0, i % 90 != 0, true, i % 110 != 0, i % 130 != 0],
            1..=4 => [i % 50 == 1, i % 90 == 1, true, true, i % 3 != 0],
            _ => [i % 7 == 0, i % 60 == 5, i % 5 == 0, i % 11 == 0, i % 13 == 0],
        }));
        let random = yes_no_pairs(
            (0..2000).map(|i| [i % 100 == 0, i % 300 == 1, i % 150 == 2, i % 500 == 3, i % 700 == 4]),
        );
        let fs = FellegiSunter::fit(&columns, &candidates, &random, None, &no_rules);
        let p = fs.posteriors(&columns, &candidates);
        let called = |class: std::ops::RangeInclusive<usize>| {
            (0..2000).filter(|&i| class.contains(&(i % 10)) && p[i] > 0.5).count()
        };
        let (matches, households) = (called(0..=0), called(1..=4));
        // With address and phone in the first fit: 800 of 800 households.
        // (The households called agree on first name too.)
        assert!(
            matches >= 170 && households <= 40,
            "{matches} of 200 matches, {households} of 800 households"
        );
    }

    /// A one-to-one link where each left record's candidates are its
    /// match and four look-alikes of one family (as one brand's products):
    /// they agree on the first two columns as the match does and seldom
    /// on the third. Without "one match per record" EM took half the
    /// pairs for matches.
    #[test]
    fn one_to_one_links_have_one_match_per_record() {
        let columns = yes_no_columns(&[false; 3]);
        let (mut rows, mut pairs) = (Vec::new(), Vec::new());
        for left in 0..400u32 {
            for k in 0..5u32 {
                let i = (left * 5 + k) as usize;
                rows.push(if k == 0 {
                    [!i.is_multiple_of(13), !i.is_multiple_of(17), !i.is_multiple_of(7)]
                } else {
                    [!i.is_multiple_of(4), i % 6 != 1, i.is_multiple_of(9)]
                });
                pairs.push(CandidatePair { a: left, b: 1000 + left * 5 + k });
            }
        }
        let candidates = yes_no_pairs(rows);
        let random = yes_no_pairs((0..2000).map(|i| [i % 100 == 0, i % 80 == 0, i % 120 == 0]));
        let called = |one_to_one: Option<&[CandidatePair]>| {
            let fs = FellegiSunter::fit(&columns, &candidates, &random, one_to_one, &no_rules);
            let p = fs.posteriors(&columns, &candidates);
            let matches = (0..2000).filter(|&i| i % 5 == 0 && p[i] > 0.5).count();
            let others = (0..2000).filter(|&i| i % 5 != 0 && p[i] > 0.5).count();
            (fs.lambda, matches, others)
        };
        let (lambda, matches, others) = called(Some(&pairs));
        // Without: λ 0.52, 342 matches and 178 look-alikes called.
        assert!((0.1..0.3).contains(&lambda), "λ {lambda} (a fifth of the pairs match)");
        assert!(matches >= 250 && others <= 150, "{matches} of 400 matches, {others} look-alikes");
    }

    /// Three place columns (address, postcode, phone) whose disagreements
    /// come together among the matches (a move) are scaled down; three
    /// that disagree independently keep their log ratios.
    #[test]
    fn columns_that_disagree_together_count_once() {
        let scale = |moves: bool| {
            // Matches: a tenth disagree, on all three at once (a move) or
            // each on its own; non-matches mostly disagree everywhere.
            let mut observed = Vec::new();
            let mut posterior = Vec::new();
            for i in 0..3000usize {
                let matched = i % 3 == 0;
                let row: [u8; 3] = if matched && moves {
                    [u8::from(i % 10 != 0); 3]
                } else if matched {
                    [i % 10 != 0, (i / 10) % 10 != 1, (i / 100) % 10 != 2].map(u8::from)
                } else {
                    [i % 9 == 1, i % 11 == 2, i % 13 == 3].map(u8::from)
                };
                observed.extend(row);
                posterior.push(if matched { 1.0 } else { 0.0 });
            }
            let mut fs = FellegiSunter {
                lambda: 1.0 / 3.0,
                m: vec![vec![0.1, 0.9]; 3],
                u: vec![vec![0.9, 0.1]; 3],
                disagreement_scale: vec![1.0; 3],
                described: vec![false; 3],
            };
            fs.together(&observed, &posterior, &[0, 1, 2]);
            fs.disagreement_scale[0]
        };
        let (together, apart) = (scale(true), scale(false));
        assert!(together < 0.6 && apart > 0.8, "together {together}, apart {apart}");
    }

    /// Customers: first name, date of birth, surname (the person's own),
    /// address, postcode and phone (a household's). A third of the
    /// matches moved: the three place columns disagree at once. EM over
    /// all columns stands here (it overturns nothing), and a move still
    /// counts once: a match that moved, with a first name spelt
    /// differently, is a match.
    #[test]
    fn a_move_counts_once_when_all_columns_are_fitted() {
        let columns = yes_no_columns(&[false, false, false, true, true, true]);
        let mut rng = crate::rng::Rng::new(3);
        let candidates = yes_no_pairs((0..6000).map(|i| {
            if i % 4 == 0 {
                let stayed = i % 12 != 0;
                let own = [rng.chance(0.8), rng.chance(0.9), rng.chance(0.9)];
                [own[0], own[1], own[2], stayed && rng.chance(0.95), stayed && rng.chance(0.95), stayed]
            } else {
                let p = [0.05, 0.01, 0.2, 0.02, 0.1, 0.01];
                std::array::from_fn::<bool, 6, _>(|c| rng.chance(p[c]))
            }
        }));
        let random =
            yes_no_pairs((0..6000).map(|i| {
                [i % 100 == 0, i % 300 == 1, i % 150 == 2, i % 500 == 3, i % 200 == 4, i % 700 == 5]
            }));
        let fs = FellegiSunter::fit(&columns, &candidates, &random, None, &no_rules);
        let moved = yes_no_pairs([[false, true, true, false, false, false]]);
        let p = fs.posteriors(&columns, &moved)[0];
        assert!(p > 0.5, "a match that moved: {p}, scales {:?}", fs.disagreement_scale);
    }

    /// Four yes/no columns, as on customers: first name, surname, date of
    /// birth (the person's own) and address (a household's). Matches
    /// agree on each with probability `M`; random pairs seldom.
    const M: [f64; 4] = [0.62, 0.62, 0.75, 0.4];
    const RANDOM: [f64; 4] = [0.004, 0.002, 0.0001, 0.0001];

    /// `n` pairs, each agreeing on column `c` with probability `p(i)[c]`,
    /// and on the columns `rule` always.
    fn drawn(n: usize, seed: u64, rule: &[usize], p: impl Fn(usize) -> [f64; 4]) -> FeatureMatrix {
        let mut rng = crate::rng::Rng::new(seed);
        yes_no_pairs((0..n).map(|i| {
            let p = p(i);
            std::array::from_fn::<bool, 4, _>(|c| rule.contains(&c) || rng.chance(p[c]))
        }))
    }

    /// Pairs agreeing on a rule's columns, drawn from all: 3 % matches.
    fn agreeing(rule: &[usize]) -> FeatureMatrix {
        drawn(20_000, 7 + rule[0] as u64, rule, |i| if i % 100 < 3 { M } else { RANDOM })
    }

    #[test]
    fn rules_recover_what_matches_agree_on() {
        let columns = yes_no_columns(&[false, false, false, true]);
        let random = drawn(100_000, 3, &[], |_| RANDOM);
        // Independent columns: none implies another.
        let random = levels(&columns, &random, &[true; 4]).0;
        let u = frequencies(&random, ones(&columns), |_, _| 1.0);
        let first = [true, true, true, false];
        let rate = agreement_rates(&columns, &random);
        let m = FellegiSunter::anchored_m(&columns, &u, &first, &random, &rate, &agreeing)
            .expect("three first columns");
        for c in 0..3 {
            assert!((m[c][1] - M[c]).abs() < 0.08, "column {c}: m {:.3}, truth {}", m[c][1], M[c]);
        }
        // Without pairs for the rules (a small table), no anchored m.
        assert!(FellegiSunter::anchored_m(&columns, &u, &first, &random, &rate, &no_rules).is_none());
    }

    /// Candidates where free EM finds another class: a fifth are matches,
    /// a fifth households (surname and address), two fifths share a
    /// common first name only, the rest agree on little. EM on them
    /// alone called 39 % of them matches (487 of 800 matches, 851 others);
    /// the rules' `m` holds it to the matches.
    #[test]
    fn a_free_fit_that_finds_another_class_gives_way_to_the_anchored_one() {
        let columns = yes_no_columns(&[false, false, false, true]);
        let candidates = drawn(4000, 5, &[], |i| match i % 100 {
            0..20 => M,
            20..40 => [0.03, 0.95, 0.01, 0.9],
            40..80 => [0.9, 0.02, 0.01, 0.3],
            _ => [0.05, 0.1, 0.02, 0.6],
        });
        let random = drawn(100_000, 3, &[], |_| RANDOM);
        let called = |fs: &FellegiSunter| {
            let p = fs.posteriors(&columns, &candidates);
            let matches = (0..4000).filter(|&i| i % 100 < 20 && p[i] > 0.5).count();
            (matches, (0..4000).filter(|&i| i % 100 >= 20 && p[i] > 0.5).count())
        };
        let (matches, others) = called(&FellegiSunter::fit(&columns, &candidates, &random, None, &no_rules));
        assert!(others > 400, "free EM alone: {matches} of 800 matches, {others} others");
        let fs = FellegiSunter::fit(&columns, &candidates, &random, None, &agreeing);
        let (matches, others) = called(&fs);
        assert!(matches >= 560 && others <= 100, "{matches} of 800 matches, {others} others");
        assert!((0.1..0.3).contains(&fs.lambda), "λ {}", fs.lambda);
    }

    #[test]
    fn a_column_distinct_entities_share_with_another_is_described() {
        // Columns: first name, postcode, town.
        let columns = yes_no_columns(&[false; 3]);
        let mut rng = crate::rng::Rng::new(3);
        let random =
            yes_no_pairs((0..100_000).map(|_| [rng.chance(0.004), rng.chance(0.0005), rng.chance(0.002)]));
        // Neighbours (one postcode, so one town) and namesakes elsewhere,
        // a tenth of them in one town.
        let candidates = yes_no_pairs((0..1000).map(|i| {
            if i % 2 == 0 {
                [false, true, true]
            } else {
                [true, false, i % 10 == 1]
            }
        }));
        let all = [true; 3];
        let (random, observed) = (levels(&columns, &random, &all).0, levels(&columns, &candidates, &all).0);
        let rate = agreement_rates(&columns, &random);
        // Postcode and town imply each other among pairs the model is sure
        // are of two people; the rarer agreement, the postcode, is the
        // evidence.
        assert_eq!(described(&columns, &rate, &observed, &[0.001; 1000]), [false, false, true]);
        // Among pairs it takes for matches, agreeing together is no sign.
        assert_eq!(described(&columns, &rate, &observed, &[0.9; 1000]), [false; 3]);
    }

    #[test]
    fn a_described_column_weighs_nothing() {
        let columns = yes_no_columns(&[false; 2]);
        let fs = FellegiSunter {
            lambda: 0.1,
            m: vec![vec![0.1, 0.9]; 2],
            u: vec![vec![0.99, 0.01]; 2],
            disagreement_scale: vec![1.0; 2],
            described: vec![false, true],
        };
        let (w, _) = fs.weights(&columns, 4, &[]);
        assert!(w[0] < -2.0 && w[1] > 4.0, "{w:?}");
        assert_eq!(&w[2..], [0.0, 0.0]);
        let pairs = yes_no_pairs([[true, true], [true, false]]);
        let p = fs.posteriors(&columns, &pairs);
        assert!((p[0] - p[1]).abs() < 1e-12, "{p:?}");
    }

    /// A town implies its state: random pairs in one town share the
    /// state, whatever else they share; a first name implies nothing.
    #[test]
    fn a_column_that_follows_from_another_is_implied() {
        let columns = yes_no_columns(&[false; 3]);
        // Columns: first name, town, state.
        let mut rng = crate::rng::Rng::new(9);
        let random = yes_no_pairs((0..100_000).map(|_| {
            let town = rng.chance(0.002);
            [rng.chance(0.004), town, town || rng.chance(0.02)]
        }));
        let random = levels(&columns, &random, &[true; 3]).0;
        let implied = implied_at_random(&columns, &random, &agreement_rates(&columns, &random));
        assert!(implied[1][2], "town implies state");
        assert!(!implied[0].contains(&true) && !implied[2][1], "{implied:?}");
    }
}
