//! `--report`: the HTML report of a run.

use crate::util::{read_csv, repo, Workdir};

fn dedup_with_report(wd: &Workdir, input: &str, extra: &[&str]) -> (String, serde_json::Value) {
    let mut args = vec![
        "dedup",
        "--input",
        input,
        "-o",
        "out.csv",
        "--pairs",
        "pairs.csv",
        "--report",
        "r.html",
        "--json",
        "-q",
    ];
    args.extend_from_slice(extra);
    let out = wd.ok(&args);
    let summary: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    (std::fs::read_to_string(wd.path("r.html")).unwrap(), summary)
}

/// The probabilities a report's review section lists under `heading`, in order.
fn listed(html: &str, heading: &str) -> Vec<String> {
    let start = html.find(&format!("<h3>{heading}</h3>")).unwrap();
    let rest = &html[start + heading.len() + 9..];
    let end = rest.find("<h3>").or_else(|| rest.find("</section>")).unwrap();
    rest[..end]
        .split("<th>probability ")
        .skip(1)
        .map(|s| s.split(|c: char| c != '.' && !c.is_ascii_digit()).next().unwrap().to_string())
        .collect()
}

#[test]
fn a_dedup_report_is_one_offline_page_with_the_runs_figures_and_its_weakest_matches() {
    let wd = Workdir::new();
    let (html, summary) =
        dedup_with_report(&wd, &repo("examples/data/customers.csv").display().to_string(), &[]);
    let stats = &summary["stats"];
    for id in ["run", "scores", "review"] {
        assert!(html.contains(&format!("<section id=\"{id}\">")), "no {id} section");
    }
    for (label, value) in [
        ("records", &stats["records"]),
        ("candidate pairs", &stats["blocking"]["candidates"]),
        ("clusters (records alone included)", &stats["clusters"]),
        ("records matched (in clusters of two or more)", &stats["matched_records"]),
    ] {
        assert!(
            html.contains(&format!("<tr><td>{label}</td><td class=\"num\">{value}</td></tr>")),
            "{label} {value}"
        );
    }
    assert_eq!(html.matches("<svg").count(), 2, "a histogram of scores and one of cluster sizes");
    // Self-contained: nothing fetched (the SVG namespace is a name, not a fetch).
    let fetches = html.replace("xmlns=\"http://www.w3.org/2000/svg\"", "");
    for outside in ["http://", "https://", "<script src", "<link", "@import"] {
        assert!(!fetches.contains(outside), "the report reaches for {outside}");
    }
    assert!(html.len() < 200_000, "{} bytes", html.len());
    // The weakest matches are the lowest-scoring pairs at or above the
    // threshold, lowest first; the closest non-matches the highest below it.
    let threshold = stats["threshold"].as_f64().unwrap();
    let (header, rows) = read_csv(&wd.path("pairs.csv"));
    let p = header.iter().position(|h| h == "match_probability").unwrap();
    let mut scores: Vec<f64> = rows.iter().map(|r| r[p].parse().unwrap()).collect();
    scores.sort_by(f64::total_cmp);
    let fmt = |v: &f64| format!("{v:.4}");
    let above: Vec<String> = scores.iter().filter(|&&s| s >= threshold).take(10).map(fmt).collect();
    let below: Vec<String> = scores.iter().rev().filter(|&&s| s < threshold).take(10).map(fmt).collect();
    assert_eq!(listed(&html, "Weakest matches"), above);
    assert_eq!(listed(&html, "Closest non-matches"), below);
    assert_eq!(above.len(), 10);
}

#[test]
fn report_values_are_escaped_and_a_wrong_name_is_refused_before_the_run() {
    let wd = Workdir::new();
    // The bundled example with markup in every first name.
    let (header, rows) = read_csv(&repo("examples/data/customers.csv"));
    let first = header.iter().position(|h| h == "first_name").unwrap();
    let mut writer = csv::Writer::from_path(wd.path("people.csv")).unwrap();
    writer.write_record(&header).unwrap();
    for mut row in rows {
        row[first] = format!("<b>{} & co</b>", row[first]);
        writer.write_record(&row).unwrap();
    }
    writer.flush().unwrap();
    let model = repo("models/default.json").display().to_string();
    let (html, _) = dedup_with_report(&wd, "people.csv", &["--model", &model]);
    assert!(
        html.contains(" &amp; co&lt;&#x2f;b&gt;") || html.contains(" &amp; co&lt;/b&gt;"),
        "values are not escaped"
    );
    assert!(!html.contains(" & co</b>"));
    std::fs::remove_file(wd.path("out.csv")).unwrap();
    let err = wd.fails(&["dedup", "--input", "people.csv", "-o", "out.csv", "--report", "r.txt"], 2);
    assert!(err.contains("r.txt: a report must end in .html"), "{err}");
    assert!(!wd.path("out.csv").exists(), "the run went ahead");
}

/// A headless Chromium (`chromium`, or `FINDMATCHES_BROWSER`); None when
/// there is none and `FINDMATCHES_REQUIRE_BROWSER` is not 1 (`.ci/run`
/// installs the Debian package and sets it).
fn browser() -> Option<String> {
    let name = std::env::var("FINDMATCHES_BROWSER").unwrap_or_else(|_| "chromium".to_string());
    let found = std::process::Command::new(&name).arg("--version").output().is_ok_and(|o| o.status.success());
    match (found, std::env::var("FINDMATCHES_REQUIRE_BROWSER").as_deref()) {
        (true, _) => Some(name),
        (false, Ok("1")) => panic!("{name} not found and FINDMATCHES_REQUIRE_BROWSER=1"),
        (false, _) => {
            eprintln!("skipped: no {name} (set FINDMATCHES_REQUIRE_BROWSER=1 to require it)");
            None
        }
    }
}

#[test]
fn a_report_renders_in_headless_chromium_with_its_sections_and_no_console_errors() {
    let Some(chromium) = browser() else { return };
    let wd = Workdir::new();
    dedup_with_report(&wd, &repo("examples/data/customers.csv").display().to_string(), &[]);
    let url = format!("file://{}", wd.path("r.html").display());
    let headless = ["--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr", "--v=0"];
    let run = |extra: &[&str]| {
        let out =
            std::process::Command::new(&chromium).args(headless).args(extra).arg(&url).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        out
    };
    // The page as the browser built it: every section is there.
    let dom = run(&["--dump-dom"]);
    let (html, log) = (String::from_utf8_lossy(&dom.stdout), String::from_utf8_lossy(&dom.stderr));
    for id in ["run", "scores", "review"] {
        assert!(html.contains(&format!("<section id=\"{id}\">")), "no {id} section in the rendered page");
    }
    assert_eq!(html.matches("<svg").count(), 2);
    let console: Vec<&str> = log.lines().filter(|l| l.contains("CONSOLE")).collect();
    assert!(console.is_empty(), "console messages: {console:?}");
    // A screenshot with something on it: a blank page compresses to a few kilobytes.
    let shot = wd.path("shot.png");
    run(&["--window-size=1200,2000", &format!("--screenshot={}", shot.display())]);
    let bytes = std::fs::read(&shot).unwrap();
    assert!(bytes.starts_with(b"\x89PNG"), "not a PNG");
    assert!(bytes.len() > 50_000, "a {}-byte screenshot: blank?", bytes.len());
}
