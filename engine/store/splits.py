"""Splitting a large line-delimited file into byte ranges, one map task each.

A range ``[start, end)`` owns the lines that START inside it (Hadoop's LineRecordReader
rule): it skips the partial line it begins in, unless it starts at byte 0, and reads on
past ``end`` to the end of its last line. Every line therefore belongs to exactly one
range, whatever the cut: on a newline, inside a multi-byte UTF-8 character (a newline
byte never occurs inside one), before a ``\\r\\n``, or inside a line longer than a whole
range (whose range then owns nothing but that line's start). A range is staged as a
plain local file of the lines it owns, so Spark reads it like any other file; a CSV
range after the first gets the file's header line in front.

Only uncompressed jsonl, csv and text files split this way: a gzip stream cannot be
entered in the middle, and a whole-file JSON document is not line-delimited. Parquet files
split too, by row group (engine/store/row_groups.py); their compression is inside the file.
"""

from __future__ import annotations

from dataclasses import replace

LINE_FORMATS = ("jsonl", "csv", "text")
SPLITTABLE_FORMATS = (*LINE_FORMATS, "parquet")
_COMPRESSED = (".gz", ".bz2", ".zst", ".snappy", ".lz4", ".deflate", ".zip", ".xz")
_PROBE = 64 * 1024   # bytes read at a time while looking for the end of a line


# Encodings in which every byte 0x0A is a newline and nothing else (ASCII-compatible, one
# byte a character, or UTF-8): a range cut after a newline byte cuts between lines.
_NEWLINE_SAFE_ENCODINGS = {"utf-8", "utf8", "us-ascii", "ascii", "iso-8859-1", "latin1", "latin-1",
                           "iso-8859-15", "cp1252", "windows-1252"}


def csv_header(options: dict | None) -> bool:
    """Whether a CSV is read with a header line: the engine's reader default is yes."""
    return str((options or {}).get("header", "true")).strip().lower() == "true"


def split_blocker(fmt: str | None, options: dict | None) -> str | None:
    """Why files read with these reader options cannot be cut into line ranges (each is
    then read whole), or None. One rule for the planner, ``lmr validate`` and a task."""
    if fmt == "json":
        return "json is read as whole documents (a record may span lines; jsonl is a record a line)"
    if fmt not in LINE_FORMATS:
        return None
    opts = {str(k).lower(): str(v) for k, v in (options or {}).items()}
    if fmt == "text" and _true(opts.get("wholetext")):
        return "wholetext reads each file as one row"
    if fmt == "csv" and _true(opts.get("multiline")):
        return "multiLine: a quoted value may hold a newline, so a record may span lines"
    sep = opts.get("linesep")
    if sep is not None and sep not in ("\n", "\r\n"):
        return f"lineSep {sep!r}: ranges are cut after newlines, not after {sep!r}"
    encoding = (opts.get("encoding") or opts.get("charset") or "").strip().lower().replace("_", "-")
    if encoding and encoding not in _NEWLINE_SAFE_ENCODINGS:
        return f"encoding {encoding!r}: a newline byte may sit inside a character"
    return None


def _true(value: str | None) -> bool:
    return str(value).strip().lower() == "true"


def splittable(uri: str, fmt: str | None, options: dict | None = None) -> bool:
    if fmt == "parquet":
        return True
    return fmt in LINE_FORMATS and not uri.lower().endswith(_COMPRESSED) and split_blocker(fmt, options) is None


def split_file(f, split_bytes: int) -> list:
    """``f`` (an InputFile) as consecutive ranges of ``split_bytes``; itself if it fits."""
    if f.size <= split_bytes:
        return [f]
    return [replace(f, size=min(start + split_bytes, f.size) - start, start=start,
                    end=min(start + split_bytes, f.size), file_size=f.size)
            for start in range(0, f.size, split_bytes)]


def _line_end(storage, uri: str, pos: int, size: int) -> int:
    """The offset just past the first newline at or after ``pos`` (``size`` if none)."""
    while pos < size:
        chunk = storage.read_range(uri, pos, min(pos + _PROBE, size))
        found = chunk.find(b"\n")
        if found >= 0:
            return pos + found + 1
        pos += len(chunk)
        if not chunk:
            break
    return size


def owned_bytes(storage, uri: str, start: int, end: int, size: int) -> tuple[int, int]:
    """[first, last) bytes of the lines that start inside [start, end)."""
    first = 0 if start == 0 else _line_end(storage, uri, start - 1, size)
    last = size if end >= size else _line_end(storage, uri, end - 1, size)
    return first, max(first, last)


def stage_range(storage, f, local: str, header: bool) -> int:
    """Write the lines ``f``'s range owns to ``local`` (after the file's header line, for
    a CSV range that does not start the file). Returns the byte offset in the file where
    the staged lines begin."""
    first, last = owned_bytes(storage, f.uri, f.start, f.end, f.file_size)
    with open(local, "wb") as out:
        if header and f.start > 0:
            out.write(storage.read_range(f.uri, 0, _line_end(storage, f.uri, 0, f.file_size)))
        storage.copy_range(f.uri, first, last, out)
    return first
