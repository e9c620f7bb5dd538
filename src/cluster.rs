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

use rayon::prelude::*;
use rustc_hash::FxHashMap;

use crate::record::{CandidatePair, RecordId};

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

/// Greedy average-linkage agglomeration, shared by batch and incremental
/// clustering: union-find groups with their members, optional anchors
/// (baseline match_ids a group holds), and pair scores (known or computed
/// on demand).
struct Agglomeration<F> {
    parent: Vec<u32>,
    members: Vec<Vec<RecordId>>,
    anchors: Vec<Vec<u64>>,
    known: FxHashMap<CandidatePair, f32>,
    /// Cannot-link partners of records (labeled non-matches).
    cannot: FxHashMap<RecordId, Vec<RecordId>>,
    best: Vec<f32>,
    score: F,
}

impl<F: Fn(RecordId, RecordId) -> f32> Agglomeration<F> {
    /// Groups of one over the records `best` has a score for (each
    /// record's best candidate, see [`best_scores`]).
    fn new(scored: &[ScoredPair], best: Vec<f32>, score: F) -> Agglomeration<F> {
        let n = best.len();
        // A pair listed twice keeps its higher score, whatever the order.
        let mut known: FxHashMap<CandidatePair, f32> =
            FxHashMap::with_capacity_and_hasher(scored.len(), Default::default());
        for p in scored {
            let entry = known.entry(p.pair).or_insert(p.score);
            *entry = entry.max(p.score);
        }
        Agglomeration {
            parent: (0..n as u32).collect(),
            members: (0..n as u32).map(|i| vec![i]).collect(),
            anchors: vec![Vec::new(); n],
            known,
            cannot: FxHashMap::default(),
            best,
            score,
        }
    }

    fn find(&mut self, x: u32) -> u32 {
        root(&mut self.parent, x)
    }

    fn lookup(&self, a: RecordId, b: RecordId) -> f32 {
        let pair = CandidatePair::new(a, b);
        self.known.get(&pair).copied().unwrap_or_else(|| (self.score)(pair.a, pair.b))
    }

    /// Put `x` in the group of `root` (before any merging).
    fn attach(&mut self, x: u32, root: u32) {
        self.parent[x as usize] = root;
        self.members[x as usize].clear();
        self.members[root as usize].push(x);
    }

    /// Merge along edges at or above the threshold, strongest first, when
    /// `allowed(members_a, members_b, anchors_a, anchors_b)` and the
    /// average probability across the two groups reaches the threshold.
    /// Returns the anchor merges: (kept, absorbed).
    fn run(
        &mut self,
        scored: &[ScoredPair],
        options: &ClusterOptions,
        allowed: impl Fn(&[RecordId], &[RecordId], &[u64], &[u64]) -> bool,
    ) -> Vec<(u64, u64)> {
        let mut edges: Vec<ScoredPair> =
            scored.iter().filter(|p| p.score >= options.threshold).copied().collect();
        edges.par_sort_unstable_by(|x, y| y.score.total_cmp(&x.score).then(x.pair.cmp(&y.pair)));
        let mut merges = Vec::new();
        for edge in &edges {
            let (ra, rb) = (self.find(edge.pair.a), self.find(edge.pair.b));
            if ra == rb || self.forbidden(ra, rb) {
                continue;
            }
            let (ma, mb) = (&self.members[ra as usize], &self.members[rb as usize]);
            let (aa, ab) = (&self.anchors[ra as usize], &self.anchors[rb as usize]);
            if ma.len() + mb.len() > options.max_cluster_size || !allowed(ma, mb, aa, ab) {
                continue;
            }
            let linked = ma.len() * mb.len() == 1 || {
                let total: f32 = ma
                    .iter()
                    .flat_map(|&a| mb.iter().map(move |&b| (a, b)))
                    .map(|(a, b)| self.lookup(a, b))
                    .sum();
                total / (ma.len() * mb.len()) as f32 >= options.threshold
            };
            if !linked {
                continue;
            }
            merges.extend(anchor_merges(aa, ab));
            self.merge(ra, rb);
        }
        merges
    }

