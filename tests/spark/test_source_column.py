"""Each row's source file, as the manifest names it, for packed tasks and byte-range
splits alike (ctx.source_column(); Spark's input_file_name() names the staged copy)."""

from __future__ import annotations

import json

import pyarrow.parquet as pq

from tests.conftest import run_local


def test_every_row_knows_its_input_in_packed_and_split_tasks(spark, tmp_path):
    data = tmp_path / "in"
    data.mkdir()
    files = {"a.txt": [f"a line {i}" for i in range(3)], "b.txt": [f"b line {i}" for i in range(2)],
             "big.txt": [f"big line {i:03d}" for i in range(60)]}
    for name, lines in files.items():
        (data / name).write_text("".join(line + "\n" for line in lines))
    status, _, _ = run_local({"name": "sources", "mode": "MAPPER_ONLY", "mapper": "tests.testjobs:RowSources",
                              "split_bytes": 256, "task_bytes": 300,
                              "input": {"prefix": str(data), "glob": "*.txt"},
                              "output": {"path": str(tmp_path / "out"), "format": "parquet"}}, tmp_path)
    assert status.state == "SUCCEEDED"
    assert status.tasks_total >= 3                        # big.txt split; a.txt and b.txt packed
    marker = json.loads((tmp_path / "out" / "_SUCCESS").read_text())
    rows = [r for f in marker["files"] for r in pq.read_table(tmp_path / "out" / f).to_pylist()]
    expected = sorted((str(data / name), line) for name, lines in files.items() for line in lines)
    assert sorted((r["source"], r["value"]) for r in rows) == expected
