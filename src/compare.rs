//! Compare: one feature vector per candidate pair.
//!
//! A [`ComparePlan`] is built once from the definition: for each matched
//! column, the similarities that suit its kind (Jaro-Winkler, normalized
//! Levenshtein, token Jaccard, idf cosine, exact, phonetic, date and number
//! distance), a missing-value indicator and the rarity of an exact
//! agreement; then two record-level features (first/last names swapped,
//! idf cosine of all words). The choice of functions is made here, outside
//! the pair loop; comparing a pair only indexes into [`Records`] and writes
//! into a caller's slice, with no allocation.
//!
//! Every feature lies in [0, 1]. When either value is missing, the
//! column's `missing` feature is 1 and its other features are 0.

use rapidfuzz::distance::{jaro_winkler, levenshtein};
use rayon::prelude::*;

use crate::config::{ColumnKind, TransformDef};
use crate::record::{RecordId, Records};

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

#[derive(Clone, Debug)]
enum Step {
    Column { col: usize, kind: ColumnKind },
    NameSwap { first: usize, second: usize },
    RecordCosine,
}

/// Which features a definition yields, and how to compute them.
#[derive(Clone, Debug)]
pub struct ComparePlan {
    steps: Vec<Step>,
    names: Vec<String>,
}

/// The feature names a column of `kind` contributes, after its name.
fn kind_features(kind: ColumnKind) -> &'static [&'static str] {
    match kind {
        ColumnKind::Name => &[
            "missing",
            "exact",
            "rare_exact",
            "jaro_winkler",
            "jw_ge_92",
            "jw_ge_80",
            "levenshtein",
            "phonetic",
        ],
        ColumnKind::Text => &[
            "missing",
            "exact",
            "rare_exact",
            "jaro_winkler",
            "levenshtein",
            "jaccard",
            "cosine",
            "cosine_ge_80",
        ],
        ColumnKind::Address => &[
            "missing",
            "exact",
            "rare_exact",
            "jaro_winkler",
            "levenshtein",
            "jaccard",
            "cosine",
            "numbers_agree",
        ],
        ColumnKind::Email => &["missing", "exact", "local_jaro_winkler", "domain_exact"],
        ColumnKind::Phone => &["missing", "exact", "levenshtein"],
        ColumnKind::Postcode => &["missing", "exact", "rare_exact", "levenshtein", "prefix"],
        ColumnKind::Date => {
            &["missing", "exact", "levenshtein", "same_year", "within_year", "day_month_swap"]
        }
        ColumnKind::Number => &["missing", "exact", "closeness"],
        ColumnKind::Category => &["missing", "exact", "rare_exact"],
        ColumnKind::Id => &["missing", "exact", "levenshtein", "lev_ge_80"],
        ColumnKind::Ignore => &[],
    }
}

impl ComparePlan {
    /// The plan for a definition.
    pub fn new(def: &TransformDef) -> ComparePlan {
        let mut steps = Vec::new();
        let mut names = Vec::new();
        let mut name_cols = Vec::new();
        for (col, (name, kind)) in def.matched_columns().enumerate() {
            steps.push(Step::Column { col, kind });
            names.extend(kind_features(kind).iter().map(|f| format!("{name}.{f}")));
            if kind == ColumnKind::Name {
                name_cols.push((col, name));
            }
        }
        for (i, &(first, first_name)) in name_cols.iter().enumerate() {
            for &(second, second_name) in &name_cols[i + 1..] {
                steps.push(Step::NameSwap { first, second });
                names.push(format!("swap({first_name},{second_name})"));
            }
        }
        steps.push(Step::RecordCosine);
        names.push("record.cosine".to_string());
        ComparePlan { steps, names }
    }

    /// Feature names, in vector order.
    pub fn feature_names(&self) -> &[String] {
        &self.names
    }

    /// Length of a feature vector.
    pub fn num_features(&self) -> usize {
        self.names.len()
    }

    /// Each matched column's [`ColumnLevels`].
    pub fn column_levels(&self) -> Vec<ColumnLevels> {
        const GRADED: [&str; 7] = [
            "jaro_winkler",
            "levenshtein",
            "cosine",
            "jaccard",
            "closeness",
            "local_jaro_winkler",
            "within_year",
        ];
        let mut out = Vec::new();
        let mut at = 0;
        for step in &self.steps {
            match *step {
                Step::Column { kind, .. } => {
                    let features = kind_features(kind);
                    let name = &self.names[at];
                    let column = name[..name.len() - features[0].len() - 1].to_string();
                    let index = |f: &str| features.iter().position(|x| *x == f).map(|i| at + i);
                    out.push(ColumnLevels {
                        column,
                        missing: at,
                        exact: at + 1,
                        similarities: GRADED.iter().filter_map(|f| index(f)).collect(),
                    });
                    at += features.len();
                }
                Step::NameSwap { .. } | Step::RecordCosine => at += 1,
            }
        }
        out
    }

