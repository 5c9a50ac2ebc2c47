"""report.html rendered by a real browser (Debian's chromium, headless): the timeline
script draws one bar per map task; failures and retries show; the cost adds up."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess

import pytest

from benchmarks.report_load import CHROMIUM_FLAGS
from engine.job.layout import JobLayout
from tests.conftest import run_local


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    if os.environ.get("LMR_REQUIRE_INFRA_TOOLS"):
        pytest.fail("chromium not installed; .ci/run installs Debian's chromium")
    pytest.skip("chromium not installed (apt-get install chromium)")


@pytest.fixture
def partial_job(samples, tmp_path, monkeypatch):
    monkeypatch.setenv("LMR_TEST_SCRATCH", str(tmp_path))
    crawl = sorted((samples / "crawl").glob("*.jsonl"))
    names = ["a.jsonl", "flaky.jsonl", "c.jsonl", "poison.jsonl"]
    for src, name in zip(crawl, names):
        shutil.copy(src, tmp_path / name)
    status, spec, _ = run_local({"name": "report", "mapper": "tests.testjobs:FlakyOnce",
                                 "reducer": "jobs.crawl:P90ContentLengthByLanguage",
                                 "input": {"files": [str(tmp_path / n) for n in names]},
                                 "output": {"path": str(tmp_path / "out")}, "min_success_ratio": 0.5,
                                 "task_bytes": 1},
                                tmp_path)
    return status, spec


def dump_dom(path, tmp_path) -> str:
    done = subprocess.run([chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'chrome'}",
                           "--dump-dom", f"file://{path}"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_report_timeline_has_one_bar_per_task_in_a_real_browser(partial_job, tmp_path):
    status, spec = partial_job
    assert status.state == "PARTIAL" and status.tasks_total == 4
    report = JobLayout(spec.work_dir, spec.job_id).report_html
    source = open(report).read()
    assert "http://" not in source.replace("http://www.w3.org/2000/svg", "")   # self-contained
    assert 'class="task-bar' not in source.split("<script>")[0].split('id="timeline"')[1]  # drawn by the script

    dom = dump_dom(report, tmp_path)
    bars = re.findall(r'<rect class="(task-bar[^"]*)"[^>]*data-task="(t\d+)"', dom)
    assert sorted(task for _, task in bars) == ["t00000", "t00001", "t00002", "t00003"]
    classes = dict((task, cls) for cls, task in bars)
    assert "failed" in classes["t00003"] and "failed" not in classes["t00000"]
    assert 'class="attempts"' in dom and "×2" in dom                     # t00001 was retried
    assert re.search(r'<rect class="reduce-bar"', dom)
    assert "poison.jsonl" in dom and "UserCodeError" in dom               # failed input, error


def test_cost_estimate_is_the_tasks_gb_seconds(partial_job, monkeypatch):
    from engine.job.report import estimate_cost
    from engine.job.status import read_status
    from engine.store.storage import Storage

    status, spec = partial_job
    written = json.loads(open(JobLayout(spec.work_dir, spec.job_id).status_json).read())
    seconds = (sum(t["duration_ms"] for t in written["tasks"]) / 1000 + written["reduce"]["duration_ms"] / 1000
               + sum(f["finished_at"] - f["started_at"] for f in written["failed"]))
    monkeypatch.setenv("LMR_LAMBDA_MEMORY_MB", "2048")
    monkeypatch.setenv("LMR_LAMBDA_PRICE_GB_S", "0.00002")
    cost = estimate_cost(read_status(spec.work_dir, spec.job_id, Storage()))
    assert cost["gb_seconds"] == pytest.approx(seconds * 2, abs=0.01)
    invocations = 4 + 1 + 2        # one task ran twice; reducer + finalize
    assert cost["lambda_usd"] == pytest.approx(seconds * 2 * 0.00002 + invocations * 0.2e-6, rel=1e-3)


def test_a_report_of_10000_tasks_draws_pictures_that_scale_and_lists_the_slowest_and_failed(tmp_path):
    """A generated status of 10,000 map tasks (150 of them failed): the page draws tasks
    running over time and a histogram of durations instead of 10,000 rows; both are
    checked against sums done here, as are the slowest and failed lists."""
    from benchmarks.report_load import synthetic_status
    from engine.job.report import write_report
    from engine.store.storage import Storage

    status = synthetic_status(10_000, 150)
    tasks, failed = status.tasks, status.failed
    write_report(status, str(tmp_path / "work"), Storage())
    report = JobLayout(str(tmp_path / "work"), status.job_id).report_html
    assert os.path.getsize(report) < 200_000          # not a row, nor a JSON record, per task

    dom = dump_dom(report, tmp_path)
    assert 'data-task="t00000"' not in dom            # no per-task bars
    spans = [(t.started_at, t.started_at + t.duration_ms / 1000) for t in tasks]
    spans += [(f.started_at, f.finished_at) for f in failed]
    starts, ends = sorted(s for s, _ in spans), sorted(e for _, e in spans)
    peak, j = 0, 0
    for k, s in enumerate(starts):                    # running at s: started by s, not yet ended
        while j < len(ends) and ends[j] <= s:
            j += 1
        peak = max(peak, k + 1 - j)
    running = re.search(r'<svg class="running"[^>]*data-peak="(\d+)" data-tasks="(\d+)"', dom)
    assert running and (int(running[1]), int(running[2])) == (peak, 10_150)

    bins = [(float(lo), float(hi), int(n)) for n, lo, hi in
            re.findall(r'<rect class="hist-bar"[^>]*data-count="(\d+)" data-from="([\d.]+)" data-to="([\d.]+)"', dom)]
    durations = [e - s for s, e in spans]
    assert sum(n for _, _, n in bins) == len(durations)
    for lo, hi, n in bins[:-1]:                        # the last bin also holds the maximum
        assert n == sum(lo - 1e-3 <= d < hi - 1e-3 for d in durations) or n == sum(lo <= d < hi for d in durations)

    slowest = sorted(tasks, key=lambda t: -t.duration_ms)[:10]
    listed = re.findall(r"<tr><td>(t\d{5})</td><td>([\d.]+)</td>", dom)
    assert [task for task, _ in listed] == [t.task_id for t in slowest]
    assert re.findall(r"<tr class=\"failed-row\"><td>(f\d{3})</td>", dom) == [f.task_id for f in failed[:100]]
    assert "... and 50 more failed tasks" in dom
