//! Dates in any common format, to a canonical `YYYYMMDD` and a day number.
//!
//! Accepted: `YYYYMMDD`, `YYYY-MM-DD` (also `/` or `.`), `DD/MM/YYYY` and
//! `MM/DD/YYYY` (also `-` or `.`; which one is decided per value when a
//! part exceeds 12 and otherwise by the column's majority, see
//! [`DayOrder`]), two-digit years (`DD/MM/YY`, pivot 30), and month names
//! (`12 Mar 1980`, `March 12, 1980`, `1980-Mar-12`). A time part after the
//! date (`T10:00`, ` 10:00:00`) is ignored.

use crate::calendar::days_from_civil;

/// How to read an ambiguous `a/b/yyyy` date.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum DayOrder {
    /// Day first (most of the world).
    #[default]
    DayFirst,
    /// Month first (United States).
    MonthFirst,
}

/// A calendar date.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Date {
    /// Year.
    pub year: i32,
    /// Month, 1..=12.
    pub month: u32,
    /// Day, 1..=31.
    pub day: u32,
}

impl Date {
    fn new(year: i32, month: u32, day: u32) -> Option<Date> {
        let valid = (1..=12).contains(&month) && day >= 1 && day <= days_in_month(year, month);
        (valid && (1000..=9999).contains(&year)).then_some(Date { year, month, day })
    }

    /// Days since 1970-01-01.
    pub fn days(&self) -> i32 {
        days_from_civil(self.year, self.month, self.day)
    }

    /// Write the date as `YYYYMMDD`.
    pub fn write_compact(&self, out: &mut String) {
        use std::fmt::Write;
        let _ = write!(out, "{:04}{:02}{:02}", self.year, self.month, self.day);
    }
}

fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        _ => 0,
    }
}

const MONTHS: [&str; 12] =
    ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];

fn month_of(word: &str) -> Option<u32> {
    if word.len() < 3 {
        return None;
    }
    let prefix = word.get(..3)?.to_ascii_lowercase();
    MONTHS.iter().position(|m| *m == prefix).map(|i| i as u32 + 1)
}

fn full_year(year: &str) -> Option<i32> {
    let y: i32 = year.parse().ok()?;
    match year.len() {
        4 => Some(y),
        2 => Some(if y <= 30 { 2000 + y } else { 1900 + y }),
        _ => None,
    }
}

/// The parts of a date-like value: numbers and words, without separators
/// or a trailing time.
fn parts(value: &str) -> Vec<&str> {
    let date_part = value.trim().split(['T', ' ']).collect::<Vec<_>>();
    // Keep words (month names) but drop a trailing time like 10:00:00.
    let text = if date_part.len() > 1 && date_part.last().is_some_and(|p| p.contains(':')) {
        &value.trim()[..value.trim().len() - date_part.last().map_or(0, |p| p.len())]
    } else {
        value.trim()
    };
    let text = text.split('T').next().unwrap_or(text);
    text.split(|c: char| !c.is_ascii_alphanumeric()).filter(|p| !p.is_empty()).collect()
}

/// Which order an ambiguous value would force: `Some(DayFirst)` for
/// `31/01/1990`, `Some(MonthFirst)` for `01/31/1990`, `None` otherwise.
pub fn order_hint(value: &str) -> Option<DayOrder> {
    let p = parts(value);
    if p.len() != 3 || p[0].len() > 2 || !p.iter().all(|x| x.bytes().all(|b| b.is_ascii_digit())) {
        return None;
    }
    let (a, b): (u32, u32) = (p[0].parse().ok()?, p[1].parse().ok()?);
    match (a > 12, b > 12) {
        (true, false) => Some(DayOrder::DayFirst),
        (false, true) => Some(DayOrder::MonthFirst),
        _ => None,
    }
}

/// Parse a date; `None` when the value is not a valid date.
pub fn parse(value: &str, order: DayOrder) -> Option<Date> {
    let p = parts(value);
    let num = |s: &str| -> Option<u32> {
        if s.bytes().all(|b| b.is_ascii_digit()) {
            s.parse().ok()
        } else {
            None
        }
    };
    match p.as_slice() {
        [compact] if compact.len() == 8 && num(compact).is_some() => {
            let y: i32 = compact[..4].parse().ok()?;
            Date::new(y, compact[4..6].parse().ok()?, compact[6..].parse().ok()?).or_else(|| {
                // DDMMYYYY
                Date::new(compact[4..].parse().ok()?, compact[2..4].parse().ok()?, compact[..2].parse().ok()?)
            })
        }
        [a, b, c] => {
            if a.len() == 4 {
                // Year first: YYYY-MM-DD or YYYY-Mon-DD.
                let y = full_year(a)?;
                let m = num(b).or_else(|| month_of(b))?;
                Date::new(y, m, num(c)?)
            } else if let Some(m) = month_of(a) {
                // March 12, 1980
                Date::new(full_year(c)?, m, num(b)?)
            } else if let Some(m) = month_of(b) {
                // 12 Mar 1980
                Date::new(full_year(c)?, m, num(a)?)
            } else {
                let (x, y, year) = (num(a)?, num(b)?, full_year(c)?);
                let (day, month) = match (x > 12, y > 12, order) {
                    (true, _, _) => (x, y),
                    (_, true, _) => (y, x),
                    (_, _, DayOrder::DayFirst) => (x, y),
                    (_, _, DayOrder::MonthFirst) => (y, x),
                };
                Date::new(year, month, day)
            }
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ymd(v: &str, order: DayOrder) -> Option<(i32, u32, u32)> {
        parse(v, order).map(|d| (d.year, d.month, d.day))
    }

    #[test]
    fn parses_common_formats() {
        let d = DayOrder::DayFirst;
        assert_eq!(ymd("19800312", d), Some((1980, 3, 12)));
        assert_eq!(ymd("1980-03-12", d), Some((1980, 3, 12)));
        assert_eq!(ymd("1980/03/12", d), Some((1980, 3, 12)));
        assert_eq!(ymd("12/03/1980", d), Some((1980, 3, 12)));
        assert_eq!(ymd("03/12/1980", DayOrder::MonthFirst), Some((1980, 3, 12)));
        assert_eq!(ymd("03/25/1980", d), Some((1980, 3, 25)));
        assert_eq!(ymd("12 Mar 1980", d), Some((1980, 3, 12)));
        assert_eq!(ymd("March 12, 1980", d), Some((1980, 3, 12)));
        assert_eq!(ymd("12.03.80", d), Some((1980, 3, 12)));
        assert_eq!(ymd("1980-03-12T10:00:00", d), Some((1980, 3, 12)));
        assert_eq!(ymd("1980-03-12 10:00:00", d), Some((1980, 3, 12)));
        assert_eq!(ymd("19801312", d), None);
        assert_eq!(ymd("1980-02-30", d), None);
        assert_eq!(ymd("soon", d), None);
    }
}
