//! Compare: one feature vector per candidate pair.
//!
//! Each matched column compares a pair into an *agreement level*, the way
//! a person would grade it: for a name, `exact`, `close` (Jaro-Winkler ≥
//! 0.92), `similar` (≥ 0.8, or the same phonetic code), `initial` (one is
//! the other's initial) or none of these (they disagree). A missing value
//! on either side gives no level at all: it is no evidence either way. The
//! levels of each kind are in [`kind_levels`].
//!
//! A column's features are then:
//! - `present`: 1 when both values are there. Its weight is what a
//!   disagreement says (usually against a match).
//! - one indicator per level, *cumulative*: a pair at `close` also counts
//!   as `similar` and `initial`. Each weight is what that level adds over
//!   the one below, so a model whose level weights are not negative is
//!   monotone: more agreement is never less evidence.
//! - `tf`: for an exact agreement, how much rarer than the column's
//!   typical value the value is, `ln(mean frequency / frequency)` —
//!   agreeing on a rare surname is stronger evidence than agreeing on a
//!   common one (the term-frequency adjustment of Fellegi–Sunter); 0 for
//!   any other level. Frequencies are counted over the records of the run
//!   (in an incremental run, the new records and the baseline records it
//!   reads).
//!
//! Then two record-level features: first and last names swapped, and the
//! idf cosine of all words. A [`ComparePlan`] is built once from the
//! definition; comparing a pair only indexes into [`Records`] and writes
//! into a caller's slice, with no allocation.

use rapidfuzz::distance::{jaro_winkler, levenshtein};
use rayon::prelude::*;

use crate::config::{ColumnKind, TransformDef};
use crate::record::{CandidatePair, Column, RecordId, Records};

/// The agreement levels of a kind above "disagree", weakest first (the
/// last is always `exact`).
pub fn kind_levels(kind: ColumnKind) -> &'static [&'static str] {
    match kind {
        ColumnKind::Name => &["initial", "similar", "close", "exact"],
        ColumnKind::Text => &["weak", "some", "similar", "close", "exact"],
        ColumnKind::Address => &["similar", "close", "exact"],
        ColumnKind::Email => &["similar", "user", "exact"],
        ColumnKind::Phone => &["close", "exact"],
        ColumnKind::Postcode => &["area", "close", "exact"],
        ColumnKind::Date => &["decade", "year", "month", "typo", "exact"],
        ColumnKind::Number => &["near", "close", "closer", "exact"],
        ColumnKind::Category => &["exact"],
        ColumnKind::Id => &["close", "contains", "exact"],
        ColumnKind::Ignore => &[],
    }
}

/// The similarities a kind adds as they are, in [0, 1], after its levels
/// and `tf` (words-only kinds grade finely: levels alone lose that).
fn kind_similarities(kind: ColumnKind) -> &'static [&'static str] {
    match kind {
        ColumnKind::Name => &["jaro_winkler"],
        ColumnKind::Text => &["jaro_winkler", "levenshtein", "jaccard", "cosine", "containment"],
        ColumnKind::Address => &["levenshtein", "cosine"],
        _ => &[],
    }
}

/// Whether a kind's agreements get a `tf` feature.
fn has_tf(kind: ColumnKind) -> bool {
    !matches!(kind, ColumnKind::Number | ColumnKind::Ignore)
}

/// Similarity thresholds of the text levels `weak` … `close`. The
/// similarity is the idf cosine of the words with soft token matching
/// ([`TokenSets::soft_cosine`](crate::record::TokenSets::soft_cosine): a
/// misspelt word still agrees), or on short values their Levenshtein
/// similarity where that is higher.
const TEXT_LEVELS: [f32; 4] = [0.35, 0.55, 0.75, 0.9];
/// Values longer than this are compared by their words only (character
/// similarities cost too much and say little on long text).
const LONG_VALUE: usize = 64;

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

/// Where one column's features sit in a feature vector: see
/// [`ComparePlan::column_levels`].
#[derive(Clone, Debug)]
pub struct ColumnLevels {
    /// The column's name.
    pub column: String,
    /// Index of its `present` feature; its level indicators follow.
    pub present: usize,
    /// Number of levels above "disagree".
    pub levels: usize,
    /// Index of its `tf` feature, if it has one.
    pub tf: Option<usize>,
    /// Whether distinct entities often share its values ([`ColumnKind::shared`]).
    pub shared: bool,
}

impl ColumnLevels {
    /// The agreement level of a pair from its feature vector: 0 disagree,
    /// up to `levels` (exact); `None` when either value is missing.
    pub fn level(&self, features: &[f32]) -> Option<u8> {
        if features[self.present] < 0.5 {
            return None;
        }
        let above = (1..=self.levels).take_while(|&l| features[self.present + l] >= 0.5).count();
        Some(above as u8)
    }

