"""jobs/<id>/report.html: a self-contained page (no network) that tells what happened: a
timeline of the job's tasks over the whole job, the slowest ones, every failure (map and
reduce tasks) with its error, the rejected records' reasons, the first output rows, totals
and a cost estimate.

The page embeds the job's status as JSON; for a job of up to PER_TASK_ROWS tasks a small
inline script draws the timeline as SVG, one bar per map task (cold starts darker,
failures red, retries labelled) plus one for the reducer. A larger job gets pictures
that do not grow with it (engine/report/charts.py: tasks running over time, a histogram of
durations), and its lists keep to the slowest tasks and the first failures.
"""

from __future__ import annotations

import csv
import html
import io
import json
from collections import Counter

from ..env import env_number
from ..store.publish import OUTPUT_MARKER, parse_marker
from ..store.storage import Storage
from ..store.uris import is_s3, join
from ..job.layout import JobLayout, reduce_task_id
from ..job.results import CACHED, SUCCEEDED
from ..job.status import PARTIAL, JobStatus
from .charts import histogram_svg, running_svg

PER_TASK_ROWS = 200     # up to this many map tasks, a timeline row each
MAX_FAILED_ROWS = 100   # failed tasks listed on the page (status.json has them all)
# Tasks whose errors files are read for the reasons of rejected records (a request each:
# the report of a 10,000-task job must not read 10,000 files), and errors files linked.
MAX_REJECT_FILES, MAX_REJECT_LINKS = 3, 20
PREVIEW_ROWS, PREVIEW_BYTES = 10, 64 * 1024   # the output preview: rows, and bytes read for them
PREVIEW_PARQUET_BYTES = 16 * 2**20             # a Parquet part is previewed only up to this size
MEMORY_ENV, PRICE_ENV = "LMR_LAMBDA_MEMORY_MB", "LMR_LAMBDA_PRICE_GB_S"
SHARE_PX = 300                            # the longest of the reduce tasks' row bars
DEFAULT_MEMORY_MB = 3008                  # template.yaml's mapper/reducer default
DEFAULT_PRICE_GB_S = 0.0000166667         # AWS Lambda x86, us-east-1 list price
PRICE_PER_REQUEST = 0.20 / 1_000_000
PRICE_PER_TRANSITION = 0.025 / 1000       # Step Functions Standard
TRANSITIONS_PER_TASK = 3                  # child execution start, task, end


def ran_now(task, status: JobStatus) -> bool:
    """Whether a committed task ran in the job's latest run (not an earlier run's, not
    reused from the cache)."""
    return task.status == SUCCEEDED and task.started_at >= status.started_at


def task_seconds(status: JobStatus) -> float:
    """Compute seconds the job's latest run used: the map tasks it ran (failed ones
    included) and the reducer."""
    done = sum(t.duration_ms for t in status.tasks if ran_now(t, status)) / 1000
    failed = sum(max(0.0, f.finished_at - f.started_at) for f in status.failed)
    if status.partitions:   # R > 1: each reduce task is a Lambda of its own
        return done + failed + sum(p.duration_ms for p in status.partitions if ran_now(p, status)) / 1000
    return done + failed + (status.reduce.duration_ms / 1000 if status.reduce else 0.0)


def estimate_cost(status: JobStatus) -> dict:
    """What the job's work costs on Lambda at the configured memory and price. For a local
    run this is a projection: the same task durations, billed as Lambda would bill them."""
    memory_mb = int(env_number(MEMORY_ENV, DEFAULT_MEMORY_MB))
    price = env_number(PRICE_ENV, DEFAULT_PRICE_GB_S)
    seconds = task_seconds(status)
    gb_seconds = seconds * memory_mb / 1024
    invocations = sum(t.attempts for t in status.tasks if ran_now(t, status)) + sum(f.attempts for f in status.failed) + 2
    lambda_cost = gb_seconds * price + invocations * PRICE_PER_REQUEST
    states_cost = (status.tasks_total * TRANSITIONS_PER_TASK + 6) * PRICE_PER_TRANSITION
    return {"memory_mb": memory_mb, "price_gb_s": price, "task_seconds": round(seconds, 3),
            "gb_seconds": round(gb_seconds, 3), "invocations": invocations,
            "lambda_usd": round(lambda_cost, 9), "step_functions_usd": round(states_cost, 9),
            "total_usd": round(lambda_cost + states_cost, 9)}


