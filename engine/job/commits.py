"""What a job's folder says about its map tasks: the commit markers (a task's result and
its parts, or a pointer to another job's parts when the task came from the cache) and
the failure records. The job's status is computed from these, locally and on AWS.
Importable without pyspark.
"""

from __future__ import annotations

import json
import logging
import time

from ..store.storage import Storage
from .layout import JobLayout
from .planning import MapTask
from .results import CACHED, MapResult
from .spec import JobSpec

log = logging.getLogger(__name__)


def read_marker(work_dir: str, job_id: str, task_id: str, storage: Storage) -> MapResult | None:
    """The result a task's ``_COMMITTED`` marker holds, or None."""
    marker = JobLayout(work_dir, job_id).committed_marker(task_id)
    if not storage.exists(marker):
        return None
    return MapResult.from_dict(json.loads(storage.read_text(marker)))


def committed_result(spec: JobSpec, task_id: str, storage: Storage) -> MapResult | None:
    """The result an earlier attempt committed for this task (or reused from the cache)."""
    return read_marker(spec.work_dir, spec.job_id, task_id, storage)


def committed_results(spec: JobSpec, tasks, storage: Storage) -> dict[str, MapResult]:
    """task_id -> committed result, for every task that committed (the others are absent)."""
    found = ((t.task_id, committed_result(spec, t.task_id, storage)) for t in tasks)
    return {task_id: result for task_id, result in found if result is not None}


def part_uris(spec: JobSpec, result: MapResult) -> list[str]:
    """The parts a committed task's marker lists: its own, or (CACHED) the source job's."""
    if result.status == CACHED:
        layout, task_id = JobLayout(spec.work_dir, result.source_job), result.source_task
    else:
        layout, task_id = JobLayout(spec.work_dir, spec.job_id), result.task_id
    return [layout.part(task_id, p) for p in result.parts]


def record_failure(spec: JobSpec, task: MapTask, error: dict, attempt: int, storage: Storage) -> None:
    """Record the error (``{errorType, errorMessage}``) of a task's failed attempt (the last one is what the status says).
    The first attempt's start is kept, so the report shows how long the task was tried."""
    uri = JobLayout(spec.work_dir, spec.job_id).failure(task.task_id)
    try:
        earlier = recorded_failure(spec, task.task_id, storage) or {}
        now = time.time()
        storage.write_text(uri, json.dumps({
            "task_id": task.task_id, "inputs": task.input_uris, **error,
            "attempts": attempt, "started_at": earlier.get("started_at", now), "finished_at": now}))
    except Exception:  # the original error matters more than its record
        log.exception("could not record the failure of task %s at %s", task.task_id, uri)


def recorded_failure(spec: JobSpec, task_id: str, storage: Storage) -> dict | None:
    uri = JobLayout(spec.work_dir, spec.job_id).failure(task_id)
    return json.loads(storage.read_text(uri)) if storage.exists(uri) else None
