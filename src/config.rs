//! The transform definition: which column is the key, what kind each
//! matched column is, and the tuning knobs.
//!
//! A definition is TOML (see the README), parsed once, validated, then
//! immutable. Column order is kept: it fixes the order of features in a
//! model. Columns the definition does not list are carried to the output
//! untouched and take no part in matching.

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::stats::{logit, sigmoid};

/// What a column holds, which decides how it is normalized, blocked and
/// compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ColumnKind {
    /// A person's name or part of one: nicknames, phonetic codes.
    Name,
    /// Free text: titles, descriptions, short labels with typos.
    Text,
    /// A street address: abbreviations expanded (St → street).
    Address,
    /// An e-mail address: case and provider quirks folded.
    Email,
    /// A phone number: digits only, country prefix dropped.
    Phone,
    /// A postal code: upper case, no spaces.
    Postcode,
    /// A calendar date in any common format.
    Date,
    /// A number.
    Number,
    /// A value from a small set (state, gender): exact comparison.
    Category,
    /// An identifier (passport, tax number): exact or near-exact.
    Id,
    /// Not used for matching.
    Ignore,
}

impl ColumnKind {
    /// Every kind, in documentation order.
    pub const ALL: [ColumnKind; 11] = [
        ColumnKind::Name,
        ColumnKind::Text,
        ColumnKind::Address,
        ColumnKind::Email,
        ColumnKind::Phone,
        ColumnKind::Postcode,
        ColumnKind::Date,
        ColumnKind::Number,
        ColumnKind::Category,
        ColumnKind::Id,
        ColumnKind::Ignore,
    ];

    /// The kind's name as written in a definition.
    pub fn as_str(self) -> &'static str {
        match self {
            ColumnKind::Name => "name",
            ColumnKind::Text => "text",
            ColumnKind::Address => "address",
            ColumnKind::Email => "email",
            ColumnKind::Phone => "phone",
            ColumnKind::Postcode => "postcode",
            ColumnKind::Date => "date",
            ColumnKind::Number => "number",
            ColumnKind::Category => "category",
            ColumnKind::Id => "id",
            ColumnKind::Ignore => "ignore",
        }
    }

    /// Whether distinct entities often have the same value: a household
    /// shares its address, postcode, phone and sometimes its e-mail, so
    /// agreeing there says "same place", not "same person".
    pub fn shared(self) -> bool {
        matches!(self, ColumnKind::Address | ColumnKind::Email | ColumnKind::Phone | ColumnKind::Postcode)
    }
}

impl fmt::Display for ColumnKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ColumnKind {
    type Err = String;

    fn from_str(s: &str) -> Result<ColumnKind, String> {
        ColumnKind::ALL.into_iter().find(|k| k.as_str() == s).ok_or_else(|| {
            let names: Vec<_> = ColumnKind::ALL.iter().map(|k| k.as_str()).collect();
            format!("unknown column kind '{s}' (kinds: {})", names.join(", "))
        })
    }
}

/// FindMatches' tuning knobs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Tuning {
    /// 0..1, default 0.5: higher means fewer, surer matches (a higher
    /// probability threshold).
    pub precision_recall_tradeoff: f64,
    /// 0..1, default 0.5: higher means a wider candidate search (more
    /// neighbours per record, larger blocks), slower but with fewer missed
    /// matches.
    pub accuracy_cost_tradeoff: f64,
    /// Keep the pairs the model was trained on as labeled: labeled matches
    /// in one cluster and labeled non-matches apart, whatever the model
    /// says (batch dedup and link).
    pub enforce_provided_labels: bool,
    /// In `link`, a record matches at most one record of the other table
    /// (the tables are each free of duplicates). Default true.
    pub link_one_to_one: bool,
}

impl Default for Tuning {
    fn default() -> Tuning {
        Tuning {
            precision_recall_tradeoff: 0.5,
            accuracy_cost_tradeoff: 0.5,
            enforce_provided_labels: false,
            link_one_to_one: true,
        }
    }
}