def failed_bar(f, status: JobStatus) -> dict:
    """A failed task as drawn: from its first attempt's start to its last one's end."""
    return {"task_id": f.task_id, "start": f.started_at or status.started_at,
            "end": f.finished_at or status.finished_at, "state": "failed", "cold": False,
            "attempts": f.attempts, "input": ", ".join(f.inputs) or "every map task's output",
            "error": f"{f.error_type}: {f.error}"}


def report_data(status: JobStatus) -> dict:
    def bar(t) -> dict:
        state = "ok" if ran_now(t, status) else "cached" if t.status == CACHED else "skipped"
        start = t.started_at if state == "ok" else status.started_at   # a thin mark: it did not run
        return {"task_id": t.task_id, "start": start, "end": start + (t.duration_ms / 1000 if state == "ok" else 0),
                "state": state, "cold": t.cold_start, "attempts": t.attempts, "input": ", ".join(t.inputs),
                "rows_out": t.rows_out, "source_job": t.source_job}

    bars = [bar(t) for t in status.tasks] + [failed_bar(f, status) for f in status.failed]

    def reduce_bar(r, label: str) -> dict:
        return {"label": label, "start": r.started_at, "end": r.started_at + r.duration_ms / 1000,
                "cold": r.cold_start, "rows_in": r.rows_in, "rows_out": r.rows_out}

    # One bar per reduce task (R > 1: a long one is a skewed partition), or the reducer's.
    reduces = ([reduce_bar(p, reduce_task_id(p.partition)) for p in status.partitions] if status.partitions
               else [reduce_bar(status.reduce, reduce_task_id())] if status.reduce else [])
    # A failed reducer (or reduce task) is a row of its own, drawn as a failure.
    reduces += [{**failed_bar(f, status), "label": f.task_id} for f in status.failed_reduce]
    return {"job": {k: v for k, v in status.to_dict().items()
                    if k not in ("tasks", "failed", "partitions", "failed_reduce")},
            "bars": sorted(bars, key=lambda b: b["task_id"]), "reduces": reduces,
            "cost": estimate_cost(status)}


