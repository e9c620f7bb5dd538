//! Records: the normalized, columnar form of the input that every later
//! stage (block, compare, cluster) reads.
//!
//! [`Records::build`] normalizes each matched column of one or more tables
//! once: the cleaned value, a phonetic code for names, token ids with idf
//! weights for word-bearing kinds, the parsed date or number, and how many
//! records share each value. Values live in flat arenas, so
//! looking one up during comparison is an index, not an allocation.

use std::sync::Arc;

use rustc_hash::FxHashMap;

use arrow_array::Array;
use rayon::prelude::*;
use rphonetic::Encoder;

use crate::cache::prefetch;
use crate::config::{ColumnKind, TransformDef};
use crate::corpus::{ColumnCounts, CorpusStats, PartialCounts, Term};
use crate::error::{Error, Result};
use crate::normalize::{date, DayOrder, Normalizer};
use crate::read::Table;

/// Index of a record within a [`Records`] set.
pub type RecordId = u32;

/// A pair of records to compare; `a < b`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CandidatePair {
    /// The first record.
    pub a: RecordId,
    /// The second record.
    pub b: RecordId,
}

impl CandidatePair {
    /// The pair of `x` and `y` in canonical order.
    pub fn new(x: RecordId, y: RecordId) -> CandidatePair {
        if x < y {
            CandidatePair { a: x, b: y }
        } else {
            CandidatePair { a: y, b: x }
        }
    }
}

/// Strings stored back to back.
#[derive(Debug, Default, Clone)]
struct StrArena {
    bytes: String,
    ends: Vec<u32>,
}

impl StrArena {
    fn push(&mut self, s: &str) {
        self.bytes.push_str(s);
        self.ends.push(self.bytes.len() as u32);
    }

    fn get(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        &self.bytes[start..self.ends[i] as usize]
    }

    /// Every string, in order.
    fn iter(&self) -> impl Iterator<Item = &str> {
        (0..self.ends.len()).map(|i| self.get(i))
    }

    /// Push every string of `other`.
    fn append(&mut self, other: &StrArena) {
        let offset = self.bytes.len() as u32;
        self.bytes.push_str(&other.bytes);
        self.ends.extend(other.ends.iter().map(|e| e + offset));
    }
}

/// Every record's normalized values and phonetic codes, record after
/// record: comparing two records then reads two short runs of bytes
/// instead of one scattered string per column (at a million records,
/// cache misses on per-column arenas were a quarter of the run).
///
/// A record is its fields in order, each a length (one byte, or `0xFF`
/// then four bytes) followed by the UTF-8 bytes.
#[derive(Debug, Default)]
struct RowFields {
    bytes: Vec<u8>,
    starts: Vec<u64>,
}

impl RowFields {
    /// Interleave per-field arenas (all of `n` records).
    fn interleave(fields: &[&StrArena], n: usize) -> RowFields {
        let total: usize = fields.iter().map(|f| f.bytes.len() + n).sum();
        let mut rows = RowFields { bytes: Vec::with_capacity(total), starts: Vec::with_capacity(n + 1) };
        for i in 0..n {
            rows.starts.push(rows.bytes.len() as u64);
            for f in fields {
                let v = f.get(i).as_bytes();
                if v.len() < 0xFF {
                    rows.bytes.push(v.len() as u8);
                } else {
                    rows.bytes.push(0xFF);
                    rows.bytes.extend_from_slice(&(v.len() as u32).to_le_bytes());
                }
                rows.bytes.extend_from_slice(v);
            }
        }
        rows.starts.push(rows.bytes.len() as u64);
        rows
    }

    /// Prefetch record `i`'s offset (`first`) or, the offset being in
    /// cache by then, its bytes.
    #[inline]
    fn prefetch(&self, i: usize, first: bool) {
        if first {
            prefetch(&self.starts, i);
        } else if let Some(&at) = self.starts.get(i) {
            prefetch(&self.bytes, at as usize);
        }
    }

    /// Field `f` of record `i`.
    #[inline]
    fn get(&self, i: usize, f: usize) -> &str {
        let bytes = &self.bytes[self.starts[i] as usize..self.starts[i + 1] as usize];
        let mut at = 0;
        let mut field = 0;
        loop {
            let (len, skip) = match bytes[at] {
                0xFF => {
                    let mut n = [0u8; 4];
                    n.copy_from_slice(&bytes[at + 1..at + 5]);
                    (u32::from_le_bytes(n) as usize, 5)
                }
                len => (len as usize, 1),
            };
            if field == f {
                let value = &bytes[at + skip..at + skip + len];
                // SAFETY: every field was copied whole from a `&str`
                // (`interleave`), so these bytes are valid UTF-8.
                return unsafe { std::str::from_utf8_unchecked(value) };
            }
            at += skip + len;
            field += 1;
        }
    }
}

/// Per record, a sorted set of token ids, with idf weights per token.
#[derive(Debug, Default, Clone)]
pub struct TokenSets {
    ids: Vec<u32>,
    ends: Vec<u32>,
    /// Token text by id.
    vocab: Vec<String>,
    /// Records containing each token.
    df: Vec<u32>,
    /// Inverse document frequency by token id.
    idf: Vec<f32>,
    /// Euclidean norm of each record's idf vector.
    norms: Vec<f32>,
    /// Whether a token may be soft-matched ([`TokenSets::soft_cosine`]).
    soft: Vec<bool>,
    /// Records the frequencies count over, when not these.
    population: Option<u64>,
}

