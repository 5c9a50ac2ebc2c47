"""``python -m benchmarks.task_overhead [--preset full]``: the engine's own cost per warm task.

One process, one warm SparkSession. For each crawl file, alternately: (a) the plain Spark
a careful user writes for one file: read with the schema, drop malformed records, the
same ``Mapper.map``, write Parquet; (b) ``engine.tasks.run_map_task`` on the same file:
staging, reject counting and their errors file, column pruning for the reducer, the
upload to the job folder and the commit marker. Both run once on every file before timing
(JIT warm). Prints median seconds per file and ends with ``task_overhead_ratio=<b / a>``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from .__main__ import generate


def plain_spark(spark, mapper, path: str, out_dir: str) -> None:
    from pyspark.sql import functions as F

    df = (spark.read.schema(f"{mapper.schema}, _corrupt_record STRING")
               .option("columnNameOfCorruptRecord", "_corrupt_record").json(path)
               .where(F.col("_corrupt_record").isNull()).drop("_corrupt_record"))
    mapper.map(df, None).write.mode("overwrite").parquet(out_dir)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.task_overhead", description=__doc__.splitlines()[0])
    parser.add_argument("--preset", choices=["quick", "full"], default="full")
    parser.add_argument("--rounds", type=int, default=2, help="timed passes over the files")
    args = parser.parse_args(argv)
    os.environ.setdefault("LMR_JVM_PROFILE", "throughput")   # a warm worker's profile

    from engine.planning import plan_job
    from engine.session import get_spark
    from engine.spec import load_manifest
    from engine.storage import Storage
    from engine.tasks import run_map_task
    from jobs.crawl import ExtractDocuments

    data = generate(args.preset)
    files = sorted(str(p) for p in data.glob("*.jsonl"))
    work = Path(tempfile.mkdtemp(prefix="lmr-overhead-"))
    manifest = work / "m.json"
    manifest.write_text(json.dumps({
        "name": "overhead", "mapper": "jobs.crawl:ExtractDocuments",
        "reducer": "jobs.crawl:P90ContentLengthByLanguage", "max_rejected_ratio": 0.5, "task_bytes": 1,
        "input": {"files": files}, "output": {"path": str(work / "out")}, "work_dir": str(work / "work")}))
    spec = load_manifest(str(manifest))
    tasks = plan_job(spec).tasks
    spark, storage, mapper = get_spark(), Storage(), ExtractDocuments()

    def engine_task(task) -> None:
        storage.delete_prefix(f"{spec.work_dir}/jobs/{spec.job_id}/")   # not a resume: run it again
        run_map_task(spec, task, storage)

    timings: dict[str, list[float]] = {"plain spark": [], "lmr task": []}
    for round_ in range(args.rounds + 1):          # round 0 warms the JIT, not timed
        for i, task in enumerate(tasks):
            runs = [("plain spark", lambda: plain_spark(spark, mapper, files[i], str(work / "plain"))),
                    ("lmr task", lambda: engine_task(task))]
            for name, fn in (runs if (i + round_) % 2 == 0 else runs[::-1]):
                started = time.perf_counter()
                fn()
                if round_:
                    timings[name].append(time.perf_counter() - started)
    shutil.rmtree(work, ignore_errors=True)
    mb = statistics.mean(os.path.getsize(f) for f in files) / 1e6
    plain, ours = (statistics.median(timings[k]) for k in ("plain spark", "lmr task"))
    print(f"{len(files)} files of {mb:.1f} MB, {args.rounds} timed round(s), median seconds per file:")
    print(f"  plain spark {plain:.3f} s ({mb / plain:.0f} MB/s)   lmr task {ours:.3f} s ({mb / ours:.0f} MB/s)")
    print(f"task_overhead_ratio={ours / plain:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