def render(status: JobStatus, rejects: dict | None = None, preview: dict | None = None) -> str:
    """The page. ``rejects``: what :func:`reject_reasons` found; ``preview``: what
    :func:`output_preview` read (both need storage; without them those sections say so)."""
    data = report_data(status)
    cost = data["cost"]
    esc = html.escape
    # Every task that ran, in this run or an earlier one, and every failed one: the slowest.
    ran = [(t.duration_ms / 1000, t.task_id, t.rows_in, t.rows_out, "cold" if t.cold_start else "warm",
            "this run" if ran_now(t, status) else "an earlier run", t.inputs)
           for t in status.tasks if t.status == SUCCEEDED]
    ran += [(f.duration_s, f.task_id, "", "", "", f"failed after {f.attempts} attempt(s)", f.inputs)
            for f in status.failed]
    rows = "".join(f"<tr><td>{esc(task)}</td><td>{secs:.2f}</td><td>{_num(rows_in)}</td><td>{_num(rows_out)}</td>"
                   f"<td>{start}</td><td>{esc(run)}</td><td>{esc(', '.join(inputs))}</td></tr>"
                   for secs, task, rows_in, rows_out, start, run, inputs in sorted(ran, key=lambda r: -r[0])[:10]
                   ) or "<tr><td colspan=7>no task ran</td></tr>"
    failed = [*status.failed_reduce, *status.failed[:MAX_FAILED_ROWS]]
    failures = "".join(f"<tr class='failed-row'><td>{esc(f.task_id)}</td>"
                       f"<td>{esc(', '.join(f.inputs) or 'every map task’s output')}</td>"
                       f"<td>{f.attempts}</td><td>{f.duration_s:.1f}</td><td><pre class='error'>"
                       f"{esc(f.error_type)}: {esc(f.error[:2000])}</pre></td></tr>"
                       for f in failed) or "<tr><td colspan=5>none</td></tr>"
    if len(data["bars"]) > PER_TASK_ROWS:
        timeline = _large_timeline(data["bars"])
        data["bars"] = []   # the page stays small: the pictures above hold what the bars would
    else:
        timeline = _PER_TASK_TIMELINE
    if len(status.failed) > MAX_FAILED_ROWS:
        failures += (f"<tr><td colspan=5>... and {len(status.failed) - MAX_FAILED_ROWS:,} more failed tasks "
                     "(all of them are in status.json)</td></tr>")
    where = "on Lambda" if is_s3(status.output) else "projected onto Lambda"
    # "</" must not end the script element early.
    payload = json.dumps(data).replace("</", "<\\/")
    return _PAGE.format(
        title=esc(f"{status.job_id} {status.state}"), job_id=esc(status.job_id), state=esc(status.state),
        state_class=status.state.lower(), duration=f"{status.duration_s:.1f}",
        tasks=f"{status.tasks_succeeded}/{status.tasks_total}"
              + (f" ({status.tasks_cached} reused from the cache)" if status.tasks_cached else ""), rows_in=f"{status.rows_in:,}",
        rows_out=f"{status.rows_out:,}", rejected=f"{status.rejected:,}", dropped=f"{status.dropped:,}",
        output=esc(status.output), rejects=_rejects_section(status, rejects), preview=_preview_section(status, preview),
        reason=esc(status.reason or ""), slowest=rows, failures=failures, where=where,
        memory=cost["memory_mb"], gb_seconds=f"{cost['gb_seconds']:,.1f}",
        seconds=f"{cost['task_seconds']:,.1f}", lambda_usd=f"{cost['lambda_usd']:.4f}",
        sfn_usd=f"{cost['step_functions_usd']:.4f}", total_usd=f"{cost['total_usd']:.4f}",
        price=cost["price_gb_s"], data=payload, timeline=timeline, reduce_tasks=_reduce_table(status))


def _reduce_table(status: JobStatus) -> str:
    """R > 1: every reduce task's rows and seconds (the largest first: skew shows at the top)."""
    if not status.partitions:
        return ""
    most = max(max(p.rows_in for p in status.partitions), 1)

    def share(p) -> str:   # a bar as long as the task's rows: one long bar is a skewed key
        return (f"<svg width='{SHARE_PX}' height='12'><rect class='reduce-bar rows' data-task='{reduce_task_id(p.partition)}' "
                f"width='{max(1, round(p.rows_in / most * SHARE_PX))}' height='12'/></svg>")

    rows = "".join(f"<tr><td>{reduce_task_id(p.partition)}</td><td>{share(p)}</td><td>{p.rows_in:,}</td>"
                   f"<td>{p.rows_out:,}</td><td>{p.duration_ms / 1000:.2f}</td></tr>"
                   for p in sorted(status.partitions, key=lambda p: (-p.rows_in, p.partition)))
    return (f"<h2>Reduce tasks ({len(status.partitions)})</h2><table class='reduce-tasks'><tr><th>task</th>"
            f"<th>share of the rows</th><th>rows in</th><th>rows out</th><th>seconds</th></tr>{rows}</table>")



