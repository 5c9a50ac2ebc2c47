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
    from engine.report.page import estimate_cost
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
    from engine.report.page import write_report
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


# --- the report tells a failure's story (a succeeded, a failed-mapper, a failed-reducer and
# a resumed job, each rendered by the browser and read back from its DOM) --------------------

def _page(status, spec, tmp_path) -> str:
    return dump_dom(JobLayout(spec.work_dir, spec.job_id).report_html, tmp_path)


def _axis_end(dom: str) -> float:
    return float(re.search(r'<text class="axis-end"[^>]*>([\d.]+) s</text>', dom)[1])


def _rect_width(dom: str, cls: str, task: str) -> float:
    found = re.search(rf'<rect class="{cls}"[^>]*width="([\d.]+)"[^>]*data-task="{task}"', dom)
    assert found, (cls, task)
    return float(found[1])


def test_a_succeeded_job_shows_dropped_rows_reject_reasons_and_its_first_output_rows(spark, tmp_path):
    import pandas as pd

    data = tmp_path / "in"
    data.mkdir()
    dropped = rejected = 0
    for i in range(2):
        lines = ["id,name,score"]
        for j in range(30):
            if j in (3, 17):
                lines.append(f"{j},bad,not-a-number")
                rejected += 1
            else:
                lines.append(f"{j},n{i}-{j},{-1 if j % 6 == 0 else j}")
                dropped += j % 6 == 0
        (data / f"f{i}.csv").write_text("\n".join(lines) + "\n")
    status, spec, _ = run_local({"name": "story-ok", "mode": "MAPPER_ONLY", "mapper": "tests.testjobs:CsvPassThrough",
                                 "task_bytes": 1, "input": {"prefix": str(data), "glob": "*.csv"},
                                 "output": {"path": str(tmp_path / "out")}}, tmp_path)
    assert status.state == "SUCCEEDED"
    dom = _page(status, spec, tmp_path)
    assert f"rejected {rejected:,}" in dom and f"dropped by the mappers {dropped:,}" in dom
    reasons = re.findall(r"<table class=\"reject-reasons\">.*?</table>", dom, re.S)[0]
    counts = [int(n) for n in re.findall(r"<td>(\d+)</td></tr>", reasons)]
    assert sum(counts) == rejected and "does not fit the declared schema" in reasons
    links = re.findall(r"<a class=\"errors-file\" href=\"(errors/t\d+\.jsonl)\"", dom)
    job_dir = tmp_path / "work" / "jobs" / spec.job_id
    assert len(links) == 2 and all((job_dir / link).is_file() for link in links)
    # The preview: the first rows of the first output file, as pandas reads that file.
    marker = json.loads((tmp_path / "out" / "_SUCCESS").read_text())
    first = pd.read_csv(tmp_path / "out" / marker["files"][0], dtype=str).head(10)
    preview = re.findall(r"<table class=\"preview\">(.*?)</table>", dom, re.S)[0]
    cells = [re.findall(r"<t[dh]>(.*?)</t[dh]>", row) for row in re.findall(r"<tr>(.*?)</tr>", preview)]
    assert cells == [list(first.columns), *first.values.tolist()]
    assert _axis_end(dom) == pytest.approx(status.duration_s, abs=0.11)   # the whole job, start-up included


