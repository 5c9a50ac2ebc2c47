"""Built-in readers: local files in, Spark DataFrame out.

Malformed records do not fail a read: text formats read in PERMISSIVE mode and keep
the raw record in ``_corrupt_record``, which the task function counts and diverts.
Gzip (``.gz``) inputs are decompressed by Spark from the file name.
"""

from __future__ import annotations

import os

from ..job.formats import INPUT_FORMATS
from ..store.splits import csv_header

# A column a reader may add: rows where it is not null are rejected records.
CORRUPT_COLUMN = "_corrupt_record"


def with_corrupt_column(schema):
    """The schema plus the corrupt-record column (DDL string or StructType)."""
    if schema is None:
        return None
    if isinstance(schema, str):
        if CORRUPT_COLUMN in schema:
            return schema
        return f"{schema.rstrip().rstrip(',')}, {CORRUPT_COLUMN} STRING"
    from pyspark.sql.types import StringType, StructField, StructType

    if CORRUPT_COLUMN in schema.fieldNames():
        return schema
    return StructType([*schema.fields, StructField(CORRUPT_COLUMN, StringType(), True)])


def observe_rejects(df, observation):
    """(df observed for ``rows``/``bad`` counts, the same rows without rejected records).

    Spark's JSON/CSV readers parse only the columns a query uses, so a bad value in an
    unused column would slip through. The contract is "every record fits the declared
    schema": the metric references every column, so each record is parsed in full.
    """
    from pyspark.sql import functions as F

    columns = df.columns
    if CORRUPT_COLUMN not in columns:
        return df.observe(observation, F.expr("count(1) AS rows"), F.expr("0 AS bad")), None
    # A metric of its own that reads every column's value (the optimizer folds away
    # anything weaker, such as a struct's count): rows with at least one null field.
    # Built as SQL text: one call into the JVM instead of several per column (a warm
    # task's fixed cost is mostly such calls).
    any_null = " OR ".join(f"{_quoted(c)} IS NULL" for c in columns if c != CORRUPT_COLUMN) or "false"
    seen = df.observe(observation, F.expr("count(1) AS rows"),
                      F.expr(f"count({_quoted(CORRUPT_COLUMN)}) AS bad"),
                      F.expr(f"count_if({any_null}) AS with_nulls"))
    return seen, CORRUPT_COLUMN


def _quoted(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def without_rejects(df, corrupt: str | None):
    return df.where(f"{_quoted(corrupt)} IS NULL").drop(corrupt) if corrupt else df


def spark_paths(paths: list[str]) -> list[str]:
    """What to hand Spark for reading ``paths``: their folder when they are exactly its
    files (a staged task's inputs are), else the paths. Spark resolves each path it is
    given on its own: 2,000 paths took 7-9 s, their folder 1 s (measured)."""
    if len(paths) < 2:
        return paths
    folder = os.path.dirname(paths[0])
    if any(os.path.dirname(p) != folder for p in paths):
        return paths
    names = {os.path.basename(p) for p in paths}
    if len(names) != len(paths) or any(n.startswith(("_", ".")) for n in names):
        return paths   # Spark skips such names in a folder
    try:
        return [folder] if set(os.listdir(folder)) == names else paths
    except OSError:
        return paths


def read_files(spark, paths: list[str], fmt: str, schema=None, options: dict | None = None,
               names: list[str] | None = None):
    """Read local ``paths`` of one format into one DataFrame. ``binary`` gives a row
    ``(path, content)`` per file, ``path`` being the file's name in ``names`` (the task's
    inputs as the manifest gives them, in the order of ``paths``) where given."""
    if fmt not in INPUT_FORMATS:
        raise ValueError(f"unknown input format {fmt!r} (one of {', '.join(INPUT_FORMATS)})")
    options = dict(options or {})
    staged, paths = paths, spark_paths(paths)
    reader = spark.read
    if fmt in ("jsonl", "json"):
        reader = reader.options(**{**options, "mode": "PERMISSIVE", "columnNameOfCorruptRecord": CORRUPT_COLUMN,
                                   "multiLine": str(fmt == "json").lower()})
        if schema is not None:
            reader = reader.schema(with_corrupt_column(schema))
        return reader.json(paths)
    if fmt == "csv":
        # header: the engine's default is a header line (splits.csv_header), a manifest may say no.
        reader = reader.options(**{**options, "header": str(csv_header(options)).lower(), "mode": "PERMISSIVE",
                                   "columnNameOfCorruptRecord": CORRUPT_COLUMN})
        if schema is not None:
            reader = reader.schema(with_corrupt_column(schema))
        else:
            reader = reader.option("inferSchema", "true")
        return reader.csv(paths)
    if fmt == "parquet":
        reader = reader.options(**options)
        if schema is not None:
            reader = reader.schema(schema)
        return reader.parquet(*paths)
    if fmt == "text":
        # text() passes its own wholetext and lineSep, over any set as options: hand them to it.
        lowered = {k.lower(): k for k in options}
        wholetext = str(options.pop(lowered["wholetext"], "false")).strip().lower() == "true" \
            if "wholetext" in lowered else False
        line_sep = options.pop(lowered["linesep"]) if "linesep" in lowered else None
        return reader.options(**options).text(paths, wholetext=wholetext, lineSep=line_sep)
    return _binary(reader.format("binaryFile").options(**options).load(paths), staged, names)


def _binary(df, paths: list[str], names: list[str] | None):
    from pyspark.sql import functions as F

    path = F.col("path")
    if names and len(names) == len(paths):   # staged file name -> the input it stands for
        by_name = F.create_map(*[F.lit(x) for p, n in zip(paths, names) for x in (p.rsplit("/", 1)[-1], n)])
        path = F.coalesce(by_name[F.regexp_extract("path", r"([^/]+)$", 1)], path)
    return df.select(path.alias("path"), "content")


def write_frame(df, local_dir: str, fmt: str, partition_by: str | None = None) -> None:
    """Write a DataFrame as a folder of part files (overwriting ``local_dir``), or with
    ``partition_by`` as one folder per value of that column (``<column>=<value>/``)."""
    writer = df.write.mode("overwrite")
    if partition_by:
        writer = writer.partitionBy(partition_by)
    if fmt == "parquet":
        writer.parquet(local_dir)
    elif fmt == "json":
        writer.json(local_dir)
    elif fmt == "csv":
        writer.option("header", "true").csv(local_dir)
    else:
        raise ValueError(f"unknown output format {fmt!r}")
