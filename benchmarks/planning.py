"""``python -m benchmarks.planning [--files 100000]``: plan a manifest of many files.

Makes ``--files`` small local files and a manifest listing them explicitly (the heaviest
form: every file is checked), then in a fresh process loads the manifest, plans the job
(stat every input, pack tasks) and writes job.json + tasks.json, as ``lmr run`` and the
coordinator do. Prints the time of that step, the process's peak memory and the same
for a bare interpreter (the baseline), and ends with ``planning_s=<x> planning_peak_mb=<y>``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _child(manifest: str) -> None:
    from engine.job.planning import plan_job, save_plan
    from engine.job.manifest import load_manifest
    from engine.store.storage import Storage

    started = time.perf_counter()
    spec = load_manifest(manifest)
    plan = plan_job(spec)
    save_plan(plan, Storage())
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "peak_mb": peak_mb, "tasks": len(plan.tasks),
                      "inputs": len(plan.inputs)}))


def _bare_peak_mb() -> float:
    code = "import resource; print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)"
    return float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                check=True).stdout)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.planning", description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=100_000)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="lmr-plan-") as tmp:
        folder = Path(tmp) / "in"
        folder.mkdir()
        names = [f"part-{i:06d}.jsonl" for i in range(args.files)]
        for name in names:
            (folder / name).write_bytes(b'{"url": "u", "language": "en", "content_length": 1}\n' * 4)
        manifest = Path(tmp) / "manifest.json"
        manifest.write_text(json.dumps({
            "name": "planning", "mapper": "jobs.crawl:ExtractDocuments",
            "reducer": "jobs.crawl:P90ContentLengthByLanguage",
            "input": {"files": [f"in/{n}" for n in names]}, "output": {"path": "out"},
            "work_dir": str(Path(tmp) / "work")}))
        done = subprocess.run([sys.executable, "-m", "benchmarks.planning", "--child", str(manifest)],
                              cwd=ROOT, capture_output=True, text=True,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
        if done.returncode != 0:
            raise SystemExit(done.stderr[-3000:])
        got = json.loads(done.stdout.strip().splitlines()[-1])
    bare = _bare_peak_mb()
    print(f"{got['inputs']:,} files listed explicitly -> {got['tasks']:,} tasks "
          f"(load manifest + stat + pack + write job.json/tasks.json)")
    print(f"time {got['seconds']:.2f} s, peak memory {got['peak_mb']:.0f} MB "
          f"(a bare interpreter: {bare:.0f} MB)")
    print(f"planning_s={got['seconds']:.2f} planning_peak_mb={got['peak_mb']:.0f}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        _child(sys.argv[2])
    else:
        sys.exit(main())