impl TokenSets {
    /// Build token sets from one word list per record.
    fn build<'a>(docs: impl Iterator<Item = Box<dyn Iterator<Item = &'a str> + 'a>>) -> TokenSets {
        let mut sets = TokenSets::gather(docs);
        sets.finish();
        sets
    }

    /// Token sets of one word list per record, with document frequencies
    /// counted among them, not finished.
    fn gather<'a>(docs: impl Iterator<Item = Box<dyn Iterator<Item = &'a str> + 'a>>) -> TokenSets {
        let mut lookup: FxHashMap<&'a str, u32> = FxHashMap::default();
        let mut sets = TokenSets::default();
        let mut scratch: Vec<u32> = Vec::new();
        for words in docs {
            scratch.clear();
            for word in words {
                let next = lookup.len() as u32;
                let id = *lookup.entry(word).or_insert_with(|| {
                    sets.vocab.push(word.to_string());
                    sets.df.push(0);
                    next
                });
                scratch.push(id);
            }
            scratch.sort_unstable();
            scratch.dedup();
            for &id in &scratch {
                sets.df[id as usize] += 1;
            }
            sets.ids.extend_from_slice(&scratch);
            sets.ends.push(sets.ids.len() as u32);
        }
        sets
    }

    /// The union, record by record, of several columns' token sets (the
    /// same records): one vocabulary, built from the columns' vocabularies
    /// rather than from every word of every record again. Not finished.
    fn union(columns: &[&TokenSets], n: usize) -> TokenSets {
        let mut lookup: FxHashMap<&str, u32> = FxHashMap::default();
        let mut sets = TokenSets::default();
        let maps: Vec<Vec<u32>> = columns
            .iter()
            .map(|c| {
                c.vocab
                    .iter()
                    .map(|word| {
                        let next = lookup.len() as u32;
                        *lookup.entry(word.as_str()).or_insert_with(|| {
                            sets.vocab.push(word.clone());
                            next
                        })
                    })
                    .collect()
            })
            .collect();
        let per_record: Vec<Vec<u32>> = (0..n)
            .into_par_iter()
            .map(|i| {
                let mut ids: Vec<u32> = columns
                    .iter()
                    .zip(&maps)
                    .flat_map(|(c, map)| c.get(i).iter().map(|&t| map[t as usize]))
                    .collect();
                ids.sort_unstable();
                ids.dedup();
                ids
            })
            .collect();
        sets.df = vec![0; sets.vocab.len()];
        for ids in &per_record {
            for &id in ids {
                sets.df[id as usize] += 1;
            }
            sets.ids.extend_from_slice(ids);
            sets.ends.push(sets.ids.len() as u32);
        }
        sets
    }

    /// Token ids in the order of the tokens' text, each record's still
    /// sorted. Ids then compare as the words do, whatever records were
    /// read first: sums over a record's tokens (its norm, a cosine) add in
    /// one order, so the records of a part of the data give bit for bit
    /// what the whole gives (see [`Records::assemble`]).
    fn canonicalize(&mut self) {
        if self.vocab.windows(2).all(|w| w[0] < w[1]) {
            return;
        }
        let mut order: Vec<u32> = (0..self.vocab.len() as u32).collect();
        order.par_sort_unstable_by(|&x, &y| self.vocab[x as usize].cmp(&self.vocab[y as usize]));
        let mut rank = vec![0u32; order.len()];
        for (r, &o) in order.iter().enumerate() {
            rank[o as usize] = r as u32;
        }
        let mut vocab = std::mem::take(&mut self.vocab);
        self.vocab = order.iter().map(|&o| std::mem::take(&mut vocab[o as usize])).collect();
        self.df = order.iter().map(|&o| self.df[o as usize]).collect();
        let mut start = 0usize;
        for &end in &self.ends {
            let ids = &mut self.ids[start..end as usize];
            for t in ids.iter_mut() {
                *t = rank[*t as usize];
            }
            ids.sort_unstable();
            start = end as usize;
        }
    }

    /// Document frequencies counted over a whole corpus of `n` records
    /// (this set holding some of them): `df` of each token's text.
    fn count_over(&mut self, n: u64, df: impl Fn(&str) -> u32) {
        self.df = self.vocab.iter().map(|w| df(w)).collect();
        self.population = Some(n);
    }

    /// Idf weights and record norms, from the document frequencies.
    fn finish(&mut self) {
        self.canonicalize();
        let n = self.population.unwrap_or(self.ends.len() as u64).max(1) as f32;
        self.idf = self.df.iter().map(|&df| (1.0 + n / df as f32).ln()).collect();
        self.soft = (self.vocab.iter())
            .map(|w| w.chars().count() >= SOFT_WORD && !w.chars().any(char::is_numeric))
            .collect();
        self.norms = (0..self.ends.len())
            .into_par_iter()
            .map(|i| self.get(i).iter().map(|&t| self.idf[t as usize].powi(2)).sum::<f32>().sqrt())
            .collect();
    }

    /// The token ids of record `i`, sorted.
    pub fn get(&self, i: usize) -> &[u32] {
        &self.ids[self.start(i)..self.ends[i] as usize]
    }

    /// Where record `i`'s token ids begin.
    #[inline]
    fn start(&self, i: usize) -> usize {
        if i == 0 {
            0
        } else {
            self.ends[i - 1] as usize
        }
    }

    /// The text of token `id`.
    pub fn token(&self, id: u32) -> &str {
        &self.vocab[id as usize]
    }

    /// How many distinct tokens there are (ids `0..vocabulary()`).
    pub fn vocabulary(&self) -> u32 {
        self.vocab.len() as u32
    }

    /// How many records hold token `id`.
    pub fn df(&self, id: u32) -> u32 {
        self.df[id as usize]
    }

    /// Prefetch record `i`'s bounds and norm (`first`) or, those being in
    /// cache by then, its token ids.
    #[inline]
    fn prefetch(&self, i: usize, first: bool) {
        if first {
            prefetch(&self.ends, i.wrapping_sub(1));
            prefetch(&self.norms, i);
        } else if i < self.ends.len() {
            prefetch(&self.ids, self.start(i));
        }
    }

    /// Idf-weighted cosine similarity of records `a` and `b`, in [0, 1].
    pub fn cosine(&self, a: usize, b: usize) -> f32 {
        let (na, nb) = (self.norms[a], self.norms[b]);
        if na == 0.0 || nb == 0.0 {
            return 0.0;
        }
        let dot: f32 = merge_common(self.get(a), self.get(b)).map(|t| self.idf[t as usize].powi(2)).sum();
        (dot / (na * nb)).min(1.0)
    }

    /// [`cosine`](Self::cosine) with soft token matching: a word of one
    /// record missing from the other still counts as shared with an
    /// unshared word there one edit away (both of at least
    /// [`SOFT_WORD`] characters, neither with a digit: codes that differ
    /// by one character name different things), weighted by both words' idf. A misspelt
    /// or inflected word ("customes" / "customer", "implementations" /
    /// "implementation") then costs a long title little, as it costs a
    /// short one under a character measure. Each word is matched at most
    /// once; records with many unshared words on both sides (more than
    /// [`SOFT_PAIRS`] word pairs to try) keep the plain cosine.
    pub fn soft_cosine(&self, a: usize, b: usize) -> f32 {
        let (na, nb) = (self.norms[a], self.norms[b]);
        if na == 0.0 || nb == 0.0 {
            return 0.0;
        }
        let (ta, tb) = (self.get(a), self.get(b));
        // One merge: the shared words' mass and each side's unshared
        // soft-matchable words (at most SOFT_PAIRS of them).
        let (mut only_a, mut only_b) = ([0u32; SOFT_PAIRS], [0u32; SOFT_PAIRS]);
        let (mut ka, mut kb) = (0, 0);
        let keep = |t: u32, only: &mut [u32; SOFT_PAIRS], k: &mut usize| {
            if self.soft[t as usize] {
                if *k < SOFT_PAIRS {
                    only[*k] = t;
                }
                *k += 1;
            }
        };
        let mut dot = 0.0f32;
        let (mut i, mut j) = (0, 0);
        while i < ta.len() || j < tb.len() {
            if i < ta.len() && j < tb.len() && ta[i] == tb[j] {
                dot += self.idf[ta[i] as usize].powi(2);
                i += 1;
                j += 1;
            } else if j == tb.len() || (i < ta.len() && ta[i] < tb[j]) {
                keep(ta[i], &mut only_a, &mut ka);
                i += 1;
            } else {
                keep(tb[j], &mut only_b, &mut kb);
                j += 1;
            }
        }
        if ka > 0 && kb > 0 && ka * kb <= SOFT_PAIRS {
            let only_b = &mut only_b[..kb];
            let mut free = kb;
            for &t in &only_a[..ka] {
                let word = self.vocab[t as usize].as_str();
                if let Some(at) =
                    only_b[..free].iter().position(|&u| one_edit_apart(word, &self.vocab[u as usize]))
                {
                    dot += self.idf[t as usize] * self.idf[only_b[at] as usize];
                    free -= 1;
                    only_b.swap(at, free);
                }
            }
        }
        (dot / (na * nb)).min(1.0)
    }

    /// Idf-weighted containment of the smaller token set of `a` and `b` in
    /// the other, in [0, 1]: 1 when every word of one is in the other.
    pub fn containment(&self, a: usize, b: usize) -> f32 {
        let mass = |i: usize| self.get(i).iter().map(|&t| self.idf[t as usize]).sum::<f32>();
        let smaller = mass(a).min(mass(b));
        if smaller <= 0.0 {
            return 0.0;
        }
        let shared: f32 = merge_common(self.get(a), self.get(b)).map(|t| self.idf[t as usize]).sum();
        (shared / smaller).min(1.0)
    }

    /// Jaccard similarity of the token sets of `a` and `b`.
    pub fn jaccard(&self, a: usize, b: usize) -> f32 {
        let (ta, tb) = (self.get(a), self.get(b));
        if ta.is_empty() || tb.is_empty() {
            return 0.0;
        }
        let common = merge_common(ta, tb).count();
        common as f32 / (ta.len() + tb.len() - common) as f32
    }
}

