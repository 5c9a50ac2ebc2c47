"""Which columns the reducer reads: map tasks write only those.

The reducer's query is planned (never run) over an empty Parquet folder read with the
schema the map task is about to write; the columns Spark's physical plan reads from it
are the ones the reducer uses. Whatever else the mapper produced is not written, not
uploaded and not read. If the plan cannot be worked out, every column is kept.
"""

from __future__ import annotations

import logging
import tempfile
import threading
from collections import Counter
from dataclasses import replace

from ..errors import UserCodeError
from ..job.layout import REDUCE_TASK

log = logging.getLogger(__name__)

_cache: dict[tuple[str, str], list[str] | None] = {}
_lock = threading.Lock()


def used_columns(spark, reducer, schema, ctx) -> list[str] | None:
    """Top-level columns of ``schema`` the reducer's query reads (in schema order), or None
    when all are needed or it cannot tell. Planned once per reducer class and schema."""
    key = (f"{type(reducer).__module__}.{type(reducer).__qualname__}", schema.json())
    with _lock:
        if key not in _cache:
            _cache[key] = _plan_columns(spark, reducer, schema, ctx)
        return _cache[key]


def _plan_columns(spark, reducer, schema, ctx) -> list[str] | None:
    # The user's reduce() runs here only to be planned: what it adds to counters must not
    # land in the map task's result.
    planning_ctx = replace(ctx, task_id=REDUCE_TASK, counters=Counter())
    try:
        with tempfile.TemporaryDirectory(prefix="lmr-prune-") as empty:
            query = reducer.reduce(spark.read.schema(schema).parquet(empty), planning_ctx)
            read = _scanned_columns(query)
    except Exception as exc:   # a reducer that cannot run on no rows, a plan we cannot read
        log.warning("could not work out the reducer's columns (%s); writing all of them", exc)
        return None
    if read is None:
        return None
    names = [f.name for f in schema.fields]
    used = [n for n in names if n in read] or names[:1]   # a count(*) still needs the rows
    return used if len(used) < len(names) else None


def _scanned_columns(query) -> set[str] | None:
    """Columns read by the file scans of ``query``'s physical plan (before adaptive
    execution); None if the plan has no file scan."""
    leaves = query._jdf.queryExecution().sparkPlan().collectLeaves()
    read: set[str] | None = None
    for i in range(leaves.size()):
        leaf = leaves.apply(i)
        if leaf.getClass().getSimpleName() == "FileSourceScanExec":
            read = (read or set()) | set(leaf.requiredSchema().fieldNames())
    return read


def written_columns(reducer, names: list[str], used: list[str] | None) -> list[str] | None:
    """The columns a map task writes: those the reducer reads (``used``; None: all), plus
    the Reducer's ``keep_columns`` (in schema order), or None for all of them."""
    keep = getattr(reducer, "keep_columns", ()) or ()
    keep = (keep,) if isinstance(keep, str) else tuple(keep)   # ("checked") is a string, not a tuple
    if "*" in keep:
        return None
    missing = [c for c in keep if c not in names]
    if missing:
        raise UserCodeError(f"Reducer.keep_columns names {', '.join(map(repr, missing))}, which the mapper does "
                            f"not return (its columns: {', '.join(names)})")
    if used is None:
        return None
    chosen = [n for n in names if n in used or n in keep]
    return chosen if len(chosen) < len(names) else None
