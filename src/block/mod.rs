//! Block: candidate pairs without comparing every record with every other.
//!
//! Two sources of candidates, united:
//! - **exact keys** ([`keys`]): records sharing an identifying value
//!   (e-mail, phone, id) or a pair of cheaper ones (phonetic codes of the
//!   names, date, postcode, short text) land in one block; every block up
//!   to [`Tuning::max_block`](crate::config::Tuning::max_block) records
//!   gives all its pairs.
//! - **the index** ([`index`]): a tantivy index over each record's words
//!   and the character trigrams of its names, the fallback for records
//!   exact keys block poorly: each record with fewer key candidates than
//!   [`Tuning::index_fallback_degree`](crate::config::Tuning::index_fallback_degree)
//!   (by default: none) gets its top-k most similar records (BM25), k from
//!   [`Tuning::neighbours`](crate::config::Tuning::neighbours). A query
//!   costs a hundred times a key lookup; querying every record made 133k
//!   generated records take 34 s instead of 7 s, for no more true pairs,
//!   and on DBLP-ACM the extra neighbours cost precision.
//!
//! `accuracy_cost_tradeoff` widens both. In link mode only pairs across the
//! two tables are produced; in incremental mode only pairs that involve a
//! new record.

pub mod index;
pub mod keys;

use rayon::prelude::*;

use crate::compare::CandidatePair;
use crate::config::{TransformDef, Tuning};
use crate::error::Result;
use crate::record::Records;

/// Dedup one table, or link two.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Every pair of records may match.
    Dedup,
    /// Only pairs with one record from each of two tables.
    Link,
    /// Source 0 is an already-clustered baseline, source 1 new records:
    /// new×baseline and new×new pairs, never baseline×baseline.
    Incremental,
}

impl Mode {
    /// Whether records from `sa` and `sb` may pair in this mode.
    #[inline]
    pub fn allows(self, sa: u16, sb: u16) -> bool {
        match self {
            Mode::Dedup => true,
            Mode::Link => sa != sb,
            Mode::Incremental => sa != 0 || sb != 0,
        }
    }
}

/// How many candidates each source gave.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct BlockStats {
    /// Pairs from exact keys (before the union).
    pub key_pairs: usize,
    /// Pairs from the index (before the union).
    pub index_pairs: usize,
    /// Distinct candidate pairs.
    pub candidates: usize,
}

/// All candidate pairs of `records`, sorted and distinct.
pub fn candidates(
    records: &Records,
    def: &TransformDef,
    tuning: &Tuning,
    mode: Mode,
) -> Result<(Vec<CandidatePair>, BlockStats)> {
    let mut pairs = keys::key_pairs(records, def, tuning.max_block(), mode);
    pairs.par_sort_unstable();
    pairs.dedup();
    let key_pairs = pairs.len();
    // The index earns its cost on the records exact keys block poorly:
    // query it for those with too few key candidates.
    let mut degree = vec![0u32; records.len()];
    for p in &pairs {
        degree[p.a as usize] += 1;
        degree[p.b as usize] += 1;
    }
    let fallback = tuning.index_fallback_degree();
    let wanted: Vec<bool> = degree.iter().map(|&d| (d as usize) < fallback).collect();
    let from_index = index::neighbour_pairs(records, tuning.neighbours(), mode, &wanted)?;
    let index_pairs = from_index.len();
    pairs.extend(from_index);
    pairs.par_sort_unstable();
    pairs.dedup();
    let stats = BlockStats { key_pairs, index_pairs, candidates: pairs.len() };
    Ok((pairs, stats))
}