/// Words shorter than this are not soft-matched (one edit turns a short
/// word into another word: "data" / "date").
pub const SOFT_WORD: usize = 5;
/// Longer words (in characters, outside ASCII) are not soft-matched.
const SOFT_WORD_MAX: usize = 48;
/// The most word pairs [`TokenSets::soft_cosine`] tries for one pair of
/// records (and the most unshared words it keeps of each).
pub const SOFT_PAIRS: usize = 64;

/// Whether `a` and `b` differ by exactly one insertion, deletion,
/// substitution or swap of adjacent characters.
fn one_edit_apart(a: &str, b: &str) -> bool {
    if a.len().abs_diff(b.len()) > 2 {
        return false; // more than one character apart, whatever their widths
    }
    if a.is_ascii() && b.is_ascii() {
        one_edit(a.as_bytes(), b.as_bytes())
    } else {
        // On the stack: comparing pairs allocates nothing.
        let chars = |w: &str| {
            let mut out = ['\0'; SOFT_WORD_MAX];
            let mut n = 0;
            for c in w.chars() {
                *out.get_mut(n)? = c;
                n += 1;
            }
            Some((out, n))
        };
        match (chars(a), chars(b)) {
            (Some((a, m)), Some((b, n))) => one_edit(&a[..m], &b[..n]),
            _ => false,
        }
    }
}

