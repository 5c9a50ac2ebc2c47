"""``python -m benchmarks.reducers``: one reducer versus R on an intermediate-heavy job:
the distinct (word, file) pairs of many text files, then how many files hold each word.
No combiner can shrink the pairs: the reducers read about as much as the mappers did.

(a) Locally, ``reducers`` 1 versus ``--reducers`` (4): ``lmr run`` from process start,
    runs alternating (``--repeat``, medians). Printed: wall time, the reduce phase (first
    reduce task start to last end), the intermediate MB and the most rows one reduce task
    read. The outputs must agree with each other and with plain Python.
(b) Projections on Lambda (10,240 MB: 5.8 vCPU, 10 GB of /tmp) for 100 GB of
    intermediate data, from the reduce rate measured in (a) with one reducer: R = 1 (it
    does not fit: why), and R = "auto" (one reduce task per GiB, at most 64).

Ends with ``reducers_wall_ratio=X`` (R reducers' wall time over one reducer's) and
``lambda_100gb_auto_s=Y``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import shutil
import statistics
import tempfile
from collections import defaultdict
from pathlib import Path

from pyspark.sql import functions as F

from engine import Mapper, Reducer

from .measure import lmr_run, measure, positive_int

WORD = r"[^a-z0-9']+"


class WordsPerFile(Mapper):
    """Distinct (word, file) pairs of a task's file."""

    input_format = "text"

    def map(self, df, ctx):
        words = F.explode(F.split(F.lower(F.col("value")), WORD)).alias("word")
        return df.select(words).where(F.col("word") != "").distinct().select("word", F.lit(ctx.inputs[0]).alias("file"))


class FilesPerWord(Reducer):
    """How many files hold each word: per key, so R reduce tasks may share the work."""

    output_format = "csv"
    partition_by = ("word",)

    def reduce(self, df, ctx):
        return df.groupBy("word").agg(F.countDistinct("file").alias("files"))


def write_inputs(folder: Path, files: int, mb: float, vocabulary: int, seed: int = 7) -> Path:
    """``files`` text files of about ``mb`` MB, words drawn uniformly from ``vocabulary``
    made-up words (most words are in many files: many distinct pairs)."""
    rng = random.Random(seed)
    words = [f"w{rng.getrandbits(40):x}" for _ in range(vocabulary)]
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(files):
        with open(folder / f"doc-{i:04d}.txt", "w") as out:
            size = 0
            while size < mb * 1e6:
                line = " ".join(rng.choices(words, k=12)) + "\n"
                out.write(line)
                size += len(line)
    return folder


def expected(folder: Path) -> dict[str, int]:
    """Files per word, in plain Python."""
    import re

    holders: dict[str, set] = defaultdict(set)
    for path in sorted(folder.glob("*.txt")):
        for word in set(re.split(WORD, path.read_text().lower())) - {""}:
            holders[word].add(path.name)
    return {w: len(f) for w, f in holders.items()}


def _run(reducers: int, inputs: Path, work: Path) -> dict:
    name = f"r{reducers}"
    out = work / f"out-{name}"
    manifest = work / f"{name}.json"
    manifest.write_text(json.dumps({
        "name": f"pairs-{name}", "mapper": "benchmarks.reducers:WordsPerFile",
        "reducer": "benchmarks.reducers:FilesPerWord", "reducers": reducers, "task_bytes": 1,
        "input": {"prefix": str(inputs), "glob": "*.txt"}, "output": {"path": str(out)}}))
    run = measure(name, lmr_run(manifest, work / "work"), env={"LMR_JOB_PACKAGES": "jobs,benchmarks"})
    status = json.loads(run.pop("stdout"))
    if status["state"] != "SUCCEEDED":
        raise SystemExit(f"{name}: {status['state']}: {status.get('reason')}")
    reduces = status["partitions"] or [status["reduce"]]
    start = min(r["started_at"] for r in reduces)
    end = max(r["started_at"] + r["duration_ms"] / 1000 for r in reduces)
    return {**run, "reducers": reducers, "reduce_s": end - start,
            "intermediate_mb": sum(t["bytes_out"] for t in status["tasks"]) / 1e6,
            "max_rows": max(r["rows_in"] for r in reduces), "rows": status["reduce"]["rows_in"],
            "output": _output(out)}


def _output(folder: Path) -> dict[str, int]:
    got: dict[str, int] = {}
    for name in json.loads((folder / "_SUCCESS").read_text())["files"]:
        lines = (folder / name).read_text().splitlines()
        for line in lines[1:] if lines and lines[0].startswith("word") else lines:
            word, files = line.rsplit(",", 1)
            if word in got:
                raise SystemExit(f"{word!r} is in two reduce tasks' output")
            got[word] = int(files)
    return got


