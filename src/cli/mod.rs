//! The command line: global flags, one module per subcommand. Commands
//! only connect flags to the library and report; no matching logic lives
//! here.

mod baseline;
mod dedup;
mod evaluate;
mod explain;
mod incremental;
mod init;
mod label;
mod link;
mod progress;
mod report;
mod review;
mod synth;
mod train;

use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand};
use findmatches::read::{BadRows, Rejected};
use findmatches::{MatchModel, Table, TransformDef};

/// Fuzzy record matching: train a matcher from labeled examples, then
/// give every record a match_id (same id = same real-world entity).
#[derive(Parser, Debug)]
#[command(name = "findmatches", version, about, long_about = None)]
pub struct Cli {
    /// No progress bars or summaries on stderr.
    #[arg(long, short, global = true)]
    quiet: bool,
    /// Print a machine-readable JSON summary on stdout.
    #[arg(long, global = true)]
    json: bool,
    /// Worker threads (default: all cores).
    #[arg(long, global = true, value_name = "N")]
    threads: Option<usize>,
    /// Memory a run may take (e.g. 800MB, 4GB; default: what the machine
    /// has available). A run whose input would need more stops before
    /// reading it, saying so.
    #[arg(long, global = true, value_name = "SIZE", value_parser = parse_size)]
    max_memory: Option<u64>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    Init(init::Args),
    Train(train::Args),
    Dedup(dedup::Args),
    Link(link::Args),
    Incremental(incremental::Args),
    Explain(explain::Args),
    Evaluate(evaluate::Args),
    Report(report::Args),
    #[command(subcommand)]
    Baseline(baseline::Command),
    #[command(subcommand)]
    Label(label::Command),
    Synth(synth::Args),
}

/// What every command gets besides its own flags.
pub struct Global {
    pub quiet: bool,
    pub json: bool,
    pub max_memory: Option<u64>,
}

impl Global {
    /// Print a one-line human summary on stderr, unless quiet.
    pub fn say(&self, line: impl AsRef<str>) {
        if !self.quiet {
            eprintln!("{}", line.as_ref());
        }
    }

    /// Stop now, with a message, if matching `inputs` would need more
    /// memory than `--max-memory` or, without it, than there is.
    pub fn fits(&self, inputs: &[impl AsRef<Path>]) -> anyhow::Result<()> {
        let (limit, source) = match self.max_memory {
            Some(limit) => (limit, "limit (--max-memory)"),
            None => match findmatches::resources::memory_available() {
                Some(available) => (available, "available"),
                None => return Ok(()),
            },
        };
        Ok(findmatches::resources::check_memory(inputs, limit, source)?)
    }

    /// Print a JSON summary on stdout when asked to, with the worker
    /// threads the run had (`--threads`) and the threads the process holds
    /// at its end (Linux), so both can be checked.
    pub fn emit(&self, mut value: serde_json::Value) {
        if !self.json {
            return;
        }
        if let Some(object) = value.as_object_mut() {
            object.insert("threads".into(), rayon::current_num_threads().into());
            if let Ok(tasks) = std::fs::read_dir("/proc/self/task") {
                object.insert("process_threads".into(), tasks.count().into());
            }
        }
        println!("{value}");
    }
}

pub fn run(cli: Cli) -> anyhow::Result<()> {
    let global = Global { quiet: cli.quiet, json: cli.json, max_memory: cli.max_memory };
    let mut pool = rayon::ThreadPoolBuilder::new();
    if let Some(n) = cli.threads {
        if n == 0 {
            return Err(findmatches::Error::usage("--threads must be at least 1").into());
        }
        pool = pool.num_threads(n);
    }
    let pool = pool.build()?;
    pool.install(|| match cli.command {
        Command::Init(args) => init::run(&args, &global),
        Command::Train(args) => train::run(&args, &global),
        Command::Dedup(args) => dedup::run(&args, &global),
        Command::Link(args) => link::run(&args, &global),
        Command::Incremental(args) => incremental::run(&args, &global),
        Command::Explain(args) => explain::run(&args, &global),
        Command::Evaluate(args) => evaluate::run(&args, &global),
        Command::Report(args) => report::run(&args, &global),
        Command::Baseline(cmd) => baseline::run(&cmd, &global),
        Command::Label(cmd) => label::run(&cmd, &global),
        Command::Synth(args) => synth::run(&args, &global),
    })
}

