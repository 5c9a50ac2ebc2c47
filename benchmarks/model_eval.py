"""``python -m benchmarks.model_eval``: what the setup hook and Arrow batches save on a
model-evaluation job (the shape-detection example, jobs/detect.py).

(1) Setup once versus once per task: ``--tasks`` map tasks (one generated image each),
    with a model whose load takes ``--load-s`` seconds (the real weights, then a sleep
    standing in for a large model). ``setup-once`` loads it in ``setup``, once per Spark
    Python worker; ``per-task`` loads it in the first batch of every task, as code
    without a lifecycle hook must.
(2) ``ArrowMapper`` versus a row-at-a-time Python UDF: the same model over ``--images``
    images in ten tasks, the UDF getting one image's bytes per call; as a user writes it
    (``row-udf``), and over one partition per core as the ArrowMapper runs
    (``row-udf-1pc``), which isolates what Arrow batches themselves save.

Each variant is ``lmr run`` from process start; the outputs are checked to agree. Ends with
``setup_once_ratio=X arrow_vs_udf_ratio=Y arrow_vs_udf_1pc_ratio=Z`` (each: the first's
wall time over the second's).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

from engine import Mapper, fetch_file
from jobs.detect import DetectShapes, classify, decode, load_model, write_images

from .measure import ROOT, lmr_run, measure, positive_int

MODEL = ROOT / "manifests" / "data" / "detect" / "model.npz"


class SlowLoad(DetectShapes):
    """The detection mapper with a model that takes ``load_s`` seconds to load, in setup."""

    def setup(self, ctx):
        super().setup(ctx)
        time.sleep(float(ctx.params["load_s"]))


class LoadPerTask(DetectShapes):
    """The same model, loaded again in each task's first batch (no setup hook)."""

    def setup(self, ctx):
        self.task = None

    def map_batch(self, batch, ctx):
        if self.task != ctx.task_id:
            DetectShapes.setup(self, ctx)
            time.sleep(float(ctx.params["load_s"]))
            self.task = ctx.task_id
        return super().map_batch(batch, ctx)


class RowUdf(Mapper):
    """The same model as a row-at-a-time Python UDF over (path, content) rows."""

    input_format = "binary"
    coalesce = False

    def map(self, df, ctx):
        from pyspark.sql import functions as F

        model, threshold = load_model(fetch_file(ctx.params["model"])), float(ctx.params.get("threshold", 0.5))

        @F.udf("struct<label: string, score: double>")
        def detect(content):
            label, score = classify(decode(content), model, threshold)
            return label, score

        if self.coalesce:
            df = df.coalesce(df.sparkSession.sparkContext.defaultParallelism)
        found = detect("content")
        return df.select("path", found["label"].alias("label"), found["score"].alias("score"))


class RowUdfCoalesced(RowUdf):
    """The row UDF over one partition per core, as an ArrowMapper's batches are."""

    coalesce = True


def _run(name: str, mapper: str, images: Path, work: Path, params: dict, max_files: int) -> dict:
    manifest = work / f"{name}.json"
    manifest.write_text(json.dumps({
        "name": f"model-{name}", "mode": "MAPPER_ONLY", "mapper": mapper,
        "input": {"prefix": str(images), "glob": "*.npy"}, "output": {"path": str(work / f"out-{name}"),
                                                                     "format": "csv"},
        "task_max_files": max_files, "params": {"model": str(MODEL), **params}}))
    run = measure(name, lmr_run(manifest, work / "work"), env={"LMR_JOB_PACKAGES": "jobs,benchmarks"})
    status = json.loads(run.pop("stdout"))
    if status["state"] != "SUCCEEDED":
        raise SystemExit(f"{name}: {status['state']}: {status.get('reason')}")
    return {**run, "tasks": len(status["tasks"]), "rows": status["rows_out"],
            "labels": _labels(work / f"out-{name}")}


def _labels(folder: Path) -> list[tuple[str, str]]:
    """(path, label) of every output row, sorted."""
    rows = []
    for name in json.loads((folder / "_SUCCESS").read_text())["files"]:
        lines = (folder / name).read_text().splitlines()
        header = lines[0].split(",")
        for line in lines[1:]:
            values = dict(zip(header, line.split(",")))
            rows.append((values["path"], values["label"]))
    return sorted(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.model_eval", description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=positive_int, default=50, help="map tasks of (1), an image each")
    parser.add_argument("--load-s", type=float, default=1.0, help="model load time of (1), seconds")
    parser.add_argument("--images", type=positive_int, default=20_000, help="images of (2), in ten tasks")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="lmr-model-eval-"))
    try:
        few, many = work / "few", work / "many"
        write_images(str(few), args.tasks)
        write_images(str(many), args.images)
        load = {"load_s": args.load_s}
        runs = [_run("setup-once", "benchmarks.model_eval:SlowLoad", few, work, load, 1),
                _run("per-task", "benchmarks.model_eval:LoadPerTask", few, work, load, 1),
                _run("arrow", "jobs.detect:DetectShapes", many, work, {}, -(-args.images // 10)),
                _run("row-udf", "benchmarks.model_eval:RowUdf", many, work, {}, -(-args.images // 10)),
                _run("row-udf-1pc", "benchmarks.model_eval:RowUdfCoalesced", many, work, {}, -(-args.images // 10))]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"shape detection, {os.cpu_count()} cores; lmr run from process start")
    print(f"{'variant':<12} {'tasks':>6} {'images':>7} {'wall s':>8} {'peak MB':>8}")
    for r in runs:
        print(f"{r['name']:<12} {r['tasks']:>6} {r['rows']:>7,} {r['wall_s']:>8.2f} {r['peak_mb']:>8.0f}")
    agree = runs[0]["labels"] == runs[1]["labels"] and runs[2]["labels"] == runs[3]["labels"] == runs[4]["labels"]
    print(f"outputs agree: {'yes' if agree else 'NO'}")
    if not agree:
        raise SystemExit("the variants labelled the images differently")
    print(f"setup_once_ratio={runs[0]['wall_s'] / runs[1]['wall_s']:.2f} "
          f"arrow_vs_udf_ratio={runs[2]['wall_s'] / runs[3]['wall_s']:.2f} "
          f"arrow_vs_udf_1pc_ratio={runs[2]['wall_s'] / runs[4]['wall_s']:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