def projections(one: dict) -> list[str]:
    """(b): the reduce rate per vCPU measured with one reducer, on 10,240 MB Lambdas."""
    from engine.job.partitions import AUTO_BUCKETS, REDUCER_BUDGET_BYTES
    from engine.job.planning import STAGE_SHARE

    from .cost_model import LAMBDA_GB_S, LAMBDA_MAX_S, Assumptions

    cores = os.cpu_count() or 1
    rate = one["intermediate_mb"] / max(1e-9, one["reduce_s"]) / cores          # MB/s per vCPU
    memory, vcpu, cold = 10_240, 10_240 / 1769, Assumptions().cold_s
    total_mb = 100_000
    lines = [f"(b) 100 GB of intermediate data on Lambda ({memory:,} MB: {vcpu:.1f} vCPU, 10 GB /tmp); "
             f"measured {rate:.1f} MB/s per vCPU in one reducer, cold start {cold} s"]
    one_s = cold + total_mb / (rate * vcpu)
    lines.append(f"  reducers 1: does not fit: it stages {total_mb:,} MB on a /tmp of {memory:,} MB (about "
                 f"{memory * STAGE_SHARE:,.0f} MB usable), and would need {one_s:,.0f} s "
                 f"{'>' if one_s > LAMBDA_MAX_S else '<='} Lambda's {LAMBDA_MAX_S} s")
    r = min(AUTO_BUCKETS, math.ceil(total_mb * 1e6 / REDUCER_BUDGET_BYTES))
    each = total_mb / r
    task_s = cold + each / (rate * vcpu)
    cost = r * task_s * memory / 1024 * LAMBDA_GB_S
    fits = each <= memory * STAGE_SHARE and task_s <= LAMBDA_MAX_S
    lines.append(f"  reducers auto: R = {r} ({'capped at the ' + str(AUTO_BUCKETS) + ' buckets' if r == AUTO_BUCKETS else 'one per GiB'}), "
                 f"{each:,.0f} MB each, all at once: {task_s:,.0f} s, ${cost:.2f}"
                 f"{'' if fits else ' (does NOT fit a Lambda: raise R)'}")
    return lines + [f"lambda_100gb_auto_s={task_s:.0f}"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.reducers", description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=positive_int, default=24, help="input files (one map task each)")
    parser.add_argument("--mb", type=float, default=4.0, help="MB per input file")
    parser.add_argument("--vocabulary", type=positive_int, default=400_000, help="distinct words to draw from")
    parser.add_argument("--reducers", type=positive_int, default=4, help="R to compare with one reducer")
    parser.add_argument("--repeat", type=positive_int, default=1, help="runs of each, alternating")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="lmr-reducers-"))
    try:
        inputs = write_inputs(work / "in", args.files, args.mb, args.vocabulary)
        truth = expected(inputs)
        runs: dict[int, list[dict]] = {1: [], args.reducers: []}
        for _ in range(args.repeat):
            for r in runs:
                runs[r].append(_run(r, inputs, work))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for r, done in runs.items():
        if any(d["output"] != truth for d in done):
            raise SystemExit(f"reducers {r}: the output differs from plain Python's")
    med = {r: {k: statistics.median(d[k] for d in done) for k in ("wall_s", "reduce_s", "peak_mb")} | done[0]
           for r, done in runs.items()}
    print(f"(a) distinct (word, file) pairs of {args.files} files of {args.mb:g} MB, {os.cpu_count()} cores; "
          f"lmr run from process start (median of {args.repeat})")
    print(f"{'reducers':>8} {'wall s':>8} {'reduce s':>9} {'peak MB':>8} {'interm. MB':>11} {'pairs':>10} "
          f"{'max rows/task':>14}")
    for r, m in med.items():
        print(f"{r:>8} {m['wall_s']:>8.2f} {m['reduce_s']:>9.2f} {m['peak_mb']:>8.0f} {m['intermediate_mb']:>11.1f} "
              f"{m['rows']:>10,} {m['max_rows']:>14,}")
    print(f"outputs agree with plain Python: yes ({len(truth):,} words)")
    lines = projections(med[1])
    print("\n".join(lines[:-1]))
    print(f"reducers_wall_ratio={med[args.reducers]['wall_s'] / med[1]['wall_s']:.2f} {lines[-1]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