/// The model flags of the commands that run a model.
#[derive(clap::Args, Debug)]
pub struct ModelArgs {
    /// A trained model (default: the bundled one).
    #[arg(long, short)]
    model: Option<PathBuf>,
    /// A transform definition; its tuning overrides the model's.
    #[arg(long, short)]
    config: Option<PathBuf>,
}

impl ModelArgs {
    /// The model to run on `data` (see [`resolve_model`]).
    pub fn resolve(&self, data: &Table) -> anyhow::Result<MatchModel> {
        resolve_model(self.model.as_deref(), self.config.as_deref(), data)
    }
}

/// A model and the data it runs on (one table, or the two of a link).
#[derive(clap::Args, Debug)]
pub struct ModelOnData {
    #[command(flatten)]
    model: ModelArgs,
    /// The data; repeat for the two tables of a link.
    #[arg(long, short, required = true)]
    input: Vec<PathBuf>,
}

impl ModelOnData {
    /// Read the tables (if they fit in memory: [`Global::fits`]) and
    /// resolve the model on them.
    pub fn load(&self, global: &Global) -> anyhow::Result<(MatchModel, Vec<Table>)> {
        global.fits(&self.input)?;
        let tables = self.input.iter().map(|p| Table::read(p)).collect::<Result<Vec<_>, _>>()?;
        let model = self.model.resolve(&tables[0])?;
        for t in &tables[1..] {
            model.check_table(t)?;
        }
        Ok((model, tables))
    }
}

/// The model and definition a matching command runs with.
///
/// - `--model` given: that model; `--config`, if given too, must match
///   its columns and supplies the tuning.
/// - no `--model`: the bundled model, with `--config` or a definition
///   inferred from `data`, which must match the bundled model's columns.
fn resolve_model(model: Option<&Path>, config: Option<&Path>, data: &Table) -> anyhow::Result<MatchModel> {
    let (loaded, model_path) = match model {
        Some(path) => (MatchModel::load(path)?, path.to_path_buf()),
        None => (findmatches::bundled_model()?, PathBuf::from("the bundled model (models/default.json)")),
    };
    let def = match config {
        Some(path) => Some(TransformDef::load(path)?),
        None if model.is_none() => Some(findmatches::infer::infer(data)?),
        None => None,
    };
    let loaded = match def {
        Some(def) => {
            loaded.check_definition(&def, &model_path).map_err(|e| {
                if model.is_none() && config.is_none() {
                    anyhow::Error::from(e).context(format!(
                        "no --model given and the bundled model does not fit {}; \
                         run `findmatches init` and `findmatches train` for this data",
                        data.path().display()
                    ))
                } else {
                    e.into()
                }
            })?;
            loaded.with_tuning(def.tuning)
        }
        None => loaded,
    };
    let missing = loaded.definition.missing_columns(&data.headers());
    if !missing.is_empty() {
        return Err(findmatches::Error::model_mismatch(
            &model_path,
            format!(
                "needs column(s) {} that {} lacks (its columns: {})",
                missing.join(", "),
                data.path().display(),
                data.headers().join(", ")
            ),
        )
        .into());
    }
    Ok(loaded)
}

/// How input rows that cannot be read or keyed are handled.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnBadRow {
    /// Stop at the first, with an error naming file, line and column.
    Fail,
    /// Leave them out, count them, and list them with --rejects.
    Skip,
}