    /// Compare records `a` and `b`, writing one value per feature to `out`.
    pub fn compare(&self, records: &Records, a: RecordId, b: RecordId, out: &mut [f32]) {
        debug_assert_eq!(out.len(), self.names.len());
        let mut at = 0;
        let n = records.population();
        for step in &self.steps {
            match *step {
                Step::Column { col, kind } => {
                    let width = kind_features(kind).len();
                    compare_column(records, col, kind, a, b, n, &mut out[at..at + width]);
                    at += width;
                }
                Step::NameSwap { first, second } => {
                    let cols = records.columns();
                    let (f, s) = (&cols[first], &cols[second]);
                    let (fa, sa, fb, sb) = (f.value(a), s.value(a), f.value(b), s.value(b));
                    out[at] = if [fa, sa, fb, sb].iter().any(|v| v.is_empty()) {
                        0.0
                    } else {
                        jw(fa, sb).min(jw(sa, fb))
                    };
                    at += 1;
                }
                Step::RecordCosine => {
                    out[at] = records.words().cosine(a as usize, b as usize);
                    at += 1;
                }
            }
        }
    }

    /// Compare every pair, in parallel, into a row-major matrix.
    pub fn compare_all(&self, records: &Records, pairs: &[CandidatePair]) -> FeatureMatrix {
        let stride = self.num_features();
        let mut data = vec![0.0f32; pairs.len() * stride];
        if stride > 0 {
            data.par_chunks_mut(stride)
                .zip(pairs.par_iter())
                .with_min_len(256)
                .for_each(|(row, p)| self.compare(records, p.a, p.b, row));
        }
        FeatureMatrix { stride, data }
    }
}

/// Where one column's features sit in a feature vector, for models that
/// count agreement levels rather than weigh raw similarities
/// (Fellegi–Sunter): see [`ColumnLevels::level`].
#[derive(Clone, Debug)]
pub struct ColumnLevels {
    /// The column's name.
    pub column: String,
    /// Index of its `missing` feature.
    pub missing: usize,
    /// Index of its `exact` feature.
    pub exact: usize,
    /// Indexes of its graded similarities (string, token, date, number).
    pub similarities: Vec<usize>,
}

/// Agreement levels of a column: 0 disagree, 1 similar, 2 very similar,
/// 3 exact.
pub const LEVELS: usize = 4;

impl ColumnLevels {
    /// The agreement level of a pair from its feature vector; `None` when
    /// either value is missing.
    pub fn level(&self, features: &[f32]) -> Option<u8> {
        if features[self.missing] >= 0.5 {
            return None;
        }
        if features[self.exact] >= 0.5 {
            return Some(3);
        }
        let s = self.similarities.iter().map(|&i| features[i]).fold(0.0f32, f32::max);
        Some(if s >= 0.92 {
            2
        } else if s >= 0.75 {
            1
        } else {
            0
        })
    }
}

/// Feature vectors of many pairs, row-major with a fixed stride.
#[derive(Clone, Debug, Default)]
pub struct FeatureMatrix {
    /// Features per row.
    pub stride: usize,
    /// The values.
    pub data: Vec<f32>,
}

impl FeatureMatrix {
    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.data.len().checked_div(self.stride).unwrap_or(0)
    }

    /// Row `i`.
    pub fn row(&self, i: usize) -> &[f32] {
        &self.data[i * self.stride..(i + 1) * self.stride]
    }
}

/// Jaro-Winkler similarity; byte-wise for ASCII (all normalized text but
/// some e-mails).
#[inline]
pub fn jw(a: &str, b: &str) -> f32 {
    if a.is_ascii() && b.is_ascii() {
        jaro_winkler::normalized_similarity(a.bytes(), b.bytes()) as f32
    } else {
        jaro_winkler::normalized_similarity(a.chars(), b.chars()) as f32
    }
}

/// Normalized Levenshtein similarity: 1 − distance / longer length.
#[inline]
pub fn lev(a: &str, b: &str) -> f32 {
    if a.is_ascii() && b.is_ascii() {
        levenshtein::normalized_similarity(a.bytes(), b.bytes()) as f32
    } else {
        levenshtein::normalized_similarity(a.chars(), b.chars()) as f32
    }
}

fn flag(b: bool) -> f32 {
    if b {
        1.0
    } else {
        0.0
    }
}

