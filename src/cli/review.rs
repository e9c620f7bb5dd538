//! `findmatches label review FILE [-o OUT]`: label a labeling file at the
//! console, one pair of records at a time (see [`findmatches::review`]).
//!
//! Each question shows the record to label beside a record of an entity
//! already in its set, column by column, differing values marked `*` (and
//! coloured on a colour terminal). Keys: `y` same, `n` different, `u`
//! unsure, `b` back, `q` save and quit. On a terminal a key press is
//! enough; otherwise each answer is a line on standard input. The file is
//! saved after every answer, so a session can stop at any point and
//! resume where it left off.
//!
//! Examples:
//!   findmatches label review labeling_set.csv
//!   findmatches label review labeling_set.csv -o labeled.csv

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

use findmatches::labels::LabelingSheet;
use findmatches::review::{Answer, Question, Review};

use super::Global;

#[derive(clap::Args, Debug)]
pub struct ReviewArgs {
    /// The labeling file (from `label generate`).
    file: PathBuf,
    /// Write the labels here instead of back into FILE.
    #[arg(short, long)]
    output: Option<PathBuf>,
}

/// A key the person pressed.
enum Key {
    Char(char),
    /// The input ended.
    End,
}

/// Where answers come from: single key presses on a terminal, else lines.
struct Keys {
    terminal: Option<console::Term>,
    lines: std::io::StdinLock<'static>,
}

impl Keys {
    fn new() -> Keys {
        let interactive = std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
        Keys { terminal: interactive.then(console::Term::stdout), lines: std::io::stdin().lock() }
    }

    fn next(&mut self) -> std::io::Result<Key> {
        if let Some(term) = &self.terminal {
            return Ok(match term.read_key()? {
                console::Key::Char(c) => Key::Char(c.to_ascii_lowercase()),
                console::Key::CtrlC => Key::End,
                _ => Key::Char(' '),
            });
        }
        let mut line = String::new();
        if self.lines.read_line(&mut line)? == 0 {
            return Ok(Key::End);
        }
        Ok(Key::Char(line.trim().chars().next().unwrap_or(' ').to_ascii_lowercase()))
    }
}

const HELP: &str = "Same entity? [y]es [n]o [u]nsure [b]ack [q] save and quit: ";

pub fn run(args: &ReviewArgs, global: &Global) -> anyhow::Result<()> {
    let sheet = LabelingSheet::read(&args.file)?;
    let output = args.output.clone().unwrap_or_else(|| args.file.clone());
    let mut review = Review::new(sheet.sets(), sheet.labels());
    let mut keys = Keys::new();
    let width = console::Term::stdout().size_checked().map_or(100, |(_, w)| w as usize);
    let mut stdout = std::io::stdout().lock();
    let save = |review: &Review| -> anyhow::Result<()> { Ok(sheet.write(&output, review.labels())?) };
    let finished = loop {
        let Some(question) = review.next_question() else { break true };
        show(&mut stdout, &sheet, &review, &question, width)?;
        write!(stdout, "{HELP}")?;
        stdout.flush()?;
        let key = keys.next()?;
        writeln!(stdout)?;
        let answer = match key {
            Key::End | Key::Char('q') => break false,
            Key::Char('y') => Answer::Same,
            Key::Char('n') => Answer::Different,
            Key::Char('u') => Answer::Unsure,
            Key::Char('b') => {
                if !review.back() {
                    writeln!(stdout, "(nothing to undo in this session)")?;
                }
                save(&review)?;
                continue;
            }
            Key::Char(_) => {
                writeln!(stdout, "(press y, n, u, b or q)")?;
                continue;
            }
        };
        review.answer(&question, answer);
        save(&review)?;
    };
    // Records that need no question are labeled by asking for the next.
    save(&review)?;
    let (done, total) = review.progress();
    let unsure = review.labels().iter().filter(|l| *l == findmatches::review::UNSURE).count();
    global.say(format!(
        "{} {done} of {total} records labeled ({unsure} unsure) in {}",
        if finished { "done:" } else { "saved:" },
        output.display()
    ));
    global.emit(serde_json::json!({
        "output": output, "labeled": done, "records": total, "unsure": unsure, "finished": finished,
    }));
    Ok(())
}

/// The two records side by side, differing values marked.
fn show(
    out: &mut impl Write,
    sheet: &LabelingSheet,
    review: &Review,
    question: &Question,
    width: usize,
) -> std::io::Result<()> {
    let (done, total) = review.progress();
    let (left, right) = (sheet.fields(question.record), sheet.fields(question.other));
    let name_width = left.iter().map(|(n, _)| n.chars().count()).max().unwrap_or(0).min(24);
    let value_width = (width.saturating_sub(name_width + 8) / 2).clamp(12, 60);
    let fit = |s: &str| -> String {
        if s.chars().count() <= value_width {
            format!("{s:value_width$}")
        } else {
            let cut: String = s.chars().take(value_width - 1).collect();
            format!("{cut}…")
        }
    };
    writeln!(out)?;
    writeln!(out, "── {} · {done} of {total} records labeled ──", question.set)?;
    writeln!(out, "  {:name_width$}  {}  a record of entity {}", "", fit("this record"), question.entity)?;
    for ((name, a), (_, b)) in left.iter().zip(&right) {
        let differs = a.trim() != b.trim();
        let (a, b) = (fit(a), fit(b));
        let (a, b) = if differs {
            (console::style(a).yellow().bold().to_string(), console::style(b).yellow().bold().to_string())
        } else {
            (a, b)
        };
        writeln!(out, "{} {name:name_width$}  {a}  {}", if differs { '*' } else { ' ' }, b.trim_end())?;
    }
    Ok(())
}
