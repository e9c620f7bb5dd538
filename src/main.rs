//! The `findmatches` command: parse, dispatch, map errors to exit codes
//! (0 ok, 1 data or runtime error, 2 usage error).
//!
//! A panic is a bug: its message is kept, not printed where it happens,
//! and reported as one line with exit code 1. The library turns panics of
//! third-party decoders on damaged files into errors, which then print as
//! any other error, without the panic's message.

use std::process::ExitCode;
use std::sync::Mutex;

mod cli;

/// The message of the last panic, for `main` to report.
static PANIC: Mutex<Option<String>> = Mutex::new(None);

fn main() -> ExitCode {
    std::panic::set_hook(Box::new(|info| {
        if let Ok(mut last) = PANIC.lock() {
            *last = Some(info.to_string().replace('\n', " "));
        }
    }));
    match std::panic::catch_unwind(run) {
        Ok(code) => code,
        Err(_) => {
            let what = PANIC.lock().ok().and_then(|p| p.clone()).unwrap_or_default();
            eprintln!("findmatches: internal error (a bug; please report it): {what}");
            ExitCode::from(1)
        }
    }
}

fn run() -> ExitCode {
    let args = match <cli::Cli as clap::Parser>::try_parse() {
        Ok(args) => args,
        Err(err) => {
            let _ = err.print();
            return ExitCode::from(if err.use_stderr() { 2 } else { 0 });
        }
    };
    match cli::run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            if err.chain().any(|e| {
                e.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) {
                return ExitCode::SUCCESS;
            }
            // Each cause once: an error that names its source already
            // (most do) is not followed by it again.
            let mut message = String::new();
            for cause in err.chain().map(|e| e.to_string()) {
                if !message.contains(&cause) {
                    message += if message.is_empty() { "" } else { ": " };
                    message += &cause;
                }
            }
            eprintln!("findmatches: error: {message}");
            let usage =
                err.chain().any(|e| e.downcast_ref::<findmatches::Error>().is_some_and(|e| e.is_usage()));
            ExitCode::from(if usage { 2 } else { 1 })
        }
    }
}
