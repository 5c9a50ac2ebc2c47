"""``python -m benchmarks.report_load``: how long report.html takes to load in headless
Chromium at 10,000 map tasks (target: within 2 s).

A generated status of ``--tasks`` map tasks (1.5% failed) is written as a report. The
page is loaded by Debian's chromium with ``--dump-dom``; a copy of it records, in its
``load`` handler, the milliseconds since navigation started (``performance.now()``),
after the page's own scripts have drawn the pictures. The same measurement of an empty
page, in the same run, is the baseline: what Chromium itself costs.

Ends with ``report_load_s=X``: the report's load time, as the page measures it.
"""

from __future__ import annotations

import argparse
import random
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
_PROBE = ("<script>addEventListener('load', () => "
          "document.documentElement.setAttribute('data-loaded-ms', performance.now().toFixed(0)));</script>")


def synthetic_status(tasks: int, failed: int, seed: int = 7):
    """A PARTIAL status of ``tasks`` succeeded map tasks, started over ten minutes with
    exponential durations (mean 20 s), and ``failed`` failed ones."""
    from engine.job.results import MapResult
    from engine.job.status import FailedTask, JobStatus

    rng, t0 = random.Random(seed), 1_800_000_000.0
    done = []
    for i in range(tasks):
        start = t0 + rng.uniform(0, 600)
        done.append(MapResult(task_id=f"t{i:05d}", status="SUCCEEDED", inputs=[f"s3://b/in/{i}.jsonl"],
                              rows_in=100, rows_out=100, rejected=0, bytes_in=1000, bytes_out=500,
                              duration_ms=int(rng.expovariate(1 / 20) * 1000) + 1, cold_start=i % 7 == 0,
                              started_at=start))
    lost = [FailedTask(f"f{i:03d}", [f"s3://b/in/bad-{i}.jsonl"], "UserCodeError", f"bad record {i}", 3,
                       t0 + 10 * i, t0 + 10 * i + 5) for i in range(failed)]
    end = max(t.started_at + t.duration_ms / 1000 for t in done)
    return JobStatus(job_id="big-0123456789", name="big", mode="MAPPER_AND_REDUCER", state="PARTIAL",
                     tasks_total=tasks + failed, tasks_succeeded=tasks, tasks_failed=failed, rows_in=100 * tasks,
                     rows_out=100 * tasks, rejected=0, bytes_in=1000 * tasks, output="s3://b/out", started_at=t0,
                     finished_at=end, failed=lost, tasks=done)


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        raise SystemExit("chromium not installed (apt-get install chromium)")
    return found


def load_ms(page: Path, profile: Path) -> tuple[float, float]:
    """(ms from navigation to the end of the load handler, wall seconds of the whole
    chromium process) for a copy of ``page`` with the probe added."""
    probe = page.with_name(page.stem + "-probe.html")
    html = page.read_text()
    probe.write_text(html.replace("</body>", _PROBE + "</body>") if "</body>" in html else html + _PROBE)
    started = time.monotonic()
    done = subprocess.run([chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--dump-dom",
                           f"file://{probe}"], capture_output=True, text=True, timeout=120)
    wall = time.monotonic() - started
    found = re.search(r'data-loaded-ms="(\d+)"', done.stdout)
    if done.returncode != 0 or not found:
        raise SystemExit(f"chromium did not load {probe}: {done.stderr[-1000:]}")
    return float(found[1]), wall


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.report_load", description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    from engine.job.layout import JobLayout
    from engine.report.page import write_report
    from engine.store.storage import Storage

    work = Path(tempfile.mkdtemp(prefix="lmr-report-load-"))
    try:
        status = synthetic_status(args.tasks, max(1, args.tasks * 15 // 1000))
        write_report(status, str(work / "work"), Storage())
        report = Path(JobLayout(str(work / "work"), status.job_id).report_html)
        empty = work / "empty.html"
        empty.write_text("<!doctype html><html><body></body></html>")
        rows = {"empty page": [], "report.html": []}
        for i in range(args.repeat):
            for name, page in (("empty page", empty), ("report.html", report)):
                rows[name].append(load_ms(page, work / f"profile-{i}-{len(rows[name])}-{page.stem}"))
        print(f"report.html of {args.tasks:,} tasks: {report.stat().st_size / 1024:,.0f} KiB; headless chromium, "
              f"median of {args.repeat}")
        print(f"{'page':<12} {'load ms':>8} {'chromium s':>11}")
        median = {}
        for name, runs in rows.items():
            ms, wall = sorted(runs)[len(runs) // 2]
            median[name] = ms
            print(f"{name:<12} {ms:>8.0f} {wall:>11.2f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"report_load_s={median['report.html'] / 1000:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
