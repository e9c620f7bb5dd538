//! Exact blocking keys.
//!
//! Each key is a recipe of one or two parts; a record gets a key when all
//! parts are present. Every value is a key alone (an e-mail and its user,
//! a phone, a name's phonetic code, a date, a postcode, a short text), and so is
//! every word of a name, text or address column, so a changed word leaves
//! the others; the cheaper parts (name codes, date, postcode, short text,
//! number) are also keys in pairs. Two name columns also give an
//! order-free key of both codes, which catches swapped first and last
//! names. Keys are not equal: [`KeyRanking`] weighs each by its rarity,
//! and keys too common to rank anything are never emitted.

use std::hash::{Hash, Hasher};
use std::ops::Range;

use rayon::prelude::*;

use super::Mode;
use crate::cache::prefetch;
use crate::config::{ColumnKind, TransformDef};
use crate::record::{CandidatePair, Column, RecordId, Records};

/// Names longer than this get no [`Recipe::Letters`] key.
const MAX_LETTERS: usize = 32;
/// At most this many name columns share [`Recipe::Letters`] keys.
const MAX_LETTER_COLUMNS: usize = 4;

/// Records keyed or ranked per task.
const KEY_CHUNK: usize = 4096;

/// The records of chunk `chunk` of `n` (see [`KEY_CHUNK`]).
fn chunk_ids(chunk: usize, n: usize) -> impl Iterator<Item = RecordId> {
    (chunk * KEY_CHUNK..n.min((chunk + 1) * KEY_CHUNK)).map(|i| i as RecordId)
}
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
    /// An e-mail's user (before the `@`), of at least three characters: a
    /// typo in the domain leaves it.
    User(usize),
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
            Part::User(c) => {
                let v = cols[c].value(id);
                let user = v.rsplit_once('@').map_or("", |(user, _)| user);
                user.hash(h);
                user.len() >= 3
            }
        }
    }
}

/// How a recipe makes keys.
#[derive(Clone, Debug)]
enum Recipe {
    /// One key of all the parts, when every part is present.
    Parts(Vec<Part>),
    /// One key per distinct word (of two characters or more) of a column.
    Words(usize),
    /// One key per name column: the name's letters in sorted order, of at
    /// least four. Letters swapped by a typo (`osrac`, `oscar`) change the
    /// phonetic code, not these; and the columns share one key space, so a
    /// first name given as the surname (`harrison nomran`, `norman
    /// harrison`) still meets itself.
    Letters(Vec<usize>),
}

/// The key recipes of a definition.
fn recipes(def: &TransformDef) -> Vec<Recipe> {
    let mut recipes = Vec::new();
    let mut parts = Vec::new();
    let mut names = Vec::new();
    for (col, (_, kind)) in def.matched_columns().enumerate() {
        match kind {
            ColumnKind::Email => {
                recipes.push(Recipe::Parts(vec![Part::Value(col)]));
                recipes.push(Recipe::Parts(vec![Part::User(col)]));
            }
            ColumnKind::Phone | ColumnKind::Id => recipes.push(Recipe::Parts(vec![Part::Value(col)])),
            ColumnKind::Name => {
                parts.push(Part::Code(col));
                names.push(col);
                recipes.push(Recipe::Parts(vec![Part::Code(col)]));
                recipes.push(Recipe::Words(col));
            }
            ColumnKind::Date | ColumnKind::Postcode | ColumnKind::Number => {
                parts.push(Part::Value(col));
                recipes.push(Recipe::Parts(vec![Part::Value(col)]));
            }
            ColumnKind::Text => {
                parts.push(Part::Value(col));
                recipes.push(Recipe::Parts(vec![Part::Value(col)]));
                recipes.push(Recipe::Words(col));
            }
            ColumnKind::Address => {
                recipes.push(Recipe::Parts(vec![Part::Value(col)]));
                recipes.push(Recipe::Words(col));
            }
            ColumnKind::Category | ColumnKind::Ignore => {}
        }
    }
    parts.truncate(MAX_PAIRED_PARTS);
    for (i, &p) in parts.iter().enumerate() {
        for &q in &parts[i + 1..] {
            recipes.push(Recipe::Parts(vec![p, q]));
        }
    }
    for (i, &x) in names.iter().enumerate() {
        for &y in &names[i + 1..] {
            recipes.push(Recipe::Parts(vec![Part::Codes(x, y)]));
        }
    }
    if !names.is_empty() {
        names.truncate(MAX_LETTER_COLUMNS);
        recipes.push(Recipe::Letters(names));
    }
    recipes
}

