"""What a user implements: a ``Mapper`` (or an ``ArrowMapper``) and a ``Reducer``.

Importable without pyspark (type hints only), so the coordinator can check that a
manifest's classes exist without the 491 MB pyspark install.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from .context import TaskContext
from .spark.readers import read_files

if TYPE_CHECKING:
    import pyarrow
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.types import StructType


class Mapper:
    """Narrow transforms over the records of ONE task's input files.

    Override :meth:`map`. Override :meth:`read` only for a format the built-in readers
    do not cover; if the DataFrame it returns has a ``_corrupt_record`` column, the
    engine treats rows where it is set as rejected records.
    """

    input_format: ClassVar[str] = "jsonl"
    #: An explicit schema (DDL string or StructType) saves Spark a schema-inference pass.
    schema: ClassVar["str | StructType | None"] = None
    #: Extra options for the built-in reader, e.g. ``{"sep": ";"}`` for CSV.
    read_options: ClassVar[dict[str, str]] = {}
    #: Format of the destination in MAPPER_ONLY mode.
    output_format: ClassVar[str] = "parquet"

    def setup(self, ctx: TaskContext) -> None:
        """Runs once per process for this class and params, before its first task there
        (a warm Lambda container keeps it): load a model here, not in :meth:`map`. The
        instance is then reused by later tasks, so keep per-task state on ``ctx``."""

    def read(self, spark: "SparkSession", paths: list[str], ctx: TaskContext) -> "DataFrame":
        return read_files(spark, paths, self.input_format, self.schema, self.read_options, names=ctx.inputs)

    def map(self, df: "DataFrame", ctx: TaskContext) -> "DataFrame":
        raise NotImplementedError("a Mapper must implement map(df, ctx)")


class ArrowMapper(Mapper):
    """A Mapper in plain Python over Arrow record batches (Spark's ``mapInArrow``).

    Implement :meth:`map_batch` and declare ``output_schema``. The instance is set up
    (:meth:`setup`) once in each of Spark's Python worker processes, which Spark keeps
    for later tasks, and never pickled: what ``setup`` loads stays in the worker. Inside
    ``map_batch``, ``ctx`` has the task's ``job_id``, ``task_id``, ``inputs``, ``params``
    and a logger; its ``counters`` are not collected (count in :meth:`map` instead).
    """

    #: The schema of what map_batch returns, as a DDL string: "path STRING, label STRING".
    output_schema: ClassVar[str] = ""

    @classmethod
    def definition_problem(cls) -> str | None:
        """Why this class cannot run as declared (checked when a manifest names it), or None."""
        if not (isinstance(cls.output_schema, str) and cls.output_schema.strip()):
            return (f"{cls.__module__}:{cls.__qualname__} is an ArrowMapper without an output_schema (a DDL "
                    f"string such as \"label STRING, score DOUBLE\")")
        return None

    def map(self, df: "DataFrame", ctx: TaskContext) -> "DataFrame":
        from .spark.arrow_batches import map_in_arrow

        return map_in_arrow(df, self, ctx)

    def map_batch(self, batch: "pyarrow.RecordBatch", ctx: TaskContext) -> "pyarrow.RecordBatch":
        raise NotImplementedError("an ArrowMapper must implement map_batch(batch, ctx)")


class Reducer:
    """Wide transforms (groupBy, joins, percentiles) over everything the mappers wrote.

    In REDUCER_ONLY mode there are no mappers: :meth:`read` reads the job's input files
    directly with ``input_format`` / ``schema``.
    """

    output_format: ClassVar[str] = "parquet"
    input_format: ClassVar[str] = "parquet"
    schema: ClassVar["str | StructType | None"] = None
    read_options: ClassVar[dict[str, str]] = {}
    # Columns of what reduce reads (the mapper's output, or combine's) whose hash decides
    # which of R reduce tasks gets a row ("reducers" > 1): reduce then runs per partition.
    partition_by: ClassVar[tuple[str, ...]] = ()
    # Map tasks write only the columns reduce reads (column pruning): a column it never
    # reads is not written, and what computes it (a validating UDF included) never runs.
    # Columns named here are written (and computed) all the same; ("*",) keeps them all.
    # `lmr validate` lists the columns pruning leaves out.
    keep_columns: ClassVar[tuple[str, ...]] = ()

    def setup(self, ctx: TaskContext) -> None:
        """Runs once per process for this class and params, before its first use there
        (:meth:`combine` in a map task, or :meth:`reduce`)."""

    def read(self, spark: "SparkSession", paths: list[str], ctx: TaskContext) -> "DataFrame":
        return read_files(spark, paths, self.input_format, self.schema, self.read_options, names=ctx.inputs)

    def combine(self, df: "DataFrame", ctx: TaskContext) -> "DataFrame":
        """Map-side pre-aggregation (a combiner), run by each map task on its mapper output.

        Override it for a decomposable aggregation (sums, counts, sketches) to write one
        partial row per group and task instead of every row; :meth:`reduce` then receives
        the union of the partials and must merge them. The default writes the rows as
        they are.
        """
        return df

    def reduce(self, df: "DataFrame", ctx: TaskContext) -> "DataFrame":
        raise NotImplementedError("a Reducer must implement reduce(df, ctx)")
