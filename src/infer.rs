//! Infer a transform definition from a table's headers and values, for
//! `findmatches init` and for `dedup` without a definition.
//!
//! The header name is the strongest hint (`email`, `zip`, `dob`,
//! `surname`...); the values decide when it says nothing (e-mail shapes,
//! digit counts, dates, word counts). The primary key is a column named
//! like an id whose values are all present and unique, else the first
//! such column. The result is a starting point for the user to edit.

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
    (&["state", "country", "gender", "sex", "province", "region", "county", "venue"], ColumnKind::Category),
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

fn kind_from_values(values: &[&str]) -> ColumnKind {
    if values.is_empty() {
        return ColumnKind::Ignore;
    }
    let digits = |v: &str| v.chars().filter(char::is_ascii_digit).count();
    if share(values, |v| v.contains('@') && v.contains('.') && !v.contains(' ')) > 0.8 {
        return ColumnKind::Email;
    }
    if share(values, |v| date::parse(v, DayOrder::DayFirst).is_some() && digits(v) >= 6) > 0.8 {
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
    if share(values, |v| v.parse::<f64>().is_ok()) > 0.9 {
        let distinct: HashSet<&str> = values.iter().copied().collect();
        return if distinct.len() as f64 > 0.5 * values.len() as f64 && values.iter().all(|v| v.len() >= 6) {
            ColumnKind::Id
        } else {
            ColumnKind::Number
        };
    }
    let distinct: HashSet<String> = values.iter().map(|v| v.to_lowercase()).collect();
    if distinct.len() <= 30 && values.len() >= 100 {
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
    ColumnKind::Text
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
    for (i, header) in headers.iter().enumerate() {
        if i == key {
            continue;
        }
        let values = sample(&columns[i]);
        let by_values = kind_from_values(&values);
        let kind = match kind_from_header(header) {
            // A name-like header over values that are clearly something
            // else (e.g. "name" holding e-mails) follows the values.
            Some(ColumnKind::Name | ColumnKind::Text)
                if matches!(by_values, ColumnKind::Email | ColumnKind::Phone) =>
            {
                by_values
            }
            // "street_number" holding numbers: short text with typos.
            Some(ColumnKind::Address) if matches!(by_values, ColumnKind::Number | ColumnKind::Id) => {
                ColumnKind::Text
            }
            Some(kind) => kind,
            None if id_like(header) => ColumnKind::Id,
            None => by_values,
        };
        kinds.insert(header.clone(), kind);
    }
    let def = TransformDef { primary_key: headers[key].clone(), columns: kinds, tuning: Tuning::default() };
    def.validate(table.path())?;
    Ok(def)
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
    fn kinds_from_values() {
        assert_eq!(kind_from_values(&["a@b.com", "c@d.org"]), ColumnKind::Email);
        assert_eq!(kind_from_values(&["1980-01-02", "1990-03-04"]), ColumnKind::Date);
        assert_eq!(kind_from_values(&["(555) 123-4567", "555-987-6543"]), ColumnKind::Phone);
        assert_eq!(kind_from_values(&["12 main st", "4 oak road"]), ColumnKind::Address);
        assert_eq!(kind_from_values(&["hello world"]), ColumnKind::Text);
    }
}
