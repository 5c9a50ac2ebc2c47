"""Rejected records: where each malformed record came from, and why.

Spark keeps a malformed record's raw text in ``_corrupt_record`` but not its position,
so (only when a task has rejects) the first ``MAX_RECORDS`` are fetched again and the
staged file is scanned up to the last of them for their line numbers. Both passes stop
early: their cost is the rows up to the last sample, not the file.
"""

from __future__ import annotations

import gzip
import json
import os
from collections import Counter

from .readers import CORRUPT_COLUMN

MAX_RECORDS = 100        # rejects written per task (the first ones); the count stays exact
MAX_RECORD_CHARS = 1000  # raw text kept per reject


def collect_rejects(df, local_paths: list[str], input_uris: list[str], fmt: str,
                    limit: int = MAX_RECORDS) -> list[dict]:
    """Up to ``limit`` rejected records as ``{input, line, reason, record}`` dicts."""
    from pyspark.sql import functions as F

    # Every column, as in the task's counting pass: Spark flags a value that does not fit
    # the schema only in columns it parses (and refuses a query of the corrupt column alone).
    others = [c for c in df.columns if c != CORRUPT_COLUMN]
    rows = (df.filter(F.col(CORRUPT_COLUMN).isNotNull())
              .select(F.col(CORRUPT_COLUMN).alias("raw"), F.input_file_name().alias("file"), *others)
              .limit(limit).collect())
    by_file: dict[int, list[str]] = {}
    for row in rows:
        by_file.setdefault(_file_index(row["file"], local_paths), []).append(row["raw"])
    out = []
    for index, raws in by_file.items():
        lines = _line_numbers(local_paths[index], raws) if index >= 0 else {}
        uri = input_uris[index] if index >= 0 else "?"
        for raw in raws:
            positions = lines.get(raw, [])
            out.append({"input": uri, "line": positions.pop(0) if positions else None,
                        "reason": _reason(raw, fmt), "record": raw[:MAX_RECORD_CHARS]})
    return out


def _file_index(spark_path: str, local_paths: list[str]) -> int:
    name = os.path.basename(spark_path)
    for i, path in enumerate(local_paths):
        if os.path.basename(path) == name:
            return i
    return -1


def _line_numbers(path: str, raws: list[str]) -> dict[str, list[int]]:
    opener = gzip.open if path.endswith(".gz") else open
    found: dict[str, list[int]] = {}
    missing = Counter(raws)
    with opener(path, "rt", encoding="utf-8", errors="replace") as fh:
        for number, line in enumerate(fh, start=1):
            line = line.rstrip("\r\n")
            if missing.get(line, 0) > 0:
                found.setdefault(line, []).append(number)
                missing[line] -= 1
                if missing.total() == 0:   # the samples are the file's first rejects: stop
                    break
    return found


def _reason(raw: str, fmt: str) -> str:
    if fmt in ("jsonl", "json"):
        try:
            json.loads(raw)
        except json.JSONDecodeError as exc:
            return f"invalid JSON: {exc.msg} (column {exc.colno})"
        return "a value does not fit the declared schema"
    if fmt == "csv":
        return "wrong number of fields, or a value that does not fit the declared schema"
    return "malformed record"
