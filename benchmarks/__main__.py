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
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PRESETS = {"quick": {"files": 4, "mb": 2.0}, "full": {"files": 8, "mb": 50.0}}



def _tree_rss_mb(root_pid: int) -> float:
    """Resident memory of a process and all its descendants (Linux /proc), in MB."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    total, stack = 0, [root_pid]
    while stack:
        pid = stack.pop()
        stack.extend(children.get(pid, []))
        try:
            with open(f"/proc/{pid}/statm") as f:
                total += int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except OSError:
            pass
    return total / 1e6


def generate(preset: str) -> Path:
    spec = PRESETS[preset]
    data = ROOT / "benchmarks" / "data" / f"crawl-{preset}"
    if len(list(data.glob("*.jsonl"))) != spec["files"]:
        shutil.rmtree(data, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "jobs.datagen", "crawl", str(data), "--files",
                        str(spec["files"]), "--mb", str(spec["mb"])], check=True, cwd=ROOT)
    return data


def measure(name: str, cmd: list[str], env: dict[str, str] | None = None) -> dict:
    """Wall time from process start to exit, and the peak memory of its whole process tree
    (sampled every 0.1 s: the JVMs and worker processes included)."""
    started = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **(env or {})})
    peak = [0.0]

    def sample() -> None:
        while proc.poll() is None:
            peak[0] = max(peak[0], _tree_rss_mb(proc.pid))
            time.sleep(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = proc.communicate()
    wall = time.monotonic() - started
    sampler.join()
    if proc.returncode != 0:
        raise SystemExit(f"{name} failed ({proc.returncode}):\n{out[-3000:]}\n{err[-3000:]}")
    return {"name": name, "wall_s": wall, "peak_mb": peak[0]}


def documents_by_language(paths: list[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for path in paths:
        for line in open(path):
            if line.strip():
                row = json.loads(line)
                out[row["language"]] = out.get(row["language"], 0) + row["documents"]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--preset", choices=sorted(PRESETS), default="quick")
    parser.add_argument("--workers", type=int, default=None, help="lmr worker processes (default: lmr's)")
    args = parser.parse_args(argv)

    data = generate(args.preset)
    mb = sum(f.stat().st_size for f in data.glob("*.jsonl")) / 1e6
    work = Path(tempfile.mkdtemp(prefix="lmr-bench-"))
    manifest = work / "manifest.json"
    manifest.write_text(json.dumps({
        "name": "bench-crawl", "mapper": "jobs.crawl:ExtractDocuments",
        "reducer": "jobs.crawl:P90ContentLengthByLanguage", "max_rejected_ratio": 0.5,
        "input": {"prefix": str(data), "glob": "*.jsonl"}, "output": {"path": str(work / "lmr-out")}}))
    lmr_cmd = [sys.executable, "-m", "engine.cli", "run", str(manifest), "--fresh", "--json",
               "--work-dir", str(work / "work")]
    if args.workers is not None:
        lmr_cmd += ["--workers", str(args.workers)]
    print(f"workload: {len(list(data.glob('*.jsonl')))} crawl files, {mb:.1f} MB, {os.cpu_count()} cores")

    runs = [
        measure("lmr run", lmr_cmd, {"LMR_JVM_PROFILE": "throughput"}),
        measure("pyspark job", [sys.executable, "-m", "benchmarks.spark_baseline", str(data), str(work / "spark-out")]),
        measure("duckdb", [sys.executable, "-m", "benchmarks.limit_reference", str(data), str(work / "duck.jsonl")]),
    ]
    results = {
        "lmr run": documents_by_language([str(work / "lmr-out" / n) for n in
                                          json.loads((work / "lmr-out" / "_SUCCESS").read_text())["files"]]),
        "pyspark job": documents_by_language(glob.glob(str(work / "spark-out" / "part-*"))),
        "duckdb": documents_by_language([str(work / "duck.jsonl")]),
    }
    print(f"\n{'':<12} {'wall s':>8} {'MB/s':>8} {'peak MB':>9}")
    for run in runs:
        print(f"{run['name']:<12} {run['wall_s']:>8.2f} {mb / run['wall_s']:>8.1f} {run['peak_mb']:>9.0f}")
    agree = results["lmr run"] == results["pyspark job"] == results["duckdb"]
    print(f"\nresults agree (documents per language, {sum(results['lmr run'].values()):,} documents): "
          f"{'yes' if agree else 'NO'}")
    if not agree:
        for name, counts in results.items():
            print(f"  {name}: {counts}")
    shutil.rmtree(work, ignore_errors=True)
    lmr_s, spark_s, limit_s = (r["wall_s"] for r in runs)
    print(f"ratio_vs_spark={lmr_s / spark_s:.2f} ratio_vs_limit={lmr_s / limit_s:.2f}")
    return 0 if agree else 1


if __name__ == "__main__":
    sys.exit(main())
