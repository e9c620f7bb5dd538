//! Any bytes as a Parquet file. Errors are fine; panics are not.
#![no_main]

use findmatches::Table;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    findmatches_fuzz::quiet_panics();
    let (_dir, path) = findmatches_fuzz::as_file(data, "in.parquet");
    if let Ok(table) = Table::read(&path) {
        for h in table.headers() {
            let _ = table.strings(&h);
        }
    }
});
