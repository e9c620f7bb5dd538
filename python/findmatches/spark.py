"""findmatches on Spark: dedup and link DataFrames of any size.

The same Rust core as the command line and :class:`findmatches.Model`, run
per partition through ``mapInArrow`` (Spark 3.5, as on AWS Glue 5, and 4.x).
On the same rows and model the clusters are exactly those of ``findmatches
dedup`` / ``link``: the same candidate pairs, scored the same, clustered the
same. Only ``mapInArrow``, joins, aggregations and ``repartition`` are used.

    >>> from findmatches import Model, spark as fm
    >>> matched = fm.dedup(customers_df, Model.load("model.json"))

How a run goes (the steps are ``findmatches::distributed`` in Rust):

1. Each input row gets a record id (its source table in the top bits, then
   ``monotonically_increasing_id``: the input's order). The input is
   persisted so the ids hold.
2. Per partition: normalize; count values, phonetic codes and words. Counts
   are summed by term (one ``groupBy``); those held twice or more, with
   totals, go to the driver and out to every executor once (a broadcast),
   with the model.
3. Per partition: blocking keys. Partitioned by key, Rust makes blocks of
   them (blocks larger than the model's ``max_block`` skipped, as the binary
   skips them) and lists each block once per member; partitioned by member,
   Rust keeps each record's best neighbours.
4. With free text: records with too few key candidates query a blocking
   index of all records, written once on the driver and shipped with
   ``addFile``.
5. Candidate pairs are joined to both records and scored in Rust.
6. Pairs at or above the threshold come to the driver and are clustered
   there, with the few records clustering scores on demand; every other
   record stays alone. ``match_id`` numbers clusters by their first record.

:func:`incremental` runs the command line's incremental session on the driver
with the new rows gathered there; Spark reads the baseline's Parquet files
for it (only the key shards the new records' keys fall in).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from typing import Iterator, Optional, Sequence, Tuple

import pyarrow as pa

from . import Baseline, Model
from ._findmatches import Index as _Index
from ._findmatches import Steps as _Steps
from ._findmatches import UsageError
from ._findmatches import day_votes as _day_votes

__all__ = ["dedup", "link", "incremental"]

GID = "__fm_gid"
SOURCE = "__fm_source"
KEY = "__fm_key"
COMPONENT = "__fm_component"
SOURCE_SHIFT = 56
MATCH_ID = "match_id"
MATCH_CONFIDENCE = "match_confidence_score"

# Per Python worker (reused across tasks): the steps each broadcast
# describes, built once, and the blocking indexes opened.
_STEPS: dict = {}
_INDEXES: dict = {}


class _Shipped:
    """A broadcast of the arguments of the steps, named so a Python worker
    builds the steps once, whatever tasks it runs."""

    def __init__(self, sc, args: tuple):
        import uuid

        self.name = uuid.uuid4().hex
        self.broadcast = sc.broadcast(args)


def _steps(shipped: _Shipped) -> _Steps:
    steps = _STEPS.get(shipped.name)
    if steps is None:
        _STEPS.clear()
        steps = _STEPS[shipped.name] = _Steps(*shipped.broadcast.value)
    return steps


def _index(name: str) -> _Index:
    index = _INDEXES.get(name)
    if index is None:
        from pyspark import SparkFiles

        _INDEXES.clear()
        index = _INDEXES[name] = _Index(SparkFiles.get(name))
    return index


def _spark_type(t: pa.DataType):
    from pyspark.sql import types as T

    if pa.types.is_int64(t):
        return T.LongType()
    if pa.types.is_int32(t):
        return T.IntegerType()
    if pa.types.is_float64(t):
        return T.DoubleType()
    if pa.types.is_float32(t):
        return T.FloatType()
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return T.StringType()
    raise TypeError(f"no Spark type for {t}")


def _spark_schema(schema: pa.Schema):
    from pyspark.sql import types as T

    return T.StructType([T.StructField(f.name, _spark_type(f.type), f.nullable) for f in schema])


def _to_arrow(df) -> pa.Table:
    """Collect a DataFrame to the driver as a pyarrow Table (Spark 3.5 and 4)."""
    if hasattr(df, "toArrow"):
        return df.toArrow()
    batches = df._collect_as_arrow()
    if batches:
        return pa.Table.from_batches(batches)
    from pyspark.sql.pandas.types import to_arrow_schema

    return to_arrow_schema(df.schema).empty_table()


def _shuffle_partitions(spark) -> int:
    """``spark.sql.shuffle.partitions``, or 200 when it is not a number ("auto")."""
    try:
        return max(int(spark.conf.get("spark.sql.shuffle.partitions")), 1)
    except (TypeError, ValueError):
        return 200


def _gids_frame(spark, gids: Sequence[int]):
    """A one-column DataFrame of record ids."""
    import pandas as pd

    return spark.createDataFrame(pd.DataFrame({GID: pd.Series(list(gids), dtype="int64")}))


DRIVER_EDGES = 10_000_000


@contextlib.contextmanager
def _arrow_transfer(spark):
    """While in it, driver-side tables become DataFrames through Arrow, not
    row by row (``spark.sql.execution.arrow.pyspark.enabled``, restored after)."""
    arrow = "spark.sql.execution.arrow.pyspark.enabled"
    before = spark.conf.get(arrow, None)
    spark.conf.set(arrow, "true")
    try:
        yield
    finally:
        if before is None:
            spark.conf.unset(arrow)
        else:
            spark.conf.set(arrow, before)


def dedup(
    df,
    model: Model,
    *,
    partitions: Optional[int] = None,
    driver_edges: int = DRIVER_EDGES,
    timings: Optional[list] = None,
):
    """Every row of ``df`` with a ``match_id`` (rows of one real-world entity
    share it) and a ``match_confidence_score``, as ``findmatches dedup``
    gives them for the same rows and model. The result is persisted.

    ``partitions``: shuffle partitions of the blocking and scoring steps
    (default ``spark.sql.shuffle.partitions``). ``driver_edges``: up to this
    many pairs at or above the threshold are clustered on the driver (16
    bytes each); past it, connected components are found in Spark and each
    is clustered on an executor, with the same result. ``timings``: a list
    that gets ``(stage, seconds)`` for each stage."""
    return _Run(model, "dedup", [df], None, partitions, driver_edges, timings).output()


def link(
    left,
    right,
    model: Model,
    *,
    names: Tuple[str, str] = ("left", "right"),
    partitions: Optional[int] = None,
    driver_edges: int = DRIVER_EDGES,
    timings: Optional[list] = None,
):
    """The rows of ``left`` and ``right`` with a ``source`` column (``names``),
    a ``match_id`` shared by rows that match and a
    ``match_confidence_score``, as ``findmatches link`` gives them. The
    result is persisted. ``partitions``, ``driver_edges`` and ``timings`` as
    for :func:`dedup`."""
    return _Run(model, "link", [left, right], names, partitions, driver_edges, timings).output()


def incremental(
    new_df,
    baseline_path,
    model: Optional[Model] = None,
    *,
    allow_merges: bool = False,
    dry_run: bool = False,
    force: bool = False,
    name: Optional[str] = None,
    wait: Optional[float] = None,
    lookups: Optional[list] = None,
):
    """Match ``new_df`` against the baseline in ``baseline_path`` and within
    itself, then fold it in, as ``findmatches incremental`` does: the new
    rows with ``match_id`` (the baseline's ids reused), ``match_confidence_score``
    and ``match_status``, as a DataFrame; None when these rows were folded in
    before (unless ``force``).

    The new rows are gathered on the driver (an incremental file is this
    month's records, not the baseline). Spark reads the baseline: of each
    generation's key shards (``g*.keys/part-*.parquet``) only those the new
    records' blocking keys fall in, then, from the records (``g*.records.parquet``),
    the clusters of the records those keys find. The driver matches, as the
    command line does, and commits with its guarantees (one writer, atomic
    commit: a driver killed at any instant leaves the old generation or the
    new one). A baseline with generations written before key shards is read
    on the driver's file system instead. ``model``, when given, must be the
    baseline's. ``lookups``, when a list, gets one line per Spark lookup."""
    base = Baseline.open(baseline_path)
    if model is not None and model.to_json() != base.model.to_json():
        raise UsageError(f"{baseline_path}: the model given is not the baseline's (it keeps its own model.json)")
    spark = new_df.sparkSession
    layout = base._inner.layout()
    spark_lookups = None
    if all(s["key_shards"] > 0 for s in layout["segments"]):
        spark_lookups = _BaselineLookups(spark, layout, lookups)
    with _arrow_transfer(spark):
        out = base._inner.incremental(_to_arrow(new_df), allow_merges, dry_run, force, name, wait, spark_lookups)
        return None if out is None else _frame(spark, out)


class _BaselineLookups:
    """The baseline lookups of an incremental run (see ``findmatches::baseline::BaselineLookups``),
    answered by Spark tasks over the baseline's Parquet files."""

    def __init__(self, spark, layout: dict, log: Optional[list]):
        self.spark = spark
        self.layout = layout
        self.log = log if log is not None else []

    def key_rows(self, keys: pa.Array, cap: int) -> pa.Table:
        """Each baseline row holding one of ``keys`` (a null row for a key
        more than ``cap`` rows of a shard hold), reading only the shards
        they fall in: one task per shard file, which searches its sorted
        keys for those asked."""
        import time

        import numpy as np

        clock = time.perf_counter()
        keys = np.sort(keys.to_numpy(zero_copy_only=False).astype(np.uint64))
        empty = pa.table({"key": pa.array([], pa.uint64()), "row": pa.array([], pa.uint32())})
        if len(keys) == 0:
            return empty
        files = []
        total = 0
        for segment in self.layout["segments"]:
            shards = segment["shards"]
            total += len(shards)
            bits = len(shards).bit_length() - 1
            touched = np.unique(keys >> np.uint64(64 - bits)) if bits else [0]
            files.extend((shards[int(s)], bits, int(s)) for s in touched)
        asked = self.spark.sparkContext.broadcast(keys)

        def search(batches):
            import pyarrow.parquet as pq

            for batch in batches:
                for path, bits, shard in zip(*(batch.column(i).to_pylist() for i in range(3))):
                    mine = asked.value
                    if bits:
                        lo = np.searchsorted(mine, np.uint64(shard) << np.uint64(64 - bits))
                        hi = np.searchsorted(mine, np.uint64(shard + 1) << np.uint64(64 - bits)) if shard + 1 < 1 << bits else len(mine)
                        mine = mine[lo:hi]
                    stored = pq.read_table(path)
                    at = stored.column("key").to_numpy().view(np.uint64)
                    start = np.searchsorted(at, mine, "left")
                    counts = np.searchsorted(at, mine, "right") - start
                    small = (counts > 0) & (counts <= cap)
                    n = counts[small]
                    # Every row of each key held by 1..=cap rows, then one null per key held by more.
                    index = np.repeat(start[small] - (np.cumsum(n) - n), n) + np.arange(n.sum())
                    common = mine[counts > cap]
                    rows = stored.column("row").to_numpy()
                    yield pa.RecordBatch.from_arrays(
                        [
                            pa.array(np.concatenate([np.repeat(mine[small], n), common]).view(np.int64)),
                            pa.concat_arrays([pa.array(rows[index]), pa.nulls(len(common), pa.int64())]),
                        ],
                        names=["key", "row"],
                    )

        tasks = self._tasks(files, "path string, bits int, shard int")
        table = _to_arrow(tasks.mapInArrow(search, "key long, row long"))
        asked.unpersist()
        self.log.append(
            f"key_rows: {len(keys)} keys, {len(files)} of {total} shard files read, "
            f"{table.num_rows} rows found, {time.perf_counter() - clock:.1f} s"
        )
        if table.num_rows == 0:
            return empty
        return pa.table(
            {
                "key": table.column("key").cast(pa.int64()).to_numpy().view(np.uint64),
                "row": table.column("row").cast(pa.uint32()),
            }
        )

    def clusters(self, rows: pa.Array) -> pa.Table:
        """The records at ``rows`` and every other member of their clusters:
        one task per row group of the records that holds asked rows finds
        their clusters, then one per row group reads their members."""
        import time

        import numpy as np
        import pyarrow.parquet as pq

        clock = time.perf_counter()
        asked = np.sort(rows.to_numpy(zero_copy_only=False).astype(np.int64))
        groups = []
        for segment in self.layout["segments"]:
            meta = pq.ParquetFile(segment["records"]).metadata
            first = segment["first_row"]
            for g in range(meta.num_row_groups):
                count = meta.row_group(g).num_rows
                groups.append((segment["records"], g, first, count))
                first += count

        def holding_asked(group):
            _, _, first, count = group
            return np.searchsorted(asked, first + count) > np.searchsorted(asked, first)

        shipped = self.spark.sparkContext.broadcast(asked)

        def ids_of_asked(batches):
            for batch in batches:
                for path, g, first, count in zip(*(batch.column(i).to_pylist() for i in range(4))):
                    mine = shipped.value
                    mine = mine[np.searchsorted(mine, first) : np.searchsorted(mine, first + count)] - first
                    group = pq.ParquetFile(path).read_row_group(g, columns=[MATCH_ID])
                    ids = group.column(MATCH_ID).to_numpy()[mine]
                    yield pa.RecordBatch.from_arrays([pa.array(np.unique(ids).astype(np.int64))], names=["id"])

        holding = [g for g in groups if holding_asked(g)]
        stored = set(_to_arrow(self._tasks(holding).mapInArrow(ids_of_asked, "id long")).column("id").to_pylist())
        # The stored ids standing for the same clusters now, merges applied.
        now = dict(self.layout["merges"])
        clusters = {now.get(i, i) for i in stored}
        wanted = self.spark.sparkContext.broadcast(
            (np.array(sorted(clusters | {a for a, kept in now.items() if kept in clusters}), dtype=np.uint64), now)
        )
        columns = self.layout["columns"]
        schema = pa.schema([("row", pa.int64()), (MATCH_ID, pa.int64()), *[(c, pa.string()) for c in columns]])

        def members(batches):
            import pyarrow.compute as pc

            ids, merged = wanted.value
            for batch in batches:
                for path, g, first, _ in zip(*(batch.column(i).to_pylist() for i in range(4))):
                    file = pq.ParquetFile(path)
                    keep = pc.is_in(file.read_row_group(g, columns=[MATCH_ID]).column(MATCH_ID), pa.array(ids))
                    at = np.flatnonzero(keep.to_numpy(zero_copy_only=False))
                    if len(at) == 0:
                        continue
                    found = file.read_row_group(g).take(at)
                    current = found.column(MATCH_ID).combine_chunks()
                    if merged:
                        current = pa.array([merged.get(i, i) for i in current.to_pylist()], pa.uint64())
                    yield pa.RecordBatch.from_arrays(
                        [pa.array(at + first), current.cast(pa.int64())]
                        + [found.column(c).cast(pa.string()).combine_chunks() for c in columns],
                        names=["row", MATCH_ID, *columns],
                    )

        if clusters:
            table = _to_arrow(self._tasks(groups).mapInArrow(members, _spark_schema(schema)))
        else:
            table = schema.empty_table()
        shipped.unpersist()
        wanted.unpersist()
        self.log.append(
            f"clusters: {len(rows)} rows asked, {table.num_rows} records read, {time.perf_counter() - clock:.1f} s"
        )
        return pa.table(
            {
                "row": table.column("row").cast(pa.uint32()),
                MATCH_ID: table.column(MATCH_ID).cast(pa.uint64()),
                **{c: table.column(c) for c in columns},
            }
        )

    def _tasks(self, parts: list, schema: str = "path string, part int, first long, count long"):
        """One row per part of a file to read (by default: path, row group,
        its first row, its rows), spread over the tasks."""
        tasks = self.spark.createDataFrame(parts, schema)
        return tasks.repartition(max(1, min(len(parts), 4 * self.spark.sparkContext.defaultParallelism)))


def _frame(spark, table: pa.Table):
    """A driver-side Arrow table as a DataFrame (unsigned ids as longs)."""
    from pyspark.sql.pandas.types import from_arrow_schema

    columns = [c.cast(pa.int64()) if pa.types.is_unsigned_integer(c.type) else c for c in table.columns]
    table = pa.Table.from_arrays(columns, names=table.column_names)
    return spark.createDataFrame(table.to_pandas(), from_arrow_schema(table.schema))


class _Run:
    def __init__(
        self, model: Model, mode: str, dfs: list, names, partitions: Optional[int], driver_edges: int, timings
    ):
        import time

        from pyspark import StorageLevel

        self.timings = timings if timings is not None else []
        self.clock = time.perf_counter()
        self.model = model
        self.mode = mode
        self.names = names
        self.spark = dfs[0].sparkSession
        self.sc = self.spark.sparkContext
        self.partitions = partitions or _shuffle_partitions(self.spark)
        self.driver_edges = driver_edges
        self.model_json = model.to_json()
        self.key = model.primary_key
        self.matched = [c for c, kind in model.columns if kind != "ignore"]
        self.level = StorageLevel.MEMORY_AND_DISK
        self.cached: list = []
        self.tmp = tempfile.mkdtemp(prefix="findmatches-spark-")
        for i, df in enumerate(dfs):
            self._check(df, self._name(i))
        self.tagged = [self._persist(self._tag(df, s)) for s, df in enumerate(dfs)]
        for s, t in enumerate(self.tagged):
            self._check_keys(t, self._name(s))
        self._lap("read and check")

    def _lap(self, stage: str) -> None:
        import time

        now = time.perf_counter()
        self.timings.append((stage, now - self.clock))
        self.clock = now

    def _name(self, source: int) -> str:
        return self.names[source] if self.names else "table"

    def _persist(self, df):
        df = df.persist(self.level)
        self.cached.append(df)
        return df

    def _check(self, df, name: str) -> None:
        missing = [c for c in [self.key, *self.matched] if c not in df.columns]
        if missing:
            raise UsageError(f"{name}: lacks column(s) {', '.join(missing)} that the model needs")

    def _check_keys(self, tagged, name: str) -> None:
        """One pass over the (persisted) input: every key present and unique."""
        from pyspark.sql import functions as F

        key = F.trim(F.col(self.key).cast("string"))
        bad = (
            tagged.groupBy(key.alias("k"))
            .agg(F.count("*").alias("n"))
            .filter(F.col("k").isNull() | (F.col("k") == "") | (F.col("n") > 1))
            .limit(1)
            .collect()
        )
        if bad and (bad[0]["k"] is None or bad[0]["k"] == ""):
            raise UsageError(f"{name}: a row has an empty primary key '{self.key}'")
        if bad:
            raise UsageError(f"{name}: primary key '{self.key}' value '{bad[0]['k']}' is not unique")

    def _tag(self, df, source: int):
        from pyspark.sql import functions as F

        gid = F.monotonically_increasing_id() + F.lit(source << SOURCE_SHIFT)
        return df.withColumn(GID, gid).withColumn(SOURCE, F.lit(source).cast("int"))

    def output(self):
        try:
            with _arrow_transfer(self.spark):
                return self._output()
        finally:
            for df in self.cached:
                df.unpersist()
            shutil.rmtree(self.tmp, ignore_errors=True)

    def _output(self):
        from pyspark.sql import Window
        from pyspark.sql import functions as F

        raw = self.tagged[0].select(GID, SOURCE, self.key, *self.matched)
        for t in self.tagged[1:]:
            raw = raw.unionByName(t.select(GID, SOURCE, self.key, *self.matched))
        votes = self._day_votes(raw)
        first = _Shipped(self.sc, (self.model_json, self.mode, votes))
        norm_schema = _Steps(self.model_json, self.mode, votes).normalized_schema()
        names = [self._name(s) for s in range(len(self.tagged))]

        def normalize(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
            steps = _steps(first)
            for b in batches:
                name = names[b.column(SOURCE)[0].as_py()] if b.num_rows else names[0]
                yield steps.normalize(name, b)

        norm = self._persist(raw.mapInArrow(normalize, _spark_schema(norm_schema)))
        records = norm.count()
        self._lap("normalize")
        steps = self._stats(norm, first, votes, records)
        second = _Shipped(self.sc, steps)
        self._lap("count terms")
        # The driver's own copy of the steps, built once (the counts make it
        # as large as the workers' copies).
        on_driver = _Steps(*steps)
        pairs = self._persist(self._key_pairs(norm, second, on_driver))
        pairs.count()
        self._lap("block by keys")
        pairs = self._with_index(norm, pairs, second, on_driver)
        scored = self._persist(self._score(norm, pairs, second))
        scored.count()
        self._lap("index and score" if on_driver.index_fallback() else "score")
        best = self._persist(
            scored.select(F.col("a").alias(GID), "score")
            .unionByName(scored.select(F.col("b").alias(GID), "score"))
            .groupBy(GID)
            .agg(F.max("score").alias("best"))
        )
        clusters, spread = self._cluster(norm, scored, best, second, on_driver)
        self._lap("cluster in Spark" if spread else "cluster")
        per_record = (
            norm.select(GID)
            .join(best, GID, "left")
            .join(clusters, GID, "left")
            .select(
                GID,
                F.coalesce("leader", GID).alias("leader"),
                F.coalesce("confidence", F.lit(1.0) - F.coalesce("best", F.lit(0.0))).alias("confidence"),
            )
        )
        # Clusters numbered in the order of their first records, as the
        # binary numbers them.
        leaders = per_record.filter(F.col("leader") == F.col(GID)).select("leader")
        leaders = leaders.withColumn(MATCH_ID, F.row_number().over(Window.orderBy("leader")) - 1)
        per_record = per_record.join(leaders, "leader").select(
            GID, MATCH_ID, F.round("confidence", 4).cast("float").alias(MATCH_CONFIDENCE)
        )
        reserved = {MATCH_ID, MATCH_CONFIDENCE} | ({"source"} if self.mode == "link" else set())
        if self.mode == "dedup":
            rows = self.tagged[0]
            keep = [c for c in rows.columns if c not in reserved and c not in (GID, SOURCE)]
            rows = rows.select(GID, *keep)
        else:
            columns = []
            for t in self.tagged:
                columns += [c for c in t.columns if c not in columns and c not in reserved and c not in (GID, SOURCE)]
            parts = []
            for s, t in enumerate(self.tagged):
                parts.append(
                    t.select(
                        GID,
                        F.lit(self.names[s]).alias("source"),
                        *[
                            (F.col(c).cast("string") if c in t.columns else F.lit(None).cast("string")).alias(c)
                            for c in columns
                        ],
                    )
                )
            rows = parts[0].unionByName(parts[1])
        out = rows.join(per_record, GID).drop(GID).persist(self.level)
        out.count()
        self._lap("number and join back")
        return out

    def _day_votes(self, raw) -> list:
        from pyspark.sql import functions as F

        columns = len(self.matched)
        if "date" not in {kind for _, kind in self.model.columns}:
            return [(0, 0)] * columns
        model_json = self.model_json

        def votes(batches):
            for b in batches:
                v = _day_votes(model_json, "table", b)
                yield pa.RecordBatch.from_pydict(
                    {
                        "column": pa.array(range(columns), pa.int32()),
                        "day": pa.array([x[0] for x in v], pa.int64()),
                        "month": pa.array([x[1] for x in v], pa.int64()),
                    }
                )

        summed = (
            raw.mapInArrow(votes, "column int, day long, month long")
            .groupBy("column")
            .agg(F.sum("day").alias("day"), F.sum("month").alias("month"))
            .collect()
        )
        out = [(0, 0)] * columns
        for r in summed:
            out[r["column"]] = (int(r["day"]), int(r["month"]))
        return out

    def _stats(self, norm, first, votes, records: int) -> tuple:
        from pyspark.sql import functions as F

        def count(batches):
            steps = _steps(first)
            for b in batches:
                yield steps.count(b)

        summed = self._persist(
            norm.mapInArrow(count, "kind int, column int, term string, count long")
            .groupBy("kind", "column", "term")
            .agg(F.sum("count").alias("count"))
        )
        totals = _to_arrow(
            summed.groupBy("kind", "column").agg(
                F.sum("count").alias("total"), F.sum(F.col("count") * F.col("count")).alias("squares")
            )
        )
        kept = _to_arrow(summed.filter((F.col("count") >= 2) | ((F.col("kind") == 1) & (F.col("term") == ""))))
        return (self.model_json, self.mode, votes, records, kept, totals)

    def _key_pairs(self, norm, second, steps: _Steps):
        def keys(batches):
            s = _steps(second)
            for b in batches:
                yield s.keys(b)

        def block(batches):
            blocker = _steps(second).blocker()
            for b in batches:
                blocker.push(b)
            yield from blocker.finish()

        def rank(batches):
            ranker = _steps(second).ranker()
            for b in batches:
                ranker.push(b)
            yield ranker.finish()

        # Keys partitioned by key into blocks, block rows partitioned by
        # member into each record's neighbours.
        return (
            norm.mapInArrow(keys, "key long, __fm_gid long")
            .repartition(self.partitions, "key")
            .mapInArrow(block, "__fm_gid long, weight float, others binary")
            .repartition(self.partitions, GID)
            .mapInArrow(rank, "a long, b long")
            .transform(self._distinct_pairs)
        )

    def _distinct_pairs(self, pairs):
        """Each pair once, partitioned by its first record as the scoring
        join wants them (so that join moves the pairs no further)."""
        return pairs.repartition(self.partitions, "a").dropDuplicates(["a", "b"])

    def _with_index(self, norm, pairs, second, steps: _Steps):
        from pyspark.sql import functions as F

        fallback = steps.index_fallback()
        if fallback == 0:
            return pairs
        held, asking = steps.index_sources()
        indexed = norm if held is None else norm.filter(F.col(SOURCE) == held)
        name = f"findmatches-index-{os.getpid()}-{id(self)}"
        path = os.path.join(self.tmp, name)
        steps.write_index(path, _to_arrow(indexed))
        self.sc.addFile(path, recursive=True)
        degree = (
            pairs.select(F.col("a").alias(GID))
            .unionByName(pairs.select(F.col("b").alias(GID)))
            .groupBy(GID)
            .agg(F.count("*").alias("degree"))
        )
        asking_rows = norm if asking is None else norm.filter(F.col(SOURCE) == asking)
        wanted = (
            asking_rows.join(degree, GID, "left")
            .filter(F.coalesce("degree", F.lit(0)) < fallback)
            .select(*norm.columns)
        )

        def query(batches):
            s = _steps(second)
            index = _index(name)
            for b in batches:
                yield s.query_index(index, b)

        return self._distinct_pairs(pairs.unionByName(wanted.mapInArrow(query, "a long, b long")))

    def _score(self, norm, pairs, second):
        from pyspark.sql import functions as F

        a = norm.select(*[F.col(c).alias("a_" + c) for c in norm.columns])
        b = norm.select(*[F.col(c).alias("b_" + c) for c in norm.columns])
        joined = (
            pairs.join(a, pairs["a"] == a["a_" + GID])
            .join(b, pairs["b"] == b["b_" + GID])
            .select(*a.columns, *b.columns)
        )

        def score(batches):
            s = _steps(second)
            for batch in batches:
                yield s.score(batch)

        return joined.mapInArrow(score, "a long, b long, score float")

    def _cluster(self, norm, scored, best, second, steps: _Steps):
        """Each clustered record's gid, leader and confidence, and whether
        that was found in Spark (past ``driver_edges``)."""
        from pyspark.sql import functions as F

        edges = self._persist(scored.filter(F.col("score") >= float(steps.threshold())))
        label_keys = steps.labeled_keys()
        if label_keys:
            labeled = _to_arrow(norm.filter(F.col(KEY).isin(label_keys)).select(GID, KEY))
        else:
            labeled = pa.table({GID: pa.array([], pa.int64()), KEY: pa.array([], pa.string())})
        # The clusterer finds the best score of a record in a pair at or
        # above the threshold among those pairs: only the labeled records'
        # are needed.
        labeled_gids = labeled.column(GID).to_pylist()
        if labeled_gids:
            best = _to_arrow(best.join(F.broadcast(_gids_frame(self.spark, labeled_gids)), GID))
        else:
            best = pa.table({GID: pa.array([], pa.int64()), "best": pa.array([], pa.float32())})
        if edges.count() > self.driver_edges:
            return self._cluster_spread(norm, edges, best, labeled, second, steps), True
        clusterer = steps.clusterer(_to_arrow(edges), labeled)
        if not clusterer.gids():
            return self.spark.createDataFrame([], f"{GID} long, leader long, confidence float"), False
        needed = clusterer.scored_on_demand()
        rows = _to_arrow(norm.join(F.broadcast(_gids_frame(self.spark, needed)), GID)) if needed else None
        if rows is None:
            rows = pa.Table.from_batches([], schema=steps.normalized_schema())
        result = pa.Table.from_batches([clusterer.cluster(rows, best)])
        clusters = self.spark.createDataFrame(result.to_pandas(), f"{GID} long, leader long, confidence float")
        return (F.broadcast(clusters) if len(result) < 2_000_000 else clusters), False

    def _cluster_spread(self, norm, edges, best: pa.Table, labeled: pa.Table, second, steps: _Steps):
        """Clustering past the driver: connected components of the pairs at
        or above the threshold (and the labeled matches clustering holds),
        then each component whole on one executor, clustered there as the
        driver would (clustering never crosses a component). ``best``: the
        labeled records' best scores."""
        from pyspark.sql import functions as F

        NEEDED = "__fm_needed"
        graph = edges.select("a", "b")
        must = [(a, b) for a, b, is_match in steps.label_links(labeled) if is_match]
        if must:
            graph = graph.unionByName(self.spark.createDataFrame(must, "a long, b long"))
        components = _components(graph, self.partitions)
        sizes = components.groupBy(COMPONENT).agg(F.count("*").alias("size"))
        # Rows of the records clustering may score on demand: those of
        # components of three or more, and the labeled ones.
        needed = (
            components.join(sizes, COMPONENT)
            .filter((F.col("size") > 2) | F.col(GID).isin(labeled.column(GID).to_pylist()))
            .select(GID)
        )
        members = components.join(norm.join(needed, GID).withColumn(NEEDED, F.lit(True)), GID, "left")
        part_edges = edges.join(components.select(F.col(GID).alias("a"), COMPONENT), "a")
        columns = norm.columns

        def cluster(batches):
            s = _steps(second)
            part = [b for b in batches if b.num_rows]
            if not part:
                return
            import pyarrow.compute as pc

            table = pa.Table.from_batches(part)
            is_edge = pc.is_valid(table.column("a"))
            rows = table.filter(pc.invert(is_edge))
            own = labeled.filter(pc.is_in(labeled.column(GID), value_set=rows.column(GID).combine_chunks()))
            clusterer = s.clusterer(table.filter(is_edge).select(["a", "b", "score"]), own)
            needed_rows = rows.filter(pc.fill_null(rows.column(NEEDED), False)).select(columns)
            yield clusterer.cluster(needed_rows, best)

        return (
            part_edges.unionByName(members, allowMissingColumns=True)
            .repartition(self.partitions, COMPONENT)
            .mapInArrow(cluster, f"{GID} long, leader long, confidence float")
        )


def _cut(df):
    """``df`` computed once (a local checkpoint) and cut from its plan: a
    fresh DataFrame over the checkpoint's rows, so a loop's plans neither
    grow nor carry the checkpoint's statistics, whose analysis took
    seconds more each round."""
    done = df.localCheckpoint()
    spark = df.sparkSession
    return done.__class__(spark._jsparkSession.createDataFrame(done._jdf.rdd(), done._jdf.schema()), spark)


def _components(graph, partitions: int):
    """The connected components of the graph of ``a``, ``b`` edges: each
    node's ``__fm_gid`` and ``__fm_component``, the smallest gid of its
    component.

    Hook and contract: each round, every node of the graph points to its
    smallest neighbour (or itself), pointers jump until each reaches its
    tree's root (the tree's smallest node), and the graph is contracted to
    its roots. Each round leaves about a third of the nodes (the local
    minima), so a long chain takes a few rounds, not one per link."""
    from pyspark.sql import functions as F

    both = graph.unionByName(graph.select(F.col("b").alias("a"), F.col("a").alias("b")))
    edges = both.filter(F.col("a") != F.col("b")).repartition(partitions, "a").distinct().transform(_cut)
    labels = edges.select(F.col("a").alias(GID)).distinct().withColumn(COMPONENT, F.col(GID)).transform(_cut)
    while not edges.isEmpty():
        parent = (
            edges.groupBy("a")
            .agg(F.min("b").alias("p"))
            .select(F.col("a").alias("v"), F.least("a", "p").alias("p"))
            .transform(_cut)
        )
        while True:
            jumped = parent.join(parent.select(F.col("v").alias("p"), F.col("p").alias("up")), "p").transform(_cut)
            parent = jumped.select("v", F.col("up").alias("p"))
            if jumped.filter(F.col("p") != F.col("up")).isEmpty():
                break
        edges = (
            edges.join(parent.select(F.col("v").alias("a"), F.col("p").alias("pa")), "a")
            .join(parent.select(F.col("v").alias("b"), F.col("p").alias("pb")), "b")
            .select(F.col("pa").alias("a"), F.col("pb").alias("b"))
            .filter(F.col("a") != F.col("b"))
            .distinct()
            .transform(_cut)
        )
        labels = (
            labels.join(parent.select(F.col("v").alias(COMPONENT), F.col("p").alias("root")), COMPONENT, "left")
            .select(GID, F.coalesce("root", COMPONENT).alias(COMPONENT))
            .transform(_cut)
        )
    return labels