/// Recipe `r`'s key of one word.
fn word_key(r: usize, word: &str) -> u64 {
    let mut h = KeyHasher::default();
    h.write_u64(r as u64);
    word.hash(&mut h);
    h.finish()
}

/// Recipe `r`'s key of a name's letters in sorted order (none for names
/// shorter than four letters or longer than [`MAX_LETTERS`]).
fn letters_key(r: usize, name: &str) -> Option<u64> {
    let v = name.as_bytes();
    if v.len() < 4 || v.len() > MAX_LETTERS {
        return None;
    }
    let mut letters = [0u8; MAX_LETTERS];
    letters[..v.len()].copy_from_slice(v);
    letters[..v.len()].sort_unstable();
    let mut h = KeyHasher::default();
    h.write_u64(r as u64);
    letters[..v.len()].hash(&mut h);
    Some(h.finish())
}

impl Part {
    /// The part's value for record `id`, as a report shows it.
    fn shown(self, records: &Records, id: RecordId) -> String {
        let cols = records.columns();
        match self {
            Part::Value(c) => cols[c].value(id).to_string(),
            Part::Code(c) => cols[c].code(id).to_string(),
            Part::Codes(x, y) => {
                let (a, b) = (cols[x].code(id), cols[y].code(id));
                if a <= b {
                    format!("{a} {b}")
                } else {
                    format!("{b} {a}")
                }
            }
            Part::User(c) => cols[c].value(id).rsplit_once('@').map_or("", |(user, _)| user).to_string(),
        }
    }

    /// What the part is, as a report names it.
    fn name(self, records: &Records) -> String {
        let col = |c: usize| records.columns()[c].name();
        match self {
            Part::Value(c) => col(c).to_string(),
            Part::Code(c) => format!("{} code", col(c)),
            Part::Codes(x, y) => format!("{} and {} codes", col(x), col(y)),
            Part::User(c) => format!("{} user", col(c)),
        }
    }
}

impl Recipe {
    /// What the recipe's keys are, as a report names them.
    fn name(&self, records: &Records) -> String {
        let col = |c: usize| records.columns()[c].name();
        match self {
            Recipe::Parts(parts) => parts.iter().map(|p| p.name(records)).collect::<Vec<_>>().join(" + "),
            Recipe::Words(c) => format!("words of {}", col(*c)),
            Recipe::Letters(cols) => {
                format!("letters of {}", cols.iter().map(|&c| col(c)).collect::<Vec<_>>().join(", "))
            }
        }
    }

