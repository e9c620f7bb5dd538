//! Exact blocking keys.
//!
//! Each key is a recipe of one or two parts; a record gets a key when all
//! parts are present. Identifying values (e-mail, phone, id) are keys
//! alone; the cheaper parts (phonetic name codes, date, postcode, short
//! text, number) are keys in pairs, so one typo in one field still leaves
//! most keys intact. Two name columns also give an order-free key of both
//! codes, which catches swapped first and last names.

use std::hash::{Hash, Hasher};
use std::ops::Range;

use rayon::prelude::*;

use super::Mode;
use crate::compare::CandidatePair;
use crate::config::{ColumnKind, TransformDef};
use crate::record::{RecordId, Records};

/// At most this many single parts are paired with each other.
const MAX_PAIRED_PARTS: usize = 7;

#[derive(Clone, Copy, Debug)]
enum Part {
    /// The normalized value.
    Value(usize),
    /// The phonetic code (names).
    Code(usize),
    /// The phonetic codes of two name columns, in sorted order.
    Codes(usize, usize),
}

impl Part {
    fn write(self, records: &Records, id: RecordId, h: &mut impl Hasher) -> bool {
        let cols = records.columns();
        match self {
            Part::Value(c) => {
                let v = cols[c].value(id);
                v.hash(h);
                v.len() >= 2
            }
            Part::Code(c) => {
                let v = cols[c].code(id);
                v.hash(h);
                !v.is_empty()
            }
            Part::Codes(x, y) => {
                let (a, b) = (cols[x].code(id), cols[y].code(id));
                let (a, b) = if a <= b { (a, b) } else { (b, a) };
                a.hash(h);
                b.hash(h);
                !a.is_empty() && !b.is_empty()
            }
        }
    }
}

/// The key recipes of a definition.
fn recipes(def: &TransformDef) -> Vec<Vec<Part>> {
    let mut recipes = Vec::new();
    let mut parts = Vec::new();
    let mut names = Vec::new();
    for (col, (_, kind)) in def.matched_columns().enumerate() {
        match kind {
            ColumnKind::Email | ColumnKind::Phone | ColumnKind::Id => recipes.push(vec![Part::Value(col)]),
            ColumnKind::Name => {
                parts.push(Part::Code(col));
                names.push(col);
            }
            ColumnKind::Date | ColumnKind::Postcode | ColumnKind::Text | ColumnKind::Number => {
                parts.push(Part::Value(col))
            }
            ColumnKind::Address | ColumnKind::Category | ColumnKind::Ignore => {}
        }
    }
    parts.truncate(MAX_PAIRED_PARTS);
    for (i, &p) in parts.iter().enumerate() {
        for &q in &parts[i + 1..] {
            recipes.push(vec![p, q]);
        }
    }
    for (i, &x) in names.iter().enumerate() {
        for &y in &names[i + 1..] {
            recipes.push(vec![Part::Codes(x, y)]);
        }
    }
    recipes
}

/// The hash of blocking keys. Key tables on disk (baselines) depend on it,
/// so it is defined here, the same on every platform and with every Rust
/// release (std's `DefaultHasher` promises neither): eight bytes at a time,
/// multiply-rotate, then a final avalanche (MurmurHash3's).
#[derive(Clone, Copy, Debug, Default)]
pub struct KeyHasher(u64);

impl KeyHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(26) ^ word).wrapping_mul(0xf135_7aea_2e62_a9c5);
    }
}

impl Hasher for KeyHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            // The length in the free top byte: "ab" and "ab\0" differ.
            self.add(u64::from_le_bytes(word) ^ ((rest.len() as u64) << 56));
        }
    }

    #[inline]
    fn write_u8(&mut self, n: u8) {
        self.add(0x100 | n as u64);
    }

    #[inline]
    fn write_u64(&mut self, n: u64) {
        self.add(n);
    }

    #[inline]
    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        let mut z = self.0;
        z = (z ^ (z >> 33)).wrapping_mul(0xff51_afd7_ed55_8ccd);
        z = (z ^ (z >> 33)).wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        z ^ (z >> 33)
    }
}

/// The key of recipe `r` for record `id`, if the record has all its parts.
fn recipe_key(records: &Records, r: usize, parts: &[Part], id: RecordId) -> Option<u64> {
    let mut h = KeyHasher::default();
    h.write_u64(r as u64);
    parts.iter().all(|p| p.write(records, id, &mut h)).then(|| h.finish())
}