impl Tuning {
    /// The match probability at or above which a pair is a match, given
    /// the model's balanced threshold `base` (the one that maximized F1 in
    /// training's cross-validation).
    ///
    /// The default 0.5 gives `base`; each step of 0.1 moves the threshold
    /// by 0.8 in logit space (evidence), up for precision, down for
    /// recall. From a base of 0.5: 0.75 gives 0.88, 0.9 gives 0.96, 0.25
    /// gives 0.12.
    pub fn match_threshold(&self, base: f32) -> f32 {
        let base = (base as f64).clamp(1e-6, 1.0 - 1e-6);
        sigmoid(logit(base) + 8.0 * (self.precision_recall_tradeoff - 0.5)) as f32
    }

    /// How many key neighbours (the records sharing the most blocking
    /// keys) each record keeps: 1 at 0, 4 at the default 0.5, 8 at 1.
    pub fn key_neighbours(&self) -> usize {
        ((self.accuracy_cost_tradeoff * 8.0).round() as usize).max(1)
    }

    /// How many nearest neighbours the blocking index returns per record.
    pub fn index_neighbours(&self) -> usize {
        4 + (self.accuracy_cost_tradeoff * 24.0).round() as usize
    }

    /// Records with fewer exact-key candidates than this also query the
    /// blocking index: 0 (never) at 0, 1 (records no key blocks) at the
    /// default 0.5, 5 at 1.
    pub fn index_fallback_degree(&self) -> usize {
        (1.0 + 8.0 * (self.accuracy_cost_tradeoff - 0.5)).round().max(0.0) as usize
    }

    /// The largest exact-key block whose records rank each other as
    /// candidates (50 at the default 0.5); larger blocks are too common a
    /// value to mean anything. Halving it from 100 changed no F1 on
    /// Febrl3, DBLP-ACM or 1M generated customers.
    pub fn max_block(&self) -> usize {
        10 + (self.accuracy_cost_tradeoff * 80.0).round() as usize
    }

    fn validate(&self, path: &Path) -> Result<()> {
        for (name, value) in [
            ("precision_recall_tradeoff", self.precision_recall_tradeoff),
            ("accuracy_cost_tradeoff", self.accuracy_cost_tradeoff),
        ] {
            if !(0.0..=1.0).contains(&value) {
                return Err(Error::config(
                    path,
                    format!("tuning.{name} must be between 0 and 1, not {value}"),
                ));
            }
        }
        Ok(())
    }
}

/// A transform definition: the key, the matched columns and the tuning.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransformDef {
    /// The column that identifies a record: unique and never empty.
    pub primary_key: String,
    /// Matched columns, in order, with their kinds.
    pub columns: IndexMap<String, ColumnKind>,
    /// The tuning knobs.
    #[serde(default)]
    pub tuning: Tuning,
}

impl TransformDef {
    /// Parse a definition from TOML text; `path` names it in errors.
    pub fn from_toml(text: &str, path: &Path) -> Result<TransformDef> {
        let def: TransformDef = toml::from_str(text).map_err(|e| {
            let line = e.span().map(|span| text[..span.start.min(text.len())].lines().count().max(1));
            let at = line.map(|l| format!("line {l}: ")).unwrap_or_default();
            Error::config(path, format!("{at}{}", e.message().trim_end().replace('\n', " ")))
        })?;
        def.validate(path)?;
        Ok(def)
    }

