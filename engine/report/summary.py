"""The end-of-job summary table ``lmr run`` and ``lmr status`` print."""

from __future__ import annotations

from ..errors import first_line
from ..job.results import CACHED
from ..job.status import FAILED, JobStatus
from ..store.uris import basename


def short_inputs(uris: list[str]) -> str:
    """A task's inputs in a few words: the first file's name, and how many more it holds."""
    first = basename(uris[0]) if uris else ""
    return first + (f" and {len(uris) - 1} more file{'s' * (len(uris) > 2)}" if len(uris) > 1 else "")


def format_summary(status: JobStatus, max_rows: int = 20) -> str:
    lines = [f"\njob {status.job_id}  {status.state}  in {status.duration_s:.1f}s"]
    header = (f"  {'task':<8} {'status':<9} {'rows in':>10} {'rejected':>9} {'dropped':>9} {'rows out':>10} "
              f"{'secs':>7}  input")
    lines.append(header)
    tasks = sorted(status.tasks, key=lambda r: -r.duration_ms)[:max_rows]
    for r in sorted(tasks, key=lambda r: r.task_id):
        lines.append(f"  {r.task_id:<8} {r.status:<9} {r.rows_in:>10,} {r.rejected:>9,} {r.dropped:>9,} "
                     f"{r.rows_out:>10,} {r.duration_ms / 1000:>7.1f}  {short_inputs(r.inputs)}")
    for f in [*status.failed, *status.failed_reduce]:
        lines.append(f"  {f.task_id:<8} {'FAILED':<9} {'':>10} {'':>9} {'':>9} {'':>10} {f.duration_s:>7.1f}  "
                     f"{short_inputs(f.inputs) or 'map output'}  {f.error_type}: {first_line(f.error)[:160]}")
    if status.tasks_cached:
        sources = sorted({r.source_job for r in status.tasks if r.status == CACHED})
        lines.append(f"  {status.tasks_cached} task(s) reused from the cache (job {', '.join(sources[:3])}"
                     f"{', ...' if len(sources) > 3 else ''})")
    if len(status.tasks) > max_rows:
        lines.append(f"  ... {len(status.tasks) - max_rows} more tasks (the {max_rows} slowest shown)")
    lines.append(f"  {'total':<8} {status.tasks_succeeded:>4}/{status.tasks_total:<4} "
                 f"{status.rows_in:>10,} {status.rejected:>9,} {status.dropped:>9,} "
                 f"{status.rows_out:>10,}")
    lines.append("  (rows in = rejected + rows the mapper read; dropped: read but not returned by the mapper; "
                 "rejected records: lmr report)")
    if status.reduce:
        lines.append(f"  reduce: {status.reduce.rows_in:,} rows in -> {status.reduce.rows_out:,} rows out "
                     f"in {status.reduce.duration_ms / 1000:.1f}s"
                     + (f" by {len(status.partitions)} reduce tasks (rows out per task: "
                        f"{min(p.rows_out for p in status.partitions):,} to {max(p.rows_out for p in status.partitions):,})"
                        if status.partitions else ""))
    if status.state != FAILED:
        lines.append(f"  output: {status.output}")
    return "\n".join(lines)
