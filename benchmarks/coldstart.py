"""``python -m benchmarks.coldstart``: a mapper's cold start, default PySpark vs ours.

Each variant runs one small crawl file in a fresh process (a cold container), and is timed
from just before the process is started to (a) the user's ``Mapper.map`` being entered
and (b) the task's output being written:

- ``default pyspark``: what a user writes without us: ``SparkSession.builder.getOrCreate()``
  with default settings, read, the same mapper, write Parquet.
- ``lmr, no archive``: the mapper Lambda's handler (real event, real task function), our
  session settings and JVM profile, no class archive (``LMR_CDS=off``).
- ``lmr + AppCDS``: the same with the class archive, as the image ships it
  (``LMR_CDS_ARCHIVE``); built here once into the local cache if missing.
- ``lmr + AppCDS, spark-submit``: the same, the JVM started by pyspark's spark-submit
  (``LMR_SPARK_LAUNCH=submit``) instead of directly while the task stages its input.

Prints medians and ends with ``coldstart_ratio=<lmr + AppCDS / default pyspark, to user code>``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .measure import crawl_manifest, positive_int
from .stamps import STAMPS_ENV

ROOT = Path(__file__).resolve().parent.parent
RECORDS = 500   # about 0.5 MB: one small file per cold container


def _child_pyspark(path: str, out_dir: str) -> None:
    from pyspark.sql import SparkSession

    from benchmarks.probe import ProbeDocuments
    from benchmarks.stamps import stamp

    spark = SparkSession.builder.getOrCreate()
    df = spark.read.schema(ProbeDocuments.schema).json(path)
    ProbeDocuments().map(df, None).write.mode("overwrite").parquet(out_dir)
    stamp("done")


def _child_lmr(event_path: str) -> None:
    from benchmarks.stamps import (
        stamp,  # not the probe mapper: the task imports it, as on Lambda
    )
    from lambdas import mapper
    from tests.lambda_context import LambdaContext

    event = json.loads(Path(event_path).read_text())
    result = mapper.handler(event, LambdaContext("mapper", 3008,
                                                 "arn:aws:lambda:us-east-1:123456789012:function:mapper"))
    assert result["status"] == "SUCCEEDED", result
    stamp("done")


def _plan(work: Path, data: Path) -> Path:
    """A planned one-file job and the mapper event the state machine would send for it."""
    from engine.job.planning import plan_job, save_plan
    from engine.job.manifest import load_manifest
    from engine.store.storage import Storage

    manifest = crawl_manifest(work / "manifest.json", "coldstart", {"files": [str(data)]}, work / "out",
                              mapper="benchmarks.probe:ProbeDocuments", work_dir=str(work / "work"))
    spec = load_manifest(str(manifest))
    plan = plan_job(spec)
    save_plan(plan, Storage())
    [task] = plan.tasks
    from engine.job.layout import JobLayout

    event = {"job_id": spec.job_id, "job": JobLayout(spec.work_dir, spec.job_id).job_json,
             "task_id": task.task_id, "inputs": [f.to_dict() for f in task.inputs]}
    path = work / "event.json"
    path.write_text(json.dumps(event))
    return path


def _run(cmd: list[str], env: dict[str, str], stamps: Path, jobs: Path) -> dict[str, float]:
    stamps.unlink(missing_ok=True)
    for folder in jobs.glob("*/intermediate"):   # else the task finds its commit marker and skips
        shutil.rmtree(folder)
    started = time.time()
    done = subprocess.run(cmd, cwd=ROOT, env={**os.environ, **env, STAMPS_ENV: str(stamps)},
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    marks = dict(line.split() for line in stamps.read_text().splitlines())
    return {mark: float(at) - started for mark, at in marks.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.coldstart", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=positive_int, default=3, help="cold starts per variant (median reported)")
    args = parser.parse_args(argv)

    from infra import cds_build
    from jobs.datagen import write_crawl

    os.environ["LMR_JOB_PACKAGES"] = "jobs,benchmarks"   # the probe mapper lives here
    archive = cds_build.ensure_cached()
    if archive is None:
        raise SystemExit("no java found: set JAVA_HOME or put java on PATH")
    work = Path(tempfile.mkdtemp(prefix="lmr-coldstart-"))
    [data] = write_crawl(str(work / "in"), files=1, records=RECORDS)
    event = _plan(work, Path(data))
    me = [sys.executable, "-m", "benchmarks.coldstart"]
    base = {"PYTHONPATH": str(ROOT), "SPARK_LOCAL_IP": "127.0.0.1"}
    for key in ("LMR_JVM_PROFILE", "LMR_CDS", "LMR_CDS_ARCHIVE", "LMR_SPARK_CORES", "LMR_DRIVER_MEMORY",
                "LMR_SPARK_LAUNCH"):
        os.environ.pop(key, None)   # each variant's settings are its own
    variants = [
        ("default pyspark", me + ["--child-pyspark", data, str(work / "pyspark-out")], {}),
        ("lmr, no archive", me + ["--child-lmr", str(event)], {"LMR_CDS": "off"}),
        ("lmr + AppCDS", me + ["--child-lmr", str(event)], {"LMR_CDS_ARCHIVE": archive}),
        ("lmr + AppCDS, spark-submit", me + ["--child-lmr", str(event)],
         {"LMR_CDS_ARCHIVE": archive, "LMR_SPARK_LAUNCH": "submit"}),
    ]
    print(f"one {os.path.getsize(data) / 1e6:.2f} MB crawl file per cold process, {os.cpu_count()} cores, "
          f"{args.runs} run(s) per variant")
    runs: dict[str, list[dict[str, float]]] = {name: [] for name, _, _ in variants}
    for _ in range(args.runs):   # round-robin: a slow spell of the machine hits every variant
        for name, cmd, env in variants:
            runs[name].append(_run(cmd, {**base, **env}, work / "stamps", work / "work" / "jobs"))
    medians = {name: {m: statistics.median(r[m] for r in rs) for m in ("user_code", "done")}
               for name, rs in runs.items()}
    default = medians["default pyspark"]["user_code"]
    print(f"\n{'':<27} {'to user code s':>15} {'to task done s':>15} {'vs default':>11}")
    for name, m in medians.items():
        print(f"{name:<27} {m['user_code']:>15.2f} {m['done']:>15.2f} {m['user_code'] / default:>11.2f}")
    print(f"coldstart_ratio={medians['lmr + AppCDS']['user_code'] / default:.2f}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child-pyspark":
        _child_pyspark(*sys.argv[2:4])
    elif len(sys.argv) > 1 and sys.argv[1] == "--child-lmr":
        _child_lmr(sys.argv[2])
    else:
        sys.exit(main())
