//! Any bytes as a labels file (either format) and as a labeling sheet.
//! Errors are fine; panics are not.
#![no_main]

use findmatches::labels::{LabelingSheet, Labels};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    findmatches_fuzz::quiet_panics();
    let (_dir, path) = findmatches_fuzz::as_file(data, "labels.csv");
    if let Ok(mut labels) = Labels::read(&path, "id") {
        let other = labels.clone();
        labels.merge(&other);
    }
    if let Ok(sheet) = LabelingSheet::read(&path) {
        let mut review = findmatches::review::Review::new(sheet.sets(), sheet.labels());
        while let Some(q) = review.next_question() {
            review.answer(&q, findmatches::review::Answer::Different);
        }
    }
});
