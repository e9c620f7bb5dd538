//! Record pairs that agree exactly on chosen columns, drawn evenly from
//! all the pairs a run could make with that agreement: the pairs of a
//! blocking rule in Splink's sense, which unsupervised training learns
//! from (see [`crate::unsupervised`]). Unlike the candidates, they are not
//! ranked or capped per record, so every such pair is as likely to be
//! drawn as every other.

use std::hash::{Hash, Hasher};

use rustc_hash::{FxHashMap, FxHasher};

use super::Mode;
use crate::record::{CandidatePair, RecordId, Records};
use crate::rng::Rng;

/// A group with this few pairs is enumerated; a larger one too when at
/// least [`ENUMERATED_SHARE`] of all pairs are drawn, else sampled.
const ENUMERATED: f64 = 64.0;
/// See [`ENUMERATED`]: below it, drawing with replacement repeats few
/// pairs (at most an eighth), above it enumerating costs at most four
/// times the pairs drawn.
const ENUMERATED_SHARE: f64 = 0.25;

/// Up to about `cap` pairs of `records` a `mode` run could make whose
/// normalized values agree on every column of `rule` (indices into
/// [`Records::columns`]; a missing value agrees with nothing), each such
/// pair equally likely; sorted and distinct. The same for the same input.
pub fn agreeing_pairs(records: &Records, mode: Mode, rule: &[usize], cap: usize) -> Vec<CandidatePair> {
    let columns = records.columns();
    let sources = records.sources();
    let mut groups: FxHashMap<u64, Vec<RecordId>> = FxHashMap::default();
    for i in 0..records.len() as RecordId {
        let values: Vec<&str> = rule.iter().map(|&c| columns[c].value(i)).collect();
        if values.iter().any(|v| v.is_empty()) {
            continue;
        }
        let mut h = FxHasher::default();
        values.hash(&mut h);
        groups.entry(h.finish()).or_default().push(i);
    }
    let mut groups: Vec<Vec<RecordId>> = groups.into_values().filter(|g| g.len() > 1).collect();
    // Hash order is not input order: sort, so the draw is reproducible.
    groups.sort_unstable();
    let allows = |a: RecordId, b: RecordId| a != b && mode.allows(sources[a as usize], sources[b as usize]);
    let pairs_in = |g: &[RecordId]| -> f64 {
        if mode == Mode::Link {
            let left = g.iter().filter(|&&r| sources[r as usize] == 0).count() as f64;
            left * (g.len() as f64 - left)
        } else {
            let k = g.len() as f64;
            k * (k - 1.0) / 2.0
        }
    };
    let total: f64 = groups.iter().map(|g| pairs_in(g)).sum();
    let share = (cap as f64 / total.max(1.0)).min(1.0);
    let mut rng = Rng::new(records.len() as u64 ^ (rule.len() as u64) << 32);
    let mut pairs = Vec::new();
    for g in &groups {
        let n = pairs_in(g);
        if n <= ENUMERATED || share >= ENUMERATED_SHARE {
            for (x, &a) in g.iter().enumerate() {
                for &b in &g[x + 1..] {
                    if allows(a, b) && rng.chance(share) {
                        pairs.push(CandidatePair::new(a, b));
                    }
                }
            }
            continue;
        }
        let want = n * share;
        let draws = want.floor() as usize + usize::from(rng.chance(want.fract()));
        let mut drawn = 0;
        while drawn < draws {
            let (a, b) = (*rng.pick(g), *rng.pick(g));
            if allows(a, b) {
                pairs.push(CandidatePair::new(a, b));
                drawn += 1;
            }
        }
    }
    pairs.sort_unstable();
    pairs.dedup();
    pairs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::block::keys::tests::people;

    /// 30 Smiths, 10 Joneses, a Brown and 5 without a surname; the first
    /// names of every third agree.
    fn families() -> Records {
        let surname = |i: usize| match i {
            0..30 => "smith",
            30..40 => "jones",
            40 => "brown",
            _ => "",
        };
        let rows: Vec<[String; 3]> = (0..46)
            .map(|i| [["ann", "bob", "cy"][i % 3].to_string(), surname(i).to_string(), String::new()])
            .collect();
        let rows: Vec<[&str; 3]> =
            rows.iter().map(|r| [r[0].as_str(), r[1].as_str(), r[2].as_str()]).collect();
        people(&rows).1
    }

    #[test]
    fn all_agreeing_pairs_when_they_fit() {
        let records = families();
        let pairs = agreeing_pairs(&records, Mode::Dedup, &[1], 10_000);
        // 30·29/2 Smiths and 10·9/2 Joneses; the Brown and the missing pair with no one.
        assert_eq!(pairs.len(), 435 + 45);
        let last = &records.columns()[1];
        assert!(pairs.iter().all(|p| last.value(p.a) == last.value(p.b) && !last.value(p.a).is_empty()));
        let both = agreeing_pairs(&records, Mode::Dedup, &[0, 1], 10_000);
        // Per surname, the three first names split the group in thirds.
        assert_eq!(both.len(), 3 * 45 + (4 * 3 / 2 + 2 * (3 * 2 / 2)));
    }

    #[test]
    fn a_sample_is_drawn_evenly_and_reproducibly() {
        let records = families();
        // A fifth of the pairs: the Smiths' 435 are drawn (with a few
        // repeats), the Joneses' 45 enumerated.
        let pairs = agreeing_pairs(&records, Mode::Dedup, &[1], 100);
        assert_eq!(pairs, agreeing_pairs(&records, Mode::Dedup, &[1], 100));
        assert!((70..=110).contains(&pairs.len()), "{} pairs", pairs.len());
        let last = &records.columns()[1];
        assert!(pairs.iter().all(|p| p.a != p.b && last.value(p.a) == last.value(p.b)));
        let jones = pairs.iter().filter(|p| p.a >= 30).count();
        // Joneses are 45 of 480 pairs: about 9 of 100.
        assert!((2..=20).contains(&jones), "{jones} of {} pairs are Joneses", pairs.len());
    }
}
