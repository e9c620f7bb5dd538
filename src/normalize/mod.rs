//! Normalize: one cleaning rule per column kind, applied once per value.
//!
//! Every kind starts from [`fold`]: accents folded to ASCII, lower case,
//! punctuation to spaces, runs of spaces collapsed. Then:
//!
//! | kind | normalized value |
//! |---|---|
//! | name | nicknames to a common form (bill → william), titles dropped |
//! | address | street abbreviations expanded (st → street, rd → road) |
//! | text, category | folded |
//! | email | lower case, `+tag` dropped, gmail dots dropped |
//! | phone | digits only, the last 9 (country and trunk prefixes dropped) |
//! | postcode, id | letters and digits only |
//! | date | `YYYYMMDD` (see [`date`]); digits only when it is no valid date |
//! | number | the number, formatted without trailing zeros |
//!
//! An empty result is a missing value. Normalizers write into a caller's
//! buffer so a column is cleaned without an allocation per value.

pub mod date;
mod tables;

pub use date::DayOrder;

use rustc_hash::FxHashMap;

use crate::config::ColumnKind;

/// Fold `value` into `out`: ASCII, lower case, alphanumeric words
/// separated by single spaces.
pub fn fold(value: &str, out: &mut String) {
    out.clear();
    let mut pending_space = false;
    let mut push = |c: char, out: &mut String| {
        if c.is_ascii_alphanumeric() {
            if pending_space && !out.is_empty() {
                out.push(' ');
            }
            pending_space = false;
            out.push(c.to_ascii_lowercase());
        } else {
            pending_space = true;
        }
    };
    if value.is_ascii() {
        for c in value.chars() {
            push(c, out);
        }
    } else {
        let folded = deunicode::deunicode(value);
        for c in folded.chars() {
            push(c, out);
        }
    }
}

/// Rewrite each word of a folded value through `map` (word to
/// replacement), dropping words whose replacement is empty.
fn map_words(folded: &str, map: &FxHashMap<&str, &str>, out: &mut String) {
    out.clear();
    for word in folded.split(' ') {
        let word = map.get(word).copied().unwrap_or(word);
        if word.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
}

/// Normalizes the values of one column; holds its scratch buffer.
#[derive(Debug)]
pub struct Normalizer {
    kind: ColumnKind,
    day_order: DayOrder,
    scratch: String,
    /// The word table of names or addresses, for lookups.
    words: FxHashMap<&'static str, &'static str>,
}

impl Normalizer {
    /// A normalizer for `kind`; `day_order` reads ambiguous dates.
    pub fn new(kind: ColumnKind, day_order: DayOrder) -> Normalizer {
        let table = match kind {
            ColumnKind::Name => tables::NAME_WORDS,
            ColumnKind::Address => tables::ADDRESS_WORDS,
            _ => &[],
        };
        Normalizer { kind, day_order, scratch: String::new(), words: table.iter().copied().collect() }
    }

    /// Normalize `value` into `out` (cleared first). Returns the date's
    /// day number for dates and the value for numbers, when valid.
    pub fn normalize(&mut self, value: &str, out: &mut String) -> Option<f64> {
        out.clear();
        let scratch = &mut self.scratch;
        match self.kind {
            ColumnKind::Name => {
                fold(value, scratch);
                map_words(scratch, &self.words, out);
                None
            }
            ColumnKind::Address => {
                fold(value, scratch);
                map_words(scratch, &self.words, out);
                None
            }
            ColumnKind::Text | ColumnKind::Category | ColumnKind::Ignore => {
                fold(value, out);
                None
            }
            ColumnKind::Email => {
                email(value, out);
                None
            }
            ColumnKind::Phone => {
                phone(value, out);
                None
            }
            ColumnKind::Postcode | ColumnKind::Id => {
                out.extend(value.chars().filter(char::is_ascii_alphanumeric).map(|c| c.to_ascii_lowercase()));
                None
            }
            ColumnKind::Date => match date::parse(value, self.day_order) {
                Some(d) => {
                    d.write_compact(out);
                    Some(d.days() as f64)
                }
                None => {
                    out.extend(value.chars().filter(char::is_ascii_digit));
                    None
                }
            },
            ColumnKind::Number => match number(value) {
                Some(n) => {
                    use std::fmt::Write;
                    let _ = write!(out, "{n}");
                    Some(n)
                }
                None => {
                    fold(value, out);
                    None
                }
            },
        }
    }
}

/// The number a value writes, if any: thousands separators and spaces
/// dropped, and punctuation or a currency sign around it (`$12.99`,
/// `(1994).`, `12,500`).
pub fn number(value: &str) -> Option<f64> {
    let core = value.trim_matches(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '+'));
    let cleaned: String = core.chars().filter(|c| !c.is_whitespace() && *c != ',' && *c != '_').collect();
    cleaned.parse::<f64>().ok().filter(|n| n.is_finite())
}