/// The bad-row flags of the commands that read data unattended.
#[derive(clap::Args, Debug)]
pub struct BadRowArgs {
    /// A row that cannot be read (ragged, not UTF-8, a NUL byte) or keyed
    /// (empty or repeated primary key): fail the run, or skip the row (of
    /// rows sharing a key, the first is kept).
    #[arg(long, value_enum, default_value = "fail", value_name = "POLICY")]
    on_bad_row: OnBadRow,
    /// With --on-bad-row skip: list the skipped rows here (CSV: file, line,
    /// row, column, problem).
    #[arg(long, value_name = "FILE")]
    rejects: Option<PathBuf>,
}

impl BadRowArgs {
    fn policy(&self) -> BadRows {
        match self.on_bad_row {
            OnBadRow::Fail => BadRows::Fail,
            OnBadRow::Skip => BadRows::Skip,
        }
    }

    /// Check the flags before any work.
    pub fn check(&self) -> anyhow::Result<()> {
        if self.rejects.is_some() && self.on_bad_row == OnBadRow::Fail {
            return Err(findmatches::Error::usage("--rejects needs --on-bad-row skip").into());
        }
        if let Some(path) = &self.rejects {
            check_output(path)?;
        }
        Ok(())
    }

    /// Read a table under the policy; rows it left out are added to `rejects`.
    pub fn read(&self, path: &Path, rejects: &mut Vec<Rejected>) -> anyhow::Result<Table> {
        let (table, mut skipped) = Table::read_rows(path, self.policy())?;
        rejects.append(&mut skipped);
        Ok(table)
    }

    /// The table without rows whose primary key `key` is empty or repeated,
    /// under the policy; rows it left out are added to `rejects`.
    pub fn keyed(&self, table: Table, key: &str, rejects: &mut Vec<Rejected>) -> anyhow::Result<Table> {
        let (table, mut skipped) = table.with_valid_keys(key, self.policy())?;
        rejects.append(&mut skipped);
        Ok(table)
    }

    /// Say how many rows were skipped and write the rejects file (in file
    /// order).
    pub fn report(&self, rejects: &mut [Rejected], global: &Global) -> anyhow::Result<()> {
        rejects.sort_by_key(|r| (r.path.clone(), r.position.line, r.position.row));
        if let Some(path) = &self.rejects {
            findmatches::read::write_rejects(path, rejects)?;
        }
        if let Some(first) = rejects.first() {
            global.say(format!(
                "skipped {} bad row(s){}; the first: {}: {}: {}",
                rejects.len(),
                self.rejects.as_ref().map(|p| format!(" (listed in {})", p.display())).unwrap_or_default(),
                first.path.display(),
                first.position,
                first.problem
            ));
        }
        Ok(())
    }
}

/// Refuse an output path whose format is unknown, or that cannot be
/// written, before any work is done.
pub fn check_output(path: &Path) -> anyhow::Result<()> {
    if findmatches::read::Format::named(path).is_none() {
        return Err(findmatches::Error::usage(format!(
            "{}: output must end in .csv, .tsv, .csv.gz, .tsv.gz, .parquet or .pq",
            path.display()
        ))
        .into());
    }
    check_writable(path)
}

/// `--report FILE.html`, on the commands that can report.
#[derive(clap::Args, Debug)]
pub struct ReportArgs {
    /// Also write an HTML report here: the run's figures, the scores
    /// around the threshold, the model's weights, and the weakest matches
    /// side by side with each column's evidence. One self-contained file.
    #[arg(long, value_name = "FILE.html")]
    pub report: Option<PathBuf>,
}

impl ReportArgs {
    /// Check the path before the run: an .html file in a writable place.
    pub fn check(&self) -> anyhow::Result<()> {
        self.report.as_deref().map_or(Ok(()), check_report)
    }

