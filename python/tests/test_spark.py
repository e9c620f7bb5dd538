"""findmatches.spark in a local Spark (local[2]) against the Python API, which
equals the command line row for row (test_api.py): the same clusters, ids and
confidences, at any partition and Arrow batch size.

Needs pyspark and Java 17. ``tests/run.sh`` installs pyspark and sets
FINDMATCHES_REQUIRE_SPARK=1, so a missing Spark fails there instead of
skipping.
"""

import os
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pc
import pytest

import findmatches

if os.environ.get("FINDMATCHES_REQUIRE_SPARK") != "1":
    pytest.importorskip("pyspark")
from pyspark.sql import SparkSession  # noqa: E402

from findmatches import spark as fm  # noqa: E402

from conftest import kill_trials  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "examples" / "data"


@pytest.fixture(scope="module")
def spark():
    session = (
        SparkSession.builder.master("local[2]")
        .appName("findmatches-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "3")
        .config("spark.driver.extraJavaOptions", "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def read(path: Path) -> pa.Table:
    names = path.open().readline().strip().split(",")
    return pc.read_csv(path, convert_options=pc.ConvertOptions(column_types={n: pa.string() for n in names}))


def frame(spark, path: Path, parts: int = 1):
    """The CSV as Spark reads it, in `parts` input partitions that keep the
    file's order (as splits of a large file do)."""
    size = path.stat().st_size
    spark.conf.set("spark.sql.files.maxPartitionBytes", str(max(size // parts + 1, 1024)))
    spark.conf.set("spark.sql.files.openCostInBytes", "0")
    return spark.read.csv(str(path), header=True, escape='"')


def by_key(table: pa.Table, key: str, *extra: str) -> dict:
    rows = table.to_pylist()
    return {tuple(r[c] for c in (*extra, key)): (r["match_id"], round(r["match_confidence_score"], 4)) for r in rows}


def assert_same(spark_out, python_out: pa.Table, key: str, *extra: str):
    got = by_key(fm._to_arrow(spark_out), key, *extra)
    want = by_key(python_out, key, *extra)
    assert got.keys() == want.keys()
    mismatched = [k for k in want if got[k][0] != want[k][0] or abs(got[k][1] - want[k][1]) > 1e-4]
    assert not mismatched, f"{len(mismatched)} records differ, e.g. {mismatched[:3]}"
    assert len({v[0] for v in got.values()}) < len(got), "some records match"


@pytest.mark.parametrize(
    "parts,shuffle,batch,driver_edges",
    [(1, 1, 10_000, fm.DRIVER_EDGES), (4, 3, 64, fm.DRIVER_EDGES), (3, 7, 1, fm.DRIVER_EDGES), (2, 5, 10_000, 0)],
)
def test_dedup_equals_the_python_api(spark, parts, shuffle, batch, driver_edges):
    spark.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", str(batch))
    try:
        model = findmatches.Model.bundled()
        df = frame(spark, DATA / "customers.csv", parts)
        assert df.rdd.getNumPartitions() >= parts
        timings = []
        out = fm.dedup(df, model, partitions=shuffle, driver_edges=driver_edges, timings=timings)
        # Past driver_edges, clustering runs in Spark, with the same result.
        assert ("cluster in Spark" in dict(timings)) == (driver_edges == 0)
        assert out.columns == df.columns + ["match_id", "match_confidence_score"]
        assert_same(out, model.dedup(read(DATA / "customers.csv")), model.primary_key)
    finally:
        spark.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", "10000")


def test_connected_components_in_spark_are_union_find_s(spark):
    # A 400-node chain in shuffled order (many rounds without pointer
    # jumps), a star, and random edges among 600 more ids.
    import random

    rng = random.Random(11)
    chain = rng.sample(range(10_000, 20_000), 400)
    edges = list(zip(chain, chain[1:]))
    edges += [(5_000, 5_001 + i) for i in range(50)]
    nodes = rng.sample(range(30_000, 40_000), 600)
    edges += [tuple(rng.sample(nodes, 2)) for _ in range(450)]
    rng.shuffle(edges)
    parent = {}

    def root(x):
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in edges:
        ra, rb = root(a), root(b)
        parent[max(ra, rb)] = min(ra, rb)
    want = {x: min(y for y in parent if root(y) == root(x)) for x in parent}
    graph = spark.createDataFrame(edges, "a long, b long")
    got = {r[fm.GID]: r[fm.COMPONENT] for r in fm._components(graph, 3).collect()}
    assert got == want
    assert len(set(want.values())) > 3


@pytest.mark.parametrize("driver_edges", [fm.DRIVER_EDGES, 0])
def test_link_with_labels_held_equals_the_python_api(spark, tmp_path, driver_edges):
    config = tmp_path / "customers.toml"
    config.write_text((REPO / "examples" / "customers.toml").read_text().replace(
        "enforce_provided_labels = false", "enforce_provided_labels = true"
    ))
    assert "enforce_provided_labels = true" in config.read_text()
    customers, prospects = read(DATA / "customers.csv"), read(DATA / "prospects_2026_01.csv")
    model = findmatches.Model.train([customers], config=config, labels=[REPO / "labels" / "customers_labels.csv"])
    out = fm.link(
        frame(spark, DATA / "customers.csv", 2),
        frame(spark, DATA / "prospects_2026_01.csv"),
        model,
        names=("c", "p"),
        driver_edges=driver_edges,
    )
    want = model.link(customers, prospects, names=("c", "p"))
    assert_same(out, want, model.primary_key, "source")


def test_free_text_queries_the_index_as_the_binary_does(spark, tmp_path):
    # Free text whose every word is held by more records than a key block
    # may hold (50) but few enough for the index (2% of 3,000): records find
    # candidates through the index only.
    import random

    rng = random.Random(7)
    vocabulary = [f"w{i:03d}x" for i in range(220)]
    notes = [" ".join(rng.sample(vocabulary, 4)) for _ in range(2000)]
    for i in range(1000):
        words = notes[i].split()
        words[rng.randrange(4)] = rng.choice(vocabulary)
        notes.append(" ".join(words))
    table = pa.table({"id": [f"n{i}" for i in range(len(notes))], "note": notes})
    path = tmp_path / "notes.csv"
    pc.write_csv(table, path)
    config = tmp_path / "notes.toml"
    config.write_text('primary_key = "id"\n[columns]\nnote = "text"\n')
    model = findmatches.Model.train([table], config=config)
    out = fm.dedup(frame(spark, path, 3), model, partitions=4)
    want = model.dedup(read(path))
    assert_same(out, want, "id")


def test_bad_input_raises_the_cli_s_errors(spark, tmp_path):
    model = findmatches.Model.bundled()
    df = frame(spark, DATA / "customers.csv")
    with pytest.raises(findmatches.UsageError, match="lacks column"):
        fm.dedup(df.drop("last_name"), model)
    duplicated = df.unionByName(df.limit(1))
    with pytest.raises(findmatches.UsageError, match="not unique"):
        fm.dedup(duplicated, model)
    from pyspark.sql import functions as F

    blank = df.withColumn("customer_id", F.when(F.col("customer_id") == df.first()["customer_id"], F.lit(" ")).otherwise(F.col("customer_id")))
    with pytest.raises(findmatches.UsageError, match="empty primary key"):
        fm.dedup(blank, model)


def test_incremental_equals_the_python_api_and_a_file_is_folded_in_once(spark, tmp_path):
    import shutil

    model = findmatches.Model.bundled()
    findmatches.Baseline.create(tmp_path / "base", model, read(DATA / "customers.csv"))
    shutil.copytree(tmp_path / "base", tmp_path / "copy")
    new = DATA / "prospects_2026_01.csv"
    out = fm.incremental(frame(spark, new), tmp_path / "base", model)
    want = findmatches.Baseline.open(tmp_path / "copy").incremental(read(new))
    assert out.columns == want.column_names
    got = {r["customer_id"]: (r["match_id"], r["match_status"]) for r in out.collect()}
    assert got == {r["customer_id"]: (r["match_id"], r["match_status"]) for r in want.to_pylist()}
    assert {s for _, s in got.values()} >= {"existing", "new_unique"}
    assert findmatches.Baseline.open(tmp_path / "base").generation == 2
    assert fm.incremental(frame(spark, new), tmp_path / "base") is None
    other = findmatches.Model.train([read(DATA / "customers.csv")])
    with pytest.raises(findmatches.UsageError, match="not the baseline's"):
        fm.incremental(frame(spark, new), tmp_path / "base", other)


def test_incremental_through_key_shards_equals_the_python_api(spark, tmp_path, baseline_and_new):
    import shutil

    import pyarrow.parquet as pq

    shutil.copytree(tmp_path / "fm", tmp_path / "copy")
    new = read(tmp_path / "new.csv")
    head, tail = new.slice(0, 3000), new.slice(3000)
    log = []
    for part in (head, tail):
        out = fm.incremental(spark.createDataFrame(part.to_pandas()), tmp_path / "fm", lookups=log)
        want = findmatches.Baseline.open(tmp_path / "copy").incremental(part, allow_merges=False)
        assert_same(out, want, "customer_id")
        got = {r["customer_id"]: r["match_status"] for r in out.collect()}
        assert got == {r["customer_id"]: r["match_status"] for r in want.to_pylist()}
    # Spark answered the lookups: keys from the shards, then clusters.
    assert [line.split(":")[0] for line in log] == ["key_rows", "key_rows", "clusters"] * 2, log
    assert findmatches.Baseline.open(tmp_path / "fm").generation == 3
    # Only the shards keys fall in are read, and what they answer is the
    # shards' content: a key's rows from every generation, or null past the cap.
    layout = findmatches.Baseline.open(tmp_path / "fm")._inner.layout()
    shards = [s["shards"] for s in layout["segments"]]
    assert len(shards[0]) == 2, "generation 1 is split in two"
    entries = pa.concat_tables([pq.read_table(f) for files in shards for f in files])
    first = pq.read_table(shards[0][0]).column("key").to_pylist()
    import collections

    rows_of = collections.defaultdict(set)
    for k, r in zip(entries.column("key").to_pylist(), entries.column("row").to_pylist()):
        rows_of[k].add(r)
    asked = sorted({k for k in first[:2000:100]} | {max(first, key=lambda k: len(rows_of[k]))})
    assert all(k >= 0 for k in asked), "shard 0 of 2: the top bit clear"
    log.clear()
    lookups = fm._BaselineLookups(spark, layout, log)
    unsigned = pa.array(asked, pa.int64()).cast(pa.uint64())
    cap = 3
    answer = lookups.key_rows(unsigned, cap)
    assert len(log) == 1 and log[0].startswith(
        f"key_rows: {len(asked)} keys, {1 + len(shards[1]) + len(shards[2])} of {sum(map(len, shards))} shard files read"
    ), log
    got = collections.defaultdict(set)
    for k, r in zip(answer.column("key").cast(pa.int64()).to_pylist(), answer.column("row").to_pylist()):
        got[k].add(r)
    # As the Rust side reads the answer, which may come in parts (a shard
    # per generation): a null among a key's rows, or more than cap of them,
    # is a key too common to block on.
    got = {k: {None} if None in v or len(v) > cap else v for k, v in got.items()}
    want = {k: (rows_of[k] if len(rows_of[k]) <= cap else {None}) for k in asked}
    assert got == {k: v for k, v in want.items() if v}
    assert {None} in want.values() and any(len(v) > 1 for v in want.values() if v != {None})


def test_a_baseline_from_before_key_shards_is_read_on_the_drivers_disk(spark, tmp_path):
    import json
    import shutil

    model = findmatches.Model.bundled()
    findmatches.Baseline.create(tmp_path / "base", model, read(DATA / "customers.csv"))
    # As a build before key shards wrote it: format 2, no shards.
    manifest = json.loads((tmp_path / "base" / "manifest.json").read_text())
    manifest["format_version"] = 2
    for segment in manifest["segments"]:
        segment.pop("key_shards")
        segment["files"] = [f for f in segment["files"] if ".keys/" not in f["name"]]
    (tmp_path / "base" / "manifest.json").write_text(json.dumps(manifest))
    shutil.rmtree(tmp_path / "base" / "g000001.keys")
    shutil.copytree(tmp_path / "base", tmp_path / "copy")
    new = DATA / "prospects_2026_01.csv"
    log = []
    out = fm.incremental(frame(spark, new), tmp_path / "base", lookups=log)
    assert log == [], "Spark looked up shards the baseline does not have"
    assert_same(out, findmatches.Baseline.open(tmp_path / "copy").incremental(read(new)), "customer_id")
    layout = findmatches.Baseline.open(tmp_path / "base")._inner.layout()
    assert [s["key_shards"] for s in layout["segments"]] == [0, 1], "the new generation has shards"


KILLED_DRIVER = """
import sys
from pyspark.sql import SparkSession
from findmatches import spark as fm
spark = (SparkSession.builder.master("local[2]").config("spark.ui.enabled", "false")
         .config("spark.ui.showConsoleProgress", "false").getOrCreate())
spark.sparkContext.setLogLevel("ERROR")
df = spark.read.csv(sys.argv[2], header=True, escape='"')
df.count()
print("ready", flush=True)
fm.incremental(df, sys.argv[1])
"""


def test_a_spark_driver_killed_mid_run_leaves_the_old_or_the_new_generation(tmp_path, baseline_and_new):
    # The driver and its JVM, as a killed container loses both.
    # Spark's lookups take most of a run, the commit comes near its end:
    # kills spread over the run and thicker towards (and just past) the end,
    # as one run's time varies from the next.
    kill_trials(tmp_path, KILLED_DRIVER, [0.2, 0.4, 0.6, 0.75, 0.85, 0.95, 1.05, 1.2], whole_group=True)
