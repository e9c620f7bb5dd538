//! Infer a transform definition from a table's headers and values, for
//! `findmatches init` and for `dedup` without a definition.
//!
//! A header name is a hint (`email`, `zip`, `dob`, `surname`...) that the
//! values must bear out: a `birthplace` of `devon` and `west devon` is no
//! date, a `birth_year` of `1905` is a number, a `name` of `la grotta` or
//! `Sony Turntable` is not a person's (too few of its words are people's
//! names, by the Census lists of [`crate::names`]), a `venue` of
//! thousands of values is no category. Where the header says nothing the
//! values decide: e-mail shapes, digit counts, dates, years, people's
//! names, codes (`MR-ENEL9`: one word with digits, mostly distinct), word
//! counts. Each column's [`Guess`] says which of the two decided. The
//! primary key is a column named like an id whose values are all present
//! and unique, else the first such column. The result is a starting point
//! for the user to edit.

use std::collections::HashSet;

use arrow_array::{Array, StringArray};
use indexmap::IndexMap;

use crate::config::{ColumnKind, TransformDef, Tuning};
use crate::error::{Error, Result};
use crate::normalize::{date, DayOrder};
use crate::read::Table;

/// At most this many values per column are examined.
const SAMPLE: usize = 2000;

/// Header words that name a kind, checked in order (first hit wins).
const HEADER_HINTS: &[(&[&str], ColumnKind)] = &[
    (&["email", "e_mail", "mail"], ColumnKind::Email),
    (&["phone", "tel", "telephone", "mobile", "cell", "fax"], ColumnKind::Phone),
    (&["zip", "zipcode", "postcode", "postal", "postalcode", "plz"], ColumnKind::Postcode),
    (&["dob", "birth", "birthdate", "birthday", "date"], ColumnKind::Date),
    (
        &[
            "first",
            "given",
            "firstname",
            "givenname",
            "surname",
            "last",
            "lastname",
            "family",
            "middle",
            "name",
            "forename",
        ],
        ColumnKind::Name,
    ),
    (&["address", "street", "addr", "address1", "address2", "line1", "line2"], ColumnKind::Address),
    (&["state", "country", "gender", "sex", "province", "region", "county"], ColumnKind::Category),
    (&["ssn", "soc", "passport", "license", "licence", "nhs", "tax", "vat", "sec"], ColumnKind::Id),
    (&["year", "age", "amount", "price", "quantity", "count"], ColumnKind::Number),
    (
        &[
            "city",
            "town",
            "suburb",
            "title",
            "authors",
            "author",
            "description",
            "company",
            "organisation",
            "organization",
            "number",
            "no",
        ],
        ColumnKind::Text,
    ),
];

/// Words in a header, split on non-letters and camel case.
fn header_words(header: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut prev_lower = false;
    for c in header.chars() {
        if !c.is_alphanumeric() {
            if !current.is_empty() {
                words.push(std::mem::take(&mut current));
            }
            prev_lower = false;
            continue;
        }
        if c.is_uppercase() && prev_lower && !current.is_empty() {
            words.push(std::mem::take(&mut current));
        }
        prev_lower = c.is_lowercase();
        current.extend(c.to_lowercase());
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

fn kind_from_header(header: &str) -> Option<ColumnKind> {
    let words = header_words(header);
    let joined = words.concat();
    for (hints, kind) in HEADER_HINTS {
        if hints.iter().any(|h| words.iter().any(|w| w == h) || joined == *h) {
            return Some(*kind);
        }
    }
    None
}

fn sample(values: &StringArray) -> Vec<&str> {
    let step = (values.len() / SAMPLE).max(1);
    (0..values.len())
        .step_by(step)
        .filter(|&i| !values.is_null(i) && !values.value(i).trim().is_empty())
        .map(|i| values.value(i).trim())
        .collect()
}

fn share(values: &[&str], test: impl Fn(&str) -> bool) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.iter().filter(|v| test(v)).count() as f64 / values.len() as f64
}

/// Whether most values parse as dates (with a day: six digits or more).
fn looks_like_dates(values: &[&str]) -> bool {
    let digits = |v: &str| v.chars().filter(char::is_ascii_digit).count();
    share(values, |v| date::parse(v, DayOrder::DayFirst).is_some() && digits(v) >= 6) > 0.8
}

/// Whether nearly all values are years.
fn looks_like_years(values: &[&str]) -> bool {
    share(values, |v| {
        let v = v.trim_end_matches('.');
        v.len() == 4 && v.parse::<u32>().is_ok_and(|y| (1000..=2100).contains(&y))
    }) > 0.9
}

/// Month names and their abbreviations: on the name lists too (June,
/// April), but no evidence of a person.
const MONTHS: [&str; 24] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
    "jan",
    "feb",
    "mar",
    "apr",
    "jun",
    "jul",
    "aug",
    "sep",
    "sept",
    "oct",
    "nov",
    "dec",
];

