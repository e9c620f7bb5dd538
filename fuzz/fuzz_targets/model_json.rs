//! Any text as a model file. Errors are fine; panics are not.
#![no_main]

use findmatches::MatchModel;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    findmatches_fuzz::quiet_panics();
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = MatchModel::from_json(text, std::path::Path::new("model.json"));
    }
});
