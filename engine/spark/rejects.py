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
                    offsets: list[int | None] | None = None, header: bool = False,
                    limit: int = MAX_RECORDS) -> list[dict]:
    """Up to ``limit`` rejected records as ``{input, line, reason, record}`` dicts. For a
    split of a large file (``offsets[i]``: where its staged lines begin in the file) the
    line number in the whole file is not known: such a record has ``offset``, the byte
    offset of its line in the file, and ``line`` None."""
    offsets = offsets or [None] * len(local_paths)
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
        lines = _positions(local_paths[index], raws) if index >= 0 else {}
        uri = input_uris[index] if index >= 0 else "?"
        base = offsets[index] if index >= 0 else None
        skip = _header_bytes(local_paths[index]) if base is not None and header else 0
        for raw in raws:
            positions = lines.get(raw, [])
            line, at = positions.pop(0) if positions else (None, None)
            record = {"input": uri, "line": line if base is None else None}
            if base is not None:
                record["offset"] = base + at - skip if at is not None else None
            out.append({**record, "reason": _reason(raw, fmt), "record": raw[:MAX_RECORD_CHARS]})
    return out


def _header_bytes(path: str) -> int:
    with open(path, "rb") as fh:
        return len(fh.readline())


def _file_index(spark_path: str, local_paths: list[str]) -> int:
    name = os.path.basename(spark_path)
    for i, path in enumerate(local_paths):
        if os.path.basename(path) == name:
            return i
    return -1


def _positions(path: str, raws: list[str]) -> dict[str, list[tuple[int, int]]]:
    """raw record -> [(line number, byte offset of the line)] in the staged file."""
    opener = gzip.open if path.endswith(".gz") else open
    found: dict[str, list[tuple[int, int]]] = {}
    missing = Counter(raws)
    at = 0
    with opener(path, "rb") as fh:
        for number, data in enumerate(fh, start=1):
            line, start, at = data.decode("utf-8", "replace").rstrip("\r\n"), at, at + len(data)
            if missing.get(line, 0) > 0:
                found.setdefault(line, []).append((number, start))
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
        if raw.count('"') % 2:
            return ("an unbalanced quote: a quoted value holding a newline is read only with "
                    "input.options.multiLine: true (the file is then read whole)")
        return "wrong number of fields, or a value that does not fit the declared schema"
    return "malformed record"
