//! The inputs and outputs users have: gzipped CSV and TSV, a directory of
//! Parquet part files (as Spark and Glue write a table), standard input and
//! output in a pipeline; and one line for a format findmatches does not read.

use std::io::Write;

use findmatches::read::Table;

use crate::cmd_errors::trained;
use crate::util::Workdir;

const DEDUP: [&str; 4] = ["dedup", "-q", "--model", "model.json"];

/// `dedup` of `input` (a name in the directory) to `out`.
fn dedup(wd: &Workdir, input: &str, out: &str) -> Vec<u8> {
    let mut args = DEDUP.to_vec();
    args.extend(["--input", input, "-o", out]);
    wd.ok(&args);
    std::fs::read(wd.path(out)).unwrap()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// `good.csv` written as Parquet part files in `dir/`, with Spark's marker
/// files beside them.
fn parquet_parts(wd: &Workdir, dir: &str, rows_per_part: usize) {
    let table = Table::read(&wd.path("good.csv")).unwrap();
    std::fs::create_dir(wd.path(dir)).unwrap();
    let batch = table.batch();
    for (i, start) in (0..batch.num_rows()).step_by(rows_per_part).enumerate() {
        let part = batch.slice(start, rows_per_part.min(batch.num_rows() - start));
        let path = wd.path(&format!("{dir}/part-{i:05}-c000.snappy.parquet"));
        findmatches::write::write_batch(&path, &part, None).unwrap();
    }
    wd.write(&format!("{dir}/_SUCCESS"), "");
    wd.write(&format!("{dir}/.part-00000-c000.snappy.parquet.crc"), "crc");
}

#[test]
fn gzipped_text_parquet_parts_and_standard_input_read_as_the_plain_file() {
    let wd = trained();
    let plain = dedup(&wd, "good.csv", "plain.csv");
    let csv = std::fs::read(wd.path("good.csv")).unwrap();
    std::fs::write(wd.path("good.csv.gz"), gzip(&csv)).unwrap();
    let tsv = String::from_utf8(csv.clone()).unwrap().replace(',', "\t");
    std::fs::write(wd.path("good.tsv.gz"), gzip(tsv.as_bytes())).unwrap();
    parquet_parts(&wd, "good_parquet", 2);
    for input in ["good.csv.gz", "good.tsv.gz", "good_parquet"] {
        assert_eq!(dedup(&wd, input, "out.csv"), plain, "{input}");
    }
    // Standard input: CSV, gzipped CSV, TSV and Parquet, told apart by their bytes.
    findmatches::write::write_batch(
        &wd.path("good.parquet"),
        Table::read(&wd.path("good.csv")).unwrap().batch(),
        None,
    )
    .unwrap();
    let parquet = std::fs::read(wd.path("good.parquet")).unwrap();
    for (what, bytes) in
        [("csv", csv.clone()), ("gzip", gzip(&csv)), ("tsv", tsv.into_bytes()), ("parquet", parquet)]
    {
        let mut args = DEDUP.to_vec();
        args.extend(["--input", "-", "-o", "out.csv"]);
        let out = wd.run_with_stdin(&args, &bytes);
        assert!(out.status.success(), "{what}: {}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(std::fs::read(wd.path("out.csv")).unwrap(), plain, "{what}");
    }
}

#[test]
fn standard_output_and_gzipped_outputs_hold_what_the_file_does() {
    let wd = trained();
    let plain = dedup(&wd, "good.csv", "plain.csv");
    let mut args = DEDUP.to_vec();
    args.extend(["--input", "good.csv", "-o", "-"]);
    assert_eq!(wd.ok(&args).into_bytes(), plain);
    args.extend(["--format", "tsv"]);
    let tsv = wd.ok(&args);
    assert_eq!(tsv, String::from_utf8(plain.clone()).unwrap().replace(',', "\t"));
    let gz = dedup(&wd, "good.csv", "out.csv.gz");
    let mut text = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&gz[..]), &mut text).unwrap();
    assert_eq!(text, plain);
    // A name that says nothing, with --format: Parquet, read back the same.
    let mut args = DEDUP.to_vec();
    args.extend(["--input", "good.csv", "-o", "out.dat", "--format", "parquet"]);
    wd.ok(&args);
    let back = Table::read(&wd.path("out.dat")).unwrap();
    assert_eq!(back.num_rows(), 4);
    assert!(back.headers().contains(&"match_id".to_string()));
}

#[test]
fn formats_not_read_and_bad_parts_get_one_line() {
    let wd = trained();
    let refused = |input: &str, what: &str| {
        let mut args = DEDUP.to_vec();
        args.extend(["--input", input, "-o", "out.csv"]);
        let err = wd.fails(&args, 2);
        assert!(err.contains(&format!("{input}: {what}")), "{err}");
        assert!(err.contains("is not a format findmatches reads"), "{err}");
        assert!(err.contains("it reads CSV or TSV"), "{err}");
        assert!(!wd.path("out.csv").exists());
    };
    wd.write("book.xlsx", "PK\u{3}\u{4} a workbook");
    refused("book.xlsx", "an Excel workbook");
    // Named .csv, but a workbook inside: the bytes say so, not "header 1 is not valid UTF-8".
    wd.write("book.csv", "PK\u{3}\u{4} a workbook");
    refused("book.csv", "a zip archive");
    wd.write("rows.json", "[{\"id\": 1}]");
    refused("rows.json", "JSON");
    std::fs::create_dir(wd.path("empty")).unwrap();
    refused("empty", "an empty directory");

    // A repeated key in the second part is named by part and row.
    parquet_parts(&wd, "parts", 2);
    let table = Table::read(&wd.path("good.csv")).unwrap();
    let twice = arrow_select::concat::concat_batches(
        &table.batch().schema(),
        &[table.batch().slice(0, 1), table.batch().slice(0, 1)],
    )
    .unwrap();
    findmatches::write::write_batch(&wd.path("parts/part-00001-c000.snappy.parquet"), &twice, None).unwrap();
    let mut args = DEDUP.to_vec();
    args.extend(["--input", "parts", "-o", "out.csv"]);
    let err = wd.fails(&args, 1);
    assert!(err.contains("part part-00000-c000.snappy.parquet, row 1"), "{err}");
    assert!(err.contains("part part-00001-c000.snappy.parquet, row 1"), "{err}");

    // Parts with other columns are named.
    let other = table.batch().project(&[0, 1]).unwrap();
    findmatches::write::write_batch(&wd.path("parts/part-00001-c000.snappy.parquet"), &other, None).unwrap();
    let err = wd.fails(&args, 1);
    assert!(
        err.contains("part-00001-c000.snappy.parquet: its columns differ from the first part's"),
        "{err}"
    );

    // Standard output cannot take both the output and --json's summary; a
    // baseline must come from a file.
    let err = wd.fails(&["dedup", "--json", "--model", "model.json", "--input", "good.csv", "-o", "-"], 2);
    assert!(err.contains("--json"), "{err}");
    let out = wd.run_with_stdin(
        &["dedup", "--model", "model.json", "--input", "-", "-o", "out.csv", "--baseline", "base"],
        &std::fs::read(wd.path("good.csv")).unwrap(),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not standard input"));
    wd.ok(&[
        "dedup",
        "-q",
        "--model",
        "model.json",
        "--input",
        "good.csv",
        "-o",
        "out.csv",
        "--baseline",
        "base",
    ]);
    let out = wd.run_with_stdin(
        &["incremental", "--baseline", "base", "--input", "-", "-o", "new.csv"],
        &std::fs::read(wd.path("good.csv")).unwrap(),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not standard input"));
}