    /// Join the groups of roots `ra` and `rb` (the larger keeps its root).
    fn merge(&mut self, ra: u32, rb: u32) {
        let (keep, gone) = if self.members[ra as usize].len() >= self.members[rb as usize].len() {
            (ra, rb)
        } else {
            (rb, ra)
        };
        let moved = std::mem::take(&mut self.members[gone as usize]);
        self.members[keep as usize].extend(moved);
        let moved = std::mem::take(&mut self.anchors[gone as usize]);
        self.anchors[keep as usize].extend(moved);
        self.parent[gone as usize] = keep;
    }

    /// Apply labels: join every must-link pair's groups now, and remember
    /// the cannot-link pairs so that no later merge joins them. A must-link
    /// between two groups holding baseline match_ids joins them only when
    /// `merge_anchors`; returns the anchor merges: (kept, absorbed).
    fn constrain(&mut self, constraints: &Constraints, merge_anchors: bool) -> Vec<(u64, u64)> {
        let mut merges = Vec::new();
        for p in &constraints.must {
            let (ra, rb) = (self.find(p.a), self.find(p.b));
            let (aa, ab) = (&self.anchors[ra as usize], &self.anchors[rb as usize]);
            if ra == rb || (!aa.is_empty() && !ab.is_empty() && !merge_anchors) {
                continue;
            }
            merges.extend(anchor_merges(aa, ab));
            self.merge(ra, rb);
        }
        for p in &constraints.cannot {
            self.cannot.entry(p.a).or_default().push(p.b);
            self.cannot.entry(p.b).or_default().push(p.a);
        }
        merges
    }

    /// Whether joining the groups of roots `ra` and `rb` would put a
    /// cannot-link pair in one cluster.
    fn forbidden(&mut self, ra: u32, rb: u32) -> bool {
        if self.cannot.is_empty() {
            return false;
        }
        let (small, other) = if self.members[ra as usize].len() <= self.members[rb as usize].len() {
            (ra, rb)
        } else {
            (rb, ra)
        };
        let partners: Vec<RecordId> = self.members[small as usize]
            .iter()
            .filter_map(|m| self.cannot.get(m))
            .flatten()
            .copied()
            .collect();
        partners.into_iter().any(|p| self.find(p) == other)
    }

    /// Confidence of `x` in its group: mean probability with the other
    /// members, or 1 − its best candidate's when alone.
    fn confidence(&self, x: RecordId, members: &[RecordId]) -> f32 {
        if members.len() == 1 {
            return 1.0 - self.best[x as usize];
        }
        let sum: f32 = members.iter().filter(|&&o| o != x).map(|&o| self.lookup(x, o)).sum();
        sum / (members.len() - 1) as f32
    }
}

/// The root of `x`'s tree in a union-find forest, halving the path.
fn root(parent: &mut [RecordId], mut x: RecordId) -> RecordId {
    while parent[x as usize] != x {
        let p = parent[x as usize];
        parent[x as usize] = parent[p as usize];
        x = p;
    }
    x
}

/// Each record's best candidate probability (0 without candidates).
fn best_scores(n: usize, scored: &[ScoredPair]) -> Vec<f32> {
    let mut best = vec![0.0f32; n];
    for p in scored {
        best[p.pair.a as usize] = best[p.pair.a as usize].max(p.score);
        best[p.pair.b as usize] = best[p.pair.b as usize].max(p.score);
    }
    best
}

