"""Every reader option either works with splitting or turns splitting off for that input.

Each case is a small real file read by a MAPPER_ONLY job twice, split into 64-byte ranges
and whole, and both outputs must equal the same file read by plain Python or pandas with
the same option."""

from __future__ import annotations

import io
import json

import pandas as pd
import pyarrow.parquet as pq
import pytest

from engine.store.splits import split_blocker, splittable
from tests.conftest import run_local

CSV = "id,name\n" + "".join(f"{i},name {i}\n" for i in range(40))
CSV_SEMI = "id;name\n" + "".join(f"{i};n{i}\n" for i in range(40))
CSV_NO_HEADER = "".join(f"{i},name {i}\n" for i in range(40))
TEXT = "".join(f"line {i} of the text\n" for i in range(30))
TEXT_SEMI = ";".join(f"record {i}" for i in range(30))
JSONL = "".join(json.dumps({"id": i, "name": f"é{i}"}) + "\n" for i in range(30))
# Quoted values holding newlines (and a comma): one record over two or three lines.
CSV_QUOTED = "id,name\n" + "".join(f'{i},"first {i}\nsecond, {i}"\n' if i % 3 == 0 else f"{i},plain {i}\n"
                                    for i in range(30))
# Whole JSON documents: an array of objects over many lines, pretty-printed.
JSON_DOC = json.dumps([{"id": i, "name": f"n{i}"} for i in range(20)], indent=2)


def csv_rows(text, **kw):
    df = pd.read_csv(io.StringIO(text), **kw)
    return sorted((int(a), str(b)) for a, b in df.itertuples(index=False))


CASES = {
    # name: (format, bytes, schema, options, rows as plain Python reads them)
    "csv, header by default": ("csv", CSV.encode(), "id INT, name STRING", {}, csv_rows(CSV)),
    "csv, header set": ("csv", CSV.encode(), "id INT, name STRING", {"header": "true"}, csv_rows(CSV)),
    "csv, no header": ("csv", CSV_NO_HEADER.encode(), "id INT, name STRING", {"header": "false"},
                       csv_rows(CSV_NO_HEADER, header=None)),
    "csv, sep": ("csv", CSV_SEMI.encode(), "id INT, name STRING", {"sep": ";"}, csv_rows(CSV_SEMI, sep=";")),
    "text": ("text", TEXT.encode(), None, {}, sorted((line,) for line in TEXT.splitlines())),
    "text, lineSep": ("text", TEXT_SEMI.encode(), None, {"lineSep": ";"},
                      sorted((r,) for r in TEXT_SEMI.split(";"))),
    "text, wholetext": ("text", TEXT.encode(), None, {"wholetext": "true"}, [(TEXT,)]),
    "jsonl": ("jsonl", JSONL.encode(), "id INT, name STRING", {},
              sorted((r["id"], r["name"]) for r in map(json.loads, JSONL.splitlines()))),
    "csv, multiLine, quoted newlines": ("csv", CSV_QUOTED.encode(), "id INT, name STRING", {"multiLine": "true"},
                                        csv_rows(CSV_QUOTED)),
    "json, multi-line documents": ("json", JSON_DOC.encode(), "id INT, name STRING", {},
                                   sorted((r["id"], r["name"]) for r in json.loads(JSON_DOC))),
    "jsonl, latin-1": ("jsonl", JSONL.encode("latin-1"), "id INT, name STRING", {"encoding": "ISO-8859-1", "lineSep": "\n"},
                       sorted((r["id"], r["name"]) for r in map(json.loads, JSONL.splitlines()))),
}


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("split", [True, False])
def test_a_reader_option_reads_the_same_rows_split_or_whole(spark, tmp_path, case, split):
    fmt, data, schema, options, expected = CASES[case]
    path = tmp_path / f"input.{ 'txt' if fmt == 'text' else fmt}"
    path.write_bytes(data)
    manifest = {"name": "options", "mode": "MAPPER_ONLY", "mapper": "tests.testjobs:PassThrough",
                "input": {"files": [str(path)], "format": fmt, "options": options,
                          **({"schema": schema} if schema else {})},
                "output": {"path": str(tmp_path / "out"), "format": "parquet"},
                **({"split_bytes": 64, "task_bytes": 64} if split else {})}
    status, _, _ = run_local(manifest, tmp_path)
    assert status.state == "SUCCEEDED", status.reason
    assert status.tasks_total == (-(-len(data) // 64) if split and splittable(str(path), fmt, options) else 1)
    files = json.loads((tmp_path / "out" / "_SUCCESS").read_text())["files"]
    rows = sorted(tuple(r.values()) for f in files for r in pq.read_table(tmp_path / "out" / f).to_pylist())
    assert rows == expected


def test_options_that_splitting_cannot_honour_are_named():
    assert split_blocker("text", {"wholetext": "true"}) == "wholetext reads each file as one row"
    assert "lineSep" in split_blocker("csv", {"lineSep": "|"})
    assert "UTF-16" in split_blocker("jsonl", {"encoding": "UTF-16"}).upper()
    assert split_blocker("jsonl", {"encoding": "utf-8", "lineSep": "\n"}) is None
    assert split_blocker("parquet", {"lineSep": "|"}) is None
    assert "multiLine" in split_blocker("csv", {"multiLine": "True"})
    assert split_blocker("csv", {"multiLine": "false"}) is None
    assert "whole documents" in split_blocker("json", {})


@pytest.mark.parametrize("split", [True, False])
def test_quoted_newlines_without_multiline_are_rejected_naming_the_option(spark, tmp_path, split):
    """Without multiLine, Spark reads a line at a time: a record cut by a quoted newline
    is rejected, split or whole alike, and the reason says which option reads it."""
    path = tmp_path / "input.csv"
    path.write_text(CSV_QUOTED)
    manifest = {"name": "quoted", "mode": "MAPPER_ONLY", "mapper": "tests.testjobs:PassThrough",
                "input": {"files": [str(path)], "format": "csv", "schema": "id INT, name STRING"},
                "output": {"path": str(tmp_path / "out"), "format": "parquet"},
                **({"split_bytes": 64, "task_bytes": 64} if split else {})}
    status, _, _ = run_local(manifest, tmp_path)
    assert status.state == "FAILED" and status.failed
    assert all("input.options.multiLine: true" in f.error for f in status.failed)
    assert not (tmp_path / "out").exists()
