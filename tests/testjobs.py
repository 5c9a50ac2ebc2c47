"""Jobs used only by tests (allowed through LMR_JOB_PACKAGES=jobs,tests in conftest)."""

from pyspark.sql import functions as F

from engine import ArrowMapper, Mapper, Reducer
from jobs.crawl import SCHEMA, ExtractDocuments, P90ContentLengthByLanguage
from jobs.wordcount import SplitWords


class FailOnPoison(ExtractDocuments):
    """The crawl mapper, except that it raises on any input whose name contains 'poison'."""

    def map(self, df, ctx):
        if "poison" in ctx.input_path:
            raise ValueError(f"refusing {ctx.input_path}")
        ctx.counters["mapped_files"] += 1
        return super().map(df, ctx)


class LanguageCountsFromRaw(Reducer):
    """REDUCER_ONLY: reads the crawl JSONL itself and counts documents per language."""

    input_format = "jsonl"
    schema = SCHEMA
    output_format = "parquet"

    def reduce(self, df, ctx):
        language = F.lower(F.trim("language"))
        return (df.select(language.alias("language")).where(F.col("language") != "")
                  .groupBy("language").count())


class CsvPassThrough(Mapper):
    input_format = "csv"
    schema = "id INT, name STRING, score DOUBLE"
    output_format = "csv"

    def map(self, df, ctx):
        return df.where(F.col("score") >= 0)


class CountParquetWords(Mapper):
    """Parquet rows (id, word) -> (word, count) within the task."""

    input_format = "parquet"

    def map(self, df, ctx):
        return df.groupBy("word").count()


class NotImplementedMapper(Mapper):
    pass


class FlakyOnce(ExtractDocuments):
    """Fails with a retryable storage error the first time it sees an input whose name contains
    'flaky' (remembered by a marker file in the test's LMR_TEST_SCRATCH folder), then works."""

    def map(self, df, ctx):
        import os

        if "flaky" in ctx.input_path:
            marker = os.path.join(os.environ["LMR_TEST_SCRATCH"], f"flaky-{ctx.job_id}-{ctx.task_id}")
            if not os.path.exists(marker):
                open(marker, "w").close()
                from engine.errors import StorageError

                raise StorageError("simulated S3 read timeout")
        if "poison" in ctx.input_path:
            raise ValueError(f"refusing {ctx.input_path}")
        return super().map(df, ctx)


class HangOnce(SplitWords):
    """Word count's mapper, except that the first time it maps doc-001 it writes its process
    id to $LMR_TEST_SCRATCH/hang.pid and hangs, waiting to be killed."""

    def map(self, df, ctx):
        import os
        import time

        pid_file = os.path.join(os.environ["LMR_TEST_SCRATCH"], "hang.pid")
        if "doc-001" in ctx.input_path and not os.path.exists(pid_file):
            with open(pid_file + ".tmp", "w") as f:
                f.write(str(os.getpid()))
            os.rename(pid_file + ".tmp", pid_file)
            time.sleep(600)
        return super().map(df, ctx)


class CountingP90(P90ContentLengthByLanguage):
    """The crawl reducer, counting its calls (map tasks also plan it, for column pruning)."""

    def reduce(self, df, ctx):
        ctx.counters["reduce_calls"] += 1
        return super().reduce(df, ctx)


class KillsItsWorker(SplitWords):
    """Word count's mapper, except that doc-000 SIGKILLs its own worker every time, after
    waiting up to 3 s for doc-001 to be running beside it in the same process; doc-001,
    when it finds doc-000 in its process, waits there to die with it."""

    def map(self, df, ctx):
        import os
        import signal
        import time

        def marker(name: str) -> str:
            return os.path.join(os.environ["LMR_TEST_SCRATCH"], f"{name}-{os.getpid()}")

        def appears(path: str) -> bool:
            deadline = time.monotonic() + 3
            while not os.path.exists(path) and time.monotonic() < deadline:
                time.sleep(0.02)
            return os.path.exists(path)

        if "doc-000" in ctx.input_path:
            open(marker("killer"), "w").close()
            appears(marker("beside"))
            os.kill(os.getpid(), signal.SIGKILL)
        if "doc-001" in ctx.input_path and appears(marker("killer")):
            open(marker("beside"), "w").close()
            time.sleep(600)
        return super().map(df, ctx)


class SessionTimeZone(Mapper):
    """MAPPER_ONLY: one row per input line, holding the session's time zone (what a
    manifest's spark_conf set reaches the user's Spark)."""

    input_format = "text"
    output_format = "csv"

    def map(self, df, ctx):
        return df.select(F.current_timezone().alias("tz"))


class AlwaysFlaky(SplitWords):
    """Word count's mapper, except that it fails with a retryable storage error every time,
    leaving one file per attempt in $LMR_TEST_SCRATCH (to count the attempts)."""

    def map(self, df, ctx):
        import os
        import uuid

        open(os.path.join(os.environ["LMR_TEST_SCRATCH"], f"attempt-{ctx.task_id}-{uuid.uuid4().hex}"), "w").close()
        from engine.errors import StorageError

        raise StorageError("simulated S3 throttling (SlowDown), every time")