def _large_timeline(bars: list[dict]) -> str:
    ran = [b for b in bars if b["state"] in ("ok", "failed")]
    return (f"<p>{len(bars):,} map tasks: too many for a row each. Map tasks running over time "
            f"(the most at once within each slice):</p>{running_svg([(b['start'], b['end']) for b in ran])}"
            f"<p>How long the {len(ran):,} tasks that ran took (failed ones from their first attempt to "
            f"their last):</p>{histogram_svg([b['end'] - b['start'] for b in ran])}")


def _num(value) -> str:
    return f"{value:,}" if isinstance(value, int) else ""


def reject_reasons(status: JobStatus, work_dir: str, storage: Storage) -> dict:
    """{"reasons": [(reason, count)], "read": n, "files": [task ids]}: the reasons among the
    records (a task's first 100) in the errors files of the first ``MAX_REJECT_FILES`` tasks
    with rejects, and the tasks whose errors files the page links to."""
    layout, reasons, read = JobLayout(work_dir, status.job_id), Counter(), 0
    with_rejects = [t for t in status.tasks if t.rejected and t.status != CACHED]   # a cached task's are its job's
    for task in with_rejects[:MAX_REJECT_FILES]:
        try:
            text = storage.read_text(layout.errors(task.task_id))
        except Exception:   # noqa: BLE001 - removed since: no samples from it
            continue
        read += 1
        for line in text.splitlines():
            try:
                reasons[json.loads(line).get("reason", "?")] += 1
            except ValueError:
                continue
    return {"reasons": reasons.most_common(10), "read": read,
            "files": [t.task_id for t in with_rejects[:MAX_REJECT_LINKS]], "tasks": len(with_rejects)}


def output_preview(status: JobStatus, storage: Storage, rows: int = PREVIEW_ROWS) -> dict | None:
    """{"columns", "rows", "file"}: the first rows of the job's first output file, or None
    (no output yet, or not readable here: Parquet needs pyarrow)."""
    if status.state not in (SUCCEEDED, PARTIAL):
        return None
    try:
        marker = parse_marker(storage.read_text(join(status.output, OUTPUT_MARKER)))
        if not marker or not marker["files"]:
            return None
        uri = join(status.output, marker["files"][0])
        if uri.endswith(".parquet"):
            info = storage.stat(uri)
            if info is None or info.size > PREVIEW_PARQUET_BYTES:   # the whole file is read: only a small one
                return None
            import pyarrow.parquet as pq

            table = pq.ParquetFile(io.BytesIO(storage.read_bytes(uri))).read_row_group(0).slice(0, rows)
            return {"file": uri, "columns": table.column_names,
                    "rows": [[str(v) for v in r.values()] for r in table.to_pylist()]}
        head = storage.read_range(uri, 0, PREVIEW_BYTES).decode("utf-8", "replace").splitlines()
        if uri.endswith(".json"):
            records = [json.loads(line) for line in head[:rows]]
            columns = list(dict.fromkeys(k for r in records for k in r))
            return {"file": uri, "columns": columns, "rows": [[str(r.get(c, "")) for c in columns] for r in records]}
        parsed = list(csv.reader(head[:rows + 1]))
        return {"file": uri, "columns": parsed[0] if parsed else [], "rows": parsed[1:]}
    except Exception:   # noqa: BLE001 - a preview: the page is written without it
        return None


def _rejects_section(status: JobStatus, rejects: dict | None) -> str:
    if not status.rejected:
        return "<p>No record was rejected.</p>"
    esc = html.escape
    if not rejects or not rejects["reasons"]:
        return f"<p>{status.rejected:,} records rejected; their errors files are in the job's errors/ folder.</p>"
    reasons = "".join(f"<tr><td>{esc(reason)}</td><td>{count:,}</td></tr>" for reason, count in rejects["reasons"])
    links = ", ".join(f"<a class='errors-file' href='errors/{esc(task)}.jsonl'>{esc(task)}</a>"
                      for task in rejects["files"])
    more = f" and {rejects['tasks'] - len(rejects['files']):,} more" if rejects["tasks"] > len(rejects["files"]) else ""
    return (f"<p>{status.rejected:,} records rejected, in {rejects['tasks']:,} tasks. Top reasons among the "
            f"first 100 of each of {rejects['read']} of them (each record with its file, line and raw text in "
            f"its task's errors file: {links}{more}):</p>"
            f"<table class='reject-reasons'><tr><th>reason</th><th>records</th></tr>{reasons}</table>")


