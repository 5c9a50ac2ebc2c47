"""``python -m benchmarks.cache``: a job that changes only its reduce side, with ``"cache": true``.

The crawl job over 16 files x 4 MB (one map task each) runs three times with ``lmr run``
from process start, in one work dir: (1) the first job, JSON output; (2) the same inputs
and Mapper writing CSV, cache on: its map tasks come from job 1; (3) that job again
without the cache, as the baseline. Prints the three times, how many map tasks each
reused, checks that (2) and (3) wrote the same records, and ends with
``cache_rerun_ratio=<(2) / (3)>`` (lower is better: the share of a full run that a
reduce-side change costs).
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path

from .measure import crawl_data, crawl_manifest, lmr_run, measure, positive_int


def _run(name: str, data: Path, work: Path, output_format: str, cache: bool) -> dict:
    manifest = crawl_manifest(work / f"{name}.json", f"cache-{name}", {"prefix": str(data), "glob": "*.jsonl"},
                              work / f"out-{name}", cache=cache, task_bytes=1)
    fields = json.loads(manifest.read_text())
    fields["output"]["format"] = output_format
    manifest.write_text(json.dumps(fields))
    # --fresh only clears the job's own folder: job 1's tasks stay for job 2 to reuse.
    run = measure(name, lmr_run(manifest, work / "work"))
    status = json.loads(run.pop("stdout"))
    if status["state"] != "SUCCEEDED":
        raise SystemExit(f"{name}: {status['state']}: {status.get('reason')}")
    return {**run, "tasks": len(status["tasks"]), "cached": status["tasks_cached"],
            "documents": status["rows_out"]}


def _output(folder: Path) -> list[str]:
    """The output's records, in a stable order."""
    return sorted(line for f in folder.iterdir() if not f.name.startswith(("_", "."))
                  for line in f.read_text().splitlines())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.cache", description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=positive_int, default=16, help="input files (one map task each)")
    args = parser.parse_args(argv)
    data = crawl_data(args.files, 4.0)
    work = Path(tempfile.mkdtemp(prefix="lmr-cache-"))
    runs = [_run("first", data, work, "json", cache=True),
            _run("reduce-changed", data, work, "csv", cache=True),
            _run("uncached", data, work, "csv", cache=False)]
    agree = _output(work / "out-reduce-changed") == _output(work / "out-uncached")
    shutil.rmtree(work, ignore_errors=True)
    print(f"\n{'':<16} {'tasks':>6} {'cached':>7} {'wall s':>8} {'documents':>10}")
    for r in runs:
        print(f"{r['name']:<16} {r['tasks']:>6} {r['cached']:>7} {r['wall_s']:>8.2f} {r['documents']:>10,}")
    print(f"cached and uncached outputs agree: {'yes' if agree else 'NO'}")
    if not agree:
        return 1
    print(f"cache_rerun_ratio={runs[1]['wall_s'] / runs[2]['wall_s']:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