    /// Recipe `r`'s `key`, which record `id` has and `size` records
    /// share, as a report shows it.
    fn describe(&self, records: &Records, r: usize, key: u64, id: RecordId, size: usize) -> KeyBlock {
        let value = match self {
            Recipe::Parts(parts) => {
                parts.iter().map(|p| p.shown(records, id)).collect::<Vec<_>>().join(" + ")
            }
            Recipe::Words(c) => (records.columns()[*c].tokens())
                .and_then(|t| t.get(id as usize).iter().map(|&w| t.token(w)).find(|w| word_key(r, w) == key))
                .unwrap_or_default()
                .to_string(),
            Recipe::Letters(cols) => (cols.iter())
                .map(|&c| records.columns()[c].value(id))
                .find(|v| letters_key(r, v) == Some(key))
                .unwrap_or_default()
                .to_string(),
        };
        KeyBlock { recipe: self.name(records), value, records: size }
    }
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

/// The keys of recipe `r` for record `id`, each given to `emit`. With
/// `max_block`, keys known to be shared by more records than that (a
/// single value or word that common) are left out: their blocks would be
/// skipped anyway.
fn recipe_keys(
    records: &Records,
    r: usize,
    recipe: &Recipe,
    id: RecordId,
    max_block: Option<usize>,
    emit: &mut dyn FnMut(u64),
) {
    let too_common = |count: u32| max_block.is_some_and(|m| count as usize > m);
    match recipe {
        Recipe::Parts(parts) => {
            let cols = records.columns();
            if let [part] = parts.as_slice() {
                let count = match *part {
                    Part::Value(c) => cols[c].frequency(id),
                    Part::Code(c) => cols[c].code_frequency(id),
                    Part::Codes(..) | Part::User(_) => 0,
                };
                if too_common(count) {
                    return;
                }
            }
            let mut h = KeyHasher::default();
            h.write_u64(r as u64);
            if parts.iter().all(|p| p.write(records, id, &mut h)) {
                emit(h.finish());
            }
        }
        Recipe::Letters(cols) => {
            let mut emitted = [0u64; MAX_LETTER_COLUMNS];
            for (i, &c) in cols.iter().enumerate() {
                let Some(key) = letters_key(r, records.columns()[c].value(id)) else { continue };
                // Two columns of one record with the same letters: one key.
                if !emitted[..i].contains(&key) {
                    emit(key);
                }
                emitted[i] = key;
            }
        }
        Recipe::Words(c) => {
            let Some(tokens) = records.columns()[*c].tokens() else { return };
            let words = tokens.get(id as usize);
            // A one-word value is the column's value: other recipes key it.
            if words.len() < 2 {
                return;
            }
            for &t in words {
                let word = tokens.token(t);
                if word.len() >= 2 && !too_common(tokens.df(t)) {
                    emit(word_key(r, word));
                }
            }
        }
    }
}

/// Every blocking key of the records in `ids`: (key, record), unsorted.
/// The same records give the same keys in every run (the hash is not
/// seeded).
pub fn record_keys(records: &Records, def: &TransformDef, ids: Range<RecordId>) -> Vec<(u64, RecordId)> {
    record_keys_below(records, def, ids, None)
}

/// [`record_keys`] without the keys known (from the records' value and
/// word counts) to be shared by more than `max_block` records: the blocks
/// batch blocking would skip.
pub fn record_keys_below(
    records: &Records,
    def: &TransformDef,
    ids: Range<RecordId>,
    max_block: Option<usize>,
) -> Vec<(u64, RecordId)> {
    let recipes = recipes(def);
    ids.into_par_iter()
        .flat_map_iter(|id| {
            let mut keys = Vec::new();
            for (r, recipe) in recipes.iter().enumerate() {
                recipe_keys(records, r, recipe, id, max_block, &mut |k| keys.push(k));
            }
            keys.into_iter().map(move |k| (k, id))
        })
        .collect()
}

/// How exact keys choose each record's candidates (the same rule in
/// batch blocking and in baseline lookups).
///
/// Each other record sharing a key with a record is ranked by the summed
/// weight of the keys they share, a key weighing the more the rarer it is
/// (`ln(population / block size)`, an idf); blocks of more than
/// `max_block` records are skipped. A record keeps its `neighbours` best.
///
/// How many that is follows the data's size: the candidates of all
/// records together may number about [`PAIR_BUDGET`] (scaled by
/// `accuracy_cost_tradeoff`), so a small file gets many neighbours per
/// record (up to 50 by default: a citation cited 60 times has that many
/// true matches) and a large one few (at least 4 by default: a million
/// customers have more look-alikes than a thousand, not more duplicates
/// each). When only the few are kept, a neighbour must also share more
/// than one common key's worth ([`MIN_SHARED_KEYS`]): two customers with
/// the same first name in the same town share a key or two and nothing
/// else, while a duplicate with a typo in one field still shares most.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct KeyRanking {
    /// Blocks larger than this are too common a value to mean anything.
    pub max_block: usize,
    /// Candidates kept per record.
    pub neighbours: usize,
    /// The weight a candidate must reach (0: none), unless it is the
    /// record's best.
    min_weight: f32,
    /// How many records the keys are counted over.
    population: f32,
}

/// Candidate pairs, about, that key ranking keeps in all at the default
/// `accuracy_cost_tradeoff` (scaled by twice the knob).
const PAIR_BUDGET: f64 = 200_000.0;
/// Neighbours per record, at most, at the default knob (scaled likewise).
const MAX_NEIGHBOURS: f64 = 50.0;
/// When a record keeps only the fewest neighbours, a neighbour other than
/// its best must share keys weighing this many keys of the largest block.
const MIN_SHARED_KEYS: f32 = 2.0;

