"""``python -m benchmarks.validate_many [--files 1000000]``: ``lmr validate`` of a
manifest whose ``input.list`` names that many local files (every one checked: its place
against the allowed locations, its existence and size), from process start, with the
process's peak memory. Ends with ``validate_s=<x> validate_peak_mb=<y>``; the target is
60 s and 2 GB for a million inputs."""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.measure import measure, positive_int

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.validate_many", description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=positive_int, default=1_000_000)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="lmr-validate-") as tmp:
        data = Path(tmp) / "in"
        started = time.monotonic()
        names = []
        for i in range(args.files):
            folder = data / f"d{i // 10_000:04d}"   # 10,000 files a folder
            if i % 10_000 == 0:
                folder.mkdir(parents=True)
            name = f"{folder.name}/part-{i:07d}.jsonl"
            os.close(os.open(data / name, os.O_CREAT | os.O_WRONLY, 0o644))
            names.append(name)
        (data / "inputs.txt").write_text("\n".join(names) + "\n")
        made = time.monotonic() - started
        manifest = Path(tmp) / "manifest.json"
        manifest.write_text(json.dumps({
            "name": "validate-many", "mapper": "jobs.crawl:ExtractDocuments",
            "reducer": "jobs.crawl:P90ContentLengthByLanguage",
            "input": {"list": str(data / "inputs.txt")}, "output": {"path": str(Path(tmp) / "out")},
            "work_dir": str(Path(tmp) / "work")}))
        got = measure("lmr validate", [sys.executable, "-m", "engine.cli.main", "validate", str(manifest)],
                      env={"PYTHONPATH": str(ROOT), "LMR_ALLOWED_LOCATIONS": f"{tmp}/"})
    print(f"{args.files:,} files made in {made:.0f} s; `lmr validate` of a list naming them all:")
    print(got["stdout"].strip().splitlines()[0][:200])
    print(f"time {got['wall_s']:.1f} s, peak memory {got['peak_mb']:.0f} MB (targets: 60 s, 2,048 MB)")
    print(f"validate_s={got['wall_s']:.1f} validate_peak_mb={got['peak_mb']:.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