class FailsUntilFixed(SplitWords):
    """Word count's mapper, except that an input whose name contains 'broken' fails (as user
    code) until $LMR_TEST_SCRATCH/fixed exists. Every call leaves a mapped-<task>-* file."""

    def map(self, df, ctx):
        import os
        import uuid

        scratch = os.environ["LMR_TEST_SCRATCH"]
        open(os.path.join(scratch, f"mapped-{ctx.task_id}-{uuid.uuid4().hex}"), "w").close()
        if "broken" in ctx.input_path and not os.path.exists(os.path.join(scratch, "fixed")):
            raise ValueError(f"cannot map {ctx.input_path} yet")
        return super().map(df, ctx)


def mark_setup(ctx, role: str) -> None:
    """Record a setup call as a file in the folder params["marks"]: <role>-<pid>-<task>-<n>."""
    import os
    import uuid

    folder = ctx.params["marks"]
    open(os.path.join(folder, f"{role}-{os.getpid()}-{ctx.task_id}-{uuid.uuid4().hex[:8]}"), "w").close()


class WordsSetUpOnce(SplitWords):
    """Word count whose setup is counted; map uses what setup made."""

    def setup(self, ctx):
        mark_setup(ctx, "mapper")
        self.suffix = ctx.params.get("suffix", "")

    def map(self, df, ctx):
        counted = super().map(df, ctx)
        return counted.withColumn("word", F.concat("word", F.lit(self.suffix)))


class SumCountsSetUpOnce(Reducer):
    output_format = "csv"

    def setup(self, ctx):
        mark_setup(ctx, "reducer")

    def combine(self, df, ctx):
        ctx.counters[f"combine-{ctx.params['suffix']}"] += 1
        return df.groupBy("word").agg(F.sum("count").alias("count"))

    def reduce(self, df, ctx):
        ctx.counters[f"reduce-{ctx.params['suffix']}"] += 1
        return df.groupBy("word").agg(F.sum("count").alias("count"))


class LookupReducer(Reducer):
    """A reducer whose setup loads what only reduce needs (no combine)."""

    output_format = "csv"

    def setup(self, ctx):
        mark_setup(ctx, "reducer")

    def reduce(self, df, ctx):
        return df.groupBy("word").agg(F.sum("count").alias("count"))


class ArrowWords(ArrowMapper):
    """Text lines -> one row per word, with the task id and params the batch saw."""

    input_format = "text"
    output_schema = "word STRING, task STRING, tag STRING, job STRING"
    output_format = "parquet"

    def setup(self, ctx):
        mark_setup(ctx, "arrow")
        self.tag = ctx.params["tag"]

    def map_batch(self, batch, ctx):
        import pyarrow as pa

        words = [w for line in batch.column("value").to_pylist() for w in line.split()]
        n = len(words)
        tag = f"{self.tag}/{ctx.params['tag']}"   # from setup / from the batch's own ctx
        return pa.table({"word": words, "task": [ctx.task_id] * n, "tag": [tag] * n, "job": [ctx.job_id] * n})


class ArrowCrawlLanguages(ArrowMapper):
    """The crawl records' languages, through Arrow batches (rejects are the engine's)."""

    input_format = "jsonl"
    schema = SCHEMA
    output_schema = "language STRING"
    output_format = "parquet"

    def map_batch(self, batch, ctx):
        return batch.select(["language"])


class BrokenSetup(SplitWords):
    def setup(self, ctx):
        raise RuntimeError("model file is corrupt")


class BrokenArrowSetup(ArrowWords):
    def setup(self, ctx):
        raise RuntimeError("model shard is corrupt")


class BinarySizes(Mapper):
    input_format = "binary"
    output_format = "parquet"

    def map(self, df, ctx):
        return df.select("path", F.length("content").alias("size"), F.sha2("content", 256).alias("sha"))


class ArrowWithoutSchema(ArrowMapper):
    def map_batch(self, batch, ctx):
        return batch


class JoinWordGroups(Reducer):
    """A join per key: word counts joined with a lookup table (``params.lookup``: a CSV of
    word,group) in the reducer, then summed per group and word."""

    output_format = "csv"
    partition_by = ("word",)

    def reduce(self, df, ctx):
        lookup = df.sparkSession.read.option("header", "true").csv(ctx.params["lookup"])
        return (df.groupBy("word").agg(F.sum("count").alias("count"))
                .join(lookup, "word", "left").fillna({"group": "none"}))


class EachWord(Mapper):
    """Every word occurrence as a row (word, count=1): no map-side counting, so a skewed
    word stays skewed in what the reducers read."""

    input_format = "text"

    def map(self, df, ctx):
        words = F.explode(F.split(F.lower(F.col("value")), r"[^a-z0-9']+")).alias("word")
        return df.select(words).where(F.col("word") != "").select("word", F.lit(1).alias("count"))


