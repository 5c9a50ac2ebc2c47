"""Independent computations of what the example jobs should produce.

Plain Python over the raw files: no Spark and no engine code, so a test comparing the
engine with these can fail when the engine is wrong.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter, defaultdict
from pathlib import Path


def crawl_rejects(paths: list[Path]) -> list[tuple[str, int]]:
    """(file, line number) of every record the crawl job must reject."""
    return [(str(path), n) for path in paths
            for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1)
            if line.strip() and _crawl_record(line) is None]


def _crawl_record(line: str) -> dict | None:
    """The parsed record, or None when it is not JSON or does not fit the schema."""
    try:
        rec = json.loads(line)
    except json.JSONDecodeError:
        return None
    length = rec.get("content_length")
    if length is not None and (not isinstance(length, int) or isinstance(length, bool)):
        return None            # does not fit BIGINT
    return rec


def crawl_records(paths: list[Path]):
    """(kept documents [(language, length)], rows_in, rejected) per the crawl job's rules."""
    kept, rows_in, rejected = [], 0, 0
    for path in paths:
        for line in Path(path).read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            rows_in += 1
            rec = _crawl_record(line)
            if rec is None:
                rejected += 1
                continue
            length = rec.get("content_length")
            language = (rec.get("language") or "").strip(" ").lower()
            if length is None and rec.get("text") is not None:
                length = len(rec["text"])
            if rec.get("url") is None or not language or length is None or length < 0:
                continue
            kept.append((language, length))
    return kept, rows_in, rejected


def p90_by_language(kept):
    """language -> (documents, sorted lengths)."""
    groups = defaultdict(list)
    for language, length in kept:
        groups[language].append(length)
    return {lang: (len(v), sorted(v)) for lang, v in groups.items()}


def percentile_bounds(sorted_values: list[int], p: float, rank_error: float) -> tuple[int, int]:
    """The range percentile_approx may return at relative rank error ``rank_error``."""
    n = len(sorted_values)
    lo = max(0, math.ceil((p - rank_error) * n) - 1)
    hi = min(n - 1, math.ceil((p + rank_error) * n) - 1)
    return sorted_values[lo], sorted_values[hi]


def word_counts(paths: list[Path]) -> Counter:
    counts: Counter = Counter()
    for path in paths:
        for line in Path(path).read_text(encoding="utf-8").splitlines():
            counts.update(w for w in re.split(r"[^a-z0-9']+", line.lower()) if w)
    return counts