impl KeyRanking {
    /// The ranking a definition's tuning asks for, over `population`
    /// records.
    pub fn new(def: &TransformDef, population: usize) -> KeyRanking {
        let tuning = &def.tuning;
        let t = tuning.accuracy_cost_tradeoff;
        let fewest = tuning.key_neighbours();
        let most = ((MAX_NEIGHBOURS * 2.0 * t).round() as usize).max(fewest);
        let neighbours = ((PAIR_BUDGET * 2.0 * t / population.max(1) as f64) as usize).clamp(fewest, most);
        let mut ranking = KeyRanking {
            max_block: tuning.max_block(),
            neighbours,
            min_weight: 0.0,
            population: population.max(2) as f32,
        };
        if neighbours == fewest {
            ranking.min_weight = MIN_SHARED_KEYS * ranking.key_weight(ranking.max_block);
        }
        ranking
    }

    /// A wider net: twice as many candidates are kept, whatever they
    /// share (for labeling sets, which need near misses).
    pub fn widened(self) -> KeyRanking {
        KeyRanking { neighbours: 2 * self.neighbours, min_weight: 0.0, ..self }
    }

    /// What sharing one key of a block of `size` records adds to a
    /// candidate's weight: the key's idf, in whole 1/1024ths, so that sums
    /// of weights are exact in any order (equal sums are true ties, broken
    /// by id, not by rounding).
    #[inline]
    pub fn key_weight(&self, size: usize) -> f32 {
        ((self.population / size.max(2) as f32).ln().max(0.01) * 1024.0).round() / 1024.0
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
        self.rank_distinct(scored)
    }

    /// [`KeyRanking::rank`] of candidates whose weights are summed already
    /// (each id once).
    pub fn rank_distinct<'s>(&self, scored: &'s mut Vec<(u32, f32)>) -> &'s [(u32, f32)] {
        let keep = if scored.iter().any(|s| s.1 >= self.min_weight) {
            scored.retain(|s| s.1 >= self.min_weight);
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
    census: KeyCensus,
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
/// one recipe's keys are held at once); with `queried`, only blocks that
/// may hold a record it marks (see [`KeyFilter`]).
fn blocks(
    records: &Records,
    def: &TransformDef,
    max_block: usize,
    mode: Mode,
    queried: Option<&[bool]>,
) -> Blocks {
    let sources = records.sources();
    let mut blocks = Blocks { start: vec![0], members: Vec::new(), census: KeyCensus::default() };
    let mut keyed: Vec<(u64, RecordId)> = Vec::new();
    let recipes = recipes(def);
    // The largest blocks kept and skipped: (size, recipe, key, a member).
    let (mut largest, mut capped) = (Vec::new(), Vec::new());
    for (r, recipe) in recipes.iter().enumerate() {
        let filter = queried.map(|q| {
            let mut sampled = Vec::new();
            recipe_keyed(records, r, recipe, max_block, Some(q), None, &mut sampled);
            KeyFilter::new(sampled.iter().map(|&(k, _)| k))
        });
        recipe_keyed(records, r, recipe, max_block, None, filter.as_ref(), &mut keyed);
        keyed.par_sort_unstable();
        for block in keyed.chunk_by(|x, y| x.0 == y.0) {
            if block.len() > max_block {
                blocks.census.capped_blocks += 1;
                keep_largest(&mut capped, (block.len(), r, block[0].0, block[0].1));
                continue;
            }
            if block.len() < 2 {
                continue;
            }
            let first = sources[block[0].1 as usize];
            if !block.iter().any(|&(_, b)| mode.allows(first, sources[b as usize])) {
                continue;
            }
            keep_largest(&mut largest, (block.len(), r, block[0].0, block[0].1));
            blocks.members.extend(block.iter().map(|&(_, id)| id));
            blocks.start.push(blocks.members.len() as u32);
        }
    }
    let describe = |found: Vec<(usize, usize, u64, RecordId)>| -> Vec<KeyBlock> {
        let mut found = found;
        found.sort_by_key(|x| std::cmp::Reverse(x.0));
        found.truncate(CENSUS_KEYS);
        (found.into_iter()).map(|(size, r, key, id)| recipes[r].describe(records, r, key, id, size)).collect()
    };
    blocks.census.largest = describe(largest);
    blocks.census.capped = describe(capped);
    blocks
}

/// Keys a [`KeyCensus`] lists of each kind.
const CENSUS_KEYS: usize = 10;

/// Keep `block` if it may be among the [`CENSUS_KEYS`] largest (the list
/// is cut back now and then, so it stays short however many blocks).
fn keep_largest(found: &mut Vec<(usize, usize, u64, RecordId)>, block: (usize, usize, u64, RecordId)) {
    found.push(block);
    if found.len() >= 8 * CENSUS_KEYS {
        found.sort_by_key(|x| std::cmp::Reverse(x.0));
        found.truncate(CENSUS_KEYS);
    }
}

/// A blocking key, as a report shows it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct KeyBlock {
    /// What makes the key: `last_name code`, `words of street`,
    /// `first_name code + birth_date`.
    pub recipe: String,
    /// Its value, as a record holding it has it.
    pub value: String,
    /// Records sharing it.
    pub records: usize,
}