/// Share of a column's words on the name lists that makes it people's
/// names (with typos and names from elsewhere, real ones reach 0.7–0.75).
const PERSON_NAMES: f64 = 0.6;
/// The same under a header that says so: the values need only not say
/// otherwise (Febrl's Australian surnames, with typos, reach 0.51; a
/// product's or a restaurant's name 0.18–0.25; UK towns 0.4).
const PERSON_NAMES_UNDER_A_NAME_HEADER: f64 = 0.4;

/// Whether the values are people's names: short (four words a value or
/// fewer), and more than `share` of their words on the Census name lists
/// (a restaurant's or a product's name has few such words, a fifth or a
/// quarter; month names do not count).
fn looks_like_person_names(values: &[&str], share: f64) -> bool {
    let mut folded = String::new();
    let (mut words, mut names, mut total) = (0usize, 0usize, 0usize);
    for v in values {
        crate::normalize::fold(v, &mut folded);
        let count = folded.split(' ').filter(|w| !w.is_empty()).count();
        total += count;
        let alphabetic = |w: &&str| w.len() > 1 && w.bytes().all(|b| b.is_ascii_alphabetic());
        for w in folded.split(' ').filter(alphabetic).filter(|w| !MONTHS.contains(w)) {
            words += 1;
            names += usize::from(crate::names::is_person_name(w));
        }
    }
    let per_value = total as f64 / values.len().max(1) as f64;
    words > 0 && per_value <= 4.0 && names as f64 > share * words as f64
}

/// Whether the values are codes: one word holding a digit (`MR-ENEL9`,
/// `108R00657`), mostly distinct.
fn looks_like_codes(values: &[&str]) -> bool {
    let code = |v: &str| {
        !v.contains(' ')
            && v.len() >= 3
            && v.chars().any(|c| c.is_ascii_digit())
            && v.chars().any(|c| c.is_alphabetic())
    };
    let distinct: HashSet<&str> = values.iter().copied().collect();
    share(values, |v| code(v) || v.chars().all(|c| c.is_ascii_digit()) && v.len() >= 5) > 0.7
        && share(values, code) > 0.3
        && distinct.len() as f64 > 0.5 * values.len() as f64
}

/// Distinct values as a share of the values (case aside).
fn distinct_share(values: &[&str]) -> f64 {
    let distinct: HashSet<String> = values.iter().map(|v| v.to_lowercase()).collect();
    distinct.len() as f64 / values.len().max(1) as f64
}

/// Whether the values take few distinct values: a category (30 or fewer
/// in 100 values or more, or one value in twenty).
fn looks_like_category(values: &[&str]) -> bool {
    let distinct = distinct_share(values) * values.len() as f64;
    distinct <= 30.0 && values.len() >= 100 || distinct <= 0.05 * values.len() as f64
}

fn kind_from_values(values: &[&str]) -> ColumnKind {
    if values.is_empty() {
        return ColumnKind::Ignore;
    }
    let digits = |v: &str| v.chars().filter(char::is_ascii_digit).count();
    if share(values, |v| v.contains('@') && v.contains('.') && !v.contains(' ')) > 0.8 {
        return ColumnKind::Email;
    }
    if looks_like_dates(values) {
        return ColumnKind::Date;
    }
    if share(values, |v| {
        (9..=15).contains(&digits(v))
            && v.chars().all(|c| c.is_ascii_digit() || " +-().".contains(c))
            && v.chars().any(|c| " -().+".contains(c))
    }) > 0.8
    {
        return ColumnKind::Phone;
    }
    if looks_like_years(values) {
        return ColumnKind::Number;
    }
    if share(values, |v| crate::normalize::number(v).is_some()) > 0.9 {
        let distinct: HashSet<&str> = values.iter().copied().collect();
        return if distinct.len() as f64 > 0.5 * values.len() as f64 && values.iter().all(|v| v.len() >= 6) {
            ColumnKind::Id
        } else {
            ColumnKind::Number
        };
    }
    if looks_like_codes(values) {
        return ColumnKind::Id;
    }
    if looks_like_category(values) {
        return ColumnKind::Category;
    }
    let words =
        values.iter().map(|v| v.split_whitespace().count()).sum::<usize>() as f64 / values.len() as f64;
    if share(values, |v| v.split_whitespace().next().is_some_and(|w| w.chars().all(|c| c.is_ascii_digit())))
        > 0.6
        && words >= 2.0
    {
        return ColumnKind::Address;
    }
    if looks_like_person_names(values, PERSON_NAMES) {
        return ColumnKind::Name;
    }
    ColumnKind::Text
}

