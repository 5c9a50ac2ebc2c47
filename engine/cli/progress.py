"""Human-readable progress lines and the end-of-job summary table."""

from __future__ import annotations

import sys
import time

from ..errors import first_line
from ..job.layout import is_reduce_task, reduce_task_id
from ..job.results import CACHED, SKIPPED
from ..report.summary import short_inputs as _short


def format_event(event: dict, total: int) -> str | None:
    kind = event["event"]
    if kind == "job_started":
        return f"job {event['job_id']}: {event['tasks']} map tasks, work dir {event['work_dir']}"
    if kind == "task_done":
        r = event["result"]
        note = ("skipped (committed earlier)" if r.status == SKIPPED
                else f"cached (from job {r.source_job})" if r.status == CACHED else f"{r.duration_ms / 1000:.1f}s")
        return (f"  {r.task_id} ok    {r.rows_in:>9,} in {r.rejected:>6,} rejected {r.dropped:>6,} dropped "
                f"{r.rows_out:>9,} out  {note}  {_short(r.inputs)}")
    if kind == "task_retry":
        e = event["error"]
        return (f"  {event['task_id']} retry attempt {event['attempt'] + 1} in {event['delay_s']:.1f}s"
                f" after {e['errorType']}: {first_line(e['errorMessage'])[:200]}")
    if kind == "task_failed":
        e = event["error"]
        return (f"  {event['task_id']} FAILED after {event['attempts']} attempt(s): {e['errorType']}: "
                f"{first_line(e['errorMessage'])[:300]}  {_short(event['inputs'])}")
    if kind == "reduce_started":
        if "partitions" in event:
            return (f"  reduce: started, {event['pending']} of {event['partitions']} reduce tasks to run"
                    if event["pending"] < event["partitions"] else f"  reduce: started, {event['partitions']} reduce tasks")
        return "  reduce: started"
    if kind == "partition_done":
        r = event["result"]
        note = "skipped (committed earlier)" if r.status == SKIPPED else f"{r.duration_ms / 1000:.1f}s"
        return f"  {reduce_task_id(r.partition)} ok {r.rows_in:>9,} in {r.rows_out:>9,} out  {note}"
    if kind == "partition_failed":
        e = event["error"]
        return (f"  {event['task_id']} FAILED after {event['attempts']} attempt(s): {e['errorType']}: "
                f"{first_line(e['errorMessage'])[:300]}")
    if kind == "reduce_done":
        r = event["result"]
        return f"  reduce: ok {r.rows_in:,} rows in, {r.rows_out:,} out, {r.duration_ms / 1000:.1f}s"
    if kind == "reduce_skipped":
        return f"  reduce: not run: {event['reason']}"
    if kind == "reduce_failed":
        e = event["error"]
        return f"  reduce: FAILED {e['errorType']}: {first_line(e['errorMessage'])[:300]}"
    return None


class Progress:
    """Turns runner events into output: on a terminal a live bar (tasks done / failed /
    running, rows, throughput, ETA) with failures and retries printed above it; otherwise
    one plain line per event, fit for CI logs."""

    def __init__(self, total: int, live: bool, stream=None):
        self.total, self.live, self.stream = total, live, stream or sys.stdout
        self.done = self.failed = self.running = self.rows = self.bytes = 0
        self.started = time.monotonic()
        # R > 1, once the reduce tasks start: how many there are, done (earlier runs' too), failed
        self.reduce_total = self.reduce_done = self.reduce_failed = 0

    def update(self, event: dict) -> str | None:
        kind = event["event"]
        if kind == "task_started":
            self.running += 1
        elif kind == "task_done":
            result = event["result"]
            self.done += 1
            self.running -= result.status not in (SKIPPED, CACHED)   # those never started
            self.rows += result.rows_in
            self.bytes += result.bytes_in
        elif kind in ("task_failed", "task_retry") and not is_reduce_task(event.get("task_id", "")):
            self.running -= 1
            self.failed += kind == "task_failed"
        elif kind == "reduce_started" and "partitions" in event:
            self.reduce_total, self.reduce_done = event["partitions"], event["partitions"] - event["pending"]
        elif kind == "partition_done":
            self.reduce_done += 1
        elif kind == "partition_failed":
            self.reduce_failed += 1
        line = format_event(event, self.total)
        if not self.live:
            return line
        self._clear()
        if line and kind not in ("task_done", "task_started"):
            print(line, file=self.stream)
        self.stream.write(self.bar())
        self.stream.flush()
        return None

    def bar(self, width: int = 30) -> str:
        if self.reduce_total:
            filled = int(width * (self.reduce_done + self.reduce_failed) / self.reduce_total)
            return (f"reduce [{'#' * filled}{'-' * (width - filled)}] {self.reduce_done}/{self.reduce_total} "
                    f"reduce tasks done, {self.reduce_failed} failed")
        elapsed = max(time.monotonic() - self.started, 1e-6)
        finished = self.done + self.failed
        filled = int(width * finished / self.total) if self.total else width
        eta = (elapsed / finished * (self.total - finished)) if finished else None
        return (f"[{'#' * filled}{'-' * (width - filled)}] {self.done}/{self.total} done, "
                f"{self.failed} failed, {max(self.running, 0)} running | {self.rows:,} rows | "
                f"{self.bytes / elapsed / 1e6:.1f} MB/s | ETA {'?' if eta is None else f'{eta:.0f}s'}")

    def _clear(self) -> None:
        self.stream.write("\r\033[K")

    def close(self) -> None:
        if self.live:
            self._clear()
            self.stream.flush()