fn one_edit<T: PartialEq>(a: &[T], b: &[T]) -> bool {
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    if long.len() - short.len() > 1 || a == b {
        return false;
    }
    let head = short.iter().zip(long).take_while(|(x, y)| x == y).count();
    if short.len() == long.len() {
        // One substitution, or two neighbours swapped.
        short[head + 1..] == long[head + 1..]
            || (head + 1 < short.len()
                && short[head] == long[head + 1]
                && short[head + 1] == long[head]
                && short[head + 2..] == long[head + 2..])
    } else {
        // One character more in `long`.
        short[head..] == long[head + 1..]
    }
}

/// The elements two sorted slices share.
fn merge_common<'a>(a: &'a [u32], b: &'a [u32]) -> impl Iterator<Item = u32> + 'a {
    let (mut i, mut j) = (0, 0);
    std::iter::from_fn(move || {
        while i < a.len() && j < b.len() {
            match a[i].cmp(&b[j]) {
                std::cmp::Ordering::Less => i += 1,
                std::cmp::Ordering::Greater => j += 1,
                std::cmp::Ordering::Equal => {
                    i += 1;
                    j += 1;
                    return Some(a[i - 1]);
                }
            }
        }
        None
    })
}

/// One matched column, normalized.
#[derive(Debug, Clone)]
pub struct Column {
    name: String,
    kind: ColumnKind,
    /// The records' fields (shared by all columns), and which are this
    /// column's value and phonetic code.
    fields: Arc<RowFields>,
    value_field: usize,
    code_field: Option<usize>,
    tokens: Option<TokenSets>,
    numbers: Vec<f64>,
    freq: Vec<u32>,
    code_freq: Vec<u32>,
    mean_freq: f32,
}

/// A column normalized, before its values join the shared record fields.
struct Normalized {
    name: String,
    kind: ColumnKind,
    values: StrArena,
    codes: Option<StrArena>,
    tokens: Option<TokenSets>,
    numbers: Vec<f64>,
    freq: Vec<u32>,
    code_freq: Vec<u32>,
    mean_freq: f32,
}

impl Column {
    /// The column's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The column's kind.
    pub fn kind(&self) -> ColumnKind {
        self.kind
    }

    /// Normalized value of record `i` (`""` when missing).
    #[inline]
    pub fn value(&self, i: RecordId) -> &str {
        self.fields.get(i as usize, self.value_field)
    }

    /// Phonetic code (names) of record `i`, `""` otherwise.
    #[inline]
    pub fn code(&self, i: RecordId) -> &str {
        self.code_field.map_or("", |f| self.fields.get(i as usize, f))
    }

    /// Date (days since 1970) or number of record `i`; NaN when none.
    #[inline]
    pub fn number(&self, i: RecordId) -> f64 {
        self.numbers[i as usize]
    }

    /// Token sets, for word-bearing kinds (name, text, address).
    pub fn tokens(&self) -> Option<&TokenSets> {
        self.tokens.as_ref()
    }

    /// How many records share record `i`'s value (1 when it is missing).
    #[inline]
    pub fn frequency(&self, i: RecordId) -> u32 {
        self.freq[i as usize]
    }

    /// The term-frequency adjustment of an agreement on a value `count`
    /// records hold: `ln(mean frequency / count)`, positive for a value
    /// rarer than the column's typical one, negative for a commoner one.
    #[inline]
    pub fn tf(&self, count: u32) -> f32 {
        (self.mean_freq / count.max(1) as f32).ln().clamp(-8.0, 8.0)
    }

    /// How many records share record `i`'s phonetic code (names; 0
    /// otherwise).
    #[inline]
    pub fn code_frequency(&self, i: RecordId) -> u32 {
        self.code_freq.get(i as usize).copied().unwrap_or(0)
    }
}

/// A view of one record.
#[derive(Clone, Copy)]
pub struct Record<'a> {
    records: &'a Records,
    id: RecordId,
}

impl<'a> Record<'a> {
    /// The record's primary key.
    pub fn key(&self) -> &'a str {
        &self.records.keys[self.id as usize]
    }

    /// Which input table it came from (0 for the first).
    pub fn source(&self) -> u16 {
        self.records.sources[self.id as usize]
    }

    /// Its normalized value in column `c`.
    pub fn value(&self, c: usize) -> &'a str {
        self.records.columns[c].value(self.id)
    }
}

/// Normalized records of one or more tables, in table order.
#[derive(Debug, Clone)]
pub struct Records {
    keys: Vec<String>,
    sources: Vec<u16>,
    source_starts: Vec<usize>,
    columns: Vec<Column>,
    words: TokenSets,
}