/// Every blocking key of the records in `ids`: (key, record), unsorted.
/// The same records give the same keys in every run (the hash is not
/// seeded).
pub fn record_keys(records: &Records, def: &TransformDef, ids: Range<RecordId>) -> Vec<(u64, RecordId)> {
    let recipes = recipes(def);
    ids.into_par_iter()
        .flat_map_iter(|id| {
            let recipes = &recipes;
            recipes
                .iter()
                .enumerate()
                .filter_map(move |(r, parts)| Some((recipe_key(records, r, parts, id)?, id)))
        })
        .collect()
}

/// How exact keys choose each record's candidates (the same rule in
/// batch blocking and in baseline lookups).
///
/// Each other record sharing a key with a record is ranked by how many
/// keys they share, ties broken towards rarer keys (smaller blocks). A
/// record keeps its `neighbours` best that share at least `min_shared`
/// keys, or, when none does, its single best; blocks of more than
/// `max_block` records are skipped.
///
/// Ranking, rather than pairing every block in full, bounds the candidates
/// per record whatever the data size: a million customers have bigger
/// name and town blocks than a thousand, not more duplicates of each
/// person. And with many recipes one shared key says little (two
/// customers with the same first name in the same town share two, through
/// the town and the postcode, and nothing else), while a duplicate with a
/// typo in one field still shares most.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyRanking {
    /// Blocks larger than this are too common a value to mean anything.
    pub max_block: usize,
    /// Candidates kept per record.
    pub neighbours: usize,
    /// Keys a candidate must share.
    pub min_shared: usize,
    /// How many recipes the definition has.
    recipes: usize,
}

/// With at least this many recipes a candidate must share two keys.
const MANY_RECIPES: usize = 6;

impl KeyRanking {
    /// The ranking a definition's tuning asks for. A candidate must share
    /// two keys when there are many recipes (at least [`MANY_RECIPES`])
    /// and `accuracy_cost_tradeoff` is at most 0.5, else one.
    pub fn new(def: &TransformDef) -> KeyRanking {
        let recipes = recipes(def).len();
        let tuning = &def.tuning;
        let min_shared = if recipes >= MANY_RECIPES && tuning.accuracy_cost_tradeoff <= 0.5 { 2 } else { 1 };
        KeyRanking {
            max_block: tuning.max_block(),
            neighbours: tuning.key_neighbours(),
            min_shared,
            recipes: recipes.max(1),
        }
    }

    /// A wider net: candidates sharing one key count, and twice as many
    /// are kept (for labeling sets, which need near misses).
    pub fn widened(self) -> KeyRanking {
        KeyRanking { neighbours: 2 * self.neighbours, min_shared: 1, ..self }
    }

    /// What sharing one key of a block of `size` records adds to a
    /// candidate's weight: 1 per key, plus less than 1 in all for the
    /// keys' rarity, so the whole part of a weight counts shared keys.
    #[inline]
    pub fn key_weight(&self, size: usize) -> f32 {
        1.0 + 1.0 / (size.max(2) * self.recipes) as f32
    }

    /// Sum the weights of equal ids in `scored` and return the kept
    /// candidates, best first (ties: lower id first), as a prefix of it.
    pub fn rank<'s>(&self, scored: &'s mut Vec<(u32, f32)>) -> &'s [(u32, f32)] {
        scored.sort_unstable_by_key(|s| s.0);
        scored.dedup_by(|later, kept| {
            let same = later.0 == kept.0;
            if same {
                kept.1 += later.1;
            }
            same
        });
        let min = self.min_shared as f32;
        let keep = if scored.iter().any(|s| s.1 >= min) {
            scored.retain(|s| s.1 >= min);
            self.neighbours
        } else {
            1
        };
        let order = |x: &(u32, f32), y: &(u32, f32)| y.1.total_cmp(&x.1).then(x.0.cmp(&y.0));
        if scored.len() > keep {
            scored.select_nth_unstable_by(keep, order);
            scored.truncate(keep);
        }
        scored.sort_unstable_by(order);
        scored
    }
}

/// Blocks as compressed lists: block `b` is `members[start[b]..start[b + 1]]`.
struct Blocks {
    start: Vec<u32>,
    members: Vec<RecordId>,
}

impl Blocks {
    fn len(&self) -> usize {
        self.start.len() - 1
    }

    fn get(&self, b: usize) -> &[RecordId] {
        &self.members[self.start[b] as usize..self.start[b + 1] as usize]
    }
}

