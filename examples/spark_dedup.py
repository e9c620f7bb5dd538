"""Dedup and link the bundled example customers on Spark (a local one here; on AWS Glue the
same calls run in a Glue job, see the README's "Spark / AWS Glue" section).

    pip install "./python[spark]"    # PySpark and pandas too; Java 17 on the PATH for a local Spark
    python examples/spark_dedup.py
"""

from pathlib import Path

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

import findmatches
from findmatches import spark as fm

data = Path(__file__).parent / "data"
spark = (
    SparkSession.builder.master("local[2]")
    .config("spark.ui.enabled", "false")
    .config("spark.ui.showConsoleProgress", "false")
    .config("spark.sql.shuffle.partitions", "4")
    .getOrCreate()
)
spark.sparkContext.setLogLevel("ERROR")


def read(path):
    # escape='"': quotes inside quoted fields are doubled, as findmatches (RFC 4180) writes them.
    return spark.read.csv(str(path), header=True, escape='"')


customers = read(data / "customers.csv")
prospects = read(data / "prospects_2026_01.csv")
model = findmatches.Model.bundled()  # or findmatches.Model.load("model.json") (a path on the driver)

timings = []
matched = fm.dedup(customers, model, timings=timings)  # + match_id, match_confidence_score
entities = matched.select("match_id").distinct().count()
print(f"{customers.count()} customers, {entities} entities")
print("seconds per stage:", ", ".join(f"{stage} {s:.1f}" for stage, s in timings))

linked = fm.link(customers, prospects, model, names=("customers", "prospects"))
shared = linked.groupBy("match_id").agg(F.countDistinct("source").alias("sources")).filter("sources = 2")
known = linked.join(shared, "match_id").filter(F.col("source") == "prospects").count()
print(f"{known} of {prospects.count()} prospects are existing customers")
spark.stop()