def _preview_section(status: JobStatus, preview: dict | None) -> str:
    if preview is None:
        return ("<p>No output to preview (the job has not published its output).</p>"
                if status.state not in (SUCCEEDED, PARTIAL) else "<p>The output could not be previewed here.</p>")
    esc = html.escape
    head = "".join(f"<th>{esc(c)}</th>" for c in preview["columns"])
    body = "".join("<tr>" + "".join(f"<td>{esc(v)}</td>" for v in row) + "</tr>" for row in preview["rows"])
    return (f"<p>The first rows of <code>{esc(preview['file'])}</code>:</p>"
            f"<table class='preview'><tr>{head}</tr>{body}</table>")


def write_report(status: JobStatus, work_dir: str, storage: Storage) -> str:
    uri = JobLayout(work_dir, status.job_id).report_html
    storage.write_text(uri, render(status, reject_reasons(status, work_dir, storage),
                                   output_preview(status, storage)))
    return uri


_PER_TASK_TIMELINE = """<p>One bar per map task: <svg width="12" height="10"><rect class="task-bar ok cold" width="12" height="10"/></svg> cold start,
<svg width="12" height="10"><rect class="task-bar ok" width="12" height="10"/></svg> warm,
<svg width="12" height="10"><rect class="task-bar failed" width="12" height="10"/></svg> failed,
<svg width="12" height="10"><rect class="task-bar skipped" width="12" height="10"/></svg> committed by an earlier run,
<svg width="12" height="10"><rect class="task-bar cached" width="12" height="10"/></svg> reused from the cache;
&times;N = attempts.</p>
<div id="timeline"></div>"""

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
 body {{ font: 14px system-ui, sans-serif; margin: 24px; color: #222; }}
 h1 {{ font-size: 20px; }} .state {{ padding: 2px 8px; border-radius: 4px; color: #fff; }}
 .succeeded {{ background: #2a7d2a; }} .partial {{ background: #c98a00; }} .failed {{ background: #b3261e; }}
 table {{ border-collapse: collapse; margin: 8px 0 20px; }} td, th {{ border: 1px solid #ccc; padding: 3px 8px; text-align: left; }}
 .task-bar.ok {{ fill: #5b9bd5; }} .task-bar.ok.cold {{ fill: #1f4e79; }} .task-bar.skipped {{ fill: #bbb; }}
 .task-bar.cached {{ fill: #6aa84f; }}
 .task-bar.failed {{ fill: #b3261e; }} .reduce-bar {{ fill: #7b3fa0; }} .reduce-bar.failed {{ fill: #b3261e; }}
 svg text {{ font-size: 11px; }} pre.error {{ white-space: pre-wrap; margin: 0; max-height: 12em; overflow: auto; }}
</style></head>
<body>
<h1>Job {job_id} <span class="state {state_class}">{state}</span></h1>
<p>{tasks} map tasks succeeded in {duration} s &middot; rows in {rows_in} = rejected {rejected}
 + read by the mappers; of those, dropped by the mappers {dropped}; rows out {rows_out}
 &middot; output <code>{output}</code></p>
<p class="reason">{reason}</p>
<h2>Timeline</h2>
{timeline}
<h2>Cost estimate ({where}, {memory} MB)</h2>
<table><tr><th>task seconds</th><th>GB-seconds</th><th>Lambda</th><th>Step Functions</th><th>total</th></tr>
<tr><td>{seconds}</td><td>{gb_seconds}</td><td>${lambda_usd}</td><td>${sfn_usd}</td><td>${total_usd}</td></tr></table>
<p>At ${price} per GB-second and $0.20 per million requests; Step Functions Standard at $0.025 per 1,000 transitions.</p>
<h2>Slowest tasks</h2>
<table class="slowest"><tr><th>task</th><th>seconds</th><th>rows in</th><th>rows out</th><th>start</th><th>run</th><th>input</th></tr>{slowest}</table>
{reduce_tasks}
<h2>Failures</h2>
<table class="failures"><tr><th>task</th><th>input</th><th>attempts</th><th>seconds</th><th>error</th></tr>{failures}</table>
<h2>Rejected records</h2>
{rejects}
<h2>Output</h2>
{preview}
<script id="report-data" type="application/json">{data}</script>
<script>
(function () {{
  if (!document.getElementById("timeline")) return;   // a large job: its pictures are drawn already
  var data = JSON.parse(document.getElementById("report-data").textContent);
  var bars = data.bars, ns = "http://www.w3.org/2000/svg";
  var all = bars.concat(data.reduces);
  // The axis covers the whole job, start-up and the end included, not only its tasks.
  var t0 = Math.min.apply(null, all.map(function (b) {{ return b.start; }}).concat([data.job.started_at]));
  var t1 = Math.max.apply(null, all.map(function (b) {{ return b.end; }}).concat([data.job.finished_at]));
  var width = 900, left = 90, row = 18, span = Math.max(t1 - t0, 0.001);
  var rows = all.length;
  var svg = document.createElementNS(ns, "svg");
  svg.setAttribute("width", left + width + 60); svg.setAttribute("height", rows * row + 30);
  function x(t) {{ return left + (t - t0) / span * width; }}
  function el(name, attrs, text) {{
    var e = document.createElementNS(ns, name);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    if (text) e.textContent = text;
    svg.appendChild(e); return e;
  }}
  function bar(i, b, cls, label, tip) {{
    var r = el("rect", {{"class": cls, x: x(b.start), y: i * row + 2, height: row - 4,
                        width: Math.max(2, x(b.end) - x(b.start)), "data-task": label}});
    var title = document.createElementNS(ns, "title"); title.textContent = tip; r.appendChild(title);
    el("text", {{x: 4, y: i * row + row - 5}}, label);
  }}
  bars.forEach(function (b, i) {{
    bar(i, b, "task-bar " + b.state + (b.cold ? " cold" : ""), b.task_id,
        b.task_id + " " + b.input + " " + (b.end - b.start).toFixed(2) + " s" + (b.error ? " " + b.error : ""));
    if (b.attempts > 1) el("text", {{"class": "attempts", x: x(b.end) + 4, y: i * row + row - 5}}, "\\u00d7" + b.attempts);
  }});
  data.reduces.forEach(function (r, i) {{
    if (r.state === "failed") {{
      bar(bars.length + i, r, "reduce-bar failed", r.label, r.label + " failed after " +
          (r.end - r.start).toFixed(2) + " s: " + r.error);
      el("text", {{"class": "error-label", x: x(r.end) + 4, y: (bars.length + i) * row + row - 5}},
         r.error.split("\\n")[0].slice(0, 120));
      return;
    }}
    bar(bars.length + i, r, "reduce-bar", r.label, r.label + " " + r.rows_in + " rows in, " + r.rows_out +
        " out, " + (r.end - r.start).toFixed(2) + " s");
  }});
  el("text", {{"class": "axis-start", x: left, y: rows * row + 20}}, "0 s");
  el("text", {{"class": "axis-end", x: left + width - 30, y: rows * row + 20}}, span.toFixed(1) + " s");
  document.getElementById("timeline").appendChild(svg);
}})();
</script>
</body></html>
"""
