"""``python -m benchmarks --preset quick|full``: lmr vs a hand-written PySpark job vs DuckDB.

Same deterministic crawl workload, same cores, each timed from process start (startup
included, as a user experiences it). Prints wall time, MB/s, peak memory (largest
process), the ratios, whether the three agree (documents per language), and ends with
one machine-readable line: ``ratio_vs_spark=<x> ratio_vs_limit=<y>``.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from .measure import ROOT, crawl_manifest, lmr_run, measure

PRESETS = {"quick": {"files": 4, "mb": 2.0}, "full": {"files": 8, "mb": 50.0}}


def generate(preset: str) -> Path:
    spec = PRESETS[preset]
    data = ROOT / "benchmarks" / "data" / f"crawl-{preset}"
    if len(list(data.glob("*.jsonl"))) != spec["files"]:
        shutil.rmtree(data, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "jobs.datagen", "crawl", str(data), "--files",
                        str(spec["files"]), "--mb", str(spec["mb"])], check=True, cwd=ROOT)
    return data


def documents_by_language(paths: list[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for path in paths:
        for line in open(path):
            if line.strip():
                row = json.loads(line)
                out[row["language"]] = out.get(row["language"], 0) + row["documents"]
    return out


def _lmr(data: Path, work: Path, reducer: str, workers: int | None) -> tuple[list[str], Path]:
    out = work / f"lmr-out-{reducer.rsplit(':', 1)[1]}"
    manifest = crawl_manifest(work / f"{out.name}.json", "bench-crawl",
                              {"prefix": str(data), "glob": "*.jsonl"}, out, reducer=reducer)
    flags = ["--workers", str(workers)] if workers is not None else []
    return lmr_run(manifest, work / "work", *flags), out


def _published(out: Path) -> list[str]:
    return [str(out / n) for n in json.loads((out / "_SUCCESS").read_text())["files"]]


def _intermediate(run: dict) -> tuple[int, int]:
    """(rows, bytes) the map tasks wrote for the reducer, from ``lmr run --json``'s status."""
    tasks = json.loads(run["stdout"])["tasks"]
    return sum(t["rows_written"] for t in tasks), sum(t["bytes_out"] for t in tasks)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--preset", choices=sorted(PRESETS), default="quick")
    parser.add_argument("--workers", type=int, default=None, help="lmr worker processes (default: lmr's)")
    args = parser.parse_args(argv)

    from infra import cds_build

    cds_build.ensure_cached()   # as on a user's second run: the class archive exists
    data = generate(args.preset)
    mb = sum(f.stat().st_size for f in data.glob("*.jsonl")) / 1e6
    work = Path(tempfile.mkdtemp(prefix="lmr-bench-"))
    lmr_cmd, lmr_out = _lmr(data, work, "jobs.crawl:P90ContentLengthByLanguage", args.workers)
    combiner_cmd, combiner_out = _lmr(data, work, "jobs.crawl:P90ContentLengthSketch", args.workers)
    print(f"workload: {len(list(data.glob('*.jsonl')))} crawl files, {mb:.1f} MB, {os.cpu_count()} cores")

    runs = [
        measure("lmr run", lmr_cmd),
        measure("pyspark job", [sys.executable, "-m", "benchmarks.spark_baseline", str(data), str(work / "spark-out")]),
        measure("duckdb", [sys.executable, "-m", "benchmarks.limit_reference", str(data), str(work / "duck.jsonl")]),
        measure("lmr combiner", combiner_cmd),
    ]
    results = {
        "lmr run": documents_by_language(_published(lmr_out)),
        "pyspark job": documents_by_language(glob.glob(str(work / "spark-out" / "part-*"))),
        "duckdb": documents_by_language([str(work / "duck.jsonl")]),
        "lmr combiner": documents_by_language(_published(combiner_out)),
    }
    print(f"\n{'':<13} {'wall s':>8} {'MB/s':>8} {'peak MB':>9}")
    for run in runs:
        print(f"{run['name']:<13} {run['wall_s']:>8.2f} {mb / run['wall_s']:>8.1f} {run['peak_mb']:>9.0f}")
    agree = len({json.dumps(r, sort_keys=True) for r in results.values()}) == 1
    print(f"\nresults agree (documents per language, {sum(results['lmr run'].values()):,} documents): "
          f"{'yes' if agree else 'NO'}")
    if not agree:
        for name, counts in results.items():
            print(f"  {name}: {counts}")
    (rows, size), (partial_rows, partial_size) = _intermediate(runs[0]), _intermediate(runs[3])
    print(f"intermediate data: {rows:,} rows, {size / 1e6:.2f} MB with column pruning "
          f"({size / (mb * 1e6):.1%} of the input); {partial_rows:,} rows, {partial_size / 1e3:.1f} KB "
          f"with the combiner ({size / max(partial_size, 1):.0f}x smaller)")
    shutil.rmtree(work, ignore_errors=True)
    lmr_s, spark_s, limit_s = (r["wall_s"] for r in runs[:3])
    print(f"ratio_vs_spark={lmr_s / spark_s:.2f} ratio_vs_limit={lmr_s / limit_s:.2f}")
    return 0 if agree else 1


if __name__ == "__main__":
    sys.exit(main())
