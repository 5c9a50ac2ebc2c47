"""Map-side hash buckets for R > 1 reducers (engine/job/partitions.py owns the rules)."""

from __future__ import annotations

from ..errors import UserCodeError
from ..job.layout import BUCKET_COLUMN


def with_buckets(df, columns: tuple[str, ...], buckets: int, reducer: str | None):
    """``df`` with its hash bucket, ``pmod(hash(columns), buckets)``: Spark's Murmur3, the
    same in every task and process. Repartitioned by it, so a task writes one file per bucket."""
    from pyspark.sql import functions as F

    if not columns:
        raise UserCodeError(f"{reducer} declares no partition_by, which more than one reducer needs")
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise UserCodeError(f"{reducer}.partition_by names {', '.join(map(repr, missing))}, not a column of "
                            f"what the reducer reads ({', '.join(df.columns)})")
    bucket = F.pmod(F.hash(*[F.col(f"`{c}`") for c in columns]), F.lit(buckets))
    return df.withColumn(BUCKET_COLUMN, bucket).repartition(BUCKET_COLUMN)
