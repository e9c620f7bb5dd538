//! Cluster: scored pairs into match_ids, without chaining.
//!
//! Pairs at or above the threshold are merged strongest first, but two
//! groups merge only when the *average* match probability over every
//! pair across them (pairs blocking never produced are scored on demand)
//! reaches the threshold. One strong link between two otherwise unlike
//! groups is not enough, so A≈B and B≈C do not pull A and C together
//! unless A≈C too. With `one_per_source` (linking two tables that are each
//! free of duplicates) a group never holds two records of the same table.
//!
//! Clusters are numbered by their smallest record id, so match_ids are the
//! same for the same input.

use std::collections::HashMap;

use crate::compare::CandidatePair;
use crate::record::RecordId;

/// A pair with its match probability.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ScoredPair {
    /// The records.
    pub pair: CandidatePair,
    /// P(match).
    pub score: f32,
}

/// How to cluster.
#[derive(Clone, Copy, Debug)]
pub struct ClusterOptions {
    /// Pairs at or above this probability are matches.
    pub threshold: f32,
    /// A cluster holds at most one record of each source table.
    pub one_per_source: bool,
    /// Groups whose merge would exceed this size are left apart.
    pub max_cluster_size: usize,
}

/// The outcome: one match_id and confidence per record.
#[derive(Clone, Debug, PartialEq)]
pub struct Clustering {
    /// Cluster number of each record, 0-based, numbered by smallest member.
    pub match_ids: Vec<u64>,
    /// For a record in a cluster, its mean probability with the other
    /// members; for a record alone, 1 − its best candidate's probability.
    pub confidence: Vec<f32>,
    /// Number of clusters (records alone included).
    pub clusters: usize,
    /// Records in clusters of two or more.
    pub matched_records: usize,
}

struct Groups {
    parent: Vec<u32>,
    members: Vec<Vec<RecordId>>,
}

impl Groups {
    fn find(&mut self, mut x: u32) -> u32 {
        while self.parent[x as usize] != x {
            let p = self.parent[x as usize];
            self.parent[x as usize] = self.parent[p as usize];
            x = p;
        }
        x
    }
}