fn compare_column(
    records: &Records,
    col: usize,
    kind: ColumnKind,
    a: RecordId,
    b: RecordId,
    n: usize,
    out: &mut [f32],
) {
    let column = &records.columns()[col];
    let (va, vb) = (column.value(a), column.value(b));
    out.fill(0.0);
    if va.is_empty() || vb.is_empty() {
        out[0] = 1.0;
        return;
    }
    let exact = va == vb;
    out[1] = flag(exact);
    let rare = if exact { column.rarity(a, n) } else { 0.0 };
    match kind {
        ColumnKind::Name => {
            let j = if exact { 1.0 } else { jw(va, vb) };
            out[2] = rare;
            out[3] = j;
            out[4] = flag(j >= 0.92);
            out[5] = flag(j >= 0.8);
            out[6] = if exact { 1.0 } else { lev(va, vb) };
            out[7] = flag(!column.code(a).is_empty() && column.code(a) == column.code(b));
        }
        ColumnKind::Text | ColumnKind::Address => {
            let tokens = column.tokens().expect("word kinds have tokens");
            let (ia, ib) = (a as usize, b as usize);
            out[2] = rare;
            out[3] = if exact { 1.0 } else { jw(va, vb) };
            out[4] = if exact { 1.0 } else { lev(va, vb) };
            out[5] = tokens.jaccard(ia, ib);
            let cos = tokens.cosine(ia, ib);
            out[6] = cos;
            out[7] = if kind == ColumnKind::Text { flag(cos >= 0.8) } else { numbers_agree(va, vb) };
        }
        ColumnKind::Email => {
            let (la, da) = va.rsplit_once('@').unwrap_or((va, ""));
            let (lb, db) = vb.rsplit_once('@').unwrap_or((vb, ""));
            out[2] = if exact { 1.0 } else { jw(la, lb) };
            out[3] = flag(!da.is_empty() && da == db);
        }
        ColumnKind::Phone => {
            out[2] = if exact { 1.0 } else { lev(va, vb) };
        }
        ColumnKind::Postcode => {
            out[2] = rare;
            out[3] = if exact { 1.0 } else { lev(va, vb) };
            let p = va.len().min(vb.len()).min(3);
            out[4] = flag(p > 0 && va[..p] == vb[..p]);
        }
        ColumnKind::Date => {
            out[2] = if exact { 1.0 } else { lev(va, vb) };
            let (da, db) = (column.number(a), column.number(b));
            if da.is_finite() && db.is_finite() {
                out[3] = flag(va.get(..4) == vb.get(..4));
                out[4] = (1.0 - ((da - db).abs() / 365.0) as f32).max(0.0);
                out[5] = flag(
                    va.len() == 8
                        && vb.len() == 8
                        && va[..4] == vb[..4]
                        && va[4..6] == vb[6..8]
                        && va[6..8] == vb[4..6]
                        && !exact,
                );
            }
        }
        ColumnKind::Number => {
            let (x, y) = (column.number(a), column.number(b));
            if x.is_finite() && y.is_finite() {
                let scale = x.abs().max(y.abs());
                out[2] = if scale == 0.0 { 1.0 } else { (1.0 - (x - y).abs() / scale) as f32 };
            }
        }
        ColumnKind::Category => {
            out[2] = rare;
        }
        ColumnKind::Id => {
            let l = if exact { 1.0 } else { lev(va, vb) };
            out[2] = l;
            out[3] = flag(l >= 0.8);
        }
        ColumnKind::Ignore => {}
    }
}

/// 1 when both addresses hold the same numbers (house, unit) in any
/// order, 0.5 when neither holds any, 0 otherwise. No allocation.
fn numbers_agree(a: &str, b: &str) -> f32 {
    fn numbers(s: &str) -> impl Iterator<Item = &str> + Clone {
        s.split(' ').filter(|w| w.bytes().next().is_some_and(|c| c.is_ascii_digit()))
    }
    let (na, nb) = (numbers(a), numbers(b));
    let (ca, cb) = (na.clone().count(), nb.clone().count());
    if ca == 0 && cb == 0 {
        return 0.5;
    }
    let count = |it: &mut dyn Iterator<Item = &str>, w: &str| it.filter(|x| *x == w).count();
    let same = ca == cb && na.clone().all(|w| count(&mut na.clone(), w) == count(&mut nb.clone(), w));
    flag(same)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn string_similarities_are_bounded_symmetric_and_reflexive(a in "\\PC{0,12}", b in "\\PC{0,12}") {
            for f in [jw, lev] {
                let (ab, ba) = (f(&a, &b), f(&b, &a));
                prop_assert!((0.0..=1.0).contains(&ab));
                prop_assert!((ab - ba).abs() < 1e-6);
                prop_assert!((f(&a, &a) - 1.0).abs() < 1e-6);
            }
        }
    }

    #[test]
    fn address_numbers() {
        assert_eq!(numbers_agree("12 main street", "main street 12"), 1.0);
        assert_eq!(numbers_agree("12 main street", "14 main street"), 0.0);
        assert_eq!(numbers_agree("main street", "main road"), 0.5);
        assert_eq!(numbers_agree("4 4 main street", "4 main street 5"), 0.0);
        assert_eq!(numbers_agree("unit 5 4 main", "4 main unit 5"), 1.0);
    }
}