/// The largest blocks of a run's keys, and the ones too large to use.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct KeyCensus {
    /// The largest blocks kept, largest first.
    pub largest: Vec<KeyBlock>,
    /// The largest blocks skipped (more records than the block limit
    /// share them), largest first. Single values and words known to be
    /// that common are skipped before blocks are made: see
    /// [`common_values`].
    pub capped: Vec<KeyBlock>,
    /// How many blocks were skipped.
    pub capped_blocks: usize,
}

/// The single values and words too common to be keys (shared by more than
/// `max_block` records), most common first, at most [`CENSUS_KEYS`]:
/// blocking leaves them out before making blocks, so the census of blocks
/// never sees them.
pub fn common_values(records: &Records, def: &TransformDef, max_block: usize) -> Vec<KeyBlock> {
    let mut found: Vec<KeyBlock> = Vec::new();
    let cols = records.columns();
    for recipe in recipes(def) {
        match &recipe {
            Recipe::Parts(parts) if parts.len() == 1 => {
                type Of = (usize, fn(&Column, RecordId) -> &str, fn(&Column, RecordId) -> u32);
                let (c, value, count): Of = match parts[0] {
                    Part::Value(c) => (c, Column::value, Column::frequency),
                    Part::Code(c) => (c, Column::code, Column::code_frequency),
                    Part::Codes(..) | Part::User(_) => continue,
                };
                let mut seen = std::collections::HashSet::new();
                for id in 0..records.len() as RecordId {
                    let n = count(&cols[c], id) as usize;
                    if n > max_block && seen.insert(value(&cols[c], id)) {
                        let value = value(&cols[c], id).to_string();
                        found.push(KeyBlock { recipe: recipe.name(records), value, records: n });
                    }
                }
            }
            Recipe::Words(c) => {
                let Some(tokens) = cols[*c].tokens() else { continue };
                for t in 0..tokens.vocabulary() {
                    let n = tokens.df(t) as usize;
                    if n > max_block {
                        let value = tokens.token(t).to_string();
                        found.push(KeyBlock { recipe: recipe.name(records), value, records: n });
                    }
                }
            }
            _ => {}
        }
    }
    found.sort_by(|x, y| y.records.cmp(&x.records).then_with(|| x.value.cmp(&y.value)));
    found.truncate(CENSUS_KEYS);
    found
}

/// Recipe `r`'s keys (below `max_block`'s known commonness) of the
/// records `take` marks (all: None) that `filter` may hold, into `keyed`
/// (cleared), unsorted.
fn recipe_keyed(
    records: &Records,
    r: usize,
    recipe: &Recipe,
    max_block: usize,
    take: Option<&[bool]>,
    filter: Option<&KeyFilter>,
    keyed: &mut Vec<(u64, RecordId)>,
) {
    let n = records.len();
    keyed.clear();
    keyed.par_extend((0..n.div_ceil(KEY_CHUNK)).into_par_iter().flat_map_iter(|chunk| {
        let mut out = Vec::new();
        for id in chunk_ids(chunk, n) {
            if take.is_none_or(|t| t[id as usize]) {
                recipe_keys(records, r, recipe, id, Some(max_block), &mut |k| {
                    if filter.is_none_or(|f| f.may_hold(k)) {
                        out.push((k, id))
                    }
                });
            }
        }
        out
    }));
}

/// The keys of a few records, as a bit set: a key that is not among them
/// is told apart (no false negatives, a few false positives), so the
/// blocks of a sample of records are found without sorting the keys of
/// all the others.
struct KeyFilter {
    bits: Vec<u64>,
    mask: u64,
}