/// Cluster `n` records from their scored candidate pairs. `sources` gives
/// each record's table; `score` scores a pair blocking did not produce.
pub fn cluster<F>(
    n: usize,
    sources: &[u16],
    scored: &[ScoredPair],
    options: &ClusterOptions,
    score: F,
) -> Clustering
where
    F: Fn(RecordId, RecordId) -> f32,
{
    let mut edges: Vec<ScoredPair> =
        scored.iter().filter(|p| p.score >= options.threshold).copied().collect();
    edges.sort_by(|x, y| y.score.total_cmp(&x.score).then(x.pair.cmp(&y.pair)));
    let known: HashMap<CandidatePair, f32> = edges.iter().map(|e| (e.pair, e.score)).collect();
    let lookup = |a: RecordId, b: RecordId| {
        let pair = CandidatePair::new(a, b);
        known.get(&pair).copied().unwrap_or_else(|| score(pair.a, pair.b))
    };
    let mut groups =
        Groups { parent: (0..n as u32).collect(), members: (0..n as u32).map(|i| vec![i]).collect() };
    for edge in &edges {
        let (ra, rb) = (groups.find(edge.pair.a), groups.find(edge.pair.b));
        if ra == rb {
            continue;
        }
        let (ma, mb) = (&groups.members[ra as usize], &groups.members[rb as usize]);
        if ma.len() + mb.len() > options.max_cluster_size {
            continue;
        }
        if options.one_per_source
            && ma.iter().any(|&a| mb.iter().any(|&b| sources[a as usize] == sources[b as usize]))
        {
            continue;
        }
        let linked = if ma.len() == 1 && mb.len() == 1 {
            true
        } else {
            let total: f32 =
                ma.iter().flat_map(|&a| mb.iter().map(move |&b| (a, b))).map(|(a, b)| lookup(a, b)).sum();
            total / (ma.len() * mb.len()) as f32 >= options.threshold
        };
        if linked {
            let (keep, gone) = if ma.len() >= mb.len() { (ra, rb) } else { (rb, ra) };
            let moved = std::mem::take(&mut groups.members[gone as usize]);
            groups.members[keep as usize].extend(moved);
            groups.parent[gone as usize] = keep;
        }
    }
    // Best candidate probability of each record, for the confidence of
    // records left alone.
    let mut best = vec![0.0f32; n];
    for p in scored {
        best[p.pair.a as usize] = best[p.pair.a as usize].max(p.score);
        best[p.pair.b as usize] = best[p.pair.b as usize].max(p.score);
    }
    let mut match_ids = vec![u64::MAX; n];
    let mut confidence = vec![0.0f32; n];
    let (mut next, mut matched_records) = (0u64, 0usize);
    for i in 0..n as u32 {
        if match_ids[i as usize] != u64::MAX {
            continue;
        }
        let root = groups.find(i);
        let members = &groups.members[root as usize];
        for &m in members {
            match_ids[m as usize] = next;
            confidence[m as usize] = if members.len() == 1 {
                1.0 - best[m as usize]
            } else {
                let sum: f32 = members.iter().filter(|&&o| o != m).map(|&o| lookup(m, o)).sum();
                sum / (members.len() - 1) as f32
            };
        }
        if members.len() > 1 {
            matched_records += members.len();
        }
        next += 1;
    }
    Clustering { match_ids, confidence, clusters: next as usize, matched_records }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn opts(threshold: f32) -> ClusterOptions {
        ClusterOptions { threshold, one_per_source: false, max_cluster_size: 1000 }
    }

    fn sp(a: u32, b: u32, score: f32) -> ScoredPair {
        ScoredPair { pair: CandidatePair::new(a, b), score }
    }

    #[test]
    fn a_weak_link_does_not_chain_two_groups() {
        // 0-1 and 2-3 are tight; 1-2 is one strong link, the rest unlike.
        let pairs = [sp(0, 1, 0.99), sp(2, 3, 0.99), sp(1, 2, 0.9)];
        let c = cluster(4, &[0; 4], &pairs, &opts(0.5), |_, _| 0.01);
        assert_eq!(c.match_ids, vec![0, 0, 1, 1]);
        // If every cross pair is likely, they do merge.
        let c = cluster(4, &[0; 4], &pairs, &opts(0.5), |_, _| 0.8);
        assert_eq!(c.match_ids, vec![0, 0, 0, 0]);
    }

    #[test]
    fn one_per_source_pairs_across_tables_only() {
        let pairs = [sp(0, 2, 0.95), sp(1, 2, 0.9)];
        let options = ClusterOptions { one_per_source: true, ..opts(0.5) };
        let c = cluster(3, &[0, 0, 1], &pairs, &options, |_, _| 0.9);
        assert_eq!(c.match_ids, vec![0, 1, 0]);
    }

    #[test]
    fn confidence_of_lone_records_reflects_their_best_candidate() {
        let c = cluster(3, &[0; 3], &[sp(0, 1, 0.3)], &opts(0.5), |_, _| 0.0);
        assert_eq!(c.match_ids, vec![0, 1, 2]);
        assert!((c.confidence[0] - 0.7).abs() < 1e-6 && c.confidence[2] == 1.0);
    }

    proptest! {
        #[test]
        fn clustering_is_a_deterministic_partition(
            n in 1usize..40,
            raw in proptest::collection::vec((0u32..40, 0u32..40, 0.0f32..1.0), 0..120),
        ) {
            let pairs: Vec<ScoredPair> = raw.iter()
                .filter(|(a, b, _)| (*a as usize) < n && (*b as usize) < n && a != b)
                .map(|&(a, b, s)| sp(a, b, s)).collect();
            let pair_score = |a: u32, b: u32| ((a * 31 + b * 17) % 100) as f32 / 100.0;
            let c = cluster(n, &vec![0; n], &pairs, &opts(0.5), pair_score);
            // Every record has exactly one id, ids are 0..clusters, each used.
            prop_assert_eq!(c.match_ids.len(), n);
            let mut used = vec![false; c.clusters];
            for &id in &c.match_ids { used[id as usize] = true; }
            prop_assert!(used.iter().all(|&u| u));
            // Numbered by smallest member: first appearances are increasing.
            let mut seen = 0u64;
            for &id in &c.match_ids { if id == seen { seen += 1; } else { prop_assert!(id < seen); } }
            // The same input gives the same output, whatever the pair order.
            let mut reversed = pairs.clone();
            reversed.reverse();
            let again = cluster(n, &vec![0; n], &reversed, &opts(0.5), pair_score);
            prop_assert_eq!(&again.match_ids, &c.match_ids);
            // Each cluster is connected through pairs at or above the
            // threshold: nothing joins without evidence.
            let mut reach: Vec<usize> = (0..n).collect();
            fn root(r: &mut Vec<usize>, x: usize) -> usize { if r[x] == x { x } else { let p = r[x]; let q = root(r, p); r[x] = q; q } }
            for p in pairs.iter().filter(|p| p.score >= 0.5) {
                let (a, b) = (root(&mut reach, p.pair.a as usize), root(&mut reach, p.pair.b as usize));
                reach[a] = b;
            }
            for i in 0..n { for j in i + 1..n {
                if c.match_ids[i] == c.match_ids[j] {
                    prop_assert_eq!(root(&mut reach, i), root(&mut reach, j));
                }
            }}
        }
    }
}
