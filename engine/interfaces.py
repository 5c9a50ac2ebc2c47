"""What a user implements: a ``Mapper`` and a ``Reducer``.

Importable without pyspark (type hints only), so the coordinator can check that a
manifest's classes exist without the 491 MB pyspark install.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

from .spark.readers import read_files

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.types import StructType


@dataclass
class TaskContext:
    """What user code may know about the task it runs in.

    ``counters`` is a plain :class:`collections.Counter`; whatever the user adds ends up
    in the task's result and the job's status.
    """

    job_id: str
    task_id: str
    inputs: list[str]
    logger: logging.LoggerAdapter
    counters: Counter = field(default_factory=Counter)

    @property
    def input_path(self) -> str:
        """The first (usually the only) input of this task, as named in the manifest."""
        return self.inputs[0] if self.inputs else ""


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

    def read(self, spark: "SparkSession", paths: list[str], ctx: TaskContext) -> "DataFrame":
        return read_files(spark, paths, self.input_format, self.schema, self.read_options)

    def map(self, df: "DataFrame", ctx: TaskContext) -> "DataFrame":
        raise NotImplementedError("a Mapper must implement map(df, ctx)")


class Reducer:
    """Wide transforms (groupBy, joins, percentiles) over everything the mappers wrote.

    In REDUCER_ONLY mode there are no mappers: :meth:`read` reads the job's input files
    directly with ``input_format`` / ``schema``.
    """

    output_format: ClassVar[str] = "parquet"
    input_format: ClassVar[str] = "parquet"
    schema: ClassVar["str | StructType | None"] = None
    read_options: ClassVar[dict[str, str]] = {}

    def read(self, spark: "SparkSession", paths: list[str], ctx: TaskContext) -> "DataFrame":
        return read_files(spark, paths, self.input_format, self.schema, self.read_options)

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
