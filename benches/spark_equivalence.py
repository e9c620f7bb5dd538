"""findmatches.spark against the binary on the same file and model: the same
clusters (as sets of keys), at several partition counts, with wall times.

    python benches/spark_equivalence.py --model M.json --input F.csv [--partitions 4 16]
    python benches/spark_equivalence.py --model M.json --left A.csv --right B.csv

Needs pyspark and the findmatches wheel in the Python that runs it, Java 17,
and the binary (FINDMATCHES_BIN, default target/release/findmatches). Spark
runs in local[2]; the input is read with Spark's CSV reader (quotes doubled
inside quoted fields, as RFC 4180 writes them). Prints one line per run:
partitions, wall seconds, clusters, pairs within clusters, whether the
clusters equal the binary's.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

import pyarrow.csv as pc


def partition(table, key_columns):
    """The clusters of a result, as a set of frozensets of record names."""
    ids = table.column("match_id").to_pylist()
    names = list(zip(*[table.column(c).cast("string").to_pylist() for c in key_columns]))
    groups: dict = {}
    for i, n in zip(ids, names):
        groups.setdefault(i, []).append(n)
    return {frozenset(g) for g in groups.values()}


def within(clusters) -> int:
    return sum(len(c) * (len(c) - 1) // 2 for c in clusters)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--input")
    ap.add_argument("--left")
    ap.add_argument("--right")
    ap.add_argument("--partitions", type=int, nargs="+", default=[4, 16])
    ap.add_argument("--runs", type=int, default=1, help="Spark runs per partition count (median time)")
    ap.add_argument(
        "--driver-edges",
        type=int,
        default=None,
        help="cluster in Spark past this many pairs at or above the threshold (0: always)",
    )
    ap.add_argument("--out", help="directory for the outputs (default: a temporary one)")
    args = ap.parse_args()
    linking = args.left is not None
    binary = os.environ.get("FINDMATCHES_BIN", "target/release/findmatches")
    out = args.out or tempfile.mkdtemp(prefix="fm-spark-eq-")
    os.makedirs(out, exist_ok=True)

    import findmatches
    from findmatches import spark as fm
    from pyspark.sql import SparkSession

    model = findmatches.Model.load(args.model)
    key = model.primary_key
    key_columns = ["source", key] if linking else [key]

    t0 = time.perf_counter()
    bin_out = os.path.join(out, "binary.parquet")
    if linking:
        cmd = [binary, "link", "-q", "--model", args.model, "--left", args.left, "--right", args.right, "-o", bin_out]
    else:
        cmd = [binary, "dedup", "-q", "--model", args.model, "--input", args.input, "-o", bin_out]
    subprocess.run(cmd, check=True)
    t_binary = time.perf_counter() - t0
    import pyarrow.parquet as pq

    reference = pq.read_table(bin_out)
    if linking:
        # The binary names a link's sources by file name.
        names = (os.path.basename(args.left), os.path.basename(args.right))
    want = partition(reference, key_columns)
    print(f"binary: {t_binary:.2f} s, {len(want)} clusters, {within(want)} pairs within clusters", flush=True)

    spark = (
        SparkSession.builder.master("local[2]")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.memory", "4g")
        .config("spark.driver.extraJavaOptions", "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")

    def read(path):
        return spark.read.csv(path, header=True, escape='"')

    same_all = True
    extra = {} if args.driver_edges is None else {"driver_edges": args.driver_edges}
    for p in args.partitions:
        spark.conf.set("spark.sql.shuffle.partitions", str(p))
        times = []
        for _ in range(args.runs):
            timings: list = []
            t0 = time.perf_counter()
            if linking:
                result = fm.link(
                    read(args.left), read(args.right), model, names=names, partitions=p, timings=timings, **extra
                )
            else:
                result = fm.dedup(read(args.input), model, partitions=p, timings=timings, **extra)
            table = fm._to_arrow(result)
            times.append(time.perf_counter() - t0)
            result.unpersist()
        got = partition(table, key_columns)
        same = got == want
        same_all &= same
        times.sort()
        print(
            f"spark local[2], {p} partitions: {times[len(times) // 2]:.2f} s (runs {', '.join(f'{t:.1f}' for t in times)}),"
            f" {len(got)} clusters, {within(got)} pairs within clusters, same clusters as the binary: {same}",
            flush=True,
        )
        if timings:
            print("  stages: " + ", ".join(f"{stage} {t:.1f} s" for stage, t in timings), flush=True)
        pc.write_csv(table, os.path.join(out, f"spark{p}.csv"))
    spark.stop()
    return 0 if same_all else 1


if __name__ == "__main__":
    sys.exit(main())