/// What decided a column's kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Basis {
    /// Its header, and its values agree.
    HeaderAndValues,
    /// Its header; the values say nothing against it, nor for it.
    Header,
    /// Its values; the header says nothing.
    Values,
    /// Its values, over a header that named another kind.
    ValuesOverHeader(ColumnKind),
}

/// A column's inferred kind and what decided it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Guess {
    /// The kind.
    pub kind: ColumnKind,
    /// What decided it.
    pub basis: Basis,
}

impl Guess {
    /// How sure the guess is, in words, for `init`'s report.
    pub fn describe(&self) -> String {
        match self.basis {
            Basis::HeaderAndValues => "sure: header and values agree".to_string(),
            Basis::Header => "fairly sure: from the header".to_string(),
            Basis::Values => "from the values alone: check it".to_string(),
            Basis::ValuesOverHeader(h) => format!("from the values, though the header says {h}: check it"),
        }
    }
}

/// The kind of a column from its header and (a sample of) its values.
pub fn guess(header: &str, values: &[&str]) -> Guess {
    let by_values = kind_from_values(values);
    let Some(hinted) = kind_from_header(header) else {
        return Guess { kind: by_values, basis: Basis::Values };
    };
    // Does the values' evidence bear the header out?
    let borne_out = match hinted {
        ColumnKind::Date => looks_like_dates(values),
        ColumnKind::Name => looks_like_person_names(values, PERSON_NAMES_UNDER_A_NAME_HEADER),
        // Fewer distinct values than one in five (a state, a country).
        ColumnKind::Category => distinct_share(values) <= 0.2,
        ColumnKind::Number => share(values, |v| crate::normalize::number(v).is_some()) > 0.8,
        ColumnKind::Email => share(values, |v| v.contains('@')) > 0.5,
        ColumnKind::Phone => {
            by_values == ColumnKind::Phone
                || share(values, |v| v.chars().filter(char::is_ascii_digit).count() >= 7) > 0.5
        }
        ColumnKind::Address => !matches!(by_values, ColumnKind::Number | ColumnKind::Id),
        _ => true,
    };
    if borne_out {
        let basis = if hinted == by_values { Basis::HeaderAndValues } else { Basis::Header };
        return Guess { kind: hinted, basis };
    }
    let kind = match (hinted, by_values) {
        // "street_number" holding numbers: short text with typos.
        (ColumnKind::Address, _) => ColumnKind::Text,
        // A name that is not a person's (a product's, a restaurant's).
        (ColumnKind::Name, ColumnKind::Name | ColumnKind::Category) => ColumnKind::Text,
        (_, kind) => kind,
    };
    Guess { kind, basis: Basis::ValuesOverHeader(hinted) }
}

/// The share of rows whose value is present and not seen in an earlier
/// row (1 for a perfect key).
fn unique_share(values: &StringArray) -> f64 {
    let mut seen = HashSet::with_capacity(values.len());
    let unique = (0..values.len())
        .filter(|&i| {
            !values.is_null(i) && !values.value(i).trim().is_empty() && seen.insert(values.value(i).trim())
        })
        .count();
    unique as f64 / values.len().max(1) as f64
}

/// An id-like column this unique is still taken as the key, so its few
/// empty or repeated values are reported (or skipped) as bad rows.
const NEARLY_UNIQUE: f64 = 0.99;

/// Infer a definition for `table`.
pub fn infer(table: &Table) -> Result<TransformDef> {
    Ok(infer_explained(table)?.0)
}