    /// The pair's `tf` value (0 without one).
    pub fn tf_value(&self, features: &[f32]) -> f32 {
        self.tf.map_or(0.0, |i| features[i])
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
            names.push(format!("{name}.present"));
            names.extend(kind_levels(kind).iter().map(|l| format!("{name}.{l}")));
            if has_tf(kind) {
                names.push(format!("{name}.tf"));
            }
            names.extend(kind_similarities(kind).iter().map(|f| format!("{name}.{f}")));
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
        let mut out = Vec::new();
        let mut at = 0;
        for step in &self.steps {
            match *step {
                Step::Column { kind, .. } => {
                    let name = &self.names[at];
                    let levels = kind_levels(kind).len();
                    out.push(ColumnLevels {
                        column: name[..name.len() - ".present".len()].to_string(),
                        present: at,
                        levels,
                        tf: has_tf(kind).then_some(at + 1 + levels),
                        shared: kind.shared(),
                    });
                    at += column_width(kind);
                }
                Step::NameSwap { .. } | Step::RecordCosine => at += 1,
            }
        }
        out
    }

    /// Each name-swap feature: its index and the two columns (indices
    /// into [`Self::column_levels`]) whose values it finds crosswise.
    pub fn name_swaps(&self) -> Vec<(usize, usize, usize)> {
        let mut at = 0;
        let mut out = Vec::new();
        for step in &self.steps {
            match *step {
                Step::Column { kind, .. } => at += column_width(kind),
                Step::NameSwap { first, second } => {
                    out.push((at, first, second));
                    at += 1;
                }
                Step::RecordCosine => at += 1,
            }
        }
        out
    }

    /// Which features a model may only weigh upwards (level indicators,
    /// similarities, the name swap, the record cosine): more agreement is
    /// never less evidence. `present` and `tf` may take either sign.
    pub fn monotone(&self) -> Vec<bool> {
        self.names.iter().map(|n| !(n.ends_with(".present") || n.ends_with(".tf"))).collect()
    }

