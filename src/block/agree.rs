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
    'records: for i in 0..records.len() as RecordId {
        let mut h = FxHasher::default();
        for &c in rule {
            let value = columns[c].value(i);
            if value.is_empty() {
                continue 'records;
            }
            value.hash(&mut h);
        }
        groups.entry(h.finish()).or_default().push(i);
    }
    let mut groups: Vec<Vec<RecordId>> = groups.into_values().filter(|g| g.len() > 1).collect();
    // Hash order is not input order: sort, so the draw is reproducible.
    groups.sort_unstable();
    // Each group as the two sides its pairs take one record from: the
    // tables' records when linking, else the group twice.
    let sides: Vec<(Vec<RecordId>, Vec<RecordId>)> = groups
        .into_iter()
        .map(|g| match mode {
            Mode::Link => g.into_iter().partition(|&r| sources[r as usize] == 0),
            _ => (g.clone(), g),
        })
        .collect();
    let pairs_in = |(xs, ys): &(Vec<RecordId>, Vec<RecordId>)| -> f64 {
        match mode {
            Mode::Link => xs.len() as f64 * ys.len() as f64,
            _ => xs.len() as f64 * (xs.len() as f64 - 1.0) / 2.0,
        }
    };
    let allows = |a: RecordId, b: RecordId| a != b && mode.allows(sources[a as usize], sources[b as usize]);
    let total: f64 = sides.iter().map(pairs_in).sum();
    let share = (cap as f64 / total.max(1.0)).min(1.0);
    let mut rng = Rng::new(records.len() as u64 ^ (rule.len() as u64) << 32);
    let mut pairs = Vec::new();
    for side in &sides {
        let n = pairs_in(side);
        let (xs, ys) = side;
        if n <= ENUMERATED || share >= ENUMERATED_SHARE {
            for (i, &a) in xs.iter().enumerate() {
                // Within one group each pair once: b after a.
                let others = if mode == Mode::Link { &ys[..] } else { &ys[i + 1..] };
                for &b in others {
                    if allows(a, b) && rng.chance(share) {
                        pairs.push(CandidatePair::new(a, b));
                    }
                }
            }
            continue;
        }
        let want = n * share;
        let draws = want.floor() as usize + usize::from(rng.chance(want.fract()));
        // At most half the draws of a dedup group fail (a record with
        // itself); a group whose pairs a mode mostly forbids (incremental:
        // baseline with baseline) gives up rather than spin.
        let (mut drawn, mut tries) = (0, 0);
        while drawn < draws && tries < 8 * draws {
            tries += 1;
            let (a, b) = (*rng.pick(xs), *rng.pick(ys));
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
    use crate::block::keys::tests::{people, people_in};

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

    #[test]
    fn a_mode_that_forbids_every_pair_gets_none_and_returns() {
        // One table read as an incremental run's baseline: no pair
        // involves a new record, so none may be drawn, sampled or not.
        let records = families();
        assert!(agreeing_pairs(&records, Mode::Incremental, &[1], 100).is_empty());
        assert!(agreeing_pairs(&records, Mode::Incremental, &[1], 10_000).is_empty());
    }

    #[test]
    fn a_link_pairs_across_the_tables_only() {
        let row = |last: &'static str| ["ann", last, ""];
        let left = [row("smith"), row("smith"), row("smith"), row("jones")];
        let right = [row("smith"), row("smith"), row("jones"), row("jones"), row("brown")];
        let (_, records) = people_in(&[&left, &right]);
        let pairs = agreeing_pairs(&records, Mode::Link, &[1], 10_000);
        // Smiths 3 × 2, Joneses 1 × 2; none within a table.
        assert_eq!(pairs.len(), 6 + 2);
        let sources = records.sources();
        assert!(pairs.iter().all(|p| sources[p.a as usize] != sources[p.b as usize]));
        // Sampled, still across: a tenth of 800 Smiths × 200 Smiths.
        let left = vec![row("smith"); 800];
        let right = vec![row("smith"); 200];
        let (_, records) = people_in(&[&left, &right]);
        let pairs = agreeing_pairs(&records, Mode::Link, &[1], 16_000);
        let sources = records.sources();
        assert!((14_000..=16_500).contains(&pairs.len()), "{} pairs", pairs.len());
        assert!(pairs.iter().all(|p| sources[p.a as usize] != sources[p.b as usize]));
    }
}
