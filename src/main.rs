//! The `findmatches` command: parse, dispatch, map errors to exit codes
//! (0 ok, 1 data or runtime error, 2 usage error).

use std::process::ExitCode;

mod cli;

fn main() -> ExitCode {
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
            let message: Vec<String> = err.chain().map(|e| e.to_string()).collect();
            eprintln!("findmatches: error: {}", message.join(": "));
            let usage =
                err.chain().any(|e| e.downcast_ref::<findmatches::Error>().is_some_and(|e| e.is_usage()));
            ExitCode::from(if usage { 2 } else { 1 })
        }
    }
}
