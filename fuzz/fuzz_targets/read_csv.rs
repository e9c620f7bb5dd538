//! Any bytes as a CSV file: read under both bad-row policies, then the
//! first column as a key and every column as strings. Errors are fine;
//! panics are not.
#![no_main]

use findmatches::read::BadRows;
use findmatches::Table;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    findmatches_fuzz::quiet_panics();
    let (_dir, path) = findmatches_fuzz::as_file(data, "in.csv");
    for policy in [BadRows::Fail, BadRows::Skip] {
        if let Ok((table, _)) = Table::read_rows(&path, policy) {
            for h in table.headers() {
                let _ = table.strings(&h);
            }
            if let Some(first) = table.headers().first() {
                let _ = table.clone().with_valid_keys(first, policy);
                let _ = table.keys(first);
            }
        }
    }
});
