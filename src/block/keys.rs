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

/// Every blocking key of the records in `ids`: (key, record), unsorted.
/// The same records give the same keys in every run (the hash is not
/// seeded).
pub fn record_keys(records: &Records, def: &TransformDef, ids: Range<RecordId>) -> Vec<(u64, RecordId)> {
    let recipes = recipes(def);
    ids.into_par_iter()
        .flat_map_iter(|id| {
            let recipes = &recipes;
            recipes.iter().enumerate().filter_map(move |(r, parts)| {
                let mut h = std::collections::hash_map::DefaultHasher::new();
                r.hash(&mut h);
                parts.iter().all(|p| p.write(records, id, &mut h)).then(|| (h.finish(), id))
            })
        })
        .collect()
}

/// Pairs of records sharing a key, from blocks of at most `max_block`.
pub fn key_pairs(records: &Records, def: &TransformDef, max_block: usize, mode: Mode) -> Vec<CandidatePair> {
    let mut keyed = record_keys(records, def, 0..records.len() as RecordId);
    keyed.par_sort_unstable();
    let blocks: Vec<&[(u64, RecordId)]> =
        keyed.chunk_by(|x, y| x.0 == y.0).filter(|b| b.len() >= 2 && b.len() <= max_block).collect();
    let sources = records.sources();
    blocks
        .par_iter()
        .flat_map_iter(|block| {
            block.iter().enumerate().flat_map(move |(i, &(_, a))| {
                block[i + 1..]
                    .iter()
                    .filter(move |&&(_, b)| a != b && mode.allows(sources[a as usize], sources[b as usize]))
                    .map(move |&(_, b)| CandidatePair::new(a, b))
            })
        })
        .collect()
}
