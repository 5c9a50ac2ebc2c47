"""report.html rendered by a real browser (Debian's chromium, headless): the timeline
script draws one bar per map task; failures and retries show; the cost adds up."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess

import pytest

from engine.job.layout import JobLayout
from tests.conftest import run_local

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


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
