"""``python -m benchmarks.small_files``: many small inputs must not cost a task each.

The same total bytes of crawl data as 40 files x 1 MB and as 2,000 files x 20 KB, each
run by ``lmr run`` from process start (default packing: ``task_bytes`` 64 MiB,
``task_max_files`` 1000). Prints both times, the tasks each was cut into, and ends with
``small_files_ratio=<2,000 x 20 KB time / 40 x 1 MB time>`` (target: at most 3).
``--unpacked`` adds the 2,000 files at one task each (``task_bytes`` 1), for comparison.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

from .measure import crawl_data, crawl_manifest, lmr_run, measure

SHAPES = {"40 x 1 MB": (40, 1.0), "2,000 x 20 KB": (2000, 0.02)}


def _run(name: str, data: Path, work: Path, **fields) -> dict:
    stem = f"{len(list(data.iterdir()))}-{fields.get('task_bytes', 'packed')}"
    manifest = crawl_manifest(work / f"{stem}.json", "small-files", {"prefix": str(data), "glob": "*.jsonl"},
                              work / f"out-{stem}", **fields)
    run = measure(name, lmr_run(manifest, work / "work"))
    status = json.loads(run.pop("stdout"))
    if status["state"] != "SUCCEEDED":
        raise SystemExit(f"{name}: {status['state']}: {status.get('reason')}")
    return {**run, "tasks": len(status["tasks"]), "documents": status["rows_out"],
            "mb": sum(f.stat().st_size for f in data.iterdir()) / 1e6}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.small_files", description=__doc__.splitlines()[0])
    parser.add_argument("--unpacked", action="store_true", help="also run the small files one task each")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="lmr-small-"))
    data = {name: crawl_data(*shape) for name, shape in SHAPES.items()}
    runs = [_run(name, folder, work) for name, folder in data.items()]
    if args.unpacked:
        runs.append(_run("2,000 unpacked", data["2,000 x 20 KB"], work, task_bytes=1))
    shutil.rmtree(work, ignore_errors=True)
    print(f"\n{'':<16} {'MB':>6} {'tasks':>6} {'wall s':>8} {'documents':>10}")
    for r in runs:
        print(f"{r['name']:<16} {r['mb']:>6.1f} {r['tasks']:>6} {r['wall_s']:>8.2f} {r['documents']:>10,}")
    print(f"small_files_ratio={runs[1]['wall_s'] / runs[0]['wall_s']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