def test_a_failed_mapper_is_drawn_as_long_as_it_ran_with_the_users_error(spark, tmp_path):
    data = tmp_path / "in"
    data.mkdir()
    (data / "a.txt").write_text("fine\n" * 50)
    (data / "b.txt").write_text("fine\nthis line is poison\n")
    status, spec, _ = run_local({"name": "story-map", "mode": "MAPPER_ONLY", "mapper": "tests.testjobs:RaisesOnSomeRows",
                                 "task_bytes": 1, "input": {"prefix": str(data), "glob": "*.txt"},
                                 "output": {"path": str(tmp_path / "out"), "format": "parquet"}}, tmp_path)
    assert status.state == "FAILED"
    [failure] = status.failed
    ran = failure.finished_at - failure.started_at
    assert ran > 0.05                                                      # recorded as it ran, not 0 s
    dom = _page(status, spec, tmp_path)
    span = status.duration_s                          # the axis is the whole job (its label is rounded)
    assert _axis_end(dom) == pytest.approx(span, abs=0.051)
    assert _rect_width(dom, "task-bar failed", failure.task_id) == pytest.approx(max(2, ran / span * 900), abs=1)
    row = re.findall(r"<tr class=\"failed-row\">(.*?)</tr>", dom, re.S)
    assert len(row) == 1 and "ValueError: cannot parse 'this line is poison'" in row[0] and "b.txt" in row[0]
    slowest = re.findall(r"<table class=\"slowest\">(.*?)</table>", dom, re.S)[0]
    assert "failed after 1 attempt(s)" in slowest and "t00000" in slowest   # not an empty table
    assert "No output to preview" in dom


def test_a_failed_reducer_is_a_timeline_row_and_a_failure_with_its_error(spark, tmp_path):
    data = tmp_path / "in"
    data.mkdir()
    (data / "a.txt").write_text("alpha beta\n")
    status, spec, _ = run_local({"name": "story-reduce", "mapper": "jobs.wordcount:SplitWords",
                                 "reducer": "tests.testjobs:ReduceReturnsDict", "input": {"prefix": str(data)},
                                 "output": {"path": str(tmp_path / "out")}}, tmp_path)
    assert status.state == "FAILED" and not status.failed
    [failure] = status.failed_reduce
    assert failure.task_id == "reduce" and failure.attempts == 1
    dom = _page(status, spec, tmp_path)
    assert _rect_width(dom, "reduce-bar failed", "reduce") >= 2
    assert "Reducer.reduce returned a value of type dict" in re.findall(r'<text class="error-label"[^>]*>(.*?)</text>', dom)[0]
    rows = re.findall(r"<tr class=\"failed-row\">(.*?)</tr>", dom, re.S)
    assert len(rows) == 1 and rows[0].startswith("<td>reduce</td>") and "value of type dict" in rows[0]
    assert ">none<" not in dom.split("<h2>Failures</h2>")[1].split("<h2>")[0]


def test_a_resumed_job_lists_the_tasks_an_earlier_run_committed(spark, tmp_path, monkeypatch):
    monkeypatch.setenv("LMR_TEST_SCRATCH", str(tmp_path))
    data = tmp_path / "in"
    data.mkdir()
    for name in ("a.txt", "broken.txt", "c.txt"):
        (data / name).write_text(f"{name} words here\n")
    manifest = {"name": "story-resume", "mapper": "tests.testjobs:FailsUntilFixed", "reducer": "jobs.wordcount:SumCounts",
                "task_bytes": 1, "min_success_ratio": 0.5, "input": {"prefix": str(data)},
                "output": {"path": str(tmp_path / "out")}}
    first, _, _ = run_local(manifest, tmp_path)
    assert first.state == "PARTIAL"
    (tmp_path / "fixed").touch()
    second, spec, _ = run_local(manifest, tmp_path)
    assert second.state == "SUCCEEDED" and [r["run"] for r in second.runs] == [1, 2]
    dom = _page(second, spec, tmp_path)
    slowest = re.findall(r"<table class=\"slowest\">(.*?)</table>", dom, re.S)[0]
    runs = dict(re.findall(r"<tr><td>(t\d+)</td>(?:<td>[^<]*</td>){4}<td>([^<]+)</td>", slowest))
    assert runs == {"t00000": "an earlier run", "t00001": "this run", "t00002": "an earlier run"}
    bars = dict((task, cls) for cls, task in re.findall(r'<rect class="(task-bar[^"]*)"[^>]*data-task="(t\d+)"', dom))
    assert "skipped" in bars["t00000"] and "ok" in bars["t00001"] and "skipped" in bars["t00002"]
