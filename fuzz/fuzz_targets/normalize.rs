//! Any string through the normalizer of every column kind and the date
//! parser, in both day orders. Panics are bugs.
#![no_main]

use findmatches::normalize::{date, DayOrder, Normalizer};
use findmatches::ColumnKind;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    findmatches_fuzz::quiet_panics();
    let Ok(value) = std::str::from_utf8(data) else { return };
    let mut out = String::new();
    for order in [DayOrder::DayFirst, DayOrder::MonthFirst] {
        let _ = date::parse(value, order);
        for kind in ColumnKind::ALL {
            let mut n = Normalizer::new(kind, order);
            let _ = n.normalize(value, &mut out);
        }
    }
});