/// The blocks of 2 to `max_block` records, one recipe at a time (so only
/// one recipe's keys are held at once).
fn blocks(records: &Records, def: &TransformDef, max_block: usize, mode: Mode) -> Blocks {
    let sources = records.sources();
    let mut blocks = Blocks { start: vec![0], members: Vec::new() };
    let mut keyed: Vec<(u64, RecordId)> = Vec::new();
    for (r, parts) in recipes(def).iter().enumerate() {
        keyed.clear();
        keyed.par_extend(
            (0..records.len() as RecordId)
                .into_par_iter()
                .filter_map(|id| Some((recipe_key(records, r, parts, id)?, id))),
        );
        keyed.par_sort_unstable();
        for block in keyed.chunk_by(|x, y| x.0 == y.0) {
            if block.len() < 2 || block.len() > max_block {
                continue;
            }
            let first = sources[block[0].1 as usize];
            if !block.iter().any(|&(_, b)| mode.allows(first, sources[b as usize])) {
                continue;
            }
            blocks.members.extend(block.iter().map(|&(_, id)| id));
            blocks.start.push(blocks.members.len() as u32);
        }
    }
    blocks
}

/// Each record's key neighbours (see [`KeyRanking`]), as pairs; with
/// `queried`, only the neighbours of the records it marks.
pub fn key_pairs(
    records: &Records,
    def: &TransformDef,
    ranking: &KeyRanking,
    mode: Mode,
    queried: Option<&[bool]>,
) -> Vec<CandidatePair> {
    let n = records.len();
    let blocks = blocks(records, def, ranking.max_block, mode);
    // Each record's blocks.
    let mut start = vec![0u32; n + 1];
    for &id in &blocks.members {
        start[id as usize + 1] += 1;
    }
    for i in 0..n {
        start[i + 1] += start[i];
    }
    let mut fill = start.clone();
    let mut of_record = vec![0u32; blocks.members.len()];
    for b in 0..blocks.len() {
        for &id in blocks.get(b) {
            of_record[fill[id as usize] as usize] = b as u32;
            fill[id as usize] += 1;
        }
    }
    drop(fill);
    let sources = records.sources();
    (0..n as RecordId)
        .into_par_iter()
        .filter(|&id| queried.is_none_or(|q| q[id as usize]))
        .map_init(Vec::new, |scratch: &mut Vec<(RecordId, f32)>, id| {
            scratch.clear();
            let source = sources[id as usize];
            for &b in &of_record[start[id as usize] as usize..start[id as usize + 1] as usize] {
                let block = blocks.get(b as usize);
                let w = ranking.key_weight(block.len());
                scratch.extend(
                    block
                        .iter()
                        .filter(|&&o| o != id && mode.allows(source, sources[o as usize]))
                        .map(|&o| (o, w)),
                );
            }
            ranking.rank(scratch).iter().map(|&(o, _)| CandidatePair::new(id, o)).collect::<Vec<_>>()
        })
        .flatten_iter()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ranking(neighbours: usize, min_shared: usize) -> KeyRanking {
        KeyRanking { max_block: 100, neighbours, min_shared, recipes: 4 }
    }

    #[test]
    fn key_hashes_are_fixed() {
        // Baselines on disk hold these hashes: they must never change.
        let hash = |s: &str| {
            let mut h = KeyHasher::default();
            s.hash(&mut h);
            h.finish()
        };
        assert_eq!(hash(""), 0x7f8e_0ac3_6756_904b);
        assert_eq!(hash("smith"), 0x527e_65e4_60f7_ea6d);
        assert_eq!(hash("a long value of more than eight bytes"), 0x97b6_e355_6420_e652);
        assert_ne!(hash("ab"), hash("ab\0"));
    }

    #[test]
    fn ranking_counts_shared_keys_then_rarity() {
        let r = ranking(2, 1);
        let (small, big) = (r.key_weight(2), r.key_weight(50));
        assert!(small > big && big > 1.0 && 4.0 * small < 5.0, "rarity never outweighs a key");
        let mut s = vec![(5, big), (3, small), (5, big), (9, small), (9, big), (1, big)];
        let kept: Vec<u32> = r.rank(&mut s).iter().map(|x| x.0).collect();
        assert_eq!(kept, vec![9, 5], "two keys beat one; a rarer key breaks the tie");
        let mut s = vec![(2, small)];
        assert_eq!(ranking(4, 1).rank(&mut s).len(), 1);
        let mut s = vec![(2, small), (3, big), (3, big)];
        let kept: Vec<u32> = ranking(4, 2).rank(&mut s).iter().map(|x| x.0).collect();
        assert_eq!(kept, vec![3], "one shared key is not enough when two are required");
        let mut s = vec![(2, big), (3, small), (4, big)];
        let kept: Vec<u32> = ranking(4, 2).rank(&mut s).iter().map(|x| x.0).collect();
        assert_eq!(kept, vec![3], "... unless no candidate shares two: then the best one stays");
    }
}
