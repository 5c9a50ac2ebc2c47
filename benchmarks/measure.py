"""What the benchmarks share: the crawl job's manifest, the ``lmr run`` command, and
running a command as a user would, timed from process start, with its peak memory."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def crawl_manifest(path: Path, name: str, inputs: dict, output: Path, **fields) -> Path:
    """Write a manifest of the example crawl job (the generated data is about 2% malformed
    on purpose: rejects are allowed up to half)."""
    path.write_text(json.dumps({
        "name": name, "mapper": "jobs.crawl:ExtractDocuments",
        "reducer": "jobs.crawl:P90ContentLengthByLanguage", "max_rejected_ratio": 0.5,
        "input": inputs, "output": {"path": str(output)}, **fields}))
    return path


def crawl_data(files: int, mb: float) -> Path:
    """``files`` generated crawl files of about ``mb`` MB each, made once in benchmarks/data."""
    folder = ROOT / "benchmarks" / "data" / f"crawl-{files}x{mb:g}mb"
    if len(list(folder.glob("*.jsonl"))) != files:
        shutil.rmtree(folder, ignore_errors=True)
        from jobs.datagen import write_crawl

        write_crawl(str(folder), files=files, mb=mb)
    return folder


def lmr_run(manifest: Path, work_dir: Path, *flags: str) -> list[str]:
    """``lmr run`` from scratch, the final status as JSON on stdout."""
    return [sys.executable, "-m", "engine.cli.main", "run", str(manifest), "--fresh", "--json",
            "--work-dir", str(work_dir), *flags]


def positive_int(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    value = int(text) if text.strip().isdigit() else 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, not {text!r}")
    return value


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
    return {"name": name, "wall_s": wall, "peak_mb": peak[0], "stdout": out}


