"""What a manifest's ``spark_conf`` may set, and how it joins the engine's own settings.

A manifest is untrusted: whoever can upload to the bucket writes it. Spark settings can
start code (``spark.plugins``, ``spark.sql.extensions``, listener and committer
classes), add JVM flags (``-javaagent``, ``-XX:OnOutOfMemoryError``), fetch jars, pick
the Python executable or the master. So ``spark_conf`` takes an allow-list of tuning
keys, each value a plain word or number, and nothing else. An operator may allow more
keys through ``LMR_SPARK_CONF_ALLOW`` (an environment variable of the deployment, which a
manifest cannot set). Importable without pyspark.
"""

from __future__ import annotations

import os
import re

from ..store.locations import quote

ALLOW_ENV = "LMR_SPARK_CONF_ALLOW"   # comma-separated extra keys, set by the operator

# Tuning only: SQL and shuffle sizes, adaptive execution, time zone, memory fractions,
# compression by codec *name*. No key here takes a class name, a path, a URL or a flag.
ALLOWED_KEYS = frozenset({
    "spark.default.parallelism",
    "spark.sql.shuffle.partitions",
    "spark.sql.adaptive.enabled",
    "spark.sql.adaptive.coalescePartitions.enabled",
    "spark.sql.adaptive.advisoryPartitionSizeInBytes",
    "spark.sql.adaptive.skewJoin.enabled",
    "spark.sql.autoBroadcastJoinThreshold",
    "spark.sql.broadcastTimeout",
    "spark.sql.files.maxPartitionBytes",
    "spark.sql.files.openCostInBytes",
    "spark.sql.files.maxRecordsPerFile",
    "spark.sql.session.timeZone",
    "spark.sql.caseSensitive",
    "spark.sql.ansi.enabled",
    "spark.sql.legacy.timeParserPolicy",
    "spark.sql.mapKeyDedupPolicy",
    "spark.sql.parquet.compression.codec",
    "spark.sql.parquet.enableVectorizedReader",
    "spark.sql.parquet.columnarReaderBatchSize",
    "spark.sql.jsonGenerator.ignoreNullFields",
    "spark.sql.codegen.wholeStage",
    "spark.sql.execution.arrow.pyspark.enabled",
    "spark.sql.execution.arrow.maxRecordsPerBatch",
    "spark.sql.inMemoryColumnarStorage.batchSize",
    "spark.sql.inMemoryColumnarStorage.compressed",
    "spark.memory.fraction",
    "spark.memory.storageFraction",
    "spark.shuffle.compress",
    "spark.shuffle.spill.compress",
    "spark.rdd.compress",
})
# The engine's JVM flags live in this key; an operator-allowed value is added before them,
# so that the engine's flags (which come later on the command line) win.
JVM_OPTIONS_KEY = "spark.driver.extraJavaOptions"
# A time zone (Europe/Paris), a size (64m), a number, a boolean, a codec name.
_VALUE = re.compile(r"[A-Za-z0-9_.:/+-]{1,128}\Z")


def allowed_keys() -> frozenset[str]:
    extra = os.environ.get(ALLOW_ENV, "")
    return ALLOWED_KEYS | {k.strip() for k in extra.split(",") if k.strip()}


def problem(key: str, value: str) -> str | None:
    """Why a manifest may not set ``key`` to ``value``, or None."""
    if key not in allowed_keys():
        return (f"{quote(key)} is not an allowed Spark setting: spark_conf takes tuning keys only "
                f"(SQL, shuffle, adaptive execution, time zone, memory fractions); an operator "
                f"can allow more with {ALLOW_ENV}")
    if key not in ALLOWED_KEYS:   # allowed by the operator: the value is theirs to judge
        return None
    if not _VALUE.match(value):
        return f"{quote(value)} is not a plain value (letters, digits and . _ : / + - only)"
    return None


def merged(engine: dict[str, str], job: dict[str, str]) -> dict[str, str]:
    """The engine's settings with a job's allowed ones on top; JVM flags are added to the
    engine's, never put in their place."""
    out = {**engine, **job}
    if JVM_OPTIONS_KEY in job and JVM_OPTIONS_KEY in engine:
        out[JVM_OPTIONS_KEY] = f"{job[JVM_OPTIONS_KEY]} {engine[JVM_OPTIONS_KEY]}"
    return out