impl KeyFilter {
    fn new(keys: impl ExactSizeIterator<Item = u64>) -> KeyFilter {
        // About 16 bits a key: one key in 16 others passes by chance.
        let size = (keys.len() * 16).next_power_of_two().max(64);
        let mut filter = KeyFilter { bits: vec![0; size / 64], mask: size as u64 - 1 };
        for k in keys {
            let bit = k & filter.mask;
            filter.bits[(bit / 64) as usize] |= 1 << (bit % 64);
        }
        filter
    }

    #[inline]
    fn may_hold(&self, key: u64) -> bool {
        let bit = key & self.mask;
        self.bits[(bit / 64) as usize] & (1 << (bit % 64)) != 0
    }
}

/// Each record's key neighbours (see [`KeyRanking`]), as pairs, and the
/// census of the blocks; with `queried`, only the neighbours of the
/// records it marks.
pub fn key_pairs(
    records: &Records,
    def: &TransformDef,
    ranking: &KeyRanking,
    mode: Mode,
    queried: Option<&[bool]>,
) -> (Vec<CandidatePair>, KeyCensus) {
    let n = records.len();
    let blocks = blocks(records, def, ranking.max_block, mode, queried);
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
    let weight: Vec<f32> = (0..blocks.len()).map(|b| ranking.key_weight(blocks.get(b).len())).collect();
    let pairs = (0..n.div_ceil(KEY_CHUNK))
        .into_par_iter()
        .flat_map_iter(|chunk| {
            // Each candidate's summed weight, found through `slot` (a
            // sparse set: `slot[o]` is o's place in `scratch` when that
            // place holds o, so it is never reset).
            let mut slot = vec![0u32; n];
            let mut scratch: Vec<(RecordId, f32)> = Vec::new();
            let mut out = Vec::new();
            for id in chunk_ids(chunk, n) {
                if queried.is_some_and(|q| !q[id as usize]) {
                    continue;
                }
                scratch.clear();
                let source = sources[id as usize];
                // Blocks and candidates are anywhere: ask for the next
                // record's block bounds, this record's members, and the
                // next block's candidates' slots ahead of use.
                let of = |id: usize| &of_record[start[id] as usize..start[id + 1] as usize];
                if id as usize + 1 < n {
                    for &b in of(id as usize + 1) {
                        prefetch(&blocks.start, b as usize);
                    }
                }
                let mine = of(id as usize);
                for &b in mine {
                    prefetch(&blocks.members, blocks.start[b as usize] as usize);
                }
                for (j, &b) in mine.iter().enumerate() {
                    if let Some(&next) = mine.get(j + 1) {
                        for &o in blocks.get(next as usize) {
                            prefetch(&slot, o as usize);
                        }
                    }
                    let w = weight[b as usize];
                    for &o in blocks.get(b as usize) {
                        if o == id || !mode.allows(source, sources[o as usize]) {
                            continue;
                        }
                        let at = slot[o as usize] as usize;
                        if at < scratch.len() && scratch[at].0 == o {
                            scratch[at].1 += w;
                        } else {
                            slot[o as usize] = scratch.len() as u32;
                            scratch.push((o, w));
                        }
                    }
                }
                out.extend(
                    ranking.rank_distinct(&mut scratch).iter().map(|&(o, _)| CandidatePair::new(id, o)),
                );
            }
            out
        })
        .collect();
    (pairs, blocks.census)
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    fn ranking(neighbours: usize, min_weight: f32) -> KeyRanking {
        KeyRanking { max_block: 100, neighbours, min_weight, population: 10_000.0 }
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
    fn ranking_sums_the_rarity_of_shared_keys() {
        let r = ranking(2, 0.0);
        let (small, big) = (r.key_weight(2), r.key_weight(50));
        assert!(small > big && big > 0.0);
        let mut s = vec![(5, big), (3, small), (5, big), (9, small), (9, big), (1, big)];
        let kept: Vec<u32> = r.rank(&mut s).iter().map(|x| x.0).collect();
        assert_eq!(kept, vec![9, 5], "two keys beat one; a rarer key beats a commoner");
        let mut s = vec![(2, small)];
        assert_eq!(ranking(4, 0.0).rank(&mut s).len(), 1);
        let two = 2.0 * big;
        let mut s = vec![(2, small), (3, big), (3, big)];
        let kept: Vec<u32> = ranking(4, two).rank(&mut s).iter().map(|x| x.0).collect();
        assert_eq!(kept, vec![3], "one shared key is not enough when two are required");
        let mut s = vec![(2, big), (3, small), (4, big)];
        let kept: Vec<u32> = ranking(4, two + small).rank(&mut s).iter().map(|x| x.0).collect();
        assert_eq!(kept, vec![3], "... unless none shares enough: then the best one stays");
    }

    #[test]
    fn equal_shared_keys_tie_whatever_the_order_they_are_summed_in() {
        let r = KeyRanking { max_block: 100, neighbours: 1, min_weight: 0.0, population: 1_055_413.0 };
        // Sizes whose unrounded idfs sum to more one way than the other.
        for sizes in [[2, 8, 39], [2, 9, 44], [2, 13, 18], [2, 13, 24]] {
            let w = sizes.map(|s| r.key_weight(s));
            // Candidate 9 shares the keys summed one way, 5 the other way.
            let mut s = vec![(9, w[0]), (9, w[1]), (9, w[2]), (5, w[2]), (5, w[1]), (5, w[0])];
            s.sort_by_key(|x| x.0 == 5);
            let mut summed = vec![(9, w[0] + w[1] + w[2]), (5, w[2] + w[1] + w[0])];
            assert_eq!(r.rank(&mut s)[0].0, 5, "a tie goes to the lower id");
            assert_eq!(r.rank_distinct(&mut summed)[0].0, 5, "{sizes:?}");
        }
    }

    #[test]
    fn neighbours_follow_the_data_size() {
        let def = TransformDef::from_toml(
            "primary_key = \"id\"\n[columns]\nname = \"name\"\n",
            std::path::Path::new("d.toml"),
        )
        .unwrap();
        let small = KeyRanking::new(&def, 1_000);
        let large = KeyRanking::new(&def, 1_000_000);
        assert_eq!((small.neighbours, small.min_weight), (50, 0.0), "a small file affords many, all");
        assert_eq!(large.neighbours, 4, "a large one few ...");
        assert!(large.min_weight > large.key_weight(2), "... that share more than one key");
        assert_eq!(KeyRanking::new(&def, 20_000).neighbours, 10);
    }

    /// Records of people (first, last, email) as `Records`.
    pub(in crate::block) fn people(rows: &[[&str; 3]]) -> (TransformDef, Records) {
        people_in(&[rows])
    }

    /// Records of people (first, last, email) from several tables, one
    /// per element of `tables`.
    pub(in crate::block) fn people_in(tables: &[&[[&str; 3]]]) -> (TransformDef, Records) {
        use arrow_array::{RecordBatch, StringArray};
        use arrow_schema::{DataType, Field, Schema};
        use std::sync::Arc;
        let def = TransformDef::from_toml(
            "primary_key = \"id\"\n[columns]\nfirst = \"name\"\nlast = \"name\"\nemail = \"email\"\n",
            std::path::Path::new("d.toml"),
        )
        .unwrap();
        let names = ["id", "first", "last", "email"];
        let schema = Arc::new(Schema::new(names.map(|n| Field::new(n, DataType::Utf8, true)).to_vec()));
        let tables: Vec<crate::read::Table> = tables
            .iter()
            .enumerate()
            .map(|(t, rows)| {
                let column = |i: usize| -> Arc<dyn arrow_array::Array> {
                    Arc::new(StringArray::from_iter_values(rows.iter().enumerate().map(|(r, row)| {
                        if i == 0 {
                            format!("p{t}_{r}")
                        } else {
                            row[i - 1].to_string()
                        }
                    })))
                };
                let batch = RecordBatch::try_new(schema.clone(), (0..4).map(column).collect()).unwrap();
                crate::read::Table::from_batch(format!("people{t}"), batch)
            })
            .collect();
        let refs: Vec<&crate::read::Table> = tables.iter().collect();
        let records = Records::build(&def, &refs).unwrap();
        (def, records)
    }

    /// Whether records 0 and 1 share a blocking key.
    fn share_a_key(rows: &[[&str; 3]]) -> bool {
        let (def, records) = people(rows);
        let keys = record_keys(&records, &def, 0..2);
        let of = |id: RecordId| -> Vec<u64> { keys.iter().filter(|k| k.1 == id).map(|k| k.0).collect() };
        let first = of(0);
        of(1).iter().any(|k| first.contains(k))
    }

    #[test]
    fn typos_in_letters_order_columns_and_domains_still_share_a_key() {
        // Nothing equal, nothing sounding alike: only the letters, across
        // the two name columns.
        assert!(share_a_key(&[["harrison", "nomran", ""], ["norman", "harrisson", ""]]));
        // Only the e-mail's user.
        assert!(share_a_key(&[["", "", "ar20@miller-torres.org"], ["", "", "ar20@miller-tores.org"]]));
        assert!(!share_a_key(&[["harrison", "nomran", "ab@x.org"], ["henry", "harris", "ab@y.org"]]));
    }

    #[test]
    fn a_sample_finds_the_same_blocks_as_all_records() {
        // Families sharing surnames, e-mail domains and first names, so
        // blocks overlap in many ways.
        let rows: Vec<[String; 3]> = (0..400)
            .map(|i| {
                let first = ["anna", "ben", "carla", "dev", "eve"][i % 5];
                let last = format!("smith{}", i % 37);
                [first.to_string(), last, format!("{first}{}@x{}.org", i % 11, i % 7)]
            })
            .collect();
        let rows: Vec<[&str; 3]> =
            rows.iter().map(|r| [r[0].as_str(), r[1].as_str(), r[2].as_str()]).collect();
        let (def, records) = people(&rows);
        let queried: Vec<bool> = (0..rows.len()).map(|i| i % 9 == 0).collect();
        let listed = |b: &Blocks| -> Vec<Vec<RecordId>> {
            let mut all: Vec<Vec<RecordId>> = (0..b.len())
                .map(|i| b.get(i).to_vec())
                .filter(|m| m.iter().any(|&id| queried[id as usize]))
                .collect();
            all.sort();
            all
        };
        let every = listed(&blocks(&records, &def, 20, Mode::Dedup, None));
        let sampled = listed(&blocks(&records, &def, 20, Mode::Dedup, Some(&queried)));
        assert!(every.len() > 50, "the rows make blocks");
        assert_eq!(sampled, every);
    }

    #[test]
    fn the_census_names_the_largest_blocks_and_the_keys_too_common_to_use() {
        // 30 Smiths (too many for blocks of 20), 12 Joneses, and one
        // e-mail shared by 25.
        let rows: Vec<[String; 3]> = (0..60)
            .map(|i| {
                let last = if i < 30 {
                    "smith".to_string()
                } else if i < 42 {
                    "jones".to_string()
                } else {
                    format!("x{i}q")
                };
                let email = if i >= 35 { "info@shop.org".to_string() } else { format!("p{i}@mail.org") };
                [format!("n{i}z"), last, email]
            })
            .collect();
        let rows: Vec<[&str; 3]> =
            rows.iter().map(|r| [r[0].as_str(), r[1].as_str(), r[2].as_str()]).collect();
        let (def, records) = people(&rows);
        let census = blocks(&records, &def, 20, Mode::Dedup, None).census;
        let jones = census.largest.iter().find(|k| k.value == "jones").expect("the 12 Joneses' letters");
        assert_eq!((jones.recipe.as_str(), jones.records), ("letters of first, last", 12));
        assert!(census.largest.windows(2).all(|w| w[0].records >= w[1].records), "largest first");
        assert!(census.largest.len() <= CENSUS_KEYS);
        // The shared e-mail is a single value known to be too common: left
        // out before blocking, so only `common_values` sees it; the
        // Smiths' letters are a block skipped when made.
        let common = common_values(&records, &def, 20);
        let email = common.iter().find(|k| k.recipe == "email").expect("the shared e-mail");
        assert_eq!((email.value.as_str(), email.records), ("info@shop.org", 25));
        assert!(common.iter().any(|k| k.recipe == "last code" && k.records == 30), "{common:?}");
        let smith = census.capped.iter().find(|k| k.value == "smith").expect("the Smiths' letters block");
        assert_eq!((smith.recipe.as_str(), smith.records), ("letters of first, last", 30));
        assert_eq!(census.capped_blocks, census.capped.len());
    }
}