/// Canonical e-mail: trimmed, lower case, `+tag` dropped, and for gmail
/// the dots of the local part dropped.
fn email(value: &str, out: &mut String) {
    let value = value.trim().to_ascii_lowercase();
    let Some((local, domain)) = value.rsplit_once('@') else {
        out.push_str(value.trim());
        return;
    };
    let local = local.split('+').next().unwrap_or(local);
    let domain = domain.trim_end_matches('.');
    let gmail = domain == "gmail.com" || domain == "googlemail.com";
    out.extend(local.chars().filter(|c| !(c.is_whitespace() || (gmail && *c == '.'))));
    out.push('@');
    out.push_str(if gmail { "gmail.com" } else { domain });
}

/// Digits of a phone number, the last nine (so `+1 (555) 123-4567`,
/// `555.123.4567` and `15551234567` agree).
fn phone(value: &str, out: &mut String) {
    let digits: Vec<u8> = value.bytes().filter(u8::is_ascii_digit).collect();
    let start = digits.len().saturating_sub(9);
    out.extend(digits[start..].iter().map(|&b| b as char));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(kind: ColumnKind, v: &str) -> String {
        let mut out = String::new();
        Normalizer::new(kind, DayOrder::DayFirst).normalize(v, &mut out);
        out
    }

    #[test]
    fn folds_accents_case_and_punctuation() {
        assert_eq!(norm(ColumnKind::Text, "  Zoë  O'Brien-Smith "), "zoe o brien smith");
        assert_eq!(norm(ColumnKind::Text, "..."), "");
    }

    #[test]
    fn names_use_a_common_nickname_form() {
        assert_eq!(norm(ColumnKind::Name, "Bill"), norm(ColumnKind::Name, "William"));
        assert_eq!(norm(ColumnKind::Name, "Dr. Liz"), "elizabeth");
    }

    #[test]
    fn addresses_expand_abbreviations() {
        assert_eq!(norm(ColumnKind::Address, "12 Main St."), "12 main street");
        assert_eq!(norm(ColumnKind::Address, "4 Oak Rd, Apt 5"), "4 oak road apartment 5");
    }

    #[test]
    fn emails_phones_and_postcodes_are_canonical() {
        assert_eq!(norm(ColumnKind::Email, " John.Doe+news@GMail.com "), "johndoe@gmail.com");
        assert_eq!(norm(ColumnKind::Email, "a.b@work.org"), "a.b@work.org");
        assert_eq!(norm(ColumnKind::Phone, "+1 (555) 123-4567"), norm(ColumnKind::Phone, "555.123.4567"));
        assert_eq!(norm(ColumnKind::Postcode, "sw1a 1aa"), "sw1a1aa");
    }

    #[test]
    fn dates_and_numbers() {
        assert_eq!(norm(ColumnKind::Date, "12/03/1980"), "19800312");
        assert_eq!(norm(ColumnKind::Date, "1980-13-45"), "19801345");
        assert_eq!(norm(ColumnKind::Number, "1,200.50"), "1200.5");
        assert_eq!(norm(ColumnKind::Number, "$12.99"), "12.99");
        assert_eq!(norm(ColumnKind::Number, "(1994)."), "1994");
        assert_eq!(norm(ColumnKind::Number, "-3"), "-3");
        assert_eq!(norm(ColumnKind::Number, "12a"), "12a");
    }
}