impl Records {
    /// Normalize the matched columns of `tables` under `def`. Keys must
    /// be present and unique within each table.
    pub fn build(def: &TransformDef, tables: &[&Table]) -> Result<Records> {
        let mut keys = Vec::new();
        let mut sources = Vec::new();
        let mut source_starts = Vec::new();
        for (s, table) in tables.iter().enumerate() {
            source_starts.push(keys.len());
            let table_keys = table.keys(&def.primary_key)?;
            sources.extend(std::iter::repeat_n(s as u16, table_keys.len()));
            keys.extend(table_keys);
        }
        if keys.len() >= u32::MAX as usize {
            return Err(Error::usage("more than 4 billion records"));
        }
        let mut raw = Vec::new();
        for (name, kind) in def.matched_columns() {
            let arrays = tables.iter().map(|t| t.strings(name)).collect::<Result<Vec<_>>>()?;
            raw.push((name, kind, arrays));
        }
        // Columns in parallel too: counting values and building token sets
        // is sequential within a column.
        let normalized: Vec<Normalized> = raw
            .par_iter()
            .map(|(name, kind, arrays)| {
                let values: Vec<Option<&str>> = arrays
                    .iter()
                    .flat_map(|a| (0..a.len()).map(move |i| (!a.is_null(i)).then(|| a.value(i))))
                    .collect();
                normalize_column(name, *kind, &values)
            })
            .collect();
        Ok(Records::from_normalized(keys, sources, source_starts, normalized, |words| words.finish()))
    }

    /// Assemble the records of one part of the data from their normalized
    /// columns (see [`ColumnValues`]) and the statistics of all the data:
    /// each record is what [`Records::build`] over all the data makes of
    /// it (values, codes, frequencies, word weights, bit for bit). The
    /// records are in the order given, which must keep each source's
    /// records together, sources ascending (of `num_sources`).
    pub fn assemble(
        def: &TransformDef,
        keys: Vec<String>,
        sources: Vec<u16>,
        num_sources: usize,
        columns: Vec<ColumnValues>,
        stats: &CorpusStats,
    ) -> Result<Records> {
        if sources.windows(2).any(|w| w[0] > w[1]) || sources.iter().any(|&s| s as usize >= num_sources) {
            return Err(Error::usage("records to assemble must come source by source"));
        }
        let source_starts = (0..num_sources as u16).map(|s| sources.partition_point(|&x| x < s)).collect();
        let matched: Vec<(&str, ColumnKind)> = def.matched_columns().collect();
        if matched.len() != columns.len() || stats.columns.len() != columns.len() {
            return Err(Error::usage(format!(
                "{} normalized columns and {} counted for {} matched columns",
                columns.len(),
                stats.columns.len(),
                matched.len()
            )));
        }
        let normalized: Vec<Normalized> = columns
            .into_par_iter()
            .zip(matched)
            .zip(&stats.columns)
            .map(|((c, (name, kind)), counts)| c.counted(name, kind, stats.records, counts))
            .collect();
        Ok(Records::from_normalized(keys, sources, source_starts, normalized, |words| {
            words.count_over(stats.records, |w| stats.record_words.of(w));
            words.finish();
        }))
    }

    /// Records from their normalized columns; `finish_words` weighs the
    /// union of their words.
    fn from_normalized(
        keys: Vec<String>,
        sources: Vec<u16>,
        source_starts: Vec<usize>,
        normalized: Vec<Normalized>,
        finish_words: impl FnOnce(&mut TokenSets),
    ) -> Records {
        // Record-major fields: each column's value, then its code if any.
        let mut arenas: Vec<&StrArena> = Vec::new();
        let mut placed = Vec::new();
        for c in &normalized {
            arenas.push(&c.values);
            let value_field = arenas.len() - 1;
            let code_field = c.codes.as_ref().map(|codes| {
                arenas.push(codes);
                arenas.len() - 1
            });
            placed.push((value_field, code_field));
        }
        let fields = Arc::new(RowFields::interleave(&arenas, keys.len()));
        drop(arenas);
        let columns: Vec<Column> = normalized
            .into_iter()
            .zip(placed)
            .map(|(c, (value_field, code_field))| Column {
                name: c.name,
                kind: c.kind,
                fields: Arc::clone(&fields),
                value_field,
                code_field,
                tokens: c.tokens,
                numbers: c.numbers,
                freq: c.freq,
                code_freq: c.code_freq,
                mean_freq: c.mean_freq,
            })
            .collect();
        let with_words: Vec<&TokenSets> = columns.iter().filter_map(|c| c.tokens.as_ref()).collect();
        let mut words = TokenSets::union(&with_words, keys.len());
        finish_words(&mut words);
        Records { keys, sources, source_starts, columns, words }
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// True when there are no records.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Record `id`.
    pub fn get(&self, id: RecordId) -> Record<'_> {
        Record { records: self, id }
    }

    /// Primary keys, by record id.
    pub fn keys(&self) -> &[String] {
        &self.keys
    }

    /// Source table of each record.
    pub fn sources(&self) -> &[u16] {
        &self.sources
    }

    /// The record ids of source table `s`.
    pub fn source_range(&self, s: usize) -> std::ops::Range<usize> {
        let start = self.source_starts[s];
        let end = self.source_starts.get(s + 1).copied().unwrap_or(self.keys.len());
        start..end
    }

    /// Number of source tables.
    pub fn num_sources(&self) -> usize {
        self.source_starts.len()
    }

    /// The matched columns, in definition order.
    pub fn columns(&self) -> &[Column] {
        &self.columns
    }

