"""A job's lifecycle, the same locally and on AWS: how a job starts when it ran before,
when a failed task is tried again, and how a run ends. The local runner, the CLI, the
coordinator and the finalize Lambda all call this module; none re-implements it.
Importable without pyspark.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, replace
from typing import Callable

from ..errors import RetriesExhaustedError, is_retryable
from ..store.storage import Storage
from . import cache
from .commits import committed_results, in_parallel, recorded_failure, reduce_failures, uncommit
from .fingerprints import code_fingerprints
from .layout import JobLayout
from .partitions import check_settings, current_partitions
from .planning import MapTask, Plan, load_tasks, save_plan
from .results import CACHED, ReduceResult
from .spec import JobSpec
from .status import (INTERRUPTED, RUNNING, SUCCEEDED, FailedTask, JobStatus, build_status, read_status,
                     write_status)


def may_retry(error_type: str, attempt: int, retries: int) -> bool:
    """Whether attempt number ``attempt`` (1 = the first), which failed with
    ``error_type``, gets another: only for a retryable error, ``retries`` times at most."""
    return is_retryable(error_type) and attempt <= retries


def final_error(exc: BaseException, attempt: int, retries: int) -> BaseException:
    """The error a failed attempt reports: ``exc`` itself while another attempt may follow
    (or when it is permanent anyway), else a permanent :class:`RetriesExhaustedError`
    naming it, so that no retrier (the state machine's included) tries again."""
    error_type = type(exc).__name__
    if not is_retryable(error_type) or may_retry(error_type, attempt, retries):
        return exc
    return RetriesExhaustedError(f"{error_type} on attempt {attempt} of {retries + 1} "
                                 f"(the job's retries: {retries}): {exc}")


# Errors that only say how a task failed (retryable, or out of retries), not why.
WRAPPERS = ("RetryableTaskError", "RetriesExhaustedError")


def root_cause(spec: JobSpec, task_id: str, error: dict, storage: Storage) -> dict:
    """What a failed task's status says: the error its last attempt recorded (finalize on
    AWS reads the same record), rather than the wrapper the retriers saw."""
    if error.get("errorType") not in WRAPPERS:
        return error
    return recorded_failure(spec, task_id, storage) or error


# --- starting a job: what to do when it ran before ---------------------------------------

NEW, RESUME, DONE, ALIVE = "new", "resume", "done", "alive"


@dataclass(frozen=True)
class Start:
    """What submitting a job does: ``new`` (run 1), ``resume`` (run ``run``, keeping the
    committed tasks), ``done`` (it SUCCEEDED: not recomputed) or ``alive`` (a run is
    going on: nothing to do)."""

    action: str
    run: int
    previous: JobStatus | None


def last_run(previous: JobStatus | None) -> int:
    return max((r["run"] for r in previous.runs), default=1) if previous else 0


def decide_start(previous: JobStatus | None, *, run_alive: bool | None = None,
                 inputs_changed: bool = False) -> Start:
    """The one rule, locally and on AWS. ``run_alive`` says whether the last run of a job
    whose status is RUNNING is still going: True (leave it), False (it died: resume), or
    None (it never started: start that run now). ``inputs_changed``: the plan made now
    reads other inputs than the saved one (:func:`inputs_changed`); a SUCCEEDED job is
    then run again (only the changed tasks run), not answered with its old output."""
    if previous is None:
        return Start(NEW, 1, None)
    if previous.state == SUCCEEDED and not inputs_changed:
        return Start(DONE, last_run(previous), previous)
    if previous.state == RUNNING and run_alive:
        return Start(ALIVE, last_run(previous), previous)
    if previous.state == RUNNING and run_alive is None:
        return Start(RESUME, last_run(previous), previous)
    return Start(RESUME, last_run(previous) + 1, previous)


def inputs_changed(plan: Plan, storage: Storage) -> bool:
    """Whether ``plan`` (made now) reads other inputs than the plan the job saved: a file
    added, deleted or rewritten under its prefix since (task identities compared)."""
    if not storage.exists(JobLayout(plan.spec.work_dir, plan.job_id).tasks_json):
        return True   # no saved plan: nothing to compare with
    return [t.identity for t in load_tasks(plan.spec, storage)] != [t.identity for t in plan.tasks]


def code_changed(spec: JobSpec) -> str | None:
    """Why a saved job may not be resumed with the code here, or None: a job's tasks all
    run the code it started with (its id covers that code)."""
    now = code_fingerprints(spec.mapper, spec.reducer)
    changed = sorted(k for k in set(now) | set(spec.code) if now.get(k) != spec.code.get(k))
    if not changed:
        return None
    return (f"its {' and '.join(changed)} code changed since it started; run the manifest "
            "again (changed code is a new job)")


def start_for(plan: Plan, storage: Storage, run_alive: Callable[[JobStatus], bool | None] = lambda _: False,
              fresh: bool = False, saved: bool = False) -> Start:
    """What submitting ``plan`` does now: the one decision ``lmr run``, ``lmr resume`` and
    the coordinator make (:func:`decide_start` on the job's status). ``run_alive(previous)``
    tells whether a RUNNING job's last run goes on (locally it never does: this process
    would be running it). ``fresh`` (``lmr run --fresh``) first deletes the job's own
    folder, and nothing else: the job starts over as new. ``saved``: ``plan`` is the job's
    saved plan (``lmr resume``), whose inputs are the saved ones: not compared again."""
    layout = JobLayout(plan.spec.work_dir, plan.job_id)
    if fresh:
        storage.delete_prefix(layout.job_dir, owner=layout.job_dir)
    previous = read_status(plan.spec.work_dir, plan.job_id, storage)
    if previous is None:
        return decide_start(None)
    alive = run_alive(previous) if previous.state == RUNNING else None
    return decide_start(previous, run_alive=alive, inputs_changed=not saved and inputs_changed(plan, storage))


def next_start(previous: JobStatus | None) -> Start:
    """A run that the caller has decided on: a new one after the job's last."""
    return Start(RESUME if previous else NEW, last_run(previous) + 1, previous)


def begin(plan: Plan, storage: Storage, start: Start,
          execution: str | None = None) -> tuple[JobStatus, list[MapTask]]:
    """Save the plan, work out which map tasks this run has to run (saved for the state
    machine to read) and write a RUNNING status recording the run. Returns the status
    and those tasks."""
    check_settings(plan.spec)
    layout = JobLayout(plan.spec.work_dir, plan.job_id)
    for stale in failed_reduce_tasks(plan.spec, storage):   # the last run's reduce: this run's is ahead
        storage.delete(layout.failure(stale.task_id))
    save_plan(plan, storage)
    pending = pending_tasks(plan, start, storage)
    if plan.spec.uses_mapper:
        storage.write_text(JobLayout(plan.spec.work_dir, plan.job_id).run_tasks(start.run),
                           json.dumps([t.to_dict() for t in pending]))
    now = time.time()
    run = {"run": start.run, "state": RUNNING, "started_at": now, "finished_at": None}
    if execution:
        run["execution"] = execution
    status = build_status(plan.spec, [], [], None, now, now, runs=_with_run(start.previous, run))
    status = replace(status, state=RUNNING, tasks_total=len(plan.tasks), tasks_failed=0, reason="")
    write_status(status, plan.spec.work_dir, storage)
    return status, pending


def pending_tasks(plan: Plan, start: Start, storage: Storage) -> list[MapTask]:
    """The map tasks without a commit marker, after reusing what the cache has (with
    ``"cache": true``). A CACHED marker whose source job was deleted since is removed:
    that task runs again."""
    spec = plan.spec
    if not spec.uses_mapper:
        return []
    if start.previous is None and not spec.cache:
        return list(plan.tasks)   # a new job has committed nothing
    committed = committed_results(spec, plan.tasks, storage)

    def runs_again(task: MapTask) -> bool:   # a few requests per task: run many at once
        marker = committed.get(task.task_id)
        if marker is not None and marker.status == CACHED and not cache.pointer_stands(spec, marker, storage):
            uncommit(spec, marker, storage)
            marker = None
        if marker is None and spec.cache:
            found = cache.lookup(spec, task, storage)
            marker = cache.reuse(spec, task, *found, storage) if found else None
        return marker is None

    return [t for t, again in zip(plan.tasks, in_parallel(runs_again, list(plan.tasks))) if again]


def interrupt(spec: JobSpec, tasks: list[MapTask], storage: Storage) -> JobStatus:
    """End the current run as stopped by the user: INTERRUPTED, with what committed so far
    (kept: the next run resumes). Nothing else is decided or written."""
    results = committed_results(spec, tasks, storage) if spec.uses_mapper else {}
    running, started, now = _run_so_far(spec, storage)
    reason = (f"interrupted after {len(results)} of {len(tasks)} map tasks committed; "
              "run the job again to resume (committed tasks are kept)")
    status = build_status(spec, list(results.values()), [], None, started, now)
    status = replace(status, state=INTERRUPTED, reason=reason, tasks_total=len(tasks), tasks_failed=0)
    status = _ended_run(status, running, started, now)
    write_status(status, spec.work_dir, storage)
    return status


def _run_so_far(spec: JobSpec, storage: Storage) -> tuple[JobStatus | None, float, float]:
    """(the RUNNING status begin() wrote, when the job started, now)."""
    running = read_status(spec.work_dir, spec.job_id, storage)
    now = time.time()
    return running, (running.started_at if running is not None else now), now


def _ended_run(status: JobStatus, running: JobStatus | None, started: float, now: float) -> JobStatus:
    """``status`` with its current run recorded as ended now, in ``status.state``."""
    run = dict(running.runs[-1]) if running is not None and running.runs else {"run": 1, "started_at": started}
    run.update(state=status.state, finished_at=now)
    return replace(status, runs=_with_run(running, run))


def _failed_task(task_id: str, inputs: list[str], record: dict) -> FailedTask:
    return FailedTask(task_id, inputs, record["errorType"], record["errorMessage"], record.get("attempts", 0),
                      record.get("started_at", 0.0), record.get("finished_at", 0.0))


def failed_reduce_tasks(spec: JobSpec, storage: Storage) -> list[FailedTask]:
    """The recorded failures of the job's reducer or reduce tasks (engine/job/commits.py)."""
    return [_failed_task(name, [], record) for name, record in reduce_failures(spec, storage)]


def finish(spec: JobSpec, tasks: list[MapTask], reduce: ReduceResult | None, reason: str,
           storage: Storage) -> JobStatus:
    """End the job's current run: its status computed from the commit markers and the
    recorded failures (the same wherever the tasks ran), then the report."""
    from ..report.page import write_report

    results = committed_results(spec, tasks, storage) if spec.uses_mapper else {}
    failed = []
    lost = [task for task in tasks if task.task_id not in results] if spec.uses_mapper else []
    for task, record in zip(lost, in_parallel(lambda t: recorded_failure(spec, t.task_id, storage), lost)):
        record = record or {"errorType": "TaskNotCommitted", "errorMessage": "the task never committed its output"}
        failed.append(_failed_task(task.task_id, task.input_uris, record))
    running, started, now = _run_so_far(spec, storage)
    status = build_status(spec, list(results.values()), failed, reduce, started, now, reason)
    status = replace(status, partitions=current_partitions(spec, tasks, storage, results),
                     failed_reduce=[] if reduce is not None else failed_reduce_tasks(spec, storage))
    status = _ended_run(status, running, started, now)
    write_status(status, spec.work_dir, storage)
    write_report(status, spec.work_dir, storage)
    return status


def _with_run(previous: JobStatus | None, run: dict) -> list[dict]:
    earlier = [r for r in (previous.runs if previous else []) if r["run"] != run["run"]]
    return sorted([*earlier, run], key=lambda r: r["run"])
