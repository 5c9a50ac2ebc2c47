"""The live progress bar (terminal) and the plain lines (CI logs) from runner events."""

from __future__ import annotations

import io

from engine.cli.progress import Progress
from engine.job.results import MapResult


def result(task_id: str, rows: int, status: str = "SUCCEEDED") -> MapResult:
    return MapResult(task_id=task_id, status=status, inputs=[f"/d/{task_id}.jsonl"], rows_in=rows,
                     rows_out=rows, rejected=0, bytes_in=rows * 100, bytes_out=0, duration_ms=500,
                     cold_start=False, started_at=0.0)


EVENTS = [{"event": "task_started", "task_id": "t0", "attempt": 1},
          {"event": "task_started", "task_id": "t1", "attempt": 1},
          {"event": "task_done", "result": result("t0", 1000), "attempt": 1},
          {"event": "task_retry", "task_id": "t1", "attempt": 1, "delay_s": 1.0,
           "error": {"errorType": "StorageError", "errorMessage": "timeout"}},
          {"event": "task_started", "task_id": "t1", "attempt": 2},
          {"event": "task_failed", "task_id": "t1", "inputs": ["/d/t1.jsonl"], "attempts": 2,
           "error": {"errorType": "UserCodeError", "errorMessage": "boom"}}]


def test_live_bar_counts_done_failed_running_rows():
    stream = io.StringIO()
    progress = Progress(total=4, live=True, stream=stream)
    for event in EVENTS:
        assert progress.update(event) is None        # drawn, not returned
    last = stream.getvalue().splitlines()[-1]
    assert last.startswith("[" + "#" * 15 + "-" * 15 + "] 1/4 done, 1 failed, 0 running | 1,000 rows")
    assert "ETA" in last
    # retries and failures are printed above the bar, done tasks are not
    assert "t1 retry attempt 2" in stream.getvalue() and "t1 FAILED after 2 attempt(s)" in stream.getvalue()
    assert "t0 ok" not in stream.getvalue()


def test_plain_mode_returns_one_line_per_event():
    progress = Progress(total=4, live=False, stream=io.StringIO())
    lines = [progress.update(e) for e in EVENTS]
    assert lines[2].startswith("  t0 ok") and "t1 retry attempt 2" in lines[3] and "FAILED" in lines[5]


def test_a_bad_price_setting_names_the_variable(monkeypatch):
    import pytest

    from engine.errors import EngineError
    from engine.report.page import estimate_cost
    from engine.job.status import JobStatus

    status = JobStatus(job_id="j", name="j", mode="MAPPER_AND_REDUCER", state="SUCCEEDED", tasks_total=1,
                       tasks_succeeded=1, tasks_failed=0, rows_in=1, rows_out=1, rejected=0, bytes_in=1,
                       output="out", started_at=0.0, finished_at=1.0, tasks=[result("t0", 1)])
    monkeypatch.setenv("LMR_LAMBDA_MEMORY_MB", "3GB")
    with pytest.raises(EngineError, match="LMR_LAMBDA_MEMORY_MB='3GB': must be a positive number"):
        estimate_cost(status)
    monkeypatch.setenv("LMR_LAMBDA_MEMORY_MB", "1024")
    assert estimate_cost(status)["gb_seconds"] == 0.5      # one 500 ms task at 1 GB