class FailsInReduceTaskOne(Reducer):
    """SumCountsPerWord, except that reduce task 1 fails (as user code) until
    $LMR_TEST_SCRATCH/fixed exists. Every call leaves a reduced-<task>-* file."""

    output_format = "csv"
    partition_by = ("word",)

    def reduce(self, df, ctx):
        import os
        import uuid

        scratch = os.environ["LMR_TEST_SCRATCH"]
        open(os.path.join(scratch, f"reduced-{ctx.task_id}-{uuid.uuid4().hex}"), "w").close()
        if ctx.task_id == "reduce-1" and not os.path.exists(os.path.join(scratch, "fixed")):
            raise ValueError("reduce task 1 cannot run yet")
        return df.groupBy("word").agg(F.sum("count").alias("count"))


class PartitionByMissingColumn(Reducer):
    """Partitions by a column the mapper does not produce."""

    partition_by = ("nope",)

    def reduce(self, df, ctx):
        return df


class HogsJvmMemory(SplitWords):
    """Fills the Spark JVM's heap with ``params["hog_mb"]`` MB (64 MB buffers it keeps), for
    a container whose memory limit is below the JVM's heap: the kernel then kills the JVM."""

    def map(self, df, ctx):
        jvm = df.sparkSession._jvm
        held = [jvm.java.nio.ByteBuffer.allocate(64 * 2**20) for _ in range(int(ctx.params["hog_mb"]) // 64)]
        ctx.counters["held_buffers"] += len(held)
        return super().map(df, ctx)


class FillsTmp(SplitWords):
    """Writes ``params["fill_mb"]`` MB into the temp folder (removed after), like a task
    whose staged inputs and scratch files outgrow the function's /tmp."""

    def map(self, df, ctx):
        import os
        import tempfile

        with tempfile.NamedTemporaryFile(dir=tempfile.gettempdir()) as fh:
            for _ in range(int(ctx.params["fill_mb"])):
                fh.write(os.urandom(2**20))
            fh.flush()
            os.fsync(fh.fileno())
        return super().map(df, ctx)


class PassThrough(Mapper):
    """Every row as the reader gives it (the manifest sets the format, schema and options)."""

    output_format = "parquet"

    def map(self, df, ctx):
        return df


class RowSources(Mapper):
    """Each line with the input file it came from (ctx.source_column())."""

    input_format = "text"
    output_format = "parquet"

    def map(self, df, ctx):
        return df.select(ctx.source_column().alias("source"), "value")


class MapReturnsRows(SplitWords):
    """A usual mistake: map returns collected rows (a list), not a DataFrame."""

    def map(self, df, ctx):
        return super().map(df, ctx).collect()


class ReduceReturnsDict(Reducer):
    """A usual mistake: reduce returns a plain dict of results."""

    def reduce(self, df, ctx):
        return {"words": df.count()}


def _parse_line(value):
    if "poison" in value:
        raise ValueError(f"cannot parse {value!r}")
    return len(value)


class RaisesOnSomeRows(Mapper):
    """A UDF that raises on lines holding 'poison': the error reaches the driver as Spark's
    PythonException, wrapped in pages of Java stack."""

    input_format = "text"

    def map(self, df, ctx):
        from pyspark.sql.types import IntegerType

        return df.select(F.udf(_parse_line, IntegerType())("value").alias("length"))


class SlowWords(SplitWords):
    """SplitWords taking two seconds per task: a Ctrl-C lands while tasks are mid-way."""

    def map(self, df, ctx):
        import time

        time.sleep(2)
        return super().map(df, ctx)


def _checked_line(value):
    if "poison" in value:
        raise ValueError(f"line fails the check: {value!r}")
    return True


class WordsWithACheck(Mapper):
    """Words per line, and a column 'checked' whose UDF raises on a line holding 'poison'.
    SumCounts never reads 'checked': column pruning leaves it (and the check) out."""

    input_format = "text"

    def map(self, df, ctx):
        from pyspark.sql.types import BooleanType

        checked = F.udf(_checked_line, BooleanType())("value").alias("checked")
        words = F.explode(F.split(F.lower(F.col("value")), r"[^a-z0-9']+")).alias("word")
        return df.select(words, checked).where(F.col("word") != "").select("word", F.lit(1).alias("count"), "checked")


class SumCountsKeepingTheCheck(Reducer):
    """SumCounts, with the mapper's 'checked' column kept (so its check runs)."""

    output_format = "csv"
    keep_columns = ("checked",)

    def reduce(self, df, ctx):
        return df.groupBy("word").agg(F.sum("count").alias("count"))


class ReduceFailsUntilFixed(Reducer):
    """SumCounts, except that it fails (as user code) until $LMR_TEST_SCRATCH/fixed exists."""

    output_format = "csv"

    def reduce(self, df, ctx):
        import os

        if not os.path.exists(os.path.join(os.environ["LMR_TEST_SCRATCH"], "fixed")):
            raise ValueError("the reducer cannot run yet")
        return df.groupBy("word").agg(F.sum("count").alias("count"))