    /// Read and parse a definition file.
    pub fn load(path: &Path) -> Result<TransformDef> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        TransformDef::from_toml(&text, path)
    }

    /// The definition as TOML, with a comment naming the kinds.
    pub fn to_toml(&self) -> String {
        let mut body = toml::to_string_pretty(self).unwrap_or_default();
        if !body.ends_with('\n') {
            body.push('\n');
        }
        let kinds: Vec<_> = ColumnKind::ALL.iter().map(|k| k.as_str()).collect();
        format!(
            "# findmatches transform definition.\n# Column kinds: {}.\n\
             # Unlisted columns are carried to the output but not matched.\n{body}",
            kinds.join(", ")
        )
    }

    /// Check the definition on its own: a key, at least one matched
    /// column, knobs in range.
    pub fn validate(&self, path: &Path) -> Result<()> {
        if self.primary_key.trim().is_empty() {
            return Err(Error::config(path, "primary_key is empty"));
        }
        if self.columns.contains_key(&self.primary_key) {
            return Err(Error::config(
                path,
                format!("the primary key '{}' cannot also be a matched column", self.primary_key),
            ));
        }
        if self.matched_columns().next().is_none() {
            return Err(Error::config(path, "no column to match on: [columns] lists none"));
        }
        self.tuning.validate(path)
    }

    /// The columns the definition names (key included) that `headers`
    /// lacks, in definition order.
    pub fn missing_columns(&self, headers: &[String]) -> Vec<String> {
        std::iter::once(&self.primary_key)
            .chain(self.columns.keys())
            .filter(|c| !headers.contains(c))
            .cloned()
            .collect()
    }

    /// Check that a table with these headers has every column the
    /// definition names. `def_path` and `data_path` name the two files.
    pub fn check_headers(&self, headers: &[String], def_path: &Path, data_path: &Path) -> Result<()> {
        let missing = self.missing_columns(headers);
        if missing.is_empty() {
            return Ok(());
        }
        Err(Error::config(
            def_path,
            format!(
                "column{} {} not in {} (its columns: {})",
                if missing.len() > 1 { "s" } else { "" },
                missing.iter().map(|c| format!("'{c}'")).collect::<Vec<_>>().join(", "),
                data_path.display(),
                headers.join(", ")
            ),
        ))
    }

    /// The columns used for matching (kind not `ignore`), in order.
    pub fn matched_columns(&self) -> impl Iterator<Item = (&str, ColumnKind)> {
        self.columns.iter().filter(|(_, k)| **k != ColumnKind::Ignore).map(|(c, k)| (c.as_str(), *k))
    }

    /// True when both definitions match the same columns with the same
    /// kinds (tuning may differ).
    pub fn same_schema(&self, other: &TransformDef) -> bool {
        self.primary_key == other.primary_key && self.matched_columns().eq(other.matched_columns())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEF: &str = r#"
primary_key = "id"
[columns]
first = "name"
email = "email"
[tuning]
precision_recall_tradeoff = 0.9
"#;

    #[test]
    fn parses_and_keeps_column_order() {
        let def = TransformDef::from_toml(DEF, Path::new("d.toml")).unwrap();
        let cols: Vec<_> = def.matched_columns().collect();
        assert_eq!(cols, vec![("first", ColumnKind::Name), ("email", ColumnKind::Email)]);
        assert_eq!(def.tuning.accuracy_cost_tradeoff, 0.5);
        let again = TransformDef::from_toml(&def.to_toml(), Path::new("d.toml")).unwrap();
        assert_eq!(again, def);
    }

    #[test]
    fn rejects_unknown_kind_and_out_of_range_knob() {
        let bad = DEF.replace("\"email\"", "\"emial\"");
        let err = TransformDef::from_toml(&bad, Path::new("d.toml")).unwrap_err();
        assert!(err.to_string().starts_with("d.toml: "), "{err}");
        assert!(err.is_usage());
        let bad = DEF.replace("0.9", "1.5");
        let err = TransformDef::from_toml(&bad, Path::new("d.toml")).unwrap_err();
        assert!(err.to_string().contains("between 0 and 1"), "{err}");
    }

    #[test]
    fn threshold_follows_the_tradeoff() {
        let mut t = Tuning::default();
        assert!((t.match_threshold(0.5) - 0.5).abs() < 1e-6);
        assert!((t.match_threshold(0.2) - 0.2).abs() < 1e-6);
        t.precision_recall_tradeoff = 0.9;
        let high = t.match_threshold(0.5);
        assert!(t.match_threshold(0.2) < high);
        t.precision_recall_tradeoff = 0.1;
        let low = t.match_threshold(0.5);
        assert!(high > 0.95 && low < 0.05, "{high} {low}");
    }

    #[test]
    fn missing_columns_are_named() {
        let def = TransformDef::from_toml(DEF, Path::new("d.toml")).unwrap();
        let headers = vec!["id".to_string(), "first".to_string()];
        let err = def.check_headers(&headers, Path::new("d.toml"), Path::new("x.csv")).unwrap_err();
        assert!(err.to_string().contains("'email' not in x.csv"), "{err}");
    }
}