    /// Compare records `a` and `b`, writing one value per feature to `out`.
    pub fn compare(&self, records: &Records, a: RecordId, b: RecordId, out: &mut [f32]) {
        debug_assert_eq!(out.len(), self.names.len());
        let mut at = 0;
        for step in &self.steps {
            match *step {
                Step::Column { col, kind } => {
                    let width = column_width(kind);
                    let slot = &mut out[at..at + width];
                    slot.fill(0.0);
                    let levels = kind_levels(kind).len();
                    let (head, sims) = slot.split_at_mut(levels + 1 + usize::from(has_tf(kind)));
                    if let Some((level, tf)) = compare_column(&records.columns()[col], kind, a, b, sims) {
                        head[0] = 1.0;
                        head[1..=level as usize].fill(1.0);
                        if has_tf(kind) {
                            head[levels + 1] = tf;
                        }
                    }
                    at += width;
                }
                Step::NameSwap { first, second } => {
                    let cols = records.columns();
                    let (f, s) = (&cols[first], &cols[second]);
                    let (fa, sa, fb, sb) = (f.value(a), s.value(a), f.value(b), s.value(b));
                    out[at] = if [fa, sa, fb, sb].iter().any(|v| v.is_empty()) || (fa == fb && sa == sb) {
                        0.0
                    } else {
                        flag(jw(fa, sb) >= 0.92 && jw(sa, fb) >= 0.92)
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

/// Features a column of `kind` contributes.
fn column_width(kind: ColumnKind) -> usize {
    1 + kind_levels(kind).len() + usize::from(has_tf(kind)) + kind_similarities(kind).len()
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

/// Levenshtein distance.
#[inline]
fn edits(a: &str, b: &str) -> usize {
    if a.is_ascii() && b.is_ascii() {
        levenshtein::distance(a.bytes(), b.bytes())
    } else {
        levenshtein::distance(a.chars(), b.chars())
    }
}

fn flag(b: bool) -> f32 {
    if b {
        1.0
    } else {
        0.0
    }
}

/// The level (0 = disagree … exact) of the values of `a` and `b` in
/// `column`, and the agreement's `tf` value; `None` when either is missing.
/// The kind's [`kind_similarities`] go to `sims` (each string measure is
/// computed once: the levels are read off them).
fn compare_column(
    column: &Column,
    kind: ColumnKind,
    a: RecordId,
    b: RecordId,
    sims: &mut [f32],
) -> Option<(u8, f32)> {
    let (va, vb) = (column.value(a), column.value(b));
    if va.is_empty() || vb.is_empty() {
        return None;
    }
    if va == vb {
        sims.fill(1.0);
        return Some((kind_levels(kind).len() as u8, column.tf(column.frequency(a))));
    }
    let (ia, ib) = (a as usize, b as usize);
    let cosine = || column.tokens().map_or(0.0, |t| t.cosine(ia, ib));
    // Character measures on short values; on long ones the words say more.
    let short = va.len() <= LONG_VALUE && vb.len() <= LONG_VALUE;
    let chars = |f: fn(&str, &str) -> f32, words: f32| if short { f(va, vb) } else { words };
    let level = match kind {
        ColumnKind::Name => {
            sims[0] = chars(jw, 0.0);
            let s = sims[0].max(cosine());
            if s >= 0.92 {
                3
            } else if s >= 0.8 || (!column.code(a).is_empty() && column.code(a) == column.code(b)) {
                2
            } else {
                u8::from(is_initial(va, vb))
            }
        }
        ColumnKind::Text => {
            let tokens = column.tokens().expect("text has tokens");
            let cos = tokens.soft_cosine(ia, ib);
            sims.copy_from_slice(&[
                chars(jw, cos),
                chars(lev, cos),
                tokens.jaccard(ia, ib),
                cos,
                tokens.containment(ia, ib),
            ]);
            let s = if short { cos.max(sims[1]) } else { cos };
            TEXT_LEVELS.iter().take_while(|&&t| s >= t).count() as u8
        }
        ColumnKind::Address => {
            let cos = cosine();
            sims[0] = chars(lev, cos);
            sims[1] = cos;
            let s = cos.max(sims[0]);
            if s >= 0.85 && numbers_agree(va, vb) {
                2
            } else if s >= 0.7 {
                1
            } else {
                0
            }
        }
        ColumnKind::Email => {
            let (la, _) = va.rsplit_once('@').unwrap_or((va, ""));
            let (lb, _) = vb.rsplit_once('@').unwrap_or((vb, ""));
            if !la.is_empty() && la == lb {
                2
            } else if jw(va, vb) >= 0.88 {
                1
            } else {
                0
            }
        }
        ColumnKind::Phone => u8::from(edits(va, vb) <= 1),
        ColumnKind::Postcode => {
            if edits(va, vb) <= 1 {
                2
            } else {
                let p = va.len().min(vb.len()).min(3);
                u8::from(p > 0 && va[..p] == vb[..p])
            }
        }
        ColumnKind::Date => {
            let (da, db) = (column.number(a), column.number(b));
            let swapped = va.len() == 8
                && vb.len() == 8
                && va[..4] == vb[..4]
                && va[4..6] == vb[6..8]
                && va[6..8] == vb[4..6];
            if swapped || edits(va, vb) <= 1 {
                4
            } else if da.is_finite() && db.is_finite() {
                let days = (da - db).abs();
                if days <= 31.0 {
                    3
                } else if days <= 366.0 {
                    2
                } else if days <= 3653.0 {
                    1
                } else {
                    0
                }
            } else {
                0
            }
        }
        ColumnKind::Number => {
            let (x, y) = (column.number(a), column.number(b));
            if !(x.is_finite() && y.is_finite()) {
                0
            } else {
                let diff = (x - y).abs();
                let rel = diff / x.abs().max(y.abs()).max(f64::MIN_POSITIVE);
                if diff <= 1.0 && rel <= 0.01 || rel <= 0.005 {
                    3
                } else if rel <= 0.1 {
                    2
                } else if rel <= 0.3 {
                    1
                } else {
                    0
                }
            }
        }
        ColumnKind::Category => 0,
        ColumnKind::Id => {
            let (sa, sb) = (va.trim_start_matches('0'), vb.trim_start_matches('0'));
            let (long, short) = if sa.len() >= sb.len() { (sa, sb) } else { (sb, sa) };
            if sa == sb || (short.len() >= 4 && long.contains(short)) {
                2
            } else if lev(va, vb) >= 0.8 {
                1
            } else {
                0
            }
        }
        ColumnKind::Ignore => 0,
    };
    Some((level, 0.0))
}

/// Whether one name is the other's initial (`j` and `john`).
fn is_initial(a: &str, b: &str) -> bool {
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    short.len() == 1 && long.as_bytes().first() == short.as_bytes().first()
}

/// Whether both addresses hold the same numbers (house, unit) in any
/// order, or neither holds any. No allocation.
fn numbers_agree(a: &str, b: &str) -> bool {
    fn numbers(s: &str) -> impl Iterator<Item = &str> + Clone {
        s.split(' ').filter(|w| w.bytes().next().is_some_and(|c| c.is_ascii_digit()))
    }
    let (na, nb) = (numbers(a), numbers(b));
    let (ca, cb) = (na.clone().count(), nb.clone().count());
    let count = |it: &mut dyn Iterator<Item = &str>, w: &str| it.filter(|x| *x == w).count();
    ca == cb && na.clone().all(|w| count(&mut na.clone(), w) == count(&mut nb.clone(), w))
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
        assert!(numbers_agree("12 main street", "main street 12"));
        assert!(!numbers_agree("12 main street", "14 main street"));
        assert!(numbers_agree("main street", "main road"));
        assert!(!numbers_agree("4 4 main street", "4 main street 5"));
        assert!(numbers_agree("unit 5 4 main", "4 main unit 5"));
    }

    #[test]
    fn initials() {
        assert!(is_initial("j", "john") && is_initial("john", "j"));
        assert!(!is_initial("j", "mary") && !is_initial("jo", "john"));
    }
}