    /// All words of a record's name, text and address columns.
    pub fn words(&self) -> &TokenSets {
        &self.words
    }

    /// Prefetch what comparing record `id` reads, in two stages some pairs
    /// apart: `first` its offsets, then (those in cache) what they point
    /// to. A hint only: nothing changes but the time.
    #[inline]
    pub fn prefetch(&self, id: RecordId, first: bool) {
        let i = id as usize;
        if let Some(c) = self.columns.first() {
            c.fields.prefetch(i, first);
        }
        for c in &self.columns {
            if let Some(t) = &c.tokens {
                t.prefetch(i, first);
            }
            if first && matches!(c.kind, ColumnKind::Date | ColumnKind::Number) {
                prefetch(&c.numbers, i);
            }
        }
        self.words.prefetch(i, first);
    }
}

/// Values normalized per task.
const NORMALIZE_CHUNK: usize = 4096;

/// One matched column of some records, normalized: each record's cleaned
/// value, the phonetic code of a name, the day or number of a date or
/// number. What a part of the data sends on (as Arrow columns, see
/// [`ColumnValues::from_arrays`]) so that later steps assemble its records
/// without normalizing again.
#[derive(Clone, Debug)]
pub struct ColumnValues {
    kind: ColumnKind,
    values: StrArena,
    codes: Option<StrArena>,
    numbers: Vec<f64>,
}

impl ColumnValues {
    /// Normalize the `values` of a column of `kind`, dates read in
    /// `day_order` (the order the whole column's dates imply, see
    /// [`day_order_votes`]).
    pub fn normalize(kind: ColumnKind, day_order: DayOrder, values: &[Option<&str>]) -> ColumnValues {
        let (values, numbers) = normalize_values(kind, day_order, values);
        let codes = (kind == ColumnKind::Name).then(|| {
            let dm = rphonetic::DoubleMetaphone::default();
            let mut seen: FxHashMap<&str, usize> = FxHashMap::default();
            let mut codes = StrArena::default();
            let mut distinct: Vec<String> = Vec::new();
            for v in values.iter() {
                let at = *seen.entry(v).or_insert_with(|| {
                    distinct.push(phonetic(&dm, v));
                    distinct.len() - 1
                });
                codes.push(&distinct[at]);
            }
            codes
        });
        ColumnValues { kind, values, codes, numbers }
    }

    /// A normalized column given as Arrow arrays of one length: values
    /// (null as missing), codes (names), numbers (dates and numbers; null
    /// as none).
    pub fn from_arrays(
        kind: ColumnKind,
        values: &arrow_array::StringArray,
        codes: Option<&arrow_array::StringArray>,
        numbers: Option<&arrow_array::Float64Array>,
    ) -> Result<ColumnValues> {
        let n = values.len();
        if codes.is_some_and(|c| c.len() != n) || numbers.is_some_and(|x| x.len() != n) {
            return Err(Error::usage("normalized columns of different lengths"));
        }
        if (kind == ColumnKind::Name) != codes.is_some() {
            return Err(Error::usage("phonetic codes are given for name columns, and only for them"));
        }
        let arena = |a: &arrow_array::StringArray| {
            let mut arena = StrArena::default();
            for i in 0..a.len() {
                arena.push(if a.is_null(i) { "" } else { a.value(i) });
            }
            arena
        };
        let numbers = match numbers {
            Some(x) => (0..n).map(|i| if x.is_null(i) { f64::NAN } else { x.value(i) }).collect(),
            None => vec![f64::NAN; n],
        };
        Ok(ColumnValues { kind, values: arena(values), codes: codes.map(arena), numbers })
    }

    /// The column's kind.
    pub fn kind(&self) -> ColumnKind {
        self.kind
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.numbers.len()
    }

    /// True when there are no records.
    pub fn is_empty(&self) -> bool {
        self.numbers.is_empty()
    }

    /// Record `i`'s normalized value ("" when missing).
    pub fn value(&self, i: usize) -> &str {
        self.values.get(i)
    }

    /// Record `i`'s phonetic code (names), else None.
    pub fn code(&self, i: usize) -> Option<&str> {
        self.codes.as_ref().map(|c| c.get(i))
    }

    /// Record `i`'s date (days since 1970) or number, NaN when none.
    pub fn number(&self, i: usize) -> f64 {
        self.numbers[i]
    }

    /// Whether the kind carries a day or number.
    pub fn has_numbers(kind: ColumnKind) -> bool {
        matches!(kind, ColumnKind::Date | ColumnKind::Number)
    }

    /// Keep only records `keep` (positions, in the order wanted).
    pub fn select(&self, keep: &[usize]) -> ColumnValues {
        let pick = |a: &StrArena| {
            let mut out = StrArena::default();
            for &i in keep {
                out.push(a.get(i));
            }
            out
        };
        ColumnValues {
            kind: self.kind,
            values: pick(&self.values),
            codes: self.codes.as_ref().map(pick),
            numbers: keep.iter().map(|&i| self.numbers[i]).collect(),
        }
    }

