//! Corpus statistics: how many records of the whole data hold each value,
//! phonetic code and word of each matched column.
//!
//! Comparing two records weighs an agreement by how common the agreed
//! value is, and blocking skips keys too common to mean anything. When the
//! data is split over machines (Spark), each part counts its own records
//! ([`PartialCounts`]), the counts are summed by term across parts, and
//! every part's [`Records`](crate::record::Records) is then assembled with
//! the sums ([`CorpusStats`]), so each record gets exactly the figures it
//! gets when all records are built at once.
//!
//! Only terms held two or more times are kept: a term not listed is held
//! once, which is what most values of a large table are.

use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

/// What a counted term is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[repr(u8)]
pub enum Term {
    /// A column's normalized value (present values only).
    Value = 0,
    /// A name column's phonetic code (of present values).
    Code = 1,
    /// A word of a column's value (records holding it).
    Word = 2,
    /// A word of any name, text or address column of a record (records
    /// holding it); the column is 0.
    RecordWord = 3,
    /// Records with at least one word in the column; the term is "".
    Filled = 4,
}

impl Term {
    /// The term kind numbered `n`.
    pub fn from_u8(n: u8) -> Option<Term> {
        [Term::Value, Term::Code, Term::Word, Term::RecordWord, Term::Filled].get(n as usize).copied()
    }
}

/// Terms counted two or more times; any other term is held once.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Counts(FxHashMap<String, u32>);

impl Counts {
    /// How many records hold `term`, given that one does.
    #[inline]
    pub fn of(&self, term: &str) -> u32 {
        self.0.get(term).copied().unwrap_or(1)
    }

    /// How many records hold `term`, 0 when it is not listed.
    #[inline]
    pub fn listed(&self, term: &str) -> u32 {
        self.0.get(term).copied().unwrap_or(0)
    }

    /// Terms listed.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when no term is listed.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The counts of one matched column over the whole data.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ColumnCounts {
    /// Records per present value.
    pub values: Counts,
    /// Records per phonetic code of a present value; the code "" is
    /// listed whatever its count (a missing value has that code, and
    /// counts the present values that share it, which may be none).
    pub codes: Counts,
    /// Records per word.
    pub words: Counts,
    /// Records with a present value.
    pub present: u64,
    /// The sum over present values of their count squared: the sum over
    /// records of how many share their value.
    pub sum_squares: u64,
    /// Records with at least one word.
    pub filled: u64,
    /// The sum over records of their distinct words.
    pub word_total: u64,
}

impl ColumnCounts {
    /// How often a typical present value occurs: the mean, over records
    /// with a value, of how many records share it.
    pub fn mean_frequency(&self) -> f32 {
        if self.present > 0 {
            (self.sum_squares as f64 / self.present as f64) as f32
        } else {
            1.0
        }
    }
}

/// Counts over all records of a run, for assembling the records of any
/// part of it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CorpusStats {
    /// Records in all.
    pub records: u64,
    /// Per matched column, in definition order.
    pub columns: Vec<ColumnCounts>,
    /// Records per word of any name, text or address column.
    pub record_words: Counts,
}

/// The counts of one part of the data, term by term: what a part
/// contributes, to be summed with the other parts' by term (a Spark
/// `groupBy`, or [`PartialCounts::merge`]).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PartialCounts {
    /// (term kind, column) → term → records.
    pub counts: FxHashMap<(Term, u32), FxHashMap<String, u64>>,
}

impl PartialCounts {
    /// Count `n` more records holding a term.
    pub fn add(&mut self, kind: Term, column: u32, term: &str, n: u64) {
        let terms = self.counts.entry((kind, column)).or_default();
        match terms.get_mut(term) {
            Some(count) => *count += n,
            None => {
                terms.insert(term.to_string(), n);
            }
        }
    }

    /// Add another part's counts.
    pub fn merge(&mut self, other: PartialCounts) {
        for ((kind, column), terms) in other.counts {
            for (term, n) in terms {
                self.add(kind, column, &term, n);
            }
        }
    }

    /// Every count: (kind, column, term, records).
    pub fn iter(&self) -> impl Iterator<Item = (Term, u32, &str, u64)> {
        self.counts.iter().flat_map(|(&(kind, column), terms)| {
            terms.iter().map(move |(t, &n)| (kind, column, t.as_str(), n))
        })
    }

    /// The statistics of a corpus of `records` records in `columns`
    /// matched columns whose parts' counts, summed, are these.
    pub fn into_stats(self, records: u64, columns: usize) -> CorpusStats {
        let mut stats = CorpusStats::empty(records, columns);
        for ((kind, column), terms) in self.counts {
            for (term, n) in terms {
                stats.add_total(kind, column, n, n * n);
                stats.add_term(kind, column, term, n);
            }
        }
        stats
    }
}

impl CorpusStats {
    /// No counts yet, for `records` records in `columns` columns.
    pub fn empty(records: u64, columns: usize) -> CorpusStats {
        CorpusStats {
            records,
            columns: vec![ColumnCounts::default(); columns],
            record_words: Counts::default(),
        }
    }

    /// Whether a term summed to `n` must be listed.
    pub fn keeps(kind: Term, term: &str, n: u64) -> bool {
        n >= 2 || (kind == Term::Code && term.is_empty())
    }

    /// Add the sums over all terms of one kind and column: their counts
    /// and their counts squared.
    pub fn add_total(&mut self, kind: Term, column: u32, total: u64, squares: u64) {
        let Some(c) = self.columns.get_mut(column as usize) else { return };
        match kind {
            Term::Value => {
                c.present += total;
                c.sum_squares += squares;
            }
            Term::Word => c.word_total += total,
            Term::Filled => c.filled += total,
            Term::Code | Term::RecordWord => {}
        }
    }

    /// List one term's count summed over all parts (when it is kept).
    pub fn add_term(&mut self, kind: Term, column: u32, term: String, n: u64) {
        if !CorpusStats::keeps(kind, &term, n) {
            return;
        }
        let n = n.min(u32::MAX as u64) as u32;
        let counts = match kind {
            Term::RecordWord => &mut self.record_words,
            Term::Filled => return,
            _ => match self.columns.get_mut(column as usize) {
                Some(c) => match kind {
                    Term::Value => &mut c.values,
                    Term::Code => &mut c.codes,
                    _ => &mut c.words,
                },
                None => return,
            },
        };
        counts.0.insert(term, n);
    }
}
