//! Block: candidate pairs without comparing every record with every other.
//!
//! Two sources of candidates, united:
//! - **exact keys** ([`keys`]): records sharing an identifying value
//!   (e-mail, phone, id) or a pair of cheaper ones (phonetic codes of the
//!   names, date, postcode, short text) land in one block. Each record
//!   keeps the few others it shares the most keys with
//!   ([`KeyRanking`](keys::KeyRanking)), so candidates per record stay
//!   bounded as the data grows.
//! - **the index** ([`index`]): a tantivy index over each record's words
//!   and the character trigrams of its names, the fallback for records
//!   exact keys block poorly: each record with fewer key candidates than
//!   [`Tuning::index_fallback_degree`](crate::config::Tuning::index_fallback_degree)
//!   (by default: those with none) gets its top-k most similar records (BM25), k from
//!   [`Tuning::index_neighbours`](crate::config::Tuning::index_neighbours).
//!
//! The index earns its cost on free text (titles, descriptions: see
//! [`has_free_text`]), where one changed word defeats every exact key: on
//! DBLP-ACM it lifts recall from 0.93 to 0.98. On short fields (names,
//! dates, codes) the keys already find what it would: on a million
//! generated customers, building it took 8 s and its 8k queries 11 s, for
//! no true match more. So by default it is built only for free text;
//! `accuracy_cost_tradeoff` above 0.5 builds it always.
//!
//! In link mode only pairs across the two tables are produced; in
//! incremental mode only pairs that involve a new record.

pub mod agree;
pub mod index;
pub mod keys;

use rayon::prelude::*;

use crate::config::{ColumnKind, TransformDef};
use crate::error::Result;
use crate::record::{CandidatePair, Records};
use keys::{KeyCensus, KeyRanking};

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

/// About `sample` of `n` records, marked, drawn by a hash of their
/// position (the same for the same `n`); all when `n <= sample`.
pub fn sample_mask(n: usize, sample: usize) -> Vec<bool> {
    if n <= sample {
        return vec![true; n];
    }
    let cut = (u64::MAX as f64 * sample as f64 / n as f64) as u64;
    (0..n as u64).map(|i| i.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15) < cut).collect()
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
    /// The largest key blocks, and those too large to use.
    pub keys: KeyCensus,
}

/// Text columns averaging at least this many words are free text.
const FREE_TEXT_WORDS: f64 = 3.0;

/// Whether some text column of `records` is free text: its non-empty
/// values average [`FREE_TEXT_WORDS`] words or more.
pub fn has_free_text(records: &Records) -> bool {
    records.columns().iter().any(|c| {
        c.kind() == ColumnKind::Text
            && c.tokens().is_some_and(|t| {
                let filled = (0..records.len()).filter(|&i| !t.get(i).is_empty()).count();
                let words: usize = (0..records.len()).map(|i| t.get(i).len()).sum();
                is_free_text(filled as u64, words as u64)
            })
    })
}

/// Whether a text column is free text: `filled` records with words hold
/// `words` distinct words in all, [`FREE_TEXT_WORDS`] or more on average.
pub fn is_free_text(filled: u64, words: u64) -> bool {
    filled > 0 && words as f64 >= FREE_TEXT_WORDS * filled as f64
}

/// How candidates are found.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Blocking {
    /// How exact keys choose candidates.
    pub ranking: KeyRanking,
    /// Records with fewer key candidates than this query the index (when
    /// it is used).
    pub fallback_degree: usize,
    /// Neighbours the index returns per query.
    pub index_neighbours: usize,
    /// Use the index even without free text.
    pub always_index: bool,
}

impl Blocking {
    /// The blocking a definition's tuning asks for, over `population`
    /// records.
    pub fn new(def: &TransformDef, population: usize) -> Blocking {
        let tuning = &def.tuning;
        Blocking {
            ranking: KeyRanking::new(def, population),
            fallback_degree: tuning.index_fallback_degree(),
            index_neighbours: tuning.index_neighbours(),
            always_index: tuning.accuracy_cost_tradeoff > 0.5,
        }
    }

    /// The blocking labeling sets are drawn from: a wider key net (see
    /// [`KeyRanking::widened`]) and the index, so the sets hold near misses
    /// and not only what the default blocking keeps, which is mostly true
    /// matches and would teach the model too few non-matches.
    pub fn for_labeling(def: &TransformDef, population: usize) -> Blocking {
        let blocking = Blocking::new(def, population);
        Blocking { ranking: blocking.ranking.widened(), always_index: true, ..blocking }
    }

    /// Whether the index is worth its cost on `records`: when some column
    /// is free text ([`has_free_text`]), or the tuning asks for it always.
    pub fn uses_index(&self, records: &Records) -> bool {
        self.uses_index_given(has_free_text(records))
    }

    /// [`Blocking::uses_index`] when whether the data has free text is
    /// known.
    pub fn uses_index_given(&self, free_text: bool) -> bool {
        self.fallback_degree > 0 && (self.always_index || free_text)
    }

    /// All candidate pairs of `records`, sorted and distinct.
    pub fn candidates(
        &self,
        records: &Records,
        def: &TransformDef,
        mode: Mode,
    ) -> Result<(Vec<CandidatePair>, BlockStats)> {
        self.candidates_of(records, def, mode, None)
    }

    /// The candidates of about `sample` records drawn at random (by a hash
    /// of their position): an unbiased sample of the candidate pairs at a
    /// fraction of the cost, for estimates such as the training threshold.
    pub fn sample_candidates(
        &self,
        records: &Records,
        def: &TransformDef,
        mode: Mode,
        sample: usize,
    ) -> Result<Vec<CandidatePair>> {
        if records.len() <= sample {
            return Ok(self.candidates(records, def, mode)?.0);
        }
        Ok(self.candidates_of(records, def, mode, Some(&sample_mask(records.len(), sample)))?.0)
    }

    /// The candidates of the records `queried` marks (each one's
    /// neighbours), sorted and distinct.
    pub fn candidates_of(
        &self,
        records: &Records,
        def: &TransformDef,
        mode: Mode,
        queried: Option<&[bool]>,
    ) -> Result<(Vec<CandidatePair>, BlockStats)> {
        let (mut pairs, census) = keys::key_pairs(records, def, &self.ranking, mode, queried);
        pairs.par_sort_unstable();
        pairs.dedup();
        let key_pairs = pairs.len();
        // The index earns its cost on the records exact keys block poorly:
        // query it for those with too few key candidates.
        let fallback = if self.uses_index(records) { self.fallback_degree } else { 0 };
        let mut degree = vec![0u32; records.len()];
        for p in &pairs {
            degree[p.a as usize] += 1;
            degree[p.b as usize] += 1;
        }
        let wanted: Vec<bool> = degree
            .iter()
            .enumerate()
            .map(|(i, &d)| (d as usize) < fallback && queried.is_none_or(|q| q[i]))
            .collect();
        let from_index = index::neighbour_pairs(records, self.index_neighbours, mode, &wanted)?;
        let index_pairs = from_index.len();
        pairs.extend(from_index);
        pairs.par_sort_unstable();
        pairs.dedup();
        let stats = BlockStats { key_pairs, index_pairs, candidates: pairs.len(), keys: census };
        Ok((pairs, stats))
    }
}