    /// The column with the frequencies and word weights of a corpus of
    /// `records` records whose counts for this column are `counts`.
    fn counted(self, name: &str, kind: ColumnKind, records: u64, counts: &ColumnCounts) -> Normalized {
        let values = &self.values;
        let freq = values.iter().map(|v| if v.is_empty() { 1 } else { counts.values.of(v) }).collect();
        let code_freq = match &self.codes {
            Some(codes) => values
                .iter()
                .zip(codes.iter())
                .map(|(v, c)| if v.is_empty() { counts.codes.listed(c) } else { counts.codes.of(c) })
                .collect(),
            None => Vec::new(),
        };
        let tokens = matches!(kind, ColumnKind::Name | ColumnKind::Text | ColumnKind::Address).then(|| {
            let mut t = TokenSets::gather(
                values.iter().map(|v| Box::new(words_of(v)) as Box<dyn Iterator<Item = &str>>),
            );
            t.count_over(records, |w| counts.words.of(w));
            t.finish();
            t
        });
        Normalized {
            name: name.to_string(),
            kind,
            values: self.values,
            codes: self.codes,
            tokens,
            numbers: self.numbers,
            freq,
            code_freq,
            mean_freq: counts.mean_frequency(),
        }
    }
}

/// Count what the records of `columns` (the matched columns of some
/// records, in definition order) contribute to the corpus statistics.
pub fn count_terms(columns: &[ColumnValues], counts: &mut PartialCounts) {
    let n = columns.first().map_or(0, ColumnValues::len);
    let mut record_words: Vec<Vec<&str>> = vec![Vec::new(); n];
    for (c, column) in columns.iter().enumerate() {
        let c = c as u32;
        let worded = matches!(column.kind, ColumnKind::Name | ColumnKind::Text | ColumnKind::Address);
        let mut scratch: Vec<&str> = Vec::new();
        for (i, words) in record_words.iter_mut().enumerate() {
            let v = column.value(i);
            if !v.is_empty() {
                counts.add(Term::Value, c, v, 1);
                if let Some(code) = column.code(i) {
                    counts.add(Term::Code, c, code, 1);
                }
            }
            if worded {
                scratch.clear();
                scratch.extend(words_of(v));
                scratch.sort_unstable();
                scratch.dedup();
                for w in &scratch {
                    counts.add(Term::Word, c, w, 1);
                }
                if !scratch.is_empty() {
                    counts.add(Term::Filled, c, "", 1);
                }
                words.extend(&scratch);
            }
        }
    }
    for mut words in record_words {
        words.sort_unstable();
        words.dedup();
        for w in words {
            counts.add(Term::RecordWord, 0, w, 1);
        }
    }
}

/// Per date column of some raw values: how many values say day first and
/// how many month first. Summed over all parts of the data, they give
/// the order every part reads dates in ([`DayOrder`]).
pub fn day_order_votes(values: &[Option<&str>]) -> (u64, u64) {
    let (mut day_first, mut month_first) = (0u64, 0u64);
    for v in values.iter().flatten() {
        match date::order_hint(v) {
            Some(DayOrder::DayFirst) => day_first += 1,
            Some(DayOrder::MonthFirst) => month_first += 1,
            None => {}
        }
    }
    (day_first, month_first)
}

/// The day order votes of a whole column elect.
pub fn elected_day_order((day_first, month_first): (u64, u64)) -> DayOrder {
    if month_first > day_first {
        DayOrder::MonthFirst
    } else {
        DayOrder::DayFirst
    }
}

/// The cleaned values and numbers of `values`, a chunk at a time in
/// parallel, into one arena (no allocation per value).
fn normalize_values(kind: ColumnKind, day_order: DayOrder, values: &[Option<&str>]) -> (StrArena, Vec<f64>) {
    let chunks: Vec<(StrArena, Vec<f64>)> = values
        .par_chunks(NORMALIZE_CHUNK)
        .map_init(
            || Normalizer::new(kind, day_order),
            |norm, chunk| {
                let mut arena = StrArena::default();
                let mut numbers = Vec::with_capacity(chunk.len());
                let mut out = String::new();
                for v in chunk {
                    out.clear();
                    let number = v.and_then(|v| norm.normalize(v, &mut out));
                    arena.push(&out);
                    numbers.push(number.unwrap_or(f64::NAN));
                }
                (arena, numbers)
            },
        )
        .collect();
    let mut arena = StrArena::default();
    let mut numbers = Vec::with_capacity(values.len());
    for (a, n) in chunks {
        arena.append(&a);
        numbers.extend(n);
    }
    (arena, numbers)
}

/// The phonetic code of a normalized name ("" for none).
fn phonetic(dm: &rphonetic::DoubleMetaphone, name: &str) -> String {
    if name.is_empty() {
        String::new()
    } else {
        dm.encode(&name.replace(' ', ""))
    }
}

/// The words of a normalized value.
#[inline]
fn words_of(value: &str) -> impl Iterator<Item = &str> {
    value.split(' ').filter(|w| !w.is_empty())
}