    /// Write the report `make` gives, if one was asked for.
    pub fn write(
        &self,
        global: &Global,
        make: impl FnOnce() -> findmatches::Result<findmatches::report::Report>,
    ) -> anyhow::Result<()> {
        if let Some(path) = &self.report {
            let start = std::time::Instant::now();
            make()?.write(path)?;
            global.say(format!(
                "wrote the report {} in {:.2} s",
                path.display(),
                start.elapsed().as_secs_f64()
            ));
        }
        Ok(())
    }
}

/// Check a report path before the run: an .html file in a writable place.
pub fn check_report(path: &Path) -> anyhow::Result<()> {
    let html = path.extension().and_then(|e| e.to_str()).is_some_and(|e| e.eq_ignore_ascii_case("html"));
    if !html {
        return Err(
            findmatches::Error::usage(format!("{}: a report must end in .html", path.display())).into()
        );
    }
    check_writable(path)
}

fn check_writable(path: &Path) -> anyhow::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if !dir.is_dir() {
            return Err(findmatches::Error::usage(format!("{}: no such directory", dir.display())).into());
        }
    }
    Ok(findmatches::durable::check_writable(path)?)
}

/// A run's output: a file, or standard output for a pipeline.
#[derive(clap::Args, Debug)]
pub struct OutputArgs {
    /// Output file (.csv, .tsv, .csv.gz, .tsv.gz, .parquet), or - for
    /// standard output: every input row and column plus match_id and
    /// match_confidence_score.
    #[arg(short, long)]
    pub output: PathBuf,
    /// The output's format, whatever its name says (standard output:
    /// csv unless said).
    #[arg(long, value_enum)]
    pub format: Option<OutputFormat>,
}

/// Formats an output can be written in.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputFormat {
    Csv,
    Tsv,
    Parquet,
}

impl OutputArgs {
    /// Refuse an output that cannot be written, before any work is done:
    /// standard output cannot take the output and `--json`'s summary both.
    pub fn check(&self, global: &Global) -> anyhow::Result<()> {
        if self.output == Path::new(findmatches::read::STDIO) {
            if global.json {
                return Err(findmatches::Error::usage(
                    "-o - writes the output to standard output, where --json would print too: drop one",
                )
                .into());
            }
            return Ok(());
        }
        match self.format {
            Some(_) => check_writable(&self.output),
            None => check_output(&self.output),
        }
    }

    /// The format to write, when said.
    pub fn format(&self) -> Option<findmatches::read::Format> {
        use findmatches::read::Format;
        self.format.map(|f| match f {
            OutputFormat::Csv => Format::Csv { delimiter: b',', gzip: false },
            OutputFormat::Tsv => Format::Csv { delimiter: b'\t', gzip: false },
            OutputFormat::Parquet => Format::Parquet,
        })
    }

    /// Write the output.
    pub fn write(&self, batch: &arrow_array::RecordBatch) -> anyhow::Result<()> {
        Ok(findmatches::write::write_batch(&self.output, batch, self.format())?)
    }
}

/// A size: bytes, or a number with KB, MB, GB or TB (powers of 1024; an
/// `i`, as in GiB, is allowed).
fn parse_size(text: &str) -> Result<u64, String> {
    let upper = text.trim().to_ascii_uppercase();
    let digits = upper.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let unit = upper[digits.len()..].trim_end_matches('B').trim_end_matches('I');
    let scale: u64 = match unit {
        "" => 1,
        "K" => 1 << 10,
        "M" => 1 << 20,
        "G" => 1 << 30,
        "T" => 1 << 40,
        _ => return Err(format!("'{text}' is not a size (e.g. 800MB, 4GB)")),
    };
    match digits.trim().parse::<f64>() {
        Ok(n) if n >= 0.0 && n.is_finite() => Ok((n * scale as f64) as u64),
        _ => Err(format!("'{text}' is not a size (e.g. 800MB, 4GB)")),
    }
}
