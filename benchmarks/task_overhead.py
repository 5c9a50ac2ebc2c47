"""``python -m benchmarks.task_overhead [--preset full]``: the engine's own cost per warm task.

One process, one warm SparkSession. For each crawl file, alternately: (a) the plain Spark
a careful user writes for one file: read with the schema, drop malformed records, the
same ``Mapper.map``, write Parquet; (b) ``engine.task.map.run_map_task`` on the same file:
staging, reject counting and their errors file, column pruning for the reducer, the
upload to the job folder and the commit marker. Both run once on every file before timing
(JIT warm). Measured twice: on the generated files (about 2% malformed records, on
purpose: the task also samples them, with line numbers, into its errors file) and on
clean copies (the malformed lines removed). Prints median seconds per file and ends with
``task_overhead_ratio=<b / a, clean> with_rejects=<b / a, generated>``.
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
from .measure import crawl_manifest, positive_int


def plain_spark(spark, mapper, path: str, out_dir: str) -> None:
    from pyspark.sql import functions as F

    df = (spark.read.schema(f"{mapper.schema}, _corrupt_record STRING")
               .option("columnNameOfCorruptRecord", "_corrupt_record").json(path)
               .where(F.col("_corrupt_record").isNull()).drop("_corrupt_record"))
    mapper.map(df, None).write.mode("overwrite").parquet(out_dir)


def clean_copy(data: Path) -> Path:
    """The files without the lines the crawl job rejects (not JSON, or content_length not an int)."""
    clean = data.with_name(data.name + "-clean")
    if len(list(clean.glob("*.jsonl"))) != len(list(data.glob("*.jsonl"))):
        clean.mkdir(exist_ok=True)
        for path in data.glob("*.jsonl"):
            with open(path, encoding="utf-8") as src, open(clean / path.name, "w", encoding="utf-8") as dst:
                for line in src:
                    try:
                        length = json.loads(line).get("content_length")
                    except json.JSONDecodeError:
                        continue
                    if length is None or (isinstance(length, int) and not isinstance(length, bool)):
                        dst.write(line)
    return clean


def measure_tasks(spark, storage, mapper, files: list[str], work: Path, rounds: int) -> tuple[float, float]:
    """Median seconds per file: (plain spark, lmr task)."""
    from engine.job.layout import JobLayout
    from engine.job.planning import plan_job
    from engine.job.manifest import load_manifest
    from engine.task.map import run_map_task

    manifest = crawl_manifest(work / "m.json", "overhead", {"files": files}, work / "out",
                              task_bytes=1, work_dir=str(work / "work"))
    spec = load_manifest(str(manifest))
    timings: dict[str, list[float]] = {"plain spark": [], "lmr task": []}
    for round_ in range(rounds + 1):          # round 0 warms the JIT, not timed
        for i, task in enumerate(plan_job(spec).tasks):
            job_dir = JobLayout(spec.work_dir, spec.job_id).job_dir
            storage.delete_prefix(job_dir, owner=job_dir)   # not a resume: the task runs again
            runs = [("plain spark", lambda: plain_spark(spark, mapper, files[i], str(work / "plain"))),
                    ("lmr task", lambda: run_map_task(spec, task, storage))]
            for name, fn in (runs if (i + round_) % 2 == 0 else runs[::-1]):
                started = time.perf_counter()
                fn()
                if round_:
                    timings[name].append(time.perf_counter() - started)
    return statistics.median(timings["plain spark"]), statistics.median(timings["lmr task"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.task_overhead", description=__doc__.splitlines()[0])
    parser.add_argument("--preset", choices=["quick", "full"], default="full")
    parser.add_argument("--rounds", type=positive_int, default=2, help="timed passes over the files")
    args = parser.parse_args(argv)
    os.environ.setdefault("LMR_JVM_PROFILE", "throughput")   # a warm worker's profile

    from engine.spark.session import get_spark
    from engine.store.storage import Storage
    from jobs.crawl import ExtractDocuments

    data = generate(args.preset)
    spark, storage, mapper = get_spark(), Storage(), ExtractDocuments()
    ratios = {}
    for label, folder in (("generated (2% malformed)", data), ("clean copies", clean_copy(data))):
        files = sorted(str(p) for p in folder.glob("*.jsonl"))
        work = Path(tempfile.mkdtemp(prefix="lmr-overhead-"))
        plain, ours = measure_tasks(spark, storage, mapper, files, work, args.rounds)
        shutil.rmtree(work, ignore_errors=True)
        mb = statistics.mean(os.path.getsize(f) for f in files) / 1e6
        print(f"{label}: {len(files)} files of {mb:.1f} MB, median per file over {args.rounds} round(s): "
              f"plain spark {plain:.3f} s ({mb / plain:.0f} MB/s), lmr task {ours:.3f} s ({mb / ours:.0f} MB/s)")
        ratios[label] = ours / plain
    print(f"task_overhead_ratio={ratios['clean copies']:.3f} with_rejects={ratios['generated (2% malformed)']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
