"""What Spark itself costs on this machine, with no findmatches work: the
floor under `findmatches.spark`'s stages (see README, Performance, Spark).

    python benches/spark_floor.py FILE.csv [--partitions 16]

Times, in local[2]: reading the CSV and persisting it; one pass of every row
through mapInArrow to Python and back (an identity function); the same
after a shuffle; a groupBy of the rows by their first column (the key
check); one million pairs joined to both their records (the scoring join).
A findmatches run makes about ten such passes, over records, blocking keys
(about 18 per record), block rows and candidate pairs."""

from __future__ import annotations

import argparse
import time


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("input")
    ap.add_argument("--partitions", type=int, default=16)
    args = ap.parse_args()
    from pyspark.sql import SparkSession
    from pyspark.sql import functions as F

    spark = (
        SparkSession.builder.master("local[2]")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.memory", "4g")
        .config("spark.sql.shuffle.partitions", str(args.partitions))
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")

    def lap(name, run):
        start = time.perf_counter()
        result = run()
        print(f"{name}: {time.perf_counter() - start:.2f} s ({result} rows)", flush=True)

    def identity(batches):
        yield from batches

    rows = spark.read.csv(args.input, header=True, escape='"')
    lap("read the CSV (warm-up)", rows.count)
    rows = rows.withColumn("gid", F.monotonically_increasing_id()).persist()
    lap("read the CSV and persist it", rows.count)
    lap("one pass through mapInArrow", lambda: rows.mapInArrow(identity, rows.schema).count())
    lap(
        "a shuffle, then one pass through mapInArrow",
        lambda: rows.repartition(args.partitions, rows.columns[1]).mapInArrow(identity, rows.schema).count(),
    )
    lap("groupBy the first column", lambda: rows.groupBy(rows.columns[0]).count().filter("count > 1").count())
    # A million pairs: each record with another one, by a fixed shuffle of
    # positions; then both records joined to each pair and passed, whole,
    # through mapInArrow, as scoring does.
    from pyspark.sql import Window

    n = rows.count()
    at = rows.select("gid", (F.row_number().over(Window.orderBy("gid")) - 1).alias("i")).persist()
    pairs = (
        at.select(F.col("gid").alias("a"), ((F.col("i").cast("long") * 7919 + 13) % F.lit(n)).cast("int").alias("i"))
        .join(at.select(F.col("gid").alias("b"), "i"), "i")
        .select("a", "b")
        .persist()
    )
    pairs.count()

    def side(prefix):
        return rows.select(*[F.col(c).alias(prefix + c) for c in rows.columns])

    def joined():
        both = pairs.join(side("a_"), F.col("a") == F.col("a_gid")).join(side("b_"), F.col("b") == F.col("b_gid"))
        return both.mapInArrow(identity, both.schema).count()

    lap("a million pairs joined to both records, one pass through mapInArrow", joined)
    spark.stop()


if __name__ == "__main__":
    main()
