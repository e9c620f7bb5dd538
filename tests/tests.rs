//! End-to-end tests: the `findmatches` binary on small fixtures.

mod util;

mod cmd_bad_input;
mod cmd_dedup;
mod cmd_errors;
mod cmd_evaluate;
mod cmd_explain;
mod cmd_formats;
mod cmd_hardening;
mod cmd_incremental;
mod cmd_kill;
mod cmd_report;
mod cmd_review;
mod cmd_train_link;
mod distributed;