fn normalize_column(name: &str, kind: ColumnKind, values: &[Option<&str>]) -> Normalized {
    let day_order = if kind == ColumnKind::Date { majority_day_order(values) } else { DayOrder::default() };
    let (arena, numbers) = normalize_values(kind, day_order, values);
    let mut column = Normalized {
        name: name.to_string(),
        kind,
        values: arena,
        codes: None,
        tokens: None,
        numbers,
        freq: Vec::with_capacity(values.len()),
        code_freq: Vec::new(),
        mean_freq: 1.0,
    };
    let n = values.len();
    let values = &column.values;
    // Each distinct value: how often it occurs and its index.
    let mut distinct: FxHashMap<&str, (u32, u32)> =
        FxHashMap::with_capacity_and_hasher(n / 4, Default::default());
    for v in values.iter() {
        let next = distinct.len() as u32;
        distinct.entry(v).or_insert((0, next)).0 += 1;
    }
    let of = |v: &str| distinct.get(v).copied().unwrap_or((1, 0));
    column.freq = values.iter().map(|v| if v.is_empty() { 1 } else { of(v).0 }).collect();
    // The frequency of a typical record's value: mean over present values.
    let (sum, present) = values
        .iter()
        .zip(&column.freq)
        .filter(|(v, _)| !v.is_empty())
        .fold((0f64, 0usize), |(s, n), (_, &f)| (s + f as f64, n + 1));
    column.mean_freq = if present > 0 { (sum / present as f64) as f32 } else { 1.0 };
    if kind == ColumnKind::Name {
        // Phonetic codes once per distinct name (names repeat a lot).
        let mut names: Vec<(&str, u32)> = distinct.iter().map(|(v, &(_, i))| (*v, i)).collect();
        names.sort_unstable_by_key(|&(_, i)| i);
        let codes: Vec<String> = names
            .par_iter()
            .map_init(rphonetic::DoubleMetaphone::default, |dm, (v, _)| phonetic(dm, v))
            .collect();
        let mut per_code: FxHashMap<&str, u32> = FxHashMap::default();
        for (v, &(count, i)) in &distinct {
            if !v.is_empty() {
                *per_code.entry(codes[i as usize].as_str()).or_insert(0) += count;
            }
        }
        let mut arena = StrArena::default();
        for v in values.iter() {
            let code = &codes[of(v).1 as usize];
            arena.push(code);
            column.code_freq.push(per_code.get(code.as_str()).copied().unwrap_or(0));
        }
        column.codes = Some(arena);
    }
    if matches!(kind, ColumnKind::Name | ColumnKind::Text | ColumnKind::Address) {
        column.tokens = Some(TokenSets::build(
            values.iter().map(|v| Box::new(words_of(v)) as Box<dyn Iterator<Item = &str>>),
        ));
    }
    column
}

/// The day order most unambiguous values of a date column imply.
fn majority_day_order(values: &[Option<&str>]) -> DayOrder {
    elected_day_order(day_order_votes(values))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_similarities() {
        let docs = ["a b c", "a b d", "x"];
        let sets =
            TokenSets::build(docs.iter().map(|d| Box::new(d.split(' ')) as Box<dyn Iterator<Item = &str>>));
        assert_eq!(sets.jaccard(0, 1), 0.5);
        assert_eq!(sets.jaccard(0, 2), 0.0);
        assert!((sets.cosine(0, 0) - 1.0).abs() < 1e-6);
        assert!(sets.cosine(0, 1) > 0.3 && sets.cosine(0, 1) < 1.0);
    }

    #[test]
    fn a_misspelt_word_still_counts_as_shared_under_soft_cosine() {
        let docs = [
            "customer retention at the port",
            "customes retention at the port",
            "customer retention at the park",
            "data retention at the port",
            "date retention at the port",
            "model sal30m28 turntable",
            "model sal30m29 turntable",
        ];
        let sets =
            TokenSets::build(docs.iter().map(|d| Box::new(d.split(' ')) as Box<dyn Iterator<Item = &str>>));
        // One typo in a long word: near 1 soft, well below under the plain cosine.
        assert!(sets.soft_cosine(0, 1) > 0.95, "{}", sets.soft_cosine(0, 1));
        assert!(sets.cosine(0, 1) < 0.9);
        // Short words ("port" / "park", "data" / "date") are not soft-matched.
        assert_eq!(sets.soft_cosine(0, 2), sets.cosine(0, 2));
        assert_eq!(sets.soft_cosine(3, 4), sets.cosine(3, 4));
        assert_eq!(sets.soft_cosine(0, 0), sets.cosine(0, 0));
        // Nor are codes.
        assert_eq!(sets.soft_cosine(5, 6), sets.cosine(5, 6));
    }

    #[test]
    fn one_edit_apart_is_one_insertion_deletion_substitution_or_swap() {
        for (a, b) in [
            ("customer", "customes"),
            ("implementation", "implementations"),
            ("sangam", "gangam"),
            ("retention", "rettention"),
            ("form", "from"),
            ("résumé", "resumé"),
        ] {
            assert!(one_edit_apart(a, b) && one_edit_apart(b, a), "{a} / {b}");
        }
        for (a, b) in [
            ("customer", "customer"),
            ("customer", "costumes"),
            ("abc", "abcde"),
            ("ab", "ba x"),
            ("abcd", "badc"),
        ] {
            assert!(!one_edit_apart(a, b) && !one_edit_apart(b, a), "{a} / {b}");
        }
    }

    #[test]
    fn row_fields_hold_every_value_whatever_its_length() {
        let long = "x".repeat(70_000);
        let mut a = StrArena::default();
        let mut b = StrArena::default();
        for (x, y) in [("", "é"), (long.as_str(), "b"), ("abc", "")] {
            a.push(x);
            b.push(y);
        }
        let rows = RowFields::interleave(&[&a, &b], 3);
        for i in 0..3 {
            assert_eq!(rows.get(i, 0), a.get(i));
            assert_eq!(rows.get(i, 1), b.get(i));
        }
    }

    #[test]
    fn month_first_columns_are_detected() {
        let values = [Some("03/25/1980"), Some("01/02/1990"), None];
        assert_eq!(majority_day_order(&values), DayOrder::MonthFirst);
    }
}
