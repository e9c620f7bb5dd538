//! Person names as they occur: the US Census Bureau's 1990 name frequency
//! lists (public domain, as the `names` package on PyPI ships them, MIT):
//! every female and male first name and the 10,000 commonest surnames,
//! each with the percent of people who bear it.
//!
//! A floor below the stages: [`crate::synth`] draws names from the lists
//! with their frequencies, and [`crate::infer`] asks whether a column's
//! words are people's names.

use std::collections::HashSet;
use std::sync::OnceLock;

/// Female first names: `name,percent` lines after a `#` comment.
pub const FEMALE: &str = include_str!("data/female.csv");
/// Male first names, likewise.
pub const MALE: &str = include_str!("data/male.csv");
/// Surnames, likewise.
pub const SURNAMES: &str = include_str!("data/surnames.csv");

/// The `(name, percent)` rows of one of the lists.
pub fn rows(list: &'static str) -> impl Iterator<Item = (&'static str, f64)> {
    list.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| l.split_once(','))
        .map(|(name, pct)| (name, pct.parse::<f64>().unwrap_or(0.0)))
}

/// Whether `word` (lower case) is a first name or surname of the lists.
pub fn is_person_name(word: &str) -> bool {
    static ALL: OnceLock<HashSet<&'static str>> = OnceLock::new();
    ALL.get_or_init(|| [FEMALE, MALE, SURNAMES].into_iter().flat_map(rows).map(|(n, _)| n).collect())
        .contains(word)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_hold_real_names_in_frequency_order() {
        assert!(is_person_name("smith") && is_person_name("maria") && is_person_name("john"));
        assert!(!is_person_name("grotta") && !is_person_name("turntable"));
        let top: Vec<_> = rows(SURNAMES).take(2).collect();
        assert_eq!(top[0].0, "smith");
        assert!(top[0].1 > top[1].1);
    }
}