/// The baseline clusters joined when groups anchored by `aa` and `ab`
/// merge: (kept, absorbed), the smallest match_id kept.
fn anchor_merges(aa: &[u64], ab: &[u64]) -> Vec<(u64, u64)> {
    if aa.is_empty() || ab.is_empty() {
        return Vec::new();
    }
    let kept = aa.iter().chain(ab).copied().min().unwrap_or(0);
    aa.iter().chain(ab).filter(|&&id| id != kept).map(|&id| (kept, id)).collect()
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
    F: Fn(RecordId, RecordId) -> f32 + Sync,
{
    cluster_constrained(n, sources, scored, options, &Constraints::default(), score)
}

/// Pairs whose outcome is given (labels): must-link pairs end in one
/// cluster, cannot-link pairs apart, whatever their scores. A must-link
/// wins over a cannot-link that contradicts it.
#[derive(Clone, Debug, Default)]
pub struct Constraints {
    /// Pairs that must share a cluster.
    pub must: Vec<CandidatePair>,
    /// Pairs that must not.
    pub cannot: Vec<CandidatePair>,
}

/// [`cluster`] under `constraints`.
///
/// Groups merge only along pairs at or above the threshold (or labeled
/// matches), so no merge crosses a connected component of those pairs:
/// each component is agglomerated on its own, in parallel, with the same
/// result as one pass over all records.
pub fn cluster_constrained<F>(
    n: usize,
    sources: &[u16],
    scored: &[ScoredPair],
    options: &ClusterOptions,
    constraints: &Constraints,
    score: F,
) -> Clustering
where
    F: Fn(RecordId, RecordId) -> f32 + Sync,
{
    cluster_with_best(n, sources, scored, best_scores(n, scored), options, constraints, score)
}

/// The records that clustering may score pairs of on demand (`score` in
/// [`cluster_constrained`]): those of components of three or more, and of
/// pairs joined by a constraint alone. Clustering elsewhere needs only
/// the scored pairs.
pub fn records_scored_on_demand(
    n: usize,
    scored: &[ScoredPair],
    threshold: f32,
    constraints: &Constraints,
) -> Vec<RecordId> {
    let components = Components::new(n, scored, threshold, constraints);
    let mut out: Vec<RecordId> = (0..components.len())
        .filter(|&c| components.members(c).len() > 2 || components.pairs(c).is_empty())
        .flat_map(|c| components.members(c).iter().copied())
        .collect();
    out.sort_unstable();
    out
}

/// [`cluster_constrained`] given each record's best candidate score
/// (`best`, 0 for none), when `scored` holds only some of the candidate
/// pairs: those at or above the threshold, the pairs a run spread over
/// machines gathers (each record's best is found where its pairs are).
pub fn cluster_with_best<F>(
    n: usize,
    sources: &[u16],
    scored: &[ScoredPair],
    best: Vec<f32>,
    options: &ClusterOptions,
    constraints: &Constraints,
    score: F,
) -> Clustering
where
    F: Fn(RecordId, RecordId) -> f32 + Sync,
{
    let components = Components::new(n, scored, options.threshold, constraints);
    // Each record's cluster, named by its smallest member, and confidence.
    let mut leader: Vec<RecordId> = (0..n as RecordId).collect();
    let mut confidence: Vec<f32> = best.iter().map(|b| 1.0 - b).collect();
    let clustered: Vec<Vec<(RecordId, RecordId, f32)>> = (0..components.len())
        .into_par_iter()
        .map(|c| {
            let members = components.members(c);
            if let [a, b] = *members {
                return pair_component(
                    a,
                    b,
                    components.pairs(c),
                    &components.must[c],
                    &components.cannot[c],
                    options,
                    sources,
                    &score,
                );
            }
            let local_best = members.iter().map(|&m| best[m as usize]).collect();
            let local_score = |a: RecordId, b: RecordId| score(members[a as usize], members[b as usize]);
            let mut agg = Agglomeration::new(components.pairs(c), local_best, local_score);
            agg.constrain(&components.constraints(c), true);
            agg.run(components.pairs(c), options, |ma, mb, _, _| {
                !options.one_per_source
                    || !ma.iter().any(|&a| {
                        mb.iter().any(|&b| {
                            sources[members[a as usize] as usize] == sources[members[b as usize] as usize]
                        })
                    })
            });
            (0..members.len() as RecordId)
                .map(|x| {
                    let root = agg.find(x);
                    let group = &agg.members[root as usize];
                    let first = group.iter().copied().min().unwrap_or(x);
                    (members[x as usize], members[first as usize], agg.confidence(x, group))
                })
                .collect()
        })
        .collect();
    let mut matched_records = 0;
    for (x, first, conf) in clustered.into_iter().flatten() {
        leader[x as usize] = first;
        confidence[x as usize] = conf;
    }
    let mut match_ids = vec![0u64; n];
    let mut next = 0u64;
    let mut size = vec![0u32; n];
    for i in 0..n {
        let first = leader[i] as usize;
        // A cluster's smallest member comes first: its id is new.
        match_ids[i] = if first == i {
            next += 1;
            next - 1
        } else {
            match_ids[first]
        };
        size[first] += 1;
    }
    for i in 0..n {
        if size[leader[i] as usize] > 1 {
            matched_records += 1;
        }
    }
    Clustering { match_ids, confidence, clusters: next as usize, matched_records }
}

/// What agglomerating a component of two records `a < b` comes to, without
/// building one (most components are a pair): they join by a labeled
/// match, or by their scored pair (at or above the threshold, or the
/// component would not exist) unless labeled a non-match, from one table
/// when one per source is asked, or over the size cap.
#[allow(clippy::too_many_arguments)]
fn pair_component<F: Fn(RecordId, RecordId) -> f32>(
    a: RecordId,
    b: RecordId,
    pairs: &[ScoredPair],
    must: &[CandidatePair],
    cannot: &[CandidatePair],
    options: &ClusterOptions,
    sources: &[u16],
    score: &F,
) -> Vec<(RecordId, RecordId, f32)> {
    let known = pairs.iter().map(|p| p.score).reduce(f32::max);
    let joined = !must.is_empty()
        || (cannot.is_empty()
            && options.max_cluster_size >= 2
            && (!options.one_per_source || sources[a as usize] != sources[b as usize]));
    if !joined {
        return Vec::new();
    }
    let p = known.unwrap_or_else(|| score(a, b));
    vec![(a, a, p), (b, a, p)]
}

/// The connected components (of two or more records) of the pairs at or
/// above a threshold and the must-link pairs, each with its records
/// (ascending) and the scored pairs and constraints inside it, in local
/// ids (positions among its records; the order of records is kept, so a
/// pair's orientation and order are too).
struct Components {
    start: Vec<usize>,
    records: Vec<RecordId>,
    pair_start: Vec<usize>,
    pairs: Vec<ScoredPair>,
    must: Vec<Vec<CandidatePair>>,
    cannot: Vec<Vec<CandidatePair>>,
}

impl Components {
    fn new(n: usize, scored: &[ScoredPair], threshold: f32, constraints: &Constraints) -> Components {
        let mut parent: Vec<RecordId> = (0..n as RecordId).collect();
        let joined = scored.iter().filter(|p| p.score >= threshold).map(|p| p.pair);
        for pair in joined.chain(constraints.must.iter().copied()) {
            let (ra, rb) = (root(&mut parent, pair.a), root(&mut parent, pair.b));
            if ra != rb {
                parent[ra.max(rb) as usize] = ra.min(rb);
            }
        }
        // Number the components of two or more records by first record.
        const NONE: u32 = u32::MAX;
        let roots: Vec<RecordId> = (0..n as RecordId).map(|x| root(&mut parent, x)).collect();
        let mut size = vec![0u32; n];
        for &r in &roots {
            size[r as usize] += 1;
        }
        let mut component = vec![NONE; n];
        let mut local = vec![0u32; n];
        let mut start = vec![0usize];
        let mut records = Vec::new();
        let mut count = vec![0u32; n];
        for x in 0..n {
            let r = roots[x] as usize;
            if size[r] < 2 {
                continue;
            }
            if component[r] == NONE {
                component[r] = (start.len() - 1) as u32;
                start.push(start[component[r] as usize] + size[r] as usize);
            }
            local[x] = count[r];
            count[r] += 1;
        }
        records.resize(*start.last().unwrap_or(&0), 0);
        let of = |x: RecordId| component[roots[x as usize] as usize];
        for x in 0..n as RecordId {
            let c = of(x);
            if c != NONE {
                records[start[c as usize] + local[x as usize] as usize] = x;
            }
        }
        let inside = |pair: &CandidatePair| {
            let c = of(pair.a);
            (c != NONE && c == of(pair.b)).then_some(c as usize)
        };
        let localize =
            |pair: &CandidatePair| CandidatePair::new(local[pair.a as usize], local[pair.b as usize]);
        // Scored pairs inside a component, grouped by component.
        let components = start.len() - 1;
        let mut pair_start = vec![0usize; components + 1];
        for p in scored {
            if let Some(c) = inside(&p.pair) {
                pair_start[c + 1] += 1;
            }
        }
        for c in 0..components {
            pair_start[c + 1] += pair_start[c];
        }
        let mut fill = pair_start.clone();
        let mut pairs =
            vec![ScoredPair { pair: CandidatePair::new(0, 1), score: 0.0 }; pair_start[components]];
        for p in scored {
            if let Some(c) = inside(&p.pair) {
                pairs[fill[c]] = ScoredPair { pair: localize(&p.pair), score: p.score };
                fill[c] += 1;
            }
        }
        let mut must = vec![Vec::new(); components];
        let mut cannot = vec![Vec::new(); components];
        for (given, kept) in [(&constraints.must, &mut must), (&constraints.cannot, &mut cannot)] {
            for pair in given {
                if let Some(c) = inside(pair) {
                    kept[c].push(localize(pair));
                }
            }
        }
        Components { start, records, pair_start, pairs, must, cannot }
    }

    fn len(&self) -> usize {
        self.start.len() - 1
    }

    fn members(&self, c: usize) -> &[RecordId] {
        &self.records[self.start[c]..self.start[c + 1]]
    }

    fn pairs(&self, c: usize) -> &[ScoredPair] {
        &self.pairs[self.pair_start[c]..self.pair_start[c + 1]]
    }

    fn constraints(&self, c: usize) -> Constraints {
        Constraints { must: self.must[c].clone(), cannot: self.cannot[c].clone() }
    }
}

/// What happened to a new record in incremental matching.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchStatus {
    /// It joined a baseline cluster.
    Existing,
    /// It matched only other new records.
    NewDuplicate,
    /// It matched nothing.
    NewUnique,
}