/// Infer a definition for `table`, with each matched column's [`Guess`].
pub fn infer_explained(table: &Table) -> Result<(TransformDef, Vec<(String, Guess)>)> {
    let headers = table.headers();
    let columns: Vec<StringArray> = headers.iter().map(|h| table.strings(h)).collect::<Result<_>>()?;
    let id_like = |h: &str| {
        let w = header_words(h);
        w.last().is_some_and(|l| l == "id" || l == "key" || l == "uuid") || h.eq_ignore_ascii_case("id")
    };
    let shares: Vec<f64> = columns.iter().map(unique_share).collect();
    let unique: Vec<usize> = (0..headers.len()).filter(|&i| shares[i] == 1.0).collect();
    let key = unique
        .iter()
        .copied()
        .find(|&i| id_like(&headers[i]))
        .or_else(|| unique.first().copied())
        .or_else(|| (0..headers.len()).find(|&i| id_like(&headers[i]) && shares[i] >= NEARLY_UNIQUE))
        .ok_or_else(|| {
            Error::data(
                table.path(),
                Default::default(),
                "no column has a unique, non-empty value in every row to serve as primary key; add one (a row number will do)",
            )
        })?;
    let mut kinds = IndexMap::new();
    let mut guesses = Vec::new();
    for (i, header) in headers.iter().enumerate() {
        if i == key {
            continue;
        }
        let g = if id_like(header) && kind_from_header(header).is_none() {
            Guess { kind: ColumnKind::Id, basis: Basis::Header }
        } else {
            guess(header, &sample(&columns[i]))
        };
        kinds.insert(header.clone(), g.kind);
        guesses.push((header.clone(), g));
    }
    let def = TransformDef { primary_key: headers[key].clone(), columns: kinds, tuning: Tuning::default() };
    def.validate(table.path())?;
    Ok((def, guesses))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_words_split_case_and_punctuation() {
        assert_eq!(header_words("firstName"), vec!["first", "name"]);
        assert_eq!(header_words("date_of_birth"), vec!["date", "of", "birth"]);
    }

    #[test]
    fn kinds_from_headers() {
        assert_eq!(kind_from_header("given_name"), Some(ColumnKind::Name));
        assert_eq!(kind_from_header("soc_sec_id"), Some(ColumnKind::Id));
        assert_eq!(kind_from_header("address_1"), Some(ColumnKind::Address));
        assert_eq!(kind_from_header("ZipCode"), Some(ColumnKind::Postcode));
        assert_eq!(kind_from_header("street_number"), Some(ColumnKind::Address));
        assert_eq!(kind_from_header("colour"), None);
    }

    #[test]
    fn headers_are_hints_the_values_must_bear_out() {
        let g = guess("birth_place", &["devon", "west devon", "plymouth", "exeter", "torquay"]);
        assert_eq!((g.kind, g.basis), (ColumnKind::Text, Basis::ValuesOverHeader(ColumnKind::Date)));
        assert_eq!(guess("birth_year", &["1905", "1925", "1960"]).kind, ColumnKind::Number);
        let restaurants = ["la grotta", "fenix", "second avenue deli", "il mulino", "rose pistola"];
        assert_eq!(guess("name", &restaurants).kind, ColumnKind::Text);
        let products = ["Sony Turntable - PSLX350H", "Koss EQ50 3-Band Stereo Equalizer"];
        assert_eq!(guess("name", &products).kind, ColumnKind::Text);
        let people = ["Edmon Ryan", "Steve Forrest", "Mary Smith", "Jana Brejchova"];
        let g = guess("name", &people);
        assert_eq!((g.kind, g.basis), (ColumnKind::Name, Basis::HeaderAndValues));
        assert_eq!(guess("contact", &people).kind, ColumnKind::Name, "names without a name header");
        // Half of them on the lists: names under a name header, not without.
        let surnames = ["smith", "jonse", "mcdonald", "thompsom", "nguyen", "brkic"];
        assert_eq!(guess("surname", &surnames).kind, ColumnKind::Name);
        assert_eq!(guess("remark", &surnames).kind, ColumnKind::Text);
        assert_eq!(guess("month", &["october", "june", "may", "april"]).kind, ColumnKind::Text);
        assert_eq!(
            guess("modelno", &["MR-ENEL9", "D1680", "108R00657", "152132", "CL-NBK65016"]).kind,
            ColumnKind::Id
        );
        assert_eq!(guess("year", &["1994.", "(1995).", "1996"]).kind, ColumnKind::Number);
    }

    #[test]
    fn kinds_from_values() {
        assert_eq!(kind_from_values(&["a@b.com", "c@d.org"]), ColumnKind::Email);
        assert_eq!(kind_from_values(&["1980-01-02", "1990-03-04"]), ColumnKind::Date);
        assert_eq!(kind_from_values(&["(555) 123-4567", "555-987-6543"]), ColumnKind::Phone);
        assert_eq!(kind_from_values(&["12 main st", "4 oak road"]), ColumnKind::Address);
        assert_eq!(kind_from_values(&["hello world"]), ColumnKind::Text);
    }
}
