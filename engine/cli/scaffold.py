"""``lmr init NAME``: a new job's files, which run and pass their test out of the box."""

from __future__ import annotations

import json
import os
import re

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,40}$")

JOB = '''"""{name}: one line per input record in, counts per key out. Edit map() and reduce()."""

from pyspark.sql import functions as F

from engine import Mapper, Reducer


class {cls}Mapper(Mapper):
    """Runs once per input file (a map task), on that file alone: narrow transforms only
    (select, filter, withColumn). ``ctx`` has job_id, task_id, input_path, logger, counters."""

    input_format = "jsonl"
    # An explicit schema skips inference (1-3 s per file) and sends rows that do not fit
    # it to jobs/<id>/errors/ instead of failing the task.
    schema = "key STRING, value BIGINT"
    output_format = "parquet"

    def map(self, df, ctx):
        ctx.logger.info("mapping %s", ctx.input_path)
        return df.where(F.col("key").isNotNull()).select("key", "value")


class {cls}Reducer(Reducer):
    """Runs once over every map task's output: wide transforms (groupBy, join, window)."""

    output_format = "csv"

    def reduce(self, df, ctx):
        return df.groupBy("key").agg(F.sum("value").alias("total")).orderBy("key")
'''

TEST = '''"""{name}: runs the job on its sample and checks it against plain Python."""

import csv
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_{name}_matches_plain_python(tmp_path):
    sample = ROOT / "manifests" / "data" / "{name}" / "sample.jsonl"
    expected = Counter()
    for line in sample.read_text().splitlines():
        record = json.loads(line)
        if record.get("key") is not None:
            expected[record["key"]] += record["value"]
    manifest = json.loads((ROOT / "manifests" / "{name}.json").read_text())
    manifest["input"] = {{"files": [str(sample)]}}
    manifest["output"] = {{"path": str(tmp_path / "out")}}
    (tmp_path / "m.json").write_text(json.dumps(manifest))
    done = subprocess.run([sys.executable, "-m", "engine.cli.main", "run", str(tmp_path / "m.json"),
                           "--workers", "0", "--work-dir", str(tmp_path / "work")],
                          cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    marker = json.loads((tmp_path / "out" / "_SUCCESS").read_text())
    got = {{}}
    for name in marker["files"]:
        with open(tmp_path / "out" / name) as f:
            got.update({{row["key"]: int(row["total"]) for row in csv.DictReader(f)}})
    assert got == dict(expected)
'''


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


def scaffold(name: str, root: str = ".") -> list[str]:
    """Write the job's four files under ``root``; refuses to overwrite any."""
    if not _NAME.match(name):
        raise ValueError(f"job name {name!r}: use lowercase letters, digits and '_', starting with a letter")
    cls = _camel(name)
    sample = [{"key": k, "value": v} for k, v in
              [("apples", 3), ("pears", 2), ("apples", 4), ("plums", 1), ("pears", 5)]]
    manifest = {"name": name.replace("_", "-"), "mapper": f"jobs.{name}:{cls}Mapper",
                "reducer": f"jobs.{name}:{cls}Reducer",
                "input": {"prefix": f"data/{name}/", "glob": "*.jsonl"},
                "output": {"path": f"../out/{name}"}}
    files = {
        os.path.join("jobs", f"{name}.py"): JOB.format(name=name, cls=cls),
        os.path.join("manifests", f"{name}.json"): json.dumps(manifest, indent=2) + "\n",
        os.path.join("manifests", "data", name, "sample.jsonl"): "".join(json.dumps(r) + "\n" for r in sample),
        os.path.join("tests", f"test_{name}.py"): TEST.format(name=name),
    }
    existing = [p for p in files if os.path.exists(os.path.join(root, p))]
    if existing:
        raise ValueError(f"lmr init {name}: would overwrite {', '.join(existing)}")
    init = os.path.join(root, "jobs", "__init__.py")
    if not os.path.exists(init):
        files[os.path.join("jobs", "__init__.py")] = ""
    for rel, text in files.items():
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "x", encoding="utf-8") as f:
            f.write(text)
    return sorted(os.path.join(root, p) for p in files)