impl MatchStatus {
    /// The status as written in outputs.
    pub fn as_str(self) -> &'static str {
        match self {
            MatchStatus::Existing => "existing",
            MatchStatus::NewDuplicate => "new_duplicate",
            MatchStatus::NewUnique => "new_unique",
        }
    }
}

/// New records clustered against a fixed baseline.
#[derive(Clone, Debug, PartialEq)]
pub struct IncrementalClustering {
    /// match_id of each new record.
    pub match_ids: Vec<u64>,
    /// Confidence of each new record (as in [`Clustering::confidence`]).
    pub confidence: Vec<f32>,
    /// Status of each new record.
    pub status: Vec<MatchStatus>,
    /// The baseline record each `existing` new record matched best.
    pub best_baseline: Vec<Option<RecordId>>,
    /// Baseline clusters merged (only with `allow_merges`): (kept, absorbed).
    pub merges: Vec<(u64, u64)>,
    /// The next unused match_id.
    pub next_match_id: u64,
}

/// What incremental clustering may do to the baseline.
#[derive(Clone, Copy, Debug)]
pub struct BaselineRules {
    /// A group may join two baseline clusters (else never).
    pub allow_merges: bool,
    /// The first match_id a new cluster may take.
    pub next_match_id: u64,
}

/// Cluster `n_new` new records (ids `baseline_ids.len()..`) against a
/// baseline whose records (ids `0..baseline_ids.len()`) keep their
/// match_ids. Same merging rule and [`Constraints`] as
/// [`cluster_constrained`]; in addition a group never joins two baseline
/// clusters unless `rules.allow_merges` (a must-link included), so a new
/// record that bridges two clusters joins the one it matches strongest
/// (edges are taken strongest first). New clusters get ids from
/// `rules.next_match_id` on, in order of their first new record.
pub fn cluster_incremental<F>(
    baseline_ids: &[u64],
    n_new: usize,
    scored: &[ScoredPair],
    options: &ClusterOptions,
    constraints: &Constraints,
    rules: BaselineRules,
    score: F,
) -> IncrementalClustering
where
    F: Fn(RecordId, RecordId) -> f32,
{
    let nb = baseline_ids.len();
    let n = nb + n_new;
    let mut agg = Agglomeration::new(scored, best_scores(n, scored), score);
    // Baseline clusters start as groups, anchored by their match_id.
    let mut first_of: HashMap<u64, u32> = HashMap::new();
    for (i, &id) in baseline_ids.iter().enumerate() {
        match first_of.get(&id) {
            Some(&root) => agg.attach(i as u32, root),
            None => {
                first_of.insert(id, i as u32);
                agg.anchors[i].push(id);
            }
        }
    }
    let allow_merges = rules.allow_merges;
    let mut merges = agg.constrain(constraints, allow_merges);
    merges.extend(agg.run(scored, options, |_, _, aa, ab| allow_merges || aa.is_empty() || ab.is_empty()));
    let mut out = IncrementalClustering {
        match_ids: vec![u64::MAX; n_new],
        confidence: vec![0.0; n_new],
        status: vec![MatchStatus::NewUnique; n_new],
        best_baseline: vec![None; n_new],
        merges,
        next_match_id: rules.next_match_id,
    };
    let mut new_ids: HashMap<u32, u64> = HashMap::new();
    for x in nb as u32..n as u32 {
        let i = x as usize - nb;
        let root = agg.find(x);
        let members = &agg.members[root as usize];
        let anchor = agg.anchors[root as usize].iter().copied().min();
        out.match_ids[i] = match anchor {
            Some(id) => id,
            None => *new_ids.entry(root).or_insert_with(|| {
                out.next_match_id += 1;
                out.next_match_id - 1
            }),
        };
        out.status[i] = match (anchor, members.len()) {
            (Some(_), _) => MatchStatus::Existing,
            (None, 1) => MatchStatus::NewUnique,
            (None, _) => MatchStatus::NewDuplicate,
        };
        out.confidence[i] = agg.confidence(x, members);
        if anchor.is_some() {
            out.best_baseline[i] = members
                .iter()
                .filter(|&&o| (o as usize) < nb)
                .map(|&o| (o, agg.lookup(x, o)))
                .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)))
                .map(|(o, _)| o);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn opts(threshold: f32) -> ClusterOptions {
        ClusterOptions { threshold, one_per_source: false, max_cluster_size: 1000 }
    }

    fn rules(allow_merges: bool, next_match_id: u64) -> BaselineRules {
        BaselineRules { allow_merges, next_match_id }
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
    fn constraints_override_scores() {
        let pairs = [sp(0, 1, 0.99), sp(1, 2, 0.98), sp(3, 4, 0.01)];
        let constraints =
            Constraints { must: vec![CandidatePair::new(3, 4)], cannot: vec![CandidatePair::new(0, 2)] };
        let c = cluster_constrained(5, &[0; 5], &pairs, &opts(0.5), &constraints, |_, _| 0.99);
        assert_eq!(c.match_ids[0], c.match_ids[1], "the strongest pair still joins");
        assert_ne!(c.match_ids[2], c.match_ids[0], "a labeled non-match stays apart");
        assert_eq!(c.match_ids[3], c.match_ids[4], "a labeled match joins despite its score");
        let free = cluster(5, &[0; 5], &pairs, &opts(0.5), |_, _| 0.99);
        assert_eq!(free.match_ids[0], free.match_ids[2]);
        assert_ne!(free.match_ids[3], free.match_ids[4]);
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

    /// The clustering of one agglomeration over all records at once, as
    /// clustering was before it went component by component.
    fn cluster_whole(
        n: usize,
        scored: &[ScoredPair],
        options: &ClusterOptions,
        constraints: &Constraints,
        score: impl Fn(RecordId, RecordId) -> f32,
    ) -> (Vec<u64>, Vec<f32>) {
        let mut agg = Agglomeration::new(scored, best_scores(n, scored), score);
        agg.constrain(constraints, true);
        agg.run(scored, options, |_, _, _, _| true);
        let (mut ids, mut confidence, mut next) = (vec![u64::MAX; n], vec![0.0; n], 0);
        for i in 0..n as u32 {
            if ids[i as usize] == u64::MAX {
                let root = agg.find(i);
                let members = agg.members[root as usize].clone();
                for &m in &members {
                    ids[m as usize] = next;
                    confidence[m as usize] = agg.confidence(m, &members);
                }
                next += 1;
            }
        }
        (ids, confidence)
    }

    proptest! {
        #[test]
        fn components_cluster_as_one_pass_over_all_records(
            n in 2usize..60,
            raw in proptest::collection::vec((0u32..60, 0u32..60, 0.0f32..1.0), 0..200),
            labels in proptest::collection::vec((0u32..60, 0u32..60, any::<bool>()), 0..6),
            max_cluster_size in 2usize..8,
        ) {
            let inside = |a: u32, b: u32| (a as usize) < n && (b as usize) < n && a != b;
            let pairs: Vec<ScoredPair> =
                raw.iter().filter(|(a, b, _)| inside(*a, *b)).map(|&(a, b, s)| sp(a, b, s)).collect();
            let mut constraints = Constraints::default();
            for &(a, b, must) in labels.iter().filter(|(a, b, _)| inside(*a, *b)) {
                let list = if must { &mut constraints.must } else { &mut constraints.cannot };
                list.push(CandidatePair::new(a, b));
            }
            let pair_score = |a: u32, b: u32| ((a * 31 + b * 17) % 100) as f32 / 100.0;
            let options = ClusterOptions { max_cluster_size, ..opts(0.5) };
            let c = cluster_constrained(n, &vec![0; n], &pairs, &options, &constraints, pair_score);
            let (ids, confidence) = cluster_whole(n, &pairs, &options, &constraints, pair_score);
            prop_assert_eq!(c.match_ids, ids);
            prop_assert_eq!(c.confidence, confidence);
        }
    }

    #[test]
    fn incremental_keeps_baseline_ids_and_joins_the_stronger_cluster() {
        let none = Constraints::default();
        // Baseline: 0,1 in cluster 7; 2 in cluster 9. New: 3 and 4, 5.
        let baseline = [7, 7, 9];
        let pairs = [sp(3, 0, 0.95), sp(3, 1, 0.9), sp(3, 2, 0.97), sp(4, 5, 0.9)];
        let score = |a: u32, b: u32| if (a, b) == (0, 2) || (a, b) == (1, 2) { 0.0 } else { 0.9 };
        let c = cluster_incremental(&baseline, 3, &pairs, &opts(0.5), &none, rules(false, 10), score);
        // 3 bridges 7 and 9: it joins 9 (its strongest single link), no merge.
        assert_eq!(c.match_ids, vec![9, 10, 10]);
        assert_eq!(
            c.status,
            vec![MatchStatus::Existing, MatchStatus::NewDuplicate, MatchStatus::NewDuplicate]
        );
        assert_eq!(c.best_baseline[0], Some(2));
        assert!(c.merges.is_empty());
        assert_eq!(c.next_match_id, 11);
        // With merges allowed and every cross pair likely, the clusters merge, reported.
        let c = cluster_incremental(&baseline, 3, &pairs, &opts(0.5), &none, rules(true, 10), |_, _| 0.9);
        assert_eq!(c.match_ids[0], 7);
        assert_eq!(c.merges, vec![(7, 9)]);
    }

    #[test]
    fn incremental_lone_new_record_is_unique() {
        let none = Constraints::default();
        let c =
            cluster_incremental(&[0, 1], 1, &[sp(2, 0, 0.2)], &opts(0.5), &none, rules(false, 2), |_, _| 0.0);
        assert_eq!(c.match_ids, vec![2]);
        assert_eq!(c.status, vec![MatchStatus::NewUnique]);
        assert!((c.confidence[0] - 0.8).abs() < 1e-6);
    }

    #[test]
    fn incremental_labels_hold_without_merging_baseline_clusters() {
        // Baseline clusters 7 = {0} and 9 = {1}; new records 2 and 3.
        // The model says 2 ≈ 0 and 3 is unlike everything; labels say
        // 2 ≠ 0, 3 = 1, and 2 = 1 = 0 would merge 7 and 9.
        let pairs = [sp(2, 0, 0.99), sp(2, 3, 0.1)];
        let labels = Constraints {
            must: vec![CandidatePair::new(3, 1), CandidatePair::new(2, 1), CandidatePair::new(2, 0)],
            cannot: vec![CandidatePair::new(2, 0)],
        };
        let c = cluster_incremental(&[7, 9], 2, &pairs, &opts(0.5), &labels, rules(false, 10), |_, _| 0.0);
        // 3 and 2 join 9 (their first must-links); 2 = 0 would merge 7 and 9.
        assert_eq!(c.match_ids, vec![9, 9]);
        assert!(c.merges.is_empty());
        let c = cluster_incremental(&[7, 9], 2, &pairs, &opts(0.5), &labels, rules(true, 10), |_, _| 0.0);
        assert_eq!(c.match_ids, vec![7, 7]);
        assert_eq!(c.merges, vec![(7, 9)]);
    }
}
