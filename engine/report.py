"""Human-readable progress lines and the end-of-job summary table."""

from __future__ import annotations

from .status import JobStatus
from .storage import basename


def _short(uris: list[str]) -> str:
    first = basename(uris[0]) if uris else ""
    return first + (f" (+{len(uris) - 1})" if len(uris) > 1 else "")


def format_event(event: dict, total: int) -> str | None:
    kind = event["event"]
    if kind == "job_started":
        return f"job {event['job_id']}: {event['tasks']} map tasks, work dir {event['work_dir']}"
    if kind == "task_done":
        r = event["result"]
        note = "skipped (committed earlier)" if r.status == "SKIPPED" else f"{r.duration_ms / 1000:.1f}s"
        return (f"  {r.task_id} ok    {r.rows_in:>9,} in {r.rows_out:>9,} out {r.rejected:>6,} rejected"
                f"  {note}  {_short(r.inputs)}")
    if kind == "task_retry":
        e = event["error"]
        return (f"  {event['task_id']} retry attempt {event['attempt'] + 1} in {event['delay_s']:.1f}s"
                f" after {e['errorType']}: {e['errorMessage'].splitlines()[0][:200]}")
    if kind == "task_failed":
        e = event["error"]
        return (f"  {event['task_id']} FAILED after {event['attempts']} attempt(s): {e['errorType']}: "
                f"{e['errorMessage'].splitlines()[0][:300]}  {_short(event['inputs'])}")
    if kind == "reduce_started":
        return "  reduce: started"
    if kind == "reduce_done":
        r = event["result"]
        return f"  reduce: ok {r.rows_in:,} rows in, {r.rows_out:,} out, {r.duration_ms / 1000:.1f}s"
    if kind == "reduce_skipped":
        return f"  reduce: not run: {event['reason']}"
    if kind == "reduce_failed":
        e = event["error"]
        return f"  reduce: FAILED {e['errorType']}: {e['errorMessage'].splitlines()[0][:300]}"
    return None


def format_summary(status: JobStatus, max_rows: int = 20) -> str:
    lines = [f"\njob {status.job_id}  {status.state}  in {status.duration_s:.1f}s"]
    header = f"  {'task':<8} {'status':<9} {'rows in':>10} {'rows out':>10} {'rejected':>9} {'secs':>7}  input"
    lines.append(header)
    tasks = sorted(status.tasks, key=lambda r: -r.duration_ms)[:max_rows]
    for r in sorted(tasks, key=lambda r: r.task_id):
        lines.append(f"  {r.task_id:<8} {r.status:<9} {r.rows_in:>10,} {r.rows_out:>10,} {r.rejected:>9,}"
                     f" {r.duration_ms / 1000:>7.1f}  {_short(r.inputs)}")
    for f in status.failed:
        lines.append(f"  {f.task_id:<8} {'FAILED':<9} {'':>10} {'':>10} {'':>9} {'':>7}  {_short(f.inputs)}"
                     f"  {f.error_type}: {f.error.splitlines()[0][:160]}")
    if len(status.tasks) > max_rows:
        lines.append(f"  ... {len(status.tasks) - max_rows} more tasks (the {max_rows} slowest shown)")
    lines.append(f"  {'total':<8} {status.tasks_succeeded:>4}/{status.tasks_total:<4} "
                 f"{status.rows_in:>10,} {status.rows_out:>10,} {status.rejected:>9,}")
    if status.reduce:
        lines.append(f"  reduce: {status.reduce.rows_in:,} rows in -> {status.reduce.rows_out:,} rows out "
                     f"in {status.reduce.duration_ms / 1000:.1f}s")
    if status.state != "FAILED":
        lines.append(f"  output: {status.output}")
    return "\n".join(lines)
